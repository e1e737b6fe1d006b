'use strict';
// A property-based fuzzer of the WASM core's exports: every export called
// with random and hostile JavaScript values (wrong types, deep nesting,
// lone surrogates, NUL, 70 KB strings, `__proto__` keys, bigint, symbol,
// throwing getters and Proxy traps), from a seeded PRNG so a run can be
// replayed. The property: every call returns a well-formed answer or
// throws the façade's plain Error (or, for a number argument the engine
// cannot convert, a TypeError before the WASM is entered); nothing traps;
// the instance stays healthy; its memory does not grow.
//
//   node tests/support/wasm-fuzz.js [--calls N] [--seed S]   (scripts/fuzz.sh)
// or as a worker (tests/wasm-fuzz.test.js), with workerData { calls, seed }.

const { isMainThread, parentPort, workerData } = require('node:worker_threads');

const { loadWasmInstance } = require('./wasm-core');

const REALM = 'Username-Password-Authentication';
const ALL_FIELDS = 0x1ff;

/** A seeded PRNG (mulberry32): the same seed, the same run. */
function prng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (list) => list[int(list.length)];
  return { next, int, pick, chance: (p) => next() < p };
}

class HostileError extends Error {
  constructor() {
    super('thrown by a hostile value');
    this.name = 'HostileError';
  }
}
// How many times a hostile value threw (a getter, a Proxy trap, valueOf).
let thrown = 0;
const hostileThrow = () => {
  thrown += 1;
  throw new HostileError();
};

// `throwing`: also values whose reads throw (getters, Proxy traps, revoked
// proxies). Only JavaScript can make those: JSON (what the old tenant
// sends) cannot.
function makeValues(r, throwing) {
  const codeUnits = (n, from, to) => String.fromCharCode(...Array.from({ length: n }, () => from + r.int(to - from)));
  const strings = [
    () => codeUnits(r.int(20), 0x20, 0x7f),
    () => codeUnits(r.int(12), 0, 0x10000), // lone surrogates likely
    () => `${codeUnits(1 + r.int(8), 0x61, 0x7b)}\u0000@x.com`,
    () => '\u0000'.repeat(1 + r.int(5)),
    () => `${r.pick(['A', 'Σ', 'İ', 'ẞ', '\u{1F600}', '\uD800', '\uDC00', '\uFFFD'])}${codeUnits(r.int(6), 0x41, 0x5b)}@Example.COM`,
    () => r.pick(['', ' ', 'a@x.com', 'https://old.example.com', 'http://127.0.0.1:8080', 'http://evil.example', 'https://a/b', '__proto__', 'constructor']),
    () => (r.chance(0.5) ? 'A' : '\u00C9').repeat(70000) + '@X.COM', // 70 KB
  ];
  const string = () => (r.chance(0.04) ? strings[6]() : r.pick(strings.slice(0, 6))());
  const number = () => r.pick([0, -0, 1, -1, 1.5, 200, 204, 302, 404, 429, 503, 65535, 65536, 2 ** 32, 2 ** 53, NaN, Infinity, -Infinity, r.int(1000)]);
  const deep = (depth) => {
    let value = r.chance(0.5) ? {} : [];
    for (let i = 0; i < depth; i++) value = r.chance(0.5) ? { nested: value } : [value];
    return value;
  };
  const protoKeys = () => JSON.parse(`{"__proto__": {"email": "x@x.com", "user_id": "auth0|p"}, "constructor": {"prototype": 1}, "email": ${JSON.stringify(string())}}`);
  const proxy = () => new Proxy(r.chance(0.5) ? {} : [], { get: hostileThrow, has: hostileThrow, ownKeys: hostileThrow, getPrototypeOf: hostileThrow });
  const exotic = [
    () => undefined,
    () => null,
    () => r.chance(0.5),
    number,
    () => BigInt(r.int(100)) - 50n,
    () => 2n ** 64n,
    () => Symbol('hostile'),
    () => () => 'a function',
    () => new String(string()),
    () => new Number(number()),
    () => ({ [Symbol.toPrimitive]: () => ({}) }),
    () => deep(1 + r.int(3000)),
    protoKeys,
    () => new Date(),
    () => /re/g,
    () => new Map([['email', 'a@x.com']]),
    () => new Uint8Array(r.int(64)),
    () => Object.create(null),
    () => {
      const sparse = [];
      sparse.length = r.int(100000);
      return sparse;
    },
  ];
  if (throwing) {
    exotic.push(
      () => ({ valueOf: hostileThrow, toString: hostileThrow }),
      proxy,
      () => ({ get email() { return hostileThrow(); }, user_id: 'auth0|g' }),
      () => ({ user_id: 'auth0|g', email: 'a@x.com', identities: [{ get connection() { return hostileThrow(); } }] }),
    );
  }
  const any = (depth = 0) => {
    const roll = r.next();
    if (roll < 0.3) return string();
    if (roll < 0.5 || depth > 2) return r.pick(exotic)();
    if (roll < 0.75) return Array.from({ length: r.int(5) }, () => any(depth + 1));
    const object = {};
    for (let i = r.int(5); i > 0; i--) {
      const key = r.pick(['email', 'user_id', 'identities', 'app_metadata', 'error', 'blocked', '__proto__', string()]);
      Object.defineProperty(object, key, { value: any(depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return object;
  };
  // Plausible values (right type, odd content) reach the core, not just the type checks.
  const maybe = (value) => (r.chance(0.85) ? value : any(1));
  const identity = () => maybe({ provider: maybe('auth0'), connection: maybe(r.chance(0.7) ? REALM : string()), user_id: maybe(r.chance(0.8) ? string() : number()) });
  const user = () => {
    const value = {
      user_id: maybe(`auth0|${string()}`),
      email: maybe(string()),
      email_verified: maybe(r.chance(0.5)),
      name: maybe(string()),
      username: maybe(string()),
      blocked: maybe(r.chance(0.1)),
      identities: maybe(Array.from({ length: r.int(3) }, identity)),
      app_metadata: maybe(r.chance(0.2) ? { trickle_migrated_at: string() } : r.chance(0.5) ? deep(r.int(2000)) : any(1)),
      user_metadata: maybe(any(1)),
    };
    if (r.chance(0.2)) return Object.assign(protoKeys(), value);
    if (throwing && r.chance(0.1)) Object.defineProperty(value, 'email', { get: hostileThrow, enumerable: true });
    return value;
  };
  const status = () => (r.chance(0.85) ? r.pick([0, 200, 201, 204, 301, 302, 400, 401, 403, 404, 429, 500, 503, r.int(1000)]) : any(1));
  const text = () => (r.chance(0.85) ? string() : any(1));
  const tokenBody = () => (r.chance(0.8) ? { error: maybe(r.pick(['invalid_grant', 'mfa_required', 'unauthorized', string()])), access_token: maybe(string()), id_token: maybe(string()) } : any(1));
  const policy = () => (r.chance(0.85) ? r.int(2 ** 18) : any(1));
  // A legacy store's `User` (its id under `id`, `migrated_at`) and the
  // bodies its API answers with.
  const legacyUser = () => {
    const value = user();
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      value.id = maybe(string());
      value.migrated_at = maybe(r.pick([null, '', '2026-01-01T00:00:00Z', string()]));
    }
    return value;
  };
  const legacyBody = () => {
    const roll = r.next();
    if (roll < 0.35) return { user: legacyUser() };
    if (roll < 0.7) return { users: maybe(Array.from({ length: r.int(6) }, legacyUser)) };
    if (roll < 0.9) return { error: maybe(r.pick(['invalid_credentials', 'user_not_found', 'user_blocked', 'already_migrated', string()])), user: maybe(legacyUser()) };
    return any(1);
  };
  return { any, user, status, text, tokenBody, policy, string, number, legacyBody };
}

/** What each export is called with, most of the time (then anything). */
function argumentsFor(values, r) {
  const { user, status, text, tokenBody, policy } = values;
  const candidates = () => (r.chance(0.85) ? Array.from({ length: r.int(6) }, user) : values.any(1));
  return {
    baseUrl: () => [text()],
    emailKey: () => [text()],
    classifyToken: () => [status(), tokenBody(), text()],
    classifyManagement: () => [status(), text()],
    decideUser: () => [user(), r.chance(0.8) ? REALM : text(), policy()],
    decideByEmail: () => [candidates(), text(), r.chance(0.8) ? REALM : text(), policy()],
    markerPatch: () => [text()],
    markerWrite: () => [status(), r.chance(0.5) ? user() : values.any(1)],
    markerCheck: () => [status(), r.chance(0.5) ? user() : values.any(1)],
    apiUrl: () => [text()],
    classifyLegacy: () => [status(), values.legacyBody(), r.chance(0.7) ? r.pick(['1', '0', '60', 'soon']) : text(), r.chance(0.8) ? Date.now() / 1000 : values.number()],
    decideLegacy: () => [values.legacyBody(), r.chance(0.5) ? undefined : text(), policy()],
    legacyMarkerWrite: () => [status(), values.legacyBody()],
    legacyMarkerCheck: () => [status(), values.legacyBody()],
  };
}

const KINDS = new Set([
  'authenticated', 'wrong_credentials', 'blocked', 'password_leaked', 'too_many_attempts', 'mfa_required', 'rate_limited',
  'misconfigured', 'redirected', 'transient', 'unexpected', 'ok', 'not_found', 'unauthorized', 'forbidden', 'migrate',
  'already_migrated', 'written', 'refused', 'uncertain', 'marked', 'not_marked', 'unconfirmed', 'malformed',
]);

/** Whether an export's answer has its documented shape. */
function wellFormed(name, answer) {
  switch (name) {
    case 'baseUrl':
    case 'apiUrl':
    case 'emailKey':
      return typeof answer === 'string';
    case 'markerPatch':
      return typeof answer === 'object' && answer !== null && typeof answer.app_metadata === 'object';
    case 'markerWrite':
    case 'markerCheck':
    case 'legacyMarkerWrite':
    case 'legacyMarkerCheck':
      return typeof answer === 'string' && KINDS.has(answer);
    default:
      return typeof answer === 'object' && answer !== null && KINDS.has(answer.kind);
  }
}

const errorName = (error) => (error !== null && typeof error === 'object' && typeof error.name === 'string' ? error.name : typeof error);

/** The biggest call the fuzzer makes: six users, every text 70 KB of two-byte characters. */
function largest(core) {
  const long = '\u00C9'.repeat(70000) + '@X.COM';
  const user = { email: long, identities: [{ provider: long, connection: REALM, user_id: long }, { provider: long, connection: long, user_id: long }] };
  for (const key of ['user_id', 'username', 'name', 'nickname', 'given_name', 'family_name', 'picture']) user[key] = long;
  const candidates = Array.from({ length: 6 }, () => ({ ...user }));
  const quietly = (call) => {
    try {
      call();
    } catch {
      // Six users with one email are ambiguous: an answer too.
    }
  };
  quietly(() => core.decideByEmail(candidates, long, REALM, ALL_FIELDS));
  quietly(() => core.decideByEmail(candidates.slice(0, 1), long, REALM, ALL_FIELDS));
  quietly(() => core.decideUser(user, REALM, ALL_FIELDS));
  const sparse = [];
  sparse.length = 100000;
  quietly(() => core.decideByEmail(sparse, long, REALM, ALL_FIELDS));
  // Every answer's shape once, so every field name is cached from here on.
  const full = {
    user_id: 'auth0|w1', email: 'W@x.com', email_verified: true, username: 'w', name: 'W', nickname: 'w', given_name: 'W',
    family_name: 'W', picture: 'p', blocked: false, identities: [{ provider: 'auth0', connection: REALM, user_id: 'w1' }],
    app_metadata: { trickle_migrated_at: '' }, user_metadata: {},
  };
  for (const policy of [ALL_FIELDS, ALL_FIELDS | (1 << 16), ALL_FIELDS | (1 << 17)]) {
    quietly(() => core.decideUser(full, REALM, policy));
    quietly(() => core.decideByEmail([full], 'w@x.com', REALM, policy));
  }
  quietly(() => core.decideUser({ ...full, blocked: true }, REALM, ALL_FIELDS));
  quietly(() => core.decideUser({ ...full, app_metadata: { trickle_migrated_at: 'x' } }, REALM, 1 << 17));
  quietly(() => core.decideByEmail([], 'w@x.com', REALM, ALL_FIELDS));
  const marked = { ...full, app_metadata: { trickle_migrated_at: '2026-01-01T00:00:00.000Z' } };
  for (const status of [0, 200, 302, 400, 401, 403, 404, 418, 429, 503]) {
    for (const error of ['invalid_grant', 'unauthorized', 'password_leaked', 'too_many_attempts', 'mfa_required', 'invalid_client', 'other', undefined]) {
      quietly(() => core.classifyToken(status, { error, access_token: 'a', id_token: 'i' }, '12'));
    }
    quietly(() => core.classifyManagement(status, '12'));
    for (const user of [full, marked, 'not a user']) {
      quietly(() => core.markerWrite(status, user));
      quietly(() => core.markerCheck(status, user));
    }
  }
  quietly(() => core.markerPatch('2026-01-01T00:00:00.000Z'));
  quietly(() => core.baseUrl('https://w.example.com'));
  // The legacy store's answers, as large and as varied.
  const legacy = { ...user, id: long, migrated_at: long };
  const legacyFull = { ...full, id: 'w1', migrated_at: '2026-01-01T00:00:00.000Z' };
  quietly(() => core.decideLegacy({ users: Array.from({ length: 6 }, () => ({ ...legacy })) }, long, ALL_FIELDS));
  quietly(() => core.decideLegacy({ users: [legacy] }, long, ALL_FIELDS));
  quietly(() => core.decideLegacy({ user: legacy }, undefined, ALL_FIELDS));
  quietly(() => core.decideLegacy({ users: sparse }, long, ALL_FIELDS));
  for (const policy of [ALL_FIELDS, ALL_FIELDS | (1 << 16), ALL_FIELDS | (1 << 17)]) {
    for (const shape of [legacyFull, { ...legacyFull, migrated_at: null }, { ...legacyFull, blocked: true }]) {
      quietly(() => core.decideLegacy({ user: shape }, undefined, policy));
      quietly(() => core.decideLegacy({ users: [shape] }, 'w@x.com', policy));
    }
  }
  for (const status of [0, 200, 302, 401, 403, 404, 409, 423, 429, 503]) {
    for (const error of ['invalid_credentials', 'user_not_found', 'user_blocked', 'already_migrated', long, undefined]) {
      for (const body of [{ error, user: legacyFull }, { error, users: [] }, { error }]) {
        quietly(() => core.classifyLegacy(status, body, '12', 1700000000));
        quietly(() => core.legacyMarkerWrite(status, body));
        quietly(() => core.legacyMarkerCheck(status, body));
      }
    }
  }
  quietly(() => core.apiUrl('https://w.example.com/a/b'));
  quietly(() => core.apiUrl(long));
}

/** JavaScript values the instance holds (its table's slots in use). */
function liveValues(table) {
  let live = 0;
  for (let i = 0; i < table.length; i++) if (table.get(i) !== null) live += 1;
  return live;
}

/** After the abuse: a large allocation and a real decision still come out right. */
function stillHealthy(core) {
  const long = 'A'.repeat(70000) + '@X.COM';
  if (core.emailKey(long) !== 'a'.repeat(70000) + '@x.com') return false;
  const candidates = Array.from({ length: 2000 }, (_, i) => ({
    user_id: 'auth0|u' + i,
    email: 'user' + i + '@x.com',
    identities: [{ provider: 'auth0', connection: REALM, user_id: 'u' + i }],
  }));
  const verdict = core.decideByEmail(candidates, 'USER1999@x.com', REALM, ALL_FIELDS);
  return verdict.kind === 'migrate' && verdict.profile.user_id === 'u1999';
}

/** Runs `calls` random calls on a fresh instance; answers what happened. */
function runPhase(r, calls, throwing) {
  const values = makeValues(r, throwing);
  const callsFor = argumentsFor(values, r);
  let { core, memory, values: table } = loadWasmInstance();
  const exported = Object.keys(callsFor);
  const missing = Object.keys(core).filter((name) => name !== 'initSync' && typeof core[name] === 'function' && !exported.includes(name));
  if (missing.length) throw new Error(`exports the fuzzer does not know: ${missing.join(', ')}`);
  // Warm up with the largest inputs the values above can make, so what
  // follows can grow memory only by leaking.
  for (let i = 0; i < 3; i++) {
    stillHealthy(core);
    largest(core);
  }
  const thrownBefore = thrown;
  const phase = {
    calls: 0, returned: 0, threw: {}, traps: 0, unexpected: [], unhealthy: 0,
    memoryBefore: memory.buffer.byteLength, valuesBefore: liveValues(table),
  };
  const note = (line) => phase.unexpected.length < 20 && phase.unexpected.push(line);
  for (let i = 0; i < calls; i++) {
    const name = r.pick(exported);
    // Arguments of the right kind, or any number of anything.
    const args = r.chance(0.8) ? callsFor[name]() : Array.from({ length: r.int(6) }, () => values.any());
    phase.calls += 1;
    try {
      const answer = core[name](...args);
      phase.returned += 1;
      if (!wellFormed(name, answer)) note(`${name} answered ${typeof answer === 'object' ? JSON.stringify(answer) : String(answer)}`);
    } catch (error) {
      const kind = errorName(error);
      phase.threw[kind] = (phase.threw[kind] || 0) + 1;
      if (error instanceof WebAssembly.RuntimeError) {
        phase.traps += 1;
        note(`${name} trapped: ${error.message}`);
        ({ core, memory, values: table } = loadWasmInstance()); // as the scripts do: a fresh instance
      } else if (kind === 'TypeError') {
        // Only the engine converting a number argument, before the WASM runs.
        if (/wasm:\/\//.test(String(error.stack))) note(`${name} threw TypeError inside the WASM: ${error.message}`);
      } else if (kind !== 'Error' && kind !== 'HostileError') {
        note(`${name} threw ${kind}: ${error && error.message}`);
      }
    }
    if (i % 500 === 499 && !stillHealthy(core)) phase.unhealthy += 1;
  }
  if (!stillHealthy(core)) phase.unhealthy += 1;
  phase.memoryAfter = memory.buffer.byteLength;
  phase.valuesAfter = liveValues(table);
  // Thrown inside the WASM's reads (the others escaped to the caller, from
  // a number argument's conversion).
  phase.readsThatThrew = thrown - thrownBefore - (phase.threw.HostileError || 0);
  return phase;
}

/**
 * The whole run, from `seed`: `calls` calls with every value JSON can make
 * and every wrong type (`data`), then a quarter as many that add values
 * whose reads throw (`throwing`). Answers both phases' figures.
 */
function fuzzWasm({ calls = 2000, seed = 1 } = {}) {
  const r = prng(seed);
  return { seed, data: runPhase(r, calls, false), throwing: runPhase(r, Math.ceil(calls / 4), true) };
}

/** Lines a person reads. */
function describeRun(figures) {
  const lines = [];
  for (const [name, phase] of Object.entries({ data: figures.data, throwing: figures.throwing })) {
    const growth = phase.memoryAfter - phase.memoryBefore;
    lines.push(`${name}: ${phase.calls} calls: returned ${phase.returned}, threw ${JSON.stringify(phase.threw)}`);
    lines.push(`  panics/traps ${phase.traps}; failed health checks ${phase.unhealthy}; unexpected answers ${phase.unexpected.length}`);
    for (const line of phase.unexpected) lines.push(`    ${line}`);
    lines.push(`  WASM memory ${phase.memoryBefore} bytes before, ${phase.memoryAfter} after (${growth >= 0 ? '+' : ''}${growth}); ` +
      `JavaScript values held ${phase.valuesBefore} before, ${phase.valuesAfter} after` +
      (name === 'throwing' ? ` (reads that threw inside the WASM: ${phase.readsThatThrew})` : ''));
  }
  return lines;
}

if (!isMainThread && workerData && workerData.fuzzWasm) {
  parentPort.postMessage(fuzzWasm(workerData));
} else if (require.main === module) {
  const argument = (name, fallback) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const calls = argument('--calls', 100000);
  const seed = argument('--seed', Date.now() % 2 ** 31);
  const started = Date.now();
  const figures = fuzzWasm({ calls, seed });
  console.log(`WASM exports on Node ${process.version}, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const line of describeRun(figures)) console.log(`  ${line}`);
  const { data, throwing } = figures;
  const bad = [data, throwing].some((p) => p.traps || p.unhealthy || p.unexpected.length) ||
    data.memoryAfter > data.memoryBefore || data.valuesAfter > data.valuesBefore ||
    throwing.memoryAfter > throwing.memoryBefore || throwing.valuesAfter - throwing.valuesBefore > throwing.readsThatThrew;
  process.exitCode = bad ? 1 : 0;
}

module.exports = { fuzzWasm, describeRun, prng, liveValues };
