#include "harness/run/serve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include "harness/run/report.h"
#include "harness/workload/text.h"

namespace qsm::harness {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxHead = 16 * 1024;
constexpr int kReadTimeoutMs = 5000;

std::string ContentType(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".json") return "application/json";
  // CSV, YAML, logs, .hgrm, .gp: shown in the browser rather than downloaded.
  return "text/plain; charset=utf-8";
}

std::string Response(int code, const std::string& reason, const std::string& type, const std::string& body,
                     bool head_only) {
  std::ostringstream out;
  out << "HTTP/1.1 " << code << " " << reason << "\r\nContent-Type: " << type
      << "\r\nContent-Length: " << body.size() << "\r\nConnection: close\r\nCache-Control: no-cache\r\n\r\n";
  if (!head_only) out << body;
  return out.str();
}

std::string NotFound(bool head_only) {
  return Response(404, "Not Found", "text/plain; charset=utf-8", "not found\n", head_only);
}

// %XX decoded; nullopt if malformed or if it decodes to a NUL.
std::optional<std::string> PercentDecoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return std::nullopt;
    }
    const char c = static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    if (c == '\0') return std::nullopt;
    out += c;
    i += 2;
  }
  return out;
}

bool Inside(const fs::path& root, const fs::path& path) {
  const auto r = root.begin(), p = path.begin();
  return std::mismatch(r, root.end(), p, path.end()).first == root.end();
}

void SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;  // the browser went away
    sent += static_cast<size_t>(n);
  }
}

// Reads a request head (up to the blank line) from `fd`; "" on timeout, error or an oversize head.
std::string ReadHead(int fd) {
  std::string head;
  char buffer[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxHead) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kReadTimeoutMs) <= 0) return "";
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return "";
    head.append(buffer, static_cast<size_t>(n));
  }
  return head.find("\r\n\r\n") == std::string::npos ? "" : head;
}

}  // namespace

std::string Respond(const std::string& root_text, const std::string& request_head) {
  std::istringstream line(request_head.substr(0, request_head.find("\r\n")));
  std::string method, target, version;
  line >> method >> target >> version;
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return Response(405, "Method Not Allowed", "text/plain; charset=utf-8", "GET or HEAD only\n", false);
  }
  if (target.empty() || target[0] != '/' || version.rfind("HTTP/1.", 0) != 0) {
    return Response(400, "Bad Request", "text/plain; charset=utf-8", "bad request line\n", head_only);
  }
  auto path_text = PercentDecoded(target.substr(0, target.find_first_of("?#")));
  if (!path_text) return Response(400, "Bad Request", "text/plain; charset=utf-8", "bad path\n", head_only);
  fs::path relative = fs::path(*path_text).relative_path();
  for (const auto& part : relative) {
    if (part == "..") return NotFound(head_only);
  }
  std::error_code ec;
  const fs::path root = fs::canonical(root_text, ec);
  if (ec) return NotFound(head_only);
  fs::path path = fs::weakly_canonical(root / relative, ec);
  if (ec || !Inside(root, path) || !fs::exists(path)) return NotFound(head_only);
  if (fs::is_directory(path)) {
    if (fs::exists(path / "index.html")) {
      path /= "index.html";
    } else if (path == root) {
      return Response(200, "OK", "text/html; charset=utf-8", RootListing(root.string()), head_only);
    } else {
      return NotFound(head_only);
    }
  }
  path = fs::canonical(path, ec);  // index.html may itself be a link
  if (ec || !Inside(root, path) || !fs::is_regular_file(path)) return NotFound(head_only);
  auto body = ReadFile(path.string());
  if (!body) return NotFound(head_only);
  return Response(200, "OK", ContentType(path), *body, head_only);
}

Status Serve(const ServeOptions& o, const std::atomic<bool>& stop,
             const std::function<void(uint16_t port)>& listening) {
  if (!fs::is_directory(o.root)) return MakeError(ErrorCode::kInvalidArgument, o.root + " is not a folder");
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return MakeError(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(o.port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener, 16) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listener);
    return MakeError(ErrorCode::kIo, "cannot listen on 127.0.0.1:" + std::to_string(o.port) + ": " + why);
  }
  listening(ntohs(address.sin_port));
  while (!stop.load()) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const std::string head = ReadHead(client);
    if (!head.empty()) SendAll(client, Respond(o.root, head));
    ::close(client);
  }
  ::close(listener);
  return {};
}

}  // namespace qsm::harness
