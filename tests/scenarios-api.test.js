'use strict';
// The scenario matrix for the API source (`[source] kind = "api"`): the
// generated scripts, run as Auth0 runs them (testkit), inside a model of the
// new tenant in import mode, against a legacy user store behind its API and
// the new tenant's token endpoint. Each scenario is a known way hand-written
// migrations from a team's own database fail.
//
// `startSource` is the one place that says what plays those two services:
// the emulators by default (`trickle sim` as the new tenant, `trickle
// legacy-sim` as the store, through the testkit's startSim /
// startLegacySim), or with TRICKLE_LEGACY_SOURCE=stand-in the
// contract-faithful stand-in (tests/support/legacy-api.js), a second,
// independent reading of the contract.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const testkit = require('../packages/testkit');
const { Container, ImportModeTenant, call, lateCalls } = testkit;
const { generateScripts } = require('./support/generate');
const { startLegacyStandIn } = require('./support/legacy-api');

const CONNECTION = 'legacy-import';
const AUDIENCE = 'https://legacy.example.com/api';
const BASE_PATH = '/auth0-migration';
const CLIENT = { client_id: 'legacyMigrationClient', client_secret: 'legacy-secret-never-logged-0123456789' };
const SCOPES = ['read:users', 'update:users'];

const ADA = {
  id: 'u-1029',
  email: 'Ada.Lovelace@Example.COM',
  password: 'correct horse battery staple 🐎',
  email_verified: true,
  username: 'ada',
  given_name: 'Ada',
  family_name: 'Lovelace',
  name: 'Ada Lovelace',
  nickname: 'ada',
  picture: 'https://example.com/ada.png',
  app_metadata: { plan: 'gold', roles: ['admin', 'billing'], nested: { deep: [1, { x: 'ü' }], empty: {} } },
  user_metadata: { lang: 'fr', bio: 'Émile — 日本語 🎉 "quoted" \\ back', address: { city: 'Zürich', lines: ['1 Rue', null] } },
};
const user = (id, email, extra = {}) => ({ id, email, password: `pw-${id}-Secret!`, ...extra });
const USERS = {
  ada: ADA,
  first: user('first-1', 'first@example.com'),
  bob: user('bob-1', 'bob@example.com'),
  blocked: user('blocked-1', 'blocked@example.com', { blocked: true }),
  twinA: user('twin-a', 'twin@example.com'),
  twinB: user('twin-b', 'TWIN@example.com'),
  aa: user('aa-1', 'aa@example.com'),
  marked: user('marked-1', 'marked@example.com', { migrated_at: '2026-01-02T03:04:05Z' }),
  prefixed: user('auth0|legacy|42', 'prefixed@example.com', { name: 'Prefixed id' }),
  reset: user('reset-1', 'reset@example.com', { user_metadata: { source: 'legacy' } }),
  deleted: user('deleted-1', 'deleted@example.com'),
  mixed: user('mixed-1', 'MiXeD.Case@Example.com'),
  rate: user('rate-1', 'rate@example.com'),
  renew: user('renew-1', 'renew@example.com'),
  expiry: user('expiry-1', 'expiry@example.com'),
};
const LOAD_USERS = Array.from({ length: 25 }, (_, i) => user(`load-${i}`, `user${i}@load.example.com`));
// The marker PUT under each fault. Whether the store ends up marked: a fault
// before the route changes nothing; a truncated answer was carried out.
const PUT_FAULTS = {
  'slower than the timeout': { latency_ms: 2500 },
  '5xx': { error_ratio: 1 },
  'malformed answer': { malformed_ratio: 1 },
  'truncated answer': { truncate_ratio: 1 },
  'dropped connection': { drop_ratio: 1 },
};
const PUT_FAULT_MARKS = { '5xx': false, 'malformed answer': false, 'truncated answer': true, 'dropped connection': false };
const PUT_FAULT_USERS = Object.keys(PUT_FAULTS).map((name, i) => user(`put-fault-${i}`, `put-fault${i}@example.com`));
const STORE = [...Object.values(USERS), ...LOAD_USERS, ...PUT_FAULT_USERS];
const SECRETS = [CLIENT.client_secret, ...STORE.map((u) => u.password)];

const toml = (lines) =>
  ['[connection]', `name = "${CONNECTION}"`, '[source]', 'kind = "api"', 'url = "https://legacy.example.com/auth0-migration"',
    `audience = "${AUDIENCE}"`, ...lines, ''].join('\n');
// Marks migrated users and skips marked ones: the configuration that stops resurrections.
const MAIN_CONFIG = toml(['[migration]', 'mark_migrated = true', 'skip_marked = true', '[http]', 'timeout_ms = 1500']);
// No marking, marked users migrate anyway, app metadata under `app_metadata`.
const KEEP_CONFIG = toml(['[profile]', 'app_metadata_key = "app_metadata"', '[migration]', 'mark_migrated = false', 'skip_marked = false']);

/**
 * Starts what the scripts talk to: the new tenant's token endpoint and the
 * store's API, seeded with `users`. Resolves `{ domain, apiUrl, users(),
 * stats(), resetStats(), tokensIssued(), setFaults(), setRateLimit(),
 * rejectTokens(n), close() }`.
 */
async function startSource({ users = STORE, tokenLifetime = 86400 } = {}) {
  if (process.env.TRICKLE_LEGACY_SOURCE !== 'stand-in') return startEmulators({ users, tokenLifetime });
  const source = await startLegacyStandIn({
    users,
    audience: AUDIENCE,
    basePath: BASE_PATH,
    tokenLifetime,
    clients: [{ ...CLIENT, granted: true, scope: SCOPES }],
  });
  return { ...source, tokensIssued: async () => (await source.tokens()).issued };
}

// `trickle sim` as the new tenant (an `apis` entry granting the client) and
// `trickle legacy-sim` as the store, both on loopback.
async function startEmulators({ users, tokenLifetime }) {
  const { startSim, startLegacySim } = testkit;
  if (typeof startLegacySim !== 'function') throw new Error('the API source scenarios need startLegacySim in @trickle/testkit');
  const tenant = await startSim({
    seed: {
      clients: [{ ...CLIENT, grant_types: ['client_credentials'] }],
      apis: [{ identifier: AUDIENCE, token_lifetime: tokenLifetime, client_grants: [{ client_id: CLIENT.client_id, scope: SCOPES }] }],
      users: [],
    },
    args: ['--rate-limit', '0'],
  });
  const store = await startLegacySim({ seed: { bcrypt_cost: 4, users }, issuer: tenant.baseUrl + '/', audience: AUDIENCE, basePath: BASE_PATH });
  return {
    domain: tenant.baseUrl,
    apiUrl: store.apiUrl,
    users: () => store.users(),
    stats: () => store.stats(),
    resetStats: () => store.resetStats(),
    tokensIssued: async () => (await tenant.stats()).requests.token_client_credentials,
    setFaults: (faults) => store.setFaults(faults),
    setRateLimit: (rps) => store.setRateLimit(rps),
    rejectTokens: (n) => store.rejectTokens(n),
    close: async () => {
      await store.close();
      await tenant.close();
    },
  };
}

// Objects made in the sandbox have its own prototypes; compare as stored JSON.
const plain = (value) => JSON.parse(JSON.stringify(value));
const allLogs = [];

function settingsFor(source, extra = {}) {
  return { domain: source.domain, api_url: source.apiUrl, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, ...extra };
}

function newTenant(scripts, configuration, container = new Container()) {
  const login = container.load(scripts.login, configuration);
  const getUser = container.load(scripts.getUser, configuration);
  allLogs.push(login.logs, getUser.logs);
  const tenant = new ImportModeTenant({ login, getUser });
  tenant.container = container;
  return tenant;
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// A server that answers every request with `status` and a Location to
// `target`, and counts what reached it.
async function startRedirector(status, target) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    res.writeHead(status, { location: target + req.url, 'content-length': 0 });
    res.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () => new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    }),
  };
}

const storedUser = async (source, id) => (await source.users()).find((u) => u.id === id);

describe('lazy migration from a user store behind an API', () => {
  let tmp;
  let source;
  let main;
  let keep;
  let settings;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-scenarios-api-'));
    [main, keep, source] = await Promise.all([
      generateScripts(tmp, 'main', MAIN_CONFIG, CONNECTION),
      generateScripts(tmp, 'keep', KEEP_CONFIG, CONNECTION),
      startSource(),
    ]);
    settings = settingsFor(source);
  });

  after(async () => {
    if (source) await source.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('generate prints each script\'s size, and the guard Action is laid out', () => {
    for (const name of ['login.js', 'get_user.js']) assert.match(main.report, new RegExp(`${name.replace('.', '\\.')}\\s+\\d+ bytes = wasm`));
    assert.match(main.report, /legacy-import-api-guard\/code\.js\s+\d+ bytes/);
    assert.ok(fs.existsSync(path.join(main.out, 'actions', 'legacy-import-api-guard.json')));
  });

  it('first login migrates with the store\'s id and marks the user; the second never reaches the store', async () => {
    const tenant = newTenant(main, settings);
    const first = await tenant.login(USERS.first.email, USERS.first.password);
    assert.equal(first.migrated, true);
    assert.equal(first.user.user_id, 'auth0|first-1');
    assert.match((await storedUser(source, 'first-1')).migrated_at, /^\d{4}-\d\d-\d\dT/);
    const before = await source.stats();
    const second = await tenant.login(USERS.first.email, USERS.first.password);
    assert.equal(second.migrated, false);
    assert.equal((await source.stats()).total, before.total, 'no request reached the store');
  });

  it('a wrong password is WrongUsernameOrPasswordError and creates nothing', async () => {
    const tenant = newTenant(main, settings);
    const error = await rejection(tenant.login(USERS.bob.email, 'not the password'));
    assert.equal(error.name, 'WrongUsernameOrPasswordError');
    assert.equal(tenant.users.size, 0);
  });

  it('no such user: wrong credentials at login, callback(null) for get_user', async () => {
    const tenant = newTenant(main, settings);
    const error = await rejection(tenant.login('nobody@example.com', 'whatever'));
    assert.equal(error.name, 'WrongUsernameOrPasswordError');
    const { calls } = await call(tenant.scripts.getUser.fn, 'nobody@example.com');
    assert.deepEqual(calls, [[null]]);
    assert.equal(tenant.users.size, 0);
  });

  it('a blocked user is refused by both scripts and not migrated; a wrong password stays a wrong password', async () => {
    const tenant = newTenant(main, settings);
    const error = await rejection(tenant.login(USERS.blocked.email, USERS.blocked.password));
    assert.equal(error.name, 'UnauthorizedError');
    const wrong = await rejection(tenant.login(USERS.blocked.email, 'not the password'));
    assert.equal(wrong.name, 'WrongUsernameOrPasswordError');
    const lookup = await call(tenant.scripts.getUser.fn, USERS.blocked.email);
    assert.equal(lookup.error.name, 'Error', 'no password reset or sign-up for a blocked user');
    assert.equal(tenant.users.size, 0);
    assert.equal((await storedUser(source, 'blocked-1')).migrated_at, null);
  });

  it('an email two users of the store share is an Error, never a pick', async () => {
    const tenant = newTenant(main, settings);
    const lookup = await call(tenant.scripts.getUser.fn, 'twin@example.com');
    assert.equal(lookup.error.name, 'Error');
    assert.match(lookup.error.message, /more than one/);
    const login = await call(tenant.scripts.login.fn, 'twin@example.com', USERS.twinA.password);
    assert.equal(login.error.name, 'Error', 'the store cannot tell them apart: not a wrong password either');
    assert.equal(tenant.users.size, 0);
  });

  it('an email in another case finds the same user, stored lower-cased; a@ never matches aa@', async () => {
    const tenant = newTenant(main, settings);
    const lookup = await call(tenant.scripts.getUser.fn, 'mixed.CASE@example.com');
    assert.equal(lookup.profile.user_id, 'mixed-1');
    const { user: stored } = await tenant.login('MIXED.CASE@EXAMPLE.COM', USERS.mixed.password);
    assert.equal(stored.user_id, 'auth0|mixed-1');
    assert.equal(stored.profile.email, 'mixed.case@example.com');
    const loose = await call(tenant.scripts.getUser.fn, 'a@example.com');
    assert.deepEqual(loose.calls, [[null]]);
  });

  it('an id the store gave an auth0| prefix loses exactly one, and the marker goes to the store\'s id', async () => {
    const tenant = newTenant(main, settings);
    const { user: stored } = await tenant.login(USERS.prefixed.email, USERS.prefixed.password);
    assert.equal(stored.profile.user_id, 'legacy|42');
    assert.equal(stored.user_id, 'auth0|legacy|42', 'never auth0|auth0|');
    assert.match((await storedUser(source, 'auth0|legacy|42')).migrated_at, /^\d{4}-/);
  });

  it('metadata is kept exactly, under the configured key, and login and get_user give the identical profile', async () => {
    const lookup = await call(newTenant(main, settings).scripts.getUser.fn, ADA.email);
    assert.deepEqual(plain(lookup.profile.metadata), ADA.app_metadata);
    assert.deepEqual(plain(lookup.profile.user_metadata), ADA.user_metadata);
    assert.equal(lookup.profile.app_metadata, undefined);

    const tenant = newTenant(keep, settings);
    const byEmail = await call(tenant.scripts.getUser.fn, ADA.email.toUpperCase());
    const byLogin = await call(tenant.scripts.login.fn, 'ada', ADA.password);
    assert.deepEqual(plain(byLogin.profile), plain(byEmail.profile));
    assert.deepEqual(plain(byLogin.profile), {
      user_id: 'u-1029',
      email: 'ada.lovelace@example.com',
      email_verified: true,
      username: 'ada',
      name: 'Ada Lovelace',
      nickname: 'ada',
      given_name: 'Ada',
      family_name: 'Lovelace',
      picture: 'https://example.com/ada.png',
      user_metadata: ADA.user_metadata,
      app_metadata: ADA.app_metadata,
    });
  });

  it('a user the store marked as migrated is absent with skip_marked, and migrates without it', async () => {
    const tenant = newTenant(main, settings);
    const login = await rejection(tenant.login(USERS.marked.email, USERS.marked.password));
    assert.equal(login.name, 'WrongUsernameOrPasswordError');
    const lookup = await call(tenant.scripts.getUser.fn, USERS.marked.email);
    assert.deepEqual(lookup.calls, [[null]]);
    const { user: stored } = await newTenant(keep, settings).login(USERS.marked.email, USERS.marked.password);
    assert.equal(stored.user_id, 'auth0|marked-1');
  });

  it('a password reset migrates a never-migrated user, who then logs in locally', async () => {
    const tenant = newTenant(main, settings);
    const reset = await tenant.changePassword(USERS.reset.email, 'a brand new password');
    assert.equal(reset.migrated, true);
    assert.deepEqual(plain(reset.user.profile.user_metadata), { source: 'legacy' });
    const before = await source.stats();
    const { migrated } = await tenant.login(USERS.reset.email, 'a brand new password');
    assert.equal(migrated, false);
    assert.equal((await source.stats()).total, before.total);
  });

  it('a migrated user deleted in the new tenant is not resurrected', async () => {
    const tenant = newTenant(main, settings);
    await tenant.login(USERS.deleted.email, USERS.deleted.password);
    assert.ok(tenant.deleteUser(USERS.deleted.email));
    const again = await rejection(tenant.login(USERS.deleted.email, USERS.deleted.password));
    assert.equal(again.name, 'WrongUsernameOrPasswordError');
    const lookup = await call(tenant.scripts.getUser.fn, USERS.deleted.email);
    assert.deepEqual(lookup.calls, [[null]]);
    const signUp = await tenant.signUp(USERS.deleted.email, 'starting over');
    assert.equal(signUp.user.source, 'signup', 'a sign-up makes a new user, not the old one');
  });

  describe('when the store cannot answer: a plain Error, one callback, nothing created', () => {
    const faults = {
      'down (connection refused)': null,
      'slower than the timeout': { latency_ms: 2500 },
      '5xx': { error_ratio: 1 },
      'malformed body': { malformed_ratio: 1 },
      'truncated body': { truncate_ratio: 1 },
      'dropped connection': { drop_ratio: 1 },
    };
    for (const [name, fault] of Object.entries(faults)) {
      it(name, async () => {
        const apiUrl = fault ? source.apiUrl : `http://127.0.0.1:${await closedPort()}${BASE_PATH}`;
        const tenant = newTenant(main, { ...settings, api_url: apiUrl });
        if (fault) await source.setFaults(fault);
        try {
          const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
          assert.equal(login.calls.length, 1);
          assert.equal(login.error.name, 'Error', `login: ${login.error && login.error.message}`);
          const lookup = await call(tenant.scripts.getUser.fn, USERS.bob.email);
          assert.equal(lookup.calls.length, 1);
          assert.equal(lookup.error.name, 'Error', 'never "no such user" when the store cannot answer');
          assert.equal(tenant.users.size, 0);
        } finally {
          if (fault) await source.setFaults({});
        }
      });
    }

    it('a wrong api_url path (the server\'s own 404): an Error, never a wrong password or "no such user"', async () => {
      const tenant = newTenant(main, { ...settings, api_url: source.apiUrl + '/v0' });
      const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
      assert.equal(login.error.name, 'Error');
      assert.match(login.error.message, /\(unexpected\)/);
      const lookup = await call(tenant.scripts.getUser.fn, USERS.bob.email);
      assert.equal(lookup.error.name, 'Error');
    });

    it('the new tenant\'s token endpoint down: an Error naming the settings to check', async () => {
      const tenant = newTenant(main, { ...settings, domain: `http://127.0.0.1:${await closedPort()}` });
      const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
      assert.equal(login.error.name, 'Error');
      assert.match(login.error.message, /no token for the user store.*\(transient\)/);
    });
  });

  describe('a redirect is never followed', () => {
    for (const status of [301, 302, 307, 308]) {
      it(`${status} from the API: an Error naming api_url, no token sent on`, async () => {
        const redirector = await startRedirector(status, source.apiUrl);
        try {
          const tenant = newTenant(main, { ...settings, api_url: redirector.url + BASE_PATH });
          const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
          assert.equal(login.error.name, 'Error');
          assert.match(login.error.message, /configuration\.api_url.*\(redirected\)/);
          const lookup = await call(tenant.scripts.getUser.fn, USERS.bob.email);
          assert.match(lookup.error.message, /\(redirected\)/);
          assert.equal(redirector.seen.length, 2, 'one request each, none repeated at the target');
          assert.equal(tenant.users.size, 0);
        } finally {
          await redirector.close();
        }
      });
    }

    it('from the token endpoint: the client secret goes nowhere else', async () => {
      const redirector = await startRedirector(307, source.domain);
      try {
        const before = await source.tokensIssued();
        const tenant = newTenant(main, { ...settings, domain: redirector.url });
        const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
        assert.match(login.error.message, /\(redirected\)/);
        assert.equal(await source.tokensIssued(), before, 'the target never saw the request');
      } finally {
        await redirector.close();
      }
    });
  });

  describe('a lost answer to the marker PUT never strands the user: migrated at once', () => {
    Object.entries(PUT_FAULTS).forEach(([name, fault], i) => {
      it(name, async () => {
        const target = PUT_FAULT_USERS[i];
        const tenant = newTenant(main, settings);
        await source.setFaults({ ...fault, only: `PUT ${BASE_PATH}/users/` });
        let first;
        try {
          first = await tenant.login(target.email, target.password);
        } finally {
          await source.setFaults({});
        }
        assert.equal(first.migrated, true);
        assert.equal(first.user.user_id, `auth0|${target.id}`);
        if (name in PUT_FAULT_MARKS) {
          assert.equal(Boolean((await storedUser(source, target.id)).migrated_at), PUT_FAULT_MARKS[name]);
        }
        const again = await tenant.login(target.email, target.password);
        assert.equal(again.migrated, false, 'then served by the new tenant');
      });
    });
  });

  describe('429 from the API', () => {
    after(() => source.setRateLimit(0));

    it('is retried after Retry-After, then succeeds', async () => {
      const tenant = newTenant(main, settings);
      await call(tenant.scripts.getUser.fn, USERS.rate.email); // warm: token cached
      await source.setRateLimit(1);
      await source.resetStats();
      const lookups = await Promise.all([1, 2, 3].map(() => call(tenant.scripts.getUser.fn, USERS.rate.email)));
      for (const lookup of lookups) assert.equal(lookup.profile.user_id, 'rate-1');
      assert.ok((await source.stats()).total > 3, 'some calls were retried');
    });

    it('past the retries it is a clear Error, never "not found" or a wrong password', async () => {
      const tenant = newTenant(main, settings);
      await call(tenant.scripts.getUser.fn, USERS.rate.email);
      await source.setRateLimit(1);
      const lookups = await Promise.all(Array.from({ length: 12 }, () => call(tenant.scripts.getUser.fn, USERS.rate.email)));
      const failed = lookups.filter((lookup) => lookup.error);
      assert.ok(failed.length > 0, 'twelve calls at 1 request/s cannot all pass within three attempts');
      for (const lookup of failed) {
        assert.equal(lookup.error.name, 'Error');
        assert.match(lookup.error.message, /rate_limited/);
      }
      for (const lookup of lookups.filter((l) => !l.error)) assert.equal(lookup.profile.user_id, 'rate-1');
    });
  });

  describe('the token', () => {
    it('a 401 drops it and a new one is fetched once; a second 401 is an Error, never a wrong password', async () => {
      const tenant = newTenant(main, settings);
      await call(tenant.scripts.getUser.fn, USERS.renew.email); // warm
      const before = await source.tokensIssued();
      await source.rejectTokens(1);
      const renewed = await call(tenant.scripts.getUser.fn, USERS.renew.email);
      assert.equal(renewed.profile.user_id, 'renew-1');
      assert.equal(await source.tokensIssued(), before + 1, 'one new token');

      await source.rejectTokens(2);
      const login = await call(tenant.scripts.login.fn, USERS.renew.email, USERS.renew.password);
      assert.equal(login.error.name, 'Error');
      assert.match(login.error.message, /api_audience.*\(unauthorized\)/);
      assert.equal(await source.tokensIssued(), before + 2, 'renewed once, not in a loop');
      await source.rejectTokens(0);
    });

    it('concurrent logins of distinct users: all migrated once, one token', async () => {
      const tenant = newTenant(main, settings);
      const before = await source.tokensIssued();
      const results = await Promise.allSettled(LOAD_USERS.map((u) => tenant.login(u.email, u.password)));
      assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => r.reason.message), []);
      const ids = new Set(results.map((r) => r.value.user.user_id));
      assert.equal(ids.size, LOAD_USERS.length, 'no user duplicated or lost');
      assert.equal(await source.tokensIssued(), before + 1, 'the token fetch is shared while in flight');
    });

    it('a container fetches it once, and again after it expires or is recycled', async () => {
      // Tokens that live 61 s are renewed 60 s before expiry: cached for 1 s.
      const shortLived = await startSource({ users: [USERS.expiry], tokenLifetime: 61 });
      try {
        const configuration = settingsFor(shortLived);
        const tenant = newTenant(main, configuration);
        for (let i = 0; i < 4; i++) assert.equal((await call(tenant.scripts.getUser.fn, USERS.expiry.email)).profile.user_id, 'expiry-1');
        assert.equal(await shortLived.tokensIssued(), 1);
        await new Promise((resolve) => setTimeout(resolve, 1200));
        await call(tenant.scripts.getUser.fn, USERS.expiry.email);
        assert.equal(await shortLived.tokensIssued(), 2);
        tenant.container.reset();
        await call(newTenant(main, configuration, tenant.container).scripts.getUser.fn, USERS.expiry.email);
        assert.equal(await shortLived.tokensIssued(), 3, 'a recycled container starts over');
      } finally {
        await shortLived.close();
      }
    });
  });

  describe('settings the scripts refuse, naming the setting', () => {
    const cases = {
      'no client_secret': [{ client_secret: '' }, /configuration\.client_id and configuration\.client_secret must be set/],
      'an http:// API elsewhere than this machine': [{ api_url: 'http://legacy.example.com/api' }, /configuration\.api_url may use http:\/\/ only/],
      'an API URL with a query': [{ api_url: 'https://legacy.example.com/api?x=1' }, /configuration\.api_url may have a path/],
      'a domain with a path': [{ domain: 'https://new.example.com/x' }, /configuration\.domain must be scheme and host only/],
    };
    for (const [name, [override, message]] of Object.entries(cases)) {
      it(name, async () => {
        const before = await source.tokensIssued();
        const tenant = newTenant(main, { ...settings, ...override });
        const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
        assert.equal(login.error.name, 'Error');
        assert.match(login.error.message, message);
        assert.equal(await source.tokensIssued(), before, 'nothing was asked');
      });
    }

    it('without api_url and api_audience the config\'s are used', async () => {
      const defaults = await generateScripts(tmp, 'defaults', MAIN_CONFIG.replace('https://legacy.example.com/auth0-migration', source.apiUrl), CONNECTION);
      const { api_url: unused, ...rest } = settings;
      const tenant = newTenant(defaults, rest);
      const lookup = await call(tenant.scripts.getUser.fn, USERS.bob.email);
      assert.equal(lookup.profile.user_id, 'bob-1');
      const wrongAudience = newTenant(defaults, { ...rest, api_audience: 'https://elsewhere.example.com/api' });
      const refused = await call(wrongAudience.scripts.getUser.fn, USERS.bob.email);
      assert.match(refused.error.message, /no token for the user store/, 'the tenant has no such API for this client');
    });
  });

  it('no password, secret or token appears in any log line, and no callback came twice', async () => {
    const lines = allLogs.flat();
    for (const line of lines) {
      for (const secret of SECRETS) assert.ok(!line.includes(secret), `a log line reveals a secret: ${line}`);
      assert.ok(!/eyJ[\w-]+\.eyJ/.test(line), `a log line holds a JWT: ${line}`);
    }
    assert.deepEqual(lateCalls, [], 'no callback was ever called twice');
  });
});
