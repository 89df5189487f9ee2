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
  /**
   * A SQL parameter: numbers, bigints (exact: numeric takes any size, int8 refuses what does not fit,
   * 22003), strings (as they are: also JSON or array literals), booleans, null, Dates (any year,
   * BC included), bytes for bytea (any typed array, a DataView or an ArrayBuffer), arrays and plain
   * objects (json). A Map, Set, WeakMap, RegExp, Promise, Symbol or function is refused (42804),
   * also inside an object.
   */
  type Param = null | undefined | boolean | number | bigint | string | Date | ArrayBufferView | ArrayBuffer | Param[] | { [key: string]: unknown };
  /** How values are read. */
  interface ReadOptions {
    /** timestamp and timestamptz as Postgres's text ("2024-02-29 12:30:00.123456+00") instead of a Date (which holds milliseconds). */
    exactTimestamps?: boolean;
    /** json and jsonb as their JSON text: jsonb null is "null", SQL NULL is null. */
    jsonText?: boolean;
  }
  /** Column = value, column = [any of these values], or column = null. */
  type Where = Record<string, Param | Param[]>;

  interface Db {
    /** Rows of one SELECT/INSERT/UPDATE/DELETE/MERGE with $1, $2... parameters. */
    query<T extends Row = Row>(sql: string, params?: Param[], options?: ReadOptions): T[];
    /** The only row, or null; more than one row is an error (21000). */
    one<T extends Row = Row>(sql: string, params?: Param[], options?: ReadOptions): T | null;
    /** The number of rows the statement touched. */
    exec(sql: string, params?: Param[]): number;
    /** Rows of an exposed table of the run's tenant. */
    select<T extends Row = Row>(table: string, options?: { where?: Where; orderBy?: string | string[]; limit?: number } & ReadOptions): T[];
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

  /** ctx.event: the event that started an event run. */
  interface Event<Payload = any> {
    readonly id: number;
    readonly type: string;
    /** The event's payload, the same value as ctx.input. */
    readonly payload: Payload;
    /** 0 for an event an application wrote, one more for each script that published on the way. */
    readonly depth: number;
    /** When the event was written (ISO 8601). */
    readonly emittedAt: string;
    /** @deprecated since 0.1.x, removed in 0.2: use `id`. */
    readonly event_id: number;
    /** @deprecated since 0.1.x, removed in 0.2: use `type`. */
    readonly event_type: string;
    /** @deprecated since 0.1.x, removed in 0.2: use `emittedAt`. */
    readonly emitted_at: string;
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
    readonly execution: { readonly id: string; readonly trigger: "manual" | "api" | "event" | "cron" | "http" | "function" | "trigger"; readonly attempt: number };
    /** Only in HTTP runs. */
    readonly request?: Request;
    /** Only in event runs. */
    readonly event?: Event<Input>;
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

  /**
   * A SQL value as a typed function (LANGUAGE jsrt, `jsrt.create_function`) or
   * a trigger receives it: SQL NULL is null; bool a boolean; int2, int4, float4,
   * float8 and int8 up to 2^53 a number (NaN and Infinity included); int8 beyond
   * 2^53 a bigint; numeric a string (exact); text a string; bytea a Uint8Array;
   * timestamp and timestamptz a Date (option exactTimestamps: a string);
   * json and jsonb the parsed value (option jsonText: the JSON text); arrays
   * an array (one whose lower bound is not 1: its text, "[0:2]={1,2,3}");
   * any other type (date, time, interval, uuid, inet...) its text, in the
   * fixed settings of script SQL (DateStyle ISO, TimeZone UTC).
   */
  type SqlValue = null | boolean | number | bigint | string | Date | Uint8Array | Json | SqlValue[];

  /**
   * The default export of a script behind a typed SQL function: called once per
   * call, with ctx and the function's arguments in order. What it returns (or
   * its promise settles to) becomes the declared return type exactly, or the call
   * fails: a number that does not fit an int4 is an error (22003), not wrapped.
   * For json and jsonb results a value becomes its JSON (a string a JSON string),
   * unless the function takes JSON as text (option jsonText).
   *
   *   export default function (ctx: jsrt.Context, qty: number, unitPrice: string, tier: string | null) { ... }
   */
  type FunctionScript = (ctx: Context, ...args: any[]) => unknown;

  /** What a trigger script receives after ctx: NEW, OLD, the operation and the table. */
  interface TriggerEvent {
    readonly op: "INSERT" | "UPDATE" | "DELETE";
    readonly when: "BEFORE" | "AFTER";
    readonly level: "ROW";
    /** the trigger's name */
    readonly name: string;
    readonly table: string;
    readonly schema: string;
    /** CREATE TRIGGER's arguments (frozen) */
    readonly args: readonly string[];
    /** the row being written (INSERT, UPDATE), else null; change it and return it */
    new: Record<string, SqlValue> | null;
    /** the row as it was (UPDATE, DELETE), else null */
    readonly old: Record<string, SqlValue> | null;
  }

  /**
   * The default export of a script behind a row trigger (`jsrt.create_trigger`).
   * BEFORE: return the row to write (tg.new, changed or not; a column missing from it, or
   * given back unchanged, keeps its stored value exactly), null to skip the row, or nothing
   * to write it as it was. AFTER: the result is ignored; throw to fail the statement.
   */
  type TriggerScript = (ctx: Context, tg: TriggerEvent) => Record<string, unknown> | null | undefined | void | Promise<Record<string, unknown> | null | undefined | void>;
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
  constructor(label?: "utf-8" | "utf8", options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: "utf-8";
  readonly fatal: boolean;
  /** Whether a leading byte order mark is kept in the text (by default it is dropped). */
  readonly ignoreBOM: boolean;
  /** With `stream`, a character cut at the end of `input` is completed by the next call. */
  decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string;
}

/** Base64 of a string of Latin-1 characters; others throw InvalidCharacterError. */
declare function btoa(data: string): string;
/** The Latin-1 string a base64 text stands for; bad base64 throws InvalidCharacterError. */
declare function atob(data: string): string;

/**
 * A deep copy as the HTML standard's structured clone: objects, arrays, Date, RegExp, Map, Set, ArrayBuffer,
 * typed arrays, primitive wrappers (BigInt too), errors with their cause (AggregateError with its errors); cycles kept.
 * Functions, symbols, Proxy, arguments, generators, promises, weak collections and URL throw DataCloneError.
 * `transfer` moves the listed ArrayBuffers into the copy and detaches them.
 */
declare function structuredClone<T>(value: T, options?: { transfer?: ArrayBuffer[] }): T;

/**
 * Calls `callback` after `ms` milliseconds (at least 1). A run ends when its default export has settled and no
 * timer is left; timers never outlive the run's deadline. An error the callback throws fails the run.
 */
declare function setTimeout<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): number;
declare function setInterval<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): number;
declare function clearTimeout(id: number | undefined): void;
declare function clearInterval(id: number | undefined): void;
declare function queueMicrotask(callback: () => void): void;
declare const performance: {
  /** Milliseconds since the run started, with fractions. */
  now(): number;
  /** When the run started, in milliseconds since 1970. */
  readonly timeOrigin: number;
};

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
