// The standard library of jsruntime scripts (see stdlib.rs). Evaluated in
// every script context before the script itself; `N` holds the native
// helpers and is taken off the globals at once.
const N = globalThis.__jsrt_native;
delete globalThis.__jsrt_native;

function define(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}

// WebIDL's USVString: a lone surrogate becomes U+FFFD (the natives take
// well-formed text only). A symbol throws a TypeError, as WebIDL says.
const usv = (x) => `${x}`.toWellFormed();

// The bytes of a typed array, a DataView or an ArrayBuffer, or undefined.
function bufferSource(x) {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return undefined;
}

// Bytes of a string (UTF-8), a typed array, a DataView or an ArrayBuffer.
function toBytes(x, what) {
  if (typeof x === 'string') return N.utf8Encode(usv(x));
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw new TypeError(`${what}: expected a string, a typed array or an ArrayBuffer`);
}

// Strings go to the natives as they are (hashed as UTF-8); other data as bytes.
function dataOf(x, what) {
  return typeof x === 'string' ? usv(x) : toBytes(x, what);
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
let pairsOf; // (value): the list of a URLSearchParams, or null for anything else

class URLSearchParams {
  #list = [];
  #url = null;

  static {
    relist = (p, query) => { p.#list = N.formParse(query.startsWith('?') ? query.slice(1) : query); };
    attach = (p, url) => { p.#url = url; };
    pairsOf = (v) => {
      try {
        return v.#list;
      } catch {
        return null;
      }
    };
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
          this.#list.push([usv(p[0]), usv(p[1])]);
        }
      } else {
        for (const k of Reflect.ownKeys(init)) {
          const d = Object.getOwnPropertyDescriptor(init, k);
          if (d && d.enumerable) this.#list.push([usv(k), usv(init[k])]);
        }
      }
    } else {
      relist(this, usv(init));
    }
  }

  #changed() {
    if (this.#url) setSearch(this.#url, this.toString());
  }

  get size() { return this.#list.length; }
  append(name, value) { this.#list.push([usv(name), usv(value)]); this.#changed(); }
  delete(name, value) {
    name = usv(name);
    if (value !== undefined) value = usv(value);
    this.#list = this.#list.filter(([k, v]) => k !== name || (value !== undefined && v !== value));
    this.#changed();
  }
  get(name) {
    name = usv(name);
    const p = this.#list.find(([k]) => k === name);
    return p ? p[1] : null;
  }
  getAll(name) {
    name = usv(name);
    return this.#list.filter(([k]) => k === name).map(([, v]) => v);
  }
  has(name, value) {
    name = usv(name);
    if (value !== undefined) value = usv(value);
    return this.#list.some(([k, v]) => k === name && (value === undefined || v === value));
  }
  set(name, value) {
    name = usv(name);
    value = usv(value);
    const i = this.#list.findIndex(([k]) => k === name);
    if (i < 0) this.#list.push([name, value]);
    else this.#list = this.#list.filter(([k], j) => j === i || k !== name).map((p) => (p[0] === name ? [name, value] : p));
    this.#changed();
  }
  sort() {
    // Stable, by UTF-16 code units, as the standard says.
    this.#list = this.#list.map((p, i) => [p, i]).sort((a, b) => (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1])).map(([p]) => p);
    this.#changed();
  }
  // Iteration is live, as the standard's iterators are: each step reads the
  // list as it is then, so changes made while iterating are seen.
  forEach(callback, thisArg) {
    if (typeof callback !== 'function') throw new TypeError('URLSearchParams.forEach: the callback must be a function');
    for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
  }
  *entries() { for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]]; }
  *keys() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0]; }
  *values() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1]; }
  [Symbol.iterator]() { return this.entries(); }
  toString() { return N.formSerialize(this.#list); }
  get [Symbol.toStringTag]() { return 'URLSearchParams'; }
}

// ------------------------------------------------------------ URL

let setSearch; // (url, query) from its URLSearchParams
let isURL; // (value): whether it is a URL

const parse = (url, base) => (base === undefined ? N.urlParse(usv(url)) : N.urlParse(usv(url), usv(base)));

function needArgument(args, what) {
  if (args.length === 0) throw new TypeError(`${what}: 1 argument required, but only 0 present`);
}

class URL {
  #c;
  #params;

  static {
    setSearch = (u, query) => { u.#c = N.urlSet(u.#c.href, 'search', query); };
    isURL = (v) => {
      try {
        return typeof v.#c === 'object';
      } catch {
        return false;
      }
    };
  }

  constructor(url, base) {
    needArgument(arguments, 'URL');
    this.#c = parse(url, base);
    this.#params = new URLSearchParams(this.#c.search);
    attach(this.#params, this);
  }

  static canParse(url, base) {
    needArgument(arguments, 'URL.canParse');
    try {
      parse(url, base);
      return true;
    } catch {
      return false;
    }
  }

  static parse(url, base) {
    needArgument(arguments, 'URL.parse');
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
          this.#c = N.urlSet(this.#c.href, part, usv(v));
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
  encode(input = '') { return N.utf8Encode(usv(input)); }
  encodeInto(input, dest) {
    if (!(dest instanceof Uint8Array)) throw new TypeError('TextEncoder.encodeInto: the destination must be a Uint8Array');
    const s = usv(input);
    const bytes = N.utf8Encode(s);
    if (bytes.length <= dest.length) {
      dest.set(bytes);
      return { read: s.length, written: bytes.length };
    }
    // Whole characters only, counting UTF-16 units read and bytes written.
    let read = 0;
    let written = 0;
    for (const ch of s) {
      const cp = ch.codePointAt(0);
      const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (written + n > dest.length) break;
      written += n;
      read += ch.length;
    }
    dest.set(bytes.subarray(0, written));
    return { read, written };
  }
  get [Symbol.toStringTag]() { return 'TextEncoder'; }
}

const UTF8_LABELS = new Set(['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8']);
const NO_BYTES = new Uint8Array(0);

// How many bytes at the end of `b` start a UTF-8 sequence that is not yet
// complete: a stream holds them back for the next chunk.
function incompleteTail(b) {
  const n = b.length;
  for (let i = 1; i <= Math.min(3, n); i++) {
    const c = b[n - i];
    if ((c & 0xc0) === 0x80) continue;
    const need = c >= 0xf5 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 1;
    return need > i ? i : 0;
  }
  return 0;
}

class TextDecoder {
  #fatal;
  #ignoreBOM;
  #pending = NO_BYTES; // bytes of a sequence a streamed chunk ended inside
  #start = true; // nothing decoded yet in this stream: a BOM here is dropped
  constructor(label = 'utf-8', options = {}) {
    const l = usv(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '').toLowerCase();
    if (!UTF8_LABELS.has(l)) {
      throw new RangeError(`TextDecoder: only utf-8 is supported, not "${label}"`);
    }
    this.#fatal = Boolean(options && options.fatal);
    this.#ignoreBOM = Boolean(options && options.ignoreBOM);
  }
  get encoding() { return 'utf-8'; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }
  decode(input, options) {
    const stream = Boolean(options && options.stream);
    let bytes = NO_BYTES;
    if (input !== undefined) {
      bytes = bufferSource(input);
      if (!bytes) throw new TypeError('TextDecoder.decode: the input must be a Uint8Array, a typed array or an ArrayBuffer');
    }
    if (this.#pending.length) {
      const all = new Uint8Array(this.#pending.length + bytes.length);
      all.set(this.#pending);
      all.set(bytes, this.#pending.length);
      bytes = all;
    }
    const keep = stream ? incompleteTail(bytes) : 0;
    const body = keep ? bytes.subarray(0, bytes.length - keep) : bytes;
    this.#pending = keep ? bytes.slice(bytes.length - keep) : NO_BYTES;
    const strip = this.#start && !this.#ignoreBOM;
    try {
      const out = N.utf8Decode(body, this.#fatal, strip);
      if (body.length) this.#start = false;
      return out;
    } finally {
      if (!stream) {
        this.#pending = NO_BYTES;
        this.#start = true;
      }
    }
  }
  get [Symbol.toStringTag]() { return 'TextDecoder'; }
}

// ------------------------------------------------------------ base64

// A lone surrogate becomes U+FFFD, which is outside Latin-1 (btoa) and not
// base64 (atob): either way the InvalidCharacterError the standard asks for.
function btoa(s) { needArgument(arguments, 'btoa'); return N.btoa(usv(s)); }
function atob(s) { needArgument(arguments, 'atob'); return N.atob(usv(s)); }

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

// Captured at load: a script replacing a global must not change what a clone is.
const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError };
const TYPED = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};
if (typeof Float16Array === 'function') TYPED.Float16Array = Float16Array;
const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
const arrayBufferLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
const regexpSource = Object.getOwnPropertyDescriptor(RegExp.prototype, 'source').get;
const regexpFlags = Object.getOwnPropertyDescriptor(RegExp.prototype, 'flags').get;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size').get;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, 'size').get;
const objectTag = Object.prototype.toString;

// Whether `v` has the internal slot `check` reads: brand checks, which throw
// on anything else, where instanceof would accept Object.create(X.prototype).
function has(check, v) {
  try {
    check.call(v);
    return true;
  } catch {
    return false;
  }
}

// Objects with internal state a clone cannot carry: the standard refuses them.
const UNCLONABLE = new Set([
  'Arguments', 'Generator', 'AsyncGenerator', 'AsyncFunction', 'Promise', 'WeakMap', 'WeakSet', 'WeakRef',
  'FinalizationRegistry', 'Array Iterator', 'Map Iterator', 'Set Iterator', 'String Iterator',
  'RegExp String Iterator', 'Iterator Helper', 'Symbol', 'URL', 'URLSearchParams',
]);

function structuredClone(value, options) {
  needArgument(arguments, 'structuredClone');
  const seen = new Map();
  const transfer = [];
  if (options !== undefined && options !== null && options.transfer !== undefined) {
    for (const b of options.transfer) {
      if (!has(arrayBufferLength, b)) throw dataCloneError('a transfer list entry that is not an ArrayBuffer');
      if (transfer.includes(b)) throw dataCloneError('an ArrayBuffer listed twice for transfer');
      if (b.detached) throw dataCloneError('a detached ArrayBuffer');
      transfer.push(b);
    }
  }
  // The clone gets a copy now; the originals are detached only once the whole clone has worked.
  for (const b of transfer) seen.set(b, b.slice(0));
  const own = (v, out, key) => {
    const d = Object.getOwnPropertyDescriptor(v, key);
    if (d && 'value' in d) define(out, key, key === 'message' ? String(d.value) : clone(d.value));
  };
  const clone = (v) => {
    if (typeof v === 'function') throw dataCloneError('a function');
    if (typeof v === 'symbol') throw dataCloneError('a symbol');
    if (typeof v !== 'object' || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    if (N.isProxy(v)) throw dataCloneError('a Proxy');
    let out;
    if (Array.isArray(v)) {
      out = new Array(v.length);
      seen.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k]);
      return out;
    }
    if (has(Boolean.prototype.valueOf, v)) out = Object(Boolean.prototype.valueOf.call(v));
    else if (has(Number.prototype.valueOf, v)) out = Object(Number.prototype.valueOf.call(v));
    else if (has(BigInt.prototype.valueOf, v)) out = Object(BigInt.prototype.valueOf.call(v));
    else if (has(String.prototype.valueOf, v)) out = Object(String.prototype.valueOf.call(v));
    else if (has(Date.prototype.getTime, v)) out = new Date(Date.prototype.getTime.call(v));
    else if (v !== RegExp.prototype && has(regexpSource, v)) out = new RegExp(regexpSource.call(v), regexpFlags.call(v));
    else if (has(Symbol.prototype.valueOf, v)) throw dataCloneError('a Symbol object'); else if (has(arrayBufferLength, v)) {
      if (v.detached) throw dataCloneError('a detached ArrayBuffer');
      out = v.slice(0);
    } else if (ArrayBuffer.isView(v)) {
      const name = typedArrayName.call(v);
      const buffer = clone(v.buffer);
      out = name === undefined
        ? new DataView(buffer, v.byteOffset, v.byteLength)
        : new TYPED[name](buffer, v.byteOffset, v.length);
    } else if (has(mapSize, v)) {
      out = new Map();
      seen.set(v, out);
      for (const [k, x] of Map.prototype.entries.call(v)) out.set(clone(k), clone(x));
      return out;
    } else if (has(setSize, v)) {
      out = new Set();
      seen.set(v, out);
      for (const x of Set.prototype.values.call(v)) out.add(clone(x));
      return out;
    } else if (N.isError(v)) {
      const name = v.name;
      const Ctor = Object.hasOwn(ERRORS, name) ? ERRORS[name] : Error;
      out = Ctor === AggregateError ? new AggregateError([]) : new Ctor();
      seen.set(v, out);
      own(v, out, 'message');
      own(v, out, 'stack');
      own(v, out, 'cause');
      if (Ctor === AggregateError) own(v, out, 'errors');
      return out;
    } else if (UNCLONABLE.has(objectTag.call(v).slice(8, -1)) || v instanceof CryptoKey) {
      throw dataCloneError(`a ${objectTag.call(v).slice(8, -1)}`);
    } else {
      out = {};
      seen.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k]);
      return out;
    }
    seen.set(v, out);
    return out;
  };
  const result = clone(value);
  for (const b of transfer) b.transfer(0);
  return result;
}

// ------------------------------------------------------------ console formatting

// console.* and ctx.log print their arguments as Node's console does for the
// common cases (util.format: %s %d %i %f %j %o %O %c; util.inspect's default
// layout: depth 2, lines of at most 80 columns, up to 3 levels of nesting on one
// line, long arrays of short items in columns). The host calls this only when
// an argument is not a primitive or the first one has a '%'.

const INSPECT_DEPTH = 2;
const BREAK_LENGTH = 80;
const COMPACT = 3;
const MAX_ARRAY = 100;
const MAX_STRING = 10000;
const IDENTIFIER = /^[A-Za-z_][A-Za-z_0-9]*$/;
const ERROR_TAGS = new Set(['Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'AggregateError', 'InternalError']);
const functionSource = Function.prototype.toString;
const getPrototypeOf = Object.getPrototypeOf;
const describe = Object.getOwnPropertyDescriptor;

// A string in quotes as Node shows it: single quotes unless the text has
// some and no double quotes (then double), or both and no backticks.
function quote(str) {
  let q = "'";
  if (str.includes("'")) {
    if (!str.includes('"')) q = '"';
    else if (!str.includes('`') && !str.includes('${')) q = '`';
  }
  let out = '';
  for (const ch of str.length > MAX_STRING ? str.slice(0, MAX_STRING) : str) {
    const c = ch.codePointAt(0);
    if (ch === q || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  const more = str.length > MAX_STRING ? `... ${str.length - MAX_STRING} more characters` : '';
  return `${q}${out}${q}${more}`;
}

function primitive(v, top) {
  switch (typeof v) {
    case 'string': return top ? v : quote(v);
    case 'number': return Object.is(v, -0) ? '-0' : `${v}`;
    case 'bigint': return `${v}n`;
    case 'symbol': return v.toString();
    default: return `${v}`;
  }
}

function keyText(k) {
  if (typeof k === 'symbol') return `[${k.toString()}]`;
  return IDENTIFIER.test(k) ? k : quote(k);
}

function constructorName(o) {
  for (let p = o; p !== null; p = getPrototypeOf(p)) {
    const d = describe(p, 'constructor');
    if (d && typeof d.value === 'function' && d.value.name !== '') return d.value.name;
  }
  return null;
}

function functionBase(f) {
  let src = '';
  try { src = functionSource.call(f); } catch { /* a native or revoked function */ }
  const name = typeof f.name === 'string' ? f.name : '';
  if (src.startsWith('class') && /^class[\s{]/.test(src)) {
    const parent = getPrototypeOf(f);
    const ext = typeof parent === 'function' && parent.name ? ` extends ${parent.name}` : '';
    return `[class ${name || '(anonymous)'}${ext}]`;
  }
  const tag = Object.prototype.toString.call(f).slice(8, -1);
  const kind = tag === 'AsyncFunction' || tag === 'GeneratorFunction' || tag === 'AsyncGeneratorFunction' ? tag : 'Function';
  return name ? `[${kind}: ${name}]` : `[${kind} (anonymous)]`;
}

function errorText(e) {
  let name = 'Error';
  let message = '';
  try { name = `${e.name}`; message = `${e.message}`; } catch { /* a throwing getter: keep the defaults */ }
  const head = message ? `${name}: ${message}` : name;
  const stack = typeof e.stack === 'string' ? e.stack.trimEnd() : '';
  // QuickJS's stack holds the frames only; V8's, which Node prints, starts with the head.
  if (!stack) return `[${head}]`;
  return stack.startsWith(head) ? stack : `${head}\n${stack}`;
}

// Arrays of more than 6 short items go in columns, as Node lays them out.
function columns(st, out, value) {
  const n = out.length > MAX_ARRAY ? out.length - 1 : out.length;
  const lens = out.slice(0, n).map((s) => s.length);
  const total = lens.reduce((a, b) => a + b + 2, 0);
  const widest = Math.max(...lens) + 2;
  if (!(widest * 3 + st.indent < BREAK_LENGTH && (total / widest > 5 || widest - 2 <= 6))) return out;
  const bias = Math.sqrt(widest - total / out.length);
  const biased = Math.max(widest - 3 - bias, 1);
  const cols = Math.min(Math.round(Math.sqrt(2.5 * biased * n) / biased), Math.floor((BREAK_LENGTH - st.indent) / widest), COMPACT * 4, 15);
  if (cols <= 1) return out;
  const colWidth = [];
  for (let c = 0; c < cols; c++) {
    let w = 0;
    for (let j = c; j < n; j += cols) w = Math.max(w, lens[j]);
    colWidth.push(w + 2);
  }
  let numeric = true;
  for (let i = 0; i < n; i++) {
    if (typeof value[i] !== 'number' && typeof value[i] !== 'bigint') { numeric = false; break; }
  }
  const rows = [];
  for (let i = 0; i < n; i += cols) {
    const last = Math.min(i + cols, n) - 1;
    let row = '';
    for (let j = i; j < last; j++) {
      row += numeric ? `${out[j]}, `.padStart(colWidth[j - i]) : `${out[j]}, `.padEnd(colWidth[j - i]);
    }
    row += numeric ? out[last].padStart(colWidth[last - i] - 2) : out[last];
    rows.push(row);
  }
  if (out.length > n) rows.push(out[n]);
  return rows;
}

// One line when the entries fit in BREAK_LENGTH and the nesting below is
// shallow enough; otherwise one entry a line.
function layout(st, out, base, open, close, depth, grouped) {
  if (!grouped && st.deepest - depth < COMPACT) {
    const start = out.length + st.indent + open.length + base.length + 10;
    let total = out.length + start;
    let fits = total + out.length <= BREAK_LENGTH;
    for (let i = 0; fits && i < out.length; i++) {
      total += out[i].length;
      fits = total <= BREAK_LENGTH;
    }
    if (fits && !base.includes('\n')) {
      const joined = out.join(', ');
      if (!joined.includes('\n')) return `${base ? `${base} ` : ''}${open} ${joined} ${close}`;
    }
  }
  const pad = `\n${' '.repeat(st.indent)}`;
  return `${base ? `${base} ` : ''}${open}${pad}  ${out.join(`,${pad}  `)}${pad}${close}`;
}

function inspectValue(st, v, depth, top) {
  if ((typeof v !== 'object' || v === null) && typeof v !== 'function') return primitive(v, top);
  if (N.isProxy(v)) return 'Proxy [ <target> ]';
  const seenAt = st.stack.indexOf(v);
  if (seenAt >= 0) {
    let id = st.circular.get(v);
    if (id === undefined) { id = st.circular.size + 1; st.circular.set(v, id); }
    return `[Circular *${id}]`;
  }
  const out = inspectObject(st, v, depth);
  const id = st.circular.get(v);
  return id === undefined ? out : `<ref *${id}> ${out}`;
}

function ownEntries(st, v, depth, skip) {
  const out = [];
  for (const k of Reflect.ownKeys(v)) {
    if (skip(k)) continue;
    const d = describe(v, k);
    if (!d || !d.enumerable) continue;
    let text;
    if (d.get && d.set) text = '[Getter/Setter]';
    else if (d.get) text = '[Getter]';
    else if (d.set) text = '[Setter]';
    else {
      st.indent += 2;
      text = inspectValue(st, d.value, depth + 1, false);
      st.indent -= 2;
    }
    out.push(`${keyText(k)}: ${text}`);
  }
  return out;
}

const isIndex = (k) => typeof k === 'string' && `${k >>> 0}` === k && (k >>> 0) < 4294967295;

// Whether `v` has an own enumerable key that `skip` does not leave out.
function hasKeys(v, skip) {
  return Reflect.ownKeys(v).some((k) => !skip(k) && describe(v, k)?.enumerable);
}

// Node's order: what prints the same at any depth (empty objects and arrays,
// functions, dates, errors... without keys) first; past the depth a
// placeholder; else the entries, and the layout of the deepest level last
// reached decides whether they share a line.
function inspectObject(st, v, depth) {
  const ctor = constructorName(v);
  const tagged = v[Symbol.toStringTag];
  // A tag the object holds as its own enumerable key is shown as a key, not as a prefix.
  const ownTag = Object.prototype.propertyIsEnumerable.call(v, Symbol.toStringTag);
  const tag = typeof tagged === 'string' && tagged !== '' && tagged !== ctor && !ownTag ? ` [${tagged}]` : '';
  const prefix = (fallback, size) => {
    const name = ctor === null ? `[${fallback}: null prototype]` : ctor;
    return `${name}${size === undefined ? '' : `(${size})`}${tag}`;
  };
  const beyond = depth > INSPECT_DEPTH;
  const placeholder = (fallback) => `[${ctor === null ? `${fallback}: null prototype` : ctor}${tag}]`;
  const noSkip = () => false;
  // Formats the own entries; null when past the depth.
  const start = () => {
    if (beyond) return false;
    st.deepest = depth;
    return true;
  };
  st.stack.push(v);
  try {
    // URL and URLSearchParams as Node shows them: their parts, their pairs.
    if (isURL(v)) {
      if (!start()) return '[URL]';
      const out = [];
      for (const k of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'searchParams', 'hash']) {
        st.indent += 2;
        out.push(`${k}: ${inspectValue(st, v[k], depth + 1, false)}`);
        st.indent -= 2;
      }
      return layout(st, out, 'URL', '{', '}', depth, false);
    }
    const pairs = pairsOf(v);
    if (pairs !== null) {
      if (pairs.length === 0) return 'URLSearchParams {}';
      if (!start()) return '[URLSearchParams]';
      const out = pairs.map(([k, x]) => `${quote(k)} => ${quote(x)}`);
      const width = out.reduce((n, e) => n + e.length + 2, -2);
      // Node's own layout for them: two spaces past the line the value starts on.
      const pad = `\n${' '.repeat(st.indent + 2)}`;
      return width > BREAK_LENGTH ? `URLSearchParams {${pad}${out.join(`,${pad}`)} }` : `URLSearchParams { ${out.join(', ')} }`;
    }
    let base = '';
    let open = '{';
    let close = '}';
    let out = [];
    let grouped = false;
    const isArray = Array.isArray(v);
    if (typeof v === 'function') {
      base = functionBase(v);
      const skip = (k) => k === 'prototype';
      if (!hasKeys(v, skip)) return base;
      if (!start()) return ctor === 'Function' ? '[Function]' : placeholder('Function');
      out = ownEntries(st, v, depth, skip);
    } else if (isArray || (ArrayBuffer.isView(v) && typedArrayName.call(v) !== undefined)) {
      const items = v.length;
      const skip = (k) => k === 'length' || isIndex(k);
      open = '[';
      close = ']';
      if (!isArray || ctor !== 'Array' || tag) base = prefix('Array', items);
      if (items === 0 && !hasKeys(v, skip)) return `${base ? `${base} ` : ''}[]`;
      if (!start()) return isArray && ctor === 'Array' ? '[Array]' : placeholder('Array');
      let holes = 0;
      const flushHoles = () => {
        if (holes) out.push(`<${holes} empty item${holes > 1 ? 's' : ''}>`);
        holes = 0;
      };
      const shown = Math.min(items, MAX_ARRAY);
      for (let i = 0; i < shown; i++) {
        if (isArray && !Object.hasOwn(v, i)) { holes++; continue; }
        flushHoles();
        st.indent += 2;
        out.push(inspectValue(st, v[i], depth + 1, false));
        st.indent -= 2;
      }
      flushHoles();
      if (items > shown) out.push(`... ${items - shown} more item${items - shown > 1 ? 's' : ''}`);
      const extra = ownEntries(st, v, depth, skip);
      if (out.length > 6 && extra.length === 0) {
        const before = out.length;
        out = columns(st, out, v);
        grouped = out.length !== before;
      }
      out.push(...extra);
    } else if (has(mapSize, v) || has(setSize, v)) {
      const map = has(mapSize, v);
      base = prefix(map ? 'Map' : 'Set', map ? mapSize.call(v) : setSize.call(v));
      if (!start()) return placeholder(map ? 'Map' : 'Set');
      st.indent += 2;
      if (map) {
        for (const [k, x] of Map.prototype.entries.call(v)) out.push(`${inspectValue(st, k, depth + 1, false)} => ${inspectValue(st, x, depth + 1, false)}`);
      } else {
        for (const x of Set.prototype.values.call(v)) out.push(inspectValue(st, x, depth + 1, false));
      }
      st.indent -= 2;
      out.push(...ownEntries(st, v, depth, noSkip));
    } else if (has(arrayBufferLength, v)) {
      base = prefix('ArrayBuffer');
      if (!start()) return placeholder('ArrayBuffer');
      const bytes = new Uint8Array(v);
      const hex = Array.from(bytes.subarray(0, 50), (b) => b.toString(16).padStart(2, '0')).join(' ');
      out = [`[Uint8Contents]: <${hex}${bytes.length > 50 ? ` ... ${bytes.length - 50} more bytes` : ''}>`, `byteLength: ${bytes.length}`];
    } else {
      // Values shown by a text of their own, then their keys in braces.
      let skip = noSkip;
      let cause;
      const boxed = [[Number, 'Number'], [String, 'String'], [Boolean, 'Boolean'], [BigInt, 'BigInt'], [Symbol, 'Symbol']]
        .find(([T]) => has(T.prototype.valueOf, v));
      if (N.isError(v)) {
        // The stack's lines line up under the key the error is the value of.
        base = errorText(v).split('\n').join(`\n${' '.repeat(st.indent)}`);
        skip = (k) => k === 'stack' || k === 'message';
        const d = describe(v, 'cause');
        if (d && !d.enumerable && 'value' in d) cause = d;
      } else if (has(Date.prototype.getTime, v)) {
        base = Number.isNaN(Date.prototype.getTime.call(v)) ? 'Invalid Date' : Date.prototype.toISOString.call(v);
      } else if (v !== RegExp.prototype && has(regexpSource, v)) {
        base = `/${regexpSource.call(v)}/${regexpFlags.call(v)}`;
      } else if (boxed) {
        base = `[${boxed[1]}: ${primitive(boxed[0].prototype.valueOf.call(v), false)}]`;
        if (boxed[1] === 'String') skip = (k) => k === 'length' || isIndex(k);
      } else {
        if (objectTag.call(v) === '[object Promise]') base = prefix('Promise');
        else if (ctor !== 'Object' || tag) base = prefix('Object');
        if (!hasKeys(v, skip)) return `${base ? `${base} ` : ''}{}`;
        if (!start()) return placeholder('Object');
        out = ownEntries(st, v, depth, skip);
        return layout(st, out, base, open, close, depth, false);
      }
      if (!hasKeys(v, skip) && !cause) return base;
      if (!start()) return base.split('\n')[0];
      out = ownEntries(st, v, depth, skip);
      if (cause) {
        st.indent += 2;
        out.push(`[cause]: ${inspectValue(st, cause.value, depth + 1, false)}`);
        st.indent -= 2;
      }
    }
    if (out.length === 0) return `${base ? `${base} ` : ''}${open}${close}`;
    return layout(st, out, base, open, close, depth, grouped);
  } finally {
    st.stack.pop();
  }
}

function inspect(v, depth = 0) {
  // `depth` starts the count lower: %s shows only the top level of an object.
  return inspectValue({ stack: [], circular: new Map(), indent: 0, deepest: 0 }, v, depth, false);
}

const BUILT_IN = new Set(['Object', 'Array', 'Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError',
  'URIError', 'AggregateError', 'Date', 'RegExp', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Promise', 'Function', 'Number',
  'String', 'Boolean', 'Symbol', 'BigInt', 'ArrayBuffer', 'DataView', ...Object.keys(TYPED)]);

// Whether the toString `v` would use is the language's own, not one a script wrote.
function builtInToString(v) {
  if (typeof v.toString !== 'function') return true;
  if (Object.hasOwn(v, 'toString')) return false;
  let owner = getPrototypeOf(v);
  while (owner !== null && !Object.hasOwn(owner, 'toString')) owner = getPrototypeOf(owner);
  const c = owner === null ? undefined : describe(owner, 'constructor');
  return c !== undefined && typeof c.value === 'function' && BUILT_IN.has(c.value.name);
}

// util.format: printf-like specifiers in a first string, the rest joined by spaces.
function formatLog(args) {
  let out = '';
  let next = 0;
  if (typeof args[0] === 'string' && args.length > 1) {
    const f = args[0];
    next = 1;
    let last = 0;
    for (let i = 0; i < f.length - 1; i++) {
      if (f[i] !== '%') continue;
      const c = f[i + 1];
      let text;
      if (c === '%') text = '%';
      else if (next >= args.length) { i++; continue; }
      else {
        const a = args[next];
        switch (c) {
          case 's':
            if (typeof a === 'bigint' || typeof a === 'number') text = primitive(a, true);
            else if (typeof a !== 'object' || a === null || !builtInToString(a)) text = String(a);
            else text = inspect(a, INSPECT_DEPTH);
            break;
          case 'd': case 'i': {
            if (typeof a === 'bigint') text = `${a}n`;
            else if (typeof a === 'symbol') text = 'NaN';
            else {
              const n = c === 'd' ? Number(a) : parseInt(a);
              text = primitive(n, true);
            }
            break;
          }
          case 'f': text = typeof a === 'symbol' ? 'NaN' : primitive(parseFloat(a), true); break;
          case 'j':
            try { text = JSON.stringify(a); } catch (e) { text = /circular/i.test(`${e && e.message}`) ? '[Circular]' : (() => { throw e; })(); }
            break;
          case 'o': case 'O': text = typeof a === 'string' ? quote(a) : inspect(a); break;
          case 'c': text = ''; break;
          default: continue;
        }
        next++;
      }
      out += f.slice(last, i) + text;
      last = i + 2;
      i++;
    }
    out += f.slice(last);
  }
  for (let i = next; i < args.length; i++) {
    const a = args[i];
    out += (i > 0 ? ' ' : '') + (typeof a === 'string' ? a : inspect(a));
  }
  return out;
}

// ------------------------------------------------------------ timers

// setTimeout and friends keep their timers here; the host (sandbox.rs's
// settle) asks `__jsrt_timers` how long to wait for the next one once the
// script has no job left, sleeps outside JS, then runs it. A run ends when
// its default export has settled and no timer is left, and never after its
// deadline: the timers of a run that failed go with its context.
const timerList = new Map(); // id -> {due, every, fn, args}
let timerSeq = 0;
let uncaught = null; // {error} thrown by a queueMicrotask callback

function addTimer(fn, ms, args, repeat, what) {
  if (typeof fn !== 'function') throw new TypeError(`${what}: the callback must be a function`);
  // As Node: a delay below 1 ms (or not a number) is 1 ms.
  let delay = Number(ms);
  if (!(delay >= 1 && delay <= 2147483647)) delay = 1;
  const id = ++timerSeq;
  timerList.set(id, { due: N.now() + delay, every: repeat ? delay : null, fn, args });
  return id;
}

function setTimeout(fn, ms, ...args) { return addTimer(fn, ms, args, false, 'setTimeout'); }
function setInterval(fn, ms, ...args) { return addTimer(fn, ms, args, true, 'setInterval'); }
function clearTimeout(id) { timerList.delete(Number(id)); }
function clearInterval(id) { timerList.delete(Number(id)); }

function queueMicrotask(callback) {
  if (typeof callback !== 'function') throw new TypeError('queueMicrotask: the callback must be a function');
  Promise.resolve().then(() => {
    try {
      callback();
    } catch (error) {
      if (uncaught === null) uncaught = { error };
    }
  });
}

const timerHost = Object.freeze({
  // Milliseconds until the next timer is due (0 when one is), -1 when none is left.
  // An error a microtask threw ends the run here, as an uncaught one ends Node.
  next() {
    if (uncaught !== null) {
      const { error } = uncaught;
      uncaught = null;
      throw error;
    }
    let first = Infinity;
    for (const t of timerList.values()) first = Math.min(first, t.due);
    return first === Infinity ? -1 : Math.max(0, first - N.now());
  },
  // Runs the one timer due first (the host runs the jobs it leaves before the next).
  run() {
    let id = null;
    let t = null;
    for (const [k, v] of timerList) if (t === null || v.due < t.due) { id = k; t = v; }
    if (t === null || t.due > N.now()) return;
    if (t.every === null) timerList.delete(id);
    else t.due = N.now() + t.every;
    t.fn(...t.args);
  },
  clear() {
    timerList.clear();
    uncaught = null;
  },
});

// performance.now(): milliseconds since the run started.
const performance = Object.freeze({
  now() { return N.now(); },
  get timeOrigin() { return N.timeOrigin(); },
  toJSON() { return { timeOrigin: N.timeOrigin() }; },
  [Symbol.toStringTag]: 'Performance',
});

// The globals are accessors that loaded this; those a script has replaced stay replaced.
for (const [name, value] of Object.entries({
  URL, URLSearchParams, TextEncoder, TextDecoder, atob, btoa, crypto, structuredClone,
  setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, performance,
})) {
  const now = Object.getOwnPropertyDescriptor(globalThis, name);
  if (!now || now.get) define(globalThis, name, value);
}
// For the host's console.* and ctx.log: fixed, so a script cannot change how another line prints.
Object.defineProperty(globalThis, '__jsrt_format', { value: formatLog, writable: false, configurable: false, enumerable: false });
Object.defineProperty(globalThis, '__jsrt_timers', { value: timerHost, writable: false, configurable: false, enumerable: false });
