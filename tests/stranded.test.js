'use strict';
// A user the old tenant has marked as migrated but the new tenant never
// stored (Auth0 failed to store them after the login returned, or an older
// Trickle stranded them) is shut out by login, like a deleted user. The way
// back, end to end against `trickle sim`: `bulk plan --exclude-export` finds
// them, `bulk unmark` clears their marker, and their next login migrates
// them with their own password, marking them again.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const { Container, ImportModeTenant, startSim } = require('../packages/testkit');
const { generateScripts, trickle } = require('./support/generate');

const CONNECTION = 'old-tenant-import';
const REALM = 'Username-Password-Authentication';
const CLIENT = {
  client_id: 'trickleStrandedClient',
  client_secret: 'stranded-sim-secret-never-shown',
  grant_types: ['password', 'client_credentials'],
  scopes: ['read:users', 'update:users'],
};
const STRANDED_AT = '2026-10-01T08:00:00.000Z';
const stranded = {
  id: 'stranded',
  connection: REALM,
  email: 'stranded@example.com',
  password: 'pw-Stranded-Secret!',
  app_metadata: { trickle_migrated_at: STRANDED_AT, plan: 'gold' },
  user_metadata: { lang: 'fr' },
};
const exported = (user) => ({
  user_id: `auth0|${user.id}`,
  email: user.email,
  identities: [{ provider: 'auth0', connection: REALM, user_id: user.id, isSocial: false }],
  app_metadata: user.app_metadata,
  user_metadata: user.user_metadata,
});

let tmp;
let sim;
let scripts;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-stranded-'));
  const config = `[connection]\nname = "${CONNECTION}"\n[source]\nrealm = "${REALM}"\n[migration]\nmark_migrated = true\n[http]\ntimeout_ms = 3000\n`;
  [sim, scripts] = await Promise.all([
    startSim({ seed: { bcrypt_cost: 4, connections: [{ name: REALM }], clients: [CLIENT], users: [stranded] }, args: ['--rate-limit', '0', '--quiet'] }),
    generateScripts(tmp, 'stranded', config, CONNECTION),
  ]);
});

after(async () => {
  if (sim) await sim.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function oldUser() {
  return (await sim.users()).find((u) => u.user_id === 'auth0|stranded');
}

describe('a user marked but never stored by the new tenant', () => {
  it('is shut out by login, found by bulk plan, and migrates at the next login once bulk unmark has run', async () => {
    const settings = { domain: sim.baseUrl, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret };
    const container = new Container();
    const tenant = new ImportModeTenant({
      login: container.load(scripts.login, settings),
      getUser: container.load(scripts.getUser, settings),
      connection: { name: CONNECTION, id: 'con_NewTenantImport1' },
    });

    // Marked users count as absent, so login cannot tell this one from a
    // user deleted in the new tenant on purpose.
    const refused = await tenant.login(stranded.email, stranded.password).then(() => null, (error) => error);
    assert.equal(refused?.name, 'WrongUsernameOrPasswordError');

    const oldExport = path.join(tmp, 'old.ndjson');
    fs.writeFileSync(oldExport, JSON.stringify(exported(stranded)) + '\n');
    const newExport = path.join(tmp, 'new.ndjson'); // the new tenant holds nobody
    fs.writeFileSync(newExport, '');
    const plan = path.join(tmp, 'plan');
    await trickle(['bulk', 'plan', '--config', path.join(tmp, 'stranded.toml'), '--input', oldExport, '--exclude-export', newExport, '--out', plan]);
    const listed = fs.readFileSync(path.join(plan, 'marked-not-in-new-tenant.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(listed.map((u) => [u.user_id, u.marked_at]), [['auth0|stranded', STRANDED_AT]]);

    process.env.TRICKLE_OLD_CLIENT_SECRET = CLIENT.client_secret;
    const unmarkArgs = ['bulk', 'unmark', '--plan', plan, '--domain', sim.baseUrl, '--client-id', CLIENT.client_id];
    let output;
    try {
      output = await trickle(unmarkArgs);
    } finally {
      delete process.env.TRICKLE_OLD_CLIENT_SECRET;
    }
    assert.ok(!output.includes(CLIENT.client_secret), 'no secret in the output');
    assert.deepEqual((await oldUser()).app_metadata, { plan: 'gold' }, 'only the marker is gone');

    const { user, migrated } = await tenant.login(stranded.email, stranded.password);
    assert.equal(migrated, true);
    assert.equal(user.user_id, 'auth0|stranded');
    assert.deepEqual(user.user_metadata, stranded.user_metadata);
    const remarked = (await oldUser()).app_metadata.trickle_migrated_at;
    assert.match(remarked, /^\d{4}-\d\d-\d\dT/);
    assert.notEqual(remarked, STRANDED_AT, 'marked again, by this login');

    // Unmarking again leaves the new marker alone: that user is migrated now.
    process.env.TRICKLE_OLD_CLIENT_SECRET = CLIENT.client_secret;
    try {
      await trickle(unmarkArgs);
    } finally {
      delete process.env.TRICKLE_OLD_CLIENT_SECRET;
    }
    assert.equal((await oldUser()).app_metadata.trickle_migrated_at, remarked);
    const report = JSON.parse(fs.readFileSync(path.join(plan, 'unmark-report.json'), 'utf8'));
    assert.deepEqual([report.cleared, report.marked_again], [0, 1]);
  });
});
