#include "runtime/ingress/router.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

namespace ticketctl::ingress {
namespace {

// YAML → Kubernetes JSON the way the manifest loader types it: quoted scalars stay strings,
// plain integers and booleans become numbers and booleans.
Json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : n) out[kv.first.as<std::string>()] = to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& item : n) out.push_back(to_json(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "?") {
        if (s == "true" || s == "false") return s == "true";
        if (!s.empty() && s.find_first_not_of("-0123456789") == std::string::npos)
          return std::stoll(s);
      }
      return s;
    }
    default:
      return nullptr;
  }
}

std::vector<Json> parse_all(std::string_view yaml) {
  std::vector<Json> out;
  for (const YAML::Node& doc : YAML::LoadAll(std::string(yaml))) out.push_back(to_json(doc));
  return out;
}

struct Built {
  RouteTable table;
  std::vector<std::string> warnings;
};

Built build(std::string_view yaml) {
  Built b;
  b.table = RouteTable::build(parse_all(yaml), &b.warnings);
  return b;
}

// "service:port target", or "404" when nothing matches: compact enough for tables of cases.
std::string where(const RouteTable& t, std::string_view host, std::string_view target) {
  auto m = t.route(host, target);
  if (!m) return "404";
  return m->service + ":" + m->port + " " + m->target;
}

// An Ingress with one host and the given "pathType path service" lines (path "-": empty).
std::string ingress(std::string_view name, std::string_view host, std::vector<std::string> paths,
                    std::string_view annotations = "") {
  std::string y = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ";
  y += name;
  y += "\n";
  if (!annotations.empty()) {
    y += "  annotations:\n";
    y += annotations;
  }
  y += "spec:\n  rules:\n    - ";
  if (!host.empty()) y += "host: " + std::string(host) + "\n      ";
  y += "http:\n        paths:\n";
  for (const std::string& p : paths) {
    std::istringstream in(p);
    std::string type, path, service;
    in >> type >> path >> service;
    if (path == "-") path.clear();  // an Ingress path left empty
    y += "          - path: \"" + path + "\"\n            pathType: " + type +
         "\n            backend:\n              service:\n                name: " + service +
         "\n                port:\n                  number: 80\n";
  }
  return y;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------
// The course's blog Ingress, exactly as shipped in manifests/blog/ingress-srv.yaml.

class BlogIngress : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = read_file(TICKETCTL_SOURCE_DIR "/manifests/blog/ingress-srv.yaml");
    ASSERT_FALSE(text.empty());
    built_ = build(text);
  }
  const RouteTable& t() const { return built_.table; }
  Built built_;
};

TEST_F(BlogIngress, BuildsWithoutWarnings) {
  EXPECT_TRUE(built_.warnings.empty()) << built_.warnings.front();
  EXPECT_EQ(t().host_count(), 1u);
}

TEST_F(BlogIngress, CommentsGoToCommentsService) {
  EXPECT_EQ(where(t(), "posts.com", "/posts/abc/comments"),
            "comments-srv:4001 /posts/abc/comments");
  EXPECT_EQ(where(t(), "posts.com", "/posts/5f1c/comments?x=1"),
            "comments-srv:4001 /posts/5f1c/comments?x=1");
}

TEST_F(BlogIngress, PostsListGoesToQueryService) {
  EXPECT_EQ(where(t(), "posts.com", "/posts"), "query-srv:4002 /posts");
  // `^/posts` is a regex prefix: anything starting with /posts that no longer path takes.
  EXPECT_EQ(where(t(), "posts.com", "/posts/123"), "query-srv:4002 /posts/123");
  EXPECT_EQ(where(t(), "posts.com", "/postsxyz"), "query-srv:4002 /postsxyz");
}

TEST_F(BlogIngress, CreateGoesToPostsService) {
  EXPECT_EQ(where(t(), "posts.com", "/posts/create"), "posts-clusterip-srv:4000 /posts/create");
  EXPECT_EQ(where(t(), "posts.com", "/posts/create?draft=1"),
            "posts-clusterip-srv:4000 /posts/create?draft=1");
}

TEST_F(BlogIngress, EverythingElseGoesToClient) {
  EXPECT_EQ(where(t(), "posts.com", "/"), "client-srv:3000 /");
  EXPECT_EQ(where(t(), "posts.com", "/anything"), "client-srv:3000 /anything");
  EXPECT_EQ(where(t(), "posts.com", "/static/js/main.js"), "client-srv:3000 /static/js/main.js");
  EXPECT_EQ(where(t(), "posts.com", "/post"), "client-srv:3000 /post");
}

TEST_F(BlogIngress, RegexPathsAreCaseInsensitive) {
  EXPECT_EQ(where(t(), "posts.com", "/POSTS/CREATE"), "posts-clusterip-srv:4000 /POSTS/CREATE");
  EXPECT_EQ(where(t(), "posts.com", "/Posts/ABC/Comments"),
            "comments-srv:4001 /Posts/ABC/Comments");
}

TEST_F(BlogIngress, HostIsCaseInsensitiveAndPortIsIgnored) {
  EXPECT_EQ(where(t(), "POSTS.COM", "/posts"), "query-srv:4002 /posts");
  EXPECT_EQ(where(t(), "posts.com:8080", "/posts"), "query-srv:4002 /posts");
  EXPECT_EQ(where(t(), "Posts.Com:443", "/posts"), "query-srv:4002 /posts");
  EXPECT_EQ(where(t(), "posts.com.", "/posts"), "query-srv:4002 /posts");
}

TEST_F(BlogIngress, OtherHostsGet404) {
  EXPECT_EQ(where(t(), "localhost", "/posts"), "404");
  EXPECT_EQ(where(t(), "", "/posts"), "404");
  EXPECT_EQ(where(t(), "www.posts.com", "/posts"), "404");
}

TEST_F(BlogIngress, MatchCarriesNamespaceRuleAndDefaults) {
  auto m = t().route("posts.com", "/posts/abc/comments");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ns, "default");
  EXPECT_EQ(m->rule, "default/ingress-srv posts.com /posts/?(.*)/comments");
  EXPECT_FALSE(m->host_has_tls);
  EXPECT_EQ(m->options.max_body_bytes, 1 << 20);
  EXPECT_EQ(m->options.connect_timeout, std::chrono::seconds(5));
  EXPECT_EQ(m->options.read_timeout, std::chrono::seconds(60));
  EXPECT_EQ(m->options.send_timeout, std::chrono::seconds(60));
  EXPECT_TRUE(m->options.ssl_redirect);
  EXPECT_FALSE(m->options.force_ssl_redirect);
  EXPECT_FALSE(m->options.enable_cors);
}

TEST_F(BlogIngress, DescribeListsLocationsInEvaluationOrder) {
  const std::string d = t().describe();
  const size_t comments = d.find("~* ^/posts/?(.*)/comments");
  const size_t create = d.find("~* ^/posts/create");
  const size_t posts = d.find("~* ^/posts ");
  const size_t client = d.find("~* ^/?(.*)");
  ASSERT_NE(comments, std::string::npos) << d;
  EXPECT_LT(comments, create) << d;
  EXPECT_LT(create, posts) << d;
  EXPECT_LT(posts, client) << d;
  EXPECT_NE(d.find("posts.com (regex)"), std::string::npos) << d;
}

// ---------------------------------------------------------------------------------------------
// pathType semantics: the examples table of the Kubernetes Ingress concept page.

struct PathCase {
  std::vector<std::string> paths;  // "Type path service"
  std::string request;
  std::string expected;  // service, or "404"
};

void PrintTo(const PathCase& c, std::ostream* os) {
  for (const std::string& p : c.paths) *os << "[" << p << "] ";
  *os << c.request << " -> " << c.expected;
}

class KubernetesExamples : public ::testing::TestWithParam<PathCase> {};

TEST_P(KubernetesExamples, Matches) {
  const PathCase& c = GetParam();
  Built b = build(ingress("ex", "", c.paths));
  ASSERT_TRUE(b.warnings.empty()) << b.warnings.front();
  auto m = b.table.route("example.com", c.request);
  EXPECT_EQ(m ? m->service : "404", c.expected) << c.request;
}

INSTANTIATE_TEST_SUITE_P(
    Table, KubernetesExamples,
    ::testing::Values(
        PathCase{{"Prefix / all"}, "/anything/at/all", "all"},
        PathCase{{"Prefix / all"}, "/", "all"}, PathCase{{"Exact /foo foo"}, "/foo", "foo"},
        PathCase{{"Exact /foo foo"}, "/bar", "404"}, PathCase{{"Exact /foo foo"}, "/foo/", "404"},
        PathCase{{"Exact /foo/ foo"}, "/foo", "404"}, PathCase{{"Prefix /foo foo"}, "/foo", "foo"},
        PathCase{{"Prefix /foo foo"}, "/foo/", "foo"},
        PathCase{{"Prefix /aaa/bbb/ b"}, "/aaa/bbb", "b"},  // ignores trailing slash
        PathCase{{"Prefix /aaa/bbb/ b"}, "/aaa/bbb/", "b"},
        PathCase{{"Prefix /aaa/bbb/ b"}, "/aaa/bbb/ccc", "b"},
        PathCase{{"Prefix /aaa/bbb b"}, "/aaa/bbb/", "b"},  // matches trailing slash
        PathCase{{"Prefix /aaa/bbb b"}, "/aaa/bbb", "b"},
        PathCase{{"Prefix /aaa/bbb b"}, "/aaa/bbbxyz", "404"},  // string prefix, not element
        PathCase{{"Prefix / root", "Prefix /aaa a"}, "/aaa/ccc", "a"},
        PathCase{{"Prefix / root", "Prefix /aaa a", "Prefix /aaa/bbb b"}, "/aaa/bbb", "b"},
        PathCase{{"Prefix / root", "Prefix /aaa a", "Prefix /aaa/bbb b"}, "/ccc", "root"},
        PathCase{{"Prefix /aaa a", "Prefix /aaa/bbb b", "Prefix /aaa/bbb/ccc c"}, "/aaa/ccc", "a"},
        PathCase{
            {"Prefix /aaa a", "Prefix /aaa/bbb b", "Prefix /aaa/bbb/ccc c"}, "/aaa/bbbxyz", "a"},
        PathCase{{"Prefix /foo a", "Prefix /foo/ b"}, "/foo", "a"},
        PathCase{{"Prefix /foo a", "Prefix /foo/ b"}, "/foo/", "a"},
        PathCase{{"Prefix /foo pre", "Exact /foo exact"}, "/foo", "exact"},  // prefers Exact
        PathCase{{"Exact /foo exact", "Prefix /foo pre"}, "/foo", "exact"},
        PathCase{{"Prefix /foo pre", "Exact /foo exact"}, "/foo/x", "pre"},
        // Non-regex paths are case-sensitive, as in nginx on Linux.
        PathCase{{"Prefix /foo foo"}, "/FOO", "404"}, PathCase{{"Exact /foo foo"}, "/Foo", "404"}));

// ImplementationSpecific without regex is nginx's `location /path`: a plain string prefix.
INSTANTIATE_TEST_SUITE_P(
    ImplementationSpecific, KubernetesExamples,
    ::testing::Values(
        PathCase{{"ImplementationSpecific /foo foo"}, "/foobar", "foo"},
        PathCase{{"ImplementationSpecific /foo foo"}, "/foo/bar", "foo"},
        PathCase{{"ImplementationSpecific /foo foo"}, "/fo", "404"},
        PathCase{{"ImplementationSpecific /foo/ foo"}, "/foo", "404"},
        // An empty path is "/".
        PathCase{{"ImplementationSpecific - all"}, "/x", "all"},
        // Longest string wins, whatever the type.
        PathCase{{"ImplementationSpecific /api/v api", "Prefix /api/v1 v1"}, "/api/v1/users", "v1"},
        PathCase{{"ImplementationSpecific /api/v1/u u", "Prefix /api/v1 v1"}, "/api/v1/users", "u"},
        PathCase{
            {"ImplementationSpecific /api/v1/users u", "Prefix /api v1"}, "/api/v1/users", "u"},
        // ...except that an exact location always wins.
        PathCase{{"ImplementationSpecific /api/v1x long", "Exact /api/v1 ex"}, "/api/v1", "ex"},
        // The exact location ingress-nginx adds for Prefix /api wins too.
        PathCase{{"ImplementationSpecific /api impl", "Prefix /api pre"}, "/api", "pre"},
        PathCase{{"ImplementationSpecific /api impl", "Prefix /api pre"}, "/apix", "impl"},
        PathCase{{"ImplementationSpecific /api impl", "Prefix /api pre"}, "/api/x", "pre"}));

TEST(Router, LongestPrefixWinsWhateverTheOrder) {
  Built b = build(ingress("a", "h.com",
                          {"Prefix / root", "Prefix /a a", "Prefix /a/b/c abc", "Prefix /a/b ab"}));
  EXPECT_EQ(where(b.table, "h.com", "/a/b/c/d"), "abc:80 /a/b/c/d");
  EXPECT_EQ(where(b.table, "h.com", "/a/b/x"), "ab:80 /a/b/x");
  EXPECT_EQ(where(b.table, "h.com", "/a/x"), "a:80 /a/x");
  EXPECT_EQ(where(b.table, "h.com", "/x"), "root:80 /x");
}

TEST(Router, QueryIsNotPartOfThePath) {
  Built b = build(ingress("a", "h.com", {"Exact /search s", "Prefix /api a"}));
  EXPECT_EQ(where(b.table, "h.com", "/search?q=/api"), "s:80 /search?q=/api");
  EXPECT_EQ(where(b.table, "h.com", "/search?"), "s:80 /search?");
  EXPECT_EQ(where(b.table, "h.com", "/api?x=1&y=2"), "a:80 /api?x=1&y=2");
}

// ---------------------------------------------------------------------------------------------
// Hosts.

TEST(Router, WildcardMatchesExactlyOneLabel) {
  Built b = build(ingress("w", "\"*.example.com\"", {"Prefix / wild"}) + "---\n" +
                  ingress("e", "api.example.com", {"Prefix / exact"}) + "---\n" +
                  ingress("d", "", {"Prefix / nohost"}));
  ASSERT_TRUE(b.warnings.empty()) << b.warnings.front();
  EXPECT_EQ(where(b.table, "foo.example.com", "/"), "wild:80 /");
  EXPECT_EQ(where(b.table, "FOO.Example.COM:8443", "/"), "wild:80 /");
  EXPECT_EQ(where(b.table, "api.example.com", "/"), "exact:80 /");  // exact beats wildcard
  EXPECT_EQ(where(b.table, "example.com", "/"), "nohost:80 /");
  EXPECT_EQ(where(b.table, "a.b.example.com", "/"), "nohost:80 /");
  EXPECT_EQ(where(b.table, ".example.com", "/"), "nohost:80 /");
  auto m = b.table.route("foo.example.com", "/");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rule, "default/w *.example.com /");
}

TEST(Router, RulesWithoutHostServeUnknownHostsOnly) {
  Built b = build(ingress("h", "known.com", {"Prefix /api api"}) + "---\n" +
                  ingress("any", "", {"Prefix / any"}));
  EXPECT_EQ(where(b.table, "other.com", "/api"), "any:80 /api");
  EXPECT_EQ(where(b.table, "", "/x"), "any:80 /x");
  EXPECT_EQ(where(b.table, "127.0.0.1:8080", "/x"), "any:80 /x");
  EXPECT_EQ(where(b.table, "known.com", "/api/x"), "api:80 /api/x");
  // ingress-nginx: a known host's unmatched path goes to its default backend, not to the rules
  // without host.
  EXPECT_EQ(where(b.table, "known.com", "/x"), "404");
  auto m = b.table.route("other.com", "/");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rule, "default/any * /");
}

TEST(Router, HostHeaderForms) {
  Built b =
      build(ingress("h", "h.com", {"Prefix / h"}) + "---\n" + ingress("v6", "", {"Prefix / any"}));
  EXPECT_EQ(where(b.table, "h.com:80", "/"), "h:80 /");
  EXPECT_EQ(where(b.table, "H.COM", "/"), "h:80 /");
  EXPECT_EQ(where(b.table, "h.com.:80", "/"), "h:80 /");
  EXPECT_EQ(where(b.table, "h.com:", "/"), "h:80 /");
  EXPECT_EQ(where(b.table, "h.com:abc", "/"), "any:80 /");  // not a port: no such host
  EXPECT_EQ(where(b.table, "[::1]:8080", "/"), "any:80 /");
  EXPECT_EQ(where(b.table, "::1", "/"), "any:80 /");
  EXPECT_EQ(where(b.table, std::string(300, 'a'), "/"), "any:80 /");
}

TEST(Router, HostsAreMergedAcrossIngresses) {
  Built b = build(ingress("one", "shop.com", {"Prefix /api api"}) + "---\n" +
                  ingress("two", "shop.com", {"Prefix / web"}));
  EXPECT_EQ(where(b.table, "shop.com", "/api/items"), "api:80 /api/items");
  EXPECT_EQ(where(b.table, "shop.com", "/cart"), "web:80 /cart");
  EXPECT_EQ(b.table.host_count(), 1u);
}

TEST(Router, InvalidWildcardIsSkippedWithWarning) {
  Built b = build(ingress("bad", "\"foo.*.com\"", {"Prefix / x"}));
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_EQ(b.warnings[0],
            "default/bad: host foo.*.com: a wildcard must be the whole first label "
            "(\"*.example.com\"); rule skipped");
  EXPECT_EQ(where(b.table, "foo.x.com", "/"), "404");
}

// ---------------------------------------------------------------------------------------------
// Regex mode.

constexpr std::string_view kUseRegex = "    nginx.ingress.kubernetes.io/use-regex: \"true\"\n";

TEST(Router, RegexPathsAreTriedLongestFirst) {
  // Written shortest first: order in the manifest does not matter.
  Built b = build(ingress("r", "h.com",
                          {"ImplementationSpecific /.* any", "ImplementationSpecific /api/.* api",
                           "ImplementationSpecific /api/v2/.* v2"},
                          kUseRegex));
  EXPECT_EQ(where(b.table, "h.com", "/api/v2/x"), "v2:80 /api/v2/x");
  EXPECT_EQ(where(b.table, "h.com", "/api/v1/x"), "api:80 /api/v1/x");
  EXPECT_EQ(where(b.table, "h.com", "/x"), "any:80 /x");
}

TEST(Router, RegexTiesGoToTheGreaterString) {
  // ingress-nginx sorts locations by path descending, then (stably) by length descending, so
  // "/ab" (b > .) is tried before "/a." whatever the manifest order.
  Built b = build(ingress("r", "h.com",
                          {"ImplementationSpecific /a. dot", "ImplementationSpecific /ab ab"},
                          kUseRegex));
  EXPECT_EQ(where(b.table, "h.com", "/abc"), "ab:80 /abc");
  EXPECT_EQ(where(b.table, "h.com", "/axc"), "dot:80 /axc");
  Built c = build(ingress("r", "h.com",
                          {"ImplementationSpecific /ab ab", "ImplementationSpecific /a. dot"},
                          kUseRegex));
  EXPECT_EQ(where(c.table, "h.com", "/abc"), "ab:80 /abc");
}

TEST(Router, RegexIsAnchoredAtTheStartOnly) {
  Built b = build(ingress("r", "h.com", {"ImplementationSpecific /api/[0-9]+ num"}, kUseRegex));
  EXPECT_EQ(where(b.table, "h.com", "/api/42"), "num:80 /api/42");
  EXPECT_EQ(where(b.table, "h.com", "/api/42/more"), "num:80 /api/42/more");
  EXPECT_EQ(where(b.table, "h.com", "/x/api/42"), "404");
  EXPECT_EQ(where(b.table, "h.com", "/api/x"), "404");
  Built d = build(ingress("r", "h.com", {"ImplementationSpecific /api/[0-9]+$ num"}, kUseRegex));
  EXPECT_EQ(where(d.table, "h.com", "/api/42?x=1"), "num:80 /api/42?x=1");  // $ ends the path
  EXPECT_EQ(where(d.table, "h.com", "/api/42/more"), "404");
}

TEST(Router, OneRegexIngressTurnsEveryPathOfTheHostIntoRegex) {
  Built b = build(
      ingress("plain", "h.com", {"Prefix /api api", "Exact /exact exact", "Prefix /Case case"}) +
      "---\n" + ingress("regex", "h.com", {"ImplementationSpecific /re/.* re"}, kUseRegex) +
      "---\n" + ingress("other", "other.com", {"Prefix /api api2"}));
  ASSERT_TRUE(b.warnings.empty()) << b.warnings.front();
  EXPECT_EQ(where(b.table, "h.com", "/re/x"), "re:80 /re/x");
  // Prefix /api is now `~* ^/api`: no longer element-wise, and case-insensitive.
  EXPECT_EQ(where(b.table, "h.com", "/apix"), "api:80 /apix");
  EXPECT_EQ(where(b.table, "h.com", "/API/x"), "api:80 /API/x");
  // Exact /exact is now `~* ^/exact`.
  EXPECT_EQ(where(b.table, "h.com", "/exact/more"), "exact:80 /exact/more");
  EXPECT_EQ(where(b.table, "h.com", "/case"), "case:80 /case");
  // Another host keeps Kubernetes semantics.
  EXPECT_EQ(where(b.table, "other.com", "/apix"), "404");
  EXPECT_EQ(where(b.table, "other.com", "/api/x"), "api2:80 /api/x");
}

TEST(Router, PlainPathsWithRegexCharactersAreLiteralOutsideRegexMode) {
  Built b = build(ingress("p", "h.com", {"ImplementationSpecific /v1.0 v"}));
  EXPECT_EQ(where(b.table, "h.com", "/v1.0/x"), "v:80 /v1.0/x");
  EXPECT_EQ(where(b.table, "h.com", "/v1x0/x"), "404");
}

TEST(Router, BadRegexIsSkippedWithWarning) {
  Built b = build(ingress(
      "r", "h.com", {"ImplementationSpecific /(unclosed bad", "ImplementationSpecific /ok ok"},
      kUseRegex));
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_TRUE(b.warnings[0].starts_with("default/r: path /(unclosed: invalid regular expression ("))
      << b.warnings[0];
  EXPECT_TRUE(b.warnings[0].ends_with("); skipped")) << b.warnings[0];
  EXPECT_EQ(where(b.table, "h.com", "/ok"), "ok:80 /ok");
  EXPECT_EQ(where(b.table, "h.com", "/(unclosed"), "404");
}

TEST(Router, BadRegexFromContaminationNamesTheCause) {
  Built b = build(ingress("plain", "h.com", {"Prefix /a[ bad"}) + "---\n" +
                  ingress("rx", "h.com", {"ImplementationSpecific /b b"}, kUseRegex));
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_NE(b.warnings[0].find("default/plain: path /a[: invalid regular expression"),
            std::string::npos)
      << b.warnings[0];
  EXPECT_NE(b.warnings[0].find("host h.com treats all paths as regular expressions because "
                               "default/rx uses use-regex or rewrite-target; skipped"),
            std::string::npos)
      << b.warnings[0];
}

TEST(Router, UseRegexFalseKeepsKubernetesSemantics) {
  Built b = build(ingress("r", "h.com", {"Prefix /api api"},
                          "    nginx.ingress.kubernetes.io/use-regex: \"false\"\n"));
  EXPECT_EQ(where(b.table, "h.com", "/apix"), "404");
}

TEST(Router, LongPathsAreMatchedWithoutExhaustingTheStack) {
  Built b = build(ingress("r", "h.com", {"ImplementationSpecific /?(.*) all"}, kUseRegex));
  const std::string path = "/" + std::string(RouteTable::kMaxPathLength - 1, 'a');
  auto m = b.table.route("h.com", path + "?q=1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->service, "all");
  EXPECT_FALSE(b.table.route("h.com", path + "a"));  // the proxy answers 414 before this
  // rewrite-target's captures come from a backtracking match: the longest path must still fit.
  const Built rw = build(ingress("r", "h.com", {"ImplementationSpecific /(.*)/(.*) all"},
                                 "    nginx.ingress.kubernetes.io/rewrite-target: /$2/$1\n"));
  const std::string a(4000, 'a');
  const std::string bs(4190, 'b');
  auto r = rw.table.route("h.com", std::string("/").append(a).append("/").append(bs));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->target, std::string("/").append(bs).append("/").append(a));
}

// ---------------------------------------------------------------------------------------------
// rewrite-target.

constexpr std::string_view kRewrite2 =
    "    nginx.ingress.kubernetes.io/use-regex: \"true\"\n"
    "    nginx.ingress.kubernetes.io/rewrite-target: /$2\n";

TEST(Router, RewriteTargetWithCaptureGroups) {
  // The ingress-nginx documentation's example.
  Built b = build(ingress("rw", "rewrite.bar.com", {"ImplementationSpecific /something(/|$)(.*) s"},
                          kRewrite2));
  ASSERT_TRUE(b.warnings.empty()) << b.warnings.front();
  EXPECT_EQ(where(b.table, "rewrite.bar.com", "/something"), "s:80 /");
  EXPECT_EQ(where(b.table, "rewrite.bar.com", "/something/"), "s:80 /");
  EXPECT_EQ(where(b.table, "rewrite.bar.com", "/something/new"), "s:80 /new");
  EXPECT_EQ(where(b.table, "rewrite.bar.com", "/SOMETHING/new/x"), "s:80 /new/x");
  EXPECT_EQ(where(b.table, "rewrite.bar.com", "/something/new?a=1&b=2"), "s:80 /new?a=1&b=2");
  EXPECT_EQ(where(b.table, "rewrite.bar.com", "/something/new?"), "s:80 /new");
}

TEST(Router, RewriteTargetWithTwoCaptures) {
  Built b = build(ingress("rw", "h.com", {"ImplementationSpecific /api/(v[0-9])/(.*) api"},
                          "    nginx.ingress.kubernetes.io/rewrite-target: /$2/$1\n"));
  EXPECT_EQ(where(b.table, "h.com", "/api/v2/users?id=3"), "api:80 /users/v2?id=3");
}

TEST(Router, RewriteTargetImpliesRegexForTheWholeHost) {
  Built b = build(ingress("rw", "h.com", {"Prefix /app(/|$)(.*) app"},
                          "    nginx.ingress.kubernetes.io/rewrite-target: /$2\n") +
                  "---\n" + ingress("plain", "h.com", {"Prefix /static st"}));
  EXPECT_EQ(where(b.table, "h.com", "/app/page"), "app:80 /page");
  EXPECT_EQ(where(b.table, "h.com", "/staticfiles"), "st:80 /staticfiles");  // now `^/static`
}

TEST(Router, RewriteTargetWithoutCapturesReplacesTheWholePath) {
  Built b = build(ingress("rw", "h.com", {"Prefix /api api"},
                          "    nginx.ingress.kubernetes.io/rewrite-target: /\n"));
  EXPECT_EQ(where(b.table, "h.com", "/api"), "api:80 /");
  EXPECT_EQ(where(b.table, "h.com", "/api/users?q=1"), "api:80 /?q=1");
}

TEST(Router, RewriteTargetWithItsOwnArguments) {
  Built b = build(ingress("rw", "h.com", {"Prefix /old(.*) s"},
                          "    nginx.ingress.kubernetes.io/rewrite-target: /new?from=$1\n"));
  EXPECT_EQ(where(b.table, "h.com", "/old/x"), "s:80 /new?from=/x");
  EXPECT_EQ(where(b.table, "h.com", "/old/x?keep=1"), "s:80 /new?from=/x&keep=1");
  Built d = build(ingress("rw", "h.com", {"Prefix /old s"},
                          "    nginx.ingress.kubernetes.io/rewrite-target: /new?\n"));
  EXPECT_EQ(where(d.table, "h.com", "/old?drop=1"), "s:80 /new");
}

TEST(Router, RewriteTargetEqualToThePathIsNoRewrite) {
  // ingress-nginx's needsRewrite(): no rewrite and no regex mode.
  Built b = build(ingress("rw", "h.com", {"Prefix /api api"},
                          "    nginx.ingress.kubernetes.io/rewrite-target: /api\n"));
  EXPECT_EQ(where(b.table, "h.com", "/api/x?y=1"), "api:80 /api/x?y=1");
  EXPECT_EQ(where(b.table, "h.com", "/apix"), "404");
}

TEST(Router, RewriteTargetReferencingMissingGroupWarns) {
  Built b = build(ingress("rw", "h.com", {"ImplementationSpecific /api/(.*) api"},
                          "    nginx.ingress.kubernetes.io/rewrite-target: /$1/$3\n"));
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_EQ(b.warnings[0],
            "default/rw: rewrite-target /$1/$3 uses $3 but path /api/(.*) has only 1 capture "
            "group(s); it expands to nothing");
  EXPECT_EQ(where(b.table, "h.com", "/api/x"), "api:80 /x/");
}

// ---------------------------------------------------------------------------------------------
// Default backends.

constexpr std::string_view kDefaultOnly = R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: fallback
  namespace: web
spec:
  defaultBackend:
    service:
      name: catch-all
      port:
        number: 8080
)";

TEST(Router, DefaultBackendOfAnIngressWithoutRulesServesUnknownHosts) {
  Built b = build(std::string(kDefaultOnly) + "---\n" + ingress("h", "known.com", {"Exact /a a"}));
  ASSERT_TRUE(b.warnings.empty()) << b.warnings.front();
  auto m = b.table.route("unknown.com", "/x?y=1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ns, "web");
  EXPECT_EQ(m->service, "catch-all");
  EXPECT_EQ(m->port, "8080");
  EXPECT_EQ(m->target, "/x?y=1");
  EXPECT_EQ(m->rule, "web/fallback * (default backend)");
  // A known host keeps its own (empty) default: ingress-nginx answers 404 there.
  EXPECT_EQ(where(b.table, "known.com", "/a"), "a:80 /a");
  EXPECT_EQ(where(b.table, "known.com", "/b"), "404");
}

TEST(Router, RulesWithoutHostWinOverTheDefaultBackend) {
  Built b = build(std::string(kDefaultOnly) + "---\n" + ingress("any", "", {"Prefix /api api"}));
  EXPECT_EQ(where(b.table, "x.com", "/api"), "api:80 /api");
  EXPECT_EQ(where(b.table, "x.com", "/other"), "catch-all:8080 /other");
}

TEST(Router, OnlyTheFirstDefaultBackendIsUsed) {
  // Order is ingress-nginx's: oldest creationTimestamp first, whatever the input order.
  std::string newer = std::string(kDefaultOnly);
  newer.replace(newer.find("name: fallback"), 14,
                "name: newer\n  creationTimestamp: \"2024-02-01T00:00:00Z\"");
  newer.replace(newer.find("catch-all"), 9, "second");
  std::string older = std::string(kDefaultOnly);
  older.replace(older.find("name: fallback"), 14,
                "name: older\n  creationTimestamp: \"2024-01-01T00:00:00Z\"");
  Built b = build(newer + "---\n" + older);
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_EQ(
      b.warnings[0],
      "web/newer: spec.defaultBackend ignored: web/older already provides the default backend");
  EXPECT_EQ(where(b.table, "x.com", "/"), "catch-all:8080 /");
}

TEST(Router, EqualTimestampsOrderByNamespaceNameDescending) {
  // ingress-nginx's sortIngressSlice: for equal creationTimestamps "in > jn".
  Built b = build(ingress("aaa", "h.com", {"Prefix /x from-aaa"}) + "---\n" +
                  ingress("zzz", "h.com", {"Prefix /x from-zzz"}));
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_EQ(b.warnings[0],
            "default/aaa: path /x (Prefix) of host h.com is already defined by default/zzz; "
            "ignored");
  EXPECT_EQ(where(b.table, "h.com", "/x"), "from-zzz:80 /x");
}

TEST(Router, DuplicatePathKeepsTheOldestIngress) {
  std::string a = ingress("zzz", "h.com", {"Prefix /x old"});
  a.replace(a.find("name: zzz"), 9, "name: zzz\n  creationTimestamp: \"2023-01-01T00:00:00Z\"");
  std::string b_text = ingress("aaa", "h.com", {"Prefix /x new", "Exact /x exact"});
  b_text.replace(b_text.find("name: aaa"), 9,
                 "name: aaa\n  creationTimestamp: \"2024-01-01T00:00:00Z\"");
  Built b = build(b_text + "---\n" + a);
  ASSERT_EQ(b.warnings.size(), 1u) << b.warnings.front();
  EXPECT_EQ(where(b.table, "h.com", "/x/y"), "old:80 /x/y");
  EXPECT_EQ(where(b.table, "h.com", "/x"), "exact:80 /x");  // same path, other type: kept
}

TEST(Router, DefaultBackendOfAnIngressWithRulesServesItsHosts) {
  Built b = build(R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
spec:
  defaultBackend:
    service:
      name: shop-web
      port:
        name: http
  rules:
    - host: shop.com
      http:
        paths:
          - path: /api
            pathType: Prefix
            backend:
              service:
                name: shop-api
                port:
                  number: 3000
)");
  ASSERT_TRUE(b.warnings.empty()) << b.warnings.front();
  EXPECT_EQ(where(b.table, "shop.com", "/api/x"), "shop-api:3000 /api/x");
  EXPECT_EQ(where(b.table, "shop.com", "/cart"), "shop-web:http /cart");
  EXPECT_EQ(b.table.route("shop.com", "/cart")->rule, "default/shop shop.com (default backend)");
  EXPECT_EQ(where(b.table, "other.com", "/cart"), "404");
}

TEST(Router, UnusedDefaultBackendWarns) {
  std::string first = ingress("first", "shop.com", {"Prefix /api api"});
  first.replace(first.find("name: first"), 11,
                "name: first\n  creationTimestamp: \"2023-01-01T00:00:00Z\"");
  Built b = build(first + "---\n" + R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: second
  creationTimestamp: "2024-01-01T00:00:00Z"
spec:
  defaultBackend:
    service:
      name: web
      port:
        number: 80
  rules:
    - host: shop.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
)");
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_TRUE(b.warnings[0].starts_with("default/second: spec.defaultBackend is not used"))
      << b.warnings[0];
}

// ---------------------------------------------------------------------------------------------
// Ingress class.

TEST(Router, ForeignIngressClassIsIgnoredWithWarning) {
  std::string traefik = ingress("t", "t.com", {"Prefix / t"});
  traefik.replace(traefik.find("spec:\n"), 6, "spec:\n  ingressClassName: traefik\n");
  std::string nginx = ingress("n", "n.com", {"Prefix / n"});
  nginx.replace(nginx.find("spec:\n"), 6, "spec:\n  ingressClassName: nginx\n");
  Built b =
      build(traefik + "---\n" + nginx + "---\n" + ingress("none", "none.com", {"Prefix / x"}));
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_EQ(b.warnings[0], "default/t: ingress class traefik is not served; ignored");
  EXPECT_EQ(where(b.table, "t.com", "/"), "404");
  EXPECT_EQ(where(b.table, "n.com", "/"), "n:80 /");
  EXPECT_EQ(where(b.table, "none.com", "/"), "x:80 /");
}

TEST(Router, LegacyClassAnnotationWinsOverIngressClassName) {
  std::string y =
      ingress("legacy", "l.com", {"Prefix / l"}, "    kubernetes.io/ingress.class: haproxy\n");
  y.replace(y.find("spec:\n"), 6, "spec:\n  ingressClassName: nginx\n");
  Built b = build(y);
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_EQ(b.warnings[0], "default/legacy: ingress class haproxy is not served; ignored");
  Built ok =
      build(ingress("legacy", "l.com", {"Prefix / l"}, "    kubernetes.io/ingress.class: nginx\n"));
  EXPECT_TRUE(ok.warnings.empty());
  EXPECT_EQ(where(ok.table, "l.com", "/"), "l:80 /");
}

// ---------------------------------------------------------------------------------------------
// Annotations → RouteOptions.

RouteOptions options_for(std::string_view annotation_lines, std::vector<std::string>* warnings) {
  Built b = build(ingress("opt", "o.com", {"Prefix / o"}, annotation_lines));
  if (warnings) *warnings = b.warnings;
  auto m = b.table.route("o.com", "/");
  EXPECT_TRUE(m);
  return m ? m->options : RouteOptions{};
}

std::string body_size(std::string_view value) {
  std::vector<std::string> w;
  RouteOptions o = options_for(
      "    nginx.ingress.kubernetes.io/proxy-body-size: \"" + std::string(value) + "\"\n", &w);
  return w.empty() ? std::to_string(o.max_body_bytes) : "warning";
}

TEST(Router, ProxyBodySize) {
  EXPECT_EQ(body_size("8m"), std::to_string(8 << 20));
  EXPECT_EQ(body_size("8M"), std::to_string(8 << 20));
  EXPECT_EQ(body_size("1g"), std::to_string(int64_t{1} << 30));
  EXPECT_EQ(body_size("1G"), std::to_string(int64_t{1} << 30));
  EXPECT_EQ(body_size("512k"), std::to_string(512 << 10));
  EXPECT_EQ(body_size("512K"), std::to_string(512 << 10));
  EXPECT_EQ(body_size("0"), "0");
  EXPECT_EQ(body_size("1048577"), "1048577");
  EXPECT_EQ(body_size("1.5m"), "warning");
  EXPECT_EQ(body_size("abc"), "warning");
  EXPECT_EQ(body_size("-1"), "warning");
  EXPECT_EQ(body_size("10mb"), "warning");
  EXPECT_EQ(body_size(""), "warning");
  EXPECT_EQ(body_size("m"), "warning");
  EXPECT_EQ(body_size("99999999999999999999"), "warning");
  EXPECT_EQ(body_size("9999999999g"), "warning");  // overflows int64
}

TEST(Router, InvalidBodySizeKeepsDefaultAndSaysSo) {
  std::vector<std::string> w;
  RouteOptions o = options_for("    nginx.ingress.kubernetes.io/proxy-body-size: big\n", &w);
  EXPECT_EQ(o.max_body_bytes, 1 << 20);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "default/opt: annotation nginx.ingress.kubernetes.io/proxy-body-size: invalid value "
            "\"big\" (want a size such as 8m, 512k, 1g, or 0 for unlimited); using 1m");
}

TEST(Router, ProxyTimeouts) {
  std::vector<std::string> w;
  RouteOptions o = options_for(
      "    nginx.ingress.kubernetes.io/proxy-connect-timeout: \"30\"\n"
      "    nginx.ingress.kubernetes.io/proxy-read-timeout: \"120s\"\n"
      "    nginx.ingress.kubernetes.io/proxy-send-timeout: \"500ms\"\n",
      &w);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(o.connect_timeout, std::chrono::seconds(30));
  EXPECT_EQ(o.read_timeout, std::chrono::seconds(120));
  EXPECT_EQ(o.send_timeout, std::chrono::milliseconds(500));
  o = options_for("    nginx.ingress.kubernetes.io/proxy-read-timeout: 3600\n", &w);
  EXPECT_TRUE(w.empty());  // an unquoted number is tolerated
  EXPECT_EQ(o.read_timeout, std::chrono::hours(1));
  o = options_for("    nginx.ingress.kubernetes.io/proxy-read-timeout: 2m\n", &w);
  EXPECT_EQ(o.read_timeout, std::chrono::minutes(2));
}

TEST(Router, InvalidTimeoutsKeepDefaults) {
  for (std::string_view bad : {"x", "0", "-1", "1.5", "30 s", "30sec", "s", ""}) {
    std::vector<std::string> w;
    RouteOptions o = options_for(
        "    nginx.ingress.kubernetes.io/proxy-connect-timeout: \"" + std::string(bad) + "\"\n",
        &w);
    EXPECT_EQ(o.connect_timeout, std::chrono::seconds(5)) << bad;
    ASSERT_EQ(w.size(), 1u) << bad;
    EXPECT_EQ(w[0],
              "default/opt: annotation nginx.ingress.kubernetes.io/proxy-connect-timeout: "
              "invalid value \"" +
                  std::string(bad) + "\" (want seconds such as \"30\" or \"30s\"); using 5s");
  }
}

TEST(Router, BooleanAnnotations) {
  std::vector<std::string> w;
  RouteOptions o = options_for(
      "    nginx.ingress.kubernetes.io/ssl-redirect: \"false\"\n"
      "    nginx.ingress.kubernetes.io/force-ssl-redirect: \"true\"\n"
      "    nginx.ingress.kubernetes.io/enable-cors: \"True\"\n",
      &w);
  EXPECT_TRUE(w.empty());
  EXPECT_FALSE(o.ssl_redirect);
  EXPECT_TRUE(o.force_ssl_redirect);
  EXPECT_TRUE(o.enable_cors);
  o = options_for("    nginx.ingress.kubernetes.io/enable-cors: \"yes\"\n", &w);
  EXPECT_FALSE(o.enable_cors);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "default/opt: annotation nginx.ingress.kubernetes.io/enable-cors: invalid value "
            "\"yes\" (want \"true\" or \"false\"); using false");
  o = options_for("    nginx.ingress.kubernetes.io/ssl-redirect: \"nope\"\n", &w);
  EXPECT_TRUE(o.ssl_redirect);
  ASSERT_EQ(w.size(), 1u);
}

TEST(Router, UnsupportedAnnotationsWarnOthersAreIgnored) {
  std::vector<std::string> w;
  options_for(
      "    nginx.ingress.kubernetes.io/app-root: /app\n"
      "    cert-manager.io/cluster-issuer: letsencrypt\n"
      "    kubectl.kubernetes.io/last-applied-configuration: \"{}\"\n",
      &w);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "default/opt: annotation nginx.ingress.kubernetes.io/app-root is not supported by "
            "ticketctl; ignored");
}

TEST(Router, OptionsArePerIngressEvenOnOneHost) {
  Built b = build(ingress("big", "h.com", {"Prefix /upload up"},
                          "    nginx.ingress.kubernetes.io/proxy-body-size: 50m\n") +
                  "---\n" + ingress("small", "h.com", {"Prefix / web"}));
  EXPECT_EQ(b.table.route("h.com", "/upload")->options.max_body_bytes, 50 << 20);
  EXPECT_EQ(b.table.route("h.com", "/")->options.max_body_bytes, 1 << 20);
}

// ---------------------------------------------------------------------------------------------
// Backends.

TEST(Router, NamedAndNumberedPorts) {
  Built b = build(R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ports
  namespace: shop
spec:
  rules:
    - host: p.com
      http:
        paths:
          - path: /named
            pathType: Prefix
            backend:
              service:
                name: api
                port:
                  name: http
          - path: /numbered
            pathType: Prefix
            backend:
              service:
                name: api
                port:
                  number: 8080
          - path: /resource
            pathType: Prefix
            backend:
              resource:
                apiGroup: k8s.example.com
                kind: StorageBucket
                name: static-assets
          - path: /noport
            pathType: Prefix
            backend:
              service:
                name: api
)");
  ASSERT_EQ(b.warnings.size(), 2u);
  EXPECT_EQ(b.warnings[0],
            "shop/ports: path /resource: resource backends are not supported; skipped");
  EXPECT_EQ(b.warnings[1],
            "shop/ports: path /noport: backend service api has no port number or name; skipped");
  auto named = b.table.route("p.com", "/named");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->ns, "shop");
  EXPECT_EQ(named->port, "http");
  EXPECT_EQ(where(b.table, "p.com", "/numbered"), "api:8080 /numbered");
  EXPECT_EQ(where(b.table, "p.com", "/resource"), "404");
  EXPECT_EQ(where(b.table, "p.com", "/noport"), "404");
}

TEST(Router, InvalidPathsAreSkipped) {
  Built b = build(ingress("bad", "h.com", {"Prefix relative r", "Bogus /x x", "Prefix /ok ok"}));
  ASSERT_EQ(b.warnings.size(), 2u);
  EXPECT_EQ(b.warnings[0], "default/bad: path relative: must begin with '/'; skipped");
  EXPECT_EQ(b.warnings[1], "default/bad: path /x: unknown pathType Bogus; skipped");
  EXPECT_EQ(where(b.table, "h.com", "/ok"), "ok:80 /ok");
}

TEST(Router, EmptyInputRoutesNothing) {
  std::vector<std::string> w;
  RouteTable t = RouteTable::build({}, &w);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(t.host_count(), 0u);
  EXPECT_FALSE(t.route("a.com", "/"));
  RouteTable no_warnings = RouteTable::build(parse_all(ingress("x", "", {"Bogus / x"})), nullptr);
  EXPECT_FALSE(no_warnings.route("a.com", "/"));
}

// ---------------------------------------------------------------------------------------------
// TLS.

constexpr std::string_view kTls = R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: secure
  namespace: shop
spec:
  tls:
    - hosts: [shop.com, "*.apps.dev"]
      secretName: shop-tls
    - hosts: [Other.COM]
  rules:
    - host: shop.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
    - host: "*.apps.dev"
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: apps
                port:
                  number: 80
    - http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: any
                port:
                  number: 80
)";

TEST(Router, TlsHostsAreListedForSni) {
  Built b = build(kTls);
  ASSERT_TRUE(b.warnings.empty()) << b.warnings.front();
  const auto& hosts = b.table.tls_hosts();
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[0].host, "shop.com");
  EXPECT_EQ(hosts[0].ns, "shop");
  EXPECT_EQ(hosts[0].secret, "shop-tls");
  EXPECT_EQ(hosts[1].host, "*.apps.dev");
  EXPECT_EQ(hosts[2].host, "other.com");
  EXPECT_EQ(hosts[2].secret, "");
  ASSERT_NE(b.table.find_tls("SHOP.com"), nullptr);
  EXPECT_EQ(b.table.find_tls("shop.com:8443")->secret, "shop-tls");
  ASSERT_NE(b.table.find_tls("a.apps.dev"), nullptr);
  EXPECT_EQ(b.table.find_tls("a.apps.dev")->host, "*.apps.dev");
  EXPECT_EQ(b.table.find_tls("a.b.apps.dev"), nullptr);
  EXPECT_EQ(b.table.find_tls("apps.dev"), nullptr);
  EXPECT_EQ(b.table.find_tls("nope.com"), nullptr);
  EXPECT_EQ(b.table.find_tls(""), nullptr);
}

TEST(Router, HostHasTlsFollowsTheRequestHost) {
  Built b = build(kTls);
  EXPECT_TRUE(b.table.route("shop.com", "/")->host_has_tls);
  EXPECT_TRUE(b.table.route("x.apps.dev", "/")->host_has_tls);
  EXPECT_TRUE(b.table.route("other.com", "/")->host_has_tls);  // via the rules without host
  EXPECT_EQ(b.table.route("other.com", "/")->service, "any");
  EXPECT_FALSE(b.table.route("plain.com", "/")->host_has_tls);
}

// ---------------------------------------------------------------------------------------------
// Concurrency: a built table is read-only.

TEST(Router, ConcurrentRoutingGivesTheSameAnswers) {
  const Built b = build(read_file(TICKETCTL_SOURCE_DIR "/manifests/blog/ingress-srv.yaml") +
                        "---\n" + std::string(kTls));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (where(b.table, "posts.com", "/posts/1/comments") !=
                "comments-srv:4001 /posts/1/comments" ||
            where(b.table, "shop.com", "/x") != "web:80 /x" ||
            where(b.table, "posts.com", "/") != "client-srv:3000 /")
          ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ticketctl::ingress
