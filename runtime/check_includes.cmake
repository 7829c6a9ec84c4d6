# The build's check of the module arrows (docs/ARCHITECTURE.md, "Dependency direction"): every
# `#include "..."` in FOLDER's sources must name a header of the folder itself or of a module it
# links. Run as a step before the module compiles (runtime/CMakeLists.txt), so an include against
# the arrows fails the build, naming file, line, and what the module may include.
#   cmake -DFOLDER=<dir> -DNAME=<runtime/store> -DALLOWED=<store;manifest;core> [-DSTAMP=<file>]
#         -P check_includes.cmake
# ALLOWED holds module names (runtime/<module>/...) and top-level folders (cli/...), separated by
# ";" or ",".
cmake_minimum_required(VERSION 3.25)
foreach(var FOLDER NAME ALLOWED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_includes.cmake: -D${var}=... is required")
  endif()
endforeach()

string(REPLACE "," ";" ALLOWED "${ALLOWED}")
file(GLOB sources ${FOLDER}/*.h ${FOLDER}/*.cpp)
set(problems "")
foreach(source IN LISTS sources)
  file(STRINGS ${source} lines)
  set(number 0)
  foreach(line IN LISTS lines)
    math(EXPR number "${number} + 1")
    if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]*)\"")
      continue()
    endif()
    set(header ${CMAKE_MATCH_1})
    set(owner "")
    if(header MATCHES "^runtime/([a-z_]+)/")
      set(owner ${CMAKE_MATCH_1})
    elseif(header MATCHES "^(cli|tests)/")
      set(owner ${CMAKE_MATCH_1})
    endif()
    # A path with ".." or without its folder would get past the check; it is refused too.
    if(header MATCHES "\\.\\." OR owner STREQUAL "" OR NOT owner IN_LIST ALLOWED)
      string(APPEND problems "${source}:${number}: error: #include \"${header}\"\n")
    endif()
  endforeach()
endforeach()

if(NOT problems STREQUAL "")
  string(REPLACE ";" ", " allowed_text "${ALLOWED}")
  # NOTICE prints the lines as they are (one per include, file:line first, as compilers do);
  # FATAL_ERROR's text would be re-wrapped.
  message(NOTICE "${problems}${NAME} may include only headers of ${allowed_text}: the modules "
                 "its target_link_libraries name in runtime/CMakeLists.txt (docs/ARCHITECTURE.md).")
  message(FATAL_ERROR "include against the module arrows in ${NAME}")
endif()
if(DEFINED STAMP)
  file(TOUCH ${STAMP})
endif()
