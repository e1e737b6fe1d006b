// The same plan as `trickle bulk plan`, written the straightforward Node
// way, for scripts/bench-bulk.sh:
//   node scripts/bench/bulk-plan.js export.json OUT_DIR [realm]
// Reads the export line by line, leaves out bad lines, marked users, users
// without id or email, users of other connections and repeated emails
// (first kept), normalises the rest (raw user_id, lower-cased email, the
// profile fields, app_metadata without reserved keys, blocked) and writes
// JSON array files of at most 500,000 bytes, framed as trickle frames them.
// No report, no metadata key checks, no hashes, not atomic.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");

const [input, out, realm = "Username-Password-Authentication"] = process.argv.slice(2);
const LIMIT = 500000;
const FIELDS = ["email_verified", "username", "name", "nickname", "given_name", "family_name", "picture", "user_metadata"];
const RESERVED = new Set(["__tenant", "_id", "blocked", "clientID", "created_at", "email", "email_verified",
  "globalClientID", "global_client_id", "identities", "lastIP", "lastLogin", "loginsCount", "metadata",
  "multifactor", "multifactor_last_modified", "updated_at", "user_id"]);

function rawId(user) {
  const identity = (user.identities || []).find((i) => i && i.connection === realm);
  if (identity && typeof identity.user_id === "string" && identity.user_id) return identity.user_id;
  if (typeof user.user_id !== "string") return null;
  const id = user.user_id.startsWith("auth0|") ? user.user_id.slice(6) : user.user_id;
  return id || null;
}

function record(user) {
  if (!user || typeof user !== "object" || Array.isArray(user)) return null;
  const marker = user.app_metadata && user.app_metadata.trickle_migrated_at;
  if (typeof marker === "string" && marker) return null;
  if (typeof user.email !== "string" || !user.email) return null;
  const identities = user.identities || [];
  if (identities.length && !identities.some((i) => i && i.connection === realm)) return null;
  const id = rawId(user);
  if (!id) return null;
  const out = { user_id: id, email: user.email.toLowerCase() };
  for (const field of FIELDS) if (user[field] !== undefined && user[field] !== null) out[field] = user[field];
  if (user.app_metadata && typeof user.app_metadata === "object") {
    const app = {};
    for (const [k, v] of Object.entries(user.app_metadata)) if (!RESERVED.has(k)) app[k] = v;
    out.app_metadata = app;
  }
  if (user.blocked === true) out.blocked = true;
  return out;
}

fs.mkdirSync(out, { recursive: true });
let fileNumber = 0;
let fd = null;
let bytes = 0;
function closeFile() {
  if (fd !== null) {
    fs.writeSync(fd, "\n]\n");
    fs.closeSync(fd);
    fd = null;
  }
}
function push(text) {
  const size = Buffer.byteLength(text);
  if (size + 5 > LIMIT) return;
  if (fd !== null && bytes + 2 + size + 3 <= LIMIT) {
    fs.writeSync(fd, ",\n" + text);
    bytes += 2 + size;
    return;
  }
  closeFile();
  fileNumber += 1;
  fd = fs.openSync(path.join(out, `users-${String(fileNumber).padStart(5, "0")}.json`), "w");
  fs.writeSync(fd, "[\n" + text);
  bytes = 2 + size;
}

const seen = new Set();
let read = 0;
let written = 0;
const lines = readline.createInterface({ input: fs.createReadStream(input), crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  read += 1;
  let user;
  try {
    user = JSON.parse(line);
  } catch {
    return;
  }
  const r = record(user);
  if (!r || seen.has(r.email)) return;
  seen.add(r.email);
  push(JSON.stringify(r));
  written += 1;
});
lines.on("close", () => {
  closeFile();
  process.stderr.write(`node plan: ${read} read, ${written} written, ${fileNumber} files\n`);
});
