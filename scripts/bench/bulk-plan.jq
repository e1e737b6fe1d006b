# The per-user transform of `trickle bulk plan`, in jq, for
# scripts/bench-bulk.sh. Run as a pipeline, jq for the transform and awk
# for the repeated emails (jq's own state in `foreach` made it quadratic):
#   jq -rnR --arg realm Username-Password-Authentication -f scripts/bench/bulk-plan.jq export.json \
#     | awk -F '\t' '!seen[$1]++ { print $2 }' > users.ndjson
# It reads raw lines (so a bad line is skipped instead of stopping jq),
# leaves out marked users, users without id or email and users of other
# connections, and writes "email<TAB>record" per user: raw user_id,
# lower-cased email, the profile fields, app_metadata without reserved keys,
# blocked. awk keeps the first record of each email. It does less than
# trickle: no splitting into 500 KB array files, no report, no metadata key
# checks, and jq's ascii_downcase lower-cases ASCII only.

def reserved: {
  "__tenant": 1, "_id": 1, "blocked": 1, "clientID": 1, "created_at": 1,
  "email": 1, "email_verified": 1, "globalClientID": 1, "global_client_id": 1,
  "identities": 1, "lastIP": 1, "lastLogin": 1, "loginsCount": 1, "metadata": 1,
  "multifactor": 1, "multifactor_last_modified": 1, "updated_at": 1, "user_id": 1
};

def raw_id:
  ([.identities[]? | select(.connection == $realm) | .user_id | strings] | first)
  // ((.user_id // "") | sub("^auth0\\|"; ""));

def keep:
  ((.app_metadata.trickle_migrated_at? // "") | (type == "string" and length > 0) | not)
  and ((.email // "") | type == "string" and length > 0)
  and (raw_id | length > 0)
  and (((.identities // []) | length == 0) or any(.identities[]; .connection == $realm));

def record:
  {user_id: raw_id, email: (.email | ascii_downcase)}
  + with_entries(select(.key as $k
      | ["email_verified", "username", "name", "nickname", "given_name",
         "family_name", "picture", "user_metadata"] | index($k)))
  + (if .app_metadata then {app_metadata: (.app_metadata | with_entries(select(reserved[.key] | not)))} else {} end)
  + (if .blocked == true then {blocked: true} else {} end);

inputs | (fromjson? // null) | objects | select(keep) | record | "\(.email)\t\(tojson)"
