'use strict';
// The scripts never follow a redirect: a 3xx from the old tenant's host
// would otherwise carry the password, the client secret or a Management API
// token to another host (over plain http, even), or take the migrated
// profile from it. Every 3xx, on every request the scripts make, must end
// in a plain Error that names the setting to check, with nothing sent to
// the redirect's target.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const { Container, call } = require('../packages/testkit');
const { startOldTenant, PASSWORD_REALM_GRANT } = require('./support/old-tenant');
const { generateScripts } = require('./support/generate');

const CONNECTION = 'old-tenant-import';
const REALM = 'Username-Password-Authentication';
const CLIENT = { client_id: 'redirectTestClient', client_secret: 'redirect-test-secret-never-sent-elsewhere' };
const JANE = { id: 'jane01', email: 'jane@example.com', password: 'Correct-Horse-Battery-1' };

const TOML = [
  '[connection]', `name = "${CONNECTION}"`, '[source]', `realm = "${REALM}"`,
  '[migration]', 'mark_migrated = true', '[http]', 'timeout_ms = 2000', '',
].join('\n');

// Each request the scripts send, told apart the way the stand-in sees it.
const REQUESTS = {
  'the password-realm grant': (r) => r.method === 'POST' && r.path === '/oauth/token' && r.body && r.body.grant_type === PASSWORD_REALM_GRANT,
  'the client-credentials grant': (r) => r.method === 'POST' && r.path === '/oauth/token' && r.body && r.body.grant_type === 'client_credentials',
  'users-by-email': (r) => r.method === 'GET' && r.path === '/api/v2/users-by-email',
  'the user by id': (r) => r.method === 'GET' && r.path.startsWith('/api/v2/users/'),
  'the marker PATCH': (r) => r.method === 'PATCH' && r.path.startsWith('/api/v2/users/'),
};
// Which script sends each request (login sends all but users-by-email).
const SCRIPT_FOR = {
  'the password-realm grant': 'login',
  'the client-credentials grant': 'login',
  'users-by-email': 'getUser',
  'the user by id': 'login',
  'the marker PATCH': 'login',
};
const STATUSES = [301, 302, 303, 307, 308];

describe('a redirect from the old tenant is never followed', () => {
  let tmp;
  let scripts;
  let tenant;
  let elsewhere;
  const reachedElsewhere = [];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-redirects-'));
    scripts = await generateScripts(tmp, 'redirects', TOML, CONNECTION);
    tenant = await startOldTenant({ users: [JANE], clients: [CLIENT] });
    // Where the redirects point: it answers like a tenant would, so a
    // script that followed would get a plausible answer.
    elsewhere = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        reachedElsewhere.push({ method: req.method, url: req.url, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'x', id_token: 'a.eyJzdWIiOiJhdXRoMHxldmlsIn0.c', expires_in: 86400, user_id: 'auth0|evil', email: JANE.email }));
      });
    });
    await new Promise((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    tenant.setInterceptor(null);
    await tenant.close();
    await new Promise((resolve) => elsewhere.close(resolve));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const [request, matches] of Object.entries(REQUESTS)) {
    for (const status of STATUSES) {
      it(`${status} on ${request}`, async () => {
        reachedElsewhere.length = 0;
        const location = `http://127.0.0.1:${elsewhere.address().port}/steal`;
        tenant.setInterceptor((r) => (matches(r) ? { redirect: status, location } : undefined));
        try {
          // A fresh container: no cached token skips a request.
          const container = new Container();
          const configuration = { domain: tenant.baseUrl, ...CLIENT };
          const script = container.load(scripts[SCRIPT_FOR[request]], configuration);
          const args = SCRIPT_FOR[request] === 'login' ? [JANE.email, JANE.password] : [JANE.email];
          const { error, calls } = await call(script.fn, ...args);
          assert.equal(calls.length, 1);
          assert.ok(error, `an error is expected, got ${JSON.stringify(calls)}`);
          assert.equal(error.name, 'Error', `never a wrong password nor "no such user": ${error.name}: ${error.message}`);
          assert.match(error.message, /redirect/);
          assert.match(error.message, /configuration\.domain/);
          assert.deepEqual(reachedElsewhere, [], 'nothing was sent to the redirect target');
          assert.ok(!error.message.includes(CLIENT.client_secret) && !error.message.includes(JANE.password));
        } finally {
          tenant.setInterceptor(null);
        }
      });
    }
  }
});
