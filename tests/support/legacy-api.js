'use strict';
// A local stand-in for the two services a migration from your own database
// talks to, written from the contract (docs/legacy-api.openapi.yaml,
// LEGACY-CONTRACT.md), for the API source's scripts until `trickle sim` +
// `trickle legacy-sim` play them:
//   - the NEW tenant's token endpoint: client credentials for the API's
//     audience (granted clients only), RS256 tokens (`sub` <client>@clients)
//     and its JWKS; it runs credentials-exchange Actions when given (the
//     guard), as Auth0 runs the Machine to Machine flow;
//   - the legacy user store's API: verify, look up by email or id, mark and
//     unmark, every request's bearer token checked against that JWKS
//     (fetched over HTTP once, as an API does), the contract's statuses and
//     `{error, error_description}` bodies, 429 with Retry-After.
// Both with the fault vocabulary of Trickle's emulators (latency, 503,
// dropped connection, malformed body, truncated body, `only`), a rate
// limit, counters, and "reject the next n tokens".

const crypto = require('node:crypto');
const http = require('node:http');

const { exchangeClientCredentials } = require('../../packages/testkit');

const CLIENT_CREDENTIALS = 'client_credentials';
const base64url = (value) => Buffer.from(value).toString('base64url');
const lower = (text) => String(text).toLowerCase();

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch (notJson) {
    return null;
  }
}

// The token endpoint takes JSON or a form, as Auth0's does.
function tokenRequest(req, text) {
  if (String(req.headers['content-type'] || '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  return parseJson(text);
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

function close(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // fetch keeps connections alive; without this close waits for them.
    if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
  });
}

/** A JSON answer, or (a truncate fault) its status and half its body, then a cut connection. */
function reply(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  if (res.trickleTruncate) {
    res.write(text.slice(0, Math.floor(text.length / 2)));
    res.socket.destroy();
    return;
  }
  res.end(text);
}

const error = (res, status, code, description, headers) => reply(res, status, { error: code, error_description: description }, headers);

/** The faults of Trickle's emulators, for one service: whether `req` is faulted, and how. */
function faultsOf(state) {
  const selected = (req, path) => {
    const only = state.faults.only;
    if (!only) return true;
    const [method, prefix] = only.includes(' ') ? only.split(' ') : [null, only];
    return (!method || method === req.method) && path.startsWith(prefix);
  };
  const roll = (ratio) => ratio > 0 && Math.random() < ratio;
  // Resolves true when the fault has answered (or dropped) the request.
  return async (req, res, path) => {
    if (!selected(req, path)) return false;
    const f = state.faults;
    if (f.latency_ms > 0) await new Promise((resolve) => setTimeout(resolve, f.latency_ms));
    if (roll(f.drop_ratio)) {
      req.socket.destroy();
      return true;
    }
    if (roll(f.error_ratio)) {
      error(res, 503, 'temporarily_unavailable', 'Service temporarily unavailable (injected fault).');
      return true;
    }
    if (roll(f.malformed_ratio)) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Service Unavailable</body></html>');
      return true;
    }
    if (roll(f.truncate_ratio)) res.trickleTruncate = true;
    return false;
  };
}

const NO_FAULTS = { latency_ms: 0, error_ratio: 0, drop_ratio: 0, malformed_ratio: 0, truncate_ratio: 0, only: null };

/** The new tenant: /oauth/token (client credentials) and its JWKS. */
async function startTenant({ clients, audience, tokenLifetime, credentialsExchange }) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = crypto.randomBytes(8).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const state = { faults: { ...NO_FAULTS }, tokens: 0, denied: 0 };
  const faulted = faultsOf(state);
  let baseUrl = '';

  const sign = (claims) => {
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const payload = base64url(JSON.stringify(claims));
    const signature = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), privateKey).toString('base64url');
    return `${header}.${payload}.${signature}`;
  };

  async function token(req, res) {
    const body = tokenRequest(req, await readBody(req));
    if (!body) return error(res, 400, 'invalid_request', 'Invalid request body');
    if (body.grant_type !== CLIENT_CREDENTIALS) return error(res, 403, 'unsupported_grant_type', 'Unsupported grant type');
    const client = clients.find((c) => c.client_id === body.client_id && c.client_secret === body.client_secret);
    if (!client) return error(res, 401, 'access_denied', 'Unauthorized');
    if (body.audience !== audience) return error(res, 403, 'access_denied', `Service not enabled within domain: ${body.audience}`);
    if (!client.granted) {
      return error(res, 403, 'access_denied', `Client has not been granted scopes: create a client-grant for ${body.audience}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const scope = client.scope || [];
    const answer = await exchangeClientCredentials(credentialsExchange, {
      client: client.client_id,
      audience,
      scope,
      secrets: client.actionSecrets || {},
      expiresIn: tokenLifetime,
      issue: (claims) => sign({
        iss: baseUrl + '/', sub: `${client.client_id}@clients`, aud: audience, iat: now, exp: now + tokenLifetime,
        azp: client.client_id, gty: CLIENT_CREDENTIALS, ...(scope.length ? { scope: scope.join(' ') } : {}), ...claims,
      }),
    });
    if (answer.status === 200) state.tokens++;
    else state.denied++;
    return reply(res, answer.status, answer.body);
  }

  const server = http.createServer(async (req, res) => {
    try {
      const path = new URL(req.url, 'http://x').pathname;
      if (await faulted(req, res, path)) return;
      if (path === '/oauth/token' && req.method === 'POST') return await token(req, res);
      if (path === '/.well-known/jwks.json' && req.method === 'GET') return reply(res, 200, { keys: [jwk] });
      return error(res, 404, 'not_found', 'Not Found');
    } catch (bug) {
      return error(res, 500, 'server_error', String(bug && bug.stack));
    }
  });
  baseUrl = await listen(server);
  return { server, state, baseUrl, sign };
}

/** A user as the API shows it (the contract's `User`): no password. */
function shown(stored) {
  const { password, ...user } = stored;
  return structuredClone(user);
}

function storedUser(seed) {
  const user = {
    id: String(seed.id),
    email: String(seed.email),
    email_verified: Boolean(seed.email_verified),
    user_metadata: structuredClone(seed.user_metadata || {}),
    app_metadata: structuredClone(seed.app_metadata || {}),
    blocked: Boolean(seed.blocked),
    migrated_at: seed.migrated_at || null,
  };
  for (const key of ['username', 'given_name', 'family_name', 'name', 'nickname', 'picture']) {
    if (seed[key] !== undefined) user[key] = seed[key];
  }
  // The stand-in keeps a salted digest, never the password.
  const salt = crypto.randomBytes(8).toString('hex');
  return { ...user, password: seed.password === undefined ? null : { salt, digest: digest(salt, seed.password) } };
}

function digest(salt, password) {
  return crypto.createHash('sha256').update(salt + '\0' + String(password)).digest();
}

const rightPassword = (stored, password) =>
  stored.password !== null && typeof password === 'string' && crypto.timingSafeEqual(digest(stored.password.salt, password), stored.password.digest);

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** The legacy store's API under `basePath`, checking tokens of `issuer`. */
async function startApi({ users, issuer, audience, basePath }) {
  const store = users.map(storedUser);
  const state = {
    faults: { ...NO_FAULTS },
    rps: 0,
    window: { second: 0, used: 0 },
    rejectNext: 0,
    counts: { total: 0, requests: { verify: 0, users_by_email: 0, get_user: 0, mark: 0, unmark: 0 }, invalid_tokens: 0, jwks_fetches: 0 },
  };
  const faulted = faultsOf(state);
  let keys = null;

  async function keyFor(kid) {
    if (!keys) {
      state.counts.jwks_fetches++;
      const response = await fetch(issuer + '.well-known/jwks.json', { redirect: 'manual' });
      if (response.status !== 200) throw new Error(`JWKS: ${response.status}`);
      keys = (await response.json()).keys;
    }
    const jwk = keys.find((k) => k.kid === kid);
    return jwk && crypto.createPublicKey({ key: jwk, format: 'jwk' });
  }

  // The contract's checks: RS256 by a key of the issuer, iss, aud, exp, sub @clients.
  async function validToken(req) {
    if (state.rejectNext > 0) {
      state.rejectNext--;
      return false;
    }
    const match = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(String(req.headers.authorization || ''));
    if (!match) return false;
    const [, header64, payload64, signature64] = match;
    const header = parseJson(Buffer.from(header64, 'base64url').toString('utf8'));
    const claims = parseJson(Buffer.from(payload64, 'base64url').toString('utf8'));
    if (!header || !claims || header.alg !== 'RS256') return false;
    const key = await keyFor(header.kid);
    if (!key || !crypto.verify('sha256', Buffer.from(`${header64}.${payload64}`), key, Buffer.from(signature64, 'base64url'))) return false;
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    return claims.iss === issuer && audiences.includes(audience) && Number(claims.exp) > Date.now() / 1000 &&
      typeof claims.sub === 'string' && claims.sub.endsWith('@clients');
  }

  // A fixed one-second window; past it, 429 with the seconds until it ends.
  function rateLimited(res) {
    if (!state.rps) return false;
    const second = Math.floor(Date.now() / 1000);
    if (state.window.second !== second) state.window = { second, used: 0 };
    if (++state.window.used <= state.rps) return false;
    error(res, 429, 'too_many_requests', 'Too many requests', { 'retry-after': '1' });
    return true;
  }

  const find = (id) => store.find((u) => u.id === id);

  function verify(res, body) {
    state.counts.requests.verify++;
    if (!body || typeof body.username !== 'string' || typeof body.password !== 'string') {
      return error(res, 400, 'invalid_request', 'username and password are required');
    }
    const name = lower(body.username);
    const found = store.filter((u) => lower(u.email) === name || (u.username !== undefined && lower(u.username) === name));
    if (found.length === 0) return error(res, 404, 'user_not_found', 'No such user');
    if (found.length > 1) return error(res, 500, 'server_error', 'More than one user has this name');
    const [user] = found;
    if (!rightPassword(user, body.password)) return error(res, 403, 'invalid_credentials', 'Wrong username or password');
    if (user.blocked) return error(res, 423, 'user_blocked', 'The user is blocked');
    return reply(res, 200, { user: shown(user) });
  }

  function lookup(res, url) {
    state.counts.requests.users_by_email++;
    const email = url.searchParams.get('email');
    if (email === null) return error(res, 400, 'invalid_request', 'email is required');
    return reply(res, 200, { users: store.filter((u) => lower(u.email) === lower(email)).map(shown) });
  }

  function mark(res, user, body) {
    state.counts.requests.mark++;
    if (!user) return error(res, 404, 'user_not_found', 'No such user');
    if (!body || typeof body.migrated_at !== 'string' || !RFC3339.test(body.migrated_at)) {
      return error(res, 400, 'invalid_request', 'migrated_at must be an RFC 3339 time');
    }
    if (user.migrated_at && Date.parse(user.migrated_at) !== Date.parse(body.migrated_at)) {
      return reply(res, 409, { error: 'already_migrated', error_description: 'Marked before', user: shown(user) });
    }
    if (!user.migrated_at) user.migrated_at = body.migrated_at;
    return reply(res, 200, { user: shown(user) });
  }

  function unmark(res, user, body) {
    state.counts.requests.unmark++;
    if (!user) return error(res, 404, 'user_not_found', 'No such user');
    if (!body || typeof body.expected_migrated_at !== 'string') return error(res, 400, 'invalid_request', 'expected_migrated_at is required');
    if (!user.migrated_at || user.migrated_at !== body.expected_migrated_at) {
      return reply(res, 409, { error: 'marker_changed', error_description: 'The marker is not the one expected', user: shown(user) });
    }
    user.migrated_at = null;
    return reply(res, 200, { user: shown(user) });
  }

  async function route(req, res, url, path) {
    const userPath = /^\/users\/([^/]+)(\/migrated)?$/.exec(path);
    const body = req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE' ? parseJson(await readBody(req)) : null;
    if (path === '/users/verify' && req.method === 'POST') return verify(res, body);
    if (path === '/users' && req.method === 'GET') return lookup(res, url);
    if (userPath && !userPath[2] && req.method === 'GET') {
      state.counts.requests.get_user++;
      const user = find(decodeURIComponent(userPath[1]));
      return user ? reply(res, 200, { user: shown(user) }) : error(res, 404, 'user_not_found', 'No such user');
    }
    if (userPath && userPath[2] && req.method === 'PUT') return mark(res, find(decodeURIComponent(userPath[1])), body);
    if (userPath && userPath[2] && req.method === 'DELETE') return unmark(res, find(decodeURIComponent(userPath[1])), body);
    return error(res, 404, 'not_found', 'Not Found');
  }

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      if (!url.pathname.startsWith(basePath + '/')) return error(res, 404, 'not_found', 'Not Found');
      const path = url.pathname.slice(basePath.length);
      state.counts.total++;
      if (await faulted(req, res, url.pathname)) return;
      if (rateLimited(res)) return;
      let valid;
      try {
        valid = await validToken(req);
      } catch (unreachable) {
        keys = null;
        return error(res, 503, 'temporarily_unavailable', 'The token issuer\'s keys cannot be read');
      }
      if (!valid) {
        state.counts.invalid_tokens++;
        return error(res, 401, 'invalid_token', 'The access token is missing, invalid or expired', {
          'www-authenticate': 'Bearer error="invalid_token"',
        });
      }
      return await route(req, res, url, path);
    } catch (bug) {
      return error(res, 500, 'server_error', String(bug && bug.message));
    }
  });
  const origin = await listen(server);
  return { server, state, store, origin };
}

/**
 * Starts both services on 127.0.0.1.
 * @param {object} options
 * @param {object[]} options.users the store's users: the contract's `User` fields plus `password` (plain text)
 * @param {{client_id, client_secret, granted?: boolean, scope?: string[], actionSecrets?: object}[]} options.clients
 *   the new tenant's applications; `granted`: allowed tokens for the API
 * @param {string} options.audience the API's identifier
 * @param {string} [options.basePath] where the API lives on its origin
 * @param {number} [options.tokenLifetime] seconds
 * @param {object[]} [options.credentialsExchange] loaded credentials-exchange Actions the token endpoint runs
 */
async function startLegacyStandIn({ users = [], clients = [], audience, basePath = '/auth0-migration', tokenLifetime = 86400, credentialsExchange = [] }) {
  const tenant = await startTenant({ clients, audience, tokenLifetime, credentialsExchange });
  const api = await startApi({ users, issuer: tenant.baseUrl + '/', audience, basePath });
  const faultsFor = (service) => (faults) => {
    service.state.faults = { ...NO_FAULTS, ...faults };
  };
  return {
    /** The new tenant's domain (the scripts' `domain` setting). */
    domain: tenant.baseUrl,
    /** The API's base URL (`api_url`). */
    apiUrl: api.origin + basePath,
    audience,
    /** Every user as the API shows them. */
    users: async () => api.store.map(shown),
    /** `{ total, requests: { verify, users_by_email, get_user, mark, unmark }, invalid_tokens, jwks_fetches }` */
    stats: async () => structuredClone(api.state.counts),
    resetStats: async () => {
      api.state.counts.total = 0;
      for (const key of Object.keys(api.state.counts.requests)) api.state.counts.requests[key] = 0;
      api.state.counts.invalid_tokens = 0;
    },
    /** Client-credentials tokens the new tenant issued (and requests the flow denied). */
    tokens: async () => ({ issued: tenant.state.tokens, denied: tenant.state.denied }),
    /** The emulators' fault vocabulary, for the API (`setTenantFaults`: the token endpoint). */
    setFaults: async (faults) => faultsFor(api)(faults),
    setTenantFaults: async (faults) => faultsFor(tenant)(faults),
    /** Requests per second the API takes before 429 (0: no limit). */
    setRateLimit: async (rps) => {
      api.state.rps = rps;
    },
    /** The next `n` API requests get 401 invalid_token, whatever their token. */
    rejectTokens: async (n) => {
      api.state.rejectNext = n;
    },
    /** A token of this tenant with these claims (expired, other audience, …), for the API's checks. */
    signToken: (claims) => tenant.sign(claims),
    close: async () => {
      await Promise.all([close(api.server), close(tenant.server)]);
    },
  };
}

module.exports = { startLegacyStandIn };
