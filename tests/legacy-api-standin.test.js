'use strict';
// The stand-in the API source's scenarios run against
// (tests/support/legacy-api.js) answers as the contract says
// (docs/legacy-api.openapi.yaml): every token check, every status and
// body of every endpoint, Retry-After. A fake that drifts from the contract
// would let the scripts pass here and fail against a real store.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');

const { startLegacyStandIn } = require('./support/legacy-api');

const AUDIENCE = 'https://legacy.example.com/api';
const CLIENT = { client_id: 'migration', client_secret: 'standin-secret-0123456789' };
const UNGRANTED = { client_id: 'ungranted', client_secret: 'ungranted-secret-0123456789' };
const USERS = [
  { id: 'u-1', email: 'Ada@Example.com', username: 'ada', password: 'pw-1', app_metadata: { plan: 'gold' } },
  { id: 'u-2', email: 'blocked@example.com', password: 'pw-2', blocked: true },
  { id: 'u-3', email: 'twin@example.com', password: 'pw-3' },
  { id: 'u-4', email: 'TWIN@example.com', password: 'pw-4' },
  { id: 'u-5', email: 'marked@example.com', password: 'pw-5', migrated_at: '2026-01-01T00:00:00Z' },
];

describe('the legacy API stand-in keeps to the contract', () => {
  let source;
  let token;

  const tokenFor = async (client, audience = AUDIENCE) => {
    const response = await fetch(source.domain + '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', ...client, audience }),
    });
    return { status: response.status, body: await response.json() };
  };
  const api = async (method, route, body, bearer = token) => {
    const headers = { 'content-type': 'application/json' };
    if (bearer) headers.authorization = 'Bearer ' + bearer;
    const response = await fetch(source.apiUrl + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, headers: response.headers, body: await response.json() };
  };

  before(async () => {
    source = await startLegacyStandIn({ users: USERS, audience: AUDIENCE, clients: [{ ...CLIENT, granted: true }, UNGRANTED] });
    const issued = await tokenFor(CLIENT);
    assert.equal(issued.status, 200);
    token = issued.body.access_token;
  });

  after(() => source.close());

  it('issues RS256 client-credentials tokens to granted clients only', async () => {
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, 'migration@clients');
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.iss, source.domain + '/');
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg, 'RS256');
    assert.equal((await tokenFor(UNGRANTED)).status, 403);
    assert.equal((await tokenFor({ ...CLIENT, client_secret: 'wrong' })).status, 401);
    assert.equal((await tokenFor(CLIENT, 'https://other.example.com/api')).status, 403);
  });

  it('answers 401 invalid_token with WWW-Authenticate to every token but a valid one', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = { iss: source.domain + '/', sub: 'migration@clients', aud: AUDIENCE, exp: now + 60 };
    const [header, payload] = token.split('.');
    const bad = {
      none: null,
      'not a JWT': 'abc',
      'another signature': `${header}.${payload}.${Buffer.from('x').toString('base64url')}`,
      'alg none': `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`,
      expired: source.signToken({ ...good, exp: now - 1 }),
      'another issuer': source.signToken({ ...good, iss: 'https://evil.example.com/' }),
      'another audience': source.signToken({ ...good, aud: 'https://other.example.com/api' }),
      "an end user's": source.signToken({ ...good, sub: 'auth0|u-1' }),
    };
    for (const [name, bearer] of Object.entries(bad)) {
      const answer = await api('GET', '/users/u-1', undefined, bearer);
      assert.equal(answer.status, 401, name);
      assert.equal(answer.body.error, 'invalid_token', name);
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer error="invalid_token"', name);
    }
    assert.equal((await api('GET', '/users/u-1', undefined, source.signToken({ ...good, aud: ['x', AUDIENCE] }))).status, 200);
  });

  it('verify: the user, a wrong password, no such user, blocked (after the right password only), an ambiguous name', async () => {
    const verify = (username, password) => api('POST', '/users/verify', { username, password });
    const ok = await verify('ada@EXAMPLE.com', 'pw-1');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.user, {
      id: 'u-1', email: 'Ada@Example.com', email_verified: false, username: 'ada',
      user_metadata: {}, app_metadata: { plan: 'gold' }, blocked: false, migrated_at: null,
    });
    assert.equal((await verify('ada', 'pw-1')).status, 200, 'by username too');
    assert.deepEqual([(await verify('ada', 'nope')).status, (await verify('ada', 'nope')).body.error], [403, 'invalid_credentials']);
    assert.deepEqual((await verify('nobody@example.com', 'x')).body, { error: 'user_not_found', error_description: 'No such user' });
    assert.equal((await verify('blocked@example.com', 'pw-2')).status, 423);
    assert.equal((await verify('blocked@example.com', 'nope')).status, 403);
    assert.equal((await verify('twin@example.com', 'pw-3')).status, 500);
    assert.equal((await verify('ada', 'pw-1')).body.user.migrated_at, null);
    assert.equal((await verify('marked@example.com', 'pw-5')).body.user.migrated_at, '2026-01-01T00:00:00Z', 'still returned');
    assert.equal((await api('POST', '/users/verify', { username: 'ada' })).status, 400);
  });

  it('lookups: every user of the email (both sides lower-cased), one by id', async () => {
    const twins = await api('GET', '/users?email=TWIN%40example.com');
    assert.deepEqual(twins.body.users.map((u) => u.id), ['u-3', 'u-4']);
    assert.deepEqual((await api('GET', '/users?email=a%40example.com')).body, { users: [] });
    assert.equal((await api('GET', '/users')).status, 400);
    assert.equal((await api('GET', '/users/u-1')).body.user.id, 'u-1');
    assert.equal((await api('GET', '/users/nope')).status, 404);
    assert.equal((await api('GET', '/nowhere')).body.error, 'not_found');
  });

  it('marks once, 409 for another time, clears only the marker it was told', async () => {
    const at = '2026-02-03T04:05:06.000Z';
    const first = await api('PUT', '/users/u-1/migrated', { migrated_at: at });
    assert.deepEqual([first.status, first.body.user.migrated_at], [200, at]);
    assert.equal((await api('PUT', '/users/u-1/migrated', { migrated_at: '2026-02-03T04:05:06Z' })).status, 200, 'the same instant');
    const again = await api('PUT', '/users/u-1/migrated', { migrated_at: '2027-01-01T00:00:00Z' });
    assert.deepEqual([again.status, again.body.error, again.body.user.migrated_at], [409, 'already_migrated', at]);
    assert.equal((await api('PUT', '/users/u-1/migrated', { migrated_at: 'yesterday' })).status, 400);
    assert.equal((await api('PUT', '/users/nope/migrated', { migrated_at: at })).status, 404);
    const changed = await api('DELETE', '/users/u-1/migrated', { expected_migrated_at: '2027-01-01T00:00:00Z' });
    assert.deepEqual([changed.status, changed.body.error], [409, 'marker_changed']);
    const cleared = await api('DELETE', '/users/u-1/migrated', { expected_migrated_at: at });
    assert.deepEqual([cleared.status, cleared.body.user.migrated_at], [200, null]);
  });

  it('past its rate limit: 429 with Retry-After, before the token is looked at', async () => {
    await source.setRateLimit(1);
    try {
      const answers = await Promise.all([1, 2, 3].map(() => api('GET', '/users/u-1', undefined, 'not-a-token')));
      const limited = answers.filter((a) => a.status === 429);
      assert.ok(limited.length >= 1);
      for (const answer of limited) {
        assert.equal(answer.body.error, 'too_many_requests');
        assert.match(answer.headers.get('retry-after'), /^\d+$/);
      }
    } finally {
      await source.setRateLimit(0);
    }
  });
});
