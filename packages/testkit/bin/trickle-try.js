#!/usr/bin/env node
'use strict';
// trickle-try: run generated scripts locally, the way Auth0 runs them.
//
//   trickle-try rehearse --scripts DIR --seed FILE [--trickle BIN]
//       starts the emulated old tenant with FILE's users, then migrates every
//       user of it through the scripts in DIR (login, a second login that must
//       stay local, get_user), and prints what happened to each.
//   trickle-try login    --scripts DIR --domain URL --client-id ID EMAIL PASSWORD
//   trickle-try get-user --scripts DIR --domain URL --client-id ID EMAIL
//       one call against a running old tenant (e.g. `trickle sim`); the
//       client secret comes from $TRICKLE_OLD_CLIENT_SECRET, never a flag.

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { Container, ImportModeTenant, call, startSim } = require('..');

const USAGE = `usage:
  trickle-try rehearse --scripts DIR --seed FILE [--trickle BIN]
  trickle-try login    --scripts DIR --domain URL --client-id ID EMAIL PASSWORD
  trickle-try get-user --scripts DIR --domain URL --client-id ID EMAIL
DIR is a generated database-connections/<name>/ folder. For login and
get-user the old tenant's client secret is read from TRICKLE_OLD_CLIENT_SECRET.
rehearse runs \`trickle sim\`: --trickle BIN, else $TRICKLE_BIN, else trickle on PATH.`;

function fail(message) {
  process.stderr.write(`trickle-try: ${message}\n`);
  process.exit(2);
}

function scriptsIn(dir) {
  const files = { login: path.join(dir, 'login.js'), getUser: path.join(dir, 'get_user.js') };
  for (const file of Object.values(files)) if (!fs.existsSync(file)) fail(`${file} does not exist (generate the scripts first)`);
  return files;
}

// One name per secret: $TRICKLE_OLD_CLIENT_SECRET; the name used before
// is still read, saying so.
function oldTenantSecret() {
  if (process.env.TRICKLE_OLD_CLIENT_SECRET) return process.env.TRICKLE_OLD_CLIENT_SECRET;
  if (process.env.TRICKLE_CLIENT_SECRET) {
    process.stderr.write("trickle-try: $TRICKLE_CLIENT_SECRET is deprecated: set $TRICKLE_OLD_CLIENT_SECRET (the old tenant's client secret); read it this time\n");
    return process.env.TRICKLE_CLIENT_SECRET;
  }
  return fail("$TRICKLE_OLD_CLIENT_SECRET is not set: set it to the old tenant's client secret (the client of --client-id); a secret comes from the environment, never from an argument");
}

const plain = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
const describeError = (error) => `${error.name}: ${error.message}`;

async function single(command, values, positionals) {
  const scripts = scriptsIn(values.scripts || fail('--scripts is required'));
  const secret = oldTenantSecret();
  const configuration = { domain: values.domain || fail('--domain is required'), client_id: values['client-id'] || fail('--client-id is required'), client_secret: secret };
  const container = new Container();
  const script = command === 'login' ? container.load(scripts.login, configuration) : container.load(scripts.getUser, configuration);
  const wanted = command === 'login' ? 2 : 1;
  if (positionals.length !== wanted) fail(USAGE);
  const { error, profile } = await call(script.fn, ...positionals);
  for (const line of script.logs) process.stderr.write(`script: ${line}\n`);
  if (error) {
    process.stdout.write(`${describeError(error)}\n`);
    return 1;
  }
  process.stdout.write(profile ? `${JSON.stringify(plain(profile), null, 2)}\n` : 'no such user (callback(null))\n');
  return 0;
}

async function rehearse(values) {
  const scripts = scriptsIn(values.scripts || fail('--scripts is required'));
  const seedPath = values.seed || fail('--seed is required');
  const seed = JSON.parse(fs.readFileSync(seedPath, 'utf8'));
  const client = (seed.clients || []).find((c) => (c.grant_types || []).includes('client_credentials'));
  if (!client) fail('the seed needs a client with the client_credentials (and password) grants');
  const sim = await startSim({ seed: seedPath, bin: values.trickle, args: ['--rate-limit', '0'] });
  let problems = 0;
  try {
    const container = new Container();
    const configuration = { domain: sim.baseUrl, client_id: client.client_id, client_secret: client.client_secret };
    const tenant = new ImportModeTenant({ login: container.load(scripts.login, configuration), getUser: container.load(scripts.getUser, configuration) });
    process.stdout.write(`old tenant emulated at ${sim.baseUrl}\n\n`);
    for (const user of seed.users || []) {
      const lines = [`${user.email} (${user.connection})`];
      const lookup = await call(tenant.scripts.getUser.fn, user.email);
      lines.push(`  get_user:     ${lookup.error ? describeError(lookup.error) : lookup.profile ? `found, user_id ${lookup.profile.user_id}` : 'no such user'}`);
      if (user.password === undefined) {
        lines.push('  login:        (no password in the seed)');
      } else {
        try {
          const { user: created } = await tenant.login(user.email, user.password);
          const before = (await sim.stats()).total;
          await tenant.login(user.email, user.password);
          const local = (await sim.stats()).total === before;
          const same = lookup.profile && JSON.stringify(plain(lookup.profile)) === JSON.stringify(created.profile);
          lines.push(`  login:        migrated as ${created.user_id}`);
          lines.push(`  second login: ${local ? 'local, the old tenant was not asked' : 'ASKED THE OLD TENANT AGAIN'}`);
          lines.push(`  profiles:     ${same ? 'login and get_user agree' : 'LOGIN AND GET_USER DIFFER'}`);
          if (!local || !same) problems += 1;
        } catch (error) {
          lines.push(`  login:        ${describeError(error)}`);
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    process.stdout.write(`\n${tenant.users.size} of ${(seed.users || []).length} users migrated; ${problems} problem(s)\n`);
  } finally {
    await sim.close();
  }
  return problems === 0 ? 0 : 1;
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      scripts: { type: 'string' },
      seed: { type: 'string' },
      trickle: { type: 'string' },
      domain: { type: 'string' },
      'client-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (command === 'rehearse') return rehearse(values);
  if (command === 'login' || command === 'get-user') return single(command, values, rest);
  fail(`unknown command ${command}\n${USAGE}`);
}

main().then((code) => process.exit(code), (error) => fail(error.message));
