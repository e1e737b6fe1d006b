'use strict';
// Starts Trickle's emulated legacy user-store API (`trickle legacy-sim`)
// for a test or a rehearsal, and wraps its control API (/__sim/…). It
// checks tokens of the NEW tenant, which `startSim` plays (seed it with
// `apis: [{identifier, client_grants}]`).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Sim, spawnEmulator, findTrickle } = require('./sim');

/**
 * @param {object} options
 * @param {object|string} options.seed the seed (object) or a seed file path:
 *   `{bcrypt_cost, users: [{id, email, …, password, hash: {algorithm, …}} | {…, password_hash: {…}}]}`
 * @param {string} options.issuer the NEW tenant's issuer, e.g. `sim.baseUrl + '/'`
 * @param {string} options.audience the API's identifier (tokens' `aud`)
 * @param {string} [options.writeScope] a scope marking/unmarking needs (`--write-scope`)
 * @param {string} [options.basePath] where the API lives, e.g. '/auth0-migration' (`--base-path`)
 * @param {string} [options.issuerCa] a PEM file to trust for the issuer's JWKS (`sim.caCertPath` with a TLS sim)
 * @param {string} [options.bin] the `trickle` binary (default: $TRICKLE_BIN, else `trickle` on PATH)
 * @param {string[]} [options.args] more `trickle legacy-sim` flags, e.g. ['--rate-limit', '5']
 * @returns {Promise<LegacySim>}
 */
async function startLegacySim({
  seed,
  issuer,
  audience,
  writeScope,
  basePath,
  issuerCa,
  bin,
  args = [],
}) {
  bin = findTrickle(bin);
  if (!issuer || !audience) throw new Error('startLegacySim needs issuer and audience');
  let seedPath = seed;
  let tempDir;
  if (typeof seed !== 'string') {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-legacy-sim-'));
    seedPath = path.join(tempDir, 'seed.json');
    fs.writeFileSync(seedPath, JSON.stringify(seed));
  }
  const flags = ['--issuer', issuer, '--audience', audience];
  if (writeScope) flags.push('--write-scope', writeScope);
  if (basePath) flags.push('--base-path', basePath);
  if (issuerCa) flags.push('--issuer-ca', issuerCa);
  const argv = ['legacy-sim', '--seed', seedPath, ...flags, ...args];
  const { child, baseUrl, stderr } = await spawnEmulator(bin, argv, 'trickle legacy-sim');
  return new LegacySim(child, baseUrl, tempDir, stderr, (basePath || '').replace(/\/+$/, ''));
}

/**
 * The control calls of `Sim` — `stats()` (`{ total, requests: { verify, users_by_email, get_user, mark,
 * unmark }, invalid_tokens, jwks_fetches }`), `resetStats()`, `setFaults()`, `setRateLimit()`, `users()`
 * (every user as the API shows them), `logs()`, `close()` — and this emulator's own.
 */
class LegacySim extends Sim {
  constructor(child, baseUrl, tempDir, stderr, basePath) {
    super(child, baseUrl, tempDir, stderr, undefined);
    /** The API's base URL (`api_url` of the scripts): the origin and the base path. */
    this.apiUrl = baseUrl + basePath;
  }

  /** The legacy export: one `User` with its `password_hash` per record. */
  async exportRecords() {
    const response = await fetch(this.baseUrl + '/__sim/export');
    if (!response.ok) throw new Error(`GET /__sim/export: ${response.status}`);
    const text = await response.text();
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  }

  /** The next `n` API requests are answered 401 invalid_token, whatever their token. */
  rejectTokens(n) {
    return this.control('PUT', 'reject-tokens', { next: n });
  }
}

module.exports = { startLegacySim, LegacySim };
