'use strict';
// The end-state scripts (`trickle generate --decommission`), run as Auth0
// runs them: login answers "wrong email or password" and get_user "no such
// user" for anyone the new tenant does not hold, without the network or any
// setting; the users it holds are served by the tenant itself.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before } = require('node:test');

const { Container, ImportModeTenant, call } = require('../packages/testkit');
const { trickle } = require('./support/generate');

const TOML = '[connection]\nname = "old-tenant-import"\n[source]\nrealm = "Username-Password-Authentication"\n[migration]\nmark_migrated = true\n';

describe('decommission: the end-state pair', () => {
  let dir;
  let scripts;
  const fetches = [];
  const noNetwork = async (...args) => {
    fetches.push(args);
    throw new Error('the end-state scripts must not use the network');
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-decommission-'));
    fs.writeFileSync(path.join(dir, 'trickle.toml'), TOML);
    await trickle(['generate', '--config', path.join(dir, 'trickle.toml'), '--out', dir, '--decommission']);
    scripts = path.join(dir, 'database-connections', 'old-tenant-import');
  });

  function load() {
    const container = new Container();
    return {
      login: container.load(path.join(scripts, 'login.js'), {}, { fetch: noNetwork }),
      getUser: container.load(path.join(scripts, 'get_user.js'), {}, { fetch: noNetwork }),
    };
  }

  it('login: a wrong email or password for anyone, with or without a context argument', async () => {
    const { login } = load();
    for (const args of [
      ['nobody@example.com', 'whatever'],
      ['Jane.Doe@Example.com', 'Correct-Horse-Battery-1'],
      ['', ''],
      ['ctx@example.com', 'pw', { connection: 'old-tenant-import' }],
    ]) {
      const { error, calls } = await call(login.fn, ...args);
      assert.equal(calls.length, 1);
      assert.equal(error.name, 'WrongUsernameOrPasswordError', String(args[0]));
      assert.equal(error.emailOrId, args[0]); // a failed-password event for that user, as Auth0 logs one
    }
  });

  it('get_user: callback(null), never an error', async () => {
    const { getUser } = load();
    for (const args of [['nobody@example.com'], ['jane.doe@example.com'], ['ctx@example.com', { context: true }]]) {
      const { calls } = await call(getUser.fn, ...args);
      assert.deepEqual(calls, [[null]]);
    }
  });

  it('in import mode: users already migrated still log in; the rest cannot, and may sign up afresh', async () => {
    const tenant = new ImportModeTenant(load());
    tenant.create({ user_id: 'jane01', email: 'jane.doe@example.com' }, 'Correct-Horse-Battery-1', 'bulk');
    const jane = await tenant.login('Jane.Doe@Example.com', 'Correct-Horse-Battery-1');
    assert.equal(jane.migrated, false);
    await assert.rejects(tenant.login('left@example.com', 'pw'), { name: 'WrongUsernameOrPasswordError' });
    await assert.rejects(tenant.changePassword('left@example.com', 'new-pw'), { code: 'user_not_found' });
    const signUp = await tenant.signUp('left@example.com', 'new-pw');
    assert.equal(signUp.migrated, false);
  });

  it('uses no network, no settings, logs nothing, and is small', () => {
    assert.equal(fetches.length, 0);
    for (const file of ['login.js', 'get_user.js']) {
      const text = fs.readFileSync(path.join(scripts, file), 'utf8');
      assert.doesNotMatch(text, /configuration|fetch|require|console/);
      assert.ok(text.length < 1024, `${file}: ${text.length} bytes`);
    }
    const database = JSON.parse(fs.readFileSync(path.join(scripts, 'database.json'), 'utf8'));
    assert.equal(database.options.import_mode, true);
    assert.equal(database.options.configuration, undefined);
  });
});
