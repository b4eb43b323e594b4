#include "engine/core/endpoint.h"

#include <charconv>

namespace qsm {
namespace {

bool ParseNumber(std::string_view text, uint32_t max, uint32_t& out) {
  if (text.empty() || text.size() > 5) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out <= max;
}

}  // namespace

Result<Endpoint> Endpoint::Parse(std::string_view text, uint16_t default_port) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, "bad endpoint '" + std::string(text) +
                                                      "': " + std::string(why) + " (expected a.b.c.d:port)");
  };
  std::string_view host = text;
  uint32_t port = default_port;
  if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    if (!ParseNumber(text.substr(colon + 1), 65535, port)) return bad("port is not 0..65535");
  } else if (default_port == 0) {
    return bad("no port");
  }
  uint32_t address = 0;
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t dot = host.find('.', pos);
    const bool last = i == 3;
    if (last != (dot == std::string_view::npos)) return bad("bad IPv4 address");
    uint32_t octet = 0;
    if (!ParseNumber(host.substr(pos, last ? std::string_view::npos : dot - pos), 255, octet)) {
      return bad("bad IPv4 address");
    }
    address = (address << 8) | octet;
    pos = dot + 1;
  }
  return Endpoint{address, static_cast<uint16_t>(port)};
}

std::string Endpoint::AddressString() const {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string Endpoint::ToString() const { return AddressString() + ":" + std::to_string(port); }

}  // namespace qsm
