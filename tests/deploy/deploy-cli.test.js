'use strict';
// The generated layouts deployed with the real deploy-cli (the pinned
// devDependency, run as its own CLI: its directory and YAML loaders, its
// keyword replacement, its create/update/merge logic) against a fake
// Management API on loopback that answers as the documented endpoints do.
// Run once by scripts/test.sh, on a Node that deploy-cli supports (its
// engines: >= 20.19), since each deploy takes seconds.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');

const { FakeManagementApi, CA_FILE } = require('../support/management-api');
const { REPO_ROOT, generateScripts } = require('../support/generate');

const CONNECTION = 'old-tenant-import';
const ACTION = 'old-tenant-import-migration';
const APP = { client_id: 'cid_TestApp000000000001', name: 'Test App' };
const DEPLOY_CLI = path.join(REPO_ROOT, 'node_modules', 'auth0-deploy-cli', 'lib', 'index.js');
// Every character that breaks raw text replacement or a String.replace
// pattern, and non-ASCII.
const NASTY = {
  TRICKLE_OLD_TENANT_DOMAIN: 'https://old-tenant.eu.auth0.com',
  TRICKLE_OLD_TENANT_CUSTOM_DOMAIN: 'https://login.example.com',
  TRICKLE_OLD_TENANT_CLIENT_ID: 'AbC123$1xyz',
  TRICKLE_OLD_TENANT_CLIENT_SECRET: 'se"cr\\et $& $1 $$ $\' $` ü 日本 🎉 \n end',
};
const DASHBOARD = { domain: 'https://from-the-dashboard.auth0.com', client_id: 'dashboard-id', client_secret: 'dashboard "secret" \\' };

// A migration from the team's own database: the API source and its guard.
const LEGACY = 'legacy-import';
const GUARD = 'legacy-import-api-guard';
const LEGACY_MAPPINGS = {
  TRICKLE_NEW_TENANT_DOMAIN: 'https://new-tenant.eu.auth0.com',
  TRICKLE_MIGRATION_CLIENT_ID: 'MigrationClient$1',
  TRICKLE_MIGRATION_CLIENT_SECRET: 'se"cr\\et $& $1 ü 🎉',
};
const legacyConfig = (settings) =>
  `[connection]\nname = "${LEGACY}"\nsettings = "${settings}"\nenabled_clients = ["${APP.name}"]\n` +
  '[source]\nkind = "api"\nurl = "https://legacy.example.com/auth0-migration"\naudience = "https://legacy.example.com/api"\n' +
  '[migration]\nmark_migrated = true\n';

const config = (settings, customDomain = false) =>
  `[connection]\nname = "${CONNECTION}"\nsettings = "${settings}"\nenabled_clients = ["${APP.name}"]\n` +
  `[source]\nrealm = "Username-Password-Authentication"\ncustom_domain = ${customDomain}\n[migration]\nmark_migrated = "action"\n`;

function deployCliNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 20 || (major === 20 && minor >= 19)) return process.execPath;
  throw new Error(`deploy-cli needs Node >= 20.19; this is ${process.version} (scripts/test.sh runs this file with Node 22)`);
}

/** Runs `a0deploy import` on `input`; resolves its output, rejects unless it succeeded. */
function deploy(api, input, mappings) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-deploy-cli-'));
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      AUTH0_DOMAIN: api.domain,
      AUTH0_CLIENT_ID: api.clientId,
      AUTH0_CLIENT_SECRET: api.clientSecret,
      AUTH0_INCLUDED_ONLY: ['databases', 'actions', 'triggers'],
      ...(mappings ? { AUTH0_KEYWORD_REPLACE_MAPPINGS: mappings } : {}),
    }),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(deployCliNode(), [DEPLOY_CLI, 'import', '--config_file', configFile, '--input_file', input], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: CA_FILE, AUTH0_DEBUG: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (code === 0 && /Import Successful/.test(output)) resolve(output);
      else reject(new Error(`deploy-cli exited with ${code}:\n${output}`));
    });
  });
}

const read = (...parts) => fs.readFileSync(path.join(...parts), 'utf8');
const sent = (api, method, pattern) => api.requests.filter((r) => r.method === method && pattern.test(r.path));
const connection = (api) => [...api.connections.values()].find((c) => c.name === CONNECTION);
const action = (api) => [...api.actions.values()].find((a) => a.name === ACTION);

let tmp;
let layouts;
before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-deploy-'));
  const [dashboard, deployed, yamlDeployed, yamlDashboard, legacyDeployed, legacyYaml] = await Promise.all([
    generateScripts(tmp, 'dashboard', config('dashboard'), CONNECTION),
    generateScripts(tmp, 'deployed', config('deploy', true), CONNECTION),
    generateScripts(tmp, 'yaml-deployed', config('deploy', true), CONNECTION, ['--format', 'yaml']),
    generateScripts(tmp, 'yaml-dashboard', config('dashboard'), CONNECTION, ['--format', 'yaml']),
    generateScripts(tmp, 'legacy-deployed', legacyConfig('deploy'), LEGACY),
    generateScripts(tmp, 'legacy-yaml', legacyConfig('dashboard'), LEGACY, ['--format', 'yaml']),
  ]);
  layouts = { dashboard, deployed, yamlDeployed, yamlDashboard, legacyDeployed, legacyYaml };
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function assertScriptsArrived(api, out, yaml = false) {
  const dir = yaml ? path.join(out, 'databases', CONNECTION) : path.join(out, 'database-connections', CONNECTION);
  const scripts = connection(api).options.customScripts;
  assert.equal(scripts.login, read(dir, 'login.js'), 'login.js arrives byte for byte');
  assert.equal(scripts.get_user, read(dir, 'get_user.js'), 'get_user.js arrives byte for byte');
  assert.deepEqual(Object.keys(scripts).sort(), ['get_user', 'login']);
  assert.equal(connection(api).options.import_mode, true);
  assert.equal(action(api).code, read(out, 'actions', ACTION, 'code.js'), 'the Action arrives byte for byte');
  assert.ok(action(api).deployed, 'the Action is deployed');
  assert.deepEqual(action(api).supported_triggers, [{ id: 'post-login', version: 'v3' }]);
  assert.deepEqual(
    api.bindings['post-login'].map((b) => api.actions.get(b.action_id).name),
    [ACTION],
    'bound to post-login',
  );
  assert.deepEqual([...connection(api).enabled], [APP.client_id], 'enabled for the application named in the config');
}

// Two deploys at a time: each is one CPU-bound deploy-cli (V8 parsing the
// validator ajv generates for deploy-cli's whole schema: ~15 s of CPU and
// ~1.8 GB) and the suite has two cores. Four at once doubled the memory and
// the kernel's time for it; alone this file took 102-105 s at two against
// 115-128 s at four (beside the README's blocks, 140-145 s either way).
describe('deploy-cli deploys the generated layouts', { concurrency: 2 }, () => {
  it('settings in the dashboard: created, then updated without ever touching the settings or the secrets', async () => {
    const api = await new FakeManagementApi({ clients: [APP] }).start();
    try {
      // No mappings at all: the README's "set them in the dashboard" path.
      await deploy(api, layouts.dashboard.out);
      assertScriptsArrived(api, layouts.dashboard.out);
      const [create] = sent(api, 'POST', /^\/api\/v2\/connections$/);
      assert.equal('configuration' in create.body.options, false, 'no settings are sent');
      assert.deepEqual(sent(api, 'PATCH', /\/clients$/)[0].body, [{ client_id: APP.client_id, status: true }]);
      assert.equal(sent(api, 'POST', /^\/api\/v2\/actions\/actions$/)[0].body.secrets, undefined);

      // The settings and the Action's secrets are then set in the dashboard …
      connection(api).settings = { ...DASHBOARD };
      action(api).secretValues = { ...DASHBOARD };
      // … and the next deploy (a new version of the scripts, say) leaves them be.
      await deploy(api, layouts.dashboard.out);
      const [update] = sent(api, 'PATCH', /^\/api\/v2\/connections\/con_[^/]+$/);
      assert.ok(update, 'the connection was updated');
      assert.deepEqual(connection(api).settings, DASHBOARD, 'the settings survive the update');
      assert.deepEqual(action(api).secretValues, DASHBOARD, "the Action's secrets survive the update");
      assert.equal(sent(api, 'PATCH', /^\/api\/v2\/actions\/actions\//)[0].body.secrets, undefined);
      assertScriptsArrived(api, layouts.dashboard.out);
    } finally {
      await api.close();
    }
  });

  it('settings deployed: every secret arrives exactly, JSON-encoded by deploy-cli', async () => {
    const api = await new FakeManagementApi({ clients: [APP] }).start();
    try {
      await deploy(api, layouts.deployed.out, NASTY);
      assertScriptsArrived(api, layouts.deployed.out);
      const expected = {
        domain: NASTY.TRICKLE_OLD_TENANT_DOMAIN,
        custom_domain: NASTY.TRICKLE_OLD_TENANT_CUSTOM_DOMAIN,
        client_id: NASTY.TRICKLE_OLD_TENANT_CLIENT_ID,
        client_secret: NASTY.TRICKLE_OLD_TENANT_CLIENT_SECRET,
      };
      assert.deepEqual(connection(api).settings, expected);
      assert.deepEqual(action(api).secretValues, expected);
    } finally {
      await api.close();
    }
  });

  it('the YAML format: deployed settings exact, then a dashboard-mode update keeps them', async () => {
    const api = await new FakeManagementApi({ clients: [APP] }).start();
    try {
      await deploy(api, path.join(layouts.yamlDeployed.out, 'tenant.yaml'), NASTY);
      assertScriptsArrived(api, layouts.yamlDeployed.out, true);
      assert.equal(connection(api).settings.client_secret, NASTY.TRICKLE_OLD_TENANT_CLIENT_SECRET);
      assert.equal(action(api).secretValues.client_secret, NASTY.TRICKLE_OLD_TENANT_CLIENT_SECRET);
      const settings = { ...connection(api).settings };
      await deploy(api, path.join(layouts.yamlDashboard.out, 'tenant.yaml'));
      assertScriptsArrived(api, layouts.yamlDashboard.out, true);
      assert.deepEqual(connection(api).settings, settings, 'settings kept');
      assert.equal(action(api).secretValues.client_secret, NASTY.TRICKLE_OLD_TENANT_CLIENT_SECRET);
    } finally {
      await api.close();
    }
  });

  it('an API source: its scripts and settings, and the guard Action bound to credentials-exchange, in both formats', async () => {
    for (const [layout, input, mappings] of [
      [layouts.legacyDeployed, layouts.legacyDeployed.out, LEGACY_MAPPINGS],
      [layouts.legacyYaml, path.join(layouts.legacyYaml.out, 'tenant.yaml'), undefined],
    ]) {
      const api = await new FakeManagementApi({ clients: [APP] }).start();
      try {
        await deploy(api, input, mappings);
        const yaml = input.endsWith('.yaml');
        const dir = yaml ? path.join(layout.out, 'databases', LEGACY) : path.join(layout.out, 'database-connections', LEGACY);
        const deployed = [...api.connections.values()].find((c) => c.name === LEGACY);
        assert.equal(deployed.options.customScripts.login, read(dir, 'login.js'));
        assert.equal(deployed.options.customScripts.get_user, read(dir, 'get_user.js'));
        const guard = [...api.actions.values()].find((a) => a.name === GUARD);
        assert.equal(guard.code, read(layout.out, 'actions', GUARD, 'code.js'), 'the guard arrives byte for byte');
        assert.ok(guard.deployed);
        assert.deepEqual(guard.supported_triggers, [{ id: 'credentials-exchange', version: 'v2' }]);
        assert.deepEqual(api.bindings['credentials-exchange'].map((b) => api.actions.get(b.action_id).name), [GUARD]);
        assert.deepEqual(api.bindings['post-login'], [], 'no post-login Action for an API source');
        if (mappings) {
          assert.deepEqual(deployed.settings, {
            domain: LEGACY_MAPPINGS.TRICKLE_NEW_TENANT_DOMAIN,
            client_id: LEGACY_MAPPINGS.TRICKLE_MIGRATION_CLIENT_ID,
            client_secret: LEGACY_MAPPINGS.TRICKLE_MIGRATION_CLIENT_SECRET,
            api_url: 'https://legacy.example.com/auth0-migration',
            api_audience: 'https://legacy.example.com/api',
          });
          assert.deepEqual(guard.secretValues, { client_id: LEGACY_MAPPINGS.TRICKLE_MIGRATION_CLIENT_ID, api_audience: 'https://legacy.example.com/api' });
        } else {
          assert.equal(deployed.settings, undefined, 'dashboard mode: no settings sent');
        }
      } finally {
        await api.close();
      }
    }
  });
});
