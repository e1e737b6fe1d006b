#!/usr/bin/env node
'use strict';
// The README's code blocks are tests. A fenced block is checked when its
// info string carries a mark after the language (GitHub shows only the
// language):
//
//   ```sh run       run: every such block, in README order, in ONE bash
//                   (variables, exports and background jobs carry over) in a
//                   scratch folder, with `set -Eeo pipefail`
//   ```sh syntax    needs the real Auth0 or real servers: `bash -n` only
//   ```toml config  a Trickle config: `trickle generate --config` accepts it
//   ```json check   JSON.parse accepts it
//   ```js same-as=PATH   byte for byte the checkout's file PATH (which the
//                   tests run)
//
// A runnable block sees only what a reader has after the Quick start:
// `trickle` (this checkout's build) and `trickle-try` on PATH, a copy of
// examples/ and the checkout's node_modules/ (what scripts/setup.sh
// installs) in the folder it runs in, its own $HOME, and no TRICKLE_*
// variable. Emulators pick free ports themselves (--port 0, the default),
// so the blocks need no substitution. A command must succeed unless its
// last line ends in a comment `# exit code N…`, which it must then exit
// with. A failing block fails the run naming its heading and README line,
// with its output. Whatever happens, every process the blocks started is
// stopped (the shell's EXIT trap, then their whole process group).
//
// usage: node scripts/readme-blocks.js [--readme FILE] [--trickle BIN]
//          [--timeout SECONDS] [--strict] [--keep]
//   --trickle   the binary put on PATH as `trickle` (default: $TRICKLE_BIN,
//               else target/debug/trickle)
//   --timeout   for all runnable blocks together (default 300)
//   --strict    also fail on a shell, js, json or toml block without a mark
//   --keep      keep the scratch folder (kept anyway when a block fails)
// Exit code 0: all passed; 1: a block failed; 2: bad arguments or setup.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const REPO = path.resolve(__dirname, '..');
const SHELLS = new Set(['sh', 'bash', 'shell', 'console']);
const CHECKED = new Set([...SHELLS, 'js', 'javascript', 'json', 'toml']);
const EXIT_CODE_COMMENT = /\s#\s*exit code (\d+)\b/;

/** Fenced blocks: { line (of the opening fence, 1-based), heading, lang, marks, body: [lines] }. */
function parseBlocks(text) {
  const blocks = [];
  let heading = '(top)';
  let open = null;
  text.split('\n').forEach((line, index) => {
    if (open) {
      if (line.trimEnd() === open.fence) {
        blocks.push(open.block);
        open = null;
      } else {
        open.block.body.push(line);
      }
      return;
    }
    const fence = /^(`{3,}|~{3,})\s*(.*)$/.exec(line);
    if (fence) {
      const [lang = '', ...marks] = fence[2].trim().split(/\s+/).filter(Boolean);
      open = { fence: fence[1], block: { line: index + 1, heading, lang, marks, body: [] } };
      return;
    }
    const title = /^#{1,6}\s+(.*)$/.exec(line);
    if (title) heading = title[1].trim();
  });
  if (open) throw new Error(`the block opened at line ${open.block.line} is never closed`);
  return blocks;
}

/** What to do with a block: run, syntax, config, check, same-as, or unmarked (null when not code to check). */
function kindOf(block) {
  const sameAs = block.marks.find((mark) => mark.startsWith('same-as='));
  if (sameAs) return { kind: 'same-as', file: sameAs.slice('same-as='.length) };
  for (const kind of ['run', 'syntax', 'config', 'check']) if (block.marks.includes(kind)) return { kind };
  return CHECKED.has(block.lang) ? { kind: 'unmarked' } : null;
}

function where(readme, block, line = block.line) {
  return `${readme}:${line} (${block.heading})`;
}

// ---- checks that need no shell session -------------------------------------

function checkSyntax(block) {
  const result = spawnSync('bash', ['-n'], { input: block.body.join('\n') + '\n', encoding: 'utf8' });
  if (result.status === 0) return null;
  const at = /line (\d+)/.exec(result.stderr);
  return { line: at ? block.line + Number(at[1]) : block.line, message: `bash -n: ${result.stderr.trim()}` };
}

function checkJson(block) {
  try {
    JSON.parse(block.body.join('\n'));
    return null;
  } catch (error) {
    return { line: block.line, message: `not JSON: ${error.message}` };
  }
}

function checkConfig(block, trickle, scratch) {
  const dir = fs.mkdtempSync(path.join(scratch, 'config-'));
  const config = path.join(dir, 'trickle.toml');
  fs.writeFileSync(config, block.body.join('\n') + '\n');
  const result = spawnSync(trickle, ['generate', '--config', config, '--out', path.join(dir, 'out')], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (result.status === 0) return null;
  const at = /line (\d+)/.exec(result.stderr);
  return { line: at ? block.line + Number(at[1]) : block.line, message: `trickle generate refuses it: ${result.stderr.trim()}` };
}

function checkSameAs(block, file) {
  const full = path.join(REPO, file);
  if (!fs.existsSync(full)) return { line: block.line, message: `${file} does not exist` };
  const expected = fs.readFileSync(full, 'utf8');
  const shown = block.body.join('\n') + '\n';
  if (shown === expected) return null;
  const want = expected.split('\n');
  const differs = block.body.findIndex((line, i) => line !== want[i]);
  const at = differs === -1 ? block.body.length : differs;
  return {
    line: block.line + 1 + at,
    message: `differs from ${file} (its line ${at + 1}):\n  README: ${JSON.stringify(block.body[at])}\n  ${file}: ${JSON.stringify(want[at])}`,
  };
}

// ---- the runnable blocks, as one bash script --------------------------------

/** The script's prelude: strict mode, the status file protocol, cleanup of background jobs. */
const PRELUDE = [
  'set -Eeo pipefail',
  '__readme_status="$README_BLOCKS_STATUS"',
  'trap \'__readme_rc=$?; echo "failed $LINENO $__readme_rc" >> "$__readme_status"; exit $__readme_rc\' ERR',
  '__readme_stop() { local pids; pids=$(jobs -p); if [ -n "$pids" ]; then kill $pids 2>/dev/null || true; wait $pids 2>/dev/null || true; fi; }',
  'trap __readme_stop EXIT',
  '__readme_expect() { [ "$2" = "$1" ] && return 0; echo "expect $3 $1 $2" >> "$__readme_status"; exit 1; }',
  '__readme_block() { echo "block $1" >> "$__readme_status"; echo "::readme-block $1"; }',
];

/** Rewrites the commands marked `# exit code N` so the code is checked; returns [lines, commandStart(index)]. */
function expectExitCodes(block) {
  const lines = [...block.body];
  const start = [];
  let first = 0;
  lines.forEach((line, i) => {
    start[i] = first;
    if (!/\\\s*$/.test(line)) first = i + 1;
  });
  lines.forEach((line, i) => {
    const found = EXIT_CODE_COMMENT.exec(line);
    if (!found || /\\\s*$/.test(line)) return;
    const readmeLine = block.line + 1 + start[i];
    lines[start[i]] = `__readme_rc=0; ${lines[start[i]]}`;
    const cut = lines[i].search(EXIT_CODE_COMMENT);
    lines[i] = `${lines[i].slice(0, cut)} || __readme_rc=$?; __readme_expect ${found[1]} "$__readme_rc" ${readmeLine}${lines[i].slice(cut)}`;
  });
  return { lines, start };
}

/** The script and, per script line, the block and the README line of the command it belongs to. */
function buildScript(blocks) {
  const script = [...PRELUDE];
  const map = new Array(script.length).fill(null);
  blocks.forEach((block, n) => {
    script.push(`__readme_block ${n}`);
    map.push(null);
    const { lines, start } = expectExitCodes(block);
    lines.forEach((line, i) => {
      script.push(line);
      map.push({ block: n, line: block.line + 1 + start[i] });
    });
  });
  script.push('echo done >> "$__readme_status"');
  return { text: script.join('\n') + '\n', map };
}

/** A scratch folder laid out like a checkout for a reader: examples/ copied, node_modules/ linked. */
function scratchFolder(trickle) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'trickle-readme-'));
  const bin = path.join(root, 'bin');
  const work = path.join(root, 'work');
  const home = path.join(root, 'home');
  for (const dir of [bin, work, home]) fs.mkdirSync(dir);
  fs.symlinkSync(path.resolve(trickle), path.join(bin, 'trickle'));
  fs.symlinkSync(path.join(REPO, 'packages', 'testkit', 'bin', 'trickle-try.js'), path.join(bin, 'trickle-try'));
  fs.cpSync(path.join(REPO, 'examples'), path.join(work, 'examples'), { recursive: true });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(work, 'node_modules'));
  return { root, bin, work, home };
}

/** The environment a reader has: no TRICKLE_* variable, the two commands on PATH, a home of its own. */
function readerEnv(folder, statusFile) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('TRICKLE_')) env[key] = value;
  env.PATH = `${folder.bin}${path.delimiter}${process.env.PATH}`;
  env.HOME = folder.home;
  env.README_BLOCKS_STATUS = statusFile;
  return env;
}

/** Resolves once no process of group `pgid` is left (at most `ms` later). */
async function groupGone(pgid, ms) {
  for (const deadline = Date.now() + ms; Date.now() < deadline;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs the script in its own process group; resolves { code, timedOut } once the group is gone. */
function runScript(scriptFile, folder, env, logFile, timeoutMs) {
  return new Promise((resolve) => {
    const log = fs.openSync(logFile, 'w');
    const child = spawn('bash', [scriptFile], { cwd: folder.work, env, stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    const stopGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is gone
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stopGroup('SIGTERM');
      setTimeout(() => stopGroup('SIGKILL'), 2000).unref();
    }, timeoutMs);
    const interrupted = () => {
      stopGroup('SIGKILL');
      process.exit(130);
    };
    process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
    child.on('exit', async (code, signal) => {
      clearTimeout(timer);
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
      stopGroup('SIGKILL'); // anything a block left behind, whatever its shell's trap did
      await groupGone(child.pid, 3000);
      resolve({ code: code === null ? 128 : code, signal, timedOut });
    });
  });
}

/** What the status file says went wrong, as { block, line, message }, or null. */
function readFailure(statusFile, map, blocks, result, timeoutMs) {
  const entries = fs.existsSync(statusFile) ? fs.readFileSync(statusFile, 'utf8').trim().split('\n') : [];
  const started = entries.filter((entry) => entry.startsWith('block ')).map((entry) => Number(entry.split(' ')[1]));
  const current = started.length ? started[started.length - 1] : 0;
  if (result.timedOut) return { block: current, line: blocks[current].line, message: `still running after ${timeoutMs / 1000} s (stopped)` };
  const expect = entries.find((entry) => entry.startsWith('expect '));
  if (expect) {
    const [, line, want, got] = expect.split(' ');
    return { block: current, line: Number(line), message: `exit code ${got}, where the README says ${want}` };
  }
  // The last: a failure inside $(…) is written first, then the command around it.
  const failed = entries.filter((entry) => entry.startsWith('failed ')).pop();
  if (failed) {
    const [, scriptLine, rc] = failed.split(' ');
    const at = map[Number(scriptLine) - 1];
    if (at) return { block: at.block, line: at.line, message: `exit code ${rc}` };
    return { block: current, line: blocks[current].line, message: `exit code ${rc}` };
  }
  if (entries.includes('done') && result.code === 0) return null;
  return { block: current, line: blocks[current].line, message: `the shell ended (exit code ${result.code}${result.signal ? `, ${result.signal}` : ''})` };
}

/** The output of block `n` (from its marker on), its last lines. */
function blockOutput(logFile, n) {
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  const from = log.indexOf(`::readme-block ${n}\n`);
  const lines = (from === -1 ? log : log.slice(from).split('\n').slice(1).join('\n')).trimEnd().split('\n');
  const shown = lines.slice(-60);
  return (lines.length > shown.length ? ['…', ...shown] : shown).map((line) => `    ${line}`).join('\n');
}

async function runBlocks(readme, blocks, trickle, folder, timeoutMs) {
  if (blocks.length === 0) return null;
  const { text, map } = buildScript(blocks);
  const scriptFile = path.join(folder.root, 'blocks.sh');
  const statusFile = path.join(folder.root, 'status');
  const logFile = path.join(folder.root, 'output.log');
  fs.writeFileSync(scriptFile, text);
  const result = await runScript(scriptFile, folder, readerEnv(folder, statusFile), logFile, timeoutMs);
  const failure = readFailure(statusFile, map, blocks, result, timeoutMs);
  if (!failure) return null;
  const block = blocks[failure.block];
  const command = block.body[failure.line - block.line - 1];
  return `${where(readme, block, failure.line)}: the runnable block at line ${block.line} failed: ${failure.message}\n`
    + (command === undefined ? '' : `  the command: ${command.trim()}\n`)
    + `  its output (${logFile}):\n${blockOutput(logFile, failure.block)}`;
}

// ---- main --------------------------------------------------------------------

function options() {
  const { values } = parseArgs({
    options: {
      readme: { type: 'string', default: path.join(REPO, 'README.md') },
      trickle: { type: 'string', default: process.env.TRICKLE_BIN || path.join(REPO, 'target', 'debug', 'trickle') },
      timeout: { type: 'string', default: '300' },
      strict: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) throw new Error(`--timeout ${values.timeout}: a number of seconds`);
  if (!fs.existsSync(values.trickle)) {
    throw new Error(`no trickle at ${values.trickle}: build it (cargo build -p trickle-cli), or give --trickle BIN or TRICKLE_BIN`);
  }
  return { ...values, timeoutMs: timeout * 1000 };
}

/** The blocks by kind, and the problems of those checked without a shell. */
function checkStatic(readme, blocks, opts, folder) {
  const checks = {
    syntax: (block) => checkSyntax(block),
    config: (block) => checkConfig(block, opts.trickle, folder.root),
    check: (block) => checkJson(block),
    'same-as': (block, kind) => checkSameAs(block, kind.file),
  };
  const byKind = { run: [], syntax: [], config: [], check: [], 'same-as': [], unmarked: [] };
  const problems = [];
  for (const block of blocks) {
    const kind = kindOf(block);
    if (!kind) continue;
    byKind[kind.kind].push(block);
    const problem = checks[kind.kind] ? checks[kind.kind](block, kind) : null;
    if (problem) problems.push(`${where(readme, block, problem.line)}: ${problem.message}`);
  }
  if (opts.strict) {
    for (const block of byKind.unmarked) {
      problems.push(`${where(readme, block)}: a \`${block.lang}\` block without a mark (run, syntax, config, check, same-as=FILE)`);
    }
  }
  return { byKind, problems };
}

async function main() {
  let opts;
  try {
    opts = options();
  } catch (error) {
    process.stderr.write(`readme-blocks: ${error.message}\n`);
    return 2;
  }
  const readme = path.relative(process.cwd(), opts.readme) || opts.readme;
  const blocks = parseBlocks(fs.readFileSync(opts.readme, 'utf8'));
  const folder = scratchFolder(opts.trickle);
  const started = Date.now();
  const { byKind, problems } = checkStatic(readme, blocks, opts, folder);
  const failure = await runBlocks(readme, byKind.run, opts.trickle, folder, opts.timeoutMs);
  if (failure) problems.push(failure);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const unmarked = byKind.unmarked.map((block) => `${block.line}`).join(', ');
  process.stderr.write(
    `readme-blocks: ${readme}: ${byKind.run.length} blocks run, ${byKind.syntax.length} syntax-only (bash -n), `
    + `${byKind.config.length} config, ${byKind.check.length} JSON, ${byKind['same-as'].length} same as their file, in ${seconds} s`
    + `${byKind.unmarked.length ? `; ${byKind.unmarked.length} not marked (lines ${unmarked})` : ''}\n`,
  );
  for (const problem of problems) process.stderr.write(`readme-blocks: FAILED ${problem}\n`);
  if (problems.length || opts.keep) process.stderr.write(`readme-blocks: scratch folder kept: ${folder.root}\n`);
  else fs.rmSync(folder.root, { recursive: true, force: true });
  return problems.length ? 1 : 0;
}

main().then((code) => process.exit(code), (error) => {
  process.stderr.write(`readme-blocks: ${error.stack}\n`);
  process.exit(2);
});
