'use strict';
// A short, seeded property-based run over every WASM export (the fuzzer is
// support/wasm-fuzz.js; scripts/fuzz.sh runs it long and prints figures):
// random and hostile values (wrong types, 3,000-deep nesting, lone
// surrogates, NUL, 70 KB strings, `__proto__` keys, bigint, symbol, sparse
// arrays; then getters and Proxy traps that throw). In a worker with a
// deadline: a damaged allocator can loop forever inside one call.

const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { it } = require('node:test');

const CALLS = Number(process.env.TRICKLE_FUZZ_CALLS || 4000);
const SEED = Number(process.env.TRICKLE_FUZZ_SEED || 20261201);
const DEADLINE_MS = 60000;

function fuzzInWorker(options) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'support', 'wasm-fuzz.js'), { workerData: { fuzzWasm: true, ...options } });
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`still running after ${DEADLINE_MS} ms: a call hangs`));
    }, DEADLINE_MS);
    worker.once('message', (figures) => {
      clearTimeout(timer);
      worker.terminate();
      resolve(figures);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

it(`every WASM export under ${CALLS} random calls (seed ${SEED}): no trap, no damage, no growth`, async () => {
  const { data, throwing } = await fuzzInWorker({ calls: CALLS, seed: SEED });
  for (const [name, phase] of Object.entries({ data, throwing })) {
    assert.equal(phase.traps, 0, `${name}: ${phase.unexpected.join('; ')}`);
    assert.equal(phase.unhealthy, 0, `${name}: the instance answered a plain call wrongly afterwards`);
    assert.deepEqual(phase.unexpected, [], `${name}: answers of the wrong shape or errors other than the façade's`);
    assert.equal(phase.memoryAfter, phase.memoryBefore, `${name}: linear memory grew`);
    assert.ok(phase.returned > phase.calls / 10 && phase.threw.Error > phase.calls / 10, `${name}: both answers and refusals were exercised`);
  }
  assert.equal(data.valuesAfter, data.valuesBefore, 'no JavaScript value is kept after a call');
  // A read that throws inside the WASM leaves one slot of wasm-bindgen's
  // value table behind (its catch wrapper stores the missing result and never
  // frees it); only JavaScript getters and Proxies throw, never parsed JSON.
  assert.ok(throwing.readsThatThrew > 0);
  assert.ok(throwing.valuesAfter - throwing.valuesBefore <= throwing.readsThatThrew, JSON.stringify(throwing));
});
