# The dashboard (runtime/dashboard), a module of its own; its page (assets/) is compiled in by
# embed_assets.cmake.
file(GLOB TICKETCTL_DASHBOARD_ASSETS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/assets/*)
set(TICKETCTL_DASHBOARD_EMBEDDED ${CMAKE_CURRENT_BINARY_DIR}/dashboard/assets.cpp)
add_custom_command(
  OUTPUT ${TICKETCTL_DASHBOARD_EMBEDDED}
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}/assets
          -DOUTPUT=${TICKETCTL_DASHBOARD_EMBEDDED} -P ${CMAKE_CURRENT_LIST_DIR}/embed_assets.cmake
  DEPENDS ${TICKETCTL_DASHBOARD_ASSETS} ${CMAKE_CURRENT_LIST_DIR}/embed_assets.cmake
  COMMENT "Embedding runtime/dashboard/assets")
ticketctl_module(dashboard
  SOURCES
    dashboard/auth.cpp
    dashboard/views.cpp
    dashboard/logs.cpp
    dashboard/server.cpp
    dashboard/traffic.cpp
    ${TICKETCTL_DASHBOARD_EMBEDDED}
  PUBLIC runtime_api runtime_store runtime_manifest runtime_core
  PRIVATE runtime_tap runtime_logs PkgConfig::HTTPLIB)
