#include "runtime/dashboard/logs.h"

#include <fmt/format.h>

namespace ticketctl::dashboard {

void LogFollower::track(const Json& pods) {
  std::set<std::string> seen;
  for (const Json& pod : pods) {
    const Json& meta = json_at(pod, "metadata");
    const std::string uid = json_at(meta, "uid").is_string() ? meta["uid"].get<std::string>() : "";
    const std::string name =
        json_at(meta, "name").is_string() ? meta["name"].get<std::string>() : "";
    for (const Json& c : json_at(json_at(pod, "status"), "containerStatuses")) {
      if (!json_at(c, "name").is_string()) continue;
      const std::string container = c["name"];
      const int64_t restarts =
          json_at(c, "restartCount").is_number_integer() ? c["restartCount"].get<int64_t>() : 0;
      const std::string key = fmt::format("{}/{}/{}", uid, container, restarts);
      seen.insert(key);
      if (followed_.count(key) || ended_.count(key)) continue;
      logs::LogOptions options;
      options.container = container;
      options.follow = true;
      // What ran before the page opened: its last lines; a run that starts later: all of it.
      if (first_track_) options.tail_lines = tail_;
      Result<logs::LogRun> run = logs::choose_log_run(pod, pods_dir_, options);
      if (!run.ok()) continue;  // no log file yet: the next look finds it
      // A pod of several containers shows which one wrote the line.
      const size_t containers = json_at(json_at(pod, "spec"), "containers").size();
      followed_.emplace(
          key,
          Followed{containers > 1 ? name + "/" + container : name,
                   std::make_unique<logs::LogReader>(run.value(), options, logs::unix_now_ns()), ""});
    }
  }
  first_track_ = false;
  for (auto it = followed_.begin(); it != followed_.end();)
    it = seen.count(it->first) ? std::next(it) : followed_.erase(it);
  for (auto it = ended_.begin(); it != ended_.end();)
    it = seen.count(*it) ? std::next(it) : ended_.erase(it);
}

size_t LogFollower::poll(Json& out, size_t max_lines) {
  size_t added = 0;
  for (auto it = followed_.begin(); it != followed_.end();) {
    Followed& f = it->second;
    if (added < max_lines) {
      std::string text;
      f.reader->poll(text);
      f.partial += text;
    }
    size_t start = 0;
    for (size_t eol; added < max_lines && (eol = f.partial.find('\n', start)) != std::string::npos;
         start = eol + 1, ++added)
      out.push_back(Json::array({f.pod, f.partial.substr(start, eol - start)}));
    f.partial.erase(0, start);
    if (f.reader->finished() && f.partial.find('\n') == std::string::npos) {
      if (!f.partial.empty()) {
        out.push_back(Json::array({f.pod, f.partial}));
        ++added;
      }
      ended_.insert(it->first);
      it = followed_.erase(it);
    } else {
      ++it;
    }
  }
  return added;
}

}  // namespace ticketctl::dashboard
