// Test-only helpers for the transport tests: a raw blocking TCP client that sends exact bytes
// (malformed requests, pipelined requests, slow clients) and a scripted raw TCP server that
// answers with exact bytes (chunked streams, garbage, resets).
//
// Thread-safety: RawClient is single-threaded; ScriptedServer runs its script on its own thread.
//
//   RawClient c(port);
//   c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
//   std::string reply = c.ReadResponse();
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace podiam::transport::testutil {

// `source`: the local address to connect from (any 127.x.y.z works on Linux loopback), so that
// tests can act as several clients; nullptr lets the kernel choose.
inline int ConnectTcp(std::uint16_t port, const char* ip = "127.0.0.1",
                      const char* source = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (source != nullptr) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &local.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class RawClient {
 public:
  explicit RawClient(std::uint16_t port, const char* source = nullptr)
      : fd_(ConnectTcp(port, "127.0.0.1", source)) {
    if (fd_ < 0) {
      throw std::runtime_error("connect failed");
    }
  }
  ~RawClient() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Returns false if the peer has closed or reset.
  bool Send(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads whatever arrives within `wait`; empty on timeout. Sets closed() on EOF or reset.
  std::string ReadSome(std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
      return {};
    }
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed_ = true;
      return {};
    }
    return std::string(buf, static_cast<std::size_t>(n));
  }

  // Reads until the peer closes (or `wait` passes without data).
  std::string ReadUntilClose(std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    std::string out;
    while (!closed_) {
      std::string piece = ReadSome(wait);
      if (piece.empty() && !closed_) {
        break;
      }
      out += piece;
    }
    return out;
  }

  // Reads one response framed by Content-Length (enough for the server under test).
  std::string ReadResponse(std::chrono::milliseconds wait = std::chrono::seconds(5),
                           bool head = false) {
    while (true) {
      auto end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        auto cl = pending_.find("Content-Length: ");
        if (cl != std::string::npos && cl < end && !head) {
          length = std::stoul(pending_.substr(cl + 16));
        }
        if (pending_.size() >= end + 4 + length) {
          std::string response = pending_.substr(0, end + 4 + length);
          pending_.erase(0, end + 4 + length);
          return response;
        }
      }
      std::string piece = ReadSome(wait);
      if (piece.empty()) {
        return std::exchange(pending_, {});
      }
      pending_ += piece;
    }
  }

  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
  bool closed_ = false;
  std::string pending_;
};

// Accepts connections on 127.0.0.1 and runs `script(fd)` for each, one at a time.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int fd)> script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) {
          return;
        }
        script_(fd);
        ::close(fd);
      }
    });
  }
  ~ScriptedServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    thread_.join();
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }

  // Reads one request head from `fd` (bodies are not expected by the scripts).
  static std::string ReadHead(int fd) {
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) {
      head += c;
    }
    return head;
  }
  static void Write(int fd, const std::string& bytes) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

 private:
  std::function<void(int)> script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace podiam::transport::testutil
