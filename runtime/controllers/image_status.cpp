#include "runtime/controllers/image_status.h"

#include "runtime/controllers/events.h"

namespace ticketctl::controllers {

int ImageStatusController::reconcile() {
  int writes = 0;
  for (const Json& pod : store_.list("pods", "")) {
    const Json& status = json_at(pod, "status");
    if (json_at(status, "phase") != "Pending") continue;
    Json statuses = Json::array();
    std::vector<std::string> problems;
    for (const Json& c : json_at(json_at(pod, "spec"), "containers")) {
      const images::Resolution r = resolver_.resolve(c);
      Json s = {{"name", c.value("name", "")},
                {"image", c.value("image", "")},
                {"ready", false},
                {"restartCount", 0},
                {"started", false},
                {"state", Json::object()}};
      if (!r.spec) {
        s["state"] = {{"waiting", {{"reason", r.reason}, {"message", r.message}}}};
        problems.push_back(r.message);
      }
      statuses.push_back(std::move(s));
    }
    // Mapped pods wait for the supervisor with no container state, as unscheduled pods do.
    if (problems.empty() && !status.contains("containerStatuses")) continue;
    Json next = status;
    if (problems.empty())
      next.erase("containerStatuses");
    else
      next["containerStatuses"] = statuses;
    if (next == status) continue;
    const Json& meta = pod["metadata"];
    const std::string ns = meta.value("namespace", ""), name = meta.value("name", "");
    if (!store_.update_status({"pods", ns, name}, next).ok()) continue;
    ++writes;
    for (std::string& message : problems)
      record_event(store_, pod, "Warning", "Failed", std::move(message), "kubelet");
  }
  return writes;
}

}  // namespace ticketctl::controllers
