'use strict';
// scripts/readme-blocks.js, the runner that makes the README's blocks
// tests, on small READMEs of our own: marked blocks run in one shell (state
// carries over), `# exit code N` is held to, syntax-only and JSON blocks are
// checked, a block differing from its file fails; a failure names the
// heading and the README line and shows the block's output; every
// background process a block started is gone afterwards, on success,
// failure and timeout alike.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const RUNNER = path.join(__dirname, '..', 'scripts', 'readme-blocks.js');
const FENCE = '```';

/** Writes `markdown` as a README and runs the runner on it; resolves { code, stderr, pids }. */
function runOn(markdown, args = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-blocks-test-'));
  const readme = path.join(dir, 'fixture.md');
  const pids = path.join(dir, 'pids');
  fs.writeFileSync(readme, markdown);
  return new Promise((resolve) => {
    const env = { ...process.env, READMETEST_PIDS: pids };
    execFile(process.execPath, [RUNNER, '--readme', readme, ...args], { env }, (error, stdout, stderr) => {
      const started = fs.existsSync(pids) ? fs.readFileSync(pids, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code: error ? error.code : 0, stderr, pids: started });
    });
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie has ended
  } catch {
    return true; // no /proc here: kill(pid, 0) said it exists
  }
}

function assertAllGone(pids) {
  assert.ok(pids.length > 0, 'the blocks started background processes');
  for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} outlived the run`);
}

/** The runner's scratch folder, kept on failure: removed here. */
function removeKept(stderr) {
  const kept = /scratch folder kept: (\S+)/.exec(stderr);
  if (kept) fs.rmSync(kept[1], { recursive: true, force: true });
}

// An emulator in the background, its URL read from its ready line, then
// used by a later block: what the README's walkthrough does.
const BACKGROUND = [
  '# Fixture', '', '## Start', '',
  `${FENCE}sh run`,
  'trickle sim --seed examples/old-tenant-users.json > old.url 2> old.log &',
  'echo $! >> "$READMETEST_PIDS"',
  'sleep 300 & echo $! >> "$READMETEST_PIDS"',
  'url() { for _ in $(seq 100); do grep -o \'http[^ ]*\' "$1" 2>/dev/null && return; sleep 0.1; done; return 1; }',
  'OLD=$(url old.url)',
  FENCE, '',
];

test('runnable blocks share one shell; exit codes, syntax and JSON are checked; background processes stopped', async () => {
  const markdown = [
    ...BACKGROUND,
    '## Use', '',
    `${FENCE}sh run`,
    'curl -sf "$OLD/.well-known/openid-configuration" > /dev/null || node -e "fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1))" "$OLD/.well-known/openid-configuration"',
    'sh -c \'exit 3\'   # exit code 3: said, and held to',
    'test -z "$TRICKLE_BIN" && command -v trickle-try > /dev/null',
    FENCE, '',
    `${FENCE}sh syntax`, 'curl https://real.example.com/only-syntax \\', '  -d x', FENCE, '',
    `${FENCE}json check`, '{"a": [1, 2]}', FENCE, '',
    `${FENCE}sh`, 'not marked: never run', FENCE, '',
  ].join('\n');
  const { code, stderr, pids } = await runOn(markdown);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /2 blocks run, 1 syntax-only \(bash -n\), 0 config, 1 JSON, 0 same as their file/);
  assert.match(stderr, /1 not marked \(lines 30\)/);
  assertAllGone(pids);
});

test('a failing command fails the run with its heading, README line and output; nothing left running', async () => {
  const markdown = [
    ...BACKGROUND,
    '## Step two', '',
    `${FENCE}sh run`,
    'echo "output of step two"',
    'ls /no/such/folder \\',
    '  --color=never',
    'echo "never reached"',
    FENCE, '',
  ].join('\n');
  const { code, stderr, pids } = await runOn(markdown);
  removeKept(stderr);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /fixture\.md:17 \(Step two\): the runnable block at line 15 failed: exit code 2/);
  assert.match(stderr, /output of step two/);
  assert.doesNotMatch(stderr, /never reached/);
  assertAllGone(pids);
});

test('a command that exits other than its `# exit code N` says so', async () => {
  const markdown = [
    '## Codes', '',
    `${FENCE}sh run`,
    'sleep 300 & echo $! >> "$READMETEST_PIDS"',
    'sh -c \\',
    '  \'exit 1\'   # exit code 3: under way',
    FENCE, '',
  ].join('\n');
  const { code, stderr, pids } = await runOn(markdown);
  removeKept(stderr);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /fixture\.md:5 \(Codes\): .*exit code 1, where the README says 3/);
  assertAllGone(pids);
});

test('a block past the timeout is stopped with everything it started', async () => {
  const markdown = ['## Slow', '', `${FENCE}sh run`, 'sleep 300 & echo $! >> "$READMETEST_PIDS"', 'sleep 300', FENCE, ''].join('\n');
  const { code, stderr, pids } = await runOn(markdown, ['--timeout', '1']);
  removeKept(stderr);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /fixture\.md:3 \(Slow\): .*still running after 1 s/);
  assertAllGone(pids);
});

test('a syntax-only block that does not parse, a block unlike its file, an unmarked block with --strict', async () => {
  const example = fs.readFileSync(path.join(__dirname, '..', 'examples', 'testkit.test.js'), 'utf8').split('\n');
  example[3] = example[3].replace('assert', 'assertion');
  const markdown = [
    '## Broken', '',
    `${FENCE}sh syntax`, 'if true; then', '  echo missing fi', FENCE, '',
    `${FENCE}js same-as=examples/testkit.test.js`, ...example.slice(0, -1), FENCE, '',
    `${FENCE}toml`, 'a = 1', FENCE, '',
  ].join('\n');
  const { code, stderr } = await runOn(markdown, ['--strict']);
  removeKept(stderr);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /fixture\.md:\d+ \(Broken\): bash -n: .*syntax error/);
  assert.match(stderr, /fixture\.md:12 \(Broken\): differs from examples\/testkit\.test\.js \(its line 4\)/);
  assert.match(stderr, /a `toml` block without a mark/);
});
