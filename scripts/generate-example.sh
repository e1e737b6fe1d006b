#!/usr/bin/env bash
# The main job on the bundled example: sets up (first time only), builds the
# WASM core and the CLI, and generates the scripts of
# examples/tenant-to-tenant.toml into out/database-connections/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-wasm.sh
cargo run --quiet --release -p trickle-cli -- generate --config examples/tenant-to-tenant.toml --out out
