# The L4 relay for Services, NodePorts and port-forward: its own small library (core headers only),
# so the daemon, tests and benchmarks link it without the rest of the runtime. Beast (headers only)
# in http_observer.cpp alone: the observing mode's HTTP/1.1 parser.
add_library(ticketctl_net_proxy STATIC
  ${CMAKE_CURRENT_LIST_DIR}/service_proxy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/service_proxy_listener.cpp
  ${CMAKE_CURRENT_LIST_DIR}/service_proxy_relay.cpp
  ${CMAKE_CURRENT_LIST_DIR}/http_observer.cpp)
target_include_directories(ticketctl_net_proxy PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(ticketctl_net_proxy PUBLIC runtime_core Threads::Threads
  PRIVATE Boost::headers)
