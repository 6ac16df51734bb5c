#!/usr/bin/env bash
# Copy the dashboard's third-party front-end libraries into static/vendor/ (git-ignored).
# The versions are pinned in package.json / package-lock.json (with integrity hashes) and come from the
# npm registry at build time only: the page never fetches anything from a CDN at run time.
# Needs node and npm; does nothing when static/vendor/ is newer than the lock file.
set -euo pipefail
cd "$(dirname "$0")"
vendor=static/vendor
target="$vendor/echarts.min.js"
if [[ -f "$target" && "$target" -nt package-lock.json && "${1:-}" != "--force" ]]; then
  echo "dashboard assets are up to date ($target)"
  exit 0
fi
command -v npm >/dev/null || { echo "build_assets.sh needs node and npm (apt-get install nodejs npm)" >&2; exit 1; }
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p "$vendor"
cp node_modules/echarts/dist/echarts.min.js "$vendor/echarts.min.js"
cp node_modules/echarts/LICENSE "$vendor/echarts.LICENSE.txt"
cp node_modules/echarts/NOTICE "$vendor/echarts.NOTICE.txt"
cp node_modules/zrender/LICENSE "$vendor/zrender.LICENSE.txt"
touch "$target"
echo "dashboard assets: $(du -h "$target" | cut -f1) ECharts $(node -p "require('./node_modules/echarts/package.json').version") in $vendor/"
