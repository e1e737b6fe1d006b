'use strict';
// Runs a test file in a child Node that trusts the emulators' local
// certificate authority. Node reads NODE_EXTRA_CA_CERTS once, at start, and
// scripts call the global `fetch`, which cannot be told per call which
// authorities to trust on Node 18: so the authority is made first (one
// `trickle sim --tls-dir DIR` start), and the child is started with it and
// with TRICKLE_TEST_TLS_DIR=DIR, so its emulators serve certificates from
// that same authority.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startSim } = require('../../packages/testkit');

/** The folder a trusting child's emulators must take their authority from, when in one. */
const TLS_DIR = process.env.TRICKLE_TEST_TLS_DIR;

/**
 * Runs `node --test FILE` (TAP) trusting a new authority; resolves
 * `{ code, output, pass, fail, tlsDir }`. The folder is removed afterwards.
 */
async function runTrusting(file, { env = {}, timeoutMs = 10 * 60 * 1000 } = {}) {
  const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-tls-run-'));
  try {
    const sim = await startSim({ seed: {}, tls: { dir: tlsDir }, args: ['--quiet'] });
    await sim.close();
    // Without the parent runner's NODE_TEST_CONTEXT: the child is a test run of its own.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_TEST_CONTEXT'));
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', file], {
      env: { ...inherited, ...env, NODE_EXTRA_CA_CERTS: path.join(tlsDir, 'ca.pem'), TRICKLE_TEST_TLS_DIR: tlsDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    const code = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${file} still running after ${timeoutMs} ms:\n${Buffer.concat(chunks)}`));
      }, timeoutMs);
      child.on('error', reject);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    const output = Buffer.concat(chunks).toString();
    const count = (name) => {
      const found = new RegExp(`^# ${name} (\\d+)$`, 'm').exec(output);
      return found ? Number(found[1]) : undefined;
    };
    return { code, output, pass: count('pass'), fail: count('fail'), tlsDir };
  } finally {
    fs.rmSync(tlsDir, { recursive: true, force: true });
  }
}

module.exports = { runTrusting, TLS_DIR };
