'use strict';
// @trickle/testkit: run Auth0 custom-database scripts offline, the way
// Auth0 runs them.
//   loadScript / Container — a script file as one function in a sandbox
//     with configuration, global, the Auth0 error classes, fetch, require
//     of Node built-ins only; top-level code is refused.
//   call — calls it, enforcing one callback within 20 s.
//   ImportModeTenant — the new tenant around the scripts: store, login,
//     password reset, sign-up, deletion.
//   startSim — Trickle's emulated old tenant (`trickle sim`).

const { loadScript, call, lateCalls, checkOneFunction, Container } = require('./sandbox');
const { ImportModeTenant, TenantError } = require('./tenant');
const { startSim, Sim } = require('./sim');

module.exports = { loadScript, call, lateCalls, checkOneFunction, Container, ImportModeTenant, TenantError, startSim, Sim };
