'use strict';
// The scenario matrix (scenarios.test.js) once more, over real TLS: the
// emulator serves HTTPS (`trickle sim --tls`), the generated scripts take
// an `https://` domain, and their `fetch` trusts only the emulator's local
// certificate authority, in a Node started with it (NODE_EXTRA_CA_CERTS).

const assert = require('node:assert/strict');
const path = require('node:path');
const { it } = require('node:test');

const { runTrusting } = require('./support/trusting-node');

it('the scenario matrix passes over https', async () => {
  const run = await runTrusting(path.join(__dirname, 'scenarios.test.js'));
  assert.equal(run.code, 0, run.output);
  assert.equal(run.fail, 0, run.output);
  assert.ok(run.pass >= 30, `every scenario ran (${run.pass} passed):\n${run.output}`);
  assert.match(run.output, /scenarios against the emulated old tenant over https/);
});
