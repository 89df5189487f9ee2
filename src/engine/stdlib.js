// The standard library of jsruntime scripts (see stdlib.rs). Evaluated in
// every script context before the script itself; `N` holds the native
// helpers and is taken off the globals at once.
const N = globalThis.__jsrt_native;
delete globalThis.__jsrt_native;

function define(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}

// Bytes of a string (UTF-8), a typed array, a DataView or an ArrayBuffer.
function toBytes(x, what) {
  if (typeof x === 'string') return N.utf8Encode(x);
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw new TypeError(`${what}: expected a string, a typed array or an ArrayBuffer`);
}

// Strings go to the natives as they are (hashed as UTF-8); other data as bytes.
function dataOf(x, what) {
  return typeof x === 'string' ? x : toBytes(x, what);
}

const ENCODINGS = new Set(['hex', 'base64', 'base64url', 'bytes']);

function encodingOf(encoding, what) {
  if (encoding === undefined) return 'hex';
  if (!ENCODINGS.has(encoding)) throw new TypeError(`${what}: the encoding must be 'hex', 'base64', 'base64url' or 'bytes'`);
  return encoding;
}

// ------------------------------------------------------------ URLSearchParams

let relist; // (params, query): the list after its URL's query changed
let attach; // (params, url): updates of params update url's query

class URLSearchParams {
  #list = [];
  #url = null;

  static {
    relist = (p, query) => { p.#list = N.formParse(query.startsWith('?') ? query.slice(1) : query); };
    attach = (p, url) => { p.#url = url; };
  }

  constructor(init) {
    if (init === undefined || init === null) return;
    if (typeof init === 'object' || typeof init === 'function') {
      if (init instanceof URLSearchParams) {
        this.#list = init.#list.map(([k, v]) => [k, v]);
      } else if (typeof init[Symbol.iterator] === 'function') {
        for (const pair of init) {
          const p = [...pair];
          if (p.length !== 2) throw new TypeError('URLSearchParams: each pair must have exactly two items');
          this.#list.push([String(p[0]), String(p[1])]);
        }
      } else {
        for (const k of Object.keys(init)) this.#list.push([k, String(init[k])]);
      }
    } else {
      relist(this, String(init));
    }
  }

  #changed() {
    if (this.#url) setSearch(this.#url, this.toString());
  }

  get size() { return this.#list.length; }
  append(name, value) { this.#list.push([String(name), String(value)]); this.#changed(); }
  delete(name, value) {
    name = String(name);
    this.#list = this.#list.filter(([k, v]) => k !== name || (value !== undefined && v !== String(value)));
    this.#changed();
  }
  get(name) {
    name = String(name);
    const p = this.#list.find(([k]) => k === name);
    return p ? p[1] : null;
  }
  getAll(name) {
    name = String(name);
    return this.#list.filter(([k]) => k === name).map(([, v]) => v);
  }
  has(name, value) {
    name = String(name);
    return this.#list.some(([k, v]) => k === name && (value === undefined || v === String(value)));
  }
  set(name, value) {
    name = String(name);
    value = String(value);
    const i = this.#list.findIndex(([k]) => k === name);
    if (i < 0) this.#list.push([name, value]);
    else this.#list = this.#list.filter(([k], j) => j === i || k !== name).map((p, j) => (p[0] === name ? [name, value] : p));
    this.#changed();
  }
  sort() {
    // Stable, by UTF-16 code units, as the standard says.
    this.#list = this.#list.map((p, i) => [p, i]).sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map(([p]) => p);
    this.#changed();
  }
  forEach(callback, thisArg) {
    for (const [k, v] of this.#list) callback.call(thisArg, v, k, this);
  }
  *entries() { for (const [k, v] of this.#list) yield [k, v]; }
  *keys() { for (const [k] of this.#list) yield k; }
  *values() { for (const [, v] of this.#list) yield v; }
  [Symbol.iterator]() { return this.entries(); }
  toString() { return N.formSerialize(this.#list); }
  get [Symbol.toStringTag]() { return 'URLSearchParams'; }
}

// ------------------------------------------------------------ URL

let setSearch; // (url, query) from its URLSearchParams

const parse = (url, base) => (base === undefined ? N.urlParse(String(url)) : N.urlParse(String(url), String(base)));

class URL {
  #c;
  #params;

  static {
    setSearch = (u, query) => { u.#c = N.urlSet(u.#c.href, 'search', query); };
  }

  constructor(url, base) {
    this.#c = parse(url, base);
    this.#params = new URLSearchParams(this.#c.search);
    attach(this.#params, this);
  }

  static canParse(url, base) {
    try {
      parse(url, base);
      return true;
    } catch {
      return false;
    }
  }

  static parse(url, base) {
    try {
      return new URL(url, base);
    } catch {
      return null;
    }
  }

  get href() { return this.#c.href; }
  set href(v) { this.#c = parse(v); relist(this.#params, this.#c.search); }
  get origin() { return this.#c.origin; }
  get searchParams() { return this.#params; }
  toString() { return this.#c.href; }
  toJSON() { return this.#c.href; }
  get [Symbol.toStringTag]() { return 'URL'; }

  static {
    for (const part of ['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']) {
      Object.defineProperty(URL.prototype, part, {
        get() { return this.#c[part]; },
        set(v) {
          this.#c = N.urlSet(this.#c.href, part, String(v));
          if (part === 'search') relist(this.#params, this.#c.search);
        },
        enumerable: true,
        configurable: true,
      });
    }
  }
}

// ------------------------------------------------------------ text

class TextEncoder {
  get encoding() { return 'utf-8'; }
  encode(input = '') { return N.utf8Encode(String(input)); }
  encodeInto(input, dest) {
    const bytes = N.utf8Encode(String(input));
    // Whole characters only: stop before a UTF-8 sequence that does not fit.
    let n = Math.min(bytes.length, dest.length);
    while (n > 0 && n < bytes.length && (bytes[n] & 0xc0) === 0x80) n--;
    dest.set(bytes.subarray(0, n));
    const read = new TextDecoder().decode(bytes.subarray(0, n)).length;
    return { read, written: n };
  }
}

class TextDecoder {
  #fatal;
  constructor(label = 'utf-8', options = {}) {
    const l = String(label).trim().toLowerCase();
    if (l !== 'utf-8' && l !== 'utf8' && l !== 'unicode-1-1-utf-8') {
      throw new RangeError(`TextDecoder: only utf-8 is supported, not "${label}"`);
    }
    this.#fatal = Boolean(options && options.fatal);
  }
  get encoding() { return 'utf-8'; }
  get fatal() { return this.#fatal; }
  decode(input) {
    if (input === undefined) return '';
    return N.utf8Decode(toBytes(input, 'TextDecoder.decode'), this.#fatal);
  }
}

// ------------------------------------------------------------ base64

function btoa(s) { return N.btoa(String(s)); }
function atob(s) { return N.atob(String(s)); }

// ------------------------------------------------------------ crypto

const SUBTLE_KEY = Symbol('key');

class CryptoKey {
  constructor(bytes, usages) {
    define(this, SUBTLE_KEY, bytes);
    this.type = 'secret';
    this.extractable = false;
    this.algorithm = { name: 'HMAC', hash: { name: 'SHA-256' }, length: bytes.length * 8 };
    this.usages = usages;
    Object.freeze(this);
  }
}

function algorithmName(a) {
  return String(typeof a === 'object' && a !== null ? a.name : a).toUpperCase();
}

function hashName(a) {
  const h = typeof a === 'object' && a !== null ? a.hash : undefined;
  return String(typeof h === 'object' && h !== null ? h.name : h).toUpperCase();
}

function bufferOf(bytes) {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

function keyOf(key, usage) {
  if (!(key instanceof CryptoKey)) throw new TypeError('crypto.subtle: the key must come from crypto.subtle.importKey');
  if (!key.usages.includes(usage)) throw new TypeError(`crypto.subtle: the key was not imported for "${usage}"`);
  return key[SUBTLE_KEY];
}

// WebCrypto's subset for webhooks: SHA-256 digests and HMAC-SHA-256 keys.
const subtle = {
  async digest(algorithm, data) {
    if (algorithmName(algorithm) !== 'SHA-256') throw new TypeError('crypto.subtle.digest: only SHA-256 is supported');
    return bufferOf(N.sha256(dataOf(data, 'crypto.subtle.digest'), 'bytes'));
  },
  async importKey(format, keyData, algorithm, extractable, usages = []) {
    if (format !== 'raw') throw new TypeError('crypto.subtle.importKey: only the "raw" format is supported');
    if (algorithmName(algorithm) !== 'HMAC' || hashName(algorithm) !== 'SHA-256') {
      throw new TypeError('crypto.subtle.importKey: only {name: "HMAC", hash: "SHA-256"} is supported');
    }
    return new CryptoKey(new Uint8Array(toBytes(keyData, 'crypto.subtle.importKey')), [...usages]);
  },
  async sign(algorithm, key, data) {
    if (algorithmName(algorithm) !== 'HMAC') throw new TypeError('crypto.subtle.sign: only HMAC is supported');
    return bufferOf(N.hmacSha256(keyOf(key, 'sign'), dataOf(data, 'crypto.subtle.sign'), 'bytes'));
  },
  async verify(algorithm, key, signature, data) {
    if (algorithmName(algorithm) !== 'HMAC') throw new TypeError('crypto.subtle.verify: only HMAC is supported');
    const mac = N.hmacSha256(keyOf(key, 'verify'), dataOf(data, 'crypto.subtle.verify'), 'bytes');
    return N.timingSafeEqual(mac, toBytes(signature, 'crypto.subtle.verify'));
  },
};
Object.freeze(subtle);

const crypto = {
  randomUUID() {
    const b = N.randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = N.encode(b, 'hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  },
  getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
      throw new TypeError('crypto.getRandomValues: expected an integer typed array');
    }
    if (array.byteLength > 65536) {
      const e = new RangeError(`crypto.getRandomValues: ${array.byteLength} bytes asked for, over 65536`);
      e.name = 'QuotaExceededError';
      throw e;
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(N.randomBytes(array.byteLength));
    return array;
  },
  sha256(data, encoding) {
    return N.sha256(dataOf(data, 'crypto.sha256'), encodingOf(encoding, 'crypto.sha256'));
  },
  hmacSha256(key, data, encoding) {
    return N.hmacSha256(dataOf(key, 'crypto.hmacSha256'), dataOf(data, 'crypto.hmacSha256'), encodingOf(encoding, 'crypto.hmacSha256'));
  },
  timingSafeEqual(a, b) {
    return N.timingSafeEqual(dataOf(a, 'crypto.timingSafeEqual'), dataOf(b, 'crypto.timingSafeEqual'));
  },
  subtle,
};
Object.freeze(crypto);

// ------------------------------------------------------------ structuredClone

function dataCloneError(what) {
  const e = new TypeError(`structuredClone: ${what} cannot be cloned`);
  e.name = 'DataCloneError';
  return e;
}

function structuredClone(value) {
  const seen = new Map();
  const clone = (v) => {
    if (typeof v === 'function') throw dataCloneError('a function');
    if (typeof v === 'symbol') throw dataCloneError('a symbol');
    if (typeof v !== 'object' || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    let out;
    if (Array.isArray(v)) {
      out = new Array(v.length);
      seen.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k]);
      return out;
    }
    if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof ArrayBuffer) out = v.slice(0);
    else if (ArrayBuffer.isView(v)) {
      const buffer = clone(v.buffer);
      out = v instanceof DataView
        ? new DataView(buffer, v.byteOffset, v.byteLength)
        : new v.constructor(buffer, v.byteOffset, v.length);
    } else if (v instanceof Map) {
      out = new Map();
      seen.set(v, out);
      for (const [k, x] of v) out.set(clone(k), clone(x));
      return out;
    } else if (v instanceof Set) {
      out = new Set();
      seen.set(v, out);
      for (const x of v) out.add(clone(x));
      return out;
    } else if (v instanceof Error) {
      out = new (globalThis[v.name] instanceof Function && globalThis[v.name].prototype instanceof Error ? globalThis[v.name] : Error)(v.message);
      if ('stack' in v) out.stack = v.stack;
    } else if (v instanceof Boolean || v instanceof Number || v instanceof String) {
      out = Object(v.valueOf());
    } else if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet || v instanceof URL || v instanceof URLSearchParams) {
      throw dataCloneError(`a ${Object.prototype.toString.call(v).slice(8, -1)}`);
    } else {
      out = {};
      seen.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k]);
      return out;
    }
    seen.set(v, out);
    return out;
  };
  return clone(value);
}

// The globals are accessors that loaded this; those a script has replaced stay replaced.
for (const [name, value] of Object.entries({
  URL, URLSearchParams, TextEncoder, TextDecoder, atob, btoa, crypto, structuredClone,
})) {
  const now = Object.getOwnPropertyDescriptor(globalThis, name);
  if (!now || now.get) define(globalThis, name, value);
}
