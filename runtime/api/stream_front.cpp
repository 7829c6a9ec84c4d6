// The API's TLS front and kubectl's streaming protocols (see stream_front.h). One translation
// unit on purpose: Boost.Beast is slow to compile, and everything here moves bytes between a
// kubectl connection and a command, a log or a pod's port. The decisions (which pod, which
// command, what the status says) are in streaming.cpp; SPDY framing is spdy.cpp; subprotocol
// names, channel numbers and the answers written before an upgrade are stream_protocol.cpp.
//
// Shape: one io_context on one thread; each connection is a coroutine, and the parts of one
// session (reading the client, pumping a command's output, waiting for its exit) are coroutines
// joined with `&&`. Writes to one connection go through a WriteGate, since Beast allows one
// write in flight. Errors are error_code values (as_tuple); nothing here throws on bad input.

#include "runtime/api/stream_front.h"

#include <openssl/ssl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "runtime/api/exec_process.h"
#include "runtime/api/handler.h"
#include "runtime/api/spdy.h"
#include "runtime/api/stream_protocol.h"
#include "runtime/api/streaming.h"
#include "runtime/api/tls.h"
#include "runtime/manifest/json.h"

namespace ticketctl::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = ssl::stream<tcp::socket>;
using Ws = websocket::stream<TlsStream&>;
using Descriptor = asio::posix::stream_descriptor;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;
using namespace stream_protocol;

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kChunk = 32 * 1024;

// Serialises the writes of a connection's coroutines (they interleave on one thread): Beast and
// TLS allow one write in flight. A waiter cancelled before its turn gets false.
class WriteGate {
 public:
  explicit WriteGate(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  asio::awaitable<bool> lock() {
    if (!busy_) {
      busy_ = true;
      co_return true;
    }
    Waiter w{asio::steady_timer(ex_, asio::steady_timer::time_point::max())};
    waiters_.push_back(&w);
    co_await w.timer.async_wait(nothrow);
    if (!w.granted) std::erase(waiters_, &w);
    co_return w.granted;
  }
  void unlock() {
    if (waiters_.empty()) {
      busy_ = false;
      return;
    }
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->granted = true;
    next->timer.cancel();
  }

 private:
  struct Waiter {
    asio::steady_timer timer;
    bool granted = false;
  };
  asio::any_io_executor ex_;
  bool busy_ = false;
  std::deque<Waiter*> waiters_;
};

// A one-shot event a coroutine can wait for.
class Event {
 public:
  explicit Event(asio::any_io_executor ex) : timer_(ex, asio::steady_timer::time_point::max()) {}
  void set() {
    set_ = true;
    timer_.cancel();
  }
  bool is_set() const { return set_; }
  asio::awaitable<void> wait() {
    while (!set_) co_await timer_.async_wait(nothrow);
  }

 private:
  asio::steady_timer timer_;
  bool set_ = false;
};

// ---------------------------------------------------------------------------------------------
// Byte transports for a SPDY session: binary WebSocket messages (kubectl's tunnel) or the TLS
// stream itself (a plain SPDY upgrade).

class Transport {
 public:
  virtual ~Transport() = default;
  // Appends the next bytes received to `out`; false at the end of the connection.
  virtual asio::awaitable<bool> read(std::string& out) = 0;
  // One write at a time (the caller holds the connection's WriteGate).
  virtual asio::awaitable<bool> write(const std::string& bytes) = 0;
  virtual void close() = 0;
};

class WsTransport : public Transport {
 public:
  WsTransport(Ws& ws, TlsStream& tls) : ws_(ws), tls_(tls) {}
  asio::awaitable<bool> read(std::string& out) override {
    auto [ec, n] = co_await ws_.async_read(buf_, nothrow);
    if (ec || !ws_.got_binary()) co_return false;
    out += beast::buffers_to_string(buf_.data());
    buf_.consume(n);
    co_return true;
  }
  asio::awaitable<bool> write(const std::string& bytes) override {
    auto [ec, n] = co_await ws_.async_write(asio::buffer(bytes), nothrow);
    co_return !ec;
  }
  void close() override {
    error_code ignored;
    tls_.lowest_layer().close(ignored);
  }

 private:
  Ws& ws_;
  TlsStream& tls_;
  beast::flat_buffer buf_;
};

class TlsTransport : public Transport {
 public:
  explicit TlsTransport(TlsStream& s) : s_(s), buf_(kChunk) {}
  asio::awaitable<bool> read(std::string& out) override {
    auto [ec, n] = co_await s_.async_read_some(asio::buffer(buf_), nothrow);
    out.append(buf_.data(), n);
    co_return !ec || n > 0;
  }
  asio::awaitable<bool> write(const std::string& bytes) override {
    auto [ec, n] = co_await asio::async_write(s_, asio::buffer(bytes), nothrow);
    co_return !ec;
  }
  void close() override {
    error_code ignored;
    s_.lowest_layer().close(ignored);
  }

 private:
  TlsStream& s_;
  std::vector<char> buf_;
};

// ---------------------------------------------------------------------------------------------
// Port-forward: kubectl opens two SPDY streams per local connection, an error stream and a data
// stream, both with the headers `streamtype`, `port` and `requestid`. Once both of a request are
// there, the data stream is joined to a TCP connection to the pod's IP and port; when the pod
// side ends, both streams are finished (an error text goes on the error stream first when the
// connection could not be made), as the kubelet does.

class PortForwardSession {
 public:
  PortForwardSession(asio::io_context& ioc, Transport& t, std::string pod, std::string pod_ip)
      : ioc_(ioc),
        t_(t),
        gate_(ioc.get_executor()),
        pumps_done_(ioc.get_executor()),
        pod_(std::move(pod)),
        pod_ip_(std::move(pod_ip)) {}

  // `early` holds bytes already read after the upgrade request.
  asio::awaitable<void> run(const std::string& early) {
    codec_.feed(early);
    std::string in;
    bool open = true;
    while (open) {
      while (open) {
        Result<std::optional<spdy::Frame>> f = codec_.next();
        if (!f.ok()) {
          std::string away = spdy::Codec::goaway(0, 1);
          co_await send(away);
          open = false;
          break;
        }
        if (!f.value()) break;
        open = co_await handle(*f.value());
      }
      if (!open) break;
      in.clear();
      if (!co_await t_.read(in)) break;
      codec_.feed(in);
    }
    // The client is gone: end every forward, then wait for their pumps to notice.
    for (auto& [id, fw] : forwards_)
      if (fw->sock) {
        error_code ignored;
        fw->sock->close(ignored);
      }
    if (pumps_ > 0) co_await pumps_done_.wait();
    t_.close();
  }

 private:
  struct Forward {
    uint32_t data_stream = 0, error_stream = 0;
    uint16_t port = 0;
    std::unique_ptr<tcp::socket> sock;
    bool reset = false;
  };

  asio::awaitable<bool> send(const std::string& frame) {
    if (!co_await gate_.lock()) co_return false;
    const bool ok = co_await t_.write(frame);
    gate_.unlock();
    co_return ok;
  }

  std::shared_ptr<Forward> forward_of(uint32_t stream) {
    auto it = stream_request_.find(stream);
    if (it == stream_request_.end()) return nullptr;
    auto f = forwards_.find(it->second);
    return f == forwards_.end() ? nullptr : f->second;
  }

  // False ends the session.
  asio::awaitable<bool> handle(spdy::Frame& f) {
    switch (f.type) {
      case spdy::FrameType::SynStream:
        co_return co_await open_stream(f);
      case spdy::FrameType::Data: {
        std::shared_ptr<Forward> fw = forward_of(f.stream_id);
        if (!fw || f.stream_id != fw->data_stream || !fw->sock) co_return true;
        if (!f.data.empty()) {
          auto [ec, n] = co_await asio::async_write(*fw->sock, asio::buffer(f.data), nothrow);
          if (ec) co_return true;  // the pod's side ended; its pump finishes the streams
        }
        if (f.fin()) {
          error_code ignored;
          fw->sock->shutdown(tcp::socket::shutdown_send, ignored);
        }
        co_return true;
      }
      case spdy::FrameType::RstStream: {
        if (std::shared_ptr<Forward> fw = forward_of(f.stream_id)) {
          fw->reset = true;
          if (fw->sock) {
            error_code ignored;
            fw->sock->close(ignored);
          }
        }
        co_return true;
      }
      case spdy::FrameType::Ping: {
        std::string pong = spdy::Codec::ping(f.value);
        co_return co_await send(pong);
      }
      case spdy::FrameType::GoAway:
        co_return false;
      default:  // SETTINGS, WINDOW_UPDATE (spdystream does no flow control), HEADERS
        co_return true;
    }
  }

  asio::awaitable<bool> open_stream(const spdy::Frame& f) {
    const std::string type = spdy::header(f.headers, "streamtype");
    const std::string request = spdy::header(f.headers, "requestid");
    const std::string port_text = spdy::header(f.headers, "port");
    const int port = stream_protocol::parse_forward_port(port_text);
    if ((type != "data" && type != "error") || port < 0 || stream_request_.count(f.stream_id)) {
      std::string rst = spdy::Codec::rst_stream(f.stream_id, spdy::kRstProtocolError);
      co_return co_await send(rst);
    }
    std::string reply = codec_.syn_reply(f.stream_id, {}, false);
    if (!co_await send(reply)) co_return false;
    std::shared_ptr<Forward>& fw = forwards_[request];
    if (!fw) fw = std::make_shared<Forward>();
    fw->port = static_cast<uint16_t>(port);
    (type == "data" ? fw->data_stream : fw->error_stream) = f.stream_id;
    stream_request_[f.stream_id] = request;
    if (fw->data_stream == 0 || fw->error_stream == 0 || fw->sock) co_return true;

    // Both streams are there: connect to the pod (loopback, so this is quick).
    auto sock = std::make_unique<tcp::socket>(ioc_);
    error_code ec;
    const auto address = asio::ip::make_address(pod_ip_, ec);
    if (!ec) std::tie(ec) = co_await sock->async_connect(tcp::endpoint(address, fw->port), nothrow);
    if (ec) {
      std::string message = spdy::Codec::data(
          fw->error_stream,
          fmt::format("error forwarding port {} to pod {}: failed to connect to {}:{}: {}",
                      fw->port, pod_, pod_ip_, fw->port, ec.message()),
          true);
      std::string fin = spdy::Codec::data(fw->data_stream, {}, true);
      co_return co_await send(message) && co_await send(fin);
    }
    sock->set_option(tcp::no_delay(true), ec);
    fw->sock = std::move(sock);
    ++pumps_;
    asio::co_spawn(ioc_, pump_from_pod(fw), asio::detached);
    co_return true;
  }

  // Pod → client until the pod's side ends; then both streams are finished.
  asio::awaitable<void> pump_from_pod(std::shared_ptr<Forward> fw) {
    std::vector<char> buf(kChunk);
    for (;;) {
      auto [ec, n] = co_await fw->sock->async_read_some(asio::buffer(buf), nothrow);
      if (n > 0 && !fw->reset) {
        std::string frame = spdy::Codec::data(fw->data_stream, {buf.data(), n}, false);
        if (!co_await send(frame)) break;
      }
      if (ec) break;
    }
    if (!fw->reset) {
      std::string data_fin = spdy::Codec::data(fw->data_stream, {}, true);
      std::string error_fin = spdy::Codec::data(fw->error_stream, {}, true);
      if (co_await send(data_fin)) co_await send(error_fin);
    }
    if (--pumps_ == 0) pumps_done_.set();
  }

  asio::io_context& ioc_;
  Transport& t_;
  WriteGate gate_;
  Event pumps_done_;
  int pumps_ = 0;
  std::string pod_, pod_ip_;
  spdy::Codec codec_;
  std::map<std::string, std::shared_ptr<Forward>> forwards_;  // by requestid
  std::map<uint32_t, std::string> stream_request_;
};

// ---------------------------------------------------------------------------------------------
// exec and attach: the channel protocol. Every binary message starts with its channel: 0 stdin,
// 1 stdout, 2 stderr, 3 the final Status (JSON), 4 terminal size (JSON {"Width","Height"});
// v5 adds 255, "close": [255, 0] is the end of stdin.

class ChannelSession {
 public:
  ChannelSession(asio::io_context& ioc, Ws& ws, bool v5)
      : ioc_(ioc), ws_(ws), v5_(v5), gate_(ioc.get_executor()), client_gone_(ioc.get_executor()) {}

  asio::awaitable<bool> send(uint8_t channel, std::string_view data) {
    std::string message;
    message.reserve(data.size() + 1);
    message.push_back(static_cast<char>(channel));
    message.append(data);
    if (!co_await gate_.lock()) co_return false;
    auto [ec, n] = co_await ws_.async_write(asio::buffer(message), nothrow);
    gate_.unlock();
    co_return !ec;
  }

  // The Status on channel 3, then a normal close; the client's reader ends on it.
  asio::awaitable<void> finish(const Json& status) {
    const std::string text = status.dump();
    if (!co_await send(kStatus, text)) co_return;
    if (!co_await gate_.lock()) co_return;
    [[maybe_unused]] auto [ec] = co_await ws_.async_close(websocket::close_code::normal, nothrow);
    gate_.unlock();
  }

  // Reads the client's messages until it goes away; `on_message` gets (channel, payload).
  template <class OnMessage>
  asio::awaitable<void> read_client(OnMessage on_message) {
    beast::flat_buffer buf;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buf, nothrow);
      if (ec) break;
      std::string message = beast::buffers_to_string(buf.data());
      buf.consume(n);
      if (message.empty()) continue;
      const uint8_t channel = static_cast<uint8_t>(message[0]);
      co_await on_message(channel, std::string_view(message).substr(1));
    }
    client_gone_.set();
  }

  bool v5() const { return v5_; }
  Event& client_gone() { return client_gone_; }
  asio::io_context& ioc() { return ioc_; }

 private:
  asio::io_context& ioc_;
  Ws& ws_;
  bool v5_;
  WriteGate gate_;
  Event client_gone_;
};

// Kills and reaps an exec'd command that is still running when its session ends (the client
// went away, or the server stops).
struct ExecGuard {
  ExecProcess& p;
  ~ExecGuard() {
    if (p.pidfd >= 0) {
      ::kill(-p.pid, SIGKILL);
      collect_exit(p);
    }
  }
};

asio::awaitable<void> pump_output(ChannelSession& s, int fd, uint8_t channel, bool wanted) {
  if (fd < 0) co_return;
  Descriptor d(s.ioc(), fd);
  std::vector<char> buf(kChunk);
  for (;;) {
    // A PTY's master reads EIO once the terminal's last holder is gone: that is its EOF.
    auto [ec, n] = co_await d.async_read_some(asio::buffer(buf), nothrow);
    if (n > 0 && wanted && !s.client_gone().is_set()) {
      if (!co_await s.send(channel, std::string_view(buf.data(), n))) wanted = false;
    }
    if (ec) break;
  }
}

asio::awaitable<void> wait_exit(ChannelSession& s, ExecProcess& p, int& code) {
  Descriptor d(s.ioc(), p.pidfd);
  [[maybe_unused]] auto [ec] = co_await d.async_wait(Descriptor::wait_read, nothrow);
  d.release();  // collect_exit closes it
  code = collect_exit(p);
}

// How long a TTY session waits for the client's first terminal size before its command starts.
// kubectl sends it as soon as the stream is up; a command started before it arrives would see a
// 0x0 terminal (`stty size` prints "0 0", full-screen programs draw nothing).
constexpr auto kFirstSizeWait = std::chrono::seconds(1);

asio::awaitable<void> run_exec(asio::io_context& ioc, Ws& ws, bool v5, const ExecSpec& spec,
                               const ExecOptions& options) {
  ChannelSession s(ioc, ws, v5);
  const bool tty = options.tty;
  ExecProcess p;  // pid -1 until the command starts
  ExecGuard guard{p};
  std::unique_ptr<Descriptor> input;
  std::optional<stream_protocol::TerminalSize> first_size;
  // Expires (or is cancelled by the first size, the first stdin or the client leaving) when the
  // command may start; set once it has started, or failed to.
  asio::steady_timer may_start(ioc, tty ? kFirstSizeWait : std::chrono::seconds(0));
  Event started(ioc.get_executor());
  auto on_message = [&](uint8_t channel, std::string_view data) -> asio::awaitable<void> {
    if (channel == kResize && tty) {
      const auto size = stream_protocol::parse_terminal_size(data);
      if (!size) co_return;
      if (!started.is_set()) {
        first_size = size;
        may_start.cancel();
      } else if (p.stdout_fd >= 0) {
        resize_tty(p.stdout_fd, size->width, size->height);
      }
      co_return;
    }
    // Input waits for the command (the client's messages stay unread meanwhile).
    may_start.cancel();
    co_await started.wait();
    if (channel == kStdin && input && !data.empty()) {
      auto [ec, n] = co_await asio::async_write(*input, asio::buffer(data), nothrow);
      if (ec) input.reset();
    } else if (channel == kClose && s.v5() && !data.empty() &&
               static_cast<uint8_t>(data[0]) == kStdin && input) {
      // End of stdin. On a terminal that is the EOF character, as when a user types Ctrl-D.
      if (tty) {
        const char eot = 4;
        [[maybe_unused]] auto [ec, n] =
            co_await asio::async_write(*input, asio::buffer(&eot, 1), nothrow);
      }
      input.reset();
    }
  };
  auto reader = [&]() -> asio::awaitable<void> {
    co_await s.read_client(on_message);
    may_start.cancel();
    // The client went away first: the command goes too (its pumps then reach EOF).
    if (p.pidfd >= 0) ::kill(-p.pid, SIGKILL);
  };
  auto work = [&]() -> asio::awaitable<void> {
    [[maybe_unused]] auto [wait_ec] = co_await may_start.async_wait(nothrow);
    if (s.client_gone().is_set()) {
      started.set();
      co_return;
    }
    ExecSpec sized = spec;
    if (first_size) {
      sized.columns = first_size->width;
      sized.rows = first_size->height;
    }
    int failed_code = 0;
    Result<ExecProcess> made = start_exec(sized, failed_code);
    if (!made.ok()) {
      started.set();
      // The program could not run: say why on its stderr, exit as a shell would.
      const std::string message = made.error().message + "\n";
      co_await s.send(tty || !options.use_stderr ? kStdout : kStderr, message);
      co_await s.finish(exit_status_json(failed_code, options.command));
      co_return;
    }
    p = made.value();
    if (p.stdin_fd >= 0) input = std::make_unique<Descriptor>(ioc, p.stdin_fd);
    started.set();
    int code = -1;
    co_await (pump_output(s, p.stdout_fd, kStdout, options.use_stdout) &&
              pump_output(s, p.stderr_fd, kStderr, options.use_stderr) && wait_exit(s, p, code));
    p.stdout_fd = p.stderr_fd = -1;  // the descriptors closed them
    const Json status = exit_status_json(code, options.command);
    if (!s.client_gone().is_set()) co_await s.finish(status);
  };
  co_await (reader() && work());
  input.reset();
  p.stdin_fd = -1;
}

asio::awaitable<void> run_attach(asio::io_context& ioc, Ws& ws, bool v5, const logs::LogRun& run,
                                 const ExecOptions& options) {
  ChannelSession s(ioc, ws, v5);
  logs::LogOptions log_options;
  log_options.follow = true;
  log_options.tail_lines = 0;
  logs::LogReader reader(run, log_options, logs::unix_now_ns());
  auto ignore = [](uint8_t, std::string_view) -> asio::awaitable<void> { co_return; };
  auto client = [&]() -> asio::awaitable<void> { co_await s.read_client(ignore); };
  auto follow = [&]() -> asio::awaitable<void> {
    asio::steady_timer tick(ioc);
    while (!s.client_gone().is_set()) {
      std::string text;
      reader.poll(text);
      if (!text.empty() && options.use_stdout && !co_await s.send(kStdout, text)) co_return;
      if (reader.finished()) {
        const Json status = exit_status_json(0, {});
        co_await s.finish(status);
        co_return;
      }
      if (text.empty()) {
        tick.expires_after(std::chrono::milliseconds(100));
        co_await tick.async_wait(nothrow);
      }
    }
  };
  co_await (client() && follow());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The front

struct StreamFront::Impl {
  FrontOptions opt;
  StreamBackend& backend;
  std::unique_ptr<ssl::context> tls;
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;

  Impl(FrontOptions o, StreamBackend& b) : opt(std::move(o)), backend(b) {}

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> connection(tcp::socket sock);
  asio::awaitable<void> relay(TlsStream& tls_stream, const std::string& head);
  asio::awaitable<void> serve_stream(TlsStream& tls_stream, const StreamTarget& target,
                                     const http::request<http::empty_body>& req,
                                     const std::string& rest);
};

namespace {

// Reads until the end of the first request head (at most kMaxHead bytes, within 30 s).
asio::awaitable<bool> read_head(TlsStream& s, std::string& head, size_t& head_end) {
  std::vector<char> buf(16 * 1024);
  while (head.size() <= kMaxHead) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), nothrow);
    const size_t scan_from = head.size() < 3 ? 0 : head.size() - 3;
    head.append(buf.data(), n);
    if (const size_t end = head.find("\r\n\r\n", scan_from); end != std::string::npos) {
      head_end = end + 4;
      co_return true;
    }
    if (ec) co_return false;
  }
  co_return false;
}

asio::awaitable<void> write_and_close(TlsStream& s, const std::string& response) {
  [[maybe_unused]] auto [ec, n] = co_await asio::async_write(s, asio::buffer(response), nothrow);
  [[maybe_unused]] auto [sec] = co_await s.async_shutdown(nothrow);
  error_code ignored;
  s.lowest_layer().close(ignored);
}

}  // namespace

asio::awaitable<void> StreamFront::Impl::accept_loop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor->async_accept(nothrow);
    if (ec) {
      if (!acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      asio::steady_timer pause(*ioc, std::chrono::milliseconds(50));  // out of descriptors?
      co_await pause.async_wait(nothrow);
      continue;
    }
    error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(*ioc, connection(std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> StreamFront::Impl::connection(tcp::socket sock) {
  TlsStream s(std::move(sock), *tls);
  // A client that connects and says nothing is dropped after 30 s.
  asio::steady_timer deadline(*ioc, std::chrono::seconds(30));
  bool timed_out = false;
  deadline.async_wait([&](error_code ec) {
    if (ec) return;
    timed_out = true;
    error_code ignored;
    s.lowest_layer().close(ignored);
  });
  auto [hec] = co_await s.async_handshake(ssl::stream_base::server, nothrow);
  std::string head;
  size_t head_end = 0;
  const bool got = !hec && co_await read_head(s, head, head_end);
  deadline.cancel();
  if (hec || timed_out) co_return;
  if (!got) co_return co_await relay(s, head);  // httplib answers what it makes of it

  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxHead);
  parser.eager(false);
  error_code pec;
  parser.put(asio::buffer(head.data(), head_end), pec);
  std::optional<StreamTarget> target;
  if (!pec && parser.is_header_done())
    target = match_stream_target(std::string_view(parser.get().target()));
  if (!target) co_return co_await relay(s, head);
  const http::request<http::empty_body> req = parser.release();
  const std::string rest = head.substr(head_end);
  co_await serve_stream(s, *target, req, rest);
}

asio::awaitable<void> StreamFront::Impl::relay(TlsStream& s, const std::string& head) {
  tcp::socket up(*ioc);
  const tcp::endpoint backend(asio::ip::make_address_v4("127.0.0.1"),
                              static_cast<unsigned short>(opt.backend_port));
  auto [cec] = co_await up.async_connect(backend, nothrow);
  if (cec) {
    const std::string unavailable = status_response(
        status_json(503, "ServiceUnavailable", "the API server is not accepting requests"));
    co_return co_await write_and_close(s, unavailable);
  }
  error_code ignored;
  up.set_option(tcp::no_delay(true), ignored);
  auto [wec, wn] = co_await asio::async_write(up, asio::buffer(head), nothrow);
  if (wec) co_return;
  // Client → API: at the client's end of stream, pass the half-close on.
  auto upstream = [&]() -> asio::awaitable<void> {
    std::vector<char> buf(kChunk);
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), nothrow);
      if (n > 0) {
        auto [e2, n2] = co_await asio::async_write(up, asio::buffer(buf.data(), n), nothrow);
        if (e2) break;
      }
      if (ec) break;
    }
    error_code e;
    up.shutdown(tcp::socket::shutdown_send, e);
  };
  // API → client: when the API closes, so does the client's connection.
  auto downstream = [&]() -> asio::awaitable<void> {
    std::vector<char> buf(kChunk);
    for (;;) {
      auto [ec, n] = co_await up.async_read_some(asio::buffer(buf), nothrow);
      if (n > 0) {
        auto [e2, n2] = co_await asio::async_write(s, asio::buffer(buf.data(), n), nothrow);
        if (e2) break;
      }
      if (ec) break;
    }
    error_code e;
    s.lowest_layer().close(e);
    up.close(e);
  };
  co_await (upstream() && downstream());
}

asio::awaitable<void> StreamFront::Impl::serve_stream(TlsStream& s, const StreamTarget& target,
                                                      const http::request<http::empty_body>& req,
                                                      const std::string& rest) {
  if (!bearer_token_matches(std::string_view(req[http::field::authorization]), opt.token)) {
    const std::string denied = status_response(status_json(401, "Unauthorized", "Unauthorized"));
    co_return co_await write_and_close(s, denied);
  }
  // Refusals are written before any upgrade, as the API server's errors are.
  std::optional<Json> refusal;
  const std::string_view offered = std::string_view(req[http::field::sec_websocket_protocol]);
  const bool websocket_upgrade = websocket::is_upgrade(req);
  const bool spdy_upgrade = beast::iequals(std::string_view(req[http::field::upgrade]), "SPDY/3.1");

  if (target.verb == StreamVerb::PortForward) {
    Result<std::string> ip = backend.pod_ip(target);
    if (!ip.ok()) refusal = error_status_json(ip.error());
    if (!refusal && websocket_upgrade && lists(offered, kTunnel)) {
      Ws ws(s);
      ws.set_option(websocket::stream_base::timeout{std::chrono::seconds(30),
                                                    websocket::stream_base::none(), false});
      ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::sec_websocket_protocol, kTunnel);
      }));
      ws.read_message_max(16 * 1024 * 1024 + 64);
      ws.binary(true);
      auto [aec] = co_await ws.async_accept(req, nothrow);
      if (aec) co_return;
      WsTransport transport(ws, s);
      PortForwardSession session(*ioc, transport, target.pod, ip.value());
      const std::string none;
      co_return co_await session.run(none);
    }
    if (!refusal && spdy_upgrade &&
        lists(std::string_view(req["X-Stream-Protocol-Version"]), kPortForwardV1)) {
      const std::string switching = fmt::format(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
          "X-Stream-Protocol-Version: {}\r\n\r\n",
          kPortForwardV1);
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(switching), nothrow);
      if (wec) co_return;
      TlsTransport transport(s);
      PortForwardSession session(*ioc, transport, target.pod, ip.value());
      co_return co_await session.run(rest);
    }
    if (!refusal)
      refusal = status_json(400, "BadRequest",
                            fmt::format("port-forward needs an upgrade to WebSocket with "
                                        "subprotocol {} or to SPDY/3.1 with "
                                        "X-Stream-Protocol-Version {}",
                                        kTunnel, kPortForwardV1));
    const std::string response = status_response(*refusal);
    co_return co_await write_and_close(s, response);
  }

  // exec and attach: WebSocket only (kubectl 1.30+ tries it first and uses it when it works).
  const bool v5 = lists(offered, kChannelV5);
  Result<ExecOptions> options = parse_exec_options(target);
  std::optional<ExecSpec> spec;
  std::optional<logs::LogRun> run;
  if (!websocket_upgrade || (!v5 && !lists(offered, kChannelV4))) {
    refusal = status_json(
        400, "BadRequest",
        fmt::format("{} needs an upgrade to WebSocket with subprotocol {} or {}",
                    target.verb == StreamVerb::Exec ? "exec" : "attach", kChannelV5, kChannelV4));
  } else if (!options.ok()) {
    refusal = error_status_json(options.error());
  } else if (target.verb == StreamVerb::Exec) {
    Result<ExecSpec> made = backend.exec_spec(target, options.value());
    if (made.ok())
      spec = std::move(made.value());
    else
      refusal = error_status_json(made.error());
  } else {
    Result<logs::LogRun> found = backend.attach_run(target, options.value());
    if (found.ok())
      run = std::move(found.value());
    else
      refusal = error_status_json(found.error());
  }
  if (refusal) {
    const std::string response = status_response(*refusal);
    co_return co_await write_and_close(s, response);
  }
  Ws ws(s);
  ws.set_option(websocket::stream_base::timeout{std::chrono::seconds(30),
                                                websocket::stream_base::none(), false});
  const std::string chosen(v5 ? kChannelV5 : kChannelV4);
  ws.set_option(websocket::stream_base::decorator([chosen](websocket::response_type& res) {
    res.set(http::field::sec_websocket_protocol, chosen);
  }));
  ws.read_message_max(1024 * 1024);
  ws.binary(true);
  auto [aec] = co_await ws.async_accept(req, nothrow);
  if (aec) co_return;
  if (spec)
    co_await run_exec(*ioc, ws, v5, *spec, options.value());
  else
    co_await run_attach(*ioc, ws, v5, *run, options.value());
  error_code ignored;
  s.lowest_layer().close(ignored);
}

StreamFront::StreamFront(FrontOptions options, StreamBackend& backend)
    : impl_(std::make_unique<Impl>(std::move(options), backend)) {}

StreamFront::~StreamFront() {
  stop();
}

Result<int> StreamFront::start() {
  Impl& m = *impl_;
  m.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
  error_code ec;
  m.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
  m.tls->use_certificate_chain_file(m.opt.cert.string(), ec);
  if (!ec) m.tls->use_private_key_file(m.opt.key.string(), ssl::context::pem, ec);
  if (ec)
    return Error{ErrorCode::Internal,
                 fmt::format("api: cannot load TLS certificate {} and key {}: {}",
                             m.opt.cert.string(), m.opt.key.string(), ec.message())};
  // Clients here never resume sessions; tickets sent after the handshake only cost time.
  SSL_CTX_set_num_tickets(m.tls->native_handle(), 0);
  m.ioc = std::make_unique<asio::io_context>(1);
  m.acceptor = std::make_unique<tcp::acceptor>(*m.ioc);
  const auto address = asio::ip::make_address(m.opt.address, ec);
  if (ec) return Error{ErrorCode::Invalid, "api: bad listen address " + m.opt.address};
  const tcp::endpoint at(address, static_cast<unsigned short>(m.opt.port));
  m.acceptor->open(at.protocol(), ec);
  if (!ec) m.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(at, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error{ErrorCode::Internal, fmt::format("api: cannot listen on {}:{}: {}", m.opt.address,
                                                  m.opt.port, ec.message())};
  const int port = m.acceptor->local_endpoint().port();
  asio::co_spawn(*m.ioc, m.accept_loop(), asio::detached);
  m.thread = std::thread([&m] { m.ioc->run(); });
  return port;
}

void StreamFront::stop() {
  Impl& m = *impl_;
  if (!m.ioc) return;
  asio::post(*m.ioc, [&m] {
    error_code ignored;
    m.acceptor->close(ignored);
    m.ioc->stop();
  });
  if (m.thread.joinable()) m.thread.join();
  // Destroying the context destroys the suspended sessions: their guards kill exec'd commands.
  m.acceptor.reset();
  m.ioc.reset();
}

}  // namespace ticketctl::api
