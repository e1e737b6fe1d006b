'use strict';
// The audience guard of an API source: the generated credentials-exchange
// Action, run as Auth0 runs the Machine to Machine flow (testkit), alone
// and in front of a token endpoint. Only the migration client may get a
// token for the user store's API; every other application is denied, and a
// guard missing its client_id secret denies everyone (closed, never open).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const {
  Container,
  ImportModeTenant,
  call,
  loadAction,
  credentialsExchangeEvent,
  runCredentialsExchange,
  exchangeClientCredentials,
} = require('../packages/testkit');
const { generateScripts } = require('./support/generate');
const { startLegacyStandIn } = require('./support/legacy-api');

const CONNECTION = 'legacy-import';
const AUDIENCE = 'https://legacy.example.com/api';
const MIGRATION = { client_id: 'legacyMigrationClient', client_secret: 'migration-secret-0123456789' };
const OTHER_APP = { client_id: 'someOtherApp', client_secret: 'other-app-secret-0123456789' };
const ADA = { id: 'u-1', email: 'ada@example.com', password: 'pw-ada-Secret!' };
const TOML = ['[connection]', `name = "${CONNECTION}"`, '[source]', 'kind = "api"', 'url = "https://legacy.example.com/auth0-migration"',
  `audience = "${AUDIENCE}"`, '[migration]', 'mark_migrated = true', ''].join('\n');
const SECRETS = { client_id: MIGRATION.client_id };

describe('the audience guard (credentials-exchange Action)', () => {
  let tmp;
  let scripts;
  let guard;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-guard-'));
    scripts = await generateScripts(tmp, 'guard', TOML, CONNECTION);
    guard = loadAction(scripts.action);
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const run = (client, audience, secrets = SECRETS) =>
    runCredentialsExchange(guard, credentialsExchangeEvent({ client, audience, secrets, scope: ['read:users'] }));

  it('is generated as a credentials-exchange Action and nothing else', () => {
    assert.equal(typeof guard.onExecuteCredentialsExchange, 'function');
    assert.equal(guard.onExecutePostLogin, undefined);
  });

  it('lets the migration client have a token for the API', async () => {
    const { recorded, error } = await run(MIGRATION.client_id, AUDIENCE);
    assert.equal(error, undefined);
    assert.equal(recorded.denied, null);
    assert.deepEqual(recorded.calls, []);
  });

  it('denies any other client a token for the API', async () => {
    for (const client of [OTHER_APP.client_id, MIGRATION.client_id.toUpperCase(), '', 'legacyMigrationClient ']) {
      const { recorded, error } = await run(client, AUDIENCE);
      assert.equal(error, undefined);
      assert.equal(recorded.denied && recorded.denied.code, 'invalid_request', `client ${JSON.stringify(client)}`);
      assert.match(recorded.denied.reason, /Only the migration client/);
    }
  });

  it('leaves tokens for other APIs alone', async () => {
    for (const audience of ['https://new-tenant.example.com/api/v2/', 'https://legacy.example.com/api/', undefined]) {
      const { recorded } = await run(OTHER_APP.client_id, audience);
      assert.equal(recorded.denied, null, String(audience));
    }
  });

  it('guards the audience the scripts\' api_audience names too', async () => {
    const secrets = { ...SECRETS, api_audience: 'https://legacy-staging.example.com/api' };
    const { recorded } = await run(OTHER_APP.client_id, 'https://legacy-staging.example.com/api', secrets);
    assert.equal(recorded.denied && recorded.denied.code, 'invalid_request');
    const allowed = await run(MIGRATION.client_id, 'https://legacy-staging.example.com/api', secrets);
    assert.equal(allowed.recorded.denied, null);
  });

  it('without its client_id secret it denies every client, the migration client too', async () => {
    for (const secrets of [{}, { client_id: '' }, { client_id: 42 }]) {
      const { recorded } = await run(MIGRATION.client_id, AUDIENCE, secrets);
      assert.equal(recorded.denied && recorded.denied.code, 'invalid_request', JSON.stringify(secrets));
      assert.match(recorded.denied.reason, /no client_id secret/);
    }
  });

  it('the token endpoint answers the denial as an OAuth error, and issues the migration client\'s token', async () => {
    const denied = await exchangeClientCredentials([guard], { client: OTHER_APP.client_id, audience: AUDIENCE, secrets: SECRETS });
    assert.equal(denied.status, 400);
    assert.equal(denied.body.error, 'invalid_request');
    const issued = await exchangeClientCredentials([guard], { client: MIGRATION.client_id, audience: AUDIENCE, secrets: SECRETS });
    assert.equal(issued.status, 200);
    assert.equal(typeof issued.body.access_token, 'string');
  });

  it('the testkit refuses a deny code Auth0 does not take', async () => {
    const bad = { onExecuteCredentialsExchange: async (event, api) => api.access.deny('access_denied', 'no') };
    const { error } = await runCredentialsExchange(bad, credentialsExchangeEvent({ client: 'c', audience: AUDIENCE }));
    assert.match(error.message, /code must be one of invalid_scope, invalid_request, server_error/);
  });

  describe('in front of the new tenant\'s token endpoint', () => {
    let source;
    let blindSource;

    before(async () => {
      const clients = [
        { ...MIGRATION, granted: true, actionSecrets: SECRETS },
        // Granted the API too (a mistake the guard is there for).
        { ...OTHER_APP, granted: true, actionSecrets: SECRETS },
      ];
      source = await startLegacyStandIn({ users: [ADA], audience: AUDIENCE, clients, credentialsExchange: [guard] });
      // The same, with the guard's secret never set in the dashboard.
      const unset = clients.map((client) => ({ ...client, actionSecrets: {} }));
      blindSource = await startLegacyStandIn({ users: [ADA], audience: AUDIENCE, clients: unset, credentialsExchange: [guard] });
    });

    after(async () => {
      await source.close();
      await blindSource.close();
    });

    const settings = (s, client) => ({ domain: s.domain, api_url: s.apiUrl, client_id: client.client_id, client_secret: client.client_secret });

    it('the migration client migrates users; another application\'s scripts get no token and reach nothing', async () => {
      const tenant = new ImportModeTenant({
        login: new Container().load(scripts.login, settings(source, MIGRATION)),
        getUser: new Container().load(scripts.getUser, settings(source, MIGRATION)),
      });
      const { user } = await tenant.login(ADA.email, ADA.password);
      assert.equal(user.user_id, 'auth0|u-1');

      const before = await source.stats();
      const other = new Container().load(scripts.getUser, settings(source, OTHER_APP));
      const lookup = await call(other.fn, ADA.email);
      assert.equal(lookup.error.name, 'Error');
      assert.match(lookup.error.message, /no token for the user store/);
      assert.deepEqual(await source.tokens(), { issued: 1, denied: 1 });
      assert.equal((await source.stats()).total, before.total, 'the API saw no request');
    });

    it('a guard without its secret stops the migration (closed), and says where to look', async () => {
      const lookup = await call(new Container().load(scripts.getUser, settings(blindSource, MIGRATION)).fn, ADA.email);
      assert.equal(lookup.error.name, 'Error');
      assert.match(lookup.error.message, /and is the guard's\)/);
      assert.deepEqual(await blindSource.tokens(), { issued: 0, denied: 1 });
    });
  });
});
