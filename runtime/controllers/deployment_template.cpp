// Deployment templates as the deployment controller reads them: the pod-template-hash of the
// template's content, ReplicaSet and pod names cut as Kubernetes cuts them, maxSurge and
// maxUnavailable resolved, and the template with a hash of the ConfigMaps and Secrets it reads.
#include "runtime/controllers/deployment.h"

#include <set>

#include "runtime/api/defaults.h"
#include "runtime/controllers/deployment_internal.h"

namespace ticketctl::controllers {

using namespace detail;  // the helpers deployment.cpp shares

namespace {

// The template's content only: keys sorted (kubectl sends them sorted, manifests in the author's
// order), and nulls, {} and [] left out (absent and empty mean the same to the kubelet). Two
// spellings of one template get one hash, whoever applied it.
nlohmann::json canonical(const Json& v) {
  if (v.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      nlohmann::json c = canonical(*it);
      if (!c.is_null() && !((c.is_object() || c.is_array()) && c.empty()))
        out[it.key()] = std::move(c);
    }
    return out;
  }
  if (v.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const Json& e : v) out.push_back(canonical(e));
    return out;
  }
  return nlohmann::json(v);
}

}  // namespace

std::string pod_template_hash(const Json& pod_template) {
  uint32_t h = 2166136261u;
  for (unsigned char c :
       canonical(pod_template).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
    h ^= c;
    h *= 16777619u;
  }
  std::string out;
  for (char digit : std::to_string(h))
    out += kSafeAlphabet[static_cast<unsigned char>(digit) % kSafeAlphabet.size()];
  return out;
}

bool same_template_but_defaults(const Json& stored, const Json& tmpl) {
  Json a = stored, b = tmpl;
  for (Json* t : {&a, &b}) {
    if (!t->is_object()) return false;
    api::default_pod_template(*t);
    if (Json& labels = (*t)["metadata"]["labels"]; labels.is_object()) labels.erase(kHashLabel);
  }
  // Key order, and absent vs empty, are how a client wrote the object, not what it asks for.
  return canonical(a) == canonical(b);
}

std::string replicaset_name(std::string_view deployment, std::string_view hash) {
  constexpr size_t kMaxName = 253;  // a DNS subdomain
  std::string base(deployment.substr(0, kMaxName - 1 - std::min(hash.size(), kMaxName - 2)));
  // A cut that ends a label with '.' would make "x.-hash", which no name may contain.
  while (!base.empty() && base.back() == '.') base.pop_back();
  return fmt::format("{}-{}", base, hash);
}

std::string generated_pod_name(std::string_view replicaset, std::string_view suffix) {
  constexpr size_t kMaxBase = 63 - 5;  // the API server's maxGeneratedNameLength
  std::string base = fmt::format("{}-", replicaset);
  if (base.size() > kMaxBase) base.resize(kMaxBase);
  return base + std::string(suffix);
}

int64_t scaled_value(const Json& v, int64_t total, bool round_up) {
  if (v.is_number_integer()) return v.get<int64_t>();
  const std::string s = str(v);
  if (s.empty() || s.back() != '%') return 0;
  const double percent = std::strtod(s.c_str(), nullptr);
  const double value = percent * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(round_up ? std::ceil(value) : std::floor(value));
}

Fenceposts resolve_fenceposts(const Json& d) {
  const Json& strategy = field(field(d, "spec"), "strategy");
  if (str(field(strategy, "type")) == "Recreate") return {};
  const Json& ru = field(strategy, "rollingUpdate");
  const Json surge = field(ru, "maxSurge").is_null() ? Json("25%") : field(ru, "maxSurge");
  const Json unavailable =
      field(ru, "maxUnavailable").is_null() ? Json("25%") : field(ru, "maxUnavailable");
  const int64_t replicas = replicas_of(d);
  Fenceposts f{scaled_value(surge, replicas, true), scaled_value(unavailable, replicas, false)};
  // Both zero would let nothing move; Kubernetes allows one unavailable pod then.
  if (f.max_surge == 0 && f.max_unavailable == 0) f.max_unavailable = 1;
  return f;
}

Json effective_template(const store::Store& store, const Json& d) {
  Json tmpl = field(field(d, "spec"), "template");
  // Every ConfigMap and Secret the pods read, once, in a stable order.
  std::set<std::pair<std::string, std::string>> refs;
  const Json& spec = field(tmpl, "spec");
  for (const char* list : {"initContainers", "containers"}) {
    for (const Json& c : field(spec, list)) {
      for (const Json& e : field(c, "env")) {
        const Json& from = field(e, "valueFrom");
        if (const std::string n = str(field(field(from, "configMapKeyRef"), "name")); !n.empty())
          refs.insert({"configmaps", n});
        if (const std::string n = str(field(field(from, "secretKeyRef"), "name")); !n.empty())
          refs.insert({"secrets", n});
      }
      for (const Json& e : field(c, "envFrom")) {
        if (const std::string n = str(field(field(e, "configMapRef"), "name")); !n.empty())
          refs.insert({"configmaps", n});
        if (const std::string n = str(field(field(e, "secretRef"), "name")); !n.empty())
          refs.insert({"secrets", n});
      }
    }
  }
  for (const Json& v : field(spec, "volumes")) {
    if (const std::string n = str(field(field(v, "configMap"), "name")); !n.empty())
      refs.insert({"configmaps", n});
    if (const std::string n = str(field(field(v, "secret"), "secretName")); !n.empty())
      refs.insert({"secrets", n});
  }
  if (refs.empty()) return tmpl;
  const std::string ns = str(field(field(d, "metadata"), "namespace"));
  uint64_t h = fnv64("");
  for (const auto& [resource, name] : refs) {
    h = fnv64(resource + "/" + name + "=", h);
    const Json* o = store.find({resource, ns, name});
    if (!o) {
      h = fnv64("<absent>;", h);
      continue;
    }
    for (const char* key : {"data", "binaryData", "stringData"})
      h = fnv64(field(*o, key).dump() + ";", h);
  }
  tmpl["metadata"]["annotations"][kConfigHashAnnotation] = fmt::format("{:016x}", h);
  return tmpl;
}

}  // namespace ticketctl::controllers
