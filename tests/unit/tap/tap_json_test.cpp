// The tap stream's objects as `ticketctl tap -o json`, the dashboard and scripts read them:
// secrets masked unless asked, bodies only when asked, any bytes still valid JSON; and the
// query that opens a stream refused with a message naming what is wrong.

#include "runtime/tap/tap_json.h"

#include <gtest/gtest.h>

namespace ticketctl::tap {
namespace {

Exchange sample() {
  Exchange e;
  e.seq = 7;
  e.time = std::chrono::system_clock::time_point(std::chrono::microseconds(1'780'000'000'123'456));
  e.via = Exchange::Via::Ingress;
  e.source = {"127.0.0.1", 50123, "", "", ""};
  e.destination = {"127.80.0.5", 4000, "default/posts-depl-6d5f8-x2k9q", "default/posts-depl",
                   "default/posts-clusterip-srv"};
  e.method = "POST";
  e.host = "posts.com";
  e.path = "/posts/create";
  e.status = 201;
  e.latency_ms = 3.25;
  e.request_bytes = 57;
  e.response_bytes = 112;
  e.request_headers = {{"Content-Type", "application/json"},
                       {"Authorization", "Bearer abc"},
                       {"cookie", "session=xyz"}};
  e.response_headers = {{"Set-Cookie", "session=new"}, {"Content-Length", "12"}};
  e.request_body = R"({"title":"hello"})";
  e.response_body = R"({"id":"1"})";
  return e;
}

std::string header(const Json& headers, std::string_view name) {
  for (const Json& h : headers)
    if (h["name"] == name) return h["value"];
  return "(absent)";
}

TEST(TapJson, NamesEveryFieldOfTheExchange) {
  const Json o = exchange_json(sample(), false, false);
  EXPECT_EQ(o["time"], "2026-05-28T20:26:40.123456Z");
  EXPECT_EQ(o["via"], "ingress");
  EXPECT_EQ(o["kind"], "http");
  EXPECT_EQ(o["source"]["ip"], "127.0.0.1");
  EXPECT_EQ(o["source"]["port"], 50123);
  EXPECT_EQ(o["destination"]["pod"], "default/posts-depl-6d5f8-x2k9q");
  EXPECT_EQ(o["destination"]["workload"], "default/posts-depl");
  EXPECT_EQ(o["destination"]["service"], "default/posts-clusterip-srv");
  EXPECT_EQ(o["method"], "POST");
  EXPECT_EQ(o["host"], "posts.com");
  EXPECT_EQ(o["path"], "/posts/create");
  EXPECT_EQ(o["status"], 201);
  EXPECT_DOUBLE_EQ(o["latencyMs"].get<double>(), 3.25);
  EXPECT_EQ(o["requestBytes"], 57);
  EXPECT_EQ(o["responseBytes"], 112);
  EXPECT_EQ(header(o["requestHeaders"], "Content-Type"), "application/json");
}

TEST(TapJson, MasksSecretsUnlessAsked) {
  const Json masked = exchange_json(sample(), false, false);
  EXPECT_EQ(header(masked["requestHeaders"], "Authorization"), "***");
  EXPECT_EQ(header(masked["requestHeaders"], "cookie"), "***");
  EXPECT_EQ(header(masked["responseHeaders"], "Set-Cookie"), "***");
  EXPECT_EQ(header(masked["responseHeaders"], "Content-Length"), "12");
  const Json shown = exchange_json(sample(), false, true);
  EXPECT_EQ(header(shown["requestHeaders"], "Authorization"), "Bearer abc");
  EXPECT_EQ(header(shown["responseHeaders"], "Set-Cookie"), "session=new");
}

TEST(TapJson, BodiesOnlyWhenAskedAndCutToAKiB) {
  EXPECT_FALSE(exchange_json(sample(), false, false).contains("requestBody"));
  EXPECT_FALSE(exchange_json(sample(), false, false).contains("responseBody"));
  Exchange big = sample();
  big.response_body = std::string(5000, 'x');
  const Json o = exchange_json(big, true, false);
  EXPECT_EQ(o["requestBody"], R"({"title":"hello"})");
  EXPECT_EQ(o["responseBody"].get<std::string>().size(), kBodyLimit);
}

TEST(TapJson, BytesThatAreNotUtf8StillMakeOneLineOfValidJson) {
  Exchange e = sample();
  e.request_body = std::string("\x89PNG\r\n\x1a\n\xff\xfe", 10);
  e.response_body = "caf\xc3";  // cut inside a character, as a 1 KiB cut may
  e.request_headers.emplace_back("X-Odd", "\xe9t\xe9");
  const std::string line = exchange_line(e, true, false);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line
  const Json parsed = Json::parse(line, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << line;
  EXPECT_EQ(parsed["type"], "EXCHANGE");
  const std::string body = parsed["object"]["requestBody"];
  EXPECT_NE(body.find("PNG"), std::string::npos);
  EXPECT_NE(body.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD for the bad bytes
  EXPECT_EQ(parsed["object"]["responseBody"], "caf\xef\xbf\xbd");
}

TEST(TapJson, DroppedAndSubscribedLines) {
  const Json dropped = Json::parse(dropped_line(12));
  EXPECT_EQ(dropped["type"], "DROPPED");
  EXPECT_EQ(dropped["object"]["count"], 12);
  Query q{Target{Target::Kind::Service, "default", "query-srv"}, true, false};
  const Json subscribed = Json::parse(subscribed_line(q));
  EXPECT_EQ(subscribed["type"], "SUBSCRIBED");
  EXPECT_EQ(subscribed["object"]["target"], "svc/default/query-srv");
  EXPECT_EQ(subscribed["object"]["bodies"], true);
}

TEST(TapQuery, TakesTargetsAndBooleans) {
  Result<Query> q = parse_query("svc/query-srv", "blog", "true", "");
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q.value().target, (Target{Target::Kind::Service, "blog", "query-srv"}));
  EXPECT_TRUE(q.value().bodies);
  EXPECT_FALSE(q.value().show_secrets);
  EXPECT_EQ(parse_query("", "", "", "1").value().target.kind, Target::Kind::All);
  EXPECT_TRUE(parse_query("", "", "", "1").value().show_secrets);
  EXPECT_EQ(parse_query("ingress", "", "0", "false").value().target.kind, Target::Kind::Ingress);
}

TEST(TapQuery, RefusesWithAMessageNamingWhatIsWrong) {
  const auto message = [](Result<Query> r) {
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_NE(message(parse_query("svc/Bad_Name", "default", "", "")).find("svc/Bad_Name"),
            std::string::npos);
  EXPECT_NE(message(parse_query("queue/x", "default", "", "")).find("unknown kind \"queue\""),
            std::string::npos);
  EXPECT_NE(message(parse_query("posts", "default", "", "")).find("\"posts\""), std::string::npos);
  EXPECT_NE(message(parse_query("", "default", "yes", "")).find("bodies=\"yes\""),
            std::string::npos);
  EXPECT_NE(message(parse_query("", "default", "", "maybe")).find("showSecrets"),
            std::string::npos);
  // On the cluster-wide path an object needs a namespace: the namespaced path says so.
  EXPECT_NE(message(parse_query("svc/x", "", "", "")).find("/namespaces/NS/tap"),
            std::string::npos);
  EXPECT_NE(message(parse_query("svc/x", "Not_A_Namespace", "", "")).find("Not_A_Namespace"),
            std::string::npos);
}

}  // namespace
}  // namespace ticketctl::tap
