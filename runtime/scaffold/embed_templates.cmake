# Writes OUTPUT, a C++ source holding every file under SOURCE_DIR as bytes, so that the
# templates of `ticketctl init` / `new service` travel inside the binary (a copied binary works).
# Run as: cmake -DSOURCE_DIR=... -DOUTPUT=... -P embed_templates.cmake
file(GLOB_RECURSE files RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/*")
list(SORT files)
set(arrays "")
set(table "")
set(i 0)
foreach(f IN LISTS files)
  file(READ "${SOURCE_DIR}/${f}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # Bytes, not a string literal: no escaping question for any content.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char file${i}[] = {${bytes}0};\n")
  string(APPEND table "    {\"${f}\", std::string_view(reinterpret_cast<const char*>(file${i}), ${size})},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from templates/ by runtime/scaffold/embed_templates.cmake; do not edit.
#include \"runtime/scaffold/templates.h\"

namespace ticketctl::scaffold {
namespace {
${arrays}}  // namespace

const std::vector<TemplateFile>& builtin_templates() {
  static const std::vector<TemplateFile> files = {
${table}  };
  return files;
}

}  // namespace ticketctl::scaffold
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
