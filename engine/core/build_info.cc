#include "engine/core/build_info.h"

namespace qsm {

bool IsOptimisedBuild(const BuildInfo& build) {
  return (build.build_type == "Release" || build.build_type == "RelWithDebInfo" || build.build_type == "MinSizeRel") &&
         build.sanitizers == "none";
}

std::string VersionText(std::string_view program) {
  const BuildInfo& b = ThisBuild();
  std::string text(program);
  text += " ";
  text += b.revision;
  text += " (";
  text += b.build_type;
  text += " build, sanitizers: ";
  text += b.sanitizers;
  text += ", ";
  text += b.compiler;
  text += ")";
  return text;
}

}  // namespace qsm
