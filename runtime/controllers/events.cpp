#include "runtime/controllers/events.h"

#include <fmt/format.h>

#include <random>

namespace ticketctl::controllers {

void record_event(store::Store& store, const Json& object, std::string_view type,
                  std::string_view reason, std::string message, std::string_view component) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const Json& meta = json_at(object, "metadata");
  const std::string now = store::rfc3339_now();
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
