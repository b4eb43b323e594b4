#!/usr/bin/env bash
# `make tidy`: clang-tidy 16 (.clang-tidy) over every engine source, with the dev build's compile
# commands. Exits non-zero on any finding. Usage: scripts/tidy.sh [build/dev] [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/dev}
shift || true
[[ -f $build/compile_commands.json ]] || { echo "tidy: no $build/compile_commands.json (make build first)" >&2; exit 2; }
files=("$@")
((${#files[@]})) || mapfile -t files < <(git ls-files 'engine/*.cc' | grep -v '_fuzz.cc$')
# libstdc++ 12 guards <expected> behind __cpp_concepts >= 202002L, which clang 16 does not advertise.
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy-16 -p "$build" --quiet \
  --extra-arg=-std=c++2b --extra-arg=-Wno-unknown-warning-option --extra-arg=-U__cpp_concepts --extra-arg=-D__cpp_concepts=202002L \
  2> >(grep -v "warnings generated" >&2)
echo "tidy: ${#files[@]} files clean"
