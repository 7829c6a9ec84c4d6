#include "runtime/dashboard/auth.h"

#include <fmt/format.h>

#include "runtime/api/tls.h"

namespace ticketctl::dashboard {

bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return std::string(pair.substr(eq + 1));
    pos = end + 1;
  }
  return "";
}

std::string Auth::mint_login(std::chrono::seconds ttl) {
  std::lock_guard<std::mutex> l(mu_);
  if (logins_.size() >= kMaxLogins) logins_.pop_front();
  logins_.push_back({api::random_token(), std::chrono::steady_clock::now() + ttl});
  return logins_.back().token;
}

std::optional<Session> Auth::redeem(std::string_view token) {
  std::lock_guard<std::mutex> l(mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = logins_.begin(); it != logins_.end(); ++it) {
    if (!same_secret(it->token, token)) continue;
    const bool fresh = it->expires > now;
    logins_.erase(it);  // spent either way
    if (!fresh) return std::nullopt;
    if (sessions_.size() >= kMaxSessions) sessions_.pop_front();
    sessions_.push_back({api::random_token(), api::random_token()});
    return sessions_.back();
  }
  return std::nullopt;
}

bool Auth::host_allowed(std::string_view host) const {
  return host == fmt::format("127.0.0.1:{}", port_) || host == fmt::format("localhost:{}", port_);
}

std::optional<Session> Auth::session(std::string_view cookie_header) const {
  const std::string id = cookie_value(cookie_header, kSessionCookie);
  if (id.empty()) return std::nullopt;
  std::lock_guard<std::mutex> l(mu_);
  for (const Session& s : sessions_)
    if (same_secret(s.id, id)) return s;
  return std::nullopt;
}

std::string Auth::refuse_change(const RequestHeaders& h, const Session& s) const {
  // Browsers send Origin with every POST; a page of another site cannot forge it.
  if (h.origin.empty()) return "the request has no Origin header";
  if (h.origin != "http://" + h.host)
    return fmt::format("the request comes from another origin ({})", h.origin);
  if (!h.sec_fetch_site.empty() && h.sec_fetch_site != "same-origin")
    return fmt::format("the request is a {} fetch", h.sec_fetch_site);
  if (h.csrf.empty()) return fmt::format("the request has no {} header", kCsrfHeader);
  if (!same_secret(h.csrf, s.csrf)) return fmt::format("the {} header is wrong", kCsrfHeader);
  return "";
}

}  // namespace ticketctl::dashboard
