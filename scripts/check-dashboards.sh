#!/usr/bin/env bash
# The Grafana dashboards are TypeScript typed against Grafana's published schema (@grafana/schema,
# versions pinned in exporters/grafana/package-lock.json). This type-checks them offline and
# checks that the committed JSON is exactly what the typed source produces.
set -euo pipefail
cd "$(dirname "$0")/../exporters/grafana"
command -v npm >/dev/null || { echo "check-dashboards: npm (Node.js) is needed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
npx tsc -p .
node build/build.js --check
