// `ticketctl tap [TARGET]`: the live HTTP exchanges (and other connections) the ingress and the
// observing relay see, read from the API's tap stream (runtime/api/tap_stream.h), one line per
// exchange or, with -o json, the stream's objects for scripts. Ctrl-C ends it with status 0.

#include <pthread.h>
#include <signal.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "cli/api_verbs.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/tap_format.h"
#include "runtime/tap/tap.h"

namespace ticketctl::cli {
namespace {

struct TapArgs {
  std::string target;
  std::string ns = "default";
  std::string output;
  bool bodies = false, show_secrets = false;
  int64_t max = 0;
  StateDirArg state;
};

std::string escape_query(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
      out += c;
    else
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

// Lines of the stream as they arrive in chunks; what each says goes to stdout or stderr.
class StreamPrinter {
 public:
  StreamPrinter(const TapArgs& a, std::mutex& out) : a_(a), out_(out) {}

  // False once --max exchanges are printed.
  bool add(std::string_view chunk) {
    partial_.append(chunk);
    size_t at = 0;
    for (size_t eol; (eol = partial_.find('\n', at)) != std::string::npos; at = eol + 1) {
      if (!line(std::string_view(partial_).substr(at, eol - at))) {
        partial_.clear();
        return false;
      }
    }
    partial_.erase(0, at);
    return true;
  }
  int64_t exchanges() const { return exchanges_; }

 private:
  bool line(std::string_view text) {
    if (text.empty()) return true;  // the server's keep-alive
    const Json event = Json::parse(text, nullptr, false);
    if (!event.is_object()) return true;
    const std::string type = str(json_at(event, "type"));
    const Json& object = json_at(event, "object");
    std::lock_guard lock(out_);
    if (type == "SUBSCRIBED") {
      // On stderr, so stdout stays the exchanges; scripts and tests wait for it before sending.
      std::cerr << "tapping " << str(json_at(object, "target")) << " (Ctrl-C to stop)" << std::endl;
    } else if (type == "DROPPED") {
      std::cerr << "(" << json_at(object, "count").dump()
                << " exchanges dropped: this reader fell behind)" << std::endl;
    } else if (type == "EXCHANGE") {
      if (a_.output == "json")
        std::cout << object.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
      else
        std::cout << tap_text(object, a_.ns, a_.bodies) << '\n';
      std::cout.flush();
      if (a_.max > 0 && ++exchanges_ >= a_.max) return false;
    }
    return true;
  }

  const TapArgs& a_;
  std::mutex& out_;
  std::string partial_;
  int64_t exchanges_ = 0;
};

}  // namespace

Handler attach_tap(CLI::App& verb) {
  auto a = std::make_shared<TapArgs>();
  verb.add_option("target", a->target,
                  "What to watch: ingress, svc/NAME, deploy/NAME, pod/NAME; none: everything");
  verb.add_option("-n,--namespace", a->ns, "Namespace of the target")->capture_default_str();
  verb.add_flag("--body", a->bodies, "Show the first KiB of each request and response body");
  verb.add_flag("--show-secrets", a->show_secrets,
                "Show Authorization, Cookie and Set-Cookie values instead of ***");
  verb.add_option("-o,--output", a->output, "json: one exchange object per line")
      ->check(CLI::IsMember({"json"}));
  verb.add_option("--max", a->max, "Exit after this many exchanges (0: until Ctrl-C)")
      ->check(CLI::NonNegativeNumber);
  a->state.attach(verb);
  verb.footer(
      "Exchanges are what reaches the target (and, for deploy/ and pod/, what their pods send):\n"
      "time, source, destination Service/pod, method, path, status, latency, sizes. The\n"
      "ingress reports every request it proxies; traffic between pods is seen while a tap\n"
      "routes it through the control plane's observing relay. See docs/commands/tap.md.");
  return [a] {
    Result<tap::Target> target = tap::parse_target(a->target, a->ns);
    if (!target.ok()) {
      std::cerr << "error: " << target.error().message << '\n';
      return kExitFailure;
    }
    Result<api::ApiClient> client = a->state.connect();
    if (!client.ok()) {
      std::cerr << "error: " << client.error().message << '\n';
      return kExitFailure;
    }
    // Ctrl-C and SIGTERM end the tap with status 0: a thread takes them (every other thread
    // has them blocked) and exits once no line is half written.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    static std::mutex out;
    std::thread([signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      std::lock_guard lock(out);
      std::cout.flush();
      std::fflush(nullptr);
      std::_Exit(kExitOk);
    }).detach();

    std::string path = fmt::format("/apis/ticketctl.dev/v1/namespaces/{}/tap?target={}",
                                   escape_query(a->ns), escape_query(a->target));
    if (a->bodies) path += "&bodies=true";
    if (a->show_secrets) path += "&showSecrets=true";
    StreamPrinter printer(*a, out);
    Result<bool> done =
        client.value().stream(path, [&](std::string_view chunk) { return printer.add(chunk); });
    std::lock_guard lock(out);
    if (!done.ok()) {
      std::cerr << server_error(done.error()) << '\n';
      return kExitFailure;
    }
    if (a->max > 0 && printer.exchanges() < a->max) {
      std::cerr << "error: the tap ended after " << printer.exchanges() << " of " << a->max
                << " exchanges: the control plane stopped\n";
      return kExitFailure;
    }
    if (a->max == 0) std::cerr << "the tap ended: the control plane stopped\n";
    return kExitOk;
  };
}

}  // namespace ticketctl::cli
