'use strict';
// The post-login Action, generated and run as Auth0 runs it (testkit: a
// module with Node built-ins only, a v3 event, an api applied at the end of
// the flow), inside the new tenant's model, against `trickle sim`: the
// interrupted flow whose metadata comes back at the next login, the user
// marked once and only after Auth0 holds them, an old tenant that is down,
// answers lost on the way, users it has nothing to do with, and the custom
// domain the scripts and the Action take their tokens through.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const { Container, ImportModeTenant, startSim } = require('../packages/testkit');
const { generateScripts } = require('./support/generate');

const CONNECTION = 'old-tenant-import';
const REALM = 'Username-Password-Authentication';
const CLIENT = {
  client_id: 'trickleActionClient',
  client_secret: 'sim-secret "quoted" \\ never-logged-42',
  grant_types: ['password', 'client_credentials'],
  scopes: ['read:users', 'update:users'],
};
const META = {
  app_metadata: { plan: 'gold', roles: ['admin'], nested: { deep: [1, { x: 'ü' }] } },
  user_metadata: { lang: 'fr', bio: 'Émile — 日本語 🎉 "quoted"', address: { city: 'Zürich' } },
};
const user = (id, extra = {}) => ({
  id,
  connection: REALM,
  email: `${id}@example.com`,
  password: `pw-${id}-Secret!`,
  name: `User ${id}`,
  ...META,
  ...extra,
});
const NAMES = ['interrupted', 'kept', 'plain', 'down', 'lost', 'other', 'loginmarks', 'custom', 'customaction', 'twice'];
// Linked in the old tenant: its database identity is secondary, under a Google one.
const LINKED_ROOT = 'google-oauth2|1098765';
// Came into the old tenant through Trickle itself (A → B): B's bookkeeping keys.
const EARLIER = { trickle_checked_at: '2025-01-01T00:00:00.000Z', trickle_marked_at: '2025-01-01T00:00:00.000Z' };
const SEED = {
  bcrypt_cost: 4,
  connections: [{ name: REALM }],
  clients: [CLIENT],
  users: [
    ...NAMES.map((name) => user(name)),
    user('linked', { primary_identity: { provider: 'google-oauth2', user_id: '1098765' } }),
    user('linkedlogin', { primary_identity: { provider: 'google-oauth2', user_id: '2098765' } }),
    user('chain', { app_metadata: { ...META.app_metadata, ...EARLIER } }),
  ],
};

const config = (markMigrated, extra = '') =>
  `[connection]\nname = "${CONNECTION}"\nenabled_clients = ["Test App"]\n[source]\nrealm = "${REALM}"\n` +
  `[migration]\nmark_migrated = ${markMigrated}\n[action]\nenabled = true\nbudget_ms = 4000\n[http]\ntimeout_ms = 1500\n${extra}`;

let tmp;
let sim;
let byAction; // mark_migrated = "action"
let byLogin; // mark_migrated = "login", the Action backfills only

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-action-'));
  [sim, byAction, byLogin] = await Promise.all([
    startSim({ seed: SEED, args: ['--rate-limit', '0', '--quiet', '--canonical-host', 'localhost'] }),
    generateScripts(tmp, 'by-action', config('"action"'), CONNECTION),
    generateScripts(tmp, 'by-login', config('"login"'), CONNECTION),
  ]);
  assert.ok(byAction.action && byLogin.action, 'both configs generate the Action');
});

after(async () => {
  if (sim) await sim.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// The emulator answers under 127.0.0.1 (a custom domain here) and localhost (canonical).
const canonical = () => sim.baseUrl.replace('127.0.0.1', 'localhost');
const settings = (extra = {}) => ({ domain: canonical(), client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, ...extra });

// Scripts and Actions run in containers of their own: they share no `global`.
function tenantFor(scripts, container = new Container(), secrets = settings(), actionContainer = new Container()) {
  return new ImportModeTenant({
    login: container.load(scripts.login, secrets),
    getUser: container.load(scripts.getUser, secrets),
    connection: { name: CONNECTION, id: 'con_NewTenantImport1' },
    postLogin: [actionContainer.loadAction(scripts.action)],
    secrets,
  });
}

async function oldUser(id, rootId = `auth0|${id}`) {
  return (await sim.users()).find((u) => u.user_id === rootId);
}

async function requests() {
  return (await sim.stats()).requests;
}

const delta = (after, before) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]).filter(([, v]) => v));

function assertNoSecret(tenant) {
  for (const run of tenant.actionRuns) {
    for (const line of [...tenant.postLogin.flatMap((a) => a.logs)]) {
      assert.ok(!line.includes(CLIENT.client_secret) && !line.includes('never-logged'), `a secret in a log line: ${line}`);
    }
    assert.equal(run.error, undefined);
  }
}

describe('post-login Action (mark_migrated = "action")', () => {
  it('an interrupted flow gets its metadata back at the next login, and the user is marked once', async () => {
    const tenant = tenantFor(byAction);
    const first = await tenant.login('interrupted@example.com', user('interrupted').password, { interrupted: true });
    assert.equal(first.migrated, true);
    assert.deepEqual([first.user.app_metadata, first.user.user_metadata], [{}, {}], 'credentials stored, metadata not');
    assert.equal((await oldUser('interrupted')).app_metadata.trickle_migrated_at, undefined, 'the login script does not mark');

    const beforeSecond = await requests();
    const second = await tenant.login('interrupted@example.com', user('interrupted').password);
    assert.equal(second.migrated, false, 'served by the new tenant');
    assert.deepEqual(delta(await requests(), beforeSecond), { token_client_credentials: 1, get_user: 1, patch_user: 1 });
    const { trickle_checked_at: checked, trickle_marked_at: marked, ...appMetadata } = second.user.app_metadata;
    assert.deepEqual(appMetadata, META.app_metadata, 'app_metadata exactly as the old tenant holds it');
    assert.deepEqual(second.user.user_metadata, META.user_metadata);
    assert.ok(checked && marked);
    const old = await oldUser('interrupted');
    assert.match(old.app_metadata.trickle_migrated_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(old.app_metadata.plan, 'gold', 'the marker is merged, nothing else touched');

    // Done: later logins cost nothing, and the marker is never written again.
    const beforeThird = await requests();
    for (let i = 0; i < 3; i++) await tenant.login('interrupted@example.com', user('interrupted').password);
    assert.deepEqual(delta(await requests(), beforeThird), {});
    assert.equal((await oldUser('interrupted')).app_metadata.trickle_migrated_at, old.app_metadata.trickle_migrated_at);
    assertNoSecret(tenant);
  });

  it('a key the new tenant holds wins; only missing ones come over', async () => {
    const tenant = tenantFor(byAction);
    const { user: stored } = await tenant.login('kept@example.com', user('kept').password, { interrupted: true });
    stored.user_metadata = { lang: 'en' }; // an app set it since
    await tenant.login('kept@example.com', user('kept').password);
    assert.deepEqual(stored.user_metadata, { ...META.user_metadata, lang: 'en' });
  });

  it('a whole flow: the Action finds the metadata there and marks after Auth0 stored the user', async () => {
    const tenant = tenantFor(byAction);
    const before = await requests();
    const { user: stored, migrated } = await tenant.login('plain@example.com', user('plain').password);
    assert.equal(migrated, true);
    const run = tenant.actionRuns.at(-1);
    assert.deepEqual(run.recorded.userMetadata, {}, 'nothing to backfill');
    assert.deepEqual(Object.keys(run.recorded.appMetadata).sort(), ['trickle_checked_at', 'trickle_marked_at']);
    assert.equal(delta(await requests(), before).patch_user, 1);
    assert.deepEqual(stored.user_metadata, META.user_metadata);
    assert.ok((await oldUser('plain')).app_metadata.trickle_migrated_at);
  });

  it('an old tenant that is down never fails the login: the Action says so, and the next login catches up', async () => {
    const tenant = tenantFor(byAction);
    await tenant.login('down@example.com', user('down').password, { interrupted: true });
    await sim.setFaults({ error_ratio: 1 });
    try {
      const { user: stored } = await tenant.login('down@example.com', user('down').password);
      assert.deepEqual(stored.user_metadata, {});
      const logs = tenant.postLogin[0].logs;
      assert.match(logs.at(-1), /^\[log\] Trickle: will try again at the next login: /);
    } finally {
      await sim.setFaults({});
    }
    const { user: stored } = await tenant.login('down@example.com', user('down').password);
    assert.deepEqual(stored.user_metadata, META.user_metadata);
    assert.ok((await oldUser('down')).app_metadata.trickle_migrated_at);
    assertNoSecret(tenant);
  });

  it('a marker write whose answer is lost is read back, not written twice', async () => {
    const tenant = tenantFor(byAction);
    await tenant.login('lost@example.com', user('lost').password, { interrupted: true });
    await sim.setFaults({ truncate_ratio: 1, only: 'PATCH /api/v2/users/' });
    const before = await requests();
    try {
      const { user: stored } = await tenant.login('lost@example.com', user('lost').password);
      assert.ok(stored.app_metadata.trickle_marked_at, 'the read-back confirmed it');
    } finally {
      await sim.setFaults({});
    }
    assert.deepEqual(delta(await requests(), before), { token_client_credentials: 1, get_user: 2, patch_user: 1 });
    const again = await requests();
    await tenant.login('lost@example.com', user('lost').password);
    assert.deepEqual(delta(await requests(), again), {});
  });

  it('a linked account (its realm identity secondary) is marked by the id the old tenant knows', async () => {
    const tenant = tenantFor(byAction);
    const first = await tenant.login('linked@example.com', user('linked').password, { interrupted: true });
    assert.equal(first.user.user_id, 'auth0|linked', 'the realm identity\'s id, as the scripts return it');
    const second = await tenant.login('linked@example.com', user('linked').password);
    const old = await oldUser('linked', LINKED_ROOT);
    assert.match(String(old.app_metadata.trickle_migrated_at), /^\d{4}-\d\d-\d\dT/, 'the old user is marked');
    assert.ok(second.user.app_metadata.trickle_marked_at, 'recorded only after the marker was written');
    assert.deepEqual(second.user.user_metadata, META.user_metadata, 'and its metadata came over');
    assertNoSecret(tenant);
  });

  it("Trickle's own keys from an earlier migration (A → B) do not travel to C: the Action still does its work", async () => {
    const tenant = tenantFor(byAction);
    const { user: stored } = await tenant.login('chain@example.com', user('chain').password);
    const { trickle_checked_at: checked, trickle_marked_at: marked, ...appMetadata } = stored.app_metadata;
    assert.deepEqual(appMetadata, META.app_metadata, 'no trickle_* key of the old tenant');
    assert.ok(checked && checked !== EARLIER.trickle_checked_at, 'checked by this Action');
    assert.ok(marked && marked !== EARLIER.trickle_marked_at, 'marked by this Action');
    assert.ok((await oldUser('chain')).app_metadata.trickle_migrated_at, 'the old user is marked');
  });

  it('two post-login runs at once write the same marker: the time the new tenant created the user', async () => {
    const tenant = tenantFor(byAction);
    const { user: stored } = await tenant.login('twice@example.com', user('twice').password, { interrupted: true });
    stored.created_at = '2026-01-02T03:04:05.000Z';
    const before = await requests();
    await Promise.all([1, 2].map(() => tenant.login('twice@example.com', user('twice').password)));
    assert.ok(delta(await requests(), before).patch_user >= 1);
    assert.equal((await oldUser('twice')).app_metadata.trickle_migrated_at, stored.created_at);
  });

  it('users of other connections and users the old tenant never had cost one look at most', async () => {
    const container = new Container();
    const action = container.loadAction(byAction.action);
    const other = new ImportModeTenant({
      login: container.load(byAction.login, settings()),
      getUser: container.load(byAction.getUser, settings()),
      connection: { name: 'another-connection' },
      postLogin: [action],
      secrets: settings(),
    });
    const before = await requests();
    // A user created straight in another connection: the Action returns at once.
    other.create({ user_id: 'elsewhere1', email: 'elsewhere@example.com' }, 'pw', 'signup');
    await other.login('elsewhere@example.com', 'pw');
    assert.deepEqual(delta(await requests(), before), {});
    assert.deepEqual(other.actionRuns.at(-1).recorded.calls, []);

    // A sign-up in this connection: the old tenant has nobody by that id; noted once.
    const tenant = tenantFor(byAction, container);
    await tenant.signUp('newcomer@example.com', 'New-User-Pw-1');
    await tenant.login('newcomer@example.com', 'New-User-Pw-1');
    const once = await requests();
    await tenant.login('newcomer@example.com', 'New-User-Pw-1');
    assert.deepEqual(delta(await requests(), once), {});
    assert.equal((await sim.users()).some((u) => u.email === 'newcomer@example.com'), false);
  });
});

describe('post-login Action (mark_migrated = "login"): backfill only', () => {
  it('the login marks, the Action brings metadata over and never writes the marker', async () => {
    const tenant = tenantFor(byLogin);
    const before = await requests();
    await tenant.login('loginmarks@example.com', user('loginmarks').password, { interrupted: true });
    const { user: stored } = await tenant.login('loginmarks@example.com', user('loginmarks').password);
    assert.equal(delta(await requests(), before).patch_user, 1, 'one marker, by the login script');
    assert.deepEqual(stored.user_metadata, META.user_metadata);
    assert.ok(stored.app_metadata.trickle_checked_at);
    assert.equal(stored.app_metadata.trickle_marked_at, undefined);
    assert.equal(stored.app_metadata.trickle_migrated_at, undefined, "the old tenant's marker stays there");
  });

  it('a linked account is migrated under its realm identity and marked by its root id', async () => {
    const tenant = tenantFor(byLogin);
    const { user: stored } = await tenant.login('linkedlogin@example.com', user('linkedlogin').password);
    assert.equal(stored.user_id, 'auth0|linkedlogin');
    assert.ok((await oldUser('linkedlogin', 'google-oauth2|2098765')).app_metadata.trickle_migrated_at);
  });
});

describe('custom domains', () => {
  it('a custom domain as `domain` cannot get a Management API token (the audience is canonical)', async () => {
    const tenant = tenantFor(byAction, new Container(), settings({ domain: sim.baseUrl }));
    await assert.rejects(tenant.login('custom@example.com', user('custom').password), (error) => {
      assert.equal(error.name, 'Error');
      assert.match(error.message, /Management API token/);
      return true;
    });
  });

  it('`domain` canonical, `custom_domain` for tokens: scripts and Action work through both', async () => {
    const secrets = settings({ custom_domain: sim.baseUrl });
    for (const name of ['custom', 'customaction']) {
      const tenant = tenantFor(byAction, new Container(), secrets);
      await tenant.login(`${name}@example.com`, user(name).password, { interrupted: name === 'customaction' });
      const { user: stored } = await tenant.login(`${name}@example.com`, user(name).password);
      assert.deepEqual(stored.user_metadata, META.user_metadata);
      assert.ok((await oldUser(name)).app_metadata.trickle_migrated_at, name);
      const { calls } = await require('../packages/testkit').call(tenant.scripts.getUser.fn, 'nobody@example.com');
      assert.deepEqual(calls, [[null]]);
    }
  });

  it('a custom_domain that is not an https origin is named as such', async () => {
    const tenant = tenantFor(byAction, new Container(), settings({ custom_domain: 'http://login.example.com' }));
    await assert.rejects(tenant.login('custom@example.com', 'x'), /configuration\.custom_domain may use http:\/\/ only/);
  });
});
