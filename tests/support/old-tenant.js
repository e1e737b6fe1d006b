'use strict';
// A local stand-in for the OLD Auth0 tenant: the endpoints the generated
// scripts call, answering as Auth0 documents them (status codes, bodies,
// rate-limit headers), with request counters and an outage switch.

const crypto = require('node:crypto');
const http = require('node:http');

const PASSWORD_REALM_GRANT = 'http://auth0.com/oauth/grant-type/password-realm';
const DEFAULT_REALM = 'Username-Password-Authentication';
const MANAGEMENT_TOKEN_LIFETIME_S = 86400;
const RATE_LIMIT = 50;

const base64url = (value) => Buffer.from(value).toString('base64url');

/** The counters, one per endpoint (plus every request, and those refused by an outage). */
function emptyCounts() {
  return {
    total: 0,
    outage: 0,
    tokenPassword: 0,
    tokenClientCredentials: 0,
    tokenOther: 0,
    getUser: 0,
    usersByEmail: 0,
    patchUser: 0,
    notFound: 0,
  };
}

/**
 * A seeded user: `{id, email, password, realm?, email_verified?, name?,
 * nickname?, picture?, app_metadata?, user_metadata?, blocked?}`.
 * Stored the way Auth0 stores it: email lower-cased, root id `auth0|<id>`.
 */
function storedUser(seed) {
  const realm = seed.realm || DEFAULT_REALM;
  const now = new Date().toISOString();
  const user = {
    user_id: 'auth0|' + seed.id,
    email: String(seed.email).toLowerCase(),
    email_verified: Boolean(seed.email_verified),
    name: seed.name !== undefined ? seed.name : seed.email,
    nickname: seed.nickname !== undefined ? seed.nickname : String(seed.email).split('@')[0],
    picture: seed.picture !== undefined ? seed.picture : 'https://s.gravatar.com/avatar/00000000000000000000000000000000?s=480&r=pg&d=mp',
    identities: [{ provider: 'auth0', connection: realm, user_id: String(seed.id), isSocial: false }],
    app_metadata: structuredClone(seed.app_metadata || {}),
    user_metadata: structuredClone(seed.user_metadata || {}),
    created_at: seed.created_at || now,
    updated_at: now,
    last_login: seed.last_login || now,
    last_ip: '203.0.113.7',
    logins_count: seed.logins_count || 1,
  };
  if (seed.blocked) user.blocked = true;
  return { user, password: seed.password, realm };
}

// app_metadata / user_metadata PATCH semantics: merged at the top level,
// a key set to null is removed.
function mergeMetadata(current, patch) {
  const merged = { ...(current || {}) };
  for (const [key, value] of Object.entries(patch || {})) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

// A Management API error body for a status.
function errorBody(status) {
  return { statusCode: status, error: http.STATUS_CODES[status] || 'Error', message: http.STATUS_CODES[status] || 'Error' };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// The token endpoint takes JSON or a form.
function parseTokenRequest(req, text) {
  const type = String(req.headers['content-type'] || '');
  if (type.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? parsed : null;
  } catch (notJson) {
    return null;
  }
}

/**
 * Starts the stand-in on 127.0.0.1 and a free port.
 * @param {{users?: object[], clients?: {client_id: string, client_secret: string}[]}} options
 * @returns {Promise<{baseUrl: string, counts: object, requests: object[], users: Map,
 *   setOutage(mode: false|'503'|'destroy'): void, resetCounts(): void, close(): Promise<void>}>}
 */
async function startOldTenant({ users = [], clients = [] } = {}) {
  const byId = new Map(); // raw id -> {user, password, realm}
  for (const seed of users) byId.set(String(seed.id), storedUser(seed));
  const managementTokens = new Map(); // access_token -> expiry (ms)
  const counts = emptyCounts();
  const requests = []; // {method, path}, for debugging failures
  let outage = false;
  let interceptor = null;
  let rateRemaining = RATE_LIMIT;
  let baseUrl = '';

  const send = (res, status, body, headers = {}) => {
    if (res.trickleLoseAnswer) {
      // The request was carried out; its answer never arrives.
      res.socket.destroy();
      return;
    }
    if (res.trickleAnswerWith) {
      // The request was carried out; another answer arrives (a proxy's 408, say).
      const { status: replaced, headers: extra } = res.trickleAnswerWith;
      res.trickleAnswerWith = null;
      return send(res, replaced, errorBody(replaced), extra);
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  // Every Management API answer carries the rate-limit headers.
  const rateLimitHeaders = () => {
    rateRemaining = rateRemaining > 0 ? rateRemaining - 1 : RATE_LIMIT - 1;
    return {
      'x-ratelimit-limit': String(RATE_LIMIT),
      'x-ratelimit-remaining': String(rateRemaining),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 1),
    };
  };
  const sendManagement = (res, status, body) => send(res, status, body, rateLimitHeaders());
  const managementError = (res, status, error, message, errorCode) =>
    sendManagement(res, status, { statusCode: status, error, message, ...(errorCode ? { errorCode } : {}) });

  const clientOf = (body) =>
    clients.find((c) => c.client_id === body.client_id && c.client_secret === body.client_secret);

  function idToken(stored, client) {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = base64url(JSON.stringify({
      iss: baseUrl + '/',
      sub: stored.user.user_id,
      aud: client.client_id,
      iat: now,
      exp: now + 36000,
      email: stored.user.email,
      email_verified: stored.user.email_verified,
    }));
    const signature = crypto.createHmac('sha256', client.client_secret).update(header + '.' + payload).digest('base64url');
    return `${header}.${payload}.${signature}`;
  }

  function handleToken(req, res, body) {
    if (!body) return send(res, 400, { error: 'invalid_request', error_description: 'Invalid request body' });
    if (body.grant_type === PASSWORD_REALM_GRANT) counts.tokenPassword++;
    else if (body.grant_type === 'client_credentials') counts.tokenClientCredentials++;
    else counts.tokenOther++;

    const client = clientOf(body);
    if (!client) return send(res, 401, { error: 'invalid_client', error_description: 'Unauthorized' });

    if (body.grant_type === 'client_credentials') {
      if (body.audience !== baseUrl + '/api/v2/') {
        return send(res, 403, { error: 'access_denied', error_description: `Service not found: ${body.audience}` });
      }
      const token = crypto.randomBytes(24).toString('hex');
      managementTokens.set(token, Date.now() + MANAGEMENT_TOKEN_LIFETIME_S * 1000);
      return send(res, 200, {
        access_token: token,
        expires_in: MANAGEMENT_TOKEN_LIFETIME_S,
        token_type: 'Bearer',
        scope: 'read:users update:users',
      });
    }

    if (body.grant_type === PASSWORD_REALM_GRANT) {
      const realm = body.realm;
      if (!realm || ![...byId.values()].some((s) => s.realm === realm)) {
        return send(res, 400, { error: 'invalid_request', error_description: 'Unknown or invalid realm' });
      }
      const username = String(body.username || '').toLowerCase();
      const stored = [...byId.values()].find((s) => s.realm === realm && s.user.email === username);
      if (!stored || typeof body.password !== 'string' || stored.password !== body.password) {
        return send(res, 403, { error: 'invalid_grant', error_description: 'Wrong email or password.' });
      }
      if (stored.user.blocked) return send(res, 401, { error: 'unauthorized', error_description: 'user is blocked' });
      stored.user.logins_count++;
      stored.user.last_login = new Date().toISOString();
      return send(res, 200, {
        access_token: crypto.randomBytes(24).toString('hex'),
        id_token: idToken(stored, client),
        scope: 'openid',
        expires_in: 86400,
        token_type: 'Bearer',
      });
    }

    return send(res, 403, { error: 'unsupported_grant_type', error_description: 'Unsupported grant type' });
  }

  function authorized(req) {
    const match = /^Bearer (.+)$/.exec(String(req.headers.authorization || ''));
    const expiry = match && managementTokens.get(match[1]);
    return Boolean(expiry && expiry > Date.now());
  }

  async function handleManagement(req, res, url) {
    const userPath = /^\/api\/v2\/users\/([^/]+)$/.exec(url.pathname);
    const isByEmail = url.pathname === '/api/v2/users-by-email';
    if (isByEmail && req.method === 'GET') counts.usersByEmail++;
    else if (userPath && req.method === 'GET') counts.getUser++;
    else if (userPath && req.method === 'PATCH') counts.patchUser++;
    else {
      counts.notFound++;
      return managementError(res, 404, 'Not Found', 'Not Found');
    }

    if (!req.headers.authorization) {
      return managementError(res, 401, 'Unauthorized', 'Missing authentication');
    }
    if (!authorized(req)) return managementError(res, 401, 'Unauthorized', 'Invalid token');

    if (isByEmail) {
      const email = url.searchParams.get('email');
      if (!email) {
        return managementError(res, 400, 'Bad Request', 'Query validation error: Missing required property: email', 'invalid_query_string');
      }
      // Exact and case-sensitive, as the real endpoint.
      const found = [...byId.values()].filter((s) => s.user.email === email).map((s) => s.user);
      return sendManagement(res, 200, found);
    }

    const id = decodeURIComponent(userPath[1]);
    const stored = [...byId.values()].find((s) => s.user.user_id === id);
    if (!stored) return managementError(res, 404, 'Not Found', 'The user does not exist.', 'inexistent_user');

    if (req.method === 'PATCH') {
      let patch;
      try {
        patch = JSON.parse(req.trickleBody);
      } catch (notJson) {
        return managementError(res, 400, 'Bad Request', 'Invalid request payload JSON format');
      }
      for (const [key, value] of Object.entries(patch || {})) {
        if (key === 'app_metadata' || key === 'user_metadata') stored.user[key] = mergeMetadata(stored.user[key], value);
        else stored.user[key] = value;
      }
      stored.user.updated_at = new Date().toISOString();
    }
    return sendManagement(res, 200, stored.user);
  }

  const server = http.createServer(async (req, res) => {
    counts.total++;
    requests.push({ method: req.method, path: req.url });
    if (outage === 'destroy') {
      counts.outage++;
      req.socket.destroy();
      return;
    }
    if (outage) {
      counts.outage++;
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body><h1>503 Service Unavailable</h1></body></html>');
      return;
    }
    try {
      const url = new URL(req.url, baseUrl);
      const body = req.method === 'POST' || req.method === 'PATCH' ? await readBody(req) : '';
      const intercepted = interceptor && interceptor({ method: req.method, path: url.pathname, body: req.method === 'POST' ? parseTokenRequest(req, body) : null });
      if (intercepted === 'drop') {
        req.socket.destroy();
        return;
      }
      if (intercepted && intercepted.status) {
        // A 429 resets at the current second unless told otherwise (a short wait).
        const headers = intercepted.status === 429 ? { 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000)), ...intercepted.headers } : intercepted.headers;
        if (!intercepted.carryOut) return send(res, intercepted.status, errorBody(intercepted.status), headers);
        res.trickleAnswerWith = { status: intercepted.status, headers };
      }
      if (intercepted && intercepted.redirect) {
        res.writeHead(intercepted.redirect, { location: intercepted.location, 'content-length': 0 });
        res.end();
        return;
      }
      if (intercepted === 'lose-answer') res.trickleLoseAnswer = true;
      req.trickleBody = body;
      if (url.pathname === '/oauth/token' && req.method === 'POST') {
        handleToken(req, res, parseTokenRequest(req, body));
      } else if (url.pathname.startsWith('/api/v2/')) {
        await handleManagement(req, res, url);
      } else {
        counts.notFound++;
        send(res, 404, { statusCode: 404, error: 'Not Found', message: 'Not Found' });
      }
    } catch (bug) {
      send(res, 500, { statusCode: 500, error: 'Internal Server Error', message: String(bug && bug.stack) });
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  baseUrl = `http://127.0.0.1:${server.address().port}`;

  return {
    baseUrl,
    counts,
    requests,
    /** The stored users by raw id, to inspect or change in a test. */
    users: byId,
    /** false: normal; '503': every request answers 503; 'destroy': every socket is cut. */
    setOutage(mode) {
      outage = mode || false;
    },
    /**
     * `fn({method, path, body})` decides, per request: undefined (serve it),
     * 'drop' (cut the connection, do nothing), 'lose-answer' (do it, then cut
     * the connection instead of answering), `{redirect: 307, location}`, or
     * `{status, headers?, carryOut?}` (answer that status with an error body,
     * having done the request first when `carryOut`; a 429's
     * x-ratelimit-reset is the current second unless `headers` say).
     * `null` turns it off.
     */
    setInterceptor(fn) {
      interceptor = fn || null;
    },
    resetCounts() {
      Object.assign(counts, emptyCounts());
      requests.length = 0;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        // fetch keeps connections alive; without this close waits for them.
        if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
      });
    },
  };
}

module.exports = { startOldTenant, PASSWORD_REALM_GRANT, DEFAULT_REALM };
