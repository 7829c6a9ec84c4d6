#pragma once
// Kubernetes' value and cross-field rules, the API server's validation that a schema alone
// cannot express. Referenced from the schema tables; pure functions; any thread.

#include "runtime/manifest/schema.h"

namespace ticketctl::manifest::checks {

// Scalar checks.
Invalid port_number(const Json& v);  // 1..65535
Invalid node_port(const Json& v);    // 30000..32767 (0 = allocate)
Invalid target_port(const Json& v);  // number in range or IANA port name
Invalid non_negative(const Json& v);
Invalid positive(const Json& v);
Invalid int_or_percent(const Json& v);  // maxSurge / maxUnavailable
Invalid base64_value(const Json& v);    // Secret.data, ConfigMap.binaryData
Invalid field_path(const Json& v);      // env valueFrom.fieldRef.fieldPath
Invalid resource_name(const Json& v);   // env valueFrom.resourceFieldRef.resource
Invalid absolute_path(const Json& v);   // mountPath, hostPath.path, httpGet.path
Invalid cluster_ip(const Json& v);      // "", "None" or an IP
Invalid env_prefix(const Json& v);      // envFrom[].prefix

// Cross-field rules.
void selector_requirement(const YAML::Node& n, const Json& v, Walker& w);
void pod_spec(const YAML::Node& n, const Json& v, Walker& w);
void env_var(const YAML::Node& n, const Json& v, Walker& w);
void env_var_source(const YAML::Node& n, const Json& v, Walker& w);
void env_from(const YAML::Node& n, const Json& v, Walker& w);
void probe(const YAML::Node& n, const Json& v, Walker& w);
void lifecycle_handler(const YAML::Node& n, const Json& v, Walker& w);
void volume(const YAML::Node& n, const Json& v, Walker& w);
void deployment_spec(const YAML::Node& n, const Json& v, Walker& w);
void service(const YAML::Node& n, const Json& v, Walker& w);
void service_spec(const YAML::Node& n, const Json& v, Walker& w);
void secret(const YAML::Node& n, const Json& v, Walker& w);
void config_map(const YAML::Node& n, const Json& v, Walker& w);
void annotations(const YAML::Node& n, const Json& v, Walker& w);  // total size
void ingress_spec(const YAML::Node& n, const Json& v, Walker& w);
void ingress_path(const YAML::Node& n, const Json& v, Walker& w);
void ingress_backend(const YAML::Node& n, const Json& v, Walker& w);
void service_backend_port(const YAML::Node& n, const Json& v, Walker& w);
void legacy_ingress_backend(const YAML::Node& n, const Json& v, Walker& w);

// kubectl's notation of a label map: "app=posts,tier=web"; "<none>" when empty.
std::string labels_string(const Json& labels);

}  // namespace ticketctl::manifest::checks
