'use strict';
// The official Auth0 SDKs, with their default options, against `trickle sim
// --tls`: what a user's own back-office tools and scripts see when they
// rehearse against the emulator. Every SDK hard-codes `https://DOMAIN`,
// derives the Management API audience from the domain, and checks the
// id_token's issuer, so the emulator must look like a tenant reached over
// TLS: issuer, JWKS URL, discovery and audience all `https://127.0.0.1:PORT`.
//
// The SDKs use the global `fetch`, which trusts only what Node was started
// with: run directly, this file starts itself again in a Node that trusts
// the emulator's certificate authority (support/trusting-node.js).
//
// The SDKs are pinned devDependencies: `auth0` 6.x (the last major with
// both ManagementClient and AuthenticationClient; 7 dropped the latter) and
// `@auth0/auth0-auth-js`. Unlike tests/, this folder may use npm packages.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');

const { startSim } = require('../../packages/testkit');
const { runTrusting, TLS_DIR } = require('../support/trusting-node');

const REALM = 'Username-Password-Authentication';
const CONNECTION_ID = 'con_SdkRehearsal00001';
const CLIENT = {
  client_id: 'sdk-back-office',
  client_secret: 'sdk-secret-never-logged-0123456789',
  grant_types: ['password', 'client_credentials'],
  scopes: ['read:users', 'update:users', 'create:users'],
};
const JANE = {
  id: 'jane01',
  connection: REALM,
  email: 'Jane.Doe@Example.com',
  password: 'correct horse battery staple',
  name: 'Jane Doe',
  app_metadata: { plan: 'gold', keep: 1 },
};
const BOB = { id: 'bob01', connection: REALM, email: 'bob@example.com', password: 'bob-Secret-1' };
const SEED = { bcrypt_cost: 4, connections: [{ name: REALM, id: CONNECTION_ID }], clients: [CLIENT], users: [JANE, BOB] };

// The id_token's claims, read (the SDKs verify them; this checks what they verified).
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

if (!TLS_DIR) {
  it('the official SDKs pass against trickle sim --tls (in a Node that trusts its authority)', async () => {
    const run = await runTrusting(__filename);
    assert.equal(run.code, 0, run.output);
    assert.equal(run.fail, 0, run.output);
    assert.ok(run.pass >= 8, `every SDK test ran (${run.pass} passed):\n${run.output}`);
  });
} else {
  describe('official Auth0 SDKs, default options, against trickle sim --tls', () => {
    let sim;
    let domain;

    before(async () => {
      sim = await startSim({ seed: SEED, args: ['--rate-limit', '0', '--job-delay-ms', '100'], tls: { dir: TLS_DIR } });
      assert.match(sim.baseUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
      // What an SDK is given: the tenant's domain, no scheme.
      domain = sim.baseUrl.slice('https://'.length);
    });

    after(async () => {
      if (sim) await sim.close();
    });

    describe('auth0 ManagementClient', () => {
      let management;
      before(() => {
        const { ManagementClient } = require('auth0');
        // Defaults: https://DOMAIN/api/v2, audience https://DOMAIN/api/v2/, client credentials, retries.
        management = new ManagementClient({ domain, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret });
      });

      it('finds a user by email, reads it by id, and PATCHes app_metadata (merged)', async () => {
        const found = await management.users.listUsersByEmail({ email: 'jane.doe@example.com' });
        assert.equal(found.length, 1);
        assert.equal(found[0].user_id, 'auth0|jane01');
        assert.equal(found[0].identities[0].connection, REALM);
        const user = await management.users.get('auth0|jane01');
        assert.equal(user.email, 'jane.doe@example.com');
        assert.deepEqual(user.app_metadata, { plan: 'gold', keep: 1 });
        const updated = await management.users.update('auth0|jane01', { app_metadata: { plan: 'platinum', keep: null } });
        assert.deepEqual(updated.app_metadata, { plan: 'platinum' });
        const stored = (await sim.users()).find((u) => u.user_id === 'auth0|jane01');
        assert.deepEqual(stored.app_metadata, { plan: 'platinum' });
      });

      it('creates an import job, follows it to the end and reads its errors', async () => {
        const users = [
          { email: 'imported@example.com', user_id: 'imported01', name: 'Imported' },
          { user_id: 'no-email-01' },
        ];
        const job = await management.jobs.usersImports.create({
          users: { data: Buffer.from(JSON.stringify(users)), filename: 'users.json', contentType: 'application/json' },
          connection_id: CONNECTION_ID,
        });
        assert.equal(job.type, 'users_import');
        assert.equal(job.connection_id, CONNECTION_ID);
        let status = job;
        for (let i = 0; i < 100 && status.status !== 'completed'; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          status = await management.jobs.get(job.id);
        }
        assert.equal(status.status, 'completed', JSON.stringify(status));
        assert.deepEqual(status.summary, { failed: 1, updated: 0, inserted: 1, total: 2 });
        const errors = await management.jobs.errors.get(job.id);
        assert.equal(errors.length, 1, JSON.stringify(errors));
        assert.equal(errors[0].user.user_id, 'no-email-01');
        assert.equal(errors[0].errors[0].code, 'OBJECT_REQUIRED');
        const imported = await management.users.listUsersByEmail({ email: 'imported@example.com' });
        assert.equal(imported[0].user_id, 'auth0|imported01');
      });

      it('retries its own 429s (x-ratelimit-reset) and gets every answer', async () => {
        await management.users.get('auth0|bob01'); // the token is fetched once, outside the limit
        await sim.setRateLimit(1);
        try {
          await sim.resetStats();
          const answers = await Promise.all([1, 2, 3].map(() => management.users.listUsersByEmail({ email: 'bob@example.com' })));
          for (const answer of answers) assert.equal(answer[0].user_id, 'auth0|bob01');
          const stats = await sim.stats();
          assert.ok(stats.requests.users_by_email > 3, `some requests were refused and retried: ${JSON.stringify(stats)}`);
        } finally {
          await sim.setRateLimit(0);
        }
      });
    });

    describe('auth0 AuthenticationClient', () => {
      let authentication;
      before(() => {
        const { AuthenticationClient } = require('auth0');
        authentication = new AuthenticationClient({ domain, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret });
      });

      it('password grant (openid): the SDK validates the id_token, issuer https://DOMAIN/', async () => {
        const { data } = await authentication.oauth.passwordGrant({ username: JANE.email, password: JANE.password, realm: REALM });
        assert.ok(data.access_token);
        const claims = claimsOf(data.id_token);
        assert.equal(claims.iss, `https://${domain}/`);
        assert.equal(claims.aud, CLIENT.client_id);
        assert.equal(claims.sub, 'auth0|jane01');
      });

      it('a wrong password is the invalid_grant the SDK reports', async () => {
        await assert.rejects(
          authentication.oauth.passwordGrant({ username: JANE.email, password: 'wrong', realm: REALM }),
          (error) => error.error === 'invalid_grant' && error.statusCode === 403,
        );
      });

      it('client credentials with the standard audience https://DOMAIN/api/v2/', async () => {
        const { data } = await authentication.oauth.clientCredentialsGrant({ audience: `https://${domain}/api/v2/` });
        assert.equal(claimsOf(data.access_token).aud, `https://${domain}/api/v2/`);
        const answer = await fetch(`https://${domain}/api/v2/users/${encodeURIComponent('auth0|bob01')}`, {
          headers: { authorization: `Bearer ${data.access_token}` },
        });
        assert.equal(answer.status, 200);
      });
    });

    describe('@auth0/auth0-auth-js AuthClient', () => {
      let client;
      before(async () => {
        const { AuthClient } = await import('@auth0/auth0-auth-js');
        client = new AuthClient({ domain, clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret });
      });

      it('discovers the tenant: issuer https://DOMAIN/, only served endpoints', async () => {
        const metadata = await client.getServerMetadata();
        assert.equal(metadata.issuer, `https://${domain}/`);
        assert.equal(metadata.token_endpoint, `https://${domain}/oauth/token`);
        assert.equal(metadata.jwks_uri, `https://${domain}/.well-known/jwks.json`);
        assert.equal(metadata.authorization_endpoint, undefined, 'no /authorize is served');
      });

      it('password grant: tokens and the id_token claims', async () => {
        const tokens = await client.getTokenByPassword({ username: JANE.email, password: JANE.password, realm: REALM });
        assert.ok(tokens.accessToken);
        assert.equal(claimsOf(tokens.idToken).iss, `https://${domain}/`);
        assert.equal(claimsOf(tokens.idToken).sub, 'auth0|jane01');
      });

      it('client credentials with the standard audience', async () => {
        const tokens = await client.getTokenByClientCredentials({ audience: `https://${domain}/api/v2/` });
        assert.equal(claimsOf(tokens.accessToken).aud, `https://${domain}/api/v2/`);
      });
    });

    it('no secret or password reached the emulator log', () => {
      assert.match(sim.logs(), /POST \/oauth\/token -> 200/, 'requests are logged');
      for (const secret of [CLIENT.client_secret, JANE.password, BOB.password]) {
        assert.ok(!sim.logs().includes(secret));
      }
    });
  });
}
