#include "runtime/controllers/events.h"

#include <fmt/format.h>

#include <random>

namespace ticketctl::controllers {

void record_event(store::Store& store, const Json& object, std::string_view type,
                  std::string_view reason, std::string message, std::string_view component) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const Json& meta = json_at(object, "metadata");
  const std::string now = store::rfc3339_now();
  // The same event again (object, type, reason, message) is counted, as client-go's recorder
  // aggregates: a crash loop shows one BackOff event with a growing count, not hundreds.
  const std::string ns = meta.value("namespace", "");
  for (const store::ObjectRef& ref : store.items("events", ns)) {
    const Json& involved = json_at(*ref, "involvedObject");
    if (json_at(involved, "uid") != json_at(meta, "uid") || json_at(*ref, "reason") != reason ||
        json_at(*ref, "type") != type || json_at(*ref, "message") != message)
      continue;
    Json e = *ref;
    e["count"] = json_at(e, "count").is_number_integer() ? e["count"].get<int64_t>() + 1 : 2;
    e["lastTimestamp"] = now;
    e["metadata"].erase("resourceVersion");
    store.update("events", std::move(e));
    return;
  }
  // Event names are "<object>.<unique suffix>", as client-go makes them.
  const std::string name = fmt::format("{}.{:016x}", meta.value("name", ""), rng());
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", name}, {"namespace", json_at(meta, "namespace")}}},
                {"involvedObject",
                 {{"apiVersion", json_at(object, "apiVersion")},
                  {"kind", json_at(object, "kind")},
                  {"namespace", json_at(meta, "namespace")},
                  {"name", json_at(meta, "name")},
                  {"uid", json_at(meta, "uid")},
                  {"resourceVersion", meta.value("resourceVersion", "")}}},
                {"reason", reason},
                {"message", std::move(message)},
                {"source", {{"component", component}}},
                {"firstTimestamp", now},
                {"lastTimestamp", now},
                {"count", 1},
                {"type", type},
                {"reportingComponent", component}};
  store.create("events", std::move(event));
}

}  // namespace ticketctl::controllers
