// A deterministic mutation fuzzer over every parser of untrusted input: manifests and API bodies
// (YAML and JSON through the loader), patches (merge, JSON, strategic merge), kubectl's protobuf
// bodies and label/field selectors. Seeds come from tests/fuzz/corpus/<target>/; each mutation is
// drawn from a seeded generator, so a failure names the seed and the input that reproduces it.
// It runs as a normal test (in CI under ASan/UBSan, where a memory error ends it); each input must
// also finish quickly and give results inside the budgets of runtime/core/limits.h.
//
//   TICKETCTL_FUZZ_ITERATIONS=N   inputs per target (default 1500)
//   TICKETCTL_FUZZ_SEED=S         generator seed (default 1); a long run tries several
//   TICKETCTL_FUZZ_LAST=FILE      write each input there before running it

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/api/patch.h"
#include "runtime/api/protobuf.h"
#include "runtime/api/selector.h"
#include "runtime/core/limits.h"
#include "runtime/core/rfc3339.h"
#include "runtime/manifest/json_input.h"
#include "runtime/manifest/loader.h"
#include "runtime/manifest/yaml_budget.h"
#include "runtime/net/http_observer.h"

namespace ticketctl {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const fs::path kCorpus = fs::path(TICKETCTL_SOURCE_DIR) / "tests/fuzz/corpus";

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::vector<std::string> seeds(const std::string& target) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kCorpus / target)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    out.push_back(buf.str());
  }
  return out;
}

// xorshift64*: small, fast and the same everywhere, so a seed reproduces a run.
class Random {
 public:
  explicit Random(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
  bool one_in(size_t n) { return below(n) == 0; }

 private:
  uint64_t s_;
};

// Bytes and tokens that matter to the grammars under test.
const std::vector<std::string> kTokens = {"[",
                                          "]",
                                          "{",
                                          "}",
                                          ":",
                                          ",",
                                          "&a ",
                                          "*a",
                                          "&b ",
                                          "*b",
                                          "-",
                                          "\n",
                                          "\n  ",
                                          "\"",
                                          "'",
                                          "#",
                                          "!",
                                          "!!str ",
                                          "!!binary ",
                                          "|",
                                          ">",
                                          "? ",
                                          "---\n",
                                          "...\n",
                                          "\\u0000",
                                          "\\",
                                          "=",
                                          "!=",
                                          " in (",
                                          ")",
                                          "0",
                                          "-1",
                                          "1e999",
                                          "null",
                                          "true",
                                          "\xff",
                                          "\xc3",
                                          std::string("k8s\0", 4),
                                          "$patch",
                                          "\t",
                                          "\r",
                                          "<<: ",
                                          "%YAML 1.2\n",
                                          "/",
                                          "~1",
                                          "\"op\": \"copy\"",
                                          "\"from\": \"/\"",
                                          "\"path\": \"/a/-\"",
                                          "\"value\": [[[[",
                                          "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"};

std::string mutate(const std::string& base, const std::vector<std::string>& pool, Random& r) {
  std::string s = base;
  const size_t rounds = 1 + r.below(8);
  for (size_t i = 0; i < rounds; ++i) {
    const size_t at = r.below(s.size() + 1);
    switch (r.below(9)) {
      case 0:  // flip a bit
        if (!s.empty()) s[r.below(s.size())] ^= static_cast<char>(1u << r.below(8));
        break;
      case 1:  // any byte
        if (!s.empty()) s[r.below(s.size())] = static_cast<char>(r.below(256));
        break;
      case 2:  // a token
        s.insert(at, kTokens[r.below(kTokens.size())]);
        break;
      case 3: {  // delete a range
        if (s.empty()) break;
        const size_t from = r.below(s.size());
        s.erase(from, 1 + r.below(std::min<size_t>(64, s.size() - from)));
        break;
      }
      case 4: {  // repeat a range: grows nesting, lists and aliases
        if (s.empty()) break;
        const size_t from = r.below(s.size());
        const std::string piece = s.substr(from, 1 + r.below(16));
        std::string rep;
        for (size_t n = 1 + r.below(64); n > 0; --n) rep += piece;
        s.insert(at, rep);
        break;
      }
      case 5: {  // splice in part of another seed
        const std::string& other = pool[r.below(pool.size())];
        if (other.empty()) break;
        const size_t from = r.below(other.size());
        s.insert(at, other.substr(from, 1 + r.below(256)));
        break;
      }
      case 6: {  // deep nesting at one point
        const size_t depth = r.one_in(4) ? 900 + r.below(300) : r.below(64);
        const bool braces = r.one_in(2);
        s.insert(at,
                 std::string(depth, braces ? '{' : '[') + std::string(depth, braces ? '}' : ']'));
        break;
      }
      case 7:  // cut short
        s.resize(at);
        break;
      default: {  // change a number
        const size_t digit = s.find_first_of("0123456789", at);
        if (digit != std::string::npos) s.insert(digit, std::to_string(r.next() % 100000));
        break;
      }
    }
    if (s.size() > 256 * 1024) s.resize(256 * 1024);  // keep the run's time bounded
  }
  return s;
}

// Runs `check` on every seed and on mutations of them; records the slowest input.
void fuzz(const std::string& target, const std::function<void(const std::string&)>& check) {
  const std::vector<std::string> pool = seeds(target);
  ASSERT_FALSE(pool.empty()) << "no seeds in " << (kCorpus / target);
  const uint64_t seed = env_number("TICKETCTL_FUZZ_SEED", 1);
  const uint64_t iterations = env_number("TICKETCTL_FUZZ_ITERATIONS", 1500);
  Random r(seed ^ std::hash<std::string>{}(target));
  Clock::duration slowest{};
  std::string slowest_input;
  const auto started = Clock::now();
  for (uint64_t i = 0; i < pool.size() + iterations; ++i) {
    const std::string input =
        i < pool.size() ? pool[i] : mutate(pool[r.below(pool.size())], pool, r);
    if (const char* last = std::getenv("TICKETCTL_FUZZ_LAST")) {
      // Kept before each run, so an input that hangs or kills the process can be replayed.
      std::ofstream(last, std::ios::binary | std::ios::trunc) << input;
    }
    const auto t0 = Clock::now();
    check(input);
    const auto took = Clock::now() - t0;
    if (took > slowest) {
      slowest = took;
      slowest_input = input;
    }
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << target << ": seed " << seed << ", input " << i << " (" << input.size()
                    << " bytes): " << ::testing::PrintToString(input.substr(0, 400));
      return;
    }
  }
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::printf("fuzz %s: %llu inputs in %lld ms (seed %llu), slowest %lld ms\n", target.c_str(),
              static_cast<unsigned long long>(pool.size() + iterations),
              static_cast<long long>(ms(Clock::now() - started)),
              static_cast<unsigned long long>(seed), static_cast<long long>(ms(slowest)));
  // Budgets must make every input cheap; sanitizers make everything ~10x slower.
  EXPECT_LT(slowest, std::chrono::seconds(5))
      << target << ": slowest input " << ::testing::PrintToString(slowest_input.substr(0, 400));
}

TEST(Fuzz, ManifestsAndApiBodies) {
  // corpus/manifest/regression-* are inputs this fuzzer found that hung or killed the loader.
  fuzz("manifest", [](const std::string& input) {
    ASSERT_EQ(manifest::check_yaml_budget(input).has_value(),
              manifest::check_yaml_budget(input).has_value());  // pure
    manifest::LoadResult r = manifest::load_text("fuzz.yaml", input, {});
    for (const manifest::Object& o : r.objects) {
      ASSERT_LE(json_depth(o.body), limits::kMaxNestingDepth);
      ASSERT_LE(o.body.dump().size(), limits::kMaxObjectBytes);
    }
    for (const Diagnostic& d : r.diagnostics.items()) ASSERT_FALSE(d.message.empty());
    // The same text as a JSON body.
    Result<Json> json = parse_json(input);
    if (json.ok()) {
      ASSERT_LE(json_depth(json.value()), limits::kMaxNestingDepth);
    }
  });
}

TEST(Fuzz, Patches) {
  const Json original = Json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "posts-depl", "labels": {"app": "posts"}},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [
      {"name": "posts", "image": "demo/posts", "env": [{"name": "A", "value": "1"}],
       "ports": [{"containerPort": 4000}]}]}}}})");
  fuzz("patch", [&](const std::string& input) {
    for (const char* type : {"application/merge-patch+json", "application/json-patch+json",
                             "application/strategic-merge-patch+json"}) {
      Result<Json> out = api::apply_patch(original, type, input);
      if (out.ok()) {
        ASSERT_LE(json_depth(out.value()), limits::kMaxNestingDepth);
        ASSERT_LE(json_size(out.value(), limits::kMaxObjectBytes),
                  limits::kMaxObjectBytes / 2 + 100);
        (void)out.value().dump();
      } else {
        ASSERT_FALSE(out.error().message.empty());
      }
    }
  });
}

TEST(Fuzz, ProtobufBodies) {
  fuzz("protobuf", [](const std::string& input) {
    api::ProtobufObject o = api::decode_protobuf_object(input);
    if (o.ok()) {
      ASSERT_TRUE(o.object.is_object());
      ASSERT_LE(json_depth(o.object), limits::kMaxNestingDepth);
      // What the handler does next: the JSON goes through the manifest loader.
      manifest::load_text("body", o.object.dump(), {});
    } else {
      ASSERT_FALSE(o.message.empty());
    }
  });
}

TEST(Fuzz, Selectors) {
  const Json labels = Json::parse(R"({"app": "posts", "tier": "api", "n": "3"})");
  const Json pod = Json::parse(R"({"metadata": {"name": "p", "namespace": "default"}})");
  fuzz("selector", [&](const std::string& input) {
    Result<api::Selector> l = api::parse_label_selector(input);
    if (l.ok()) {
      (void)api::matches(l.value(), labels);
    } else {
      ASSERT_NE(l.error().message.find("label selector"), std::string::npos);
    }
    Result<api::Selector> f = api::parse_field_selector(input);
    if (f.ok()) (void)api::matches_fields(f.value(), pod);
  });
}

// The tap's view of relayed bytes (net/http_observer): client bytes before "|||", backend bytes
// after, each fed in uneven pieces. Whatever arrives, the reports stay within what
// was seen: bodies cut at the limit, no more bytes than were sent, a bounded number of reports.
TEST(Fuzz, HttpObserver) {
  uint64_t exchanges = 0;  // mutations must still reach the parser's success paths
  fuzz("http", [&](const std::string& input) {
    const size_t bar = input.find("|||");
    const std::string up = input.substr(0, bar);
    const std::string down = bar == std::string::npos ? "" : input.substr(bar + 3);
    std::vector<net::ObservedExchange> seen;
    auto hooks = std::make_shared<net::ExchangeObserver>();
    hooks->report = [&](net::ObservedExchange&& e) { seen.push_back(std::move(e)); };
    hooks->want_bodies = [] { return true; };
    hooks->body_limit = 16;
    {
      net::HttpObserver observer(hooks, {});
      // The client's bytes first (a response cannot come before its request), in uneven
      // pieces, then the backend's.
      size_t step = 1;
      for (size_t u = 0; u < up.size(); u += step, step = step % 13 + 1)
        observer.from_client(up.data() + u, std::min(step, up.size() - u));
      for (size_t d = 0; d < down.size(); d += step, step = step % 7 + 1)
        observer.from_backend(down.data() + d, std::min(step, down.size() - d));
      observer.backend_eof();
      observer.finish();
    }
    ASSERT_LE(seen.size(), up.size() + 1);
    uint64_t request_bytes = 0, response_bytes = 0;
    for (const net::ObservedExchange& e : seen) {
      exchanges += e.http && e.status > 0;
      ASSERT_LE(e.request_body.size(), 16u);
      ASSERT_LE(e.response_body.size(), 16u);
      request_bytes += e.request_bytes;
      response_bytes += e.response_bytes;
    }
    ASSERT_LE(request_bytes, up.size());
    ASSERT_LE(response_bytes, down.size());
  });
  EXPECT_GT(exchanges, 100u);
}

// sinceTime and every stored time: a parsed time is in range and reads back from its own text.
TEST(Fuzz, Rfc3339Times) {
  fuzz("rfc3339", [](const std::string& input) {
    const std::optional<rfc3339::Time> t = rfc3339::parse(input);
    if (!t) return;
    ASSERT_GE(t->nanos, 0);
    ASSERT_LT(t->nanos, 1'000'000'000);
    ASSERT_EQ(rfc3339::parse(rfc3339::format_nano(*t)), t) << rfc3339::format_nano(*t);
  });
}

}  // namespace
}  // namespace ticketctl
