// fetch and the classes around it, as the Fetch standard defines them (see
// fetch.rs). No streams: bodies are whole byte arrays, read once. Requests
// go through the host's client (N.send), the same one ctx.http uses.
const N = globalThis.__jsrt_native;
delete globalThis.__jsrt_native;

function define(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}

function tag(cls, name) {
  Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: name, configurable: true });
}

// A USVString: lone surrogates become U+FFFD, so that any string can be sent.
function usv(s) {
  s = String(s);
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

const encode = (s) => N.utf8Encode(usv(s));
const decode = (bytes) => N.utf8Decode(bytes);

function copyBytes(x) {
  if (x instanceof ArrayBuffer) return new Uint8Array(x.slice(0));
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  return null;
}

function toBuffer(bytes) {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

// ------------------------------------------------------------ DOMException

const LEGACY_CODES = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
  NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11,
  SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
  TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
  QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};

class DOMException extends Error {
  #name;
  constructor(message = '', options = 'Error') {
    const o = options !== null && typeof options === 'object';
    super(String(message), o && 'cause' in options ? { cause: options.cause } : undefined);
    this.#name = o ? (options.name === undefined ? 'Error' : String(options.name)) : String(options);
  }
  get name() { return this.#name; }
  get code() { return LEGACY_CODES[this.#name] ?? 0; }
}
tag(DOMException, 'DOMException');
for (const [k, v] of Object.entries(LEGACY_CODES)) {
  const constant = k.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() + '_ERR';
  Object.defineProperty(DOMException, constant, { value: v, enumerable: true });
  Object.defineProperty(DOMException.prototype, constant, { value: v, enumerable: true });
}

const abortError = () => new DOMException('This operation was aborted', 'AbortError');
const timeoutError = () => new DOMException('The operation was aborted due to timeout', 'TimeoutError');

// ------------------------------------------------------------ AbortSignal

const SECRET = Symbol('internal');
let signalAbort; // (signal, reason)
let signalDeadline; // (signal): the earliest time.now it will time out at, or null

class AbortSignal {
  #aborted = false;
  #reason = undefined;
  #deadline = null; // AbortSignal.timeout: aborts when read at or after this Date.now()
  #sources = []; // AbortSignal.any: the signals it follows
  #listeners = [];
  #onabort = null;

  constructor(key) {
    if (key !== SECRET) throw new TypeError('Illegal constructor: use new AbortController().signal');
  }

  static {
    signalAbort = (s, reason) => s.#abort(reason);
    signalDeadline = (s) => {
      let d = s.#deadline;
      for (const src of s.#sources) {
        const e = signalDeadline(src);
        if (e !== null && (d === null || e < d)) d = e;
      }
      return d;
    };
  }

  // The host runs scripts without a clock of its own: a timeout signal
  // notices it has timed out when it is looked at, and fetch hands its time
  // left to the request as its timeout.
  #poll() {
    if (this.#aborted) return;
    if (this.#deadline !== null && Date.now() >= this.#deadline) {
      this.#abort(timeoutError());
      return;
    }
    for (const s of this.#sources) {
      s.#poll();
      if (s.#aborted) { this.#abort(s.#reason); return; }
    }
  }

  #abort(reason) {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason === undefined ? abortError() : reason;
    const event = { type: 'abort', target: this, currentTarget: this, isTrusted: true, timeStamp: Date.now() };
    const handlers = this.#onabort ? [this.#onabort] : [];
    const listeners = this.#listeners.slice();
    this.#listeners = this.#listeners.filter((l) => !l.once);
    for (const h of [...handlers, ...listeners.map((l) => l.listener)]) {
      try {
        if (typeof h === 'function') h.call(this, event);
        else if (h && typeof h.handleEvent === 'function') h.handleEvent(event);
      } catch (e) {
        // An event listener's exception does not stop the others (reported as the web would).
        console.error('Uncaught exception in an abort listener:', e);
      }
    }
  }

  get aborted() { this.#poll(); return this.#aborted; }
  get reason() { this.#poll(); return this.#reason; }
  get onabort() { return this.#onabort; }
  set onabort(f) { this.#onabort = typeof f === 'function' ? f : null; }

  throwIfAborted() {
    this.#poll();
    if (this.#aborted) throw this.#reason;
  }

  addEventListener(type, listener, options) {
    if (String(type) !== 'abort' || listener == null) return;
    const once = typeof options === 'object' && options !== null && !!options.once;
    if (this.#listeners.some((l) => l.listener === listener)) return;
    this.#listeners.push({ listener, once });
  }

  removeEventListener(type, listener) {
    if (String(type) !== 'abort') return;
    this.#listeners = this.#listeners.filter((l) => l.listener !== listener);
  }

  dispatchEvent(event) {
    if (event && event.type === 'abort') {
      for (const l of this.#listeners.slice()) {
        if (typeof l.listener === 'function') l.listener.call(this, event);
        else if (l.listener && typeof l.listener.handleEvent === 'function') l.listener.handleEvent(event);
      }
    }
    return true;
  }

  static abort(reason) {
    const s = new AbortSignal(SECRET);
    s.#abort(reason);
    return s;
  }

  static timeout(ms) {
    const n = Number(ms);
    if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) {
      throw new TypeError('AbortSignal.timeout: the delay must be a number of milliseconds, 0 or more');
    }
    const s = new AbortSignal(SECRET);
    s.#deadline = Date.now() + Math.trunc(n);
    return s;
  }

  static any(signals) {
    const s = new AbortSignal(SECRET);
    const list = [...signals];
    for (const src of list) {
      if (!(src instanceof AbortSignal)) throw new TypeError('AbortSignal.any: every item must be an AbortSignal');
    }
    for (const src of list) {
      src.#poll();
      if (src.#aborted) { s.#abort(src.#reason); return s; }
    }
    s.#sources = list;
    for (const src of list) src.addEventListener('abort', () => s.#abort(src.#reason), { once: true });
    return s;
  }
}
tag(AbortSignal, 'AbortSignal');

class AbortController {
  #signal = new AbortSignal(SECRET);
  get signal() { return this.#signal; }
  abort(reason) { signalAbort(this.#signal, reason); }
}
tag(AbortController, 'AbortController');

// ------------------------------------------------------------ Headers

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function headerName(name) {
  name = String(name);
  if (!TOKEN.test(name)) throw new TypeError(`Headers: "${name}" is not a valid header name`);
  return name;
}

function headerValue(value, name) {
  value = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  if (/[\0\r\n]/.test(value) || /[^\x00-\xff]/.test(value)) {
    throw new TypeError(`Headers: the value of "${name}" is not a valid header value`);
  }
  return value;
}

let headerList; // (headers): [[name, value]] as set, in order
let headerGuard; // (headers, guard)

class Headers {
  #list = []; // [name as first given, value]
  #guard = 'none';

  static {
    headerList = (h) => h.#list;
    headerGuard = (h, g) => { h.#guard = g; };
  }

  constructor(init) {
    if (init === undefined || init === null) {
      if (init === null) throw new TypeError('Headers: the init cannot be null');
      return;
    }
    if (typeof init !== 'object' && typeof init !== 'function') {
      throw new TypeError('Headers: the init must be an object, an array of pairs or Headers');
    }
    if (init instanceof Headers) {
      for (const [k, v] of init.#list) this.#list.push([k, v]);
    } else if (typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        if (typeof pair !== 'object' || pair === null) throw new TypeError('Headers: each pair must be a sequence');
        const p = [...pair];
        if (p.length !== 2) throw new TypeError('Headers: each pair must have exactly two items');
        this.append(p[0], p[1]);
      }
    } else {
      for (const k of Reflect.ownKeys(init)) {
        if (typeof k !== 'string') continue;
        const d = Reflect.getOwnPropertyDescriptor(init, k);
        if (d && d.enumerable) this.append(k, init[k]);
      }
    }
  }

  #writable() {
    if (this.#guard === 'immutable') throw new TypeError('Headers: these headers are immutable');
  }

  append(name, value) {
    name = headerName(name);
    value = headerValue(value, name);
    this.#writable();
    const lower = name.toLowerCase();
    const first = this.#list.find(([k]) => k.toLowerCase() === lower);
    this.#list.push([first ? first[0] : name, value]);
  }

  delete(name) {
    name = headerName(name);
    this.#writable();
    const lower = name.toLowerCase();
    this.#list = this.#list.filter(([k]) => k.toLowerCase() !== lower);
  }

  get(name) {
    const lower = headerName(name).toLowerCase();
    const values = this.#list.filter(([k]) => k.toLowerCase() === lower).map(([, v]) => v);
    return values.length ? values.join(', ') : null;
  }

  getSetCookie() {
    return this.#list.filter(([k]) => k.toLowerCase() === 'set-cookie').map(([, v]) => v);
  }

  has(name) {
    const lower = headerName(name).toLowerCase();
    return this.#list.some(([k]) => k.toLowerCase() === lower);
  }

  set(name, value) {
    name = headerName(name);
    value = headerValue(value, name);
    this.#writable();
    const lower = name.toLowerCase();
    const i = this.#list.findIndex(([k]) => k.toLowerCase() === lower);
    if (i < 0) { this.#list.push([name, value]); return; }
    this.#list[i] = [this.#list[i][0], value];
    this.#list = this.#list.filter(([k], j) => j <= i || k.toLowerCase() !== lower);
  }

  // "sort and combine": lower-case names in byte order, each once with its
  // values joined by ", ", except Set-Cookie, which keeps one pair per value.
  #sorted() {
    const names = [...new Set(this.#list.map(([k]) => k.toLowerCase()))].sort();
    const out = [];
    for (const n of names) {
      if (n === 'set-cookie') {
        for (const v of this.getSetCookie()) out.push([n, v]);
      } else {
        out.push([n, this.get(n)]);
      }
    }
    return out;
  }

  forEach(callback, thisArg) {
    if (typeof callback !== 'function') throw new TypeError('Headers.forEach: the callback must be a function');
    for (const [k, v] of this.#sorted()) callback.call(thisArg, v, k, this);
  }

  *entries() { for (const p of this.#sorted()) yield p; }
  *keys() { for (const [k] of this.#sorted()) yield k; }
  *values() { for (const [, v] of this.#sorted()) yield v; }
  [Symbol.iterator]() { return this.entries(); }
}
tag(Headers, 'Headers');

// ------------------------------------------------------------ Blob, File

let blobBytes; // (blob): its Uint8Array

class Blob {
  #bytes;
  #type;

  static { blobBytes = (b) => b.#bytes; }

  constructor(parts = [], options = {}) {
    const chunks = [];
    if (parts !== undefined) {
      if (typeof parts !== 'object' || parts === null || typeof parts[Symbol.iterator] !== 'function') {
        throw new TypeError('Blob: the parts must be a sequence');
      }
      for (const p of parts) {
        if (p instanceof Blob) chunks.push(p.#bytes);
        else chunks.push(copyBytes(p) ?? encode(p));
      }
    }
    const size = chunks.reduce((n, c) => n + c.byteLength, 0);
    this.#bytes = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) { this.#bytes.set(c, at); at += c.byteLength; }
    const type = options && options.type !== undefined ? String(options.type) : '';
    this.#type = /[^\x20-\x7e]/.test(type) ? '' : type.toLowerCase();
  }

  get size() { return this.#bytes.byteLength; }
  get type() { return this.#type; }
  async arrayBuffer() { return toBuffer(this.#bytes); }
  async bytes() { return this.#bytes.slice(); }
  async text() { return decode(this.#bytes); }

  slice(start = 0, end = this.size, type = '') {
    const at = (i) => {
      i = Math.trunc(Number(i)) || 0;
      return i < 0 ? Math.max(this.size + i, 0) : Math.min(i, this.size);
    };
    const from = at(start);
    const to = Math.max(at(end), from);
    return new Blob([this.#bytes.subarray(from, to)], { type });
  }
}
tag(Blob, 'Blob');

class File extends Blob {
  #name;
  #lastModified;
  constructor(parts, name, options = {}) {
    if (arguments.length < 2) throw new TypeError('File: a name is required');
    super(parts, options);
    this.#name = usv(name);
    this.#lastModified = options && options.lastModified !== undefined ? Number(options.lastModified) : Date.now();
  }
  get name() { return this.#name; }
  get lastModified() { return this.#lastModified; }
}
tag(File, 'File');

// ------------------------------------------------------------ FormData

class FormData {
  #list = []; // [name, string or File]

  constructor(form) {
    if (form !== undefined) throw new TypeError('FormData: there are no HTML forms here; build it with append()');
  }

  static #entry(name, value, filename, what) {
    name = usv(name);
    if (value instanceof Blob) {
      if (filename !== undefined || !(value instanceof File)) {
        value = new File([value], filename !== undefined ? filename : value instanceof File ? value.name : 'blob',
          { type: value.type, lastModified: value instanceof File ? value.lastModified : undefined });
      }
      return [name, value];
    }
    if (filename !== undefined) throw new TypeError(`FormData.${what}: a filename is only for a Blob value`);
    return [name, usv(value)];
  }

  append(name, value, filename) { this.#list.push(FormData.#entry(name, value, filename, 'append')); }
  delete(name) { name = usv(name); this.#list = this.#list.filter(([k]) => k !== name); }
  get(name) { name = usv(name); const e = this.#list.find(([k]) => k === name); return e ? e[1] : null; }
  getAll(name) { name = usv(name); return this.#list.filter(([k]) => k === name).map(([, v]) => v); }
  has(name) { name = usv(name); return this.#list.some(([k]) => k === name); }

  set(name, value, filename) {
    const entry = FormData.#entry(name, value, filename, 'set');
    const i = this.#list.findIndex(([k]) => k === entry[0]);
    if (i < 0) { this.#list.push(entry); return; }
    this.#list[i] = entry;
    this.#list = this.#list.filter(([k], j) => j <= i || k !== entry[0]);
  }

  forEach(callback, thisArg) {
    if (typeof callback !== 'function') throw new TypeError('FormData.forEach: the callback must be a function');
    for (const [k, v] of this.#list.slice()) callback.call(thisArg, v, k, this);
  }

  *entries() { for (const [k, v] of this.#list.slice()) yield [k, v]; }
  *keys() { for (const [k] of this.#list.slice()) yield k; }
  *values() { for (const [, v] of this.#list.slice()) yield v; }
  [Symbol.iterator]() { return this.entries(); }
}
tag(FormData, 'FormData');

// multipart/form-data, as the HTML standard encodes a form's entries.
function multipart(form) {
  const random = Array.from({ length: 24 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const boundary = `----formdata-jsrt-${random}`;
  const escape = (s) => s.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22');
  const chunks = [];
  for (const [name, value] of form) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escape(name.replace(/\r\n|\r|\n/g, '\r\n'))}"`;
    if (typeof value === 'string') {
      chunks.push(encode(`${head}\r\n\r\n${value.replace(/\r\n|\r|\n/g, '\r\n')}\r\n`));
    } else {
      head += `; filename="${escape(value.name)}"\r\nContent-Type: ${value.type || 'application/octet-stream'}\r\n\r\n`;
      chunks.push(encode(head), blobBytes(value), encode('\r\n'));
    }
  }
  chunks.push(encode(`--${boundary}--\r\n`));
  return { bytes: blobBytes(new Blob(chunks)), type: `multipart/form-data; boundary=${boundary}` };
}

// ------------------------------------------------------------ bodies

// The body a Request or Response is made with: its bytes and the
// Content-Type it implies.
function extractBody(init) {
  if (typeof init === 'string') return { bytes: encode(init), type: 'text/plain;charset=UTF-8' };
  const bytes = copyBytes(init);
  if (bytes) return { bytes, type: null };
  if (init instanceof Blob) return { bytes: blobBytes(init), type: init.type || null };
  if (init instanceof FormData) return multipart(init);
  if (typeof init === 'object' && init !== null && init instanceof globalThis.URLSearchParams) {
    return { bytes: encode(init.toString()), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  }
  if (typeof init === 'object' && init !== null && typeof init.getReader === 'function') {
    throw new TypeError('streams are not supported as bodies here: pass a string, bytes, a Blob, FormData or URLSearchParams');
  }
  return { bytes: encode(String(init)), type: 'text/plain;charset=UTF-8' };
}

function mimeEssence(headers) {
  const t = headers.get('content-type');
  return t === null ? '' : t.split(';')[0].trim().toLowerCase();
}

// What Request and Response share: the body, read once.
class Body {
  #bytes = null; // Uint8Array, or null for no body
  #used = false;
  #signal = null; // a fetched response's request signal: reading after an abort fails

  static setBody(b, bytes) { b.#bytes = bytes; }
  static getBody(b) { return b.#bytes; }
  static setSignal(b, s) { b.#signal = s; }
  static getSignal(b) { return b.#signal; }
  static isUsed(b) { return b.#used; }
  static markUsed(b) { b.#used = true; }

  get bodyUsed() { return this.#bytes !== null && this.#used; }

  #consume(what) {
    if (this.#bytes !== null && this.#used) {
      return Promise.reject(new TypeError(`${what}: the body has already been read`));
    }
    if (this.#signal && this.#signal.aborted) return Promise.reject(this.#signal.reason);
    this.#used = true;
    return null;
  }

  #read(what, convert) {
    try {
      const refused = this.#consume(what);
      if (refused) return refused;
      return Promise.resolve(convert(this.#bytes ?? new Uint8Array(0)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  arrayBuffer() { return this.#read('arrayBuffer', (b) => toBuffer(b)); }
  bytes() { return this.#read('bytes', (b) => b.slice()); }
  text() { return this.#read('text', decode); }
  json() { return this.#read('json', (b) => JSON.parse(decode(b))); }
  blob() {
    const type = this.headers.get('content-type') ?? '';
    return this.#read('blob', (b) => new Blob([b], { type }));
  }

  formData() {
    const essence = mimeEssence(this.headers);
    return this.#read('formData', (b) => {
      if (essence === 'application/x-www-form-urlencoded') {
        const form = new FormData();
        for (const [k, v] of new globalThis.URLSearchParams(decode(b))) form.append(k, v);
        return form;
      }
      if (essence === 'multipart/form-data') {
        throw new TypeError('formData: multipart/form-data bodies cannot be parsed here; only application/x-www-form-urlencoded');
      }
      throw new TypeError(`formData: the body is "${essence || 'without a Content-Type'}", not application/x-www-form-urlencoded`);
    });
  }
}

// ------------------------------------------------------------ Request

const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
const REDIRECTS = ['follow', 'error', 'manual'];

function parseUrl(input, what) {
  let url;
  try {
    url = new globalThis.URL(usv(input));
  } catch {
    throw new TypeError(`${what}: "${input}" is not an absolute URL`);
  }
  if (url.username || url.password) {
    throw new TypeError(`${what}: the URL has credentials in it; send them in an Authorization header`);
  }
  return url;
}

let requestParts; // (request): {redirect, signal}

class Request extends Body {
  #method;
  #url;
  #headers;
  #redirect;
  #signal;

  static {
    requestParts = (r) => ({ redirect: r.#redirect, signal: r.#signal });
  }

  constructor(input, init = {}) {
    super();
    if (arguments.length < 1) throw new TypeError('Request: a URL or a Request is required');
    if (init === null || (typeof init !== 'object' && typeof init !== 'function' && init !== undefined)) {
      throw new TypeError('Request: the init must be an object');
    }
    init = init ?? {};
    let from = null;
    if (input instanceof Request) {
      from = input;
      this.#url = input.#url;
      this.#method = input.#method;
      this.#redirect = input.#redirect;
      this.#signal = input.#signal;
    } else {
      this.#url = parseUrl(input, 'Request').href;
      this.#method = 'GET';
      this.#redirect = 'follow';
      this.#signal = null;
    }
    if (init.method !== undefined) {
      const m = String(init.method);
      if (!TOKEN.test(m)) throw new TypeError(`Request: "${m}" is not a valid method`);
      const upper = m.toUpperCase();
      if (['CONNECT', 'TRACE', 'TRACK'].includes(upper)) throw new TypeError(`Request: the method ${upper} is forbidden`);
      this.#method = METHODS.includes(upper) ? upper : m;
    }
    if (init.redirect !== undefined) {
      const r = String(init.redirect);
      if (!REDIRECTS.includes(r)) throw new TypeError(`Request: "redirect" must be one of ${REDIRECTS.join(', ')}`);
      this.#redirect = r;
    }
    if (init.signal !== undefined) {
      if (init.signal !== null && !(init.signal instanceof AbortSignal)) {
        throw new TypeError('Request: "signal" must be an AbortSignal');
      }
      this.#signal = init.signal;
    }
    if (this.#signal === null) this.#signal = new AbortSignal(SECRET);
    this.#headers = new Headers(init.headers !== undefined ? init.headers : from ? from.#headers : undefined);
    headerGuard(this.#headers, 'request');
    let bytes = from ? Body.getBody(from) : null;
    const ownBody = init.body !== undefined && init.body !== null;
    if (!ownBody && from && bytes !== null && Body.isUsed(from)) throw new TypeError('Request: the Request\'s body has already been read');
    if (ownBody) {
      const body = extractBody(init.body);
      bytes = body.bytes;
      if (body.type !== null && !this.#headers.has('content-type')) this.#headers.append('Content-Type', body.type);
    }
    if (bytes !== null && (this.#method === 'GET' || this.#method === 'HEAD')) {
      throw new TypeError(`Request: a ${this.#method} request cannot have a body`);
    }
    Body.setBody(this, bytes);
    // Building a Request from another with a body takes that body over.
    if (from && Body.getBody(from) !== null && (init.body === undefined || init.body === null)) {
      Body.markUsed(from);
    }
  }

  get method() { return this.#method; }
  get url() { return this.#url; }
  get headers() { return this.#headers; }
  get redirect() { return this.#redirect; }
  get signal() { return this.#signal; }
  get credentials() { return 'same-origin'; }
  get mode() { return 'cors'; }
  get cache() { return 'default'; }
  get destination() { return ''; }
  get referrer() { return 'about:client'; }
  get referrerPolicy() { return ''; }
  get integrity() { return ''; }
  get keepalive() { return false; }

  clone() {
    if (this.bodyUsed) throw new TypeError('Request.clone: the body has already been read');
    const r = new Request(this.#url, { method: this.#method, headers: this.#headers, redirect: this.#redirect, signal: this.#signal });
    Body.setBody(r, Body.getBody(this));
    return r;
  }
}
tag(Request, 'Request');

// ------------------------------------------------------------ Response

const NULL_BODY = [101, 103, 204, 205, 304];
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
let makeResponse; // (raw from N.send, signal)

class Response extends Body {
  #type = 'default';
  #status = 200;
  #statusText = '';
  #url = '';
  #redirected = false;
  #headers;

  static {
    makeResponse = (raw, signal) => {
      const r = new Response(null, { status: 200 });
      r.#status = raw.status;
      r.#statusText = raw.statusText;
      r.#url = raw.url.replace(/#.*$/, '');
      r.#redirected = raw.redirected;
      r.#type = 'basic';
      r.#headers = new Headers(raw.headers);
      headerGuard(r.#headers, 'immutable');
      Body.setBody(r, NULL_BODY.includes(raw.status) ? null : raw.body);
      Body.setSignal(r, signal);
      return r;
    };
  }

  constructor(body = null, init = {}) {
    super();
    if (init === null || (typeof init !== 'object' && typeof init !== 'function' && init !== undefined)) {
      throw new TypeError('Response: the init must be an object');
    }
    init = init ?? {};
    const status = init.status === undefined ? 200 : Number(init.status);
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`Response: the status must be an integer from 200 to 599, not ${init.status}`);
    }
    const statusText = init.statusText === undefined ? '' : String(init.statusText);
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(statusText)) throw new TypeError('Response: the statusText is not a valid reason phrase');
    this.#status = status;
    this.#statusText = statusText;
    this.#headers = new Headers(init.headers);
    headerGuard(this.#headers, 'response');
    if (body !== null && body !== undefined) {
      if (NULL_BODY.includes(status)) throw new TypeError(`Response: a ${status} response cannot have a body`);
      const b = extractBody(body);
      if (b.type !== null && !this.#headers.has('content-type')) this.#headers.append('Content-Type', b.type);
      Body.setBody(this, b.bytes);
    }
  }

  static error() {
    const r = new Response(null);
    r.#type = 'error';
    r.#status = 0;
    headerGuard(r.#headers, 'immutable');
    return r;
  }

  static redirect(url, status = 302) {
    const href = parseUrl(url, 'Response.redirect').href;
    status = Number(status);
    if (!REDIRECT_STATUSES.includes(status)) throw new RangeError(`Response.redirect: ${status} is not a redirect status`);
    const r = new Response(null, { status, headers: { Location: href } });
    headerGuard(r.#headers, 'immutable');
    return r;
  }

  static json(data, init = {}) {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Response.json: the data cannot be serialized as JSON');
    const r = new Response(text, init);
    if (!init || !init.headers || !new Headers(init.headers).has('content-type')) r.#headers.set('Content-Type', 'application/json');
    return r;
  }

  get type() { return this.#type; }
  get url() { return this.#url; }
  get redirected() { return this.#redirected; }
  get status() { return this.#status; }
  get ok() { return this.#status >= 200 && this.#status <= 299; }
  get statusText() { return this.#statusText; }
  get headers() { return this.#headers; }

  clone() {
    if (this.bodyUsed) throw new TypeError('Response.clone: the body has already been read');
    const r = new Response(null);
    r.#type = this.#type;
    r.#status = this.#status;
    r.#statusText = this.#statusText;
    r.#url = this.#url;
    r.#redirected = this.#redirected;
    r.#headers = new Headers(this.#headers);
    headerGuard(r.#headers, this.#type === 'default' ? 'response' : 'immutable');
    Body.setBody(r, Body.getBody(this));
    Body.setSignal(r, Body.getSignal(this));
    return r;
  }
}
tag(Response, 'Response');

// ------------------------------------------------------------ fetch

async function fetch(input, init = undefined) {
  const request = new Request(input, init);
  const { redirect, signal } = requestParts(request);
  signal.throwIfAborted();
  let timeoutMs;
  const deadline = signalDeadline(signal);
  if (deadline !== null) timeoutMs = Math.max(deadline - Date.now(), 1);
  const body = Body.getBody(request);
  if (body !== null) Body.markUsed(request); // the request's body is taken
  const headers = headerList(request.headers).slice();
  const has = (n) => headers.some(([k]) => k.toLowerCase() === n);
  if (!has('accept')) headers.push(['accept', '*/*']);
  let raw;
  try {
    raw = N.send({ method: request.method, url: request.url, headers, body, redirect, timeoutMs });
  } catch (e) {
    if (e && e.name === 'HttpError' && e.kind !== 'cancelled') {
      if (e.kind === 'timeout' && deadline !== null && Date.now() >= deadline - 1) {
        signalAbort(signal, timeoutError());
        throw signal.reason;
      }
      // A network error is a TypeError, as the standard has it; the client's details are its cause.
      const error = new TypeError(e.message, { cause: e });
      if (error.cause !== e) define(error, 'cause', e);
      throw error;
    }
    throw e;
  }
  return makeResponse(raw, signal);
}

for (const [name, value] of Object.entries({
  fetch, Request, Response, Headers, AbortController, AbortSignal, FormData, Blob, File, DOMException,
})) {
  define(globalThis, name, value);
}
