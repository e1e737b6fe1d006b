'use strict';
// An old tenant whose source realm is an AD/LDAP connection (reached
// through the AD/LDAP connector; password-realm works there as for a
// database): its users' user_id is `ad|<connection>|<id>`, their identity
// in the realm has provider `ad`. They must get a stable id from that
// identity (never `ad|…` under Auth0's own `auth0|`, never a doubled
// prefix), the same profile from login and get_user, and the marker on
// the user the old tenant knows. Against `trickle sim` seeded from
// examples/old-tenant-ad.json.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const { Container, ImportModeTenant, call, startSim } = require('../packages/testkit');
const { generateScripts, REPO_ROOT } = require('./support/generate');

const SEED = path.join(REPO_ROOT, 'examples', 'old-tenant-ad.json');
const seed = JSON.parse(fs.readFileSync(SEED, 'utf8'));
const [JOHN, SERVICE, DATABASE_TWIN] = seed.users;
const CLIENT = seed.clients[0];
const CONNECTION = 'corp-ad-import';
const REALM = 'corp-ad';

const config = (lines) => ['[connection]', `name = "${CONNECTION}"`, '[source]', `realm = "${REALM}"`, ...lines, ''].join('\n');
const MARKING = config(['[migration]', 'mark_migrated = true', 'skip_marked = true']);
const PLAIN = config(['[profile]', 'app_metadata_key = "app_metadata"', '[migration]', 'mark_migrated = false']);

const plain = (value) => JSON.parse(JSON.stringify(value));

describe('an AD/LDAP realm of the old tenant', () => {
  let tmp;
  let sim;
  let marking;
  let plainScripts;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-ad-'));
    [sim, marking, plainScripts] = await Promise.all([
      startSim({ seed: SEED, args: ['--rate-limit', '0', '--quiet'] }),
      generateScripts(tmp, 'marking', MARKING, CONNECTION),
      generateScripts(tmp, 'plain', PLAIN, CONNECTION),
    ]);
  });

  after(async () => {
    if (sim) await sim.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const tenantFor = (scripts) => {
    const settings = { domain: sim.baseUrl, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret };
    const container = new Container();
    return new ImportModeTenant({ login: container.load(scripts.login, settings), getUser: container.load(scripts.getUser, settings) });
  };

  it('the emulated old tenant shows its users as Auth0 shows AD users', async () => {
    const john = (await sim.users()).find((u) => u.email === 'john.doe@corp.example' && u.identities[0].connection === REALM);
    assert.equal(john.user_id, 'ad|corp-ad|jdoe');
    assert.deepEqual(john.identities, [{ provider: 'ad', connection: REALM, user_id: 'corp-ad|jdoe', isSocial: false }]);
  });

  it('login and get_user give the identical profile, its id from the realm\'s identity', async () => {
    const tenant = tenantFor(plainScripts);
    const lookup = await call(tenant.scripts.getUser.fn, 'JOHN.doe@corp.example');
    const login = await call(tenant.scripts.login.fn, JOHN.email, JOHN.password);
    assert.ok(lookup.profile && login.profile, `${lookup.error} ${login.error}`);
    assert.deepEqual(plain(login.profile), plain(lookup.profile));
    assert.deepEqual(plain(login.profile), {
      user_id: 'corp-ad|jdoe',
      email: 'john.doe@corp.example',
      email_verified: true,
      username: 'jdoe',
      name: 'John Doe',
      nickname: 'john.doe',
      given_name: 'John',
      family_name: 'Doe',
      picture: login.profile.picture,
      user_metadata: JOHN.user_metadata,
      app_metadata: JOHN.app_metadata,
    });
  });

  it('is stored as auth0|<connection>|<id>: stable, never ad| under auth0|, never doubled', async () => {
    const tenant = tenantFor(plainScripts);
    const { user } = await tenant.login(JOHN.email, JOHN.password);
    assert.equal(user.user_id, 'auth0|corp-ad|jdoe');
    const again = tenantFor(plainScripts);
    const reset = await again.changePassword(JOHN.email, 'a new password');
    assert.equal(reset.user.user_id, user.user_id, 'the same id by password reset');
    const service = await tenantFor(plainScripts).login(SERVICE.email, SERVICE.password);
    assert.equal(service.user.user_id, 'auth0|corp-ad|auth0|svc', 'a | inside the id stays, nothing stripped from its middle');
  });

  it('only the realm counts: the database user with the same email is never taken', async () => {
    const tenant = tenantFor(plainScripts);
    const wrongRealm = await call(tenant.scripts.login.fn, DATABASE_TWIN.email, DATABASE_TWIN.password);
    assert.equal(wrongRealm.error.name, 'WrongUsernameOrPasswordError', 'the database password is not the directory\'s');
    const lookup = await call(tenant.scripts.getUser.fn, DATABASE_TWIN.email);
    assert.equal(lookup.profile.user_id, 'corp-ad|jdoe');
  });

  it('the marker goes to ad|… in the old tenant, and a marked user then counts as absent', async () => {
    const tenant = tenantFor(marking);
    const { user } = await tenant.login(JOHN.email, JOHN.password);
    assert.equal(user.user_id, 'auth0|corp-ad|jdoe');
    const old = (await sim.users()).find((u) => u.user_id === 'ad|corp-ad|jdoe');
    assert.match(old.app_metadata.trickle_migrated_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(old.app_metadata.department, 'Finance', 'the rest of app_metadata untouched');
    const database = (await sim.users()).find((u) => u.user_id === `auth0|${DATABASE_TWIN.id}`);
    assert.equal(database.app_metadata.trickle_migrated_at, undefined);
    const lookup = await call(tenantFor(marking).scripts.getUser.fn, JOHN.email);
    assert.deepEqual(lookup.calls, [[null]]);
  });
});
