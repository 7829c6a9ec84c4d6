#include "runtime/manifest/schemas.h"

#include <deque>
#include <vector>

#include "runtime/manifest/checks.h"

namespace ticketctl::manifest {
namespace {

namespace c = checks;

// Schemas point at each other; a deque keeps their addresses stable while the tables grow.
struct Tables {
  std::deque<Schema> arena;
  std::vector<KindInfo> kinds;
  const Schema* list = nullptr;

  const Schema* add(Schema s) {
    arena.push_back(std::move(s));
    return &arena.back();
  }
  const Schema* str(ScalarCheck check = nullptr) {
    return add({.type = Type::String, .check = check});
  }
  const Schema* secret_str(ScalarCheck check = nullptr) {
    return add({.type = Type::String, .check = check, .sensitive = true});
  }
  const Schema* oneof(std::vector<std::string_view> allowed) {
    return add({.type = Type::String, .allowed = std::move(allowed)});
  }
  const Schema* integer(ScalarCheck check = nullptr) {
    return add({.type = Type::Integer, .check = check});
  }
  const Schema* boolean() { return add({.type = Type::Boolean}); }
  const Schema* int_or_str(ScalarCheck check = nullptr) {
    return add({.type = Type::IntOrString, .check = check});
  }
  const Schema* quantity() { return add({.type = Type::Quantity}); }
  const Schema* any() { return add({.type = Type::Any}); }
  const Schema* array(const Schema* items, Rule rule = nullptr) {
    return add({.type = Type::Array, .items = items, .rule = rule});
  }
  const Schema* map(const Schema* values, KeyCheck key_check = nullptr) {
    return add({.type = Type::Map, .items = values, .key_check = key_check});
  }
  const Schema* object(std::vector<Field> fields, Rule rule = nullptr, std::string_view name = {}) {
    return add({.type = Type::Object, .fields = std::move(fields), .rule = rule, .name = name});
  }
};

Field req(std::string_view name, const Schema* s) {
  return {name, s, true, Support::Used};
}
Field opt(std::string_view name, const Schema* s) {
  return {name, s, false, Support::Used};
}
Field inert(std::string_view name, const Schema* s) {
  return {name, s, false, Support::Inert};
}
Field ignored(std::string_view name, const Schema* s) {
  return {name, s, false, Support::Ignored};
}

Tables build() {
  Tables t;
  const Schema* any = t.any();
  const Schema* strings = t.array(t.str());
  const Schema* string_map = t.map(t.str());
  const Schema* seconds = t.integer(c::non_negative);

  const Schema* labels = t.map(t.str(string_check<check_label_value>), check_label_key);
  const Schema* annotations = t.add(
      {.type = Type::Map, .items = t.str(), .key_check = check_label_key, .rule = c::annotations});
  auto meta = [&](ScalarCheck name_check) {
    return t.object(
        {
            req("name", t.str(name_check)),
            opt("namespace", t.str(string_check<check_dns1123_label>)),
            opt("labels", labels),
            opt("annotations", annotations),
            ignored("generateName", t.str()),
            inert("uid", t.str()),
            inert("resourceVersion", t.str()),
            inert("generation", t.integer()),
            inert("creationTimestamp", any),
            inert("deletionTimestamp", any),
            inert("deletionGracePeriodSeconds", any),
            inert("selfLink", t.str()),
            inert("managedFields", any),
            opt("ownerReferences", any),
            ignored("finalizers", strings),
        },
        nullptr, "ObjectMeta");
  };
  const Schema* meta_subdomain = meta(string_check<check_dns1123_subdomain>);
  const Schema* meta_label = meta(string_check<check_dns1123_label>);
  const Schema* meta_dns1035 = meta(string_check<check_dns1035_label>);
  // A pod template's metadata has no name of its own.
  const Schema* template_meta = t.object({
      opt("labels", labels),
      opt("annotations", annotations),
      inert("name", t.str()),
      inert("namespace", t.str()),
      inert("creationTimestamp", any),
  });

  const Schema* selector = t.object(
      {
          opt("matchLabels", labels),
          opt("matchExpressions",
              t.array(t.object({req("key", t.str(string_check<check_label_key>)),
                                req("operator", t.oneof({"In", "NotIn", "Exists", "DoesNotExist"})),
                                opt("values", t.array(t.str(string_check<check_label_value>)))},
                               c::selector_requirement))),
      },
      nullptr, "LabelSelector");

  // Containers.
  const Schema* key_ref =
      t.object({opt("name", t.str()), req("key", t.str(string_check<check_config_key>)),
                opt("optional", t.boolean())});
  const Schema* env_source = t.object(
      {
          opt("fieldRef",
              t.object({inert("apiVersion", t.str()), req("fieldPath", t.str(c::field_path))})),
          opt("resourceFieldRef",
              t.object({opt("containerName", t.str()), req("resource", t.str(c::resource_name)),
                        opt("divisor", t.quantity())})),
          opt("configMapKeyRef", key_ref),
          opt("secretKeyRef", key_ref),
      },
      c::env_var_source, "EnvVarSource");
  const Schema* env_var = t.object({req("name", t.str(string_check<check_env_var_name>)),
                                    opt("value", t.str()), opt("valueFrom", env_source)},
                                   c::env_var, "EnvVar");
  const Schema* name_ref = t.object({opt("name", t.str()), opt("optional", t.boolean())});
  const Schema* env_from = t.object({opt("prefix", t.str(c::env_prefix)),
                                     opt("configMapRef", name_ref), opt("secretRef", name_ref)},
                                    c::env_from, "EnvFromSource");
  const Schema* container_port = t.object({
      req("containerPort", t.integer(c::port_number)),
      opt("name", t.str(string_check<check_port_name>)),
      opt("protocol", t.oneof({"TCP", "UDP", "SCTP"})),
      ignored("hostPort", t.integer(c::port_number)),
      ignored("hostIP", t.str(string_check<check_ip>)),
  });
  const Schema* http_get = t.object({
      opt("path", t.str(c::absolute_path)),
      req("port", t.int_or_str(c::target_port)),
      opt("host", t.str()),
      opt("scheme", t.oneof({"HTTP", "HTTPS"})),
      opt("httpHeaders", t.array(t.object({req("name", t.str()), req("value", t.str())}))),
  });
  const Schema* tcp_socket =
      t.object({req("port", t.int_or_str(c::target_port)), opt("host", t.str())});
  const Schema* exec = t.object({opt("command", strings)});
  const Schema* probe = t.object(
      {
          opt("exec", exec),
          opt("httpGet", http_get),
          opt("tcpSocket", tcp_socket),
          ignored("grpc",
                  t.object({req("port", t.integer(c::port_number)), opt("service", t.str())})),
          opt("initialDelaySeconds", seconds),
          opt("timeoutSeconds", t.integer(c::positive)),
          opt("periodSeconds", t.integer(c::positive)),
          opt("successThreshold", t.integer(c::positive)),
          opt("failureThreshold", t.integer(c::positive)),
          opt("terminationGracePeriodSeconds", t.integer(c::positive)),
      },
      c::probe, "Probe");
  const Schema* handler =
      t.object({opt("exec", exec), opt("httpGet", http_get), opt("tcpSocket", tcp_socket),
                opt("sleep", t.object({req("seconds", t.integer(c::non_negative))}))},
               c::lifecycle_handler, "LifecycleHandler");
  const Schema* resources = t.object({
      opt("limits", t.map(t.quantity())),
      opt("requests", t.map(t.quantity())),
      ignored("claims", any),
  });
  const Schema* volume_mount = t.object({
      req("name", t.str()),
      req("mountPath", t.str(c::absolute_path)),
      opt("readOnly", t.boolean()),
      opt("subPath", t.str()),
      ignored("subPathExpr", t.str()),
      ignored("mountPropagation", t.str()),
      ignored("recursiveReadOnly", t.str()),
  });
  const Schema* container = t.object(
      {
          req("name", t.str(string_check<check_dns1123_label>)),
          req("image", t.str()),
          opt("command", strings),
          opt("args", strings),
          opt("workingDir", t.str()),
          opt("env", t.array(env_var)),
          opt("envFrom", t.array(env_from)),
          opt("ports", t.array(container_port)),
          opt("readinessProbe", probe),
          opt("livenessProbe", probe),
          opt("startupProbe", probe),
          opt("resources", resources),
          opt("lifecycle", t.object({opt("preStop", handler), ignored("postStart", handler)})),
          opt("volumeMounts", t.array(volume_mount)),
          inert("imagePullPolicy", t.oneof({"Always", "Never", "IfNotPresent"})),
          inert("terminationMessagePath", t.str()),
          inert("terminationMessagePolicy", t.oneof({"File", "FallbackToLogsOnError"})),
          ignored("securityContext", any),
          ignored("stdin", t.boolean()),
          ignored("stdinOnce", t.boolean()),
          ignored("tty", t.boolean()),
          ignored("resizePolicy", any),
          ignored("restartPolicy", t.oneof({"Always"})),
          ignored("volumeDevices", any),
      },
      nullptr, "Container");

  const Schema* key_to_path =
      t.array(t.object({req("key", t.str()), req("path", t.str()), opt("mode", t.integer())}));
  const Schema* volume = t.object(
      {
          req("name", t.str(string_check<check_dns1123_label>)),
          opt("emptyDir",
              t.object({opt("medium", t.oneof({"", "Memory"})), opt("sizeLimit", t.quantity())})),
          opt("secret", t.object({opt("secretName", t.str()), opt("items", key_to_path),
                                  opt("defaultMode", t.integer()), opt("optional", t.boolean())})),
          opt("configMap",
              t.object({opt("name", t.str()), opt("items", key_to_path),
                        opt("defaultMode", t.integer()), opt("optional", t.boolean())})),
          opt("hostPath",
              t.object({req("path", t.str(c::absolute_path)),
                        opt("type", t.oneof({"", "DirectoryOrCreate", "Directory", "FileOrCreate",
                                             "File", "Socket", "CharDevice", "BlockDevice"}))})),
          opt("persistentVolumeClaim",
              t.object({req("claimName", t.str()), opt("readOnly", t.boolean())})),
          ignored("projected", any),
          ignored("downwardAPI", any),
          ignored("csi", any),
          ignored("ephemeral", any),
          ignored("nfs", any),
      },
      c::volume, "Volume");

  const Schema* pod_spec = t.object(
      {
          req("containers", t.array(container)),
          ignored("initContainers", t.array(container)),
          opt("volumes", t.array(volume)),
          opt("restartPolicy", t.oneof({"Always", "OnFailure", "Never"})),
          opt("terminationGracePeriodSeconds", seconds),
          opt("activeDeadlineSeconds", t.integer(c::positive)),
          opt("hostname", t.str(string_check<check_dns1123_label>)),
          opt("subdomain", t.str(string_check<check_dns1123_label>)),
          opt("enableServiceLinks", t.boolean()),
          inert("nodeName", t.str()),
          inert("nodeSelector", string_map),
          inert("affinity", any),
          inert("tolerations", any),
          inert("topologySpreadConstraints", any),
          inert("schedulerName", t.str()),
          inert("priority", t.integer()),
          inert("priorityClassName", t.str()),
          inert("preemptionPolicy", t.str()),
          inert("imagePullSecrets", any),
          inert("serviceAccount", t.str()),
          inert("serviceAccountName", t.str()),
          inert("automountServiceAccountToken", t.boolean()),
          inert("dnsPolicy",
                t.oneof({"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"})),
          inert("runtimeClassName", t.str()),
          inert("readinessGates", any),
          inert("schedulingGates", any),
          inert("overhead", any),
          inert("os", any),
          ignored("dnsConfig", any),
          ignored("hostAliases", any),
          ignored("hostNetwork", t.boolean()),
          ignored("hostPID", t.boolean()),
          ignored("hostIPC", t.boolean()),
          ignored("hostUsers", t.boolean()),
          ignored("shareProcessNamespace", t.boolean()),
          ignored("setHostnameAsFQDN", t.boolean()),
          ignored("securityContext", any),
          ignored("ephemeralContainers", any),
          ignored("resourceClaims", any),
          ignored("resources", any),
      },
      c::pod_spec, "PodSpec");
  const Schema* pod_template = t.object({opt("metadata", template_meta), req("spec", pod_spec)});

  auto kind_object = [&](const Schema* metadata, std::vector<Field> fields, Rule rule = nullptr) {
    std::vector<Field> all = {req("apiVersion", t.str()), req("kind", t.str()),
                              req("metadata", metadata)};
    all.insert(all.end(), fields.begin(), fields.end());
    return t.object(std::move(all), rule);
  };
  const Schema* status = any;

  const Schema* namespace_ = kind_object(meta_label, {inert("spec", any), inert("status", status)});
  const Schema* secret =
      kind_object(meta_subdomain,
                  {
                      opt("data", t.map(t.secret_str(c::base64_value), check_config_key)),
                      opt("stringData", t.map(t.secret_str(), check_config_key)),
                      opt("type", t.str()),
                      opt("immutable", t.boolean()),
                  },
                  c::secret);
  const Schema* config_map =
      kind_object(meta_subdomain,
                  {
                      opt("data", t.map(t.str(), check_config_key)),
                      opt("binaryData", t.map(t.str(c::base64_value), check_config_key)),
                      opt("immutable", t.boolean()),
                  },
                  c::config_map);

  // Bound at once to a directory of the state directory (runtime/supervisor/volumes.h): what
  // selects or provisions a volume on a cluster is accepted and has nothing to choose from.
  const Schema* pvc = kind_object(
      meta_subdomain,
      {
          req("spec",
              t.object({
                  opt("accessModes", t.array(t.oneof({"ReadWriteOnce", "ReadOnlyMany",
                                                      "ReadWriteMany", "ReadWriteOncePod"}))),
                  opt("resources", t.object({opt("requests", t.map(t.quantity())),
                                             opt("limits", t.map(t.quantity()))})),
                  opt("volumeMode", t.oneof({"Filesystem", "Block"})),
                  inert("storageClassName", t.str()),
                  inert("volumeName", t.str()),
                  ignored("selector", any),
                  ignored("dataSource", any),
                  ignored("dataSourceRef", any),
                  ignored("volumeAttributesClassName", t.str()),
              })),
          inert("status", status),
      });

  const Schema* service_port = t.object({
      // A Service port's name is a DNS label, not an IANA service name as a container's is.
      opt("name", t.str(string_check<check_dns1123_label>)),
      req("port", t.integer(c::port_number)),
      opt("targetPort", t.int_or_str(c::target_port)),
      opt("nodePort", t.integer(c::node_port)),
      opt("protocol", t.oneof({"TCP", "UDP", "SCTP"})),
      inert("appProtocol", t.str()),
  });
  const Schema* service = kind_object(
      meta_dns1035,
      {opt("spec",
           t.object(
               {
                   opt("type", t.oneof({"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})),
                   opt("selector", labels),
                   opt("ports", t.array(service_port)),
                   opt("clusterIP", t.str(c::cluster_ip)),
                   opt("clusterIPs", t.array(t.str(c::cluster_ip))),
                   opt("sessionAffinity", t.oneof({"None", "ClientIP"})),
                   opt("sessionAffinityConfig", any),
                   opt("publishNotReadyAddresses", t.boolean()),
                   ignored("externalName", t.str()),
                   ignored("externalIPs", strings),
                   inert("externalTrafficPolicy", t.oneof({"Cluster", "Local"})),
                   inert("internalTrafficPolicy", t.oneof({"Cluster", "Local"})),
                   inert("ipFamilies", strings),
                   inert("ipFamilyPolicy", t.str()),
                   inert("loadBalancerIP", t.str()),
                   inert("loadBalancerSourceRanges", strings),
                   inert("loadBalancerClass", t.str()),
                   inert("allocateLoadBalancerNodePorts", t.boolean()),
                   inert("healthCheckNodePort", t.integer()),
                   inert("trafficDistribution", t.str()),
               },
               c::service_spec)),
       inert("status", status)},
      c::service);

  const Schema* pod = kind_object(meta_subdomain, {req("spec", pod_spec), inert("status", status)});
  const Schema* deployment = kind_object(
      meta_subdomain,
      {req("spec",
           t.object(
               {
                   opt("replicas", t.integer(c::non_negative)),
                   req("selector", selector),
                   req("template", pod_template),
                   opt("strategy",
                       t.object({opt("type", t.oneof({"RollingUpdate", "Recreate"})),
                                 opt("rollingUpdate",
                                     t.object({opt("maxSurge", t.int_or_str(c::int_or_percent)),
                                               opt("maxUnavailable",
                                                   t.int_or_str(c::int_or_percent))}))})),
                   opt("minReadySeconds", seconds),
                   opt("progressDeadlineSeconds", t.integer(c::positive)),
                   opt("revisionHistoryLimit", seconds),
                   opt("paused", t.boolean()),
               },
               c::deployment_spec)),
       inert("status", status)});

  // networking.k8s.io/v1 Ingress.
  const Schema* typed_ref =
      t.object({opt("apiGroup", t.str()), req("kind", t.str()), req("name", t.str())});
  // Course code written for v1beta1 often keeps serviceName/servicePort under a v1 apiVersion.
  constexpr std::string_view kV1Backend =
      "networking.k8s.io/v1 writes `service: {name: ..., port: {number: ...}}`; serviceName and "
      "servicePort belong to the removed v1beta1 Ingress";
  const Schema* backend = t.add({
      .type = Type::Object,
      .fields = {opt("service",
                     t.object(
                         {req("name", t.str(string_check<check_dns1035_label>)),
                          req("port", t.object({opt("name", t.str(string_check<check_port_name>)),
                                                opt("number", t.integer(c::port_number))},
                                               c::service_backend_port))})),
                 ignored("resource", typed_ref)},
      .rule = c::ingress_backend,
      .name = "IngressBackend",
      .hints = {{"serviceName", kV1Backend}, {"servicePort", kV1Backend}},
  });
  const Schema* tls =
      t.array(t.object({opt("hosts", t.array(t.str(string_check<check_ingress_host>))),
                        opt("secretName", t.str())}));
  auto ingress = [&](const Schema* backend_schema, bool path_type_required) {
    const Schema* path =
        t.object({opt("path", t.str()),
                  {"pathType", t.oneof({"Exact", "Prefix", "ImplementationSpecific"}),
                   path_type_required, Support::Used},
                  req("backend", backend_schema)},
                 c::ingress_path);
    const Schema* rule = t.object({opt("host", t.str(string_check<check_ingress_host>)),
                                   opt("http", t.object({req("paths", t.array(path))}))});
    std::vector<Field> spec_fields = {
        opt("ingressClassName", t.str(string_check<check_dns1123_subdomain>)), opt("tls", tls),
        opt("rules", t.array(rule))};
    spec_fields.push_back(path_type_required ? opt("defaultBackend", backend_schema)
                                             : opt("backend", backend_schema));
    return kind_object(
        meta_subdomain,
        {req("spec", t.object(std::move(spec_fields), c::ingress_spec)), inert("status", status)});
  };
  const Schema* legacy_backend =
      t.object({opt("serviceName", t.str(string_check<check_dns1035_label>)),
                opt("servicePort", t.int_or_str(c::target_port)), ignored("resource", typed_ref)},
               c::legacy_ingress_backend, "IngressBackend (v1beta1)");
  const Schema* ingress_v1 = ingress(backend, true);
  const Schema* ingress_legacy = ingress(legacy_backend, false);

  t.kinds = {
      {"v1", "Namespace", false, namespace_, ""},
      {"v1", "Secret", true, secret, ""},
      {"v1", "ConfigMap", true, config_map, ""},
      {"v1", "PersistentVolumeClaim", true, pvc, ""},
      {"v1", "Service", true, service, ""},
      {"v1", "Pod", true, pod, ""},
      {"apps/v1", "Deployment", true, deployment, ""},
      {"networking.k8s.io/v1", "Ingress", true, ingress_v1, ""},
      {"networking.k8s.io/v1beta1", "Ingress", true, ingress_legacy, "networking.k8s.io/v1"},
      {"extensions/v1beta1", "Ingress", true, ingress_legacy, "networking.k8s.io/v1"},
  };
  // List items are checked one by one as objects of their own kinds.
  t.list = t.object({req("apiVersion", t.str()), req("kind", t.str()), inert("metadata", any),
                     req("items", t.array(t.any()))});
  return t;
}

const Tables& tables() {
  static const Tables t = build();
  return t;
}

}  // namespace

const KindInfo* find_kind(std::string_view api_version, std::string_view kind) {
  for (const KindInfo& k : tables().kinds)
    if (k.api_version == api_version && k.kind == kind) return &k;
  return nullptr;
}

std::span<const KindInfo> all_kinds() {
  return tables().kinds;
}

const Schema& list_schema() {
  return *tables().list;
}

}  // namespace ticketctl::manifest
