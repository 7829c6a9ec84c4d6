// The course's blog app (examples/blog: six Node services and a page) run by the built ticketctl
// binary, driven the way its user drives it: `ticketctl up -d` in a temporary state directory,
// HTTP through the built-in ingress with the Ingress rule's host (posts.com), `get`, `delete`,
// `scale` and `logs`, then `down` — after which no process of a pod and no listening socket of
// the app may remain. A second test drives the page in Debian's headless chromium
// (tests/e2e/browser/blog.mjs, playwright-core); two more tap the event bus and the query
// Service (`ticketctl tap`).

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/support/background.h"
#include "tests/support/eventually.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Result;

const fs::path kSourceDir = TICKETCTL_SOURCE_DIR;
const fs::path kBlogDir = kSourceDir / "examples/blog";
const fs::path kBrowserDir = kSourceDir / "tests/e2e/browser";
const fs::path kChromium = "/usr/bin/chromium";

// These tests' patience: how long a condition may take to hold (the polling is shared).
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  return testing::eventually(condition, limit);
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
  return false;
}

// One JSON value per line (`ticketctl tap -o json`); a line that is not JSON is a discarded value.
std::vector<json> json_lines(const std::string& text) {
  std::vector<json> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    values.push_back(json::parse(line, nullptr, false));
  return values;
}

// Runs any program (node, for the browser test) with output in files, as process.h runs ticketctl.
Result run_program(std::vector<std::string> args, const fs::path& cwd, const fs::path& scratch) {
  const fs::path out = scratch / "program.out", err = scratch / "program.err";
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(::open("/dev/null", O_RDONLY), 0);
    ::dup2(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
    ::dup2(::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  Result r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  r.out = testing::slurp(out);
  r.err = testing::slurp(err);
  return r;
}

// --- processes and sockets, as /proc shows them ---

struct ProcessStat {
  char state = '?';
  pid_t pgrp = 0;
  unsigned long long start_time = 0;  // clock ticks after boot: tells a reused pid apart
};

std::optional<ProcessStat> process_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // The command name is in parentheses and may hold spaces; the fields after it are plain.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  ProcessStat stat;
  std::string skip;
  pid_t ppid = 0;
  fields >> stat.state >> ppid >> stat.pgrp;
  for (int field = 6; field < 22; ++field) fields >> skip;  // session … itrealvalue
  fields >> stat.start_time;
  return stat;
}

struct Process {
  pid_t pid = 0;
  unsigned long long start_time = 0;
  bool operator<(const Process& o) const {
    return std::tie(pid, start_time) < std::tie(o.pid, o.start_time);
  }
};

// Still running: the same process (pid and start time), not a zombie waiting for its reaper.
bool running(const Process& p) {
  const auto stat = process_stat(p.pid);
  return stat && stat->start_time == p.start_time && stat->state != 'Z';
}

// Every process in the given process groups (a pod is one group: npm → sh → node).
std::set<Process> processes_in_groups(const std::set<pid_t>& groups) {
  std::set<Process> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (const auto stat = process_stat(pid); stat && groups.count(stat->pgrp))
      found.insert({pid, stat->start_time});
  }
  return found;
}

struct Listener {
  std::string address;  // dotted quad (IPv4-mapped IPv6 sockets are shown as their IPv4)
  int port = 0;
  unsigned long inode = 0;
  bool operator<(const Listener& o) const {
    return std::tie(address, port) < std::tie(o.address, o.port);
  }
};

std::ostream& operator<<(std::ostream& os, const Listener& l) {
  return os << l.address << ":" << l.port;
}

// /proc/net/tcp prints an IPv4 address as the hex of its 32-bit word in host (little-endian)
// order; tcp6 prints four such words, ::ffff:a.b.c.d being 0,0,0xffff0000,<a.b.c.d>.
std::string ipv4_from_proc(const std::string& hex) {
  const unsigned long word = std::stoul(hex, nullptr, 16);
  return std::to_string(word & 0xff) + "." + std::to_string((word >> 8) & 0xff) + "." +
         std::to_string((word >> 16) & 0xff) + "." + std::to_string((word >> 24) & 0xff);
}

std::vector<Listener> listening_sockets() {
  std::vector<Listener> found;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
      unsigned long inode = 0;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      if (state != "0A") continue;  // TCP_LISTEN
      const auto colon = local.find(':');
      std::string address = local.substr(0, colon);
      if (address.size() == 32) {
        if (address.compare(0, 24, "0000000000000000FFFF0000") != 0) continue;  // real IPv6
        address = address.substr(24);
      }
      found.push_back(
          {ipv4_from_proc(address), std::stoi(local.substr(colon + 1), nullptr, 16), inode});
    }
  }
  return found;
}

// Socket inodes a process holds open.
std::set<unsigned long> socket_inodes(pid_t pid) {
  std::set<unsigned long> inodes;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = fs::read_symlink(fd.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) inodes.insert(std::stoul(target.substr(8)));
  }
  return inodes;
}

// --- the fixture: one blog app per test, in its own state directory ---

class BlogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!on_path("node") || !on_path("npm"))
      GTEST_SKIP() << "node and npm are needed on PATH to run the blog app's services "
                      "(./setup.sh test installs them)";
  }
  void TearDown() override {
    if (started_) run({"down"});
  }

  Result run(std::vector<std::string> args) {
    args.push_back("--state-dir");
    args.push_back(state_.string());
    // The blog's own directory: ticketctl.yaml and skaffold.yaml there say what runs. Nothing is
    // written there; the state (logs, pid files, store) goes to the temporary state directory.
    return testing::ticketctl(std::move(args), "", kBlogDir.string());
  }

  void up() {
    started_ = true;
    const Result r = run({"up", "-d", "--timeout", "60s"});
    ASSERT_EQ(r.status, 0) << r.out << r.err << diagnostics();
    ASSERT_NE(r.out.find("Deployments stabilized"), std::string::npos) << r.out;
    const json ingress = json::parse(testing::slurp(state_ / "ingress.json"));
    http_port_ = ingress.at("http").get<int>();
    https_port_ = ingress.at("https").get<int>();
    ASSERT_GT(http_port_, 0);
  }

  // What a failure message needs: the pods, the events, the end of the control plane's log.
  std::string diagnostics() {
    std::string log = testing::slurp(state_ / "controlplane.log");
    if (log.size() > 4000) log = "…" + log.substr(log.size() - 4000);
    return "\n--- pods\n" + run({"get", "pods", "-o", "wide"}).out + "--- events\n" +
           run({"get", "events"}).out + "--- controlplane.log\n" + log;
  }

  httplib::Result http(const std::string& method, const std::string& path,
                       const json& body = nullptr) {
    httplib::Client client("127.0.0.1", http_port_);
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    const httplib::Headers headers = {{"Host", "posts.com"}};
    if (method == "POST")
      return client.Post(path.c_str(), headers, body.dump(), "application/json");
    return client.Get(path.c_str(), headers);
  }

  // POSTs and expects 201 with a JSON body.
  json create(const std::string& path, const json& body) {
    const auto res = http("POST", path, body);
    if (!res) {
      ADD_FAILURE() << "POST " << path << ": " << httplib::to_string(res.error());
      return nullptr;
    }
    EXPECT_EQ(res->status, 201) << "POST " << path << ": " << res->body;
    return json::parse(res->body, nullptr, false);
  }

  // GET /posts through the ingress (the query service's joined view); null while it cannot answer.
  json posts_view() {
    const auto res = http("GET", "/posts");
    if (!res || res->status != 200) return nullptr;
    json view = json::parse(res->body, nullptr, false);
    return view.is_discarded() ? json(nullptr) : view;
  }

  // content → status of a post's comments in the query view.
  std::map<std::string, std::string> comment_statuses(const json& view, const std::string& post) {
    std::map<std::string, std::string> statuses;
    if (!view.is_object() || !view.contains(post)) return statuses;
    for (const auto& c : view[post].value("comments", json::array()))
      statuses[c.value("content", "")] = c.value("status", "");
    return statuses;
  }

  // name → Ready condition of the pods matching a selector.
  std::map<std::string, std::string> pods(const std::string& selector) {
    const Result r = run({"get", "pods", "-l", selector, "-o",
                          "jsonpath={range .items[*]}{.metadata.name} "
                          "{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"});
    std::map<std::string, std::string> ready;
    std::istringstream lines(r.out);
    for (std::string name, status; lines >> name >> status;) ready[name] = status;
    return ready;
  }

  bool all_ready(const std::map<std::string, std::string>& pods, size_t count) {
    if (pods.size() != count) return false;
    for (const auto& [name, ready] : pods)
      if (ready != "True") return false;
    return true;
  }

  std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }

  ticketctl::testing::TempDir tmp_{"ticketctl-e2e"};
  const fs::path state_ = tmp_.path() / "state";
  bool started_ = false;
  int http_port_ = 0, https_port_ = 0;
};

TEST_F(BlogTest, PostsAndModeratedCommentsSurviveAReplacedQueryPodAndScalingThenDownLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(up());

  // The page (client) answers every other path.
  const auto page = http("GET", "/");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("id=\"post-title\""), std::string::npos) << page->body;

  // A post (posts service) and two comments (comments service); moderation rejects "orange".
  const json post = create("/posts/create", {{"title", "End to end"}});
  ASSERT_TRUE(post.is_object() && post.contains("id")) << post;
  const std::string id = post["id"];
  EXPECT_EQ(post["title"], "End to end");
  create("/posts/" + id + "/comments", {{"content", "nice post"}});
  create("/posts/" + id + "/comments", {{"content", "I prefer orange juice"}});

  // The query service joins it all from the event bus.
  const std::map<std::string, std::string> moderated = {{"nice post", "approved"},
                                                        {"I prefer orange juice", "rejected"}};
  json view;
  ASSERT_TRUE(eventually([&] {
    view = posts_view();
    return comment_statuses(view, id) == moderated;
  })) << "GET /posts: "
      << view.dump() << diagnostics();
  EXPECT_EQ(view[id]["title"], "End to end");

  // A replaced query pod (a new name) rebuilds the same view by replaying the event bus.
  const auto old_query = pods("app=query");
  ASSERT_EQ(old_query.size(), 1u) << diagnostics();
  const std::string old_name = old_query.begin()->first;
  const Result deleted = run({"delete", "pod", old_name});
  ASSERT_EQ(deleted.status, 0) << deleted.out << deleted.err;
  std::string new_name;
  ASSERT_TRUE(eventually([&] {
    const auto now = pods("app=query");
    if (!all_ready(now, 1) || now.count(old_name)) return false;
    new_name = now.begin()->first;
    return true;
  })) << diagnostics();
  json replayed;
  EXPECT_TRUE(eventually([&] {
    replayed = posts_view();
    return replayed == view;
  })) << "after replacing "
      << old_name << " by " << new_name << ": " << replayed.dump() << "\n"
      << "expected: " << view.dump() << diagnostics();
  const Result query_log = run({"logs", new_name});
  EXPECT_NE(query_log.out.find("from event-bus"), std::string::npos) << query_log.out;

  // Three comments pods. The comments service keeps its data in memory per pod (as in the
  // course), and a POST answers with the comments that pod holds for the post: on a fresh post,
  // the first comment each pod took tells the pods apart.
  const Result scaled = run({"scale", "deploy/comments-depl", "--replicas", "3"});
  ASSERT_EQ(scaled.status, 0) << scaled.out << scaled.err;
  std::map<std::string, std::string> comments_pods;
  ASSERT_TRUE(eventually([&] {
    comments_pods = pods("app=comments");
    return all_ready(comments_pods, 3);
  })) << diagnostics();

  const json second = create("/posts/create", {{"title", "Scaled"}});
  ASSERT_TRUE(second.is_object() && second.contains("id")) << second;
  const std::string second_id = second["id"];
  std::set<std::string> serving_pods;  // first comment id that each answering pod holds
  std::vector<std::string> sent;
  // Until three different pods have answered: the ingress spreads requests over ready endpoints.
  for (int i = 0; i < 30 && serving_pods.size() < 3; ++i) {
    sent.push_back("comment " + std::to_string(i));
    const json held = create("/posts/" + second_id + "/comments", {{"content", sent.back()}});
    ASSERT_TRUE(held.is_array() && !held.empty()) << held;
    serving_pods.insert(held[0].value("id", ""));
  }
  EXPECT_EQ(serving_pods.size(), 3u) << sent.size() << " comments reached fewer than 3 pods";
  // Every new comment reaches the query view. (Its moderation is applied only when the bus's
  // CommentModerated lands on the pod that holds the comment — the course app's in-memory state —
  // so only the ones the first pods took are certain to be approved; the status is not checked.)
  json scaled_view;
  EXPECT_TRUE(eventually([&] {
    scaled_view = posts_view();
    return comment_statuses(scaled_view, second_id).size() == sent.size();
  })) << scaled_view.dump();

  // Each comments pod logs the events the bus sends to comments-srv. Which pod gets them depends
  // on the bus's keep-alive connections to the Service, so only their sum is asserted.
  const Result comment_logs = run({"logs", "-l", "app=comments", "--prefix", "--tail", "-1"});
  EXPECT_EQ(comment_logs.status, 0) << comment_logs.err;
  std::map<std::string, int> events_per_pod;
  for (const auto& [name, ready] : comments_pods) {
    const std::string prefix = "[pod/" + name + "/comments] Received Event";
    for (size_t at = comment_logs.out.find(prefix); at != std::string::npos;
         at = comment_logs.out.find(prefix, at + 1))
      ++events_per_pod[name];
  }
  int events = 0;
  std::string spread;
  for (const auto& [name, ready] : comments_pods) {
    events += events_per_pod[name];
    spread += " " + name + "=" + std::to_string(events_per_pod[name]);
  }
  RecordProperty("received_events_per_comments_pod", spread);
  EXPECT_GT(events, 0) << comment_logs.out;

  // What `down` must leave nothing of: every process of every pod (npm, sh, node — all in the
  // pod's process group) and every listening socket of the pods, the Services and the ingress.
  std::set<pid_t> groups;
  for (const auto& entry : fs::recursive_directory_iterator(state_ / "pods")) {
    if (entry.path().filename() != "pid") continue;
    pid_t pid = 0;
    unsigned long long start_time = 0;
    std::ifstream(entry.path()) >> pid >> start_time;
    ASSERT_TRUE(running({pid, start_time})) << entry.path();
    groups.insert(pid);
  }
  EXPECT_EQ(groups.size(), 8u);  // 6 deployments, comments at 3 replicas
  const std::set<Process> pod_processes = processes_in_groups(groups);
  EXPECT_GE(pod_processes.size(), 2 * groups.size());  // at least npm and node in each pod

  const json apiserver = json::parse(testing::slurp(state_ / "apiserver.json"));
  std::set<unsigned long> inodes = socket_inodes(apiserver.at("pid").get<pid_t>());
  for (const auto& p : pod_processes) inodes.merge(socket_inodes(p.pid));
  std::set<Listener> app_listeners;
  for (const auto& l : listening_sockets())
    if (inodes.count(l.inode)) app_listeners.insert(l);
  std::set<std::string> addresses;
  for (const auto& l : app_listeners) addresses.insert(l.address);
  const auto listens = [&](const std::string& address, int port) {
    return app_listeners.count({address, port, 0}) > 0;
  };
  EXPECT_TRUE(listens("127.0.0.1", http_port_));
  EXPECT_TRUE(listens("127.0.0.1", https_port_));
  for (const std::string& ip :
       words(run({"get", "pods", "-o", "jsonpath={.items[*].status.podIP}"}).out))
    EXPECT_TRUE(addresses.count(ip)) << "nothing listens on pod IP " << ip;
  const std::string comments_ip =
      run({"get", "svc", "comments-srv", "-o", "jsonpath={.spec.clusterIP}"}).out;
  EXPECT_TRUE(listens(comments_ip, 4001)) << "no Service relay on " << comments_ip << ":4001";

  RecordProperty("pod_processes_before_down", static_cast<int>(pod_processes.size()));
  RecordProperty("listeners_before_down", static_cast<int>(app_listeners.size()));
  const Result down = run({"down"});
  ASSERT_EQ(down.status, 0) << down.out << down.err;
  started_ = false;
  for (const auto& p : pod_processes) {
    std::string cmdline = testing::slurp("/proc/" + std::to_string(p.pid) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    EXPECT_FALSE(running(p)) << "pid " << p.pid << " still runs after down: " << cmdline;
  }
  std::set<Listener> left;
  for (const auto& l : listening_sockets())
    if (app_listeners.count(l)) left.insert(l);
  for (const auto& l : left) ADD_FAILURE() << "still listening after down: " << l;
}

// The traffic tap between services (issue 19): `ticketctl tap deploy/event-bus-depl --body
// -o json` sees a post's PostCreated published by posts and delivered to the four services,
// which cross the observing relay only while the tap runs.
TEST_F(BlogTest, TheEventBusTapSeesAPostsPublishAndItsFourDeliveries) {
  ASSERT_NO_FATAL_FAILURE(up());
  testing::Background tap(
      testing::ticketctl_argv({"tap", "deploy/event-bus-depl", "--body", "-o", "json", "--max", "5",
                               "--state-dir", state_.string()}),
      tmp_.path() / "tap.out");
  ASSERT_TRUE(eventually([&] { return tap.err().find("tapping ") != std::string::npos; }))
      << tap.err();
  // Pods' connects go through the relay once the table names the event bus's pod.
  ASSERT_TRUE(eventually([&] {
    return testing::slurp(state_ / "net" / "table").find("tapped ") != std::string::npos;
  }));
  ASSERT_TRUE(create("/posts/create", {{"title", "Tapped"}}).is_object());
  ASSERT_EQ(tap.wait(std::chrono::seconds(30)), 0) << tap.out() << tap.err();
  const std::vector<json> seen = json_lines(tap.out());
  ASSERT_EQ(seen.size(), 5u) << tap.out();
  int publishes = 0;
  std::set<std::string> delivered_to;
  for (const json& e : seen) {
    ASSERT_TRUE(e.is_object()) << tap.out();
    EXPECT_EQ(e.value("via", ""), "relay") << e;
    EXPECT_EQ(e.value("method", ""), "POST") << e;
    EXPECT_EQ(e.value("path", ""), "/events") << e;
    EXPECT_EQ(e.value("status", 0), 200) << e;
    EXPECT_NE(e.value("requestBody", "").find("PostCreated"), std::string::npos) << e;
    if (e["destination"].value("workload", "") == "default/event-bus-depl") {
      ++publishes;
      EXPECT_EQ(e["source"].value("workload", ""), "default/posts-depl") << e;
    } else {
      EXPECT_EQ(e["source"].value("workload", ""), "default/event-bus-depl") << e;
      delivered_to.insert(e["destination"].value("service", ""));
    }
  }
  EXPECT_EQ(publishes, 1);
  EXPECT_EQ(delivered_to.size(), 4u) << tap.out();
}

// `ticketctl tap svc/query-srv` sees only what reaches query: of a post's six requests (the
// ingress to posts, posts to the event bus, the event bus to four services) the one delivery to
// query, then the page's GET /posts through the ingress; nothing sent to the other services.
TEST_F(BlogTest, TheQueryServiceTapSeesOnlyWhatReachesQuery) {
  ASSERT_NO_FATAL_FAILURE(up());
  const std::string query_ip =
      run({"get", "svc", "query-srv", "-o", "jsonpath={.spec.clusterIP}"}).out;
  ASSERT_FALSE(query_ip.empty());
  testing::Background tap(testing::ticketctl_argv({"tap", "svc/query-srv", "-o", "json", "--max",
                                                   "2", "--state-dir", state_.string()}),
                          tmp_.path() / "tap.out");
  ASSERT_TRUE(eventually([&] { return tap.err().find("tapping ") != std::string::npos; }))
      << tap.err();
  // The Service leaves the pods' balancing (no `backends` line), so its clients reach the relay.
  ASSERT_TRUE(eventually([&] {
    return testing::slurp(state_ / "net" / "table").find("backends " + query_ip) ==
           std::string::npos;
  }));
  const json post = create("/posts/create", {{"title", "Queried"}});
  ASSERT_TRUE(post.is_object());
  // Query has the post once the event bus delivered it; then one GET /posts, the second exchange.
  ASSERT_TRUE(eventually([&] { return tap.out().find("\n") != std::string::npos; })) << tap.err();
  const json view = posts_view();
  EXPECT_TRUE(view.is_object() && view.contains(post.value("id", ""))) << view;
  ASSERT_EQ(tap.wait(std::chrono::seconds(30)), 0) << tap.out() << tap.err();
  const std::vector<json> seen = json_lines(tap.out());
  ASSERT_EQ(seen.size(), 2u) << tap.out();
  for (const json& e : seen) {
    ASSERT_TRUE(e.is_object()) << tap.out();
    EXPECT_EQ(e["destination"].value("service", ""), "default/query-srv") << e;
    EXPECT_EQ(e.value("status", 0), 200) << e;
  }
  EXPECT_EQ(seen[0].value("via", ""), "relay") << seen[0];
  EXPECT_EQ(seen[0]["source"].value("workload", ""), "default/event-bus-depl") << seen[0];
  EXPECT_EQ(seen[0].value("method", "") + " " + seen[0].value("path", ""), "POST /events");
  EXPECT_EQ(seen[1].value("via", ""), "ingress") << seen[1];
  EXPECT_EQ(seen[1].value("method", "") + " " + seen[1].value("path", ""), "GET /posts");
}

TEST_F(BlogTest, TheClientPageCreatesAPostAndAModeratedCommentInABrowser) {
  if (!fs::exists(kChromium))
    GTEST_SKIP() << kChromium.string() << " is missing: the browser test runs Debian's chromium "
                 << "(apt-get install chromium, or ./setup.sh test)";
  if (!fs::exists(kBrowserDir / "node_modules/playwright-core"))
    GTEST_SKIP() << "playwright-core is not installed: run `npm ci` in " << kBrowserDir.string()
                 << " (./setup.sh test does)";
  ASSERT_NO_FATAL_FAILURE(up());

  // chromium maps posts.com to 127.0.0.1 itself (blog.mjs), so the Host is the Ingress rule's.
  const fs::path screenshot = fs::path(TICKETCTL_ARTIFACT_DIR) / "blog.png";
  fs::remove(screenshot);
  const Result browser = run_program(
      {"node", (kBrowserDir / "blog.mjs").string(), "--url",
       "http://posts.com:" + std::to_string(http_port_) + "/", "--screenshot", screenshot.string()},
      kBrowserDir, tmp_.path());
  EXPECT_EQ(browser.status, 0) << browser.out << browser.err << diagnostics();
  EXPECT_TRUE(fs::exists(screenshot)) << browser.out << browser.err;
  RecordProperty("screenshot", screenshot.string());
}

// `ticketctl dashboard` in chromium (tests/e2e/browser/dashboard.mjs): refused without the token,
// six pods Running, a pod deleted in the UI replaced within 2 s, comments scaled to 3, a log line
// written after the page loaded found by the search, a post's six requests in the Traffic view, a
// cross-site POST refused. Prints the first load time and the control plane's RSS before, with
// the page open, and with the page's tap active.
TEST_F(BlogTest, TheDashboardShowsTheAppAndItsActionsWorkInABrowser) {
  if (!fs::exists(kChromium))
    GTEST_SKIP() << kChromium.string() << " is missing: the browser test runs Debian's chromium "
                 << "(apt-get install chromium, or ./setup.sh test)";
  if (!fs::exists(kBrowserDir / "node_modules/playwright-core"))
    GTEST_SKIP() << "playwright-core is not installed: run `npm ci` in " << kBrowserDir.string()
                 << " (./setup.sh test does)";
  ASSERT_NO_FATAL_FAILURE(up());
  const pid_t control_plane = json::parse(testing::slurp(state_ / "apiserver.json")).at("pid");
  const auto rss_kib = [control_plane] {
    std::ifstream status("/proc/" + std::to_string(control_plane) + "/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0L;
  };
  const long rss_before = rss_kib();
  const Result link = run({"dashboard"});
  ASSERT_EQ(link.status, 0) << link.out << link.err;
  const std::string url = link.out.substr(0, link.out.find('\n'));
  const fs::path artifacts = fs::path(TICKETCTL_ARTIFACT_DIR);
  const Result browser =
      run_program({"node", (kBrowserDir / "dashboard.mjs").string(), "--url", url, "--ingress",
                   "http://127.0.0.1:" + std::to_string(http_port_), "--artifacts",
                   artifacts.string(), "--pid", std::to_string(control_plane)},
                  kBrowserDir, tmp_.path());
  EXPECT_EQ(browser.status, 0) << browser.out << browser.err << diagnostics();
  std::cout << browser.out;
  std::cout << "control plane RSS: " << rss_before << " KiB before the dashboard, " << rss_kib()
            << " KiB after the browser test\n";
  // The cross-site POST asked for 0 replicas; the dashboard's own scale to 3 stands.
  EXPECT_EQ(run({"get", "deploy/comments-depl", "-o", "jsonpath={.spec.replicas}"}).out, "3");
  EXPECT_TRUE(fs::exists(artifacts / "dashboard-pods.png")) << browser.out;
  RecordProperty("screenshots", artifacts.string());
}

}  // namespace
}  // namespace ticketctl
