// The dashboard's access rules as pure logic (runtime/dashboard/auth.h); the HTTP side is
// tests/integration/dashboard_test.cpp.

#include "runtime/dashboard/auth.h"

#include <gtest/gtest.h>


namespace ticketctl::dashboard {
namespace {

RequestHeaders allowed(const Session& s) {
  return {"POST", "127.0.0.1:8080", "", s.csrf, "http://127.0.0.1:8080", "same-origin"};
}

TEST(DashboardAuth, ALoginTokenIsSpentOnceAndASessionIsFoundByItsCookie) {
  Auth auth(8080);
  const std::string token = auth.mint_login();
  EXPECT_EQ(token.size(), 64u);
  EXPECT_FALSE(auth.redeem(std::string(64, '0')));
  const std::optional<Session> s = auth.redeem(token);
  ASSERT_TRUE(s);
  EXPECT_FALSE(auth.redeem(token)) << "a second use";
  EXPECT_NE(s->id, s->csrf);
  EXPECT_TRUE(auth.session("a=b; ticketctl_dashboard=" + s->id + "; c=d"));
  EXPECT_FALSE(auth.session("ticketctl_dashboard=" + s->csrf));
  EXPECT_FALSE(auth.session(""));
}

TEST(DashboardAuth, AnExpiredTokenIsRefusedAndSpent) {
  Auth auth(8080);
  const std::string token = auth.mint_login(std::chrono::seconds(0));
  EXPECT_FALSE(auth.redeem(token));
}

TEST(DashboardAuth, OutstandingTokensAndSessionsAreBounded) {
  Auth auth(8080);
  const std::string oldest = auth.mint_login();
  for (size_t i = 0; i < Auth::kMaxLogins; ++i) auth.mint_login();
  EXPECT_FALSE(auth.redeem(oldest)) << "pushed out by newer ones";
  const std::optional<Session> first = auth.redeem(auth.mint_login());
  ASSERT_TRUE(first);
  for (size_t i = 0; i < Auth::kMaxSessions; ++i) ASSERT_TRUE(auth.redeem(auth.mint_login()));
  EXPECT_FALSE(auth.session("ticketctl_dashboard=" + first->id));
}

TEST(DashboardAuth, OnlyTheLoopbackListenerIsAValidHost) {
  Auth auth(8080);
  EXPECT_TRUE(auth.host_allowed("127.0.0.1:8080"));
  EXPECT_TRUE(auth.host_allowed("localhost:8080"));
  EXPECT_FALSE(auth.host_allowed("127.0.0.1:8081"));
  EXPECT_FALSE(auth.host_allowed("evil.example:8080"));
  EXPECT_FALSE(auth.host_allowed(""));
}

TEST(DashboardAuth, AChangeNeedsTheCsrfTokenAndTheSameOrigin) {
  Auth auth(8080);
  const Session s = *auth.redeem(auth.mint_login());
  EXPECT_EQ(auth.refuse_change(allowed(s), s), "");
  RequestHeaders h = allowed(s);
  h.sec_fetch_site = "";  // older browsers do not send it; Origin and the token still decide
  EXPECT_EQ(auth.refuse_change(h, s), "");
  h = allowed(s);
  h.csrf = "";
  EXPECT_NE(auth.refuse_change(h, s).find("no X-CSRF-Token"), std::string::npos);
  h = allowed(s);
  h.csrf = s.id;
  EXPECT_NE(auth.refuse_change(h, s).find("wrong"), std::string::npos);
  h = allowed(s);
  h.origin = "http://evil.example";
  EXPECT_NE(auth.refuse_change(h, s).find("another origin"), std::string::npos);
  h = allowed(s);
  h.origin = "null";  // a sandboxed frame or a data: page
  EXPECT_NE(auth.refuse_change(h, s), "");
  h = allowed(s);
  h.sec_fetch_site = "cross-site";
  EXPECT_NE(auth.refuse_change(h, s).find("cross-site"), std::string::npos);
  h = allowed(s);
  h.origin = "";
  EXPECT_NE(auth.refuse_change(h, s).find("no Origin"), std::string::npos);
}

TEST(DashboardAuth, CookieValuesAndSecretsCompare) {
  EXPECT_EQ(cookie_value("a=1; b=2", "b"), "2");
  EXPECT_EQ(cookie_value("ab=1; b=2", "a"), "");
  EXPECT_EQ(cookie_value("", "a"), "");
  EXPECT_TRUE(same_secret("abc", "abc"));
  EXPECT_FALSE(same_secret("abc", "abd"));
  EXPECT_FALSE(same_secret("", ""));
}

}  // namespace
}  // namespace ticketctl::dashboard
