#!/usr/bin/env bash
# The baseline for scripts/bench-c2id.sh: Connect2id's migration guide done
# the way people script it. Each listing is exported with curl, then jq
# does the renames and one curl POST per record runs in a sequential loop.
# (As such loops do, it puts each record, secrets included, on curl's
# command line, and it holds each export whole on disk and in jq.)
#
#   c2id-baseline.sh PHASE SOURCE_ISSUER TARGET_ISSUER WORKDIR
#
# PHASE: clients, authorizations or sessions. Tokens: the same environment
# variables as `trickle c2id migrate` (TRICKLE_C2ID_{SOURCE,TARGET}_TOKEN,
# or per API TRICKLE_C2ID_{SOURCE,TARGET}_{CLIENTS,AUTHZ,SESSIONS}_TOKEN).
# Prints "PHASE RECORDS FAILED" on stdout.
set -euo pipefail

phase="$1" src="${2%/}" tgt="${3%/}" work="$4"
mkdir -p "$work"

token() {
  local specific="TRICKLE_C2ID_${1}_${2}_TOKEN" general="TRICKLE_C2ID_${1}_TOKEN"
  printf '%s' "${!specific:-${!general}}"
}

records=0 failed=0
post() { # URL TOKEN BODY [HEADER]
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$1" \
    -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    ${4:+-H "$4"} --data-binary "$3") || status=000
  records=$((records + 1))
  case "$status" in 2??) ;; *) failed=$((failed + 1)) ;; esac
}

case "$phase" in
  clients)
    curl -sf -H "Authorization: Bearer $(token SOURCE CLIENTS)" "$src/clients" > "$work/clients.json"
    tok=$(token TARGET CLIENTS)
    while IFS= read -r client; do
      post "$tgt/clients" "$tok" "$client"
    done < <(jq -c '.[]
      | .preferred_client_id = .client_id
      | (if .client_secret then .preferred_client_secret = .client_secret else . end)
      | del(.client_id, .client_secret, .client_id_issued_at, .client_secret_expires_at,
            .registration_access_token, .registration_client_uri)' "$work/clients.json")
    ;;
  authorizations)
    curl -sf -H "Authorization: Bearer $(token SOURCE AUTHZ)" \
      "$src/authz-store/rest/v3/authorizations" > "$work/authorizations.json"
    tok=$(token TARGET AUTHZ)
    while IFS= read -r authorization; do
      post "$tgt/authz-store/rest/v3/authorizations?import=true" "$tok" "$authorization"
    done < <(jq -c '.[]' "$work/authorizations.json")
    ;;
  sessions)
    curl -sf -H "Authorization: Bearer $(token SOURCE SESSIONS)" \
      "$src/session-store/rest/v2/sessions" > "$work/sessions.json"
    tok=$(token TARGET SESSIONS)
    # The SID-Key is the SID up to its last dot.
    while IFS=$'\t' read -r key session; do
      post "$tgt/session-store/rest/v2/sessions" "$tok" "$session" "SID-Key: $key"
    done < <(jq -r 'to_entries[] | "\(.key | sub("\\.[^.]*$"; ""))\t\(.value | tojson)"' "$work/sessions.json")
    ;;
  *)
    echo "c2id-baseline: unknown phase $phase" >&2
    exit 2
    ;;
esac
rm -f "$work/$phase.json"
echo "$phase $records $failed"
