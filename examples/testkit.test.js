// Unit tests of the generated scripts, offline: `node --test` from the checkout,
// with trickle on PATH (or TRICKLE_BIN=path/to/trickle).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { Container, ImportModeTenant, call, findTrickle, startSim } = require('@trickle/testkit');

const scripts = 'out/database-connections/old-tenant-import';
let sim, tenant;

before(async () => {
  // The scripts under test, from the example config ($TRICKLE_BIN, else trickle on PATH).
  execFileSync(findTrickle(), ['generate', '--config', 'examples/tenant-to-tenant.toml', '--out', 'out']);
  sim = await startSim({ seed: 'examples/old-tenant-users.json' }); // runs `trickle sim`: the old tenant
  const container = new Container(); // one Auth0 container: a shared `global`
  const configuration = { domain: sim.baseUrl, client_id: 'trickle-migration', client_secret: 'sim-only-not-a-real-secret' };
  tenant = new ImportModeTenant({
    login: container.load(`${scripts}/login.js`, configuration),
    getUser: container.load(`${scripts}/get_user.js`, configuration),
  });
});
after(() => sim?.close()); // no sim when it could not start: the hook's error says why

test('Jane moves on her first login, and only then', async () => {
  const first = await tenant.login('jane.doe@example.com', 'Correct-Horse-Battery-1');
  assert.equal(first.migrated, true);
  assert.equal(first.user.user_id, 'auth0|64b1f0c2a7e3d94f1c2b3a4d');
  const second = await tenant.login('jane.doe@example.com', 'Correct-Horse-Battery-1');
  assert.equal(second.migrated, false); // served by the new tenant
});

test('a blocked user stays behind', async () => {
  await assert.rejects(tenant.login('mallory@example.com', 'Blocked-User-1'), { name: 'UnauthorizedError' });
});

test('get_user answers callback(null) for nobody, never an error', async () => {
  const { calls } = await call(tenant.scripts.getUser.fn, 'nobody@example.com');
  assert.deepEqual(calls, [[null]]);
});
