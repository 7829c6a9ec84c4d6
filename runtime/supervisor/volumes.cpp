#include "runtime/supervisor/volumes.h"

#include "runtime/core/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "runtime/core/strings.h"

namespace ticketctl::supervisor {
namespace fs = std::filesystem;
namespace {

std::string text(const Json& v) {
  return v.is_string() ? v.get<std::string>() : std::string();
}

// A path inside a volume (subPath, items[].path): relative, without "..", as the API server
// requires.
bool contained(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  for (const fs::path& part : fs::path(p))
    if (part == "..") return false;
  return true;
}

bool under(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  return path == dir ||
         (path.starts_with(dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

// The key -> content pairs a configMap or secret volume shows, after `items`.
struct Projection {
  std::map<std::string, std::string> files;  // relative path -> content
  bool secret = false;
};

Result<std::optional<Projection>> project(const Json& volume, const std::string& ns,
                                          const VolumeInputs& in) {
  const bool secret = volume.contains("secret");
  const Json& src = json_at(volume, secret ? "secret" : "configMap");
  const std::string name = text(json_at(src, secret ? "secretName" : "name"));
  const bool optional = json_at(src, "optional") == true;
  const std::string resource = secret ? "secrets" : "configmaps";
  std::optional<Json> object = in.lookup ? in.lookup(resource, ns, name) : std::nullopt;
  if (!object) {
    if (optional) return std::optional<Projection>(Projection{{}, secret});
    return Error{ErrorCode::NotFound,
                 fmt::format("volume {}: {} \"{}\" not found", text(json_at(volume, "name")),
                             secret ? "secret" : "configmap", name)};
  }
  std::map<std::string, std::string> values;
  for (const char* field : {"data", secret ? "stringData" : "binaryData"}) {
    const Json& data = json_at(*object, field);
    if (!data.is_object()) continue;
    const bool encoded =
        secret ? std::string_view(field) == "data" : std::string_view(field) == "binaryData";
    for (const auto& [k, v] : data.items())
      values[k] = encoded ? base64_decode(text(v)).value_or("") : text(v);
  }
  Projection p;
  p.secret = secret;
  const Json& items = json_at(src, "items");
  if (items.is_array() && !items.empty()) {
    for (const Json& item : items) {
      const std::string key = text(json_at(item, "key")), path = text(json_at(item, "path"));
      auto it = values.find(key);
      if (it == values.end()) {
        if (optional) continue;
        return Error{ErrorCode::NotFound, fmt::format("volume {}: key {} not found in {} {}",
                                                      text(json_at(volume, "name")), key,
                                                      secret ? "secret" : "configmap", name)};
      }
      if (!contained(path))
        return Error{ErrorCode::Invalid, fmt::format("volume {}: item path {} leaves the volume",
                                                     text(json_at(volume, "name")), path)};
      p.files[path] = it->second;
    }
  } else {
    for (auto& [k, v] : values)
      if (contained(k) && k.find('/') == std::string::npos) p.files[k] = std::move(v);
  }
  return std::optional<Projection>(std::move(p));
}

// Replaces `file` by rename: a reader sees the old or the new content.
bool write_file(const fs::path& file, const std::string& content, mode_t mode) {
  std::ifstream old(file, std::ios::binary);
  if (old) {
    std::stringstream buf;
    buf << old.rdbuf();
    struct stat st {};
    if (buf.str() == content && ::stat(file.c_str(), &st) == 0 && (st.st_mode & 0777) == mode)
      return false;
  }
  (void)make_private_dirs(file.parent_path());  // a failed open below says no
  const fs::path tmp = file.parent_path() / ("..tmp." + file.filename().string());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return false;
  (void)::fchmod(fd, mode);
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  ::rename(tmp.c_str(), file.c_str());
  return true;
}

bool materialise(const fs::path& dir, const Projection& p) {
  std::error_code ec;
  (void)make_private_dirs(dir);
  bool changed = false;
  for (const auto& [path, content] : p.files)
    changed |= write_file(dir / path, content, p.secret ? 0600 : 0644);
  // Keys removed from the object disappear from the volume.
  std::vector<fs::path> stale;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file(ec) && !p.files.count(name)) stale.push_back(e.path());
  }
  for (const fs::path& f : stale) changed |= fs::remove(f, ec);
  return changed;
}

}  // namespace

fs::path claim_dir(const fs::path& claims_dir, const Json& claim) {
  const Json& meta = json_at(claim, "metadata");
  return claims_dir / fmt::format("{}_{}_{}", text(json_at(meta, "namespace")),
                                  text(json_at(meta, "name")), text(json_at(meta, "uid")));
}

void collect_claim_dirs(const fs::path& claims_dir, const std::set<std::string>& claim_uids) {
  std::error_code ec;
  std::vector<fs::path> gone;
  for (const fs::directory_entry& e : fs::directory_iterator(claims_dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t last = name.rfind('_');
    if (last == std::string::npos || !claim_uids.count(name.substr(last + 1)))
      gone.push_back(e.path());
  }
  for (const fs::path& p : gone) fs::remove_all(p, ec);
}

Result<PreparedVolumes> prepare_volumes(const VolumeInputs& in) {
  PreparedVolumes out;
  const Json& meta = json_at(*in.pod, "metadata");
  const std::string ns = text(json_at(meta, "namespace"));
  const Json& volumes = json_at(json_at(*in.pod, "spec"), "volumes");
  std::error_code ec;
  auto volume_dir = [&](const Json& volume) -> Result<fs::path> {
    const std::string name = text(json_at(volume, "name"));
    const fs::path own = in.pod_dir / "volumes" / name;
    if (volume.contains("emptyDir")) {
      if (in.first_start) fs::remove_all(own, ec);
      if (Result<bool> made = make_private_dirs(own); !made.ok()) return made.error();
      return own;
    }
    if (volume.contains("secret") || volume.contains("configMap")) {
      Result<std::optional<Projection>> p = project(volume, ns, in);
      if (!p.ok()) return p.error();
      materialise(own, *p.value());
      return own;
    }
    if (volume.contains("hostPath")) {
      const Json& hp = json_at(volume, "hostPath");
      const fs::path path = text(json_at(hp, "path"));
      const std::string type = text(json_at(hp, "type"));
      if (type == "DirectoryOrCreate") fs::create_directories(path, ec);
      if (type == "FileOrCreate" && !fs::exists(path, ec)) std::ofstream(path).flush();
      if ((type == "Directory" && !fs::is_directory(path, ec)) ||
          (type == "File" && !fs::is_regular_file(path, ec)))
        return Error{ErrorCode::NotFound,
                     fmt::format("volume {}: hostPath {} is not a {}", name, path.string(),
                                 type == "File" ? "file" : "directory")};
      if (!in.project_dir.empty() && !under(path.string(), in.project_dir.string()))
        out.warnings.push_back(fmt::format(
            "volume {}: hostPath {} is outside the project ({}): the pod reads and writes it as "
            "the control plane's user",
            name, path.string(), in.project_dir.string()));
      return path;
    }
    if (volume.contains("persistentVolumeClaim")) {
      const std::string claim =
          text(json_at(json_at(volume, "persistentVolumeClaim"), "claimName"));
      std::optional<Json> object =
          in.lookup ? in.lookup("persistentvolumeclaims", ns, claim) : std::nullopt;
      if (!object)
        return Error{ErrorCode::NotFound,
                     fmt::format("volume {}: persistentvolumeclaim \"{}\" not found", name, claim)};
      const fs::path dir = claim_dir(in.claims_dir, *object);
      fs::create_directories(dir, ec);
      ::chmod(dir.c_str(), 0700);
      return dir;
    }
    return Error{ErrorCode::Invalid,
                 fmt::format("volume {}: this volume type is not supported by ticketctl", name)};
  };

  for (const Json& m : json_at(*in.container, "volumeMounts")) {
    const std::string name = text(json_at(m, "name")), path = text(json_at(m, "mountPath"));
    const Json* volume = nullptr;
    if (volumes.is_array())
      for (const Json& v : volumes)
        if (text(json_at(v, "name")) == name) volume = &v;
    if (!volume)
      return Error{ErrorCode::NotFound,
                   fmt::format("volumeMount {}: no volume named {}", path, name)};
    if (path.empty() || path.front() != '/' || path.find('\n') != std::string::npos ||
        path.find('=') != std::string::npos)
      return Error{ErrorCode::Invalid, fmt::format("volumeMount {}: unsupported mountPath", path)};
    Result<fs::path> dir = volume_dir(*volume);
    if (!dir.ok()) return dir.error();
    fs::path host = dir.value();
    const std::string sub = text(json_at(m, "subPath"));
    if (!sub.empty()) {
      if (!contained(sub))
        return Error{ErrorCode::Invalid,
                     fmt::format("volumeMount {}: subPath {} leaves the volume", path, sub)};
      host /= sub;
      if (!fs::exists(host, ec)) fs::create_directories(host, ec);
    }
    std::string norm = path;
    while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
    const bool ro = json_at(m, "readOnly") == true || volume->contains("secret") ||
                    volume->contains("configMap");
    out.mounts.push_back({norm, host, ro});
  }

  if (!in.image_volume.empty()) {
    // The volume mounted at the image's VOLUME or above it holds the data; without one, the
    // pod's own directory does, as Docker's anonymous volume would.
    for (const Mount& m : out.mounts)
      if (under(in.image_volume, m.path))
        out.data_dir = in.image_volume == m.path
                           ? m.host
                           : m.host / in.image_volume.substr(m.path == "/" ? 1 : m.path.size() + 1);
    if (out.data_dir.empty()) {
      const std::string cname = text(json_at(*in.container, "name"));
      out.data_dir = in.pod_dir / "volumes" / ("image-" + cname);
      if (in.first_start) fs::remove_all(out.data_dir, ec);
      (void)make_private_dirs(out.data_dir);
      out.mounts.push_back({in.image_volume, out.data_dir, false});
      // Mounts below the image's VOLUME (a claim at /var/lib/postgresql/data/pgdata) appear in
      // it, so a program given the host directory finds them there too.
      for (const Mount& m : out.mounts)
        if (m.path != in.image_volume && under(m.path, in.image_volume)) {
          const fs::path link = out.data_dir / m.path.substr(in.image_volume.size() + 1);
          fs::create_directories(link.parent_path(), ec);
          if (!fs::is_symlink(link, ec)) {
            fs::remove(link, ec);
            fs::create_directory_symlink(m.host, link, ec);
          }
        }
    }
    fs::create_directories(out.data_dir, ec);
  }
  return out;
}

bool refresh_projected_volumes(const Json& pod, const fs::path& pod_dir, const VolumeInputs& in) {
  const std::string ns = text(json_at(json_at(pod, "metadata"), "namespace"));
  bool changed = false;
  for (const Json& v : json_at(json_at(pod, "spec"), "volumes")) {
    if (!v.contains("secret") && !v.contains("configMap")) continue;
    Result<std::optional<Projection>> p = project(v, ns, in);
    if (!p.ok() || !p.value()) continue;  // gone: the files stay, as the kubelet leaves them
    changed |= materialise(pod_dir / "volumes" / text(json_at(v, "name")), *p.value());
  }
  return changed;
}

std::string mounts_env(std::vector<Mount> mounts) {
  std::stable_sort(mounts.begin(), mounts.end(),
                   [](const Mount& a, const Mount& b) { return a.path.size() > b.path.size(); });
  std::string out;
  for (const Mount& m : mounts)
    out += fmt::format("{} {}={}\n", m.read_only ? "ro" : "rw", m.path, m.host.string());
  return out;
}

}  // namespace ticketctl::supervisor
