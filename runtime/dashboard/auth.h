#pragma once
// Who may use the dashboard, without HTTP: a one-time login token (minted for whoever holds the
// API's bearer token, i.e. `ticketctl dashboard`) is exchanged once for a session, which the
// browser keeps in an HttpOnly SameSite=Strict cookie; every state-changing request must also
// carry the session's CSRF token in a header and come from the dashboard's own origin. The Host
// header must name the loopback listener, so a DNS-rebound name cannot reach it.
// Threads: any; one mutex guards the tokens and sessions.

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ticketctl::dashboard {

inline constexpr std::string_view kSessionCookie = "ticketctl_dashboard";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

struct Session {
  std::string id;    // the cookie's value
  std::string csrf;  // sent back by the page in kCsrfHeader
};

// The request's headers that decide, as the server saw them ("" when absent).
struct RequestHeaders {
  std::string method;
  std::string host;
  std::string cookie;
  std::string csrf;
  std::string origin;
  std::string sec_fetch_site;
};

class Auth {
 public:
  explicit Auth(int port) : port_(port) {}

  // A fresh login token, valid once within `ttl`. At most kMaxLogins are outstanding; the oldest
  // goes first.
  std::string mint_login(std::chrono::seconds ttl = std::chrono::minutes(10));
  // Spends a login token: a new session, or nullopt when it is unknown, used or expired.
  std::optional<Session> redeem(std::string_view token);

  // Whether the Host header names this listener (127.0.0.1:PORT or localhost:PORT).
  bool host_allowed(std::string_view host) const;
  // The session the Cookie header names, or nullopt.
  std::optional<Session> session(std::string_view cookie_header) const;
  // Why a state-changing request is refused ("" when it is allowed): a missing or wrong CSRF
  // token, another origin, a cross-site fetch.
  std::string refuse_change(const RequestHeaders& h, const Session& s) const;

  static constexpr size_t kMaxLogins = 16;
  static constexpr size_t kMaxSessions = 32;

 private:
  struct Login {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };
  const int port_;
  mutable std::mutex mu_;
  std::deque<Login> logins_;
  std::deque<Session> sessions_;  // oldest first; a new one past kMaxSessions ends the oldest
};

// Constant-time equality, so a token cannot be guessed byte by byte from response times.
bool same_secret(std::string_view a, std::string_view b);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace ticketctl::dashboard
