// Type declarations for jsruntime scripts: the ctx object (API version 1) and
// the standard library. A script is one ES module:
//
//   /// <reference path="jsrt.d.ts" />
//   export default async function (ctx: jsrt.Context) { ... }
//
// The ECMAScript built-ins (JSON, Math, Date, Map, Promise, typed arrays...)
// come from TypeScript's own "es2023" lib; this file adds what jsruntime gives.

declare namespace jsrt {
  type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

  /** An error thrown by a ctx call: `code` is a SQLSTATE ("23505", "42501", "54000"...). */
  interface CtxError extends Error {
    code: string;
  }

  /** A SQL error: only that statement was rolled back; the run goes on if caught. */
  interface DatabaseError extends CtxError {
    name: "DatabaseError";
    detail?: string;
    hint?: string;
  }

  /**
   * A failed ctx.http request, or the `cause` of the TypeError a failed fetch
   * rejects with. `rule` names the SSRF rule that refused it.
   */
  interface HttpError extends CtxError {
    name: "HttpError";
    kind: "refused" | "bad_url" | "bad_request" | "resolve" | "timeout" | "too_large" | "too_many_redirects" | "redirected" | "transport" | "bad_setting" | "cancelled";
    rule?: "loopback" | "private network" | "link-local" | "carrier-grade NAT" | "cloud metadata" | "multicast" | "broadcast" | "unspecified" | "reserved";
  }

  type Row = Record<string, unknown>;
  /** A SQL parameter: numbers, bigints, strings, booleans, null, Dates, Uint8Arrays (bytea), arrays and objects (json). */
  type Param = null | undefined | boolean | number | bigint | string | Date | Uint8Array | ArrayBuffer | Param[] | { [key: string]: unknown };
  /** Column = value, column = [any of these values], or column = null. */
  type Where = Record<string, Param | Param[]>;

  interface Db {
    /** Rows of one SELECT/INSERT/UPDATE/DELETE/MERGE with $1, $2... parameters. */
    query<T extends Row = Row>(sql: string, params?: Param[]): T[];
    /** The only row, or null; more than one row is an error (21000). */
    one<T extends Row = Row>(sql: string, params?: Param[]): T | null;
    /** The number of rows the statement touched. */
    exec(sql: string, params?: Param[]): number;
    /** Rows of an exposed table of the run's tenant. */
    select<T extends Row = Row>(table: string, options?: { where?: Where; orderBy?: string | string[]; limit?: number }): T[];
    /** Inserts a row (returned) or rows (returned as an array), the tenant column set for you. */
    insert<T extends Row = Row>(table: string, row: Row): T;
    insert<T extends Row = Row>(table: string, rows: Row[]): T[];
    /** Updates matching rows with `patch`; returns the updated rows. `where` may not be empty. */
    update<T extends Row = Row>(table: string, where: Where, patch: Row): T[];
    /** Deletes matching rows; returns how many. `where` may not be empty. */
    delete(table: string, where: Where): number;
  }

  interface HttpOptions {
    /** GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS. */
    method?: string;
    headers?: Record<string, string | number>;
    /** Strings go as UTF-8 text, bytes as they are, URLSearchParams as a form, anything else as JSON. */
    body?: unknown;
    /** At most jsrt.http_timeout_ms, and never past the run's own time. */
    timeoutMs?: number;
  }

  interface HttpResponse {
    status: number;
    /** status 200-299 */
    ok: boolean;
    /** the URL that answered, after redirects */
    url: string;
    /** lower-case names; repeated headers joined with ", " */
    headers: Record<string, string>;
    /** the body as text (UTF-8) */
    body: string;
    text(): string;
    /** the body parsed as JSON; throws SyntaxError if it is not */
    json<T = any>(): T;
  }

  interface Http {
    fetch(url: string, options?: HttpOptions): Promise<HttpResponse>;
    get(url: string, options?: Omit<HttpOptions, "method" | "body">): Promise<HttpResponse>;
    delete(url: string, options?: Omit<HttpOptions, "method" | "body">): Promise<HttpResponse>;
    post(url: string, body?: unknown, options?: Omit<HttpOptions, "method" | "body">): Promise<HttpResponse>;
    put(url: string, body?: unknown, options?: Omit<HttpOptions, "method" | "body">): Promise<HttpResponse>;
  }

  interface Cache {
    /** The value, or null when missing or expired. */
    get<T extends Json = Json>(key: string): T | null;
    /** Stores a JSON value for ttlSeconds (default 3600, at most 30 days). */
    set(key: string, value: Json, ttlSeconds?: number): true;
    /** Whether a live entry was there. */
    delete(key: string): boolean;
  }

  interface Secrets {
    /** The tenant's secret, or null. Its value is redacted from the run's logs, errors and output. */
    get(name: string): string | null;
  }

  interface Events {
    /** Writes an event in the run's transaction; returns its id. */
    publish(type: string, payload?: Record<string, unknown>): number;
  }

  interface Log {
    info(...values: unknown[]): void;
    warn(...values: unknown[]): void;
    error(...values: unknown[]): void;
    debug(...values: unknown[]): void;
  }

  /** ctx.request of an HTTP endpoint run. */
  interface Request {
    readonly method: string;
    readonly path: string;
    /** `:name` segments of the route */
    readonly params: Record<string, string>;
    /** repeated names give arrays */
    readonly query: Record<string, string | string[]>;
    /** lower-case names */
    readonly headers: Record<string, string>;
    /** JSON parsed, forms as objects, other bodies as text (base64 when bodyEncoding says so); null when empty */
    readonly body: unknown;
    readonly bodyEncoding?: "base64";
    /** The body exactly as received, as UTF-8 (bytes that are not UTF-8 become U+FFFD). */
    text(): string;
    /** JSON.parse of the body as received; a SyntaxError saying line and column when it is not JSON. */
    json<T = unknown>(): T;
    /** The body exactly as received: a new Uint8Array on each call. */
    bytes(): Uint8Array;
    /** The body read as application/x-www-form-urlencoded; a name sent more than once gives an array. */
    form(): Record<string, string | string[]>;
  }

  /** What an HTTP endpoint script may return besides any JSON value (200), bytes (200) or nothing (204). */
  interface Response {
    status: number;
    /** An array value gives one header line each (several Set-Cookie); or a list of [name, value] pairs. */
    headers?: Record<string, string | number | Array<string | number>> | Array<[string, string | number]>;
    /** a string (text/plain), bytes (application/octet-stream, sent as-is) or any JSON value (application/json) */
    body?: unknown;
    /** with a string body: the body is base64 of the bytes to send */
    bodyEncoding?: "base64";
  }

  interface Context<Input = any> {
    readonly input: Input;
    readonly tenant: { readonly id: string; readonly name: string };
    readonly script: { readonly id: string; readonly name: string; readonly version: number };
    readonly execution: { readonly id: string; readonly trigger: "manual" | "api" | "event" | "cron" | "http"; readonly attempt: number };
    /** Only in HTTP runs. */
    readonly request?: Request;
    /** Only in event runs. */
    readonly event?: { readonly event_id: number; readonly event_type: string; readonly depth: number; readonly emitted_at: string };
    readonly log: Log;
    /**
     * How far the run has got: `done` of `total` (both finite, 0 or more),
     * with an optional message (200 characters kept). Seen from any session
     * in `jsrt.running()` while the run goes on, and kept in its history
     * row as `metrics.progress`.
     */
    progress(done: number, total?: number, message?: string): void;
    /**
     * Commits what the run has written so far and goes on in a new
     * transaction, as COMMIT does in a procedure. Only in queued one-off runs
     * (`jsrt.execute_async`); elsewhere it throws. A cancel, failure or
     * timeout after it keeps what was committed; the history row counts the
     * commits in `metrics.commits`. A failed commit fails the run.
     */
    commit(): void;
    readonly db: Db;
    readonly http: Http;
    readonly cache: Cache;
    readonly secrets: Secrets;
    readonly events: Events;
  }
}

// ------------------------------------------------------------ standard library

declare const console: {
  log(...values: unknown[]): void;
  info(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
  debug(...values: unknown[]): void;
};

declare class URLSearchParams implements Iterable<[string, string]> {
  constructor(init?: string | URLSearchParams | Iterable<[string, string]> | Record<string, string | number | boolean>);
  readonly size: number;
  append(name: string, value: string): void;
  delete(name: string, value?: string): void;
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string, value?: string): boolean;
  set(name: string, value: string): void;
  sort(): void;
  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
  /** application/x-www-form-urlencoded */
  toString(): string;
}

/** WHATWG URL. An invalid URL throws TypeError. */
declare class URL {
  constructor(url: string | URL, base?: string | URL);
  static canParse(url: string | URL, base?: string | URL): boolean;
  static parse(url: string | URL, base?: string | URL): URL | null;
  href: string;
  readonly origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
  readonly searchParams: URLSearchParams;
  toString(): string;
  toJSON(): string;
}

declare class TextEncoder {
  readonly encoding: "utf-8";
  encode(input?: string): Uint8Array;
  encodeInto(input: string, destination: Uint8Array): { read: number; written: number };
}

/** UTF-8 only. With fatal, invalid bytes throw TypeError; without, they become U+FFFD. */
declare class TextDecoder {
  constructor(label?: "utf-8" | "utf8", options?: { fatal?: boolean });
  readonly encoding: "utf-8";
  readonly fatal: boolean;
  decode(input?: ArrayBuffer | ArrayBufferView): string;
}

/** Base64 of a string of Latin-1 characters; others throw InvalidCharacterError. */
declare function btoa(data: string): string;
/** The Latin-1 string a base64 text stands for; bad base64 throws InvalidCharacterError. */
declare function atob(data: string): string;

/** A deep copy: objects, arrays, Date, RegExp, Map, Set, ArrayBuffer, typed arrays, Error; cycles kept. Functions and symbols throw DataCloneError. */
declare function structuredClone<T>(value: T): T;

type BytesLike = string | ArrayBuffer | ArrayBufferView;
type DigestEncoding = "hex" | "base64" | "base64url";

interface JsrtCryptoKey {
  readonly type: "secret";
  readonly extractable: false;
  readonly algorithm: { name: "HMAC"; hash: { name: "SHA-256" }; length: number };
  readonly usages: string[];
}

declare const crypto: {
  /** A random version 4 UUID. */
  randomUUID(): string;
  /** Fills an integer typed array (at most 65536 bytes) with random values, and returns it. */
  getRandomValues<T extends Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array>(array: T): T;
  /** SHA-256 of the data (strings as UTF-8); hex unless another encoding is named. */
  sha256(data: BytesLike, encoding?: DigestEncoding): string;
  sha256(data: BytesLike, encoding: "bytes"): Uint8Array;
  /** HMAC-SHA256; hex unless another encoding is named. */
  hmacSha256(key: BytesLike, data: BytesLike, encoding?: DigestEncoding): string;
  hmacSha256(key: BytesLike, data: BytesLike, encoding: "bytes"): Uint8Array;
  /** Equal bytes, compared in constant time (for signatures). */
  timingSafeEqual(a: BytesLike, b: BytesLike): boolean;
  /** The WebCrypto subset webhooks need: SHA-256 digests and HMAC-SHA-256 keys. */
  readonly subtle: {
    digest(algorithm: "SHA-256" | { name: "SHA-256" }, data: BytesLike): Promise<ArrayBuffer>;
    importKey(format: "raw", keyData: BytesLike, algorithm: { name: "HMAC"; hash: "SHA-256" | { name: "SHA-256" } }, extractable: boolean, usages: ("sign" | "verify")[]): Promise<JsrtCryptoKey>;
    sign(algorithm: "HMAC" | { name: "HMAC" }, key: JsrtCryptoKey, data: BytesLike): Promise<ArrayBuffer>;
    verify(algorithm: "HMAC" | { name: "HMAC" }, key: JsrtCryptoKey, signature: BytesLike, data: BytesLike): Promise<boolean>;
  };
};

// ------------------------------------------------------------ fetch

/**
 * A DOMException: `name` says what failed ("AbortError", "TimeoutError",
 * "DataCloneError"...), `code` is its legacy number (0 for newer names).
 */
declare class DOMException extends Error {
  constructor(message?: string, options?: string | { name?: string; cause?: unknown });
  readonly name: string;
  readonly code: number;
  static readonly ABORT_ERR: 20;
  static readonly TIMEOUT_ERR: 23;
  static readonly DATA_CLONE_ERR: 25;
}

interface AbortEventLike {
  readonly type: "abort";
  readonly target: AbortSignal;
}

/**
 * Scripts have no clock running beside them: a timeout signal becomes
 * aborted when it is looked at after its time (`aborted`, `reason`,
 * `throwIfAborted`, or fetch), and fetch gives a request only the time
 * its signal has left.
 */
declare class AbortSignal {
  private constructor();
  readonly aborted: boolean;
  readonly reason: any;
  onabort: ((event: AbortEventLike) => void) | null;
  throwIfAborted(): void;
  addEventListener(type: "abort", listener: (event: AbortEventLike) => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: (event: AbortEventLike) => void): void;
  /** Aborted already, with `reason` or an AbortError. */
  static abort(reason?: unknown): AbortSignal;
  /** Aborts with a TimeoutError after `milliseconds`. */
  static timeout(milliseconds: number): AbortSignal;
  /** Aborts when any of `signals` does, with its reason. */
  static any(signals: Iterable<AbortSignal>): AbortSignal;
}

declare class AbortController {
  readonly signal: AbortSignal;
  /** Aborts the signal with `reason`, or an AbortError. */
  abort(reason?: unknown): void;
}

type HeadersInit = Headers | Iterable<[string, string]> | Record<string, string>;

/** Names are case-insensitive; iteration is by lower-case name, repeated ones joined with ", " (Set-Cookie apart). */
declare class Headers implements Iterable<[string, string]> {
  constructor(init?: HeadersInit);
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  getSetCookie(): string[];
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string>;
  [Symbol.iterator](): IterableIterator<[string, string]>;
}

declare class Blob {
  constructor(parts?: Iterable<BytesLike | Blob>, options?: { type?: string });
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
  slice(start?: number, end?: number, type?: string): Blob;
}

declare class File extends Blob {
  constructor(parts: Iterable<BytesLike | Blob>, name: string, options?: { type?: string; lastModified?: number });
  readonly name: string;
  readonly lastModified: number;
}

/** Form fields: sent as multipart/form-data; read back from application/x-www-form-urlencoded bodies. */
declare class FormData implements Iterable<[string, string | File]> {
  constructor();
  append(name: string, value: string | Blob, filename?: string): void;
  delete(name: string): void;
  get(name: string): string | File | null;
  getAll(name: string): (string | File)[];
  has(name: string): boolean;
  set(name: string, value: string | Blob, filename?: string): void;
  forEach(callback: (value: string | File, name: string, form: FormData) => void, thisArg?: unknown): void;
  entries(): IterableIterator<[string, string | File]>;
  keys(): IterableIterator<string>;
  values(): IterableIterator<string | File>;
  [Symbol.iterator](): IterableIterator<[string, string | File]>;
}

/** Strings go as UTF-8 text; no streams. */
type BodyInit = string | ArrayBuffer | ArrayBufferView | Blob | FormData | URLSearchParams;

/** A body is read once, whole. */
interface Body {
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
  json<T = any>(): Promise<T>;
  blob(): Promise<Blob>;
  /** application/x-www-form-urlencoded bodies only; others reject with TypeError. */
  formData(): Promise<FormData>;
}

interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit | null;
  /** "follow" (default; every hop passes the SSRF rules again), "manual" (the 3xx response itself) or "error". */
  redirect?: "follow" | "manual" | "error";
  signal?: AbortSignal | null;
}

declare class Request implements Body {
  constructor(input: string | URL | Request, init?: RequestInit);
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly redirect: "follow" | "manual" | "error";
  readonly signal: AbortSignal;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
  json<T = any>(): Promise<T>;
  blob(): Promise<Blob>;
  formData(): Promise<FormData>;
  clone(): Request;
}

interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

declare class Response implements Body {
  constructor(body?: BodyInit | null, init?: ResponseInit);
  static error(): Response;
  static redirect(url: string | URL, status?: 301 | 302 | 303 | 307 | 308): Response;
  static json(data: unknown, init?: ResponseInit): Response;
  readonly type: "basic" | "default" | "error";
  readonly url: string;
  readonly redirected: boolean;
  readonly status: number;
  readonly ok: boolean;
  readonly statusText: string;
  /** Immutable on a fetched response. */
  readonly headers: Headers;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
  json<T = any>(): Promise<T>;
  blob(): Promise<Blob>;
  formData(): Promise<FormData>;
  clone(): Response;
}

/**
 * The Fetch standard's fetch, through the same client, SSRF rules, caps and
 * API-call quotas as ctx.http. A network failure rejects with a TypeError
 * whose `cause` is the jsrt.HttpError; an abort with the signal's reason (an
 * AbortError or TimeoutError DOMException unless given); a reached quota with
 * a RangeError (code 54000).
 */
declare function fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;

// ------------------------------------------------------------ Intl
//
// Intl comes from TypeScript's own es2023 lib. jsruntime gives
// DateTimeFormat (timeZone, dateStyle, timeStyle, the date and time
// component options, hour12/hourCycle), NumberFormat (styles decimal,
// percent and currency; standard notation only), Collator (sensitivity,
// numeric) and getCanonicalLocales, from ICU4X with CLDR data; without a
// locale, en-US; without a time zone, UTC. formatToParts gives one literal
// part. Number, BigInt and Date toLocale*String and String localeCompare go
// through them.
