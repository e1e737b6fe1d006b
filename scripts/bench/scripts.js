'use strict';
// Benchmark of the generated scripts (A) against a plain-JS baseline in the
// style people deploy today (B, scripts/bench/baseline/), side by side in
// one run against the same emulated old tenant on loopback.
//
//   node scripts/bench/scripts.js --trickle BIN --out DIR [--runs N] [--warm N]
//
// Prints a Markdown table and writes DIR/scripts.md and DIR/scripts.json.
// Two settings per timing: "loopback" (real HTTP to `trickle sim`) and
// "replayed" (the emulator's recorded answers served from memory), which
// isolates what the script itself costs from the network.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { Container, startSim, postLoginEvent, runPostLogin } = require('../../packages/testkit');

const REPO = path.resolve(__dirname, '..', '..');
const REALM = 'Username-Password-Authentication';
const CLIENT = { client_id: 'benchClient', client_secret: 'bench-secret', grant_types: ['password', 'client_credentials'], scopes: ['read:users', 'update:users'] };
const USERS = Array.from({ length: 50 }, (_, i) => ({
  id: `bench${i}`,
  connection: REALM,
  email: `bench${i}@example.com`,
  password: `bench-password-${i}`,
  email_verified: true,
  name: `Bench User ${i}`,
  app_metadata: { plan: 'gold', roles: ['a', 'b'] },
  user_metadata: { lang: 'fr', note: 'Émile 日本' },
}));

const { values: options } = parseArgs({
  options: {
    trickle: { type: 'string', default: process.env.TRICKLE_BIN || path.join(REPO, 'target/release/trickle') },
    out: { type: 'string', default: path.join(REPO, 'target/bench') },
    runs: { type: 'string', default: '30' },
    warm: { type: 'string', default: '200' },
  },
});
const COLD_RUNS = Number(options.runs);
const WARM_RUNS = Number(options.warm);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

// A call timed to its callback (the testkit's `call` waits extra to catch
// double callbacks, which would skew timings).
function invoke(fn, args) {
  return new Promise((resolve) => fn(...args, (error, profile) => resolve({ error, profile })));
}

function generate(dir) {
  const config = path.join(dir, 'bench.toml');
  // The Action backfills only (the login marks nothing here), so every
  // catch-up costs the same round trips whatever the run before it did.
  fs.writeFileSync(config, `[connection]\nname = "bench"\nenabled_clients = ["Bench"]\n[source]\nrealm = "${REALM}"\n[migration]\nmark_migrated = false\n[action]\nenabled = true\n`);
  const out = path.join(dir, 'out');
  const run = spawnSync(options.trickle, ['generate', '--config', config, '--out', out], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`trickle generate failed: ${run.stderr}`);
  const parts = {};
  for (const match of run.stdout.matchAll(/(\S+\.js)\s+(\d+) bytes = wasm\s+(\d+) \+ glue\s+(\d+) \+ template\s+(\d+)/g)) {
    parts[match[1]] = { total: +match[2], wasm: +match[3], glue: +match[4], template: +match[5] };
  }
  const dirOut = path.join(out, 'database-connections', 'bench');
  const action = path.join(out, 'actions', 'bench-migration', 'code.js');
  return { login: path.join(dirOut, 'login.js'), getUser: path.join(dirOut, 'get_user.js'), action, parts, actionParts: parts[action] };
}

// The post-login Action: a user it has to catch up (the old user read, the
// metadata compared; an interrupted login's), and a user already done (no
// WASM, no HTTP), each in a fresh container (cold) and a warm one.
async function measureAction(file, secrets, sim) {
  const pending = postLoginEvent({
    user: { user_id: `auth0|${USERS[3].id}`, email: USERS[3].email, app_metadata: {}, user_metadata: {} },
    connection: { name: 'bench' },
    secrets,
  });
  const done = postLoginEvent({
    user: { user_id: `auth0|${USERS[3].id}`, email: USERS[3].email, app_metadata: { trickle_checked_at: '2026-01-01T00:00:00.000Z' } },
    connection: { name: 'bench' },
    secrets,
  });
  const timeRuns = async (runs, load, event) => {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const start = now(); // a cold run includes evaluating the module, as the scripts' do
      const action = load();
      const { error, recorded } = await runPostLogin(action, event);
      times.push(now() - start);
      assert.ok(!error && !action.logs.length, `Action: ${error && error.message} ${action.logs}`);
      assert.ok(event === done || recorded.appMetadata.trickle_checked_at, 'the Action caught the user up');
    }
    return median(times);
  };
  const warm = (fetchImpl) => {
    const container = new Container();
    const action = container.loadAction(file, fetchImpl ? { fetch: fetchImpl } : {});
    return () => action;
  };
  const tape = recorder();
  await runPostLogin(new Container().loadAction(file, { fetch: tape.record }), pending);
  const warmLoopback = warm();
  await runPostLogin(warmLoopback(), pending);
  const warmReplayed = warm(tape.replay);
  await runPostLogin(warmReplayed(), pending);
  await sim.resetStats();
  await runPostLogin(new Container().loadAction(file), pending);
  const coldRequests = (await sim.stats()).total;
  await sim.resetStats();
  await runPostLogin(warmLoopback(), pending);
  const warmRequests = (await sim.stats()).total;
  await sim.resetStats();
  await runPostLogin(new Container().loadAction(file), done);
  const doneRequests = (await sim.stats()).total;
  return {
    bytes: fs.statSync(file).size,
    catch_up: {
      cold_loopback_ms: await timeRuns(COLD_RUNS, () => new Container().loadAction(file), pending),
      warm_loopback_ms: await timeRuns(WARM_RUNS, warmLoopback, pending),
      cold_replayed_ms: await timeRuns(COLD_RUNS, () => new Container().loadAction(file, { fetch: tape.replay }), pending),
      warm_replayed_ms: await timeRuns(WARM_RUNS * 5, warmReplayed, pending),
      requests: { cold: coldRequests, warm: warmRequests },
    },
    done: {
      cold_ms: await timeRuns(COLD_RUNS, () => new Container().loadAction(file), done),
      warm_ms: await timeRuns(WARM_RUNS * 5, warm(), done),
      requests: doneRequests,
    },
  };
}

// Records every answer the old tenant gives, then serves them from memory.
function recorder() {
  const answers = new Map();
  // The token endpoint answers two grants: tell them apart by grant_type.
  const grant = (init) => {
    try {
      return JSON.parse(init.body).grant_type || '';
    } catch (notJson) {
      return '';
    }
  };
  const key = (url, init = {}) => `${(init.method || 'GET').toUpperCase()} ${new URL(url).pathname} ${grant(init)}`;
  return {
    record: async (url, init) => {
      const response = await fetch(url, init);
      const body = await response.text();
      answers.set(key(url, init), { status: response.status, headers: [...response.headers], body });
      return new Response(body, { status: response.status, headers: response.headers });
    },
    replay: async (url, init) => {
      const answer = answers.get(key(url, init));
      if (!answer) throw new Error(`no recorded answer for ${key(url, init)}`);
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  };
}

async function measure(label, file, args, configuration, sim) {
  const user = () => args;
  // Cold: a fresh container (empty global, fresh vm context) per run.
  const coldLoopback = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const start = now();
    const script = new Container().load(file, configuration);
    const { error } = await invoke(script.fn, user());
    coldLoopback.push(now() - start);
    assert.ok(!error, `${label}: ${error && error.message}`);
  }
  // Warm: one container, first call excluded.
  const warmContainer = new Container();
  const warmScript = warmContainer.load(file, configuration);
  await invoke(warmScript.fn, user());
  const warmLoopback = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const start = now();
    await invoke(warmScript.fn, user());
    warmLoopback.push(now() - start);
  }
  // The same, with the answers replayed from memory.
  const tape = recorder();
  await invoke(new Container().load(file, configuration, { fetch: tape.record }).fn, user());
  const coldReplayed = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const start = now();
    const script = new Container().load(file, configuration, { fetch: tape.replay });
    const { error } = await invoke(script.fn, user());
    coldReplayed.push(now() - start);
    assert.ok(!error, `${label} replayed: ${error && error.message}`);
  }
  const replayed = new Container().load(file, configuration, { fetch: tape.replay });
  await invoke(replayed.fn, user());
  const warmReplayed = [];
  for (let i = 0; i < WARM_RUNS * 5; i++) {
    const start = now();
    await invoke(replayed.fn, user());
    warmReplayed.push(now() - start);
  }
  return {
    bytes: fs.statSync(file).size,
    cold_loopback_ms: median(coldLoopback),
    warm_loopback_ms: median(warmLoopback),
    cold_replayed_ms: median(coldReplayed),
    warm_replayed_ms: median(warmReplayed),
  };
}

// HTTP requests the old tenant sees for one migrated login, in a cold
// container and in a warm one.
async function requestsPerLogin(file, configuration, sim) {
  const container = new Container();
  const script = container.load(file, configuration);
  await sim.resetStats();
  await invoke(script.fn, [USERS[1].email, USERS[1].password]);
  const cold = (await sim.stats()).total;
  await sim.resetStats();
  await invoke(script.fn, [USERS[2].email, USERS[2].password]);
  const warm = (await sim.stats()).total;
  return { cold, warm };
}

const fmtMs = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-bench-'));
  const sim = await startSim({ seed: { bcrypt_cost: 4, connections: [{ name: REALM }], clients: [CLIENT], users: USERS }, bin: options.trickle, args: ['--rate-limit', '0'] });
  try {
    const A = generate(tmp);
    const B = { login: path.join(__dirname, 'baseline', 'login.js'), getUser: path.join(__dirname, 'baseline', 'get_user.js') };
    const configuration = { domain: sim.baseUrl, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret };
    const loginArgs = [USERS[0].email, USERS[0].password];
    const lookupArgs = [USERS[0].email];

    const results = {
      node: process.version,
      runs: { cold: COLD_RUNS, warm: WARM_RUNS, warm_replayed: WARM_RUNS * 5 },
      login: {
        A: { ...(await measure('A login', A.login, loginArgs, configuration)), parts: A.parts['login.js'], requests: await requestsPerLogin(A.login, configuration, sim) },
        B: { ...(await measure('B login', B.login, loginArgs, configuration)), requests: await requestsPerLogin(B.login, configuration, sim) },
      },
      get_user: {
        A: { ...(await measure('A get_user', A.getUser, lookupArgs, configuration)), parts: A.parts['get_user.js'] },
        B: await measure('B get_user', B.getUser, lookupArgs, configuration),
      },
      action: { ...(await measureAction(A.action, configuration, sim)), parts: A.actionParts },
    };
    results.targets = {
      script_bytes_max: Math.max(results.login.A.bytes, results.get_user.A.bytes),
      script_bytes_target: 32768,
      cold_replayed_ms_max: Math.max(results.login.A.cold_replayed_ms, results.get_user.A.cold_replayed_ms),
      cold_ms_target: 3,
      // Like for like: both get_user scripts send one request when warm.
      warm_overhead_us: (results.get_user.A.warm_replayed_ms - results.get_user.B.warm_replayed_ms) * 1000,
      // Not like for like: A's login sends one request more than B's.
      warm_overhead_us_login: (results.login.A.warm_replayed_ms - results.login.B.warm_replayed_ms) * 1000,
      warm_overhead_us_target: 50,
      warm_requests_per_login: results.login.A.requests.warm,
      warm_requests_target: 2,
    };

    const rows = [];
    const row = (metric, get, fmt, withRatio = true) => {
      const cells = [];
      for (const kind of ['login', 'get_user']) {
        const a = get(results[kind].A, kind);
        const b = get(results[kind].B, kind);
        cells.push(a === undefined ? '—' : fmt(a), b === undefined ? '—' : fmt(b), withRatio && a !== undefined && b ? ratio(a, b) : '—');
      }
      rows.push(`| ${metric} | ${cells.join(' | ')} |`);
    };
    const parts = (r) => (r.parts ? ` (wasm ${r.parts.wasm} + glue ${r.parts.glue} + template ${r.parts.template})` : '');
    row('script bytes', (r) => r.bytes, (v) => String(v), true);
    rows[rows.length - 1] = `| script bytes | ${results.login.A.bytes}${parts(results.login.A)} | ${results.login.B.bytes} | ${ratio(results.login.A.bytes, results.login.B.bytes)} | ${results.get_user.A.bytes}${parts(results.get_user.A)} | ${results.get_user.B.bytes} | ${ratio(results.get_user.A.bytes, results.get_user.B.bytes)} |`;
    row(`cold first call, loopback (median of ${COLD_RUNS})`, (r) => r.cold_loopback_ms, fmtMs);
    row(`warm call, loopback (median of ${WARM_RUNS})`, (r) => r.warm_loopback_ms, fmtMs);
    row(`cold first call, answers replayed (median of ${COLD_RUNS})`, (r) => r.cold_replayed_ms, fmtMs);
    row(`warm call, answers replayed (median of ${WARM_RUNS * 5})`, (r) => r.warm_replayed_ms, fmtMs);
    row('HTTP requests per migrated login, cold container', (r, kind) => (kind === 'login' ? r.requests.cold : undefined), String);
    row('HTTP requests per migrated login, warm container', (r, kind) => (kind === 'login' ? r.requests.warm : undefined), String);

    const t = results.targets;
    const check = (ok) => (ok ? 'met' : 'MISSED');
    const markdown = [
      `Scripts benchmark (Node ${process.version}): A = Trickle's generated scripts, B = the plain-JS baseline (scripts/bench/baseline/).`,
      '',
      '| metric | login A | login B | A/B | get_user A | get_user B | A/B |',
      '|---|---|---|---|---|---|---|',
      ...rows,
      '',
      'Targets (reported, not asserted):',
      `- ≤ 32 KB per script: largest is ${t.script_bytes_max} bytes — ${check(t.script_bytes_max <= t.script_bytes_target)}`,
      `- cold ≤ 3 ms (decode, compile, first result; answers replayed): ${fmtMs(t.cold_replayed_ms_max)} — ${check(t.cold_replayed_ms_max <= t.cold_ms_target)}`,
      `- warm overhead ≤ 50 µs over B (answers replayed, get_user: the same HTTP work): ${t.warm_overhead_us.toFixed(0)} µs — ${check(t.warm_overhead_us <= t.warm_overhead_us_target)}; login: ${t.warm_overhead_us_login.toFixed(0)} µs, which includes A's second request`,
      `- ≤ 2 HTTP requests per migrated login, warm container: ${t.warm_requests_per_login} — ${check(t.warm_requests_per_login <= t.warm_requests_target)}`,
      '',
      'B sends one request per login because it builds the profile from the id_token alone: that is why it loses app and user metadata. A fetches the full user from the Management API (with `mark_migrated = true`, one PATCH more).',
      '',
      `The post-login Action (${results.action.bytes} bytes${parts(results.action)}; mark_migrated = "action" adds one PATCH to a catch-up):`,
      '',
      '| Action | cold (fresh container) | warm |',
      '|---|---|---|',
      `| user to catch up, loopback | ${fmtMs(results.action.catch_up.cold_loopback_ms)} | ${fmtMs(results.action.catch_up.warm_loopback_ms)} |`,
      `| user to catch up, answers replayed | ${fmtMs(results.action.catch_up.cold_replayed_ms)} | ${fmtMs(results.action.catch_up.warm_replayed_ms)} |`,
      `| HTTP requests, user to catch up | ${results.action.catch_up.requests.cold} | ${results.action.catch_up.requests.warm} |`,
      `| user already done (no WASM, no HTTP: ${results.action.done.requests} requests) | ${fmtMs(results.action.done.cold_ms)} | ${fmtMs(results.action.done.warm_ms)} |`,
    ].join('\n');

    fs.mkdirSync(options.out, { recursive: true });
    fs.writeFileSync(path.join(options.out, 'scripts.json'), JSON.stringify(results, null, 2) + '\n');
    fs.writeFileSync(path.join(options.out, 'scripts.md'), markdown + '\n');
    process.stdout.write(markdown + '\n');
  } finally {
    await sim.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`bench: ${error.stack}\n`);
  process.exit(1);
});
