#include "runtime/manifest/legacy.h"

namespace ticketctl::manifest {
namespace {

Json convert_backend(const Json& b) {
  if (!b.is_object()) return b;
  Json out = Json::object();
  for (auto& [k, v] : b.items()) {
    if (k == "serviceName") {
      Json port = Json::object();
      const Json& sp = b.contains("servicePort") ? b["servicePort"] : Json();
      if (sp.is_string())
        port["name"] = sp;
      else if (!sp.is_null())
        port["number"] = sp;
      out["service"] = Json{{"name", v}, {"port", port}};
    } else if (k != "servicePort") {
      out[k] = v;  // resource
    }
  }
  return out;
}

Json convert_path(const Json& p) {
  if (!p.is_object()) return p;
  Json out = Json::object();
  for (auto& [k, v] : p.items()) {
    if (k == "pathType" && v.is_null()) continue;
    // v1beta1 defaulted pathType to ImplementationSpecific; v1 requires it, before the backend.
    if (k == "backend" && !out.contains("pathType") && !p.contains("pathType"))
      out["pathType"] = "ImplementationSpecific";
    out[k] = k == "backend" ? convert_backend(v) : v;
  }
  if (!out.contains("pathType")) out["pathType"] = "ImplementationSpecific";
  return out;
}

Json convert_spec(const Json& spec) {
  if (!spec.is_object()) return spec;
  Json out = Json::object();
  for (auto& [k, v] : spec.items()) {
    if (k == "backend") {
      out["defaultBackend"] = convert_backend(v);
    } else if (k == "rules" && v.is_array()) {
      Json rules = Json::array();
      for (const Json& rule : v) {
        Json r = rule;
        if (r.is_object() && r.contains("http") && r["http"].is_object() &&
            r["http"].contains("paths") && r["http"]["paths"].is_array()) {
          Json paths = Json::array();
          for (const Json& p : r["http"]["paths"]) paths.push_back(convert_path(p));
          r["http"]["paths"] = std::move(paths);
        }
        rules.push_back(std::move(r));
      }
      out["rules"] = std::move(rules);
    } else {
      out[k] = v;
    }
  }
  return out;
}

}  // namespace

Json convert_legacy_ingress(const Json& legacy) {
  Json out = Json::object();
  for (auto& [k, v] : legacy.items()) {
    if (k == "apiVersion")
      out[k] = "networking.k8s.io/v1";
    else if (k == "spec")
      out[k] = convert_spec(v);
    else
      out[k] = v;
  }
  return out;
}

}  // namespace ticketctl::manifest
