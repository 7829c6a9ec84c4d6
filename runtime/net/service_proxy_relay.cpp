// One direction of a relayed connection (service_proxy_internal.h): splice() through a pipe so
// payload bytes stay in the kernel, or a user-space buffer when the process is out of
// descriptors; half-close passed on as shutdown(SHUT_WR).

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "runtime/net/service_proxy_internal.h"

namespace ticketctl::net::proxy_detail {

void Flow::open() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
    pipe_r = fds[0];
    pipe_w = fds[1];
  } else {
    capacity = kBufferSize;
    buffer = std::make_unique<char[]>(capacity);
  }
}
void Flow::open_observed(HttpObserver* o, bool client_to_backend) {
  observer = o;
  upstream = client_to_backend;
  capacity = kObservedBufferSize;
  buffer = std::make_unique<char[]>(capacity);
}
void Flow::close() {
  close_fd(pipe_r);
  close_fd(pipe_w);
}

// Moves what it can from src to dst until both would block. False on a socket error.
bool Flow::relay(int src, int dst, std::atomic<uint64_t>& counter) {
  for (;;) {
    bool moved = false;
    if (!eof) {
      ssize_t n;
      if (pipe_w >= 0) {
        n = ::splice(src, nullptr, pipe_w, nullptr, kSpliceChunk,
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      } else if (queued < capacity) {
        n = ::recv(src, buffer.get() + queued, capacity - queued, 0);
      } else {
        n = -1;
        errno = EAGAIN;
      }
      if (n > 0) {
        queued += static_cast<size_t>(n);
        moved = true;
      } else if (n == 0) {
        eof = true;
        moved = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (queued > off) {
      ssize_t n;
      if (pipe_r >= 0) {
        n = ::splice(pipe_r, nullptr, dst, nullptr, queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      } else {
        n = ::send(dst, buffer.get() + off, queued - off, MSG_NOSIGNAL);
      }
      if (n > 0) {
        if (pipe_r >= 0) {
          queued -= static_cast<size_t>(n);
        } else if ((off += static_cast<size_t>(n)) == queued) {
          off = queued = 0;
        }
        counter.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        total += static_cast<uint64_t>(n);
        moved = true;
        if (!grown && total >= kGrowPipeAfter && pipe_w >= 0) {
          ::fcntl(pipe_w, F_SETPIPE_SZ, kPipeSize);
          grown = true;
        }
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (eof && queued == off && !shut) {
      if (::shutdown(dst, SHUT_WR) != 0 && errno != ENOTCONN) return false;
      shut = true;
    }
    if (!moved) return true;
  }
}

bool Flow::relay_observed(int src, int dst, std::atomic<uint64_t>& counter) {
  for (;;) {
    bool moved = false;
    if (!eof) {
      ssize_t n = -1;
      errno = EAGAIN;
      bool spliced = false;
      // The buffer and the pipe are never both non-empty, so bytes leave in the order they came.
      const uint64_t skip = queued == off ? observer->skippable(upstream) : 0;
      if (skip >= kSpliceSkipAtLeast && pipe_w < 0) {
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
          pipe_r = fds[0];
          pipe_w = fds[1];
          ::fcntl(pipe_w, F_SETPIPE_SZ, kObservedPipeSize);
        }
      }
      if (skip >= kSpliceSkipAtLeast && pipe_w >= 0) {
        n = ::splice(src, nullptr, pipe_w, nullptr, std::min<uint64_t>(skip, kSpliceChunk),
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        spliced = true;
      } else if (in_pipe == 0 && queued < capacity) {
        n = ::recv(src, buffer.get() + queued, capacity - queued, 0);
      }
      if (n > 0) {
        if (spliced) {
          observer->skipped(upstream, static_cast<size_t>(n));
          in_pipe += static_cast<size_t>(n);
        } else {
          if (upstream) {
            observer->from_client(buffer.get() + queued, static_cast<size_t>(n));
          } else {
            observer->from_backend(buffer.get() + queued, static_cast<size_t>(n));
          }
          queued += static_cast<size_t>(n);
        }
        moved = true;
      } else if (n == 0) {
        if (!upstream) observer->backend_eof();
        eof = true;
        moved = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (in_pipe > 0 || queued > off) {
      ssize_t n;
      if (in_pipe > 0) {
        n = ::splice(pipe_r, nullptr, dst, nullptr, in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      } else {
        n = ::send(dst, buffer.get() + off, queued - off, MSG_NOSIGNAL);
      }
      if (n > 0) {
        if (in_pipe > 0) {
          in_pipe -= static_cast<size_t>(n);
        } else if ((off += static_cast<size_t>(n)) == queued) {
          off = queued = 0;
        }
        counter.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        total += static_cast<uint64_t>(n);
        moved = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      }
    }
    if (eof && queued == off && in_pipe == 0 && !shut) {
      if (::shutdown(dst, SHUT_WR) != 0 && errno != ENOTCONN) return false;
      shut = true;
    }
    if (!moved) return true;
  }
}

}  // namespace ticketctl::net::proxy_detail
