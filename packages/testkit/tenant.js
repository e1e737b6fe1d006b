'use strict';
// A model of the NEW tenant's custom-database connection in import mode:
// what Auth0 does around the `login` and `get_user` scripts. Users already
// imported are served from its own store and never reach the scripts; the
// others are asked of the scripts, and a successful login (or a password
// reset of a user get_user knows) creates the user from the returned
// profile, with `auth0|` put before the returned user_id as Auth0 does.
// Post-login Actions, when given, run after every login (migrated or not),
// and what they set is applied to the stored user at the end of the flow.

const crypto = require('node:crypto');
const { call } = require('./sandbox');
const { postLoginEvent, runPostLogin, applyMetadata } = require('./action');

// The store keeps a salted hash, never the password. A fast one: this is a
// test model, and hundreds of users are migrated in a test.
function hashPassword(password, salt = crypto.randomBytes(16).toString('hex')) {
  return { salt, hash: crypto.createHmac('sha256', salt).update(String(password)).digest('hex') };
}

function checkPassword(stored, password) {
  const candidate = hashPassword(password, stored.salt).hash;
  return crypto.timingSafeEqual(Buffer.from(candidate, 'hex'), Buffer.from(stored.hash, 'hex'));
}

class TenantError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'TenantError';
    this.code = code;
  }
}

class ImportModeTenant {
  /**
   * @param {{login: {fn: Function}, getUser: {fn: Function}}} scripts loaded
   *   with `loadScript` or `Container#load`.
   * @param {object} [options.connection] `{ name, id }` of the connection (for Actions' `event.connection`)
   * @param {object[]} [options.postLogin] post-login Actions (from `loadAction`), run in order after each login
   * @param {object} [options.secrets] the Actions' secrets (`event.secrets`)
   */
  constructor({ login, getUser, connection = { name: 'testkit-import' }, postLogin = [], secrets = {} }) {
    this.scripts = { login, getUser };
    this.connection = connection;
    this.postLogin = postLogin;
    this.secrets = secrets;
    /** Every post-login execution: { user_id, recorded, error, ms } */
    this.actionRuns = [];
    /** user_id ("auth0|…") → { user_id, profile, password: {salt, hash}, source, created_at } */
    this.users = new Map();
    /** Every script call made, in order: { script, args }. */
    this.scriptCalls = [];
  }

  findByEmail(email) {
    const wanted = String(email).toLowerCase();
    for (const user of this.users.values()) if (user.profile.email === wanted) return user;
    return undefined;
  }

  async runScript(name, ...args) {
    this.scriptCalls.push({ script: name, args: args.length > 1 ? [args[0], '<password>'] : args });
    return call(this.scripts[name].fn, ...args);
  }

  // As Auth0 stores a profile a script returned; `withoutMetadata` when the
  // flow was interrupted after the password POST (credentials stored, the
  // metadata not: Auth0 stores it only at the login callback).
  create(profile, password, source, { withoutMetadata = false } = {}) {
    if (!profile || typeof profile.user_id !== 'string' || !profile.user_id) {
      throw new TenantError('invalid_profile', 'the script returned a profile without user_id');
    }
    if (typeof profile.email !== 'string' || !profile.email) {
      throw new TenantError('invalid_profile', 'the script returned a profile without email');
    }
    const userId = 'auth0|' + profile.user_id;
    if (this.users.has(userId) || this.findByEmail(profile.email)) {
      throw new TenantError('user_exists', `the user ${userId} already exists`);
    }
    const metadata = (value) => (value && typeof value === 'object' && !withoutMetadata ? JSON.parse(JSON.stringify(value)) : {});
    const user = {
      user_id: userId,
      profile: { ...profile, email: profile.email.toLowerCase() },
      app_metadata: metadata(profile.app_metadata !== undefined ? profile.app_metadata : profile.metadata),
      user_metadata: metadata(profile.user_metadata),
      password: hashPassword(password),
      source,
      created_at: new Date().toISOString(),
    };
    this.users.set(userId, user);
    return user;
  }

  /** The user as the Management API (and an Action's `event.user`) shows it. */
  view(user) {
    const { metadata, app_metadata, user_metadata, user_id, ...fields } = user.profile;
    return { ...fields, user_id: user.user_id, created_at: user.created_at, app_metadata: user.app_metadata, user_metadata: user.user_metadata };
  }

  // The post-login flow: each Action in turn; a failing or denying one fails the login.
  async runPostLogin(user) {
    for (const action of this.postLogin) {
      const event = postLoginEvent({ user: this.view(user), connection: this.connection, secrets: this.secrets });
      const run = await runPostLogin(action, event);
      this.actionRuns.push({ user_id: user.user_id, ...run });
      if (run.error) throw run.error;
      if (run.recorded.denied !== null) throw new TenantError('access_denied', run.recorded.denied);
      applyMetadata(user, run.recorded);
    }
  }

  /**
   * A login. Resolves `{ user, migrated }`, or rejects with the error the
   * script (or the store, or a post-login Action) gave. With `interrupted`,
   * the flow breaks right after the password POST: a user the script
   * migrates is stored without metadata, and no Action runs.
   */
  async login(email, password, { interrupted = false } = {}) {
    const existing = this.findByEmail(email);
    if (existing) {
      if (!checkPassword(existing.password, password)) throw new TenantError('invalid_password', 'Wrong email or password.');
      if (!interrupted) await this.runPostLogin(existing);
      return { user: existing, migrated: false };
    }
    const { error, profile } = await this.runScript('login', email, password);
    if (error) throw error;
    const user = this.create(profile, password, 'login', { withoutMetadata: interrupted });
    if (!interrupted) await this.runPostLogin(user);
    return { user, migrated: true };
  }

  /**
   * A password reset completed with `newPassword`: an unknown user is asked
   * of get_user and created from its profile. Rejects when nobody has it.
   */
  async changePassword(email, newPassword) {
    const existing = this.findByEmail(email);
    if (existing) {
      existing.password = hashPassword(newPassword);
      return { user: existing, migrated: false };
    }
    const { error, profile } = await this.runScript('getUser', email);
    if (error) throw error;
    if (!profile) throw new TenantError('user_not_found', 'no such user');
    return { user: this.create(profile, newPassword, 'get_user'), migrated: true };
  }

  /**
   * A sign-up: refused when the email exists here or in the old store (as
   * get_user says); otherwise a new user that did not come from the old store.
   */
  async signUp(email, password) {
    if (this.findByEmail(email)) throw new TenantError('user_exists', 'The user already exists.');
    const { error, profile } = await this.runScript('getUser', email);
    if (error) throw error;
    if (profile) throw new TenantError('user_exists', 'The user already exists.');
    const id = crypto.randomBytes(12).toString('hex');
    return { user: this.create({ user_id: id, email: String(email) }, password, 'signup'), migrated: false };
  }

  deleteUser(email) {
    const existing = this.findByEmail(email);
    if (existing) this.users.delete(existing.user_id);
    return Boolean(existing);
  }
}

module.exports = { ImportModeTenant, TenantError };
