#!/usr/bin/env bash
# Benchmark of `trickle c2id migrate`, emulator to emulator on one machine
# (reported, not asserted; not part of the test suite; the full run takes a
# few minutes and ~1 GB of disk under target/bench-c2id/).
#
#   scripts/bench-c2id.sh [CLIENTS AUTHORIZATIONS SESSIONS]   # default 10000 1000000 1000000
#   BENCH_C2ID_DIR=/dev/shm/bench scripts/bench-c2id.sh       # seeds, journals and spill elsewhere
#
# 1. Builds `trickle` (release) and writes the seeds with `trickle c2id
#    seed` (kept and reused): the full source, one of 1/100 of its size made
#    the same way (the subset), and an empty target with the same JWK set.
# 2. For each phase in turn (clients, authorizations, sessions; a fresh
#    target for each run), times with /usr/bin/time, in one run:
#      - trickle c2id migrate --only PHASE on the full source,
#      - trickle c2id migrate --only PHASE on the subset,
#      - scripts/bench/c2id-baseline.sh PHASE on the subset (the guide's
#        steps as people script them: curl exports, jq, one sequential curl
#        POST per record). It is run on the subset only: at its rate the
#        full data would take hours; its rate is per record and sequential,
#        so the full run's is taken to be the same (extrapolated).
#    and the CPU seconds the two emulators spent meanwhile (/proc).
#    On the full source, after the sessions' fresh run, the target full:
#      - the sessions again with a new journal (every record found on the
#        target: the target's listing indexed, nothing posted),
#      - that again with --verify (the target read again and compared).
# 3. Prints Markdown tables (records/s, peak RSS, CPU) with the ratio
#    trickle / baseline per phase, and fresh / rerun / verify side by side,
#    with the machine's load average before and after, and writes them to
#    target/bench-c2id/bench-c2id.md.
#
# Targets (reported, not asserted): >= 20x the baseline's records/s, peak
# RSS under 64 MB whatever the run.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS="${1:-10000}" AUTHZ="${2:-1000000}" SESSIONS="${3:-1000000}"
SUB_CLIENTS=$(( CLIENTS / 100 > 100 ? CLIENTS / 100 : (CLIENTS < 100 ? CLIENTS : 100) ))
SUB_AUTHZ=$(( AUTHZ / 100 )) SUB_SESSIONS=$(( SESSIONS / 100 ))
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="${BENCH_C2ID_DIR:-$TARGET/bench-c2id}"
mkdir -p "$WORK"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "bench-c2id: $tool is required (apt-get install -y $tool)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench-c2id: GNU time is required (apt-get install -y time)" >&2; exit 1; }

# The CLI embeds the WASM core; build it first on a fresh clone.
if [ -z "${TRICKLE_WASM_DIR:-}" ] && [ ! -f "$TARGET/wasm-dist/trickle_wasm_bg.wasm" ]; then
  step "Building the WASM core (needed by the trickle binary)"
  scripts/build-wasm.sh
fi
step "Building trickle (release)"
cargo build --quiet --release -p trickle-cli
TRICKLE="$TARGET/release/trickle"

seed() { # NAME CLIENTS AUTHZ SESSIONS
  local file="$WORK/$1-$2-$3-$4.json"
  if [ ! -s "$file" ]; then
    step "Writing the seed $1 ($2 clients, $3 authorisations, $4 sessions)"
    "$TRICKLE" c2id seed --clients "$2" --authorizations "$3" --sessions "$4" \
      --context-path /c2id --out "$file" >&2
  fi
  echo "$file"
}
FULL=$(seed source "$CLIENTS" "$AUTHZ" "$SESSIONS")
SUBSET=$(seed source "$SUB_CLIENTS" "$SUB_AUTHZ" "$SUB_SESSIONS")
EMPTY=$(seed target 0 0 0)

# The emulators' example tokens (public test material), for every API.
export TRICKLE_C2ID_SOURCE_CLIENTS_TOKEN=c2idSimClientRegistrationToken0123456789
export TRICKLE_C2ID_SOURCE_AUTHZ_TOKEN=c2idSimAuthzStoreToken0123456789abcdefgh
export TRICKLE_C2ID_SOURCE_SESSIONS_TOKEN=c2idSimSessionStoreToken0123456789abcdef
export TRICKLE_C2ID_TARGET_CLIENTS_TOKEN=$TRICKLE_C2ID_SOURCE_CLIENTS_TOKEN
export TRICKLE_C2ID_TARGET_AUTHZ_TOKEN=$TRICKLE_C2ID_SOURCE_AUTHZ_TOKEN
export TRICKLE_C2ID_TARGET_SESSIONS_TOKEN=$TRICKLE_C2ID_SOURCE_SESSIONS_TOKEN

# start_sim SEED VAR: starts `trickle c2id sim`, sets VAR_URL and VAR_PID.
start_sim() {
  local out
  out=$(mktemp "$WORK/sim.XXXXXX")
  "$TRICKLE" c2id sim --seed "$1" --port 0 --quiet < /dev/null > "$out" 2>/dev/null &
  local pid=$!
  for _ in $(seq 600); do grep -q listening "$out" && break; sleep 0.1; done
  local base
  base=$(sed -n 's/^trickle c2id sim listening on //p' "$out")
  rm -f "$out"
  [ -n "$base" ] || { echo "bench-c2id: the emulator did not start" >&2; exit 1; }
  printf -v "${2}_URL" '%s' "$base"
  printf -v "${2}_PID" '%s' "$pid"
}
stop_sim() { # VAR
  local pid_var="${1}_PID"
  kill "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
}
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

RESULTS="$WORK/results.txt"
: > "$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# run_trickle NAME PHASE RECORDS JOURNAL [ARGS...]: one timed `trickle c2id
# migrate --only PHASE`, appended to $RESULTS as NAME.
run_trickle() {
  local name="$1" phase="$2" records="$3" journal="$4"
  shift 4
  local before=$(( $(cpu_ticks "$SRC_PID") + $(cpu_ticks "$TGT_PID") ))
  /usr/bin/time -o "$WORK/time.txt" -f "%e %U %S %M" \
    "$TRICKLE" c2id migrate --source "$SRC_URL/c2id" --target "$TGT_URL/c2id" --only "$phase" \
      --journal "$journal" "$@" 2> "$WORK/$name-$phase.log" \
    || { cat "$WORK/$name-$phase.log" >&2; exit 1; }
  grep -q "every record migrated" "$WORK/$name-$phase.log" || { cat "$WORK/$name-$phase.log" >&2; exit 1; }
  local after=$(( $(cpu_ticks "$SRC_PID") + $(cpu_ticks "$TGT_PID") ))
  echo "$name $phase $records $(cat "$WORK/time.txt") $(awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }')" >> "$RESULTS"
}

# measure NAME SEED RECORDS_PER_PHASE... : a fresh pair of emulators, then
# each phase timed; appends "NAME PHASE RECORDS WALL USER SYS RSS_KB SIM_CPU" lines.
measure() {
  local name="$1" seed_file="$2"
  shift 2
  local counts=("$@") phases=(clients authorizations sessions)
  step "Starting the emulators for $name ($(basename "$seed_file"))"
  start_sim "$seed_file" SRC
  start_sim "$EMPTY" TGT
  local src="$SRC_URL/c2id" tgt="$TGT_URL/c2id" journal="$WORK/journal-$name"
  rm -rf "$journal" "$WORK/baseline-work"
  for i in 0 1 2; do
    local phase="${phases[$i]}"
    step "$name: $phase (${counts[$i]} records)"
    if [ "$name" = baseline ]; then
      local before=$(( $(cpu_ticks "$SRC_PID") + $(cpu_ticks "$TGT_PID") ))
      /usr/bin/time -o "$WORK/time.txt" -f "%e %U %S %M" \
        scripts/bench/c2id-baseline.sh "$phase" "$src" "$tgt" "$WORK/baseline-work" > "$WORK/baseline.out"
      read -r _ done failed < "$WORK/baseline.out"
      [ "$failed" = 0 ] && [ "$done" = "${counts[$i]}" ] || { echo "bench-c2id: the baseline failed $failed of $done" >&2; exit 1; }
      local after=$(( $(cpu_ticks "$SRC_PID") + $(cpu_ticks "$TGT_PID") ))
      echo "$name $phase ${counts[$i]} $(cat "$WORK/time.txt") $(awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }')" >> "$RESULTS"
    else
      run_trickle "$name" "$phase" "${counts[$i]}" "$journal"
    fi
  done
  if [ "$name" = trickle ]; then
    step "$name: sessions again, a new journal, the target full"
    run_trickle trickle-rerun sessions "${counts[2]}" "$journal-rerun"
    step "$name: sessions again, --verify"
    run_trickle trickle-verify sessions "${counts[2]}" "$journal-rerun" --verify
    rm -rf "$journal-rerun"
  fi
  stop_sim SRC
  stop_sim TGT
  rm -rf "$journal" "$WORK/baseline-work"
}

measure trickle "$FULL" "$CLIENTS" "$AUTHZ" "$SESSIONS"
measure trickle-subset "$SUBSET" "$SUB_CLIENTS" "$SUB_AUTHZ" "$SUB_SESSIONS"
measure baseline "$SUBSET" "$SUB_CLIENTS" "$SUB_AUTHZ" "$SUB_SESSIONS"

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v cpu="$CPU_MODEL" -v cores="$(nproc)" -v load_before="$LOAD_BEFORE" -v load_after="$LOAD_AFTER" '
  function f0(n) { return sprintf("%\047.0f", n) }
  {
    run = $1; phase = $2; rate[run, phase] = $3 / $4
    records[run, phase] = $3; wall[run, phase] = $4; cpu_s[run, phase] = $5 + $6
    rss[run, phase] = $7 / 1024; sim[run, phase] = $8
    total_records[run] += $3; total_wall[run] += $4
    if (rss[run, phase] > peak[run]) peak[run] = rss[run, phase]
  }
  END {
    label["trickle"] = "trickle c2id migrate"
    label["trickle-subset"] = "trickle c2id migrate, 1/100 subset"
    label["baseline"] = "curl + jq loop (the guide, scripted), 1/100 subset"
    printf "# trickle c2id migrate benchmark\n\nEmulator to emulator on loopback, one machine (%s cores, %s), the two emulators on the same cores; load average %s before, %s after.\n\n", cores, cpu, load_before, load_after
    printf "| run | phase | records | wall s | records/s | peak RSS MB | its CPU s | emulators CPU s |\n|---|---|---:|---:|---:|---:|---:|---:|\n"
    n = split("trickle trickle-subset baseline", runs, " ")
    split("clients authorizations sessions", phases, " ")
    for (r = 1; r <= n; r++) {
      run = runs[r]
      for (p = 1; p <= 3; p++) {
        ph = phases[p]
        printf "| %s | %s | %s | %.2f | %s | %.1f | %.2f | %.2f |\n", label[run], ph, f0(records[run, ph]), wall[run, ph], f0(rate[run, ph]), rss[run, ph], cpu_s[run, ph], sim[run, ph]
      }
      printf "| %s | all | %s | %.2f | %s | %.1f | | |\n", label[run], f0(total_records[run]), total_wall[run], f0(total_records[run] / total_wall[run]), peak[run]
    }
    printf "\n"
    for (p = 1; p <= 3; p++) {
      ph = phases[p]
      printf "- %s: trickle %.0fx the baseline on the subset; full run %.0fx its (extrapolated) rate\n", ph, rate["trickle-subset", ph] / rate["baseline", ph], rate["trickle", ph] / rate["baseline", ph]
    }
    printf "- all: %.0fx on the subset, %.0fx full run vs the baseline; trickle peak RSS %.1f MB (target < 64 MB)\n", \
      (total_records["trickle-subset"] / total_wall["trickle-subset"]) / (total_records["baseline"] / total_wall["baseline"]), \
      (total_records["trickle"] / total_wall["trickle"]) / (total_records["baseline"] / total_wall["baseline"]), peak["trickle"]
    printf "\n## Sessions: fresh, a rerun against a full target, --verify\n\n"
    printf "| run | sessions | wall s | records/s | peak RSS MB | its CPU s | emulators CPU s |\n|---|---:|---:|---:|---:|---:|---:|\n"
    split("trickle trickle-rerun trickle-verify", trio, " ")
    label["trickle-rerun"] = "rerun, a new journal, the target full"
    label["trickle-verify"] = "the same with --verify"
    for (r = 1; r <= 3; r++) {
      run = trio[r]
      printf "| %s | %s | %.2f | %s | %.1f | %.2f | %.2f |\n", (r == 1 ? "fresh (empty target)" : label[run]), f0(records[run, "sessions"]), wall[run, "sessions"], f0(rate[run, "sessions"]), rss[run, "sessions"], cpu_s[run, "sessions"], sim[run, "sessions"]
    }
  }' "$RESULTS" | tee "$WORK/bench-c2id.md"
echo >&2
echo "bench-c2id: wrote $WORK/bench-c2id.md" >&2
