#!/usr/bin/env bash
# The long fuzz runs, on demand (scripts/test.sh runs both briefly):
#   - the core's public functions under proptest (crates/core/tests/fuzz.rs),
#     release build, TRICKLE_FUZZ_CASES cases per property (default 100000),
#     a random seed unless TRICKLE_FUZZ_SEED is set (printed either way);
#   - every WASM export under random and hostile JavaScript values
#     (tests/support/wasm-fuzz.js) on each Node runtime, TRICKLE_FUZZ_CALLS
#     calls (default 500000): calls, errors, panics/traps and the WASM
#     memory (and JavaScript values held) before and after.
# Exits non-zero on any panic, trap, broken property or growth.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

cases="${TRICKLE_FUZZ_CASES:-100000}"
calls="${TRICKLE_FUZZ_CALLS:-500000}"
seed="${TRICKLE_FUZZ_SEED:-random}"

scripts/setup.sh
scripts/build-wasm.sh

step "Rust: the core's public functions, $cases cases per property (seed: $seed)"
TRICKLE_FUZZ_CASES="$cases" TRICKLE_FUZZ_SEED="$seed" \
  cargo test --quiet --release -p trickle-core --test fuzz -- --nocapture --test-threads=1 2>&1 |
  grep -E 'fuzz [a-z-]+:|test result|panicked|minimal failing'

node_seed="$seed"
if [ "$node_seed" = random ]; then node_seed=$((RANDOM * 32768 + RANDOM)); fi
status=0
for node in $(scripts/node-runtimes.sh); do
  step "WASM exports on Node $("$node" --version): $calls calls (seed $node_seed)"
  "$node" tests/support/wasm-fuzz.js --calls "$calls" --seed "$node_seed" || status=1
done
exit "$status"
