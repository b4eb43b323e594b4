#include "exporters/prometheus/exposer.h"

#include <prometheus/gauge.h>

#include "engine/core/build_info.h"
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

void RegisterBuildInfo(prometheus::Registry& registry, std::string_view program) {
  const BuildInfo& b = ThisBuild();
  prometheus::BuildGauge()
      .Name("qsm_build_info")
      .Help("Always 1; its labels say what the serving binary was built from and how.")
      .Register(registry)
      .Add({{"program", std::string(program)},
            {"revision", std::string(b.revision)},
            {"build_type", std::string(b.build_type)},
            {"sanitizers", std::string(b.sanitizers)}})
      .Set(1);
}

}  // namespace qsm::exporters
