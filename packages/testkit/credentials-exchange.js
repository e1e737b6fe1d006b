'use strict';
// A credentials-exchange Action (the Machine to Machine flow) as Auth0 runs
// it: loaded like any Action (`loadAction`), called with the trigger's
// `event` (version v2) before a client-credentials token is issued, and an
// `api` whose `access.deny(code, reason)` turns the token request into an
// OAuth error answer.
//
// The model follows Auth0's documentation of the trigger: `event.client`
// ({ client_id, name, metadata }), `event.resource_server` ({ identifier }),
// `event.request` ({ ip, hostname, method, language, user_agent, geoip,
// body }), `event.transaction` ({ requested_scopes }), `event.accessToken`
// ({ scope, customClaims }), `event.secrets`, `event.tenant`; and
// `api.access.deny(code, reason)` (code `invalid_scope`, `invalid_request`
// or `server_error`), `api.accessToken.setCustomClaim(key, value)`,
// `api.cache`. Guesses, where the documentation is silent: a denial is
// answered as RFC 6749 §5.2 says token errors are (400, or 500 for
// `server_error`), `{error: code, error_description: reason}`; an Action
// that throws or runs out of time fails the request with 500 `server_error`.

const crypto = require('node:crypto');

const FLOW_TIMEOUT_MS = 20000; // as the other flows
const DENY_CODES = ['invalid_scope', 'invalid_request', 'server_error'];

const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function deepFreeze(value) {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}

/**
 * A credentials-exchange `event` (v2), read-only: `client` asks for a token
 * for the API `audience`, with `scope` (an array) requested.
 */
function credentialsExchangeEvent({ client, audience, scope = [], secrets = {}, request = {} }) {
  const clientId = typeof client === 'string' ? client : client.client_id;
  return deepFreeze({
    client: { client_id: clientId, name: (client && client.name) || clientId, metadata: {} },
    resource_server: { identifier: audience },
    request: {
      ip: '127.0.0.1',
      hostname: 'new-tenant.example.com',
      method: 'POST',
      language: 'en',
      user_agent: 'testkit',
      geoip: {},
      body: { grant_type: 'client_credentials', client_id: clientId, audience, ...(scope.length ? { scope: scope.join(' ') } : {}) },
      ...request,
    },
    transaction: { requested_scopes: [...scope] },
    accessToken: { scope: [...scope], customClaims: {} },
    secrets: { ...secrets },
    tenant: { id: 'testkit-tenant' },
  });
}

/** The `api` of a credentials-exchange execution, recording every request. */
function credentialsExchangeApi() {
  const recorded = { denied: null, accessTokenClaims: {}, calls: [] };
  const cache = new Map();
  const api = {
    access: {
      deny(code, reason) {
        recorded.calls.push(['access.deny', code, reason]);
        if (!DENY_CODES.includes(code)) {
          throw new Error(`api.access.deny: code must be one of ${DENY_CODES.join(', ')} (got ${String(code)})`);
        }
        recorded.denied = { code, reason: reason === undefined ? undefined : String(reason) };
      },
    },
    accessToken: {
      setCustomClaim(key, value) {
        recorded.calls.push(['accessToken.setCustomClaim', key, clone(value)]);
        recorded.accessTokenClaims[key] = clone(value);
      },
    },
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
 * Runs a loaded Action's `onExecuteCredentialsExchange` once. Resolves
 * `{ recorded, error, ms }`.
 */
async function runCredentialsExchange(action, event) {
  if (typeof action.onExecuteCredentialsExchange !== 'function') {
    throw new Error('the Action does not export onExecuteCredentialsExchange');
  }
  const { api, recorded } = credentialsExchangeApi();
  const startedAt = performance.now();
  let timer;
  let error;
  try {
    await Promise.race([
      Promise.resolve().then(() => action.onExecuteCredentialsExchange(event, api)),
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
 * The token endpoint's answer to a client-credentials request that passed
 * its other checks, once the Machine to Machine flow (`actions`, in order)
 * has run: `{ status: 200, body: { access_token, … } }`, or the error the
 * first denying (or failing) Action causes. `issue(claims)` makes the
 * token (default: an opaque random one); `claims` are the custom claims the
 * Actions set.
 */
async function exchangeClientCredentials(actions, { client, audience, scope = [], secrets = {}, expiresIn = 86400, issue }) {
  const claims = {};
  for (const action of actions) {
    const event = credentialsExchangeEvent({ client, audience, scope, secrets });
    const { recorded, error } = await runCredentialsExchange(action, event);
    if (error) return { status: 500, body: { error: 'server_error', error_description: 'The credentials-exchange flow failed.' } };
    if (recorded.denied) {
      const { code, reason } = recorded.denied;
      return { status: code === 'server_error' ? 500 : 400, body: { error: code, error_description: reason || 'Access denied.' } };
    }
    Object.assign(claims, recorded.accessTokenClaims);
  }
  const token = issue ? issue(claims) : crypto.randomBytes(24).toString('hex');
  return {
    status: 200,
    body: { access_token: token, token_type: 'Bearer', expires_in: expiresIn, ...(scope.length ? { scope: scope.join(' ') } : {}) },
  };
}

module.exports = { credentialsExchangeEvent, credentialsExchangeApi, runCredentialsExchange, exchangeClientCredentials, DENY_CODES };
