'use strict';
// The WASM core's exports under hostile values, and its one lower-casing.
//
// The module is cached per container and serves every later call there, so
// no input may damage it: non-strings where strings belong, getters and
// Proxy traps that throw in the middle of a read, revoked proxies, lone
// surrogates. Each hostile scenario runs in a worker with a deadline, since
// a damaged allocator can loop forever inside one synchronous call.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { describe, it, before, after } = require('node:test');

const { loadWasmCore, WASM_DIST } = require('./support/wasm-core');
const { trickle } = require('./support/generate');

const REALM = 'Username-Password-Authentication';
const DEADLINE_MS = 20000;

// Runs `scenario` (the source of a function of `core`) in a worker on a
// fresh instance; resolves what it returns, or rejects on a throw or when
// it is still running at the deadline.
function inWorker(scenario) {
  const source = `
    const { parentPort } = require('node:worker_threads');
    process.env.TRICKLE_WASM_DIST = ${JSON.stringify(WASM_DIST)};
    const { loadWasmCore } = require(${JSON.stringify(path.join(__dirname, 'support', 'wasm-core.js'))});
    const core = loadWasmCore();
    try {
      parentPort.postMessage({ ok: (${scenario})(core) });
    } catch (error) {
      parentPort.postMessage({ error: String(error && error.stack || error) });
    }`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true });
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`still running after ${DEADLINE_MS} ms: the instance hangs`));
    }, DEADLINE_MS);
    worker.once('message', (message) => {
      clearTimeout(timer);
      worker.terminate();
      if (message.error) reject(new Error(message.error));
      else resolve(message.ok);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

// What a healthy instance answers after the abuse: a large allocation and
// a real decision.
const STILL_HEALTHY = `
  function stillHealthy(core) {
    const long = 'A'.repeat(70000) + '@X.COM';
    if (core.emailKey(long) !== 'a'.repeat(70000) + '@x.com') throw new Error('a long email came back wrong');
    const candidates = Array.from({ length: 2000 }, (_, i) => ({
      user_id: 'auth0|u' + i, email: 'user' + i + '@x.com',
      identities: [{ provider: 'auth0', connection: '${REALM}', user_id: 'u' + i }],
    }));
    const verdict = core.decideByEmail(candidates, 'USER1999@x.com', '${REALM}', 0x1ff);
    if (verdict.kind !== 'migrate' || verdict.profile.user_id !== 'u1999') throw new Error('wrong verdict: ' + JSON.stringify(verdict));
    return true;
  }`;

describe('the WASM core under hostile values', () => {
  it('refuses non-strings where strings belong, and stays healthy', async () => {
    const result = await inWorker(`(core) => {
      ${STILL_HEALTHY}
      const hostile = [42, 1.5, {}, [], null, undefined, true, Symbol('s'), 10n, () => 'x', new String('boxed'), { toString() { return 'sneaky'; } }];
      const user = { user_id: 'auth0|u1', email: 'a@x.com', identities: [{ connection: '${REALM}', user_id: 'u1' }] };
      const calls = [
        (v) => core.emailKey(v),
        (v) => core.baseUrl(v),
        (v) => core.markerPatch(v),
        (v) => core.decideUser(user, v, 0x1ff),
        (v) => core.decideByEmail([user], v, '${REALM}', 0x1ff),
        (v) => core.decideByEmail([user], 'a@x.com', v, 0x1ff),
        (v) => core.classifyToken(200, {}, v),
        (v) => core.classifyManagement(429, v),
        (v) => core.apiUrl(v),
        (v) => core.classifyLegacy(429, {}, v, 1),
        (v) => core.decideLegacy({ users: [{ id: 'u1', email: 'a@x.com' }] }, v, 0x1ff),
      ];
      const seen = new Set();
      for (let round = 0; round < 200; round++) {
        for (const callIt of calls) {
          for (const value of hostile) {
            try {
              callIt(value);
            } catch (error) {
              seen.add(error.name);
            }
          }
        }
      }
      return { seen: [...seen], healthy: stillHealthy(core) };
    }`);
    assert.deepEqual(result, { seen: ['Error'], healthy: true }, 'only plain Errors, and the instance still works');
  });

  it('survives getters and Proxy traps that throw in the middle of a read', async () => {
    const result = await inWorker(`(core) => {
      ${STILL_HEALTHY}
      const trap = new Proxy({}, { get() { throw new Error('trap'); }, has() { throw new Error('trap'); } });
      const getter = { user_id: 'auth0|u1', get email() { throw new Error('getter'); } };
      const revocable = Proxy.revocable([], {});
      revocable.revoke();
      const identities = { user_id: 'auth0|u1', email: 'a@x.com', identities: new Proxy([{}], { get(t, k) { if (k === '0') throw new Error('element'); return Reflect.get(t, k); } }) };
      // Metadata holding one of Trickle's own keys, behind traps: reading its
      // entries throws, or reading the key itself does.
      const ownKeys = new Proxy({ trickle_checked_at: 't', plan: 'gold' }, { ownKeys() { throw new Error('trap'); } });
      const ownGetter = { plan: 'gold', get trickle_marked_at() { throw new Error('getter'); } };
      const withMetadata = (app_metadata) => ({ user_id: 'auth0|u1', email: 'a@x.com', identities: [{ connection: '${REALM}', user_id: 'u1' }], app_metadata });
      const inputs = [trap, getter, revocable.proxy, identities, [trap], [getter], { user_id: 'x', email: 'a@x.com', app_metadata: trap },
        withMetadata(ownKeys), withMetadata(ownGetter), withMetadata(revocable.proxy)];
      const seen = new Set();
      const calls = [
        (v) => core.decideUser(v, '${REALM}', 0x1ff),
        (v) => core.decideByEmail(v, 'a@x.com', '${REALM}', 0x1ff),
        (v) => core.decideByEmail([v], 'a@x.com', '${REALM}', 0x1ff),
        (v) => core.classifyToken(403, v, undefined),
        (v) => core.markerWrite && core.markerWrite(200, v),
        (v) => core.markerCheck && core.markerCheck(200, v),
        (v) => core.decideLegacy({ user: v }, undefined, 0x1ff),
        (v) => core.decideLegacy({ users: v }, 'a@x.com', 0x1ff),
        (v) => core.decideLegacy(v, 'a@x.com', 0x1ff),
        (v) => core.classifyLegacy(200, v, undefined, 1),
        (v) => core.legacyMarkerWrite(200, v),
        (v) => core.legacyMarkerCheck(200, { user: v }),
      ];
      for (let round = 0; round < 600; round++) {
        for (const input of inputs) {
          for (const callIt of calls) {
            try {
              callIt(input);
            } catch (error) {
              seen.add(error.name);
            }
          }
        }
      }
      return { seen: [...seen], healthy: stillHealthy(core) };
    }`);
    assert.deepEqual(result, { seen: ['Error'], healthy: true }, 'only plain Errors, and the instance still works');
  });

  it("leaves Trickle's own keys out of a profile, keeping every other key (a __proto__ one too) and the input as it was", async () => {
    const result = await inWorker(`(core) => {
      const text = '{"__proto__": {"x": 1}, "plan": "gold", "trickle_checked_at": "c", "trickle_marked_at": "m", "trickle_migrated_at": "t", "trickle_other": 2}';
      const user = { user_id: 'auth0|u1', email: 'a@x.com', identities: [{ connection: '${REALM}', user_id: 'u1' }], app_metadata: JSON.parse(text) };
      const clean = { user_id: 'auth0|u1', email: 'a@x.com', identities: [{ connection: '${REALM}', user_id: 'u1' }], app_metadata: { plan: 'gold' } };
      const profile = core.decideUser(user, '${REALM}', 0x1ff).profile;
      const kept = core.decideUser(clean, '${REALM}', 0x1ff).profile;
      return {
        keys: Object.keys(profile.metadata),
        inherited: profile.metadata.x,
        ownProto: JSON.stringify(profile.metadata.__proto__),
        untouched: Object.keys(user.app_metadata),
        same: kept.metadata === clean.app_metadata,
      };
    }`);
    assert.deepEqual(result, {
      keys: ['__proto__', 'plan', 'trickle_other'],
      inherited: undefined,
      ownProto: '{"x":1}',
      untouched: ['__proto__', 'plan', 'trickle_checked_at', 'trickle_marked_at', 'trickle_migrated_at', 'trickle_other'],
      same: true,
    });
  });

  it('reads a marker write as written only when the user came back, and refuses absurd lists', async () => {
    const result = await inWorker(`(core) => {
      const huge = [];
      huge.length = 4294967295;
      const outcome = (f) => { try { return f(); } catch (error) { return error.name + ': ' + error.message; } };
      return {
        user: core.markerWrite(200, { user_id: 'auth0|u1', app_metadata: {} }),
        empty: core.markerWrite(200, {}),
        html: core.markerWrite(200, undefined),
        errorBody: core.markerWrite(200, { statusCode: 200, message: 'ok' }),
        huge: outcome(() => core.decideByEmail(huge, 'a@x.com', '${REALM}', 0x1ff)),
      };
    }`);
    assert.deepEqual(result, {
      user: 'written',
      empty: 'uncertain',
      html: 'uncertain',
      errorBody: 'uncertain',
      huge: 'Error: the old tenant sent a list with a bad length',
    });
  });

  it('refuses unpaired surrogates instead of matching U+FFFD', async () => {
    const result = await inWorker(`(core) => {
      const replaced = { user_id: 'auth0|r1', email: 'a\\uFFFD@x.com', identities: [{ connection: '${REALM}', user_id: 'r1' }] };
      const lone = { user_id: 'auth0|l1', email: 'a\\uD800@x.com', identities: [{ connection: '${REALM}', user_id: 'l1' }] };
      const outcome = (f) => { try { return f(); } catch (error) { return error.name + ': ' + error.message; } };
      return {
        key: outcome(() => core.emailKey('a\\uD800@x.com')),
        lowSurrogate: outcome(() => core.emailKey('a\\uDC00@x.com')),
        pairIsFine: outcome(() => core.emailKey('A\\uD83D\\uDE00@X.COM')),
        replacementIsFine: outcome(() => core.emailKey('A\\uFFFD@X.COM')),
        lookup: outcome(() => core.decideByEmail([replaced], 'a\\uD800@x.com', '${REALM}', 0x1ff).kind),
        candidate: outcome(() => core.decideByEmail([lone], 'a\\uFFFD@x.com', '${REALM}', 0x1ff).kind),
        exact: outcome(() => core.decideByEmail([replaced], 'a\\uFFFD@x.com', '${REALM}', 0x1ff).kind),
      };
    }`);
    assert.match(result.key, /^Error: .*unpaired surrogate/);
    assert.match(result.lowSurrogate, /^Error: .*unpaired surrogate/);
    assert.equal(result.pairIsFine, 'a\u{1F600}@x.com');
    assert.equal(result.replacementIsFine, 'a\uFFFD@x.com');
    assert.match(result.lookup, /^Error: /, 'a\\uD800@ must never find the user a\\uFFFD@');
    assert.match(result.candidate, /^Error: .*wrong type: email/);
    assert.equal(result.exact, 'migrate');
  });
});

describe('one lower-casing for every path', () => {
  let tmp;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-lowercase-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it(`the scripts' WASM lower-cases every cased character as bulk does natively (Node ${process.version})`, async () => {
    const core = loadWasmCore();
    // Every code point that this Node or the core changes when lower-casing,
    // plus final-sigma contexts; each as the local part of an email.
    const locals = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const c = String.fromCodePoint(code);
      if (c.toLowerCase() !== c || core.emailKey(c) !== c) locals.push(c);
    }
    // U+A7CB: Node 18 leaves it as it is, Rust (bulk) does not.
    if (!locals.includes('\uA7CB')) locals.push('\uA7CB');
    locals.push('ΟΔΥΣΣΕΥΣ', 'Σ', 'AΣ\u0301', 'AΣ\u0301B', 'İstanbul');
    const emails = locals.map((local, i) => `u${i}.${local}@Example.COM`);
    const export_ = emails.map((email, i) => JSON.stringify({
      user_id: `auth0|lc${i}`, email, identities: [{ provider: 'auth0', connection: REALM, user_id: `lc${i}` }],
    })).join('\n') + '\n';
    const input = path.join(tmp, 'export.json');
    fs.writeFileSync(input, export_);
    const config = path.join(tmp, 'trickle.toml');
    fs.writeFileSync(config, `[connection]\nname = "New"\n[source]\nrealm = "${REALM}"\n`);
    const out = path.join(tmp, 'plan');
    await trickle(['bulk', 'plan', '--config', config, '--input', input, '--out', out]);
    const native = new Map();
    for (const file of fs.readdirSync(out).filter((f) => /^users-\d+\.json$/.test(f))) {
      for (const planned of JSON.parse(fs.readFileSync(path.join(out, file), 'utf8'))) native.set(planned.user_id, planned.email);
    }
    assert.equal(native.size, emails.length, 'every user was planned');
    const differ = [];
    emails.forEach((email, i) => {
      const viaWasm = core.emailKey(email);
      if (viaWasm !== native.get(`lc${i}`)) differ.push(`${JSON.stringify(email)}: wasm ${JSON.stringify(viaWasm)}, bulk ${JSON.stringify(native.get(`lc${i}`))}`);
    });
    assert.deepEqual(differ, []);
  });
});
