#include "harness/workload/engine_driver.h"

namespace qsm::harness {

EngineGuarantees GuaranteesOf(std::string_view kind) {
  if (kind == "udp") return {.reliable = false, .fifo = false};
  if (kind == "norm") return {.reliable = true, .fifo = false};
  return {};
}

Status EngineDriver::StartMembership(const membership::GmsClientConfig& /*config*/) {
  return MakeError(ErrorCode::kInvalidArgument, "only the qsm engine takes its views from a GMS");
}

}  // namespace qsm::harness
