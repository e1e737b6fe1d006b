'use strict';
// Runs an Auth0 post-login Action file the way Auth0 does (a
// credentials-exchange one: credentials-exchange.js): a CommonJS
// module (`exports.onExecutePostLogin = async (event, api) => …`) in a
// sandbox that offers Node's globals and `require` of Node built-ins only
// (no npm dependencies), its module scope and `global` kept per container;
// called with a post-login (trigger version v3) `event` and an `api` that
// records what the Action asks for, applied once it has finished, as Auth0
// applies metadata changes at the end of the flow.
//
// The model follows Auth0's documentation of the post-login trigger (v3):
// `event.user` (user_id, email, app_metadata, user_metadata, identities,
// …), `event.connection` ({ id, name, strategy, metadata }), `event.secrets`,
// `event.client`, `event.request`, `event.transaction`, `event.stats`, and
// `api.user.setAppMetadata/setUserMetadata(name, value)`,
// `api.access.deny(reason)`, `api.idToken/accessToken.setCustomClaim`,
// `api.multifactor.enable`, `api.redirect.sendUserTo`, `api.cache`.

const fs = require('node:fs');
const util = require('node:util');
const vm = require('node:vm');
const nodeModule = require('node:module');

const FLOW_TIMEOUT_MS = 20000; // Auth0 ends a flow's execution after 20 s
const LOG_LINE_LIMIT = 256; // Auth0 keeps at most 256 characters of a console.log

function isBuiltin(name) {
  if (typeof nodeModule.isBuiltin === 'function') return nodeModule.isBuiltin(name);
  const bare = name.startsWith('node:') ? name.slice(5) : name;
  return nodeModule.builtinModules.includes(bare);
}

function builtinRequire(name) {
  if (typeof name !== 'string' || !isBuiltin(name)) {
    throw new Error(`Cannot find module '${name}' (the Action declares no dependencies: Node built-ins only)`);
  }
  return require(name);
}

function capturingConsole(logs) {
  const record = (level) => (...args) => {
    logs.push(`[${level}] ${util.formatWithOptions({ depth: 8 }, ...args)}`.slice(0, LOG_LINE_LIMIT + level.length + 3));
  };
  const capture = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) capture[level] = record(level);
  return capture;
}

/**
 * Loads an Action file as a module.
 * @param {string} filePath
 * @param {{global?: object, fetch?: Function, globals?: object}} [options] the same
 *   `global` for several loads shares it, as executions in one container do.
 * @returns {{onExecutePostLogin?: Function, onExecuteCredentialsExchange?: Function, logs: string[], global: object}}
 *   the handlers the module exports (post-login, credentials-exchange: see credentials-exchange.js)
 */
function loadAction(filePath, { global: containerGlobal, fetch: fetchImpl = fetch, globals = {} } = {}) {
  const text = fs.readFileSync(filePath, 'utf8');
  const logs = [];
  const sandbox = {
    fetch: fetchImpl,
    AbortSignal,
    AbortController,
    Buffer,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    setTimeout,
    clearTimeout,
    console: capturingConsole(logs),
    WebAssembly,
    ...globals,
  };
  const context = vm.createContext(sandbox);
  // Node's `global` is the context's own global object; a container's is shared.
  sandbox.global = containerGlobal || vm.runInContext('globalThis', context);
  const module = { exports: {} };
  const wrapper = vm.runInContext(
    '(function (exports, require, module, __filename, __dirname) {' + text + '\n})',
    context,
    { filename: filePath },
  );
  wrapper.call(module.exports, module.exports, builtinRequire, module, '/data/action.js', '/data');
  const { onExecutePostLogin, onExecuteCredentialsExchange } = module.exports;
  if (typeof onExecutePostLogin !== 'function' && typeof onExecuteCredentialsExchange !== 'function') {
    throw new Error('the Action exports neither onExecutePostLogin nor onExecuteCredentialsExchange');
  }
  return { onExecutePostLogin, onExecuteCredentialsExchange, logs, global: sandbox.global };
}

function deepFreeze(value) {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}

const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/**
 * A post-login `event` (v3), read-only. `user` is the user as Auth0 holds
 * it (`user_id` "auth0|…", `app_metadata`, `user_metadata`, …).
 */
function postLoginEvent({ user, connection, secrets = {}, client = { client_id: 'testkit-client', name: 'Testkit App', metadata: {} }, request = {} }) {
  const rawId = String(user.user_id).replace(/^auth0\|/, '');
  return deepFreeze({
    user: {
      app_metadata: {},
      user_metadata: {},
      identities: [{ connection: connection.name, provider: 'auth0', user_id: rawId, isSocial: false }],
      email_verified: false,
      created_at: new Date(0).toISOString(),
      updated_at: new Date(0).toISOString(),
      ...clone(user),
    },
    connection: { id: connection.id || 'con_testkit', name: connection.name, strategy: connection.strategy || 'auth0', metadata: {} },
    secrets: { ...secrets },
    client: { ...client },
    request: { ip: '127.0.0.1', hostname: 'new-tenant.example.com', method: 'POST', language: 'en', geoip: {}, query: {}, body: {}, user_agent: 'testkit', ...request },
    transaction: { protocol: 'oidc-basic-profile', requested_scopes: ['openid'], locale: 'en' },
    stats: { logins_count: 1 },
    authentication: { methods: [{ name: 'pwd', timestamp: new Date().toISOString() }] },
    tenant: { id: 'testkit-tenant' },
    organization: undefined,
  });
}

/** The `api` of a post-login execution, recording every request. */
function postLoginApi() {
  const recorded = { appMetadata: {}, userMetadata: {}, denied: null, idTokenClaims: {}, accessTokenClaims: {}, calls: [] };
  const note = (name) => (...args) => {
    recorded.calls.push([name, ...args.map(clone)]);
  };
  const cache = new Map();
  const api = {
    user: {
      setAppMetadata(name, value) {
        note('user.setAppMetadata')(name, value);
        recorded.appMetadata[name] = clone(value);
      },
      setUserMetadata(name, value) {
        note('user.setUserMetadata')(name, value);
        recorded.userMetadata[name] = clone(value);
      },
    },
    access: {
      deny(reason) {
        note('access.deny')(reason);
        recorded.denied = String(reason);
      },
    },
    idToken: { setCustomClaim: (name, value) => { note('idToken.setCustomClaim')(name, value); recorded.idTokenClaims[name] = clone(value); } },
    accessToken: { setCustomClaim: (name, value) => { note('accessToken.setCustomClaim')(name, value); recorded.accessTokenClaims[name] = clone(value); } },
    multifactor: { enable: note('multifactor.enable') },
    redirect: { sendUserTo: note('redirect.sendUserTo') },
    cache: {
      get: (key) => cache.get(key),
      set: (key, value) => {
        cache.set(key, { value: String(value) });
        return { type: 'success' };
      },
      delete: (key) => cache.delete(key),
    },
  };
  return { api, recorded };
}

/**
 * Runs the Action once. Resolves `{ recorded, error, ms }`: `error` is what
 * it threw or rejected with (a failed login at Auth0), `recorded` what it
 * asked of `api`.
 */
async function runPostLogin(action, event) {
  const { api, recorded } = postLoginApi();
  const startedAt = performance.now();
  let timer;
  let error;
  try {
    await Promise.race([
      Promise.resolve().then(() => action.onExecutePostLogin(event, api)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the Action did not finish within ${FLOW_TIMEOUT_MS} ms`)), FLOW_TIMEOUT_MS);
      }),
    ]);
  } catch (thrown) {
    error = thrown;
  } finally {
    clearTimeout(timer);
  }
  return { recorded, error, ms: performance.now() - startedAt };
}

/**
 * Applies what an execution asked for to a stored user, as Auth0 does at
 * the end of the flow: each key set replaces that key (null removes it).
 */
function applyMetadata(user, recorded) {
  const apply = (target, changes) => {
    const next = { ...(target || {}) };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === undefined) delete next[key];
      else next[key] = value;
    }
    return next;
  };
  user.app_metadata = apply(user.app_metadata, recorded.appMetadata);
  user.user_metadata = apply(user.user_metadata, recorded.userMetadata);
}

module.exports = { loadAction, postLoginEvent, postLoginApi, runPostLogin, applyMetadata };
