'use strict';
// @trickle/testkit without a `trickle` to run: startSim, startLegacySim and
// findTrickle fail with an Error that says how to provide one (TRICKLE_BIN,
// { bin }, PATH), never a TypeError or a bare `spawn trickle ENOENT`; and
// with trickle on PATH alone (no TRICKLE_BIN), they find it.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { findTrickle, startSim, startLegacySim } = require('../packages/testkit');

const SEED = { users: [] };
const HOW = /TRICKLE_BIN.*\{ bin \}.*PATH/;

/** Runs `fn` with TRICKLE_BIN unset and PATH set to `dirs` only. */
async function withPath(dirs, fn) {
  const saved = { bin: process.env.TRICKLE_BIN, path: process.env.PATH };
  delete process.env.TRICKLE_BIN;
  process.env.PATH = dirs.join(path.delimiter);
  try {
    return await fn();
  } finally {
    if (saved.bin === undefined) delete process.env.TRICKLE_BIN;
    else process.env.TRICKLE_BIN = saved.bin;
    process.env.PATH = saved.path;
  }
}

const made = [];
test.after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function emptyDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'testkit-start-'));
  made.push(dir);
  return dir;
}

function assertTellsHow(error) {
  assert.ok(!(error instanceof TypeError), `a TypeError: ${error.stack}`);
  assert.match(error.message, HOW);
  return true;
}

test('no TRICKLE_BIN and no trickle on PATH: a clear Error from every starter', async () => {
  const nowhere = emptyDir();
  await withPath([nowhere], async () => {
    assert.throws(() => findTrickle(), (error) => assertTellsHow(error) && /no trickle is on PATH/.test(error.message));
    await assert.rejects(startSim({ seed: SEED }), assertTellsHow);
    await assert.rejects(startLegacySim({ seed: SEED, issuer: 'http://127.0.0.1:1/', audience: 'https://api' }), assertTellsHow);
  });
});

test('a bin that does not exist: the Error names it and says how to provide one', async () => {
  const missing = path.join(emptyDir(), 'no-such-trickle');
  await assert.rejects(startSim({ seed: SEED, bin: missing }), (error) => {
    assertTellsHow(error);
    assert.ok(error.message.includes(`cannot run ${missing} (ENOENT)`), error.message);
    return true;
  });
});

test('trickle on PATH alone is found, and runs the emulator', async () => {
  assert.ok(process.env.TRICKLE_BIN, 'run with TRICKLE_BIN=path/to/trickle (put on PATH by this test)');
  const dir = emptyDir();
  fs.symlinkSync(path.resolve(process.env.TRICKLE_BIN), path.join(dir, 'trickle'));
  const sim = await withPath([emptyDir(), dir], async () => {
    assert.equal(findTrickle(), path.join(dir, 'trickle'));
    return startSim({ seed: SEED });
  });
  try {
    assert.match(sim.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await sim.stats()).total, 0);
  } finally {
    await sim.close();
  }
});
