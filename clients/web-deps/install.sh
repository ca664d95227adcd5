#!/usr/bin/env bash
# Installs the console's UI library exactly as locked (npm ci) and copies just its ES modules into
# clients/web/vendor/ (gitignored), where musterd serves them; node_modules never goes under
# clients/web (musterd loads every file there). No build step, nothing fetched at run time.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node vendor.mjs
