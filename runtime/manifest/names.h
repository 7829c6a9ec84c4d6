#pragma once
// Kubernetes' syntax rules for names, label keys and values, env var names, config keys,
// port names and quantities. Each returns the reason a value is invalid, in the API server's
// own words, or nullopt when it is valid. Pure functions; any thread.

#include <optional>
#include <string>
#include <string_view>

namespace ticketctl::manifest {

using Invalid = std::optional<std::string>;

Invalid check_dns1123_label(std::string_view s);      // Namespace, container, volume names
Invalid check_dns1123_subdomain(std::string_view s);  // most object names
Invalid check_dns1035_label(std::string_view s);      // Service names
Invalid check_label_key(std::string_view s);          // label and annotation keys
Invalid check_label_value(std::string_view s);
Invalid check_env_var_name(std::string_view s);
Invalid check_config_key(std::string_view s);  // Secret and ConfigMap data keys
Invalid check_port_name(std::string_view s);   // IANA_SVC_NAME
Invalid check_quantity(std::string_view s);    // "100m", "1Gi", "0.5"
Invalid check_ip(std::string_view s);
Invalid check_ingress_host(std::string_view s);  // subdomain, optionally with a leading "*."

}  // namespace ticketctl::manifest
