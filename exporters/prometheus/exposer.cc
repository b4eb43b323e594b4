#include "exporters/prometheus/exposer.h"

#include "engine/core/endpoint.h"

namespace qsm::exporters {

Result<std::unique_ptr<prometheus::Exposer>> StartExposer(const std::string& flag, bool allow_external) {
  const std::string listen = flag.find(':') == std::string::npos ? "127.0.0.1:" + flag : flag;
  auto address = Endpoint::Parse(listen);
  if (!address || !(address->is_loopback() || address->is_benchmark_net() || allow_external)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--metrics " + flag + ": give ADDRESS:PORT on 127.0.0.0/8 or 198.18.0.0/15");
  }
  try {
    return std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kIo, "--metrics " + flag + ": " + e.what());
  }
}

}  // namespace qsm::exporters
