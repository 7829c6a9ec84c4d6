// The ingress data plane (see proxy.h). One translation unit on purpose: Boost.Beast is slow to
// compile, and everything here is one concern — moving bytes between a client and an endpoint.
//
// Shape: N workers, each one io_context run by one thread. The acceptors live on worker 0 and
// hand each accepted socket to the next worker, where its session coroutine runs to the end; so a
// connection, its upstream connections and the worker's upstream pool are only ever touched by
// one thread. Timeouts are deadlines stored in the connection record and enforced by a per-worker
// sweep (nginx-style coarse timers) instead of one Asio timer per read and write.
// Errors are error_code values throughout (as_tuple); nothing on the data path throws.

#include "runtime/ingress/proxy.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runtime/ingress/http_rules.h"

namespace ticketctl::ingress {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
// Sockets bound to a concrete io_context executor: cheaper than any_io_executor's type erasure.
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using TlsStream = ssl::stream<Socket>;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunk = 32 * 1024;          // relay buffer per direction
constexpr std::size_t kTapHeaderBytes = 8 * 1024;  // header bytes kept per message for the tap
constexpr auto kNever = Clock::time_point::max();
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::chrono::seconds kPoolSweep{1};  // how often idle upstream connections are checked
constexpr int kAcceptBatch = 64;  // connections accepted per wake of the acceptor

// ---------------------------------------------------------------------------------------------
// Small helpers

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

bool idempotent(http::verb m) {
  switch (m) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::trace:
      return true;
    default:
      return false;
  }
}

// The hop-by-hop fields a proxy never forwards (RFC 9110 7.6.1); framing is regenerated.
bool hop_by_hop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::content_length:
      return true;
    default:
      return false;
  }
}

// Field names listed in Connection (besides the standard tokens) are hop-by-hop too.
std::vector<std::string> connection_tokens(std::string_view value) {
  std::vector<std::string> out;
  for (auto tok : http::token_list{value}) out.push_back(lower(tok));
  return out;
}

bool listed(const std::vector<std::string>& tokens, std::string_view name) {
  for (const auto& t : tokens)
    if (iequals(t, name)) return true;
  return false;
}

std::string_view reason_of(int status) {
  return http::obsolete_reason(static_cast<http::status>(status));
}

Socket& lowest(Socket& s) {
  return s;
}
Socket& lowest(TlsStream& s) {
  return s.next_layer();
}

// An idle pooled upstream connection is of no use once the endpoint closed it (EOF: the socket
// is in CLOSE-WAIT), reset it, or sent bytes nobody asked for.
bool unusable_idle(Socket& s) {
  char c;
  const ssize_t r = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// ---------------------------------------------------------------------------------------------
// Per-thread state

struct Worker;

// What the sweep and stop() may touch of a live client connection. Lives in the session's
// coroutine frame; registered with its worker while alive.
struct ConnRecord {
  Socket* client = nullptr;
  Socket* upstream = nullptr;
  Clock::time_point client_deadline = kNever, upstream_deadline = kNever;
  bool client_timed_out = false, upstream_timed_out = false;
  bool idle = false;     // waiting for the next request, nothing buffered
  bool closing = false;  // stop() closed it
};

struct IdleUpstream {
  Socket socket;
  Clock::time_point since;
};

// A published Routing as one worker holds it: the newest it has seen, and older ones while
// requests that started on them still run.
struct HeldRouting {
  std::shared_ptr<const Routing> routing;
  uint64_t version = 0;
  std::size_t users = 0;
};

struct Worker {
  std::unique_ptr<asio::io_context> ioc = std::make_unique<asio::io_context>(1);
  std::list<HeldRouting> routings;  // back(): the newest
  std::unordered_set<ConnRecord*> conns;
  std::unordered_map<std::string, std::deque<IdleUpstream>> pool;
  std::thread thread;
  bool sweeping = true;
  asio::steady_timer* sweep_timer = nullptr;  // sweep()'s, to wake it when a connection comes
};

// ---------------------------------------------------------------------------------------------
// TLS

struct TlsContexts {
  std::function<std::optional<CertificatePem>(std::string_view)> hook;
  std::unique_ptr<ssl::context> fallback;
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<ssl::context>> by_host;  // nullptr = default

  static Result<std::unique_ptr<ssl::context>> make(const std::string& cert,
                                                    const std::string& key) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                     ec);
    ctx->use_certificate_chain(asio::buffer(cert), ec);
    if (ec) return Error{ErrorCode::Invalid, "TLS certificate: " + ec.message()};
    ctx->use_private_key(asio::buffer(key), ssl::context::pem, ec);
    if (ec) return Error{ErrorCode::Invalid, "TLS private key: " + ec.message()};
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
      return Error{ErrorCode::Invalid, "TLS private key does not match the certificate"};
    return ctx;
  }

  std::shared_ptr<ssl::context> for_host(const std::string& host) {
    {
      std::lock_guard lock(mu);
      if (auto it = by_host.find(host); it != by_host.end()) return it->second;
    }
    std::shared_ptr<ssl::context> ctx;
    if (hook) {
      if (auto pem = hook(host)) {
        if (auto made = make(pem->first, pem->second)) ctx = std::move(made.value());
      }
    }
    std::lock_guard lock(mu);
    return by_host.emplace(host, std::move(ctx)).first->second;
  }

  static int on_servername(SSL* ssl, int*, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr || *name == '\0') return SSL_TLSEXT_ERR_OK;
    auto* self = static_cast<TlsContexts*>(arg);
    if (auto ctx = self->for_host(lower(name)))
      SSL_set_SSL_CTX(ssl, ctx->native_handle());  // the SSL keeps its own reference
    return SSL_TLSEXT_ERR_OK;
  }

  void install_sni() {
    SSL_CTX_set_tlsext_servername_callback(fallback->native_handle(), &on_servername);
    SSL_CTX_set_tlsext_servername_arg(fallback->native_handle(), this);
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// The proxy

struct IngressProxy::Impl {
  ProxyOptions opt;
  ProxyHooks hooks;
  TlsContexts tls;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> http_acceptor, https_acceptor;
  int http_port = -1, https_port = -1;
  std::atomic<std::size_t> next_worker{0};
  std::atomic<bool> stopping{false};
  bool running = false;

  std::mutex active_mu;
  std::condition_variable active_cv;
  std::size_t active = 0;

  // Published by publish(); a worker takes its own reference only when the version changed.
  std::mutex routing_mu;
  std::shared_ptr<const Routing> routing;
  std::atomic<uint64_t> routing_version{0};

  HeldRouting& hold_routing(Worker& w) {
    const uint64_t seen = routing_version.load(std::memory_order_acquire);
    if (w.routings.empty() || w.routings.back().version != seen) {
      HeldRouting fresh;
      {
        std::lock_guard lock(routing_mu);
        fresh.routing = routing;
        fresh.version = routing_version.load(std::memory_order_relaxed);
      }
      if (!w.routings.empty() && w.routings.back().users == 0) w.routings.pop_back();
      w.routings.push_back(std::move(fresh));
    }
    HeldRouting& held = w.routings.back();
    ++held.users;
    return held;
  }
  static void release_routing(Worker& w, HeldRouting& held) {
    if (--held.users > 0 || &held == &w.routings.back()) return;
    for (auto it = w.routings.begin(); it != w.routings.end(); ++it) {
      if (&*it == &held) {
        w.routings.erase(it);
        return;
      }
    }
  }

  void session_started() {
    std::lock_guard lock(active_mu);
    ++active;
  }
  void session_ended() {
    std::lock_guard lock(active_mu);
    if (--active == 0) active_cv.notify_all();
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, bool secure);
  asio::awaitable<void> sweep(Worker& w);
  // Closes the worker's idle upstream connections that the endpoint closed (else they would
  // sit in CLOSE-WAIT until reused) or that were idle longer than upstream_idle_timeout.
  void sweep_pool(Worker& w, Clock::time_point now);
  void run_on_all(const std::function<void(Worker&)>& fn);
};

namespace {

using Impl = IngressProxy::Impl;

// Registers a connection record with its worker for the lifetime of a session.
struct Registration {
  Impl& impl;
  Worker& w;
  ConnRecord& rec;
  Registration(Impl& i, Worker& wk, ConnRecord& r) : impl(i), w(wk), rec(r) {
    if (w.conns.empty() && w.sweep_timer) w.sweep_timer->cancel();  // deadlines to watch again
    w.conns.insert(&rec);
    impl.session_started();
  }
  ~Registration() {
    w.conns.erase(&rec);
    impl.session_ended();
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
};

// The routing one request uses, held for the request's whole life.
struct RoutingPin {
  Worker& w;
  HeldRouting& held;
  RoutingPin(Impl& impl, Worker& wk) : w(wk), held(impl.hold_routing(wk)) {}
  ~RoutingPin() { Impl::release_routing(w, held); }
  RoutingPin(const RoutingPin&) = delete;
  RoutingPin& operator=(const RoutingPin&) = delete;
  const Routing* get() const { return held.routing.get(); }
};

enum class Head { ok, closed, timeout, bad, line_too_long, too_large };

enum class Framing { none, length, chunked, until_close };

// One client connection: a loop of requests, each relayed to an endpoint or answered here.
template <class Stream>
class Session {
 public:
  Session(Impl& impl, Worker& w, Stream& stream, bool secure, int listen_port, std::string peer,
          uint16_t peer_port)
      : impl_(impl),
        opt_(impl.opt),
        w_(w),
        s_(stream),
        secure_(secure),
        listen_port_(listen_port),
        peer_(std::move(peer)),
        peer_port_(peer_port) {
    rec_.client = &lowest(s_);
  }

  asio::awaitable<void> run() {
    Registration reg(impl_, w_, rec_);
    if constexpr (!std::is_same_v<Stream, Socket>) {
      client_deadline(opt_.header_timeout);
      auto [ec] = co_await s_.async_handshake(ssl::stream_base::server, nothrow);
      client_clear();
      if (ec) co_return close_client();
    }
    bool keep = true;
    while (keep && !rec_.closing) keep = co_await one_request();
    if (unread_request_bytes_) co_await lingering_close();
    close_client();
    drop_upstream();
  }

 private:
  // ---- deadlines (enforced by Impl::sweep)
  void client_deadline(std::chrono::milliseconds t) {
    rec_.client_timed_out = false;
    rec_.client_deadline = Clock::now() + t;
  }
  void client_clear() { rec_.client_deadline = kNever; }
  void upstream_deadline(std::chrono::milliseconds t) {
    rec_.upstream_timed_out = false;
    rec_.upstream_deadline = Clock::now() + t;
  }
  void upstream_clear() { rec_.upstream_deadline = kNever; }

  void close_client() {
    error_code ec;
    lowest(s_).close(ec);
  }
  void drop_upstream() {
    if (up_) {
      error_code ec;
      up_->close(ec);
      up_.reset();
    }
    rec_.upstream = nullptr;
  }

  // Closing with unread request bytes would make the kernel send RST, which can destroy the
  // error response before the client reads it: shut down our side and drain for a moment.
  asio::awaitable<void> lingering_close() {
    if constexpr (std::is_same_v<Stream, Socket>) {
      error_code ec;
      s_.shutdown(tcp::socket::shutdown_send, ec);
      if (ec) co_return;
      client_deadline(std::chrono::milliseconds(2000));
      std::size_t drained = 0;
      std::vector<char> scratch(4096);
      while (drained < (8u << 20)) {
        auto [rec, n] = co_await s_.async_read_some(asio::buffer(scratch), nothrow);
        if (rec) break;
        drained += n;
      }
      client_clear();
    }
  }

  // GCC 12 mishandles temporaries with destructors inside co_await expressions (double frees):
  // messages are built into named locals before being awaited on.
  //
  // Gather writes of up to four pieces (framing + data + framing). Plain parameters rather than
  // an initializer_list: GCC 12 miscompiles braced lists inside co_await expressions.
  using Pieces = std::array<asio::const_buffer, 4>;

  asio::awaitable<bool> write_client(asio::const_buffer a, asio::const_buffer b = {},
                                     asio::const_buffer c = {}, asio::const_buffer d = {}) {
    const Pieces bufs{a, b, c, d};
    const std::size_t total = a.size() + b.size() + c.size() + d.size();
    std::size_t done = 0;
    if constexpr (std::is_same_v<Stream, Socket>) {
      if (!write_now(s_, bufs, done)) co_return false;
      log_.bytes_out += done;
      if (done == total) co_return true;
    }
    beast::buffers_suffix<Pieces> rest(bufs);
    rest.consume(done);
    client_deadline(opt_.client_send_timeout);
    auto [ec, n] = co_await asio::async_write(s_, rest, nothrow);
    client_clear();
    log_.bytes_out += n;
    co_return !ec && done + n == total;
  }

  asio::awaitable<bool> write_upstream(std::chrono::milliseconds timeout, asio::const_buffer a,
                                       asio::const_buffer b = {}, asio::const_buffer c = {}) {
    const Pieces bufs{a, b, c, asio::const_buffer{}};
    std::size_t done = 0;
    if (!write_now(*up_, bufs, done)) co_return false;
    if (done == a.size() + b.size() + c.size()) co_return true;
    beast::buffers_suffix<Pieces> rest(bufs);
    rest.consume(done);
    upstream_deadline(timeout);
    auto [ec, n] = co_await asio::async_write(*up_, rest, nothrow);
    upstream_clear();
    co_return !ec;
  }

  // Most writes fit in the socket buffer: one non-blocking send, without a trip through the
  // scheduler; what is left goes through async_write. false = the connection is broken.
  static bool write_now(Socket& sock, const Pieces& bufs, std::size_t& written) {
    error_code ec;
    written = sock.write_some(bufs, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      written = 0;
      return true;
    }
    return !ec;
  }

  // ---- reading one request head, with the checks Beast's parser does not make
  asio::awaitable<Head> read_head(std::size_t& head_len) {
    // Tolerate empty lines before a request (RFC 9112 2.2), e.g. after a POST body.
    auto skip_blank = [&] {
      for (;;) {
        const auto d = std::string_view(static_cast<const char*>(buf_.data().data()), buf_.size());
        if (d.starts_with("\r\n"))
          buf_.consume(2);
        else
          return;
      }
    };
    skip_blank();
    const bool first = requests_ == 0;
    rec_.idle = buf_.size() == 0;  // stop() may close it: no request has begun
    if (rec_.idle && impl_.stopping.load(std::memory_order_relaxed)) co_return Head::closed;
    client_deadline(rec_.idle && !first ? opt_.keepalive_timeout : opt_.header_timeout);
    std::size_t scanned = 0;
    bool line_done = false;
    for (;;) {
      const auto d = std::string_view(static_cast<const char*>(buf_.data().data()), buf_.size());
      for (; scanned < d.size(); ++scanned) {
        const char c = d[scanned];
        if (c == '\n') {
          if (scanned == 0 || d[scanned - 1] != '\r') co_return Head::bad;  // bare LF
          if (!line_done) {
            if (scanned + 1 > opt_.max_request_line) co_return Head::line_too_long;
            line_done = true;
          }
          if (scanned >= 3 && d.substr(scanned - 3, 4) == "\r\n\r\n") {
            head_len = scanned + 1;
            client_clear();
            rec_.idle = false;
            co_return Head::ok;
          }
        } else if (c == '\r') {
          if (scanned + 1 == d.size()) break;               // look again when the next byte is here
          if (d[scanned + 1] != '\n') co_return Head::bad;  // bare CR
        } else if (c == ' ' || c == '\t') {
          // A field line starting with whitespace is obs-fold (or space before the first field).
          if (scanned > 0 && d[scanned - 1] == '\n') co_return Head::bad;
        } else if (c == '\0') {
          co_return Head::bad;
        }
      }
      if (!line_done && d.size() > opt_.max_request_line) co_return Head::line_too_long;
      if (d.size() > opt_.max_header_bytes) co_return Head::too_large;
      auto [ec, n] = co_await s_.async_read_some(buf_.prepare(8192), nothrow);
      if (ec) {
        const bool got_some = buf_.size() > 0;
        client_clear();
        if (rec_.closing) co_return Head::closed;
        if (rec_.client_timed_out && (got_some || first)) co_return Head::timeout;
        co_return Head::closed;
      }
      buf_.commit(n);
      rec_.idle = false;
      skip_blank();
      if (buf_.size() == 0) scanned = 0;
    }
  }

  // ---- answers the proxy makes itself
  asio::awaitable<bool> respond(int status, std::string_view body, bool close,
                                std::string_view extra_headers = {}) {
    std::string out;
    out.reserve(256 + body.size());
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason_of(status);
    out += "\r\nServer: ticketctl\r\n";
    if (!body.empty()) out += "Content-Type: text/plain; charset=utf-8\r\n";
    const bool send_body = !is_head_ && status != 204 && status != 304;
    if (status != 204) {
      out += "Content-Length: ";
      out += std::to_string(body.empty() ? 0 : body.size() + 1);
      out += "\r\n";
    }
    if (close)
      out += "Connection: close\r\n";
    else if (client_version_ == 10)
      out += "Connection: keep-alive\r\n";
    out += extra_headers;
    out += "\r\n";
    if (send_body && !body.empty()) {
      out += body;
      out += '\n';
    }
    log_.status = status;
    const bool ok = co_await write_client(asio::buffer(out));
    co_return ok && !close;
  }

  // Error answer that ends the connection (parsing errors, 408, 413 ...).
  asio::awaitable<bool> fail(int status, std::string_view body) {
    co_await respond(status, body, true);
    finish_log();
    co_return false;
  }

  bool can_keep_client() const {
    return parser_ && parser_->is_done() && parser_->keep_alive() &&
           !impl_.stopping.load(std::memory_order_relaxed);
  }

  // Clears the entry keeping its strings' capacity: no allocation per request once warm.
  void reset_log() {
    for (std::string* f : {&log_.client, &log_.scheme, &log_.host, &log_.method, &log_.path,
                           &log_.rule, &log_.upstream, &log_.pod, &log_.request_id})
      f->clear();
    log_.status = 0;
    log_.bytes_in = log_.bytes_out = 0;
    log_.duration_ms = 0;
    if (log_.captured) {
      log_.captured = false;
      log_.client_port = 0;
      log_.service.clear();
      log_.request_headers.clear();
      log_.response_headers.clear();
      log_.request_body.clear();
      log_.response_body.clear();
    }
    capture_ = Capture::None;
  }

  // A message's header fields, for the tap: at most kTapHeaderBytes of them, so a reader's
  // queue of exchanges stays small whatever the headers (up to 64 KiB here) hold.
  template <class Fields>
  static void keep_headers(std::vector<std::pair<std::string, std::string>>& into,
                           const Fields& fields) {
    std::size_t kept = 0;
    for (const auto& f : fields) {
      kept += f.name_string().size() + f.value().size();
      if (kept > kTapHeaderBytes) {
        into.emplace_back("X-Ticketctl-Tap", "more header fields were not kept");
        return;
      }
      into.emplace_back(f.name_string(), f.value());
    }
  }

  // The first body_limit bytes of a body, for the tap.
  void keep_body(std::string& into, const char* data, std::size_t n) const {
    if (capture_ != Capture::Bodies || into.size() >= impl_.hooks.body_limit) return;
    into.append(data, std::min(n, impl_.hooks.body_limit - into.size()));
  }

  void finish_log() {
    if (!impl_.hooks.access_log) return;
    log_.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    impl_.hooks.access_log(log_);
  }

  // ---- one request/response exchange; false → close the connection
  asio::awaitable<bool> one_request() {
    std::size_t head_len = 0;
    const Head head = co_await read_head(head_len);
    if (head == Head::closed) co_return false;
    reset_log();
    log_.time = std::chrono::system_clock::now();
    log_.client = peer_;
    log_.scheme = secure_ ? "https" : "http";
    if (impl_.hooks.capture) capture_ = impl_.hooks.capture();
    if (capture_ != Capture::None) {
      log_.captured = true;
      log_.client_port = peer_port_;
    }
    started_ = Clock::now();
    is_head_ = false;
    client_version_ = 11;
    unread_request_bytes_ = false;
    switch (head) {
      case Head::timeout:
        co_return co_await fail(408, "request header timeout");
      case Head::bad:
        unread_request_bytes_ = true;
        co_return co_await fail(400, "bad request");
      case Head::line_too_long:
        unread_request_bytes_ = true;
        co_return co_await fail(414, "request line too long");
      case Head::too_large:
        unread_request_bytes_ = true;
        co_return co_await fail(431, "request header fields too large");
      default:
        break;
    }
    ++requests_;
    log_.bytes_in = head_len;

    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opt_.max_header_bytes + 4));
    parser_->body_limit(boost::none);
    error_code ec;
    const bool other_version =
        unsupported_version({static_cast<const char*>(buf_.data().data()), head_len});
    const std::size_t used = parser_->put(asio::buffer(buf_.data().data(), head_len), ec);
    if (!ec && !parser_->is_header_done()) ec = http::error::partial_message;
    buf_.consume(used);
    auto& req = parser_->get();
    client_version_ = req.version() == 10 ? 10 : 11;
    if (ec) {
      unread_request_bytes_ = true;
      if (ec == http::error::header_limit)
        co_return co_await fail(431, "request header fields too large");
      if (ec == http::error::bad_version && other_version)
        co_return co_await fail(505, "HTTP version not supported");
      const std::string why = "bad request: " + ec.message();
      co_return co_await fail(400, why);
    }
    log_.method = req.method_string();
    log_.path = req.target();
    if (capture_ != Capture::None) keep_headers(log_.request_headers, req);
    is_head_ = req.method() == http::verb::head;
    if (req.version() != 10 && req.version() != 11) {
      unread_request_bytes_ = true;
      co_return co_await fail(505, "HTTP version not supported");
    }
    if (!parser_->is_done()) unread_request_bytes_ = true;

    // Smuggling guards beyond Beast's (it already rejects CL with TE and differing CLs).
    const auto te_count = req.count(http::field::transfer_encoding);
    if (te_count > 1 || (te_count == 1 && !iequals(req[http::field::transfer_encoding], "chunked")))
      co_return co_await fail(400, "bad request: unsupported Transfer-Encoding");
    if (req.count(http::field::host) > 1)
      co_return co_await fail(400, "bad request: more than one Host");
    if (req.version() == 11 && req.count(http::field::host) == 0)
      co_return co_await fail(400, "bad request: missing Host");
    if (req.method() == http::verb::connect)
      co_return co_await fail(405, "CONNECT is not supported");

    // Target: origin-form, or absolute-form whose authority replaces Host (RFC 9112 3.2.2).
    std::string_view target = req.target();
    std::string_view host_value = req[http::field::host];
    for (std::string_view scheme : {"http://", "https://"}) {
      if (target.size() > scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
        const auto rest = target.substr(scheme.size());
        const auto slash = rest.find('/');
        host_value = rest.substr(0, slash);
        target = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
      }
    }
    if (target.empty() || (target.front() != '/' && target != "*"))
      co_return co_await fail(400, "bad request: bad target");
    if (!normalize_host(host_value, host_)) co_return co_await fail(400, "bad request: bad Host");
    const std::string& host = host_;
    log_.host = host;

    const RoutingPin routing(impl_, w_);
    const std::optional<RouteRef> match =
        routing.get() ? routing.get()->route(host, target, rewritten_target_) : std::nullopt;
    if (!match) {
      const std::string why =
          "no ingress rule for " + (host.empty() ? "(no host)" : host) + " " + std::string(target);
      const bool ok = co_await respond(404, why, !can_keep_client());
      finish_log();
      co_return ok;
    }
    log_.rule = match->rule;
    if (capture_ != Capture::None) {
      log_.service.assign(match->ns);
      log_.service += '/';
      log_.service += match->service;
    }
    const RouteOptions& ro = match->options;

    if (!secure_ && (ro.force_ssl_redirect || (ro.ssl_redirect && match->host_has_tls)) &&
        impl_.https_port >= 0) {
      const int port = opt_.redirect_https_port > 0 ? opt_.redirect_https_port : impl_.https_port;
      std::string location = "Location: https://" + host;
      if (port != 443) location += ":" + std::to_string(port);
      location += std::string(target);
      location += "\r\n";
      const bool ok = co_await respond(308, "redirecting to https", !can_keep_client(), location);
      finish_log();
      co_return ok;
    }

    if (ro.enable_cors && req.method() == http::verb::options) {
      const bool ok = co_await respond(
          204, {}, !can_keep_client(),
          "Access-Control-Allow-Origin: *\r\n"
          "Access-Control-Allow-Credentials: true\r\n"
          "Access-Control-Allow-Methods: GET, PUT, POST, DELETE, PATCH, OPTIONS\r\n"
          "Access-Control-Allow-Headers: DNT,Keep-Alive,User-Agent,X-Requested-With,"
          "If-Modified-Since,Cache-Control,Content-Type,Range,Authorization\r\n"
          "Access-Control-Max-Age: 1728000\r\n");
      finish_log();
      co_return ok;
    }

    if (ro.max_body_bytes > 0) {
      if (auto cl = parser_->content_length();
          cl && *cl > static_cast<uint64_t>(ro.max_body_bytes)) {
        const std::string why =
            "request body larger than " + std::to_string(ro.max_body_bytes) + " bytes";
        co_return co_await fail(413, why);
      }
      parser_->body_limit(static_cast<uint64_t>(ro.max_body_bytes));
    }

    const Endpoints endpoints = routing.get()->endpoints(match->ns, match->service, match->port);
    if (endpoints.backends.empty()) {
      const std::string why = "no ready endpoint for service " + std::string(match->ns) + "/" +
                              std::string(match->service) + " (rule " + std::string(match->rule) +
                              ")";
      const bool ok = co_await respond(503, why, !can_keep_client(), "Retry-After: 5\r\n");
      finish_log();
      co_return ok;
    }
    co_return co_await relay(*match, endpoints);
  }

  // ---- upstream connections
  enum class Connect { ok, refused, timeout };

  static bool peer_closed(Socket& s) {
    char c;
    const ssize_t r = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  asio::awaitable<Connect> acquire(const net::Backend& b, const RouteOptions& ro, bool fresh_only) {
    drop_upstream();
    reused_ = false;
    pool_key_.clear();
    pool_key_ += b.ip;
    pool_key_ += ':';
    append_port(pool_key_, b.port);
    if (!fresh_only) {
      if (auto it = w_.pool.find(pool_key_); it != w_.pool.end()) {
        auto& idle = it->second;
        const auto now = Clock::now();
        while (!idle.empty()) {
          IdleUpstream conn = std::move(idle.back());
          idle.pop_back();
          if (now - conn.since > opt_.upstream_idle_timeout) continue;
          // A connection idle for a while may have been closed by the endpoint (Node closes
          // after 5 s): peek before reusing it. Busy connections skip the extra syscall.
          if (now - conn.since > std::chrono::seconds(1) && peer_closed(conn.socket)) continue;
          up_.emplace(std::move(conn.socket));
          reused_ = true;
          rec_.upstream = &*up_;
          co_return Connect::ok;
        }
      }
    }
    error_code ec;
    const auto addr = asio::ip::make_address(b.ip, ec);
    if (ec) co_return Connect::refused;
    up_.emplace(w_.ioc->get_executor());
    rec_.upstream = &*up_;
    upstream_deadline(ro.connect_timeout);
    auto [cec] = co_await up_->async_connect(tcp::endpoint(addr, b.port), nothrow);
    upstream_clear();
    if (cec) {
      const bool timed_out = rec_.upstream_timed_out;
      drop_upstream();
      co_return timed_out ? Connect::timeout : Connect::refused;
    }
    up_->set_option(tcp::no_delay(true), ec);
    up_->non_blocking(true, ec);  // for write_now()
    co_return Connect::ok;
  }

  void release_upstream() {
    if (!up_) return;
    auto& idle = w_.pool[pool_key_];
    const auto now = Clock::now();
    while (!idle.empty() && now - idle.front().since > opt_.upstream_idle_timeout) idle.pop_front();
    if (idle.size() >= opt_.upstream_idle_per_endpoint) idle.pop_front();
    idle.push_back(IdleUpstream{std::move(*up_), now});
    up_.reset();
    rec_.upstream = nullptr;
  }

  // The request head sent upstream, into up_head_: original fields minus hop-by-hop, plus
  // X-Forwarded-*. The strings are members so that their capacity serves the next requests.
  void upstream_head(const RouteRef& m, bool upgrade, bool drop_expect) {
    auto& req = parser_->get();
    const auto tokens = connection_tokens(req[http::field::connection]);
    std::string& out = up_head_;
    out.clear();
    out += req.method_string();
    out += ' ';
    out += m.target;
    out += " HTTP/1.1\r\n";
    std::string& xff = xff_;
    std::string& request_id_value = log_.request_id;
    xff.clear();
    request_id_value.clear();
    for (const auto& f : req) {
      const auto name = f.name_string();
      if (hop_by_hop(f.name()) || listed(tokens, name)) continue;
      if (drop_expect && f.name() == http::field::expect) continue;
      if (iequals(name, "X-Forwarded-For")) {
        if (!xff.empty()) xff += ", ";
        xff += f.value();
        continue;
      }
      if (iequals(name, "X-Request-ID")) {
        if (request_id_value.empty()) request_id_value = f.value();
        continue;
      }
      if (iequals(name, "X-Real-IP") || iequals(name, "X-Forwarded-Proto") ||
          iequals(name, "X-Forwarded-Host") || iequals(name, "X-Forwarded-Port") ||
          iequals(name, "X-Scheme"))
        continue;
      append_field(out, name, f.value());
    }
    if (request_id_value.empty()) make_request_id(request_id_value);
    if (!xff.empty()) xff += ", ";
    xff += peer_;
    const std::string_view proto = secure_ ? "https" : "http";
    append_field(out, "X-Request-ID", request_id_value);
    append_field(out, "X-Real-IP", peer_);
    append_field(out, "X-Forwarded-For", xff);
    append_field(out, "X-Forwarded-Host", req[http::field::host]);
    append_field(out, "X-Forwarded-Port", std::to_string(listen_port_));
    append_field(out, "X-Forwarded-Proto", proto);
    append_field(out, "X-Scheme", proto);
    if (parser_->chunked()) {
      out += "Transfer-Encoding: chunked\r\n";
    } else if (auto cl = parser_->content_length()) {
      append_field(out, "Content-Length", std::to_string(*cl));
    }
    if (upgrade) {
      append_field(out, "Upgrade", req[http::field::upgrade]);
      out += "Connection: upgrade\r\n";
    }
    out += "\r\n";
  }

  char* chunk_buffer() {
    if (!chunk_) chunk_ = std::make_unique<char[]>(kChunk);
    return chunk_.get();
  }

  // Streams the request body client → upstream. 0 = ok, else the status to answer.
  asio::awaitable<int> relay_request_body(const RouteOptions& ro) {
    char* chunk = chunk_buffer();
    const bool chunked = parser_->chunked();
    while (!parser_->is_done()) {
      auto& body = parser_->get().body();
      body.data = chunk;
      body.size = kChunk;
      client_deadline(opt_.client_body_timeout);
      auto [ec, n] = co_await http::async_read_some(s_, buf_, *parser_, nothrow);
      client_clear();
      if (ec == http::error::need_buffer) ec = {};
      const std::size_t got = kChunk - body.size;
      log_.bytes_in += n;
      keep_body(log_.request_body, chunk, got);
      if (ec) {
        if (ec == http::error::body_limit) co_return 413;
        if (rec_.client_timed_out) co_return 408;
        co_return 400;
      }
      if (got == 0 && !(chunked && parser_->is_done())) continue;
      bool ok;
      if (chunked) {
        std::string framing;
        if (got) append_chunk_header(framing, got);
        const std::string_view tail =
            parser_->is_done() ? (got ? "\r\n0\r\n\r\n" : "0\r\n\r\n") : "\r\n";
        ok = co_await write_upstream(ro.send_timeout, asio::buffer(framing),
                                     asio::buffer(chunk, got), asio::buffer(tail));
      } else {
        ok = co_await write_upstream(ro.send_timeout, asio::buffer(chunk, got));
      }
      if (!ok) co_return 502;
    }
    unread_request_bytes_ = false;
    co_return 0;
  }

  asio::awaitable<bool> upstream_failure(int status, std::string_view what, const RouteRef& m) {
    drop_upstream();
    const std::string why = std::string(what) + " (service " + std::string(m.ns) + "/" +
                            std::string(m.service) + ", rule " + std::string(m.rule) + ")";
    co_return co_await fail(status, why);
  }

  // ---- the proxied exchange
  asio::awaitable<bool> relay(const RouteRef& m, const Endpoints& endpoints) {
    const std::span<const net::Backend> backends = endpoints.backends;
    auto& req = parser_->get();
    const RouteOptions& ro = m.options;
    const bool may_retry = idempotent(req.method());
    const bool has_body = !parser_->is_done();
    const bool upgrade =
        parser_->upgrade() || (req.count(http::field::upgrade) > 0 &&
                               listed(connection_tokens(req[http::field::connection]), "upgrade"));
    const bool expect_continue =
        req.version() == 11 && iequals(req[http::field::expect], "100-continue");

    const uint64_t turn =
        endpoints.next ? endpoints.next->fetch_add(1, std::memory_order_relaxed) : 0;
    std::size_t index = static_cast<std::size_t>(turn % backends.size());
    bool tried_other = false, tried_fresh = false, body_sent = false, fresh_only = false;
    upstream_head(m, upgrade, expect_continue);
    const std::string& head = up_head_;

    for (;;) {
      const net::Backend& b = backends[index];
      log_.upstream.clear();
      log_.upstream += b.ip;
      log_.upstream += ':';
      append_port(log_.upstream, b.port);
      log_.pod = b.pod;
      const Connect c = co_await acquire(b, ro, fresh_only);
      if (c == Connect::timeout)
        co_return co_await upstream_failure(504, "upstream connect timeout", m);
      if (c == Connect::refused) {
        if (may_retry && !tried_other && backends.size() > 1) {
          tried_other = true;
          index = (index + 1) % backends.size();
          continue;
        }
        co_return co_await upstream_failure(502, "upstream connection refused", m);
      }
      if (!co_await write_upstream(ro.send_timeout, asio::buffer(head))) {
        if (reused_ && !tried_fresh) {
          tried_fresh = fresh_only = true;
          continue;
        }
        co_return co_await upstream_failure(502, "upstream write failed", m);
      }
      if (has_body && !body_sent) {
        if (expect_continue && !co_await write_client(asio::buffer(kContinue))) co_return false;
        body_sent = true;
        const int status = co_await relay_request_body(ro);
        if (status == 408) co_return co_await upstream_failure(408, "request body timeout", m);
        if (status == 413) {
          const std::string why =
              "request body larger than " + std::to_string(ro.max_body_bytes) + " bytes";
          co_return co_await upstream_failure(413, why, m);
        }
        if (status == 400)  // a broken body (bad chunk) or the client went away
          co_return co_await upstream_failure(400, "bad request body", m);
        if (status == 502) co_return co_await upstream_failure(502, "upstream write failed", m);
      }
      // Response head; 1xx other than 101 are consumed here (we answered 100 ourselves).
      ubuf_.clear();
      const ResponseHead r = co_await read_response_head(ro);
      if (r == ResponseHead::ok) break;
      if (r == ResponseHead::timeout)
        co_return co_await upstream_failure(504, "upstream read timeout", m);
      if (r == ResponseHead::closed_early && reused_ && !tried_fresh && !has_body && may_retry) {
        tried_fresh = fresh_only = true;
        continue;
      }
      co_return co_await upstream_failure(502, "bad or no response from upstream", m);
    }
    co_return co_await relay_response(m, upgrade);
  }

  enum class ResponseHead { ok, timeout, closed_early, bad };

  asio::awaitable<ResponseHead> read_response_head(const RouteOptions& ro) {
    for (;;) {
      rparser_.emplace();
      rparser_->header_limit(static_cast<std::uint32_t>(opt_.max_response_header_bytes));
      rparser_->body_limit(boost::none);
      if (is_head_) rparser_->skip(true);
      upstream_deadline(ro.read_timeout);
      auto [ec, n] = co_await http::async_read_header(*up_, ubuf_, *rparser_, nothrow);
      upstream_clear();
      if (ec) {
        if (rec_.upstream_timed_out) co_return ResponseHead::timeout;
        if (n == 0 && ubuf_.size() == 0 &&
            (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
             ec == asio::error::eof))
          co_return ResponseHead::closed_early;
        co_return ResponseHead::bad;
      }
      const int status = rparser_->get().result_int();
      if (status >= 100 && status < 200 && status != 101) continue;
      co_return ResponseHead::ok;
    }
  }

  asio::awaitable<bool> relay_response(const RouteRef& m, bool upgrade) {
    auto& res = rparser_->get();
    const int status = res.result_int();
    log_.status = status;
    if (capture_ != Capture::None) keep_headers(log_.response_headers, res);
    if (status == 101) {
      if (!upgrade) co_return co_await upstream_failure(502, "unexpected 101 from upstream", m);
      co_return co_await tunnel();
    }
    const bool no_body = is_head_ || status == 204 || status == 304;
    Framing in = Framing::none, out = Framing::none;
    if (!no_body) {
      if (rparser_->chunked())
        in = Framing::chunked;
      else if (rparser_->content_length())
        in = Framing::length;
      else
        in = Framing::until_close;
      out = in == Framing::length   ? Framing::length
            : client_version_ == 11 ? Framing::chunked
                                    : Framing::until_close;
    }
    bool keep = can_keep_client() && out != Framing::until_close;

    const auto tokens = connection_tokens(res[http::field::connection]);
    std::string& head = down_head_;
    head.clear();
    head += "HTTP/1.1 ";
    head += std::to_string(status);
    head += ' ';
    head += res.reason().empty() ? reason_of(status) : std::string_view(res.reason());
    head += "\r\n";
    for (const auto& f : res) {
      const auto name = f.name_string();
      if (f.name() == http::field::content_length && no_body && status != 204) {
        append_field(head, name, f.value());  // HEAD and 304 keep the representation's length
        continue;
      }
      if (hop_by_hop(f.name()) || listed(tokens, name)) continue;
      if (m.options.enable_cors && (iequals(name, "Access-Control-Allow-Origin") ||
                                    iequals(name, "Access-Control-Allow-Credentials")))
        continue;
      append_field(head, name, f.value());
    }
    if (m.options.enable_cors)
      head += "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\n";
    if (out == Framing::length)
      append_field(head, "Content-Length", std::to_string(*rparser_->content_length()));
    if (out == Framing::chunked) head += "Transfer-Encoding: chunked\r\n";
    if (!keep)
      head += "Connection: close\r\n";
    else if (client_version_ == 10)
      head += "Connection: keep-alive\r\n";
    head += "\r\n";

    bool head_sent = false;
    bool upstream_ok = true;
    if (!rparser_->is_done()) {
      char* chunk = chunk_buffer();
      while (!rparser_->is_done()) {
        auto& body = rparser_->get().body();
        body.data = chunk;
        body.size = kChunk;
        // Nothing buffered and the header not yet sent: send it now so slow streams (SSE)
        // show their head at once; otherwise coalesce head and first bytes in one write.
        if (!head_sent && ubuf_.size() == 0) {
          if (!co_await write_client(asio::buffer(head))) co_return abort_exchange();
          head_sent = true;
        }
        // Bytes already buffered are parsed in place; only an empty buffer means waiting.
        error_code ec;
        if (ubuf_.size() > 0) {
          ubuf_.consume(rparser_->put(ubuf_.data(), ec));
          if (ec == http::error::need_buffer) ec = {};
        }
        if ((ubuf_.size() == 0 || ec == http::error::need_more) && body.size == kChunk &&
            !rparser_->is_done()) {
          upstream_deadline(m.options.read_timeout);
          auto [rec, n] = co_await http::async_read_some(*up_, ubuf_, *rparser_, nothrow);
          upstream_clear();
          ec = rec == http::error::need_buffer ? error_code{} : rec;
        } else if (ec == http::error::need_more) {
          ec = {};
        }
        const std::size_t got = kChunk - body.size;
        if (ec) {
          upstream_ok = false;
          break;
        }
        keep_body(log_.response_body, chunk, got);
        const bool done = rparser_->is_done();
        std::string framing;
        std::string_view tail;
        if (out == Framing::chunked) {
          if (got) append_chunk_header(framing, got);
          tail = done ? (got ? "\r\n0\r\n\r\n" : "0\r\n\r\n") : (got ? "\r\n" : "");
        }
        if (got == 0 && tail.empty()) continue;
        const std::string_view h = head_sent ? std::string_view{} : std::string_view(head);
        head_sent = true;
        if (!co_await write_client(asio::buffer(h), asio::buffer(framing), asio::buffer(chunk, got),
                                   asio::buffer(tail)))
          co_return abort_exchange();
      }
    }
    if (!upstream_ok) {
      // Upstream died mid-response: with the head already out, truncating is all that is honest.
      drop_upstream();
      if (!head_sent) co_return co_await fail(502, "upstream closed the connection early");
      log_.status = status;
      finish_log();
      co_return false;
    }
    if (!head_sent && !co_await write_client(asio::buffer(head))) co_return abort_exchange();
    if (rparser_->keep_alive() && !upgrade)
      release_upstream();
    else
      drop_upstream();
    finish_log();
    co_return keep;
  }

  bool abort_exchange() {
    drop_upstream();
    finish_log();
    return false;
  }

  // ---- Upgrade: after the 101, bytes flow both ways untouched until either side closes.
  asio::awaitable<bool> tunnel() {
    auto& res = rparser_->get();
    std::string head = "HTTP/1.1 101 ";
    head += res.reason().empty() ? std::string_view("Switching Protocols")
                                 : std::string_view(res.reason());
    head += "\r\n";
    for (const auto& f : res) {
      if (f.name() == http::field::connection || f.name() == http::field::keep_alive ||
          f.name() == http::field::transfer_encoding || f.name() == http::field::content_length)
        continue;
      append_field(head, f.name_string(), f.value());
    }
    head += "Connection: upgrade\r\n\r\n";
    // Bytes the upstream sent right after its 101 belong to the new protocol.
    const std::string early_down(static_cast<const char*>(ubuf_.data().data()), ubuf_.size());
    ubuf_.consume(ubuf_.size());
    if (!co_await write_client(asio::buffer(head), asio::buffer(early_down)))
      co_return abort_exchange();
    if (buf_.size() > 0) {
      const std::string early_up(static_cast<const char*>(buf_.data().data()), buf_.size());
      buf_.consume(buf_.size());
      if (!co_await write_upstream(std::chrono::milliseconds(60000), asio::buffer(early_up)))
        co_return abort_exchange();
    }
    std::atomic<uint64_t> up_bytes{0}, down_bytes{0};
    co_await (pump(s_, *up_, up_bytes) && pump(*up_, s_, down_bytes));
    log_.bytes_in += up_bytes;
    log_.bytes_out += down_bytes;
    log_.status = 101;
    drop_upstream();
    finish_log();
    co_return false;
  }

  template <class From, class To>
  asio::awaitable<void> pump(From& from, To& to, std::atomic<uint64_t>& count) {
    std::vector<char> data(16 * 1024);
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(data), nothrow);
      if (n > 0) {
        auto [wec, wn] = co_await asio::async_write(to, asio::buffer(data.data(), n), nothrow);
        count += wn;
        if (wec) break;
      }
      if (ec == asio::error::eof) {
        // Half-close: pass the end of stream on, keep the other direction open.
        error_code ignored;
        lowest(to).shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
      if (ec) break;
    }
    error_code ignored;
    lowest(from).close(ignored);
    lowest(to).close(ignored);
  }

  Impl& impl_;
  const ProxyOptions& opt_;
  Worker& w_;
  Stream& s_;
  const bool secure_;
  const int listen_port_;
  const std::string peer_;
  const uint16_t peer_port_;
  ConnRecord rec_;
  beast::flat_buffer buf_;   // client bytes read but not yet parsed (pipelined requests too)
  beast::flat_buffer ubuf_;  // upstream bytes read but not yet parsed
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::optional<http::response_parser<http::buffer_body>> rparser_;
  std::optional<Socket> up_;
  std::string pool_key_;          // "ip:port" of the upstream connection
  std::string host_;              // the request's normalized host
  std::string up_head_;           // the request head sent upstream
  std::string down_head_;         // the response head sent to the client
  std::string xff_;               // X-Forwarded-For being built
  std::string rewritten_target_;  // the router's rewritten target, when it rewrites
  bool reused_ = false;
  std::unique_ptr<char[]> chunk_;
  uint64_t requests_ = 0;
  bool is_head_ = false;
  int client_version_ = 11;
  bool unread_request_bytes_ = false;
  AccessLogEntry log_;
  Capture capture_ = Capture::None;  // for the tap, decided when the request's head is read
  Clock::time_point started_;
};

template <class Stream>
asio::awaitable<void> run_session(Impl& impl, Worker& w, Stream stream, bool secure, int port,
                                  std::string peer, uint16_t peer_port) {
  Session<Stream> session(impl, w, stream, secure, port, std::move(peer), peer_port);
  co_await session.run();
}

}  // namespace

asio::awaitable<void> IngressProxy::Impl::accept_loop(tcp::acceptor& acceptor, bool secure) {
  const int port = secure ? https_port : http_port;
  auto next = [&]() -> Worker& {
    return *workers[next_worker.fetch_add(1, std::memory_order_relaxed) % workers.size()];
  };
  auto start_session = [&](Worker& w, Socket sock) {
    error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    sock.non_blocking(true, ignored);  // for write_now()
    const auto remote = sock.remote_endpoint(ignored);
    std::string peer = ignored ? std::string() : remote.address().to_string();
    const uint16_t peer_port = ignored ? 0 : remote.port();
    if (secure) {
      TlsStream stream(std::move(sock), *tls.fallback);
      asio::co_spawn(
          *w.ioc, run_session(*this, w, std::move(stream), true, port, std::move(peer), peer_port),
          asio::detached);
    } else {
      asio::co_spawn(
          *w.ioc, run_session(*this, w, std::move(sock), false, port, std::move(peer), peer_port),
          asio::detached);
    }
  };
  for (;;) {
    Worker& w = next();
    auto [ec, sock] = co_await acceptor.async_accept(w.ioc->get_executor(), nothrow);
    if (ec) {
      if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: back off instead of spinning.
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    start_session(w, std::move(sock));
    // Then what else waits in the backlog, up to a batch (the acceptor is non-blocking): each
    // async accept completes through worker 0's queue behind every ready handler, so a burst
    // of 500 new connections took 500 trips round a busy queue, and the last ones waited
    // ~250 ms before their first byte was read.
    for (int i = 1; i < kAcceptBatch; ++i) {
      Worker& more = next();
      error_code aec;
      Socket s = acceptor.accept(more.ioc->get_executor(), aec);
      if (aec) break;  // would_block: the backlog is empty; an error: the next async accept's
      start_session(more, std::move(s));
    }
  }
}

void IngressProxy::Impl::sweep_pool(Worker& w, Clock::time_point now) {
  for (auto it = w.pool.begin(); it != w.pool.end();) {
    std::erase_if(it->second, [&](IdleUpstream& conn) {
      return now - conn.since > opt.upstream_idle_timeout || unusable_idle(conn.socket);
    });
    it = it->second.empty() ? w.pool.erase(it) : std::next(it);
  }
}

asio::awaitable<void> IngressProxy::Impl::sweep(Worker& w) {
  asio::steady_timer timer(*w.ioc);
  w.sweep_timer = &timer;
  auto next_pool_sweep = Clock::now();
  while (w.sweeping) {
    // Every 50 ms while there are connections; with only idle upstream connections, every
    // second; without either, sleep until a connection registers (an idle ingress costs no
    // wake-ups).
    if (!w.conns.empty())
      timer.expires_after(std::chrono::milliseconds(50));
    else if (!w.pool.empty())
      timer.expires_after(kPoolSweep);
    else
      timer.expires_at(asio::steady_timer::time_point::max());
    co_await timer.async_wait(nothrow);
    const auto now = Clock::now();
    if (now >= next_pool_sweep) {
      sweep_pool(w, now);
      next_pool_sweep = now + kPoolSweep;
    }
    for (ConnRecord* c : w.conns) {
      error_code ignored;
      if (c->client_deadline <= now) {
        c->client_deadline = kNever;
        c->client_timed_out = true;
        c->client->cancel(ignored);
      }
      if (c->upstream && c->upstream_deadline <= now) {
        c->upstream_deadline = kNever;
        c->upstream_timed_out = true;
        c->upstream->cancel(ignored);
      }
    }
  }
  w.sweep_timer = nullptr;
}

void IngressProxy::Impl::run_on_all(const std::function<void(Worker&)>& fn) {
  for (auto& w : workers) {
    std::promise<void> done;
    asio::post(*w->ioc, [&] {
      fn(*w);
      done.set_value();
    });
    done.get_future().wait();
  }
}

IngressProxy::IngressProxy(ProxyOptions options, ProxyHooks hooks)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->hooks = std::move(hooks);
  impl_->tls.hook = impl_->hooks.certificate;
}

IngressProxy::~IngressProxy() {
  stop();
}

Result<std::pair<int, int>> IngressProxy::start() {
  Impl& im = *impl_;
  if (im.running) return std::pair{im.http_port, im.https_port};
  const ProxyOptions& opt = im.opt;
  error_code ec;
  const auto addr = asio::ip::make_address(opt.address, ec);
  if (ec) return Error{ErrorCode::Invalid, "ingress address " + opt.address + ": " + ec.message()};

  if (opt.https_port >= 0) {
    std::string cert = opt.default_cert_pem, key = opt.default_key_pem;
    if (cert.empty() || key.empty()) {
      auto made = make_self_signed_certificate("ticketctl-ingress");
      if (!made) return made.error();
      cert = made.value().first;
      key = made.value().second;
    }
    auto ctx = TlsContexts::make(cert, key);
    if (!ctx) return ctx.error();
    im.tls.fallback = std::move(ctx.value());
    im.tls.install_sni();
  }

  const int threads = opt.threads > 0
                          ? opt.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  im.workers.clear();
  for (int i = 0; i < threads; ++i) im.workers.push_back(std::make_unique<Worker>());

  auto listen = [&](int port, std::unique_ptr<tcp::acceptor>& out) -> Result<int> {
    auto acc = std::make_unique<tcp::acceptor>(*im.workers[0]->ioc);
    const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) acc->non_blocking(true, ec);  // accept_loop's batches: accept() says would_block
    if (ec)
      return Error{ErrorCode::Internal, "ingress listen on " + opt.address + ":" +
                                            std::to_string(port) + ": " + ec.message()};
    const int bound = acc->local_endpoint(ec).port();
    out = std::move(acc);
    return bound;
  };
  im.http_port = im.https_port = -1;
  if (opt.http_port >= 0) {
    auto p = listen(opt.http_port, im.http_acceptor);
    if (!p) return p.error();
    im.http_port = p.value();
  }
  if (opt.https_port >= 0) {
    auto p = listen(opt.https_port, im.https_acceptor);
    if (!p) {
      im.http_acceptor.reset();
      return p.error();
    }
    im.https_port = p.value();
  }

  im.stopping = false;
  for (auto& w : im.workers) {
    asio::co_spawn(*w->ioc, im.sweep(*w), asio::detached);
    w->thread = std::thread([ioc = w->ioc.get()] {
      auto guard = asio::make_work_guard(*ioc);
      ioc->run();
    });
  }
  if (im.http_acceptor)
    asio::co_spawn(*im.workers[0]->ioc, im.accept_loop(*im.http_acceptor, false), asio::detached);
  if (im.https_acceptor)
    asio::co_spawn(*im.workers[0]->ioc, im.accept_loop(*im.https_acceptor, true), asio::detached);
  im.running = true;
  return std::pair{im.http_port, im.https_port};
}

void IngressProxy::stop() {
  Impl& im = *impl_;
  if (!im.running) return;
  im.running = false;
  im.stopping = true;
  asio::post(*im.workers[0]->ioc, [&im] {
    error_code ignored;
    if (im.http_acceptor) im.http_acceptor->close(ignored);
    if (im.https_acceptor) im.https_acceptor->close(ignored);
  });
  // Idle keep-alive connections go now; busy ones finish their request (they see `stopping`).
  im.run_on_all([](Worker& w) {
    for (ConnRecord* c : w.conns) {
      if (!c->idle) continue;
      error_code ignored;
      c->closing = true;
      c->client->cancel(ignored);
    }
  });
  {
    std::unique_lock lock(im.active_mu);
    im.active_cv.wait_for(lock, im.opt.drain_timeout, [&] { return im.active == 0; });
  }
  im.run_on_all([](Worker& w) {
    for (ConnRecord* c : w.conns) {
      error_code ignored;
      c->closing = true;
      c->client->close(ignored);
      if (c->upstream) c->upstream->close(ignored);
    }
  });
  {
    std::unique_lock lock(im.active_mu);
    im.active_cv.wait_for(lock, std::chrono::seconds(2), [&] { return im.active == 0; });
  }
  im.run_on_all([](Worker& w) {
    w.sweeping = false;
    w.pool.clear();
  });
  for (auto& w : im.workers) w->ioc->stop();
  for (auto& w : im.workers)
    if (w->thread.joinable()) w->thread.join();
  im.http_acceptor.reset();
  im.https_acceptor.reset();
  for (auto& w : im.workers) w->ioc.reset();  // destroys any coroutine still suspended
  im.workers.clear();
}

void IngressProxy::publish(std::shared_ptr<const Routing> routing) {
  std::lock_guard lock(impl_->routing_mu);
  impl_->routing = std::move(routing);
  impl_->routing_version.fetch_add(1, std::memory_order_release);
}

void IngressProxy::clear_certificate_cache() {
  std::lock_guard lock(impl_->tls.mu);
  impl_->tls.by_host.clear();
}

}  // namespace ticketctl::ingress
