#!/usr/bin/env bash
# Copy the third-party front-end libraries of the dashboard (ECharts) and of the API docs page (Swagger UI)
# into static/vendor/ (git-ignored). The versions are pinned in package.json / package-lock.json (with
# integrity hashes) and come from the npm registry at build time only: no page fetches anything from a CDN
# at run time. Install scripts never run (Swagger UI's @scarf/scarf dependency would phone home).
# Needs node and npm; does nothing when every file in static/vendor/ is newer than the lock file.
set -euo pipefail
cd "$(dirname "$0")"
vendor=static/vendor
# source in node_modules -> name in static/vendor
files=(
  "echarts/dist/echarts.min.js:echarts.min.js"
  "echarts/LICENSE:echarts.LICENSE.txt"
  "echarts/NOTICE:echarts.NOTICE.txt"
  "zrender/LICENSE:zrender.LICENSE.txt"
  "swagger-ui-dist/swagger-ui-bundle.js:swagger-ui-bundle.js"
  "swagger-ui-dist/swagger-ui.css:swagger-ui.css"
  "swagger-ui-dist/favicon-32x32.png:swagger-ui-favicon.png"
  "swagger-ui-dist/LICENSE:swagger-ui.LICENSE.txt"
  "swagger-ui-dist/NOTICE:swagger-ui.NOTICE.txt"
)
up_to_date=yes
for pair in "${files[@]}"; do
  target="$vendor/${pair#*:}"
  [[ -f "$target" && "$target" -nt package-lock.json ]] || up_to_date=no
done
if [[ "$up_to_date" == yes && "${1:-}" != "--force" ]]; then
  echo "front-end assets are up to date ($vendor/)"
  exit 0
fi
command -v npm >/dev/null || { echo "build_assets.sh needs node and npm (apt-get install nodejs npm)" >&2; exit 1; }
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p "$vendor"
for pair in "${files[@]}"; do
  cp "node_modules/${pair%%:*}" "$vendor/${pair#*:}"
  touch "$vendor/${pair#*:}"
done
version() { node -p "require('./node_modules/$1/package.json').version"; }
echo "front-end assets in $vendor/: ECharts $(version echarts), Swagger UI $(version swagger-ui-dist)"
