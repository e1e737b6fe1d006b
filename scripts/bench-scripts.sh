#!/usr/bin/env bash
# Benchmark of the generated scripts against a plain-JS baseline, side by
# side against the emulated old tenant: sizes, cold and warm call times
# (over loopback and with answers replayed in memory), HTTP requests per
# migrated login. Writes target/bench/scripts.{md,json} and the README's
# chart docs/benchmark.png (needs python3 with matplotlib; installed with pip
# if missing). Not part of the tests: run it on demand.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-wasm.sh
cargo build --quiet --release -p trickle-cli
node scripts/bench/scripts.js --trickle target/release/trickle --out target/bench "$@"
if ! python3 -c "import matplotlib" 2>/dev/null; then
  python3 -m pip install --quiet --user matplotlib
fi
mkdir -p docs
python3 scripts/bench/chart.py target/bench/scripts.json docs/benchmark.png
echo "chart: docs/benchmark.png" >&2
