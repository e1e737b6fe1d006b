'use strict';
// The scenario matrix: generated scripts, run as Auth0 runs them (testkit),
// inside a model of the new tenant in import mode, against the emulated old
// tenant (`trickle sim`). Each scenario is a known way lazy migrations fail.
// Run once over HTTP, and once over HTTPS (`trickle sim --tls`) by
// scenarios-https.test.js, which starts this file in a Node that trusts the
// emulator's certificate authority (TRICKLE_TEST_TLS_DIR).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const { Container, ImportModeTenant, call, lateCalls, startSim } = require('../packages/testkit');
const { generateScripts } = require('./support/generate');
const { TLS_DIR } = require('./support/trusting-node');

// Over HTTPS when started by scenarios-https.test.js.
const TLS = TLS_DIR ? { dir: TLS_DIR } : false;
const SCHEME = TLS ? 'https' : 'http';

const CONNECTION = 'old-tenant-import';
const REALM = 'Username-Password-Authentication';
const OTHER_REALM = 'other-db';
const CLIENT = {
  client_id: 'trickleMigrationClient',
  client_secret: 'sim-secret-never-logged-0123456789',
  grant_types: ['password', 'client_credentials'],
  scopes: ['read:users', 'update:users'],
};

const JANE = {
  id: 'jane01',
  connection: REALM,
  email: 'Jane.Doe@Example.COM',
  password: 'correct horse battery staple 🐎',
  email_verified: true,
  name: 'Jane Doe',
  nickname: 'jane',
  given_name: 'Jane',
  family_name: 'Doe',
  picture: 'https://example.com/jane.png',
  app_metadata: { plan: 'gold', roles: ['admin', 'billing'], nested: { deep: [1, { x: 'ü' }], empty: {} } },
  user_metadata: { lang: 'fr', bio: 'Émile — 日本語 🎉 "quoted" \\ back', address: { city: 'Zürich', lines: ['1 Rue', null] } },
};
const user = (id, email, extra = {}) => ({ id, connection: REALM, email, password: `pw-${id}-Secret!`, ...extra });
const USERS = {
  jane: JANE,
  first: user('first01', 'first@example.com'),
  bob: user('bob01', 'bob@example.com'),
  blocked: user('blocked01', 'blocked@example.com', { blocked: true }),
  mfa: user('mfa01', 'mfa@example.com', { mfa: true, name: 'Multi Factor' }),
  mfaName: user('mfaname01', 'mfaname@example.com', { mfa: true, username: 'multi.factor', name: 'Named Factor' }),
  // The loose search for username:"multi.factor" finds this one too.
  mfaDecoy: user('mfadecoy01', 'decoy@example.com', { username: 'multi.factor.decoy' }),
  aa: user('aa01', 'aa@example.com'),
  twin: user('twin-realm', 'twin@example.com', { name: 'Twin in the realm' }),
  twinOther: { ...user('twin-other', 'twin@example.com', { name: 'Twin elsewhere' }), connection: OTHER_REALM },
  bar: user('legacy|42', 'bar@example.com', { name: 'Bar in the id' }),
  reset: user('reset01', 'reset@example.com', { user_metadata: { source: 'legacy' } }),
  deleted: user('deleted01', 'deleted@example.com'),
  mixed: user('mixed01', 'MiXeD.Case@Example.com'),
  rate: user('rate01', 'rate@example.com'),
  expiry: user('expiry01', 'expiry@example.com'),
};
const LOAD_USERS = Array.from({ length: 100 }, (_, i) => user(`load${i}`, `user${i}@load.example.com`));
// The marker PATCH under each fault, and 40 users logging in while 30% of
// all answers are cut short (how users got locked out before).
const PATCH_FAULTS = {
  'slower than the timeout': { latency_ms: 2500 },
  '5xx': { error_ratio: 1 },
  'malformed answer': { malformed_ratio: 1 },
  'truncated answer': { truncate_ratio: 1 },
  'dropped connection': { drop_ratio: 1 },
};
// Whether the old user ends up marked: a fault before the router changes
// nothing; a truncated answer was carried out; a timed-out one may land.
const PATCH_FAULT_MARKS = { '5xx': false, 'malformed answer': false, 'truncated answer': true, 'dropped connection': false };
const PATCH_FAULT_USERS = Object.keys(PATCH_FAULTS).map((name, i) => user(`patch-fault${i}`, `patch-fault${i}@example.com`));
const TRUNCATED_USERS = Array.from({ length: 40 }, (_, i) => user(`cut${i}`, `cut${i}@example.com`));

const SEED = {
  bcrypt_cost: 4,
  connections: [{ name: REALM }, { name: OTHER_REALM }],
  clients: [CLIENT],
  users: [...Object.values(USERS), ...LOAD_USERS, ...PATCH_FAULT_USERS, ...TRUNCATED_USERS],
};
const SECRETS = [CLIENT.client_secret, ...SEED.users.map((u) => u.password)];

const toml = (lines) => ['[connection]', `name = "${CONNECTION}"`, '[source]', `realm = "${REALM}"`, ...lines, ''].join('\n');
// Marks migrated users and skips marked ones: the configuration that stops resurrections.
const MAIN_CONFIG = toml(['[migration]', 'mark_migrated = true', 'skip_marked = true', 'mfa = "reject"', '[http]', 'timeout_ms = 1500']);
// As MAIN, with the default 5 s timeout: for many concurrent logins on a small machine.
const LOAD_CONFIG = toml(['[migration]', 'mark_migrated = true', 'skip_marked = true']);
// MFA users allowed, app metadata under `app_metadata`, no marking.
const ALLOW_CONFIG = toml(['[profile]', 'app_metadata_key = "app_metadata"', '[migration]', 'mark_migrated = false', 'mfa = "allow"']);

// Objects made in the sandbox have its own prototypes; compare as stored JSON.
const plain = (value) => JSON.parse(JSON.stringify(value));
const allLogs = [];

function newTenant(scripts, baseUrl, container = new Container()) {
  const configuration = { domain: baseUrl, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret };
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

async function managementToken(baseUrl) {
  const response = await fetch(baseUrl + '/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: CLIENT.client_id,
      client_secret: CLIENT.client_secret,
      audience: baseUrl + '/api/v2/',
    }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).access_token;
}

describe(`lazy migration scenarios against the emulated old tenant over ${SCHEME}`, () => {
  let tmp;
  let sim;
  let main;
  let allow;
  let load;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-scenarios-'));
    [main, allow, load] = await Promise.all([
      generateScripts(tmp, 'main', MAIN_CONFIG, CONNECTION),
      generateScripts(tmp, 'allow', ALLOW_CONFIG, CONNECTION),
      generateScripts(tmp, 'load', LOAD_CONFIG, CONNECTION),
    ]);
    sim = await startSim({ seed: SEED, args: ['--rate-limit', '0'], tls: TLS });
    assert.ok(sim.baseUrl.startsWith(`${SCHEME}://127.0.0.1:`), sim.baseUrl);
  });

  after(async () => {
    if (sim) await sim.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('first login migrates; the second never touches the old tenant', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const first = await tenant.login(USERS.first.email, USERS.first.password);
    assert.equal(first.migrated, true);
    assert.equal(first.user.user_id, 'auth0|first01', 'the auth0| prefix is not doubled');
    const before = await sim.stats();
    const second = await tenant.login(USERS.first.email, USERS.first.password);
    assert.equal(second.migrated, false);
    assert.equal((await sim.stats()).total, before.total, 'no request reached the old tenant');
    assert.equal(tenant.scriptCalls.length, 1);
  });

  it('a wrong password is WrongUsernameOrPasswordError and creates nothing', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const error = await rejection(tenant.login(USERS.bob.email, 'not the password'));
    assert.equal(error.name, 'WrongUsernameOrPasswordError');
    assert.equal(tenant.users.size, 0);
  });

  it('an unknown user: wrong credentials at login, callback(null) for get_user', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const error = await rejection(tenant.login('nobody@example.com', 'whatever'));
    assert.equal(error.name, 'WrongUsernameOrPasswordError');
    const { calls } = await call(tenant.scripts.getUser.fn, 'nobody@example.com');
    assert.deepEqual(calls, [[null]]);
    assert.equal(tenant.users.size, 0);
  });

  it('a blocked user is refused by both scripts and not migrated', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const error = await rejection(tenant.login(USERS.blocked.email, USERS.blocked.password));
    assert.equal(error.name, 'UnauthorizedError');
    const lookup = await call(tenant.scripts.getUser.fn, USERS.blocked.email);
    assert.equal(lookup.error.name, 'Error', 'no password reset or sign-up for a blocked user');
    assert.equal(tenant.users.size, 0);
  });

  it('an MFA user is not migrated with mfa = "reject"', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const error = await rejection(tenant.login(USERS.mfa.email, USERS.mfa.password));
    assert.equal(error.name, 'UnauthorizedError');
    assert.equal(tenant.users.size, 0);
  });

  it('an MFA user is migrated with mfa = "allow", on the right password only', async () => {
    const tenant = newTenant(allow, sim.baseUrl);
    const wrong = await rejection(tenant.login(USERS.mfa.email, 'wrong'));
    assert.equal(wrong.name, 'WrongUsernameOrPasswordError');
    const { user } = await tenant.login(USERS.mfa.email, USERS.mfa.password);
    assert.equal(user.user_id, 'auth0|mfa01');
    assert.equal(user.profile.name, 'Multi Factor');
  });

  it('an MFA user signing in by username is migrated with mfa = "allow", on the right password only', async () => {
    const tenant = newTenant(allow, sim.baseUrl);
    const wrong = await rejection(tenant.login('multi.factor', 'wrong'));
    assert.equal(wrong.name, 'WrongUsernameOrPasswordError');
    const { user } = await tenant.login('Multi.Factor', USERS.mfaName.password);
    assert.equal(user.user_id, 'auth0|mfaname01', 'the exact username, not the loose match');
    assert.equal(user.profile.name, 'Named Factor');
    assert.equal(user.profile.username, 'multi.factor');
  });

  it('an email in another case finds the same user, stored lower-cased', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    // get_user first: once migrated, the user is marked and counts as absent.
    const lookup = await call(tenant.scripts.getUser.fn, 'mixed.CASE@example.com');
    assert.equal(lookup.profile.user_id, 'mixed01');
    const { user } = await tenant.login('MIXED.CASE@EXAMPLE.COM', USERS.mixed.password);
    assert.equal(user.user_id, 'auth0|mixed01');
    assert.equal(user.profile.email, 'mixed.case@example.com');
  });

  it('a@ never matches aa@, though the loose search would', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const lookup = await call(tenant.scripts.getUser.fn, 'a@example.com');
    assert.deepEqual(lookup.calls, [[null]]);
    const error = await rejection(tenant.login('a@example.com', USERS.aa.password));
    assert.equal(error.name, 'WrongUsernameOrPasswordError');
    // The pitfall is real in the emulator: a Lucene search returns aa@.
    const token = await managementToken(sim.baseUrl);
    const search = await fetch(`${sim.baseUrl}/api/v2/users?q=${encodeURIComponent('email:"a@example.com"')}&search_engine=v3`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const found = await search.json();
    assert.ok(found.some((u) => u.email === 'aa@example.com'), 'the loose search matches aa@');
  });

  it('the same email in two source connections: only the realm counts', async () => {
    const tenant = newTenant(allow, sim.baseUrl);
    const lookup = await call(tenant.scripts.getUser.fn, 'twin@example.com');
    assert.equal(lookup.profile.user_id, 'twin-realm');
    const { user } = await tenant.login('twin@example.com', USERS.twin.password);
    assert.equal(user.user_id, 'auth0|twin-realm');
    assert.equal(user.profile.name, 'Twin in the realm');
  });

  it('a raw id containing | stays whole, and the marker goes to that user', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const { user } = await tenant.login(USERS.bar.email, USERS.bar.password);
    assert.equal(user.profile.user_id, 'legacy|42');
    assert.equal(user.user_id, 'auth0|legacy|42');
    const old = (await sim.users()).find((u) => u.user_id === 'auth0|legacy|42');
    assert.match(old.app_metadata.trickle_migrated_at, /^\d{4}-\d\d-\d\dT/);
  });

  it('metadata is preserved exactly, under the configured key', async () => {
    const lookup = await call(newTenant(main, sim.baseUrl).scripts.getUser.fn, JANE.email);
    assert.deepEqual(plain(lookup.profile.metadata), JANE.app_metadata);
    assert.deepEqual(plain(lookup.profile.user_metadata), JANE.user_metadata);
    assert.equal(lookup.profile.app_metadata, undefined);

    const withAppMetadata = await call(newTenant(allow, sim.baseUrl).scripts.getUser.fn, JANE.email);
    assert.deepEqual(plain(withAppMetadata.profile.app_metadata), JANE.app_metadata);
    assert.equal(withAppMetadata.profile.metadata, undefined);
  });

  it('login and get_user return the identical profile', async () => {
    const tenant = newTenant(allow, sim.baseUrl);
    const lookup = await call(tenant.scripts.getUser.fn, USERS.bob.email.toUpperCase());
    const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
    assert.ok(lookup.profile && login.profile);
    assert.deepEqual(plain(login.profile), plain(lookup.profile));
    for (const key of ['identities', 'created_at', 'updated_at', 'logins_count', 'last_login', 'blocked']) {
      assert.equal(key in login.profile, false, `${key} must not go back to Auth0`);
    }
  });

  it('a password reset migrates a never-migrated user, who then logs in locally', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    const reset = await tenant.changePassword(USERS.reset.email, 'a brand new password');
    assert.equal(reset.migrated, true);
    assert.deepEqual(plain(reset.user.profile.user_metadata), { source: 'legacy' });
    const before = await sim.stats();
    const { migrated } = await tenant.login(USERS.reset.email, 'a brand new password');
    assert.equal(migrated, false);
    assert.equal((await sim.stats()).total, before.total);
  });

  it('a migrated user deleted in the new tenant is not resurrected', async () => {
    const tenant = newTenant(main, sim.baseUrl);
    await tenant.login(USERS.deleted.email, USERS.deleted.password);
    assert.ok(tenant.deleteUser(USERS.deleted.email));
    const again = await rejection(tenant.login(USERS.deleted.email, USERS.deleted.password));
    assert.equal(again.name, 'WrongUsernameOrPasswordError');
    const lookup = await call(tenant.scripts.getUser.fn, USERS.deleted.email);
    assert.deepEqual(lookup.calls, [[null]]);
    const signUp = await tenant.signUp(USERS.deleted.email, 'starting over');
    assert.equal(signUp.user.source, 'signup', 'a sign-up makes a new user, not the old one');
    assert.equal(tenant.users.size, 1);
  });

  describe('when the old tenant cannot answer: a plain Error, one callback, nothing created', () => {
    const faults = {
      'down (connection refused)': null,
      'slower than the timeout': { latency_ms: 2500 },
      '5xx': { error_ratio: 1 },
      'malformed JSON': { malformed_ratio: 1 },
      'truncated body': { truncate_ratio: 1 },
      'dropped connection': { drop_ratio: 1 },
    };
    for (const [name, fault] of Object.entries(faults)) {
      it(name, async () => {
        const baseUrl = fault ? sim.baseUrl : `${SCHEME}://127.0.0.1:${await closedPort()}`;
        const tenant = newTenant(main, baseUrl);
        if (fault) await sim.setFaults(fault);
        try {
          const login = await call(tenant.scripts.login.fn, USERS.bob.email, USERS.bob.password);
          assert.equal(login.calls.length, 1);
          assert.equal(login.error.name, 'Error', `login: ${login.error && login.error.message}`);
          const lookup = await call(tenant.scripts.getUser.fn, USERS.bob.email);
          assert.equal(lookup.calls.length, 1);
          assert.equal(lookup.error.name, 'Error', 'never "no such user" when the store cannot answer');
          await rejection(tenant.login(USERS.bob.email, USERS.bob.password));
          assert.equal(tenant.users.size, 0);
        } finally {
          if (fault) await sim.setFaults({});
        }
      });
    }
  });

  describe('a fault on the marker PATCH never strands the user: migrated at once', () => {
    Object.entries(PATCH_FAULTS).forEach(([name, fault], i) => {
      it(name, async () => {
        const target = PATCH_FAULT_USERS[i];
        const tenant = newTenant(main, sim.baseUrl);
        await sim.setFaults({ ...fault, only: 'PATCH /api/v2/users/' });
        let first;
        try {
          first = await tenant.login(target.email, target.password);
        } finally {
          await sim.setFaults({});
        }
        assert.equal(first.migrated, true);
        assert.equal(first.user.user_id, `auth0|${target.id}`);
        const old = (await sim.users()).find((u) => u.user_id === `auth0|${target.id}`);
        if (name in PATCH_FAULT_MARKS) {
          assert.equal(Boolean(old.app_metadata.trickle_migrated_at), PATCH_FAULT_MARKS[name], JSON.stringify(old.app_metadata));
        }
        const again = await tenant.login(target.email, target.password);
        assert.equal(again.migrated, false, 'then served by the new tenant');
      });
    });

    it('40 users while 30% of every answer is cut short: none locked out, none marked and missing', async () => {
      const tenant = newTenant(main, sim.baseUrl);
      const outcomes = new Map(TRUNCATED_USERS.map((u) => [u.email, []]));
      await sim.setFaults({ truncate_ratio: 0.3 });
      try {
        await Promise.all(TRUNCATED_USERS.map(async (u) => {
          for (let attempt = 0; attempt < 4; attempt++) {
            try {
              const { migrated } = await tenant.login(u.email, u.password);
              outcomes.get(u.email).push(migrated ? 'migrated' : 'local');
            } catch (error) {
              outcomes.get(u.email).push(error.name);
            }
          }
        }));
      } finally {
        await sim.setFaults({});
      }
      for (const u of TRUNCATED_USERS) {
        const { migrated } = await tenant.login(u.email, u.password);
        outcomes.get(u.email).push(migrated ? 'migrated' : 'local');
      }
      for (const [email, seen] of outcomes) {
        assert.ok(!seen.includes('WrongUsernameOrPasswordError'), `${email} was locked out: ${seen}`);
        assert.equal(seen.filter((o) => o === 'migrated').length, 1, `${email}: ${seen}`);
      }
      assert.ok([...outcomes.values()].some((seen) => seen.includes('Error')), 'the faults did fail some logins');
      const old = await sim.users();
      for (const u of TRUNCATED_USERS) {
        const stored = old.find((o) => o.user_id === `auth0|${u.id}`);
        if (stored.app_metadata.trickle_migrated_at) {
          assert.ok(tenant.users.has(`auth0|${u.id}`), `${u.email} is marked but not in the new tenant`);
        }
      }
      assert.equal(tenant.users.size, TRUNCATED_USERS.length);
    });
  });

  describe('429 from the Management API', () => {
    after(() => sim.setRateLimit(0));

    it('is retried after x-ratelimit-reset, then succeeds', async () => {
      const tenant = newTenant(main, sim.baseUrl);
      await call(tenant.scripts.getUser.fn, USERS.rate.email); // warm: token cached
      await sim.setRateLimit(1);
      await sim.resetStats();
      const lookups = await Promise.all([1, 2, 3].map(() => call(tenant.scripts.getUser.fn, USERS.rate.email)));
      for (const lookup of lookups) assert.equal(lookup.profile.user_id, 'rate01');
      assert.ok((await sim.stats()).requests.users_by_email > 3, 'some calls were retried');
    });

    it('past the retries it is a clear Error, never "not found" or a wrong password', async () => {
      const tenant = newTenant(main, sim.baseUrl);
      await call(tenant.scripts.getUser.fn, USERS.rate.email);
      await sim.setRateLimit(1);
      const lookups = await Promise.all(Array.from({ length: 12 }, () => call(tenant.scripts.getUser.fn, USERS.rate.email)));
      const failed = lookups.filter((lookup) => lookup.error);
      assert.ok(failed.length > 0, 'twelve calls at 1 request/s cannot all pass within three attempts');
      for (const lookup of failed) {
        assert.equal(lookup.error.name, 'Error');
        assert.match(lookup.error.message, /rate_limited/);
      }
      for (const lookup of lookups.filter((l) => !l.error)) assert.equal(lookup.profile.user_id, 'rate01');
    });
  });

  it('100 concurrent logins of distinct users: all migrated once, one M2M token', async () => {
    const tenant = newTenant(load, sim.baseUrl);
    await sim.resetStats();
    const results = await Promise.allSettled(LOAD_USERS.map((u) => tenant.login(u.email, u.password)));
    const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    assert.deepEqual(failures, []);
    assert.equal(tenant.users.size, LOAD_USERS.length);
    const ids = new Set(results.map((r) => r.value.user.user_id));
    assert.equal(ids.size, LOAD_USERS.length, 'no user duplicated or lost');
    for (const u of LOAD_USERS) assert.ok(ids.has(`auth0|${u.id}`));
    const stats = await sim.stats();
    assert.equal(stats.requests.token_password_realm, LOAD_USERS.length);
    assert.equal(stats.requests.token_client_credentials, 1, 'the token fetch is shared while in flight');
  });

  it('the M2M token is fetched once per container and again after it expires', async () => {
    // Tokens that live 61 s are renewed 60 s before expiry: cached for 1 s.
    const shortLived = await startSim({ seed: { ...SEED, users: [USERS.expiry, USERS.bob] }, args: ['--rate-limit', '0', '--token-lifetime', '61'], tls: TLS });
    try {
      const tenant = newTenant(main, shortLived.baseUrl);
      for (let i = 0; i < 5; i++) await call(tenant.scripts.getUser.fn, USERS.expiry.email);
      assert.equal((await shortLived.stats()).requests.token_client_credentials, 1);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await call(tenant.scripts.getUser.fn, USERS.expiry.email);
      assert.equal((await shortLived.stats()).requests.token_client_credentials, 2);
      // A recycled container starts over.
      tenant.container.reset();
      await call(newTenant(main, shortLived.baseUrl, tenant.container).scripts.getUser.fn, USERS.expiry.email);
      assert.equal((await shortLived.stats()).requests.token_client_credentials, 3);
    } finally {
      await shortLived.close();
    }
  });

  it('no password, secret or token appears in any log line', async () => {
    const token = await managementToken(sim.baseUrl);
    const lines = [...allLogs.flat(), ...sim.logs().split('\n')];
    assert.ok(lines.length > 0);
    for (const line of lines) {
      for (const secret of [...SECRETS, token]) assert.ok(!line.includes(secret), `a log line reveals a secret: ${line}`);
      assert.ok(!/eyJ[\w-]+\.eyJ/.test(line), `a log line holds a JWT: ${line}`);
    }
    assert.deepEqual(lateCalls, [], 'no callback was ever called twice');
  });
});
