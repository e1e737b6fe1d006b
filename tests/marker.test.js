'use strict';
// The migration marker must never strand a user. Marked users count as
// absent (so a user deleted in the new tenant stays deleted), so a marker
// written by a login that then failed would lock the user out for good.
// Each way the PATCH's answer can go missing, against the stand-in, which
// can carry a request out and then lose its answer.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after, afterEach } = require('node:test');

const { Container, ImportModeTenant } = require('../packages/testkit');
const { startOldTenant } = require('./support/old-tenant');
const { generateScripts } = require('./support/generate');

const CONNECTION = 'old-tenant-import';
const REALM = 'Username-Password-Authentication';
const CLIENT = { client_id: 'markerTestClient', client_secret: 'marker-test-secret-0123456789' };
const MARKER = 'trickle_migrated_at';

const TOML = [
  '[connection]', `name = "${CONNECTION}"`, '[source]', `realm = "${REALM}"`,
  '[migration]', 'mark_migrated = true', 'skip_marked = true', '[http]', 'timeout_ms = 1500', '',
].join('\n');

const isPatch = (r) => r.method === 'PATCH' && r.path.startsWith('/api/v2/users/');
const isUserRead = (r) => r.method === 'GET' && r.path.startsWith('/api/v2/users/');

// name → [what happens to each PATCH (in order; the last one repeats), to
// reads of the user after the first PATCH, whether the old user ends up
// marked, how many PATCHes are sent (a second only when the read-back did
// not find the marker)]. In every case the first login migrates the user:
// only a refusal may fail it.
const CASES = {
  'the PATCH is carried out and its answer lost': [['lose-answer'], undefined, true, 1],
  'the PATCH is dropped once, then written': [['drop', undefined], undefined, true, 2],
  'every PATCH is dropped': [['drop'], undefined, false, 2],
  'the PATCH is carried out, its answer lost, and the read-back fails too': [['lose-answer'], 'drop', true, 2],
  'every PATCH is dropped and the read-back fails too': [['drop'], 'drop', false, 2],
  // A 408 or 499 (a proxy timed out, the client went away) says nothing of the write.
  'the PATCH is carried out and answered 408': [[{ status: 408, carryOut: true }], undefined, true, 1],
  'the PATCH is answered 408 without being carried out': [[{ status: 408 }, undefined], undefined, true, 2],
  'the PATCH is carried out and answered 499': [[{ status: 499, carryOut: true }], undefined, true, 1],
  // A 429 is retried as long as the time budget allows, not three times only.
  'the PATCH is rate-limited four times, then written': [[{ status: 429 }, { status: 429 }, { status: 429 }, { status: 429 }, undefined], undefined, true, 5],
};

describe('a lost answer to the marker PATCH never strands the user', () => {
  let tmp;
  let scripts;
  let stand;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-marker-'));
    scripts = await generateScripts(tmp, 'marker', TOML, CONNECTION);
  });

  after(async () => {
    if (stand) await stand.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  let n = 0;
  for (const [name, [patchFates, readFate, endsMarked, patchesSent]] of Object.entries(CASES)) {
    it(name, async () => {
      n += 1;
      const user = { id: `user${n}`, email: `user${n}@example.com`, password: `Password-${n}-right` };
      if (stand) await stand.close();
      stand = await startOldTenant({ users: [user], clients: [CLIENT] });
      let patches = 0;
      stand.setInterceptor((r) => {
        if (isPatch(r)) {
          patches += 1;
          return patchFates[Math.min(patches, patchFates.length) - 1];
        }
        return patches > 0 && isUserRead(r) ? readFate : undefined;
      });
      const container = new Container();
      const configuration = { domain: stand.baseUrl, ...CLIENT };
      const tenant = new ImportModeTenant({
        login: container.load(scripts.login, configuration),
        getUser: container.load(scripts.getUser, configuration),
      });

      let first;
      try {
        first = await tenant.login(user.email, user.password);
      } catch (error) {
        first = { error };
      }
      stand.setInterceptor(null);
      const marker = stand.users.get(user.id).user.app_metadata[MARKER];
      assert.equal(first.error, undefined, `migrated at once, got ${first.error && first.error.message}`);
      assert.equal(first.migrated, true);
      assert.equal(first.user.user_id, `auth0|${user.id}`);
      assert.equal(Boolean(marker), endsMarked, `marker: ${marker}`);
      assert.equal(patches, patchesSent, 'written once more only when not confirmed');

      // The user now logs in locally.
      const again = await tenant.login(user.email, user.password);
      assert.equal(again.migrated, false);
      assert.equal(tenant.users.size, 1);
    });
  }
});

describe('a refused marker write fails the login, worded by its cause', () => {
  let tmp;
  let scripts;
  let stand;
  const user = { id: 'refused1', email: 'refused1@example.com', password: 'Password-refused-right' };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-marker-refused-'));
    scripts = await generateScripts(tmp, 'marker', TOML, CONNECTION);
  });

  afterEach(async () => {
    if (stand) await stand.close();
    stand = null;
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function loginWithPatch(fate) {
    stand = await startOldTenant({ users: [user], clients: [CLIENT] });
    stand.setInterceptor((r) => (isPatch(r) ? fate : undefined));
    const configuration = { domain: stand.baseUrl, ...CLIENT };
    const container = new Container();
    const tenant = new ImportModeTenant({
      login: container.load(scripts.login, configuration),
      getUser: container.load(scripts.getUser, configuration),
    });
    await assert.rejects(tenant.login(user.email, user.password), (error) => {
      assert.equal(error.name, 'Error');
      fate.check(error.message);
      return true;
    });
    assert.equal(tenant.users.size, 0, 'not migrated: nothing was written');
    assert.equal(stand.users.get(user.id).user.app_metadata[MARKER], undefined);
  }

  it('403: the client lacks update:users', () =>
    loginWithPatch({
      status: 403,
      check: (message) => assert.match(message, /update:users.*\(forbidden\)/),
    }));

  it('429 past the time budget: rate-limited, not a missing scope', () =>
    loginWithPatch({
      status: 429,
      headers: { 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600) },
      check: (message) => {
        assert.match(message, /\(rate_limited\)$/);
        assert.doesNotMatch(message, /update:users/);
      },
    }));
});
