'use strict';
// Generates scripts with the real CLI for a test: $TRICKLE_BIN when set (the
// test command sets it), otherwise through cargo.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

/** Runs `trickle ARGS…`; resolves its output. */
function trickle(args) {
  if (process.env.TRICKLE_BIN) return run(process.env.TRICKLE_BIN, args);
  return run('cargo', ['run', '-q', '-p', 'trickle-cli', '--', ...args]);
}

/**
 * Writes `toml` to DIR/NAME.toml, generates into DIR/NAME/ (more `generate`
 * flags in `extraArgs`), and resolves the paths of the two scripts of
 * connection `connection`, the output folder, and the post-login Action's
 * code when one was generated.
 */
async function generateScripts(dir, name, toml, connection, extraArgs = []) {
  const config = path.join(dir, `${name}.toml`);
  fs.writeFileSync(config, toml);
  const out = path.join(dir, name);
  const report = await trickle(['generate', '--config', config, '--out', out, ...extraArgs]);
  const scripts = path.join(out, 'database-connections', connection);
  const actions = path.join(out, 'actions');
  const actionDirs = fs.existsSync(actions) ? fs.readdirSync(actions).filter((f) => !f.endsWith('.json')) : [];
  return {
    out,
    report,
    login: path.join(scripts, 'login.js'),
    getUser: path.join(scripts, 'get_user.js'),
    action: actionDirs.length === 1 ? path.join(actions, actionDirs[0], 'code.js') : undefined,
  };
}

module.exports = { REPO_ROOT, trickle, generateScripts };
