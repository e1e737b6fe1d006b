'use strict';
// Starts Trickle's emulated old tenant (`trickle sim`) for a test or a
// rehearsal, over HTTP or HTTPS, and wraps its control API (/__sim/…).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');

const START_TIMEOUT_MS = 15000;

const HOW_TO_FIND = 'set TRICKLE_BIN to the trickle binary (from a checkout: target/debug/trickle, after '
  + '`cargo build -p trickle-cli`), pass { bin }, or put trickle on PATH (`cargo install --path crates/cli`)';

/**
 * The `trickle` binary: `bin` when given, else $TRICKLE_BIN, else `trickle` found on PATH.
 * Throws an Error saying how to provide it when there is none.
 * @param {string} [bin]
 * @returns {string}
 */
function findTrickle(bin) {
  if (bin) return bin;
  if (process.env.TRICKLE_BIN) return process.env.TRICKLE_BIN;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir || '.', 'trickle');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`cannot find trickle: $TRICKLE_BIN is not set and no trickle is on PATH: ${HOW_TO_FIND}`);
}

/**
 * @param {object} options
 * @param {object|string} options.seed the seed (object) or a seed file path
 * @param {string} [options.bin] the `trickle` binary (default: $TRICKLE_BIN, else `trickle` on PATH; see `findTrickle`)
 * @param {string[]} [options.args] more `trickle sim` flags, e.g. ['--rate-limit', '0']
 * @param {boolean|{dir: string}} [options.tls] serve HTTPS (`--tls-dir`): its certificate authority is
 *   made in `dir` (or a temporary folder) and reused from there; `sim.caCertPath` names it. Scripts
 *   that `fetch` the emulator need a Node started with `NODE_EXTRA_CA_CERTS=<sim.caCertPath>`; the
 *   control API below trusts it by itself.
 * @returns {Promise<Sim>}
 */
async function startSim({ seed, bin, args = [], tls = false }) {
  bin = findTrickle(bin);
  let seedPath = seed;
  let tempDir;
  const temp = () => tempDir || (tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-sim-')));
  if (typeof seed !== 'string') {
    seedPath = path.join(temp(), 'seed.json');
    fs.writeFileSync(seedPath, JSON.stringify(seed));
  }
  let tlsDir;
  if (tls) {
    tlsDir = typeof tls === 'object' && tls.dir ? tls.dir : path.join(temp(), 'tls');
    args = ['--tls-dir', tlsDir, ...args];
  }
  const { child, baseUrl, stderr } = await spawnEmulator(bin, ['sim', '--seed', seedPath, ...args], 'trickle sim');
  const caCertPath = tlsDir ? path.join(tlsDir, 'ca.pem') : undefined;
  return new Sim(child, baseUrl, tempDir, stderr, caCertPath);
}

/**
 * Runs `bin argv… --port 0 --exit-on-stdin-close` and waits for its ready line, `NAME listening on URL`.
 * Shared by the emulators' starters (`startSim`, `startLegacySim`).
 * @returns {Promise<{child: import('node:child_process').ChildProcess, baseUrl: string, stderr: Buffer[]}>}
 */
async function spawnEmulator(bin, argv, name) {
  const child = spawn(bin, [...argv, '--port', '0', '--exit-on-stdin-close'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr = [];
  child.stderr.on('data', (chunk) => {
    stderr.push(chunk);
    if (stderr.length > 200) stderr.shift();
  });
  const ready = new RegExp(`^${name} listening on (https?:\\/\\/\\S+)\\s*$`, 'm');
  const baseUrl = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    function fail(error) {
      clearTimeout(timer);
      child.kill();
      reject(new Error(`${error.message}\n${Buffer.concat(stderr).toString()}`));
    }
    child.on('error', (error) => fail(error.code === 'ENOENT' || error.code === 'EACCES'
      ? new Error(`cannot run ${bin} (${error.code}): ${HOW_TO_FIND}`)
      : error));
    child.on('exit', (code) => fail(new Error(`${name} exited with code ${code}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const found = ready.exec(out);
      if (found) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(found[1]);
      }
    });
  });
  return { child, baseUrl, stderr };
}

class Sim {
  constructor(child, baseUrl, tempDir, stderr, caCertPath) {
    this.child = child;
    /** `http://127.0.0.1:PORT`, or `https://…` with `tls`. */
    this.baseUrl = baseUrl;
    /** With `tls`: the certificate authority's PEM file (what a client must trust). */
    this.caCertPath = caCertPath;
    /** With `tls`: that certificate, PEM. */
    this.caCert = caCertPath ? fs.readFileSync(caCertPath, 'utf8') : undefined;
    this.tempDir = tempDir;
    this.stderr = stderr;
  }

  async control(method, route, body) {
    const url = this.baseUrl + '/__sim/' + route;
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { status, text } = this.caCert
      ? await requestTrusting(this.caCert, url, method, headers, payload)
      : await fetch(url, { method, headers, body: payload }).then(async (r) => ({ status: r.status, text: await r.text() }));
    if (status < 200 || status > 299) throw new Error(`${method} /__sim/${route}: ${status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** `{ total, requests: { token_password_realm, get_user, … } }` */
  stats() {
    return this.control('GET', 'stats');
  }

  resetStats() {
    return this.control('POST', 'stats/reset');
  }

  /** `{ latency_ms, error_ratio, drop_ratio, malformed_ratio, truncate_ratio, only }`; omitted ratios are 0,
   * `only` (e.g. `'PATCH /api/v2/users/'`) limits the faults to matching requests. */
  setFaults(faults) {
    return this.control('PUT', 'faults', { latency_ms: 0, error_ratio: 0, drop_ratio: 0, malformed_ratio: 0, truncate_ratio: 0, ...faults });
  }

  setRateLimit(rps) {
    return this.control('PUT', 'rate-limit', { rps });
  }

  /** Every stored user, as the Management API shows them. */
  users() {
    return this.control('GET', 'users');
  }

  logs() {
    return Buffer.concat(this.stderr).toString();
  }

  async close() {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (this.tempDir) fs.rmSync(this.tempDir, { recursive: true, force: true });
  }
}

// One HTTPS request that trusts `ca` (fetch cannot be told which
// authorities to trust on every Node this supports).
function requestTrusting(ca, url, method, headers, payload) {
  return new Promise((resolve, reject) => {
    const request = https.request(url, { method, headers, ca }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode, text: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

module.exports = { startSim, Sim, spawnEmulator, findTrickle };
