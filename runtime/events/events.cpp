#include "runtime/events/events.h"

#include <fmt/format.h>

#include "runtime/core/rfc3339.h"

namespace ticketctl::events {

void record_event(store::Store& store, const Json& object, std::string_view type,
                  std::string_view reason, std::string message, std::string_view component) {
  const Json& meta = json_at(object, "metadata");
  const std::string now = rfc3339::now_seconds();
  // The same event again (object, type, reason, message) is counted, as client-go's recorder
  // aggregates: a crash loop shows one BackOff event with a growing count, not hundreds. Its
  // name is "<object>.<suffix>" as client-go makes them, the suffix a hash of what makes it the
  // same event, so the earlier one is found by name rather than by reading every event.
  const std::string uid = meta.value("uid", "");
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (std::string_view part : {std::string_view(uid), type, reason, std::string_view(message)}) {
    for (unsigned char c : part) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // a separator no text contains
  }
  const std::string ns = meta.value("namespace", "");
  const std::string name = fmt::format("{}.{:016x}", meta.value("name", ""), h);
  if (const Json* seen = store.find({"events", ns, name})) {
    Json e = *seen;
    e["count"] = json_at(e, "count").is_number_integer() ? e["count"].get<int64_t>() + 1 : 2;
    e["lastTimestamp"] = now;
    e["metadata"].erase("resourceVersion");
    store.update("events", std::move(e));
    return;
  }
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

}  // namespace ticketctl::events
