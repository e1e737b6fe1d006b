// The scripts of examples/legacy-api.toml against your store's API, offline: `node --test`
// from the checkout, with trickle on PATH (or TRICKLE_BIN=path/to/trickle).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { Container, ImportModeTenant, call, findTrickle, startSim, startLegacySim } = require('@trickle/testkit');

const scripts = 'out/database-connections/legacy-import';
const audience = 'https://legacy.example.com/api'; // the config's [source] audience
let sim, store, tenant;

before(async () => {
  execFileSync(findTrickle(), ['generate', '--config', 'examples/legacy-api.toml', '--out', 'out']);
  sim = await startSim({ seed: { // the new tenant: its migration client may get tokens for the API
    clients: [{ client_id: 'legacy-migration', client_secret: 's3cret', grant_types: ['client_credentials'] }],
    apis: [{ identifier: audience, client_grants: [{ client_id: 'legacy-migration' }] }],
  } });
  store = await startLegacySim({ // your store's API: Ada's password kept as a salted SHA-256
    seed: { users: [{ id: 'u-1', email: 'ada@example.com', password: 'correct horse',
      hash: { algorithm: 'sha256', salt: 'NaCl', salt_position: 'suffix' } }] },
    issuer: sim.baseUrl + '/', audience, basePath: '/auth0-migration',
  });
  const settings = { domain: sim.baseUrl, api_url: store.apiUrl, client_id: 'legacy-migration', client_secret: 's3cret' };
  const container = new Container(); // one Auth0 container: a shared `global`
  tenant = new ImportModeTenant({
    login: container.load(`${scripts}/login.js`, settings),
    getUser: container.load(`${scripts}/get_user.js`, settings),
  });
});
after(() => Promise.all([store?.close(), sim?.close()]));

test('a wrong password is a wrong password, and migrates nobody', async () => {
  await assert.rejects(tenant.login('ada@example.com', 'Tr0ub4dor&3'), { name: 'WrongUsernameOrPasswordError' });
});

test('Ada moves on her first login, and the store marks her', async () => {
  const { user, migrated } = await tenant.login('ada@example.com', 'correct horse');
  assert.equal(migrated, true);
  assert.equal(user.user_id, 'auth0|u-1');
  const [ada] = await store.users();
  assert.ok(ada.migrated_at, 'PUT /users/u-1/migrated');
});

test('get_user answers callback(null) for nobody, never an error', async () => {
  const { calls } = await call(tenant.scripts.getUser.fn, 'nobody@example.com');
  assert.deepEqual(calls, [[null]]);
});
