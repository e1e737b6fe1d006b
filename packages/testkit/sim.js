'use strict';
// Starts Trickle's emulated old tenant (`trickle sim`) for a test or a
// rehearsal, and wraps its control API (/__sim/…).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const READY = /^trickle sim listening on (http:\/\/\S+)\s*$/m;
const START_TIMEOUT_MS = 15000;

/**
 * @param {object} options
 * @param {object|string} options.seed the seed (object) or a seed file path
 * @param {string} [options.bin] the `trickle` binary (default: $TRICKLE_BIN, else `trickle` on PATH)
 * @param {string[]} [options.args] more `trickle sim` flags, e.g. ['--rate-limit', '0']
 * @returns {Promise<Sim>}
 */
async function startSim({ seed, bin = process.env.TRICKLE_BIN || 'trickle', args = [] }) {
  let seedPath = seed;
  let tempDir;
  if (typeof seed !== 'string') {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-sim-'));
    seedPath = path.join(tempDir, 'seed.json');
    fs.writeFileSync(seedPath, JSON.stringify(seed));
  }
  const child = spawn(bin, ['sim', '--seed', seedPath, '--port', '0', '--exit-on-stdin-close', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr = [];
  child.stderr.on('data', (chunk) => {
    stderr.push(chunk);
    if (stderr.length > 200) stderr.shift();
  });
  const baseUrl = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`trickle sim did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    function fail(error) {
      clearTimeout(timer);
      child.kill();
      reject(new Error(`${error.message}\n${Buffer.concat(stderr).toString()}`));
    }
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`trickle sim exited with code ${code}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const ready = READY.exec(out);
      if (ready) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(ready[1]);
      }
    });
  });
  return new Sim(child, baseUrl, tempDir, stderr);
}

class Sim {
  constructor(child, baseUrl, tempDir, stderr) {
    this.child = child;
    this.baseUrl = baseUrl;
    this.tempDir = tempDir;
    this.stderr = stderr;
  }

  async control(method, route, body) {
    const response = await fetch(this.baseUrl + '/__sim/' + route, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} /__sim/${route}: ${response.status} ${await response.text()}`);
    const text = await response.text();
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

module.exports = { startSim, Sim };
