'use strict';
// A model of the NEW tenant's custom-database connection in import mode:
// what Auth0 does around the `login` and `get_user` scripts. Users already
// imported are served from its own store and never reach the scripts; the
// others are asked of the scripts, and a successful login (or a password
// reset of a user get_user knows) creates the user from the returned
// profile, with `auth0|` put before the returned user_id as Auth0 does.

const crypto = require('node:crypto');
const { call } = require('./sandbox');

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
   */
  constructor({ login, getUser }) {
    this.scripts = { login, getUser };
    /** user_id ("auth0|…") → { user_id, profile, password: {salt, hash}, source } */
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

  // As Auth0 stores a profile a script returned.
  create(profile, password, source) {
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
    const user = { user_id: userId, profile: { ...profile, email: profile.email.toLowerCase() }, password: hashPassword(password), source };
    this.users.set(userId, user);
    return user;
  }

  /**
   * A login. Resolves `{ user, migrated }`, or rejects with the error the
   * script (or the store) gave.
   */
  async login(email, password) {
    const existing = this.findByEmail(email);
    if (existing) {
      if (!checkPassword(existing.password, password)) throw new TenantError('invalid_password', 'Wrong email or password.');
      return { user: existing, migrated: false };
    }
    const { error, profile } = await this.runScript('login', email, password);
    if (error) throw error;
    return { user: this.create(profile, password, 'login'), migrated: true };
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
