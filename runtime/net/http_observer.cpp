// HTTP/1.1 seen from the middle of a relayed connection (http_observer.h): Beast's basic_parser
// fed with the bytes the relay forwards, one parser per direction, requests queued until their
// responses arrive. The net library's only Beast unit: basic_parser works on buffers, so no Asio
// socket is involved, and it already knows what we would otherwise write again (Content-Length,
// chunked bodies and their extensions, obs-fold, responses that end at close, 1xx/204/304
// without bodies, strict token rules).

#include "runtime/net/http_observer.h"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <deque>
#include <optional>
#include <string_view>

namespace ticketctl::net {

namespace http = boost::beast::http;
using boost::beast::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace {

// One message's facts, filled by the parser's callbacks.
struct Message {
  std::string method, target;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_body = false;
  size_t body_limit = 0;
  bool upgrade = false;  // an Upgrade header (requests)

  void body_bytes(std::string_view data) {
    if (!keep_body || body.size() >= body_limit) return;
    body.append(data.data(), std::min(data.size(), body_limit - body.size()));
  }
};

template <bool IsRequest>
class Parser final : public http::basic_parser<IsRequest> {
 public:
  Parser(bool keep_body, size_t body_limit, bool no_body) {
    msg.keep_body = keep_body;
    msg.body_limit = body_limit;
    this->header_limit(static_cast<std::uint32_t>(HttpObserver::kHeadLimit));
    this->body_limit(boost::none);  // we only watch; the endpoints decide what is too big
    this->eager(true);
    if (no_body) this->skip(true);  // the response to a HEAD (or CONNECT) request
  }

  Message msg;
  bool head_done = false;

 private:
  // HTTP/1.0 and 1.1 only: "PRI * HTTP/2.0" and the like are not what we can follow.
  void on_request_impl(http::verb, boost::beast::string_view method,
                       boost::beast::string_view target, int version, error_code& ec) override {
    if (version != 10 && version != 11) ec = http::error::bad_version;
    msg.method.assign(method.data(), method.size());
    msg.target.assign(target.data(), target.size());
  }
  void on_response_impl(int code, boost::beast::string_view, int version,
                        error_code& ec) override {
    if (version != 10 && version != 11) ec = http::error::bad_version;
    msg.status = code;
  }
  void on_field_impl(http::field name, boost::beast::string_view name_text,
                     boost::beast::string_view value, error_code&) override {
    if (name == http::field::upgrade) msg.upgrade = true;
    msg.headers.emplace_back(std::string(name_text.data(), name_text.size()),
                             std::string(value.data(), value.size()));
  }
  void on_header_impl(error_code&) override { head_done = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, error_code&) override {
    msg.body_bytes({body.data(), body.size()});
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 error_code&) override {
    msg.body_bytes({body.data(), body.size()});
    return body.size();
  }
  void on_finish_impl(error_code&) override {}
};

// A request whose head is complete, waiting for its response.
struct Pending {
  Message request;
  bool complete = false;  // its body too
  uint64_t bytes = 0;
  SteadyClock::time_point head_at;
  std::chrono::system_clock::time_point wall;
  uint64_t response_bytes = 0;  // 1xx interim responses before the final one
  bool no_body_response = false;  // HEAD or CONNECT
  bool connect = false;
};

}  // namespace

struct HttpObserver::State {
  std::shared_ptr<const ExchangeObserver> hooks;
  ObservedExchange base;
  SteadyClock::time_point accepted = SteadyClock::now();

  // Client → backend.
  std::optional<Parser<true>> request;
  std::string request_held;  // bytes of a head (or chunk line) not complete yet
  uint64_t request_msg_bytes = 0;
  bool request_in_queue = false;  // the message being parsed is pending.back()
  bool request_counting = false;  // from here on the client's bytes are only counted
  // Backend → client.
  std::optional<Parser<false>> response;
  std::string response_held;
  uint64_t response_msg_bytes = 0;
  bool response_counting = false;

  std::deque<Pending> pending;  // front: the request the next response answers
  bool seen_http = false;
  bool upgraded = false;
  // Every byte seen, and those the parsers took: the difference is what was only counted
  // (not HTTP, after an upgrade, after a parse error).
  uint64_t total_up = 0, total_down = 0, parsed_up = 0, parsed_down = 0;
  bool finished = false;

  bool want_bodies() const { return hooks->want_bodies && hooks->want_bodies(); }

  // Parsing stops for good: what follows in both directions is only counted.
  void count_rest() {
    request_counting = response_counting = true;
    request.reset();
    response.reset();
    std::string().swap(request_held);
    std::string().swap(response_held);
  }

  void report_exchange(Pending& p, const Message* response, uint64_t response_bytes,
                       SteadyClock::time_point done) {
    ObservedExchange e = base;
    e.time = p.wall;
    e.http = true;
    e.method = std::move(p.request.method);
    e.path = std::move(p.request.target);
    for (const auto& [name, value] : p.request.headers) {
      if (name.size() == 4 && (name[0] | 0x20) == 'h' && (name[1] | 0x20) == 'o' &&
          (name[2] | 0x20) == 's' && (name[3] | 0x20) == 't') {
        e.host = value;
        break;
      }
    }
    e.request_bytes = p.bytes;
    e.request_headers = std::move(p.request.headers);
    e.request_body = std::move(p.request.body);
    e.response_bytes = p.response_bytes + response_bytes;
    if (response) {
      e.status = response->status;
      e.response_headers = response->headers;
      e.response_body = response->body;
      e.latency_ms = std::chrono::duration<double, std::milli>(done - p.head_at).count();
    }
    if (hooks->report) hooks->report(std::move(e));
  }

  // Feeds `parser` with `held` + [data, n). False on a parse error. `make` creates the parser
  // for the next message (false: parsing stopped), `on_head` runs once a head is complete,
  // `on_done` once the message is.
  template <class P, class Make, class OnHead, class OnDone>
  bool feed(std::optional<P>& parser, std::string& held, uint64_t& msg_bytes, uint64_t& parsed,
            const bool& counting, const char* data, size_t n, Make make, OnHead on_head,
            OnDone on_done) {
    std::string_view input(data, n);
    if (!held.empty()) {
      held.append(data, n);
      input = held;
    }
    size_t used = 0;
    while (used < input.size() && !counting) {
      if (!parser && !make()) break;
      error_code ec;
      const bool head_was_done = parser->head_done;
      const size_t took =
          parser->put(boost::asio::const_buffer(input.data() + used, input.size() - used), ec);
      used += took;
      msg_bytes += took;
      parsed += took;
      if (ec && ec != http::error::need_more) return false;
      if (!head_was_done && parser->head_done) on_head();
      if (ec == http::error::need_more) break;
      if (parser->is_done()) {
        on_done();
      } else if (took == 0) {
        break;
      }
    }
    if (counting) return true;  // count_rest() let go of `held`
    const size_t left = input.size() - used;
    if (left > kHeadLimit + 64) return false;  // a head (or chunk line) that never ends
    if (held.empty()) {
      held.assign(input.data() + used, left);
    } else {
      held.erase(0, used);
    }
    return true;
  }

  void client_bytes(const char* data, size_t n) {
    total_up += n;
    if (request_counting) return;
    const bool ok = feed(
        request, request_held, request_msg_bytes, parsed_up, request_counting, data, n,
        [&] {
          if (pending.size() >= kMaxPending) {  // a client pipelining without end
            count_rest();
            return false;
          }
          request.emplace(want_bodies(), hooks->body_limit, false);
          request_msg_bytes = 0;
          return true;
        },
        [&] {
          seen_http = true;
          Pending p;
          p.head_at = SteadyClock::now();
          p.wall = std::chrono::system_clock::now();
          p.request.method = request->msg.method;
          p.connect = p.request.method == "CONNECT";
          p.no_body_response = p.request.method == "HEAD" || p.connect;
          pending.push_back(std::move(p));
          request_in_queue = true;
        },
        [&] {
          const bool tunnel = request->msg.upgrade || request->msg.method == "CONNECT";
          if (request_in_queue) {
            Pending& p = pending.back();
            p.request = std::move(request->msg);
            p.bytes = request_msg_bytes;
            p.complete = true;
          }
          request_in_queue = false;
          request.reset();
          // After an Upgrade or CONNECT request the client may speak the new protocol as soon
          // as the server agrees: its bytes from here on are only counted.
          if (tunnel) request_counting = true;
        });
    if (!ok) count_rest();
  }

  void backend_bytes(const char* data, size_t n) {
    total_down += n;
    if (response_counting) return;
    const bool ok = feed(
        response, response_held, response_msg_bytes, parsed_down, response_counting, data, n,
        [&] {
          if (pending.empty()) {  // a response nobody asked for: not HTTP as we know it
            count_rest();
            return false;
          }
          response.emplace(want_bodies(), hooks->body_limit, pending.front().no_body_response);
          response_msg_bytes = 0;
          return true;
        },
        [] {},
        [&] { response_done(SteadyClock::now()); });
    if (!ok) count_rest();
  }

  void response_done(SteadyClock::time_point done) {
    Message msg = std::move(response->msg);
    const uint64_t bytes = response_msg_bytes;
    response.reset();
    Pending& p = pending.front();
    if (msg.status >= 100 && msg.status < 200 && msg.status != 101) {
      p.response_bytes += bytes;  // interim (100 Continue): the final response follows
      return;
    }
    const bool upgrade = msg.status == 101 || (p.connect && msg.status / 100 == 2);
    if (!p.complete && request) {
      // Answered before the request's body was all sent (a 413, a redirect): reported with
      // what was seen so far; the rest of that request is parsed but belongs to no exchange.
      p.request = request->msg;
      p.bytes = request_msg_bytes;
      request_in_queue = false;
    }
    Pending front = std::move(pending.front());
    pending.pop_front();
    report_exchange(front, &msg, bytes, done);
    if (upgrade) {
      upgraded = true;
      count_rest();
    }
  }

  template <class P>
  static uint64_t body_left(const std::optional<P>& parser, const std::string& held) {
    if (!parser || !held.empty() || !parser->is_header_done() || parser->chunked() ||
        parser->is_done())
      return 0;
    const Message& m = parser->msg;
    if (m.keep_body && m.body.size() < m.body_limit) return 0;
    return parser->content_length_remaining().value_or(0);
  }

  uint64_t skippable(bool from_client) const {
    if (from_client) return request_counting ? UINT64_MAX : body_left(request, request_held);
    return response_counting ? UINT64_MAX : body_left(response, response_held);
  }

  // Bytes the relay spliced past us: a body's middle, which the parser is shown as zeros (it
  // only counts a Content-Length body's bytes), or counted bytes.
  void skipped(bool from_client, size_t n) {
    static const std::string zeros(size_t{1} << 20, '\0');
    while (n > 0) {
      const size_t piece = std::min(n, zeros.size());
      if (from_client) {
        client_bytes(zeros.data(), piece);
      } else {
        backend_bytes(zeros.data(), piece);
      }
      n -= piece;
    }
  }

  void on_backend_eof() {
    if (!response || response_counting) return;
    error_code ec;
    response->put_eof(ec);  // a response without length ends at close
    if (!ec && response->is_done() && !pending.empty()) {
      response_done(SteadyClock::now());
    } else {
      response.reset();
    }
  }

  void on_finish() {
    if (finished) return;
    finished = true;
    // A request whose head arrived but whose body did not is still reported (status 0).
    if (request && request_in_queue && !pending.empty()) {
      pending.back().request = std::move(request->msg);
      pending.back().bytes = request_msg_bytes;
    }
    for (Pending& p : pending) report_exchange(p, nullptr, 0, SteadyClock::now());
    pending.clear();
    const uint64_t up = seen_http ? total_up - parsed_up : total_up;
    const uint64_t down = seen_http ? total_down - parsed_down : total_down;
    if (seen_http && !upgraded && up == 0 && down == 0) return;
    ObservedExchange e = base;
    e.http = false;
    e.request_bytes = up;
    e.response_bytes = down;
    e.latency_ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - accepted).count();
    if (hooks->report) hooks->report(std::move(e));
  }
};

HttpObserver::HttpObserver(std::shared_ptr<const ExchangeObserver> hooks, ObservedExchange base)
    : state_(std::make_unique<State>()) {
  state_->hooks = std::move(hooks);
  state_->base = std::move(base);
}

HttpObserver::~HttpObserver() = default;

void HttpObserver::from_client(const char* data, size_t n) {
  state_->client_bytes(data, n);
}
void HttpObserver::from_backend(const char* data, size_t n) {
  state_->backend_bytes(data, n);
}
uint64_t HttpObserver::skippable(bool from_client) const {
  return state_->skippable(from_client);
}
void HttpObserver::skipped(bool from_client, size_t n) {
  state_->skipped(from_client, n);
}
void HttpObserver::backend_eof() {
  state_->on_backend_eof();
}
void HttpObserver::finish() {
  state_->on_finish();
}

}  // namespace ticketctl::net
