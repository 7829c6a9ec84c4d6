# Writes OUTPUT, a C++ source holding the dashboard's page (every file under SOURCE_DIR) as
# bytes, so the binary serves it without reading anything from disk or the network.
# Run as: cmake -DSOURCE_DIR=... -DOUTPUT=... -P embed_assets.cmake
file(GLOB files RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/*")
list(SORT files)
set(arrays "")
set(table "")
set(i 0)
foreach(f IN LISTS files)
  file(READ "${SOURCE_DIR}/${f}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char asset${i}[] = {${bytes}0};\n")
  string(APPEND table "  if (name == \"${f}\") return {reinterpret_cast<const char*>(asset${i}), ${size}};\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from runtime/dashboard/assets by embed_assets.cmake; do not edit.
#include \"runtime/dashboard/server.h\"

namespace ticketctl::dashboard {
namespace {
${arrays}}  // namespace

std::string_view asset(std::string_view name) {
${table}  return {};
}

}  // namespace ticketctl::dashboard
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
