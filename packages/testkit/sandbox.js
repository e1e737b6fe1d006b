'use strict';
// Runs a custom-database script file the way Auth0 does: the file is one
// function expression, evaluated in a sandbox that offers only what Auth0's
// runtime offers (configuration, global, the error classes, fetch, Buffer,
// require of Node built-ins, ...). Nothing from this process leaks in.

const fs = require('node:fs');
const util = require('node:util');
const vm = require('node:vm');
const nodeModule = require('node:module');

const CALLBACK_TIMEOUT_MS = 20000; // Auth0 stops a script after about 20 s
const EXTRA_CALL_GRACE_MS = 100; // how long `call` watches for a second callback

// Auth0's error classes. Defined by code run inside the context so that they
// extend that context's Error, like every other error a script creates.
const ERROR_CLASSES = `
  globalThis.WrongUsernameOrPasswordError = class WrongUsernameOrPasswordError extends Error {
    constructor(emailOrId, message) {
      super(message);
      this.name = 'WrongUsernameOrPasswordError';
      this.emailOrId = emailOrId;
    }
  };
  globalThis.ValidationError = class ValidationError extends Error {
    constructor(code, message) {
      super(message);
      this.name = 'ValidationError';
      this.code = code;
    }
  };
  globalThis.UnauthorizedError = class UnauthorizedError extends Error {
    constructor(message) {
      super(message);
      this.name = 'UnauthorizedError';
    }
  };
`;

function isBuiltin(name) {
  if (typeof nodeModule.isBuiltin === 'function') return nodeModule.isBuiltin(name);
  const bare = name.startsWith('node:') ? name.slice(5) : name;
  return nodeModule.builtinModules.includes(bare);
}

// `require` as Auth0 offers it without npm modules: Node built-ins only.
function sandboxRequire(name) {
  if (typeof name !== 'string' || !isBuiltin(name)) {
    throw new Error(`Cannot find module '${name}' (the sandbox offers Node built-ins only)`);
  }
  return require(name);
}

// A console whose every call is kept as one line of text.
function capturingConsole(logs) {
  const record = (level) => (...args) => {
    logs.push(`[${level}] ${util.formatWithOptions({ depth: 8 }, ...args)}`);
  };
  const capture = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir']) capture[level] = record(level);
  return capture;
}

// Comments and white space, which may stand around the function.
const COMMENTS = /^(?:\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/;

// Throws unless `text` is exactly one (named) function, as Auth0 needs,
// comments around it aside, without running any of it: as a script behind
// a leading `throw`, the function declaration is hoisted onto the probe's
// global before the throw, and nothing else runs. V8 keeps a function's
// exact source text, so any code before or after it makes the texts differ.
function checkOneFunction(text) {
  const body = text.slice(COMMENTS.exec(text)[0].length);
  const named = /^function\s+([A-Za-z_$][\w$]*)\s*\(/.exec(body);
  if (!named) throw new Error('the script must start with `function <name>(` (comments aside)');
  // One expression: what Auth0 evaluates (compiled only).
  new vm.Script('(' + text + '\n)');
  const probe = vm.createContext({});
  try {
    vm.runInContext('throw 0;\n' + text, probe);
  } catch (thrown) {
    if (thrown !== 0) throw thrown; // a syntax error in the text
  }
  const fn = probe[named[1]];
  const source = typeof fn === 'function' ? Function.prototype.toString.call(fn) : '';
  const after = body.slice(source.length);
  if (!source || !body.startsWith(source) || COMMENTS.exec(after)[0].length !== after.length) {
    throw new Error('the script has something at top level besides its one function');
  }
}

/**
 * Loads a script file as Auth0 does.
 * @param {string} filePath
 * @param {{configuration?: object, global?: object, fetch?: Function, globals?: object}} [options]
 *   pass the same `global` to several loads to share it, as calls in one
 *   container do; `fetch` replaces the real one (e.g. to replay answers);
 *   `globals` replaces or adds other sandbox globals (e.g. a `WebAssembly`
 *   that injects a fault).
 * @returns {{fn: Function, logs: string[], global: object}}
 */
function loadScript(filePath, { configuration = {}, global: containerGlobal, fetch: fetchImpl = fetch, globals = {} } = {}) {
  const text = fs.readFileSync(filePath, 'utf8');
  checkOneFunction(text);
  // As Auth0 evaluates it; the newline keeps a trailing line comment from
  // swallowing the closing parenthesis.
  const script = new vm.Script('(' + text + '\n)', { filename: filePath });

  const logs = [];
  const sandbox = {
    configuration: Object.freeze({ ...configuration }),
    global: containerGlobal || {},
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
    require: sandboxRequire,
    WebAssembly,
    ...globals,
  };
  const context = vm.createContext(sandbox);
  vm.runInContext(ERROR_CLASSES, context);

  const fn = script.runInContext(context);
  if (typeof fn !== 'function') throw new Error(`the script evaluated to ${typeof fn}, not a function`);
  return { fn, logs, global: sandbox.global };
}

// Callback calls after `call` settled, from any call: a test checks it is empty.
const lateCalls = [];

/**
 * Calls `fn(...args, callback)` and resolves once the callback was called
 * (and no second call came within a short grace period).
 * @returns {Promise<{error: any, profile: any, calls: any[][]}>} `calls` is
 *   every argument list the callback got.
 */
function call(fn, ...args) {
  return new Promise((resolve, reject) => {
    const calls = [];
    let settled = false;
    const settle = (action) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      action();
    };
    const timer = setTimeout(
      () => settle(() => reject(new Error(`the callback was not called within ${CALLBACK_TIMEOUT_MS} ms`))),
      CALLBACK_TIMEOUT_MS,
    );
    const callback = (...callbackArgs) => {
      calls.push(callbackArgs);
      if (settled) {
        lateCalls.push({ name: fn.name, args: callbackArgs });
        return;
      }
      if (calls.length > 1) {
        settle(() => reject(new Error(`the callback was called ${calls.length} times: ${util.inspect(calls)}`)));
        return;
      }
      setTimeout(() => settle(() => resolve({ error: calls[0][0], profile: calls[0][1], calls })), EXTRA_CALL_GRACE_MS);
    };
    try {
      fn(...args, callback);
    } catch (thrown) {
      // Auth0 would fail the request; for a test it is a script bug.
      settle(() => reject(new Error(`the script threw instead of calling back: ${thrown && thrown.stack}`)));
    }
  });
}

/**
 * One Auth0 "container": scripts loaded into it share `global` (the M2M
 * token, the compiled WASM), as calls routed to one container do. `reset()`
 * empties it, as when Auth0 recycles the container.
 */
class Container {
  constructor() {
    this.global = {};
  }

  /** Loads a script file into this container; see `loadScript`. */
  load(filePath, configuration = {}, options = {}) {
    return loadScript(filePath, { ...options, configuration, global: this.global });
  }

  /** Loads a post-login Action file into this container; see `loadAction`. */
  loadAction(filePath, options = {}) {
    return require('./action').loadAction(filePath, { ...options, global: this.global });
  }

  reset() {
    for (const key of Object.keys(this.global)) delete this.global[key];
  }
}

module.exports = { loadScript, call, lateCalls, checkOneFunction, Container };
