'use strict';
// A fake of the Management API endpoints deploy-cli calls for databases,
// Actions and trigger bindings, over HTTPS on loopback (deploy-cli only
// speaks https; the certificate in tls/ is a public test certificate),
// answering as Auth0's documentation describes them:
//   POST /oauth/token (client credentials, audience https://<host>/api/v2/)
//   GET  /api/v2/connections (checkpoint paging: take/from → {connections, next})
//   POST /api/v2/connections, GET|PATCH /api/v2/connections/{id}
//        (PATCH replaces `options` whole, as documented: "the whole options
//        object will be overridden"; settings are answered encrypted and a
//        value sent back as it was answered keeps the stored one)
//   GET|PATCH /api/v2/connections/{id}/clients ({clients, next} / [{client_id, status}] → 204)
//   GET  /api/v2/clients (page/per_page, include_totals)
//   GET|POST /api/v2/actions/actions, PATCH /api/v2/actions/actions/{id},
//   POST /api/v2/actions/actions/{id}/deploy, GET /api/v2/actions/modules
//   GET  /api/v2/actions/triggers, GET|PATCH /api/v2/actions/triggers/{id}/bindings
//        (PATCH replaces the trigger's whole list)
// Anything else is a 404 with Auth0's error body. Every request is recorded.

const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const TLS = { key: fs.readFileSync(path.join(__dirname, 'tls', 'key.pem')), cert: fs.readFileSync(path.join(__dirname, 'tls', 'cert.pem')) };
const CA_FILE = path.join(__dirname, 'tls', 'cert.pem');

const TRIGGERS = ['post-login', 'credentials-exchange', 'pre-user-registration', 'post-user-registration', 'post-change-password', 'send-phone-message'];

function apiError(statusCode, message, errorCode) {
  const error = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict' }[statusCode];
  return { status: statusCode, body: { statusCode, error, message, ...(errorCode ? { errorCode } : {}) } };
}

class FakeManagementApi {
  constructor({ clients = [] } = {}) {
    this.clientId = 'deploy-cli-client';
    this.clientSecret = 'deploy-cli-secret';
    this.token = crypto.randomBytes(24).toString('hex');
    this.clients = clients.map((c) => ({ client_id: c.client_id, name: c.name, app_type: 'regular_web' }));
    this.connections = new Map(); // id → { id, name, strategy, options, settings: {plain}, enabled: Set }
    this.actions = new Map(); // id → action
    this.bindings = Object.fromEntries(TRIGGERS.map((t) => [t, []]));
    this.requests = []; // { method, path, query, body }
    this.key = crypto.randomBytes(16);
  }

  async start() {
    this.server = https.createServer(TLS, (req, res) => this.handle(req, res));
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.domain = `127.0.0.1:${this.server.address().port}`;
    return this;
  }

  close() {
    return new Promise((resolve) => this.server.close(resolve));
  }

  handle(req, res) {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const url = new URL(req.url, `https://${this.domain}`);
      let body;
      try {
        const form = /^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || '');
        body = !raw ? undefined : form ? Object.fromEntries(new URLSearchParams(raw)) : JSON.parse(raw);
      } catch (notJson) {
        return this.reply(res, apiError(400, 'Invalid request payload JSON format'));
      }
      const record = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body, at: Date.now() };
      this.requests.push(record);
      let answer;
      try {
        answer = this.route(req, url, body);
      } catch (error) {
        answer = { status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: String(error && error.stack) } };
      }
      record.status = answer.status;
      this.reply(res, answer);
    });
  }

  reply(res, { status, body }) {
    if (body === undefined) {
      res.writeHead(status);
      return res.end();
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  route(req, url, body) {
    const m = req.method;
    const p = url.pathname;
    if (m === 'POST' && p === '/oauth/token') return this.tokenEndpoint(body);
    if (!p.startsWith('/api/v2/')) return apiError(404, 'Not Found');
    if (req.headers.authorization !== `Bearer ${this.token}`) return apiError(401, 'Invalid token', 'invalid_token');
    const q = url.searchParams;
    let match;
    if (p === '/api/v2/connections') {
      if (m === 'GET') return this.listConnections(q);
      if (m === 'POST') return this.createConnection(body);
    }
    if ((match = /^\/api\/v2\/connections\/([^/]+)$/.exec(p))) {
      const connection = this.connections.get(decodeURIComponent(match[1]));
      if (!connection) return apiError(404, 'The connection does not exist', 'inexistent_connection');
      if (m === 'GET') return { status: 200, body: this.showConnection(connection) };
      if (m === 'PATCH') return this.updateConnection(connection, body);
    }
    if ((match = /^\/api\/v2\/connections\/([^/]+)\/clients$/.exec(p))) {
      const connection = this.connections.get(decodeURIComponent(match[1]));
      if (!connection) return apiError(404, 'The connection does not exist', 'inexistent_connection');
      if (m === 'GET') return { status: 200, body: { clients: [...connection.enabled].map((client_id) => ({ client_id })) } };
      if (m === 'PATCH') {
        if (!Array.isArray(body)) return apiError(400, 'Payload validation error: expected an array');
        for (const { client_id, status } of body) {
          if (!this.clients.some((c) => c.client_id === client_id)) return apiError(404, `Client ${client_id} not found`);
          if (status) connection.enabled.add(client_id);
          else connection.enabled.delete(client_id);
        }
        return { status: 204 };
      }
    }
    if (p === '/api/v2/clients' && m === 'GET') return this.paged(q, 'clients', this.clients);
    if (p === '/api/v2/actions/actions') {
      if (m === 'GET') return this.paged(q, 'actions', [...this.actions.values()].map((a) => this.showAction(a)), { totals: true });
      if (m === 'POST') return this.createAction(body);
    }
    if ((match = /^\/api\/v2\/actions\/actions\/([^/]+)(\/deploy)?$/.exec(p))) {
      const action = this.actions.get(decodeURIComponent(match[1]));
      if (!action) return apiError(404, 'That action does not exist.');
      if (match[2] && m === 'POST') return this.deployAction(action);
      if (!match[2] && m === 'GET') return { status: 200, body: this.showAction(action) };
      if (!match[2] && m === 'PATCH') return this.updateAction(action, body);
    }
    if (p === '/api/v2/actions/modules' && m === 'GET') return { status: 200, body: { modules: [], total: 0, page: 0, per_page: 50 } };
    if (p === '/api/v2/actions/triggers' && m === 'GET') {
      return { status: 200, body: { triggers: TRIGGERS.map((id) => ({ id, version: 'v3', status: 'CURRENT', runtimes: ['node18', 'node22'], default_runtime: 'node22' })) } };
    }
    if ((match = /^\/api\/v2\/actions\/triggers\/([^/]+)\/bindings$/.exec(p))) {
      const trigger = decodeURIComponent(match[1]);
      if (!this.bindings[trigger]) return apiError(404, 'That trigger does not exist.');
      if (m === 'GET') return this.paged(q, 'bindings', this.bindings[trigger].map((b) => this.showBinding(trigger, b)), { totals: true });
      if (m === 'PATCH') return this.updateBindings(trigger, body);
    }
    return apiError(404, 'Not Found');
  }

  tokenEndpoint(body) {
    if (!body || body.client_id !== this.clientId || body.client_secret !== this.clientSecret) {
      return { status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } };
    }
    if (body.audience !== `https://${this.domain}/api/v2/`) {
      return { status: 403, body: { error: 'access_denied', error_description: `Service not enabled within domain: ${body.audience}` } };
    }
    return { status: 200, body: { access_token: this.token, token_type: 'Bearer', expires_in: 86400, scope: 'read:connections update:connections create:connections read:clients read:actions create:actions update:actions' } };
  }

  // Page paging (page, per_page, include_totals) as the Management API lists.
  paged(q, name, items, { totals = false } = {}) {
    const perPage = Number(q.get('per_page') || 50);
    const page = Number(q.get('page') || 0);
    const slice = items.slice(page * perPage, (page + 1) * perPage);
    if (q.get('include_totals') === 'true' || totals) {
      return { status: 200, body: { [name]: slice, start: page * perPage, limit: perPage, total: items.length, page, per_page: perPage } };
    }
    return { status: 200, body: slice };
  }

  listConnections(q) {
    let list = [...this.connections.values()];
    const strategies = q.getAll('strategy');
    if (strategies.length) list = list.filter((c) => strategies.includes(c.strategy));
    if (q.get('name')) list = list.filter((c) => c.name === q.get('name'));
    const take = Number(q.get('take') || 50);
    const from = q.get('from');
    const start = from ? list.findIndex((c) => c.id === from) : 0;
    const page = list.slice(Math.max(start, 0), Math.max(start, 0) + take);
    const next = list[Math.max(start, 0) + take];
    return { status: 200, body: { connections: page.map((c) => this.showConnection(c)), ...(next ? { next: next.id } : {}) } };
  }

  // Settings are shown encrypted (never in clear), as the Management API does.
  encrypt(connection, name, value) {
    return '2.0$' + crypto.createHmac('sha256', this.key).update(`${connection.id}:${name}:${value}`).digest('base64url');
  }

  showConnection(connection) {
    const options = JSON.parse(JSON.stringify(connection.options));
    if (connection.settings) {
      options.configuration = Object.fromEntries(Object.entries(connection.settings).map(([k, v]) => [k, this.encrypt(connection, k, v)]));
    }
    return { id: connection.id, name: connection.name, strategy: connection.strategy, options, realms: [connection.name], is_domain_connection: false };
  }

  // The settings a write leaves: a value sent back as it was shown keeps the stored one.
  settingsFrom(connection, configuration) {
    if (configuration === undefined) return undefined;
    const settings = {};
    for (const [name, value] of Object.entries(configuration || {})) {
      const stored = connection.settings && connection.settings[name];
      settings[name] = stored !== undefined && value === this.encrypt(connection, name, stored) ? stored : value;
    }
    return settings;
  }

  createConnection(body) {
    if (!body || typeof body.name !== 'string' || typeof body.strategy !== 'string') return apiError(400, 'Payload validation error: name and strategy are required');
    if ([...this.connections.values()].some((c) => c.name === body.name)) return apiError(409, 'A connection with the same name already exists', 'connection_conflict');
    const id = 'con_' + crypto.randomBytes(8).toString('hex');
    const { configuration, ...options } = body.options || {};
    const connection = { id, name: body.name, strategy: body.strategy, options, settings: undefined, enabled: new Set(body.enabled_clients || []) };
    connection.settings = this.settingsFrom(connection, configuration);
    this.connections.set(id, connection);
    return { status: 201, body: this.showConnection(connection) };
  }

  updateConnection(connection, body) {
    if (body && (body.name !== undefined || body.strategy !== undefined)) return apiError(400, 'Payload validation error: name and strategy cannot be changed');
    if (body && body.options) {
      const { configuration, ...options } = body.options;
      connection.settings = this.settingsFrom(connection, configuration);
      connection.options = options; // the whole options object is replaced
    }
    if (body && Array.isArray(body.enabled_clients)) connection.enabled = new Set(body.enabled_clients);
    return { status: 200, body: this.showConnection(connection) };
  }

  showAction(action) {
    const { secretValues, ...shown } = action;
    return { ...shown, secrets: Object.keys(secretValues).map((name) => ({ name, updated_at: action.updated_at })) };
  }

  // A secret without a value keeps its stored one (what an export sends back).
  secretsFrom(action, secrets) {
    const values = {};
    for (const secret of secrets || []) {
      if (secret.value !== undefined) values[secret.name] = secret.value;
      else if (action.secretValues[secret.name] !== undefined) values[secret.name] = action.secretValues[secret.name];
    }
    return values;
  }

  createAction(body) {
    if (!body || !body.name || !Array.isArray(body.supported_triggers)) return apiError(400, 'Payload validation error: name and supported_triggers are required');
    if ([...this.actions.values()].some((a) => a.name === body.name)) return apiError(409, 'An action with that name already exists.');
    const now = new Date().toISOString();
    const action = {
      id: crypto.randomUUID(),
      name: body.name,
      supported_triggers: body.supported_triggers,
      code: body.code || '',
      dependencies: body.dependencies || [],
      runtime: body.runtime || 'node22',
      status: 'built',
      all_changes_deployed: false,
      created_at: now,
      updated_at: now,
      secretValues: {},
    };
    action.secretValues = this.secretsFrom(action, body.secrets);
    this.actions.set(action.id, action);
    return { status: 201, body: this.showAction(action) };
  }

  updateAction(action, body) {
    for (const key of ['name', 'supported_triggers', 'code', 'dependencies', 'runtime']) {
      if (body && body[key] !== undefined) action[key] = body[key];
    }
    if (body && body.secrets !== undefined) action.secretValues = this.secretsFrom(action, body.secrets);
    action.updated_at = new Date().toISOString();
    action.all_changes_deployed = false;
    return { status: 200, body: this.showAction(action) };
  }

  deployAction(action) {
    action.all_changes_deployed = true;
    action.deployed = { code: action.code, runtime: action.runtime, secrets: { ...action.secretValues } };
    return { status: 200, body: { id: crypto.randomUUID(), action_id: action.id, code: action.code, runtime: action.runtime, deployed: true, number: 1, status: 'built' } };
  }

  showBinding(trigger, binding) {
    const action = this.actions.get(binding.action_id);
    return { id: binding.id, trigger_id: trigger, display_name: binding.display_name, action: this.showAction(action), created_at: binding.created_at, updated_at: binding.created_at };
  }

  updateBindings(trigger, body) {
    if (!body || !Array.isArray(body.bindings)) return apiError(400, 'Payload validation error: bindings is required');
    const next = [];
    for (const binding of body.bindings) {
      const ref = binding.ref || {};
      const action = [...this.actions.values()].find((a) => (ref.type === 'action_name' ? a.name === ref.value : a.id === ref.value));
      if (!action) return apiError(404, `That action does not exist: ${ref.value}`);
      if (!action.deployed) return apiError(400, `The action ${action.name} has not been deployed`);
      next.push({ id: crypto.randomUUID(), action_id: action.id, display_name: binding.display_name || action.name, created_at: new Date().toISOString() });
    }
    this.bindings[trigger] = next; // the whole list is replaced
    return { status: 200, body: { bindings: next.map((b) => this.showBinding(trigger, b)) } };
  }

  /** A client the tenant holds, for enabled_clients by name. */
  addAction(name, trigger) {
    const created = this.createAction({ name, supported_triggers: [{ id: trigger, version: 'v3' }], code: 'exports.onExecutePostLogin = async () => {};' }).body;
    this.deployAction(this.actions.get(created.id));
    return created.id;
  }
}

module.exports = { FakeManagementApi, CA_FILE };
