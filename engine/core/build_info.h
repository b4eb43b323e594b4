// What a binary was built from and how: every binary prints it for --version, nodes export it as
// qsm_build_info, and results record it, so an ASan or Debug build's figures are never taken for
// a release build's. The values are set at build time (cmake/BuildInfo.cmake).
#pragma once

#include <string>
#include <string_view>

namespace qsm {

struct BuildInfo {
  std::string_view revision;    // `git describe --always --dirty` of the source tree ("unknown" outside git)
  std::string_view build_type;  // CMAKE_BUILD_TYPE: Release, RelWithDebInfo, Debug, ...
  std::string_view sanitizers;  // "address,undefined", or "none"
  std::string_view compiler;    // "GNU 12.2.0"
};

const BuildInfo& ThisBuild();

// Whether figures from this build are comparable with a release's: an optimised build type and no
// sanitizer.
bool IsOptimisedBuild(const BuildInfo& build);

// "PROGRAM REVISION (BUILD_TYPE build, sanitizers: ..., COMPILER)", for --version.
std::string VersionText(std::string_view program);

}  // namespace qsm
