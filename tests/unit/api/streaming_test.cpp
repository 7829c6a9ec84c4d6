// The streaming subresources' requests and statuses, without sockets.

#include "runtime/api/streaming.h"

#include <gtest/gtest.h>

namespace ticketctl::api {
namespace {

TEST(Streaming, MatchesThePodSubresourcesAndDecodesTheQuery) {
  std::optional<StreamTarget> t = match_stream_target(
      "/api/v1/namespaces/default/pods/web-1/exec?command=node&command=-e&command="
      "console.log%281%29%3B+process.exit%283%29&container=web&stdout=true&stderr=true");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->verb, StreamVerb::Exec);
  EXPECT_EQ(t->ns, "default");
  EXPECT_EQ(t->pod, "web-1");
  Result<ExecOptions> o = parse_exec_options(*t);
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o.value().command,
            (std::vector<std::string>{"node", "-e", "console.log(1); process.exit(3)"}));
  EXPECT_EQ(o.value().container, "web");
  EXPECT_TRUE(o.value().use_stdout);
  EXPECT_FALSE(o.value().use_stdin);

  EXPECT_EQ(match_stream_target("/api/v1/namespaces/x/pods/p/portforward")->verb,
            StreamVerb::PortForward);
  EXPECT_EQ(match_stream_target("/api/v1/namespaces/x/pods/p/attach?stdout=1")->verb,
            StreamVerb::Attach);
  EXPECT_FALSE(match_stream_target("/api/v1/namespaces/x/pods/p/log"));
  EXPECT_FALSE(match_stream_target("/api/v1/namespaces/x/pods/p"));
  EXPECT_FALSE(match_stream_target("/api/v1/namespaces/x/services/p/exec"));
  EXPECT_FALSE(match_stream_target("/apis/apps/v1/namespaces/x/pods/p/exec"));
}

TEST(Streaming, RefusesRequestsThatAskForNothing) {
  StreamTarget t = *match_stream_target("/api/v1/namespaces/d/pods/p/exec?stdout=true");
  EXPECT_EQ(parse_exec_options(t).error().message, "you must specify at least 1 command");
  t = *match_stream_target("/api/v1/namespaces/d/pods/p/exec?command=ls");
  EXPECT_NE(parse_exec_options(t).error().message.find("at least 1 of stdin"), std::string::npos);
  t = *match_stream_target("/api/v1/namespaces/d/pods/p/exec?command=ls&stdout=maybe");
  EXPECT_NE(parse_exec_options(t).error().message.find("stdout"), std::string::npos);
}

TEST(Streaming, ExitStatusIsWhatClientGoDecodes) {
  EXPECT_EQ(exit_status_json(0, {"true"}).value("status", ""), "Success");
  const Json failed = exit_status_json(3, {"sh", "-c", "exit 3"});
  EXPECT_EQ(failed.value("status", ""), "Failure");
  EXPECT_EQ(failed.value("reason", ""), "NonZeroExitCode");
  EXPECT_EQ(failed["details"]["causes"][0]["reason"], "ExitCode");
  EXPECT_EQ(failed["details"]["causes"][0]["message"], "3");
}

}  // namespace
}  // namespace ticketctl::api
