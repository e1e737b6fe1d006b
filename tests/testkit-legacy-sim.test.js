'use strict';
// @trickle/testkit's startLegacySim: the emulated legacy user-store API
// started beside startSim (the new tenant issuing its tokens), driven as
// the generated scripts drive it, and its control calls.

const test = require('node:test');
const assert = require('node:assert/strict');

const { startSim, startLegacySim } = require('../packages/testkit');

const API = 'https://legacy.example/api';

const tenantSeed = {
  bcrypt_cost: 4,
  clients: [{ client_id: 'migration', client_secret: 'migration-secret', grant_types: ['client_credentials'] }],
  apis: [{ identifier: API, client_grants: [{ client_id: 'migration', scope: ['update:users'] }] }],
};

const legacySeed = {
  bcrypt_cost: 4,
  users: [
    { id: 'u-1', email: 'Ada@Example.com', username: 'ada', password: 'ada-pw' },
    { id: 'u-2', email: 'md5@example.com', password: 'md5-pw', hash: { algorithm: 'md5', salt: 'NaCl' } },
    { id: 'u-3', email: 'blocked@example.com', password: 'blocked-pw', blocked: true },
  ],
};

async function token(sim) {
  const response = await fetch(`${sim.baseUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: 'migration', client_secret: 'migration-secret', audience: API }),
  });
  assert.equal(response.status, 200);
  return (await response.json()).access_token;
}

async function verify(legacy, accessToken, username, password) {
  const response = await fetch(`${legacy.apiUrl}/users/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ username, password }),
    redirect: 'manual',
  });
  return { status: response.status, body: await response.json() };
}

test('startLegacySim serves the contract with tokens of the tenant startSim plays', async (t) => {
  const sim = await startSim({ seed: tenantSeed, args: ['--quiet'] });
  t.after(() => sim.close());
  const legacy = await startLegacySim({
    seed: legacySeed,
    issuer: `${sim.baseUrl}/`,
    audience: API,
    writeScope: 'update:users',
    basePath: '/auth0-migration',
    args: ['--quiet'],
  });
  t.after(() => legacy.close());
  assert.match(legacy.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/auth0-migration$/);

  const accessToken = await token(sim);
  const right = await verify(legacy, accessToken, 'ADA', 'ada-pw');
  assert.equal(right.status, 200);
  assert.equal(right.body.user.id, 'u-1');
  assert.equal(right.body.user.migrated_at, null);
  assert.equal((await verify(legacy, accessToken, 'md5@example.com', 'md5-pw')).status, 200);
  assert.deepEqual((await verify(legacy, accessToken, 'ada', 'wrong')).body.error, 'invalid_credentials');
  assert.equal((await verify(legacy, accessToken, 'blocked@example.com', 'blocked-pw')).status, 423);
  assert.equal((await verify(legacy, 'not-a-token', 'ada', 'ada-pw')).status, 401);

  await legacy.rejectTokens(1);
  assert.equal((await verify(legacy, accessToken, 'ada', 'ada-pw')).status, 401);
  assert.equal((await verify(legacy, accessToken, 'ada', 'ada-pw')).status, 200);

  await legacy.setFaults({ error_ratio: 1, only: 'POST /auth0-migration/users/verify' });
  assert.equal((await verify(legacy, accessToken, 'ada', 'ada-pw')).status, 503);
  await legacy.setFaults({});

  const stats = await legacy.stats();
  assert.equal(stats.jwks_fetches, 1);
  assert.equal(stats.invalid_tokens, 2);
  assert.equal(stats.requests.verify, 8);
  const records = await legacy.exportRecords();
  assert.deepEqual(records.map((r) => r.id), ['u-1', 'u-2', 'u-3']);
  assert.equal(records[1].password_hash.algorithm, 'md5');
  assert.equal((await legacy.users()).length, 3);
});

test('startLegacySim says why it could not start', async () => {
  await assert.rejects(startLegacySim({ seed: legacySeed, audience: API }), /issuer and audience/);
  await assert.rejects(
    startLegacySim({ seed: { users: [{ id: 'x', email: 'nope' }] }, issuer: 'http://127.0.0.1:9/', audience: API }),
    /exited with code 2[\s\S]*not an email address/,
  );
});
