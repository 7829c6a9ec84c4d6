# The ingress data plane (proxy.h): its own static library so that Boost.Beast stays in one
# translation unit and nothing else pays its compile time; what needs no Beast (http_rules.cpp,
# certificate.cpp) is kept out of that unit. Included from runtime/CMakeLists.txt.
add_library(ticketctl_ingress_proxy STATIC
  ${CMAKE_CURRENT_LIST_DIR}/proxy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/http_rules.cpp
  ${CMAKE_CURRENT_LIST_DIR}/certificate.cpp)
target_include_directories(ticketctl_ingress_proxy PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(ticketctl_ingress_proxy PRIVATE BOOST_ASIO_NO_DEPRECATED)
target_link_libraries(ticketctl_ingress_proxy PUBLIC runtime_net runtime_core
  Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
