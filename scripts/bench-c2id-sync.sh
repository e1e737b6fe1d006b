#!/usr/bin/env bash
# Benchmark of the cut-over sync, `trickle c2id migrate --sync`, against
# the full copy of the same data, emulator to emulator on one machine
# (reported, not asserted; not part of the test suite).
#
#   scripts/bench-c2id-sync.sh [CLIENTS AUTHORIZATIONS SESSIONS]   # default 1000 1000000 1000000
#   BENCH_C2ID_DIR=/dev/shm/bench scripts/bench-c2id-sync.sh       # seeds, journals and spill elsewhere
#
# 1. Builds `trickle` (release), writes the seeds with `trickle c2id seed`
#    (kept and reused): the source, and an empty target with its JWK set.
# 2. The copy: a fresh target, `trickle c2id migrate` of everything, timed
#    whole by /usr/bin/time (wall, peak RSS) with the emulators' CPU.
# 3. 1% of the authorisations and of the sessions changed on the source
#    through the emulator's churn control (`/__sim/churn/apply`): a third
#    each added, edited, deleted (revoked, logged out).
# 4. The sync pass: `trickle c2id migrate --sync` (the same journal),
#    timed the same way; then a second pass (nothing to do) and
#    `--sync --verify`'s check that the target equals the source.
# 5. Prints a Markdown table side by side (records/s over every record
#    each run covers, peak RSS, CPU) with the ratio copy wall / sync wall,
#    the load average before and after; writes it to
#    $WORK/bench-c2id-sync.md.
#
# Goals (reported, not asserted): the sync pass >= 10x faster than the
# copy, peak RSS < 64 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS="${1:-1000}" AUTHZ="${2:-1000000}" SESSIONS="${3:-1000000}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="${BENCH_C2ID_DIR:-$TARGET/bench-c2id}"
mkdir -p "$WORK"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

command -v curl >/dev/null || { echo "bench-c2id-sync: curl is required" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-c2id-sync: GNU time is required (apt-get install -y time)" >&2; exit 1; }

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
SOURCE=$(seed source "$CLIENTS" "$AUTHZ" "$SESSIONS")
EMPTY=$(seed target 0 0 0)

# The emulators' example tokens (public test material), for every API.
export TRICKLE_C2ID_SOURCE_TOKEN=c2idSimClientRegistrationToken0123456789
export TRICKLE_C2ID_SOURCE_AUTHZ_TOKEN=c2idSimAuthzStoreToken0123456789abcdefgh
export TRICKLE_C2ID_SOURCE_SESSIONS_TOKEN=c2idSimSessionStoreToken0123456789abcdef
export TRICKLE_C2ID_TARGET_TOKEN=$TRICKLE_C2ID_SOURCE_TOKEN
export TRICKLE_C2ID_TARGET_AUTHZ_TOKEN=$TRICKLE_C2ID_SOURCE_AUTHZ_TOKEN
export TRICKLE_C2ID_TARGET_SESSIONS_TOKEN=$TRICKLE_C2ID_SOURCE_SESSIONS_TOKEN

start_sim() { # SEED VAR: sets VAR_URL and VAR_PID
  local out
  out=$(mktemp "$WORK/sim.XXXXXX")
  "$TRICKLE" c2id sim --seed "$1" --port 0 --quiet < /dev/null > "$out" 2>/dev/null &
  local pid=$!
  for _ in $(seq 1200); do grep -q listening "$out" && break; sleep 0.1; done
  local base
  base=$(sed -n 's/^trickle c2id sim listening on //p' "$out")
  rm -f "$out"
  [ -n "$base" ] || { echo "bench-c2id-sync: the emulator did not start" >&2; exit 1; }
  printf -v "${2}_URL" '%s' "$base"
  printf -v "${2}_PID" '%s' "$pid"
}
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)
RESULTS="$WORK/sync-results.txt"
: > "$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# timed NAME RECORDS EXPECT [ARGS...]: one timed `trickle c2id migrate`,
# its log checked for EXPECT, appended to $RESULTS.
timed() {
  local name="$1" records="$2" expect="$3"
  shift 3
  local before=$(( $(cpu_ticks "$SRC_PID") + $(cpu_ticks "$TGT_PID") ))
  /usr/bin/time -o "$WORK/time.txt" -f "%e %U %S %M" \
    "$TRICKLE" c2id migrate --source "$SRC_URL/c2id" --target "$TGT_URL/c2id" \
      --journal "$JOURNAL" "$@" 2> "$WORK/sync-$name.log" \
    || { cat "$WORK/sync-$name.log" >&2; exit 1; }
  grep -q "$expect" "$WORK/sync-$name.log" || { cat "$WORK/sync-$name.log" >&2; exit 1; }
  local after=$(( $(cpu_ticks "$SRC_PID") + $(cpu_ticks "$TGT_PID") ))
  echo "$name $records $(cat "$WORK/time.txt") $(awk -v t=$((after - before)) -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }')" >> "$RESULTS"
}

step "Starting the emulators"
start_sim "$SOURCE" SRC
start_sim "$EMPTY" TGT
JOURNAL="$WORK/sync-journal"
rm -rf "$JOURNAL"
TOTAL=$(( CLIENTS + AUTHZ + SESSIONS ))

step "The copy: $TOTAL records"
timed copy "$TOTAL" "every record migrated"

# 1% of each kind changed, a third each added, edited, deleted. An added
# record is a client, an authorisation, a session in turn.
A3=$(( AUTHZ / 300 )) S3=$(( SESSIONS / 300 ))
ADD=$(( 3 * (A3 > S3 ? A3 : S3) ))
step "Changing 1% of the source: $A3 authorisations and $S3 sessions each added, edited, deleted"
curl -fsS -X POST "$SRC_URL/__sim/churn/apply" -H 'content-type: application/json' \
  -d "{\"revoke_authz\": $A3, \"edit_authz\": $A3, \"logout\": $S3, \"edit_sessions\": $S3, \"add\": $ADD}" > /dev/null

step "The sync pass"
timed sync "$TOTAL" "the target equals the source as read" --sync
step "A second sync pass (nothing changed)"
timed sync-again "$TOTAL" "the target equals the source as read" --sync
step "Checking: --sync --verify"
timed sync-verify "$TOTAL" "synced and verified" --sync --verify

CHANGES=$(grep -A3 '^  kind ' "$WORK/sync-sync.log" || true)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v cores="$(nproc)" -v load_before="$LOAD_BEFORE" -v load_after="$LOAD_AFTER" \
    -v clients="$CLIENTS" -v authz="$AUTHZ" -v sessions="$SESSIONS" '
  function f0(n) { return sprintf("%\047.0f", n) }
  { wall[$1] = $3; rate[$1] = $2 / $3; rss[$1] = $6 / 1024; cpu[$1] = $4 + $5; sim[$1] = $7; records[$1] = $2 }
  END {
    printf "# trickle c2id migrate --sync benchmark\n\n%s clients, %s authorisations, %s sessions; 1%% of the authorisations and sessions changed (a third each added, edited, deleted). Emulator to emulator on loopback, %s cores shared with the emulators; load average %s before, %s after.\n\n", f0(clients), f0(authz), f0(sessions), cores, load_before, load_after
    printf "| run | records covered | wall s | records/s | peak RSS MB | its CPU s | emulators CPU s |\n|---|---:|---:|---:|---:|---:|---:|\n"
    label["copy"] = "the copy (empty target)"; label["sync"] = "a sync pass, 1% changed"
    label["sync-again"] = "a second sync pass, nothing changed"; label["sync-verify"] = "a sync pass with --verify"
    split("copy sync sync-again sync-verify", runs, " ")
    for (r = 1; r <= 4; r++) {
      run = runs[r]
      printf "| %s | %s | %.2f | %s | %.1f | %.2f | %.2f |\n", label[run], f0(records[run]), wall[run], f0(rate[run]), rss[run], cpu[run], sim[run]
    }
    printf "\n- the sync pass: %.1fx faster than the copy (goal >= 10x); peak RSS %.1f MB (goal < 64 MB)\n", wall["copy"] / wall["sync"], rss["sync"]
  }' "$RESULTS" | tee "$WORK/bench-c2id-sync.md"
printf '\nWhat the sync pass did:\n\n```\n%s\n```\n' "$CHANGES" | tee -a "$WORK/bench-c2id-sync.md"
echo >&2
echo "bench-c2id-sync: wrote $WORK/bench-c2id-sync.md" >&2
