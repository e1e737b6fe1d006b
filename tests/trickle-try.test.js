'use strict';
// trickle-try login / get-user read the old tenant's client secret from
// $TRICKLE_OLD_CLIENT_SECRET (one name per secret, as the CLI); the name
// used before, $TRICKLE_CLIENT_SECRET, is still read with a line saying
// so; none set: exit 2 naming the variable. Against `trickle sim`.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startSim } = require('../packages/testkit');
const { generateScripts } = require('./support/generate');

const TRY = path.join(__dirname, '..', 'packages', 'testkit', 'bin', 'trickle-try.js');
const SECRET = 'trickle-try-test-secret-0d5e';
const SEED = {
  bcrypt_cost: 4,
  connections: [{ name: 'Username-Password-Authentication' }],
  clients: [{ client_id: 'scripts', client_secret: SECRET, grant_types: ['password', 'client_credentials'], scopes: ['read:users'] }],
  users: [{ id: 'ada', connection: 'Username-Password-Authentication', email: 'ada@example.com', password: 'Ada-Pass-1' }],
};
const CONFIG = '[connection]\nname = "old-tenant-import"\n[source]\nrealm = "Username-Password-Authentication"\n';

/** Runs trickle-try with only `env`'s secrets; resolves { code, stdout, stderr }. */
function tryCommand(args, env) {
  const base = { ...process.env };
  for (const name of ['TRICKLE_CLIENT_SECRET', 'TRICKLE_OLD_CLIENT_SECRET', 'TRICKLE_NEW_CLIENT_SECRET']) delete base[name];
  return new Promise((resolve) => {
    execFile(process.execPath, [TRY, ...args], { env: { ...base, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

test('trickle-try reads the old tenant\'s secret from TRICKLE_OLD_CLIENT_SECRET', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-try-'));
  const { login } = await generateScripts(dir, 'out', CONFIG, 'old-tenant-import');
  const sim = await startSim({ seed: SEED });
  try {
    const common = ['--scripts', path.dirname(login), '--domain', sim.baseUrl, '--client-id', 'scripts'];
    const getUser = ['get-user', ...common, 'ada@example.com'];

    const none = await tryCommand(getUser, {});
    assert.equal(none.code, 2);
    assert.match(none.stderr, /\$TRICKLE_OLD_CLIENT_SECRET is not set/);

    const named = await tryCommand(getUser, { TRICKLE_OLD_CLIENT_SECRET: SECRET });
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /"user_id": "ada"/);
    assert.doesNotMatch(named.stderr, /TRICKLE_CLIENT_SECRET/);

    const old = await tryCommand(['login', ...common, 'ada@example.com', 'Ada-Pass-1'], { TRICKLE_CLIENT_SECRET: SECRET });
    assert.equal(old.code, 0, old.stderr);
    assert.match(old.stdout, /"user_id": "ada"/);
    const notices = old.stderr.split('\n').filter((line) => line.includes('$TRICKLE_CLIENT_SECRET'));
    assert.equal(notices.length, 1, old.stderr);
    assert.match(notices[0], /deprecated.*\$TRICKLE_OLD_CLIENT_SECRET/);

    for (const run of [none, named, old]) assert.ok(!(run.stdout + run.stderr).includes(SECRET), 'no secret shown');
  } finally {
    await sim.close();
    fs.rmSync(dir, { recursive: true });
  }
});
