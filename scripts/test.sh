#!/usr/bin/env bash
# Every test: sets up (first time only), rebuilds the WASM core and fails if
# the committed bundle (crates/cli/wasm/) differs from it, then runs the Rust
# tests and lints, and the Node tests that run the generated scripts the way
# Auth0 does. Ends with each stage's wall time (also when a stage fails).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Stage timing: `stage NAME COMMAND…` runs a stage and records its wall time;
# the table is printed on exit, with the failed stage marked.
stage_names=()
stage_seconds=()
current_stage=""
current_start=""
# Seconds since the epoch, with decimals where bash has them (5.0+).
now() { local t=${EPOCHREALTIME:-$(date +%s)}; echo "${t/,/.}"; }
suite_start=$(now)
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# `record NAME START`: a row of the table, NAME's time from START to now.
record() {
  stage_names+=("$1")
  stage_seconds+=("$(elapsed "$2" "$(now)")")
}
stage() {
  current_stage=$1
  current_start=$(now)
  step "$1"
  shift
  "$@"
  record "$current_stage" "$current_start"
  current_stage=""
}
# `beside NAME COMMAND…` starts a stage in the background, its output kept
# in a file; `join_beside` waits for it, shows that output and records its
# wall time (a stage mostly of one kind of work, CPU or waiting, runs beside
# one of the other kind).
beside_name=""
beside_start=""
beside_pid=""
beside_log=""
beside() {
  beside_name=$1
  beside_start=$(now)
  step "$1 (beside the next stage; its output when it ends)"
  shift
  beside_log=$(mktemp)
  "$@" >"$beside_log" 2>&1 &
  beside_pid=$!
}
join_beside() {
  current_stage=$beside_name
  current_start=$beside_start
  step "$beside_name: waiting for it"
  local status=0
  wait "$beside_pid" || status=$?
  beside_pid=""
  cat "$beside_log" >&2
  rm -f "$beside_log"
  [ "$status" -eq 0 ] || exit "$status"
  record "$current_stage (beside)" "$current_start"
  current_stage=""
}
print_times() {
  local status=$?
  if [ -n "$beside_pid" ]; then
    # A stage failed while one ran beside it: stop that one too.
    pkill -TERM -P "$beside_pid" 2>/dev/null || true
    kill "$beside_pid" 2>/dev/null || true
    record "$beside_name (stopped)" "$beside_start"
  fi
  if [ -n "$current_stage" ]; then
    record "$current_stage (failed)" "$current_start"
  fi
  printf '\n%-58s %9s\n' "stage" "seconds" >&2
  for i in "${!stage_names[@]}"; do
    printf '%-58s %9s\n' "${stage_names[$i]}" "${stage_seconds[$i]}" >&2
  done
  printf '%-58s %9s\n' "total" "$(elapsed "$suite_start" "$(now)")" >&2
  exit "$status"
}
trap print_times EXIT

stage "Set up" scripts/setup.sh
stage "WASM core: build, and check the committed bundle" scripts/build-wasm.sh --check
stage "Rust: format" cargo fmt --all --check
# Lints and tests from one build. clippy-driver compiles the workspace's
# crates (as `cargo clippy` does, but with code generation), so the
# dependencies are built once rather than checked once and built again (a
# minute and a half on 2 cores). The lints are those of
#   cargo clippy --workspace --all-targets -- -D warnings -D clippy::too_many_lines
# (what to run by hand): warnings, and (issue 19) no non-test function over
# 80 lines (clippy.toml; each crate root allows it under cfg(test), where
# test code may hold long tables; scripts/fn-lengths.sh lists the longest).
# CLIPPY_ARGS is how cargo-clippy hands its arguments to the driver; the
# toolchain is pinned (rust-toolchain.toml). `cargo test` builds every
# target `--all-targets` lints: libraries (for their doc tests too), bins,
# tests, examples. Four test threads: many tests wait on servers and
# deadlines; tests that measure memory take a binary of their own.
clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
lints="-D warnings -D clippy::too_many_lines"
stage "Rust: lints and tests (one build)" \
  env RUSTC_WORKSPACE_WRAPPER="$clippy_driver" CLIPPY_ARGS="${lints// /__CLIPPY_HACKERY__}__CLIPPY_HACKERY__" \
  cargo test --quiet --workspace -- --test-threads=4
# The Node tests run the `trickle` that `cargo test` just built for the
# CLI's own tests (a separate `cargo build` would compile it again with
# other dependency features, for nothing).
test -x target/debug/trickle || { echo "test.sh: cargo test built no target/debug/trickle" >&2; exit 1; }
# The same Node tests on every runtime Auth0 offers (18, 22) and the
# machine's own: a feature a runtime lacks fails here.
# Five files at a time: they mostly wait on emulators and timeouts (Node's
# default on 2 cores is one; past five, the longest file bounds the stage).
node_tests() {
  TRICKLE_BIN="$PWD/target/debug/trickle" "$1" --test --test-concurrency=5 tests/*.test.js tests/sdk/*.test.js examples/*.test.js
}
for node in $(scripts/node-runtimes.sh); do
  stage "Node $("$node" --version): generated scripts end to end" node_tests "$node"
done
# The layouts through the real deploy-cli, once: it needs Node >= 20.19 (not
# 18) and each deploy takes seconds, so on the pinned Node 22 only. Its
# deploys are CPU work (deploy-cli compiles its schema each run), so it runs
# beside the README's blocks, which mostly wait on the emulators.
node22="$(scripts/node-runtimes.sh --path "$(scripts/node-runtimes.sh --versions | tr ' ' '\n' | grep '^22\.')")"
deploy_tests() {
  TRICKLE_BIN="$PWD/target/debug/trickle" "$node22" --test tests/deploy/*.test.js
}
beside "Node $("$node22" --version): the deploy layouts through deploy-cli" deploy_tests
# The README's marked blocks: the runnable ones in one shell in a scratch
# folder against the emulators (trickle and trickle-try on PATH, nothing
# else), the others checked (bash -n, JSON, config, same as their file).
stage "README: every marked block" node scripts/readme-blocks.js --strict --trickle "$PWD/target/debug/trickle"
join_beside
