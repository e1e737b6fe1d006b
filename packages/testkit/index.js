'use strict';
// @trickle/testkit: run Auth0 custom-database scripts offline, the way
// Auth0 runs them.
//   loadScript / Container — a script file as one function in a sandbox
//     with configuration, global, the Auth0 error classes, fetch, require
//     of Node built-ins only; top-level code is refused.
//   call — calls it, enforcing one callback within 20 s.
//   ImportModeTenant — the new tenant around the scripts: store, login,
//     password reset, sign-up, deletion.
//   loadAction / runPostLogin / postLoginEvent — a post-login Action as
//     Auth0 runs it: a module with Node built-ins only, a v3 event, an api
//     whose requests are recorded and applied at the end of the flow.
//   credentialsExchangeEvent / runCredentialsExchange /
//     exchangeClientCredentials — a credentials-exchange Action (the
//     Machine to Machine flow) as Auth0 runs it, and the token endpoint's
//     answer once the flow has run.
//   startSim — Trickle's emulated old tenant (`trickle sim`).
//   findTrickle — the `trickle` binary ($TRICKLE_BIN, else on PATH), or an
//     Error saying how to provide it.
//   startLegacySim — Trickle's emulated legacy user-store API
//     (`trickle legacy-sim`), checking tokens of the tenant `startSim` plays.

const { loadScript, call, lateCalls, checkOneFunction, Container } = require('./sandbox');
const { ImportModeTenant, TenantError } = require('./tenant');
const { startSim, Sim, findTrickle } = require('./sim');
const { startLegacySim, LegacySim } = require('./legacy-sim');
const { loadAction, postLoginEvent, postLoginApi, runPostLogin, applyMetadata } = require('./action');
const {
  credentialsExchangeEvent,
  credentialsExchangeApi,
  runCredentialsExchange,
  exchangeClientCredentials,
} = require('./credentials-exchange');

module.exports = {
  loadScript,
  call,
  lateCalls,
  checkOneFunction,
  Container,
  ImportModeTenant,
  TenantError,
  startSim,
  Sim,
  findTrickle,
  startLegacySim,
  LegacySim,
  loadAction,
  postLoginEvent,
  postLoginApi,
  runPostLogin,
  applyMetadata,
  credentialsExchangeEvent,
  credentialsExchangeApi,
  runCredentialsExchange,
  exchangeClientCredentials,
};
