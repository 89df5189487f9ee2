// Intl (see intl.rs): DateTimeFormat, NumberFormat and Collator as ECMA-402
// describes them, for the common options; formatting itself is ICU4X's.
// Number and Date toLocale*String and String localeCompare go through them.
const N = globalThis.__jsrt_native;
delete globalThis.__jsrt_native;

function define(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}

// Scripts run on a server: without a locale they get en-US, without a time zone UTC.
const DEFAULT_LOCALE = 'en-US';
const DEFAULT_TIME_ZONE = 'UTC';

function canonicalLocales(locales) {
  if (locales === undefined) return [];
  const list = typeof locales === 'string' ? [locales] : [...Object(locales)];
  const out = [];
  for (const l of list) {
    if (typeof l !== 'string' && (typeof l !== 'object' || l === null)) throw new TypeError('Intl: a locale must be a string');
    const c = N.locale(String(l));
    if (c == null) throw new RangeError(`Incorrect locale information provided: ${l}`);
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

function resolveLocale(locales) {
  return canonicalLocales(locales)[0] ?? DEFAULT_LOCALE;
}

function optionsObject(options) {
  if (options === undefined) return Object.create(null);
  if (options === null) throw new TypeError('Intl: the options cannot be null');
  return Object(options);
}

function getOption(options, key, allowed, fallback) {
  let v = options[key];
  if (v === undefined) return fallback;
  v = String(v);
  if (allowed && !allowed.includes(v)) throw new RangeError(`Value ${v} out of range for Intl option "${key}" (one of ${allowed.join(', ')})`);
  return v;
}

function getNumberOption(options, key, min, max, fallback) {
  let v = options[key];
  if (v === undefined) return fallback;
  v = Number(v);
  if (!Number.isFinite(v) || v < min || v > max) throw new RangeError(`${key} value is out of range (${min} to ${max})`);
  return Math.floor(v);
}

function getBooleanOption(options, key) {
  const v = options[key];
  return v === undefined ? undefined : Boolean(v);
}

// ------------------------------------------------------------ DateTimeFormat

const DATE_FIELDS = ['weekday', 'era', 'year', 'month', 'day'];
const TIME_FIELDS = ['hour', 'minute', 'second', 'fractionalSecondDigits'];
const FIELD_VALUES = {
  weekday: ['narrow', 'short', 'long'],
  era: ['narrow', 'short', 'long'],
  year: ['2-digit', 'numeric'],
  month: ['2-digit', 'numeric', 'narrow', 'short', 'long'],
  day: ['2-digit', 'numeric'],
  hour: ['2-digit', 'numeric'],
  minute: ['2-digit', 'numeric'],
  second: ['2-digit', 'numeric'],
};
const STYLES = ['full', 'long', 'medium', 'short'];

// What Date's toLocale*String ask of the next DateTimeFormat made:
// ECMA-402's `required` ('date', 'time' or 'any') and `defaults` (which
// fields to show when none is asked for).
let asked = null;

function makeDateTimeFormat(locales, options, required, defaults) {
  asked = [required, defaults];
  try {
    return new DateTimeFormat(locales, options);
  } finally {
    asked = null;
  }
}

class DateTimeFormat {
  #locale;
  #options; // what the native formatter takes
  #format = null;

  constructor(locales, options) {
    const [required, defaults] = asked ?? ['any', 'date'];
    asked = null;
    this.#init(locales, options, required, defaults);
  }

  #init(locales, options, required, defaults) {
    options = optionsObject(options);
    let locale = resolveLocale(locales);
    const o = {};
    const hour12 = getBooleanOption(options, 'hour12');
    const hourCycle = getOption(options, 'hourCycle', ['h11', 'h12', 'h23', 'h24']);
    let tz = options.timeZone;
    if (tz === undefined) {
      tz = DEFAULT_TIME_ZONE;
    } else {
      const name = N.timeZone(String(tz));
      if (name == null) throw new RangeError(`Invalid time zone specified: ${tz}`);
      tz = name;
    }
    o.timeZone = tz;
    for (const k of DATE_FIELDS.concat(TIME_FIELDS)) {
      if (k === 'fractionalSecondDigits') {
        const d = getNumberOption(options, k, 1, 3, undefined);
        if (d !== undefined) o[k] = String(d);
      } else {
        const v = getOption(options, k, FIELD_VALUES[k]);
        if (v !== undefined) o[k] = v;
      }
    }
    const dateStyle = getOption(options, 'dateStyle', STYLES);
    const timeStyle = getOption(options, 'timeStyle', STYLES);
    const fields = DATE_FIELDS.concat(TIME_FIELDS).filter((k) => o[k] !== undefined);
    if (dateStyle !== undefined || timeStyle !== undefined) {
      if (fields.length) throw new TypeError(`Can't set option ${fields[0]} when dateStyle or timeStyle is used`);
      if (required === 'date' && dateStyle === undefined) throw new TypeError('Invalid option : timeStyle');
      if (required === 'time' && timeStyle === undefined) throw new TypeError('Invalid option : dateStyle');
      if (dateStyle !== undefined) o.dateStyle = dateStyle;
      if (timeStyle !== undefined) o.timeStyle = timeStyle;
    } else {
      let needDefaults = true;
      if (required !== 'time' && ['weekday', 'year', 'month', 'day'].some((k) => o[k] !== undefined)) needDefaults = false;
      if (required !== 'date' && TIME_FIELDS.some((k) => o[k] !== undefined)) needDefaults = false;
      if (needDefaults && (defaults === 'date' || defaults === 'all')) o.year = o.month = o.day = 'numeric';
      if (needDefaults && (defaults === 'time' || defaults === 'all')) o.hour = o.minute = o.second = 'numeric';
    }
    if (hourCycle !== undefined || hour12 !== undefined) {
      const hc = hour12 !== undefined ? (hour12 ? 'h12' : 'h23') : hourCycle === 'h24' ? 'h23' : hourCycle === 'h11' ? 'h12' : hourCycle;
      locale = N.locale(locale.includes('-u-') ? `${locale}-hc-${hc}` : `${locale}-u-hc-${hc}`) ?? locale;
    }
    this.#locale = locale;
    this.#options = o;
  }

  // A getter giving a bound function, as ECMA-402 has it: `dates.map(dtf.format)` works.
  get format() {
    if (this.#format === null) {
      this.#format = (date) => {
        const t = date === undefined ? Date.now() : Number(date);
        if (!Number.isFinite(t)) throw new RangeError('Invalid time value');
        return N.formatDate(this.#locale, t, this.#options);
      };
    }
    return this.#format;
  }

  formatToParts(date) {
    return [{ type: 'literal', value: this.format(date) }];
  }

  resolvedOptions() {
    const o = { locale: this.#locale.replace(/-u-.*$/, ''), calendar: 'gregory', numberingSystem: 'latn' };
    for (const [k, v] of Object.entries(this.#options)) o[k] = k === 'fractionalSecondDigits' ? Number(v) : v;
    return o;
  }

  static supportedLocalesOf(locales) { return canonicalLocales(locales); }
}
Object.defineProperty(DateTimeFormat.prototype, Symbol.toStringTag, { value: 'Intl.DateTimeFormat', configurable: true });

// ------------------------------------------------------------ NumberFormat

class NumberFormat {
  #locale;
  #options;
  #format = null;

  constructor(locales, options) {
    options = optionsObject(options);
    this.#locale = resolveLocale(locales);
    const style = getOption(options, 'style', ['decimal', 'percent', 'currency'], 'decimal');
    const o = { style };
    if (style === 'currency') {
      const currency = options.currency;
      if (currency === undefined) throw new TypeError('Currency code is required with currency style.');
      const code = String(currency);
      if (!/^[A-Za-z]{3}$/.test(code)) throw new RangeError(`Invalid currency code : ${code}`);
      o.currency = code.toUpperCase();
      o.currencyDisplay = getOption(options, 'currencyDisplay', ['code', 'symbol', 'narrowSymbol', 'name'], 'symbol');
    } else if (options.currency !== undefined && !/^[A-Za-z]{3}$/.test(String(options.currency))) {
      throw new RangeError(`Invalid currency code : ${options.currency}`);
    }
    const notation = getOption(options, 'notation', ['standard', 'scientific', 'engineering', 'compact'], 'standard');
    if (notation !== 'standard') throw new RangeError(`Intl.NumberFormat: notation "${notation}" is not supported here`);
    const grouping = options.useGrouping;
    o.useGrouping = grouping === undefined ? 'auto' : grouping === false ? 'false' : grouping === true ? 'always' : getOption(options, 'useGrouping', ['always', 'auto', 'min2', 'true', 'false']);
    if (o.useGrouping === 'true') o.useGrouping = 'always';
    o.minimumIntegerDigits = getNumberOption(options, 'minimumIntegerDigits', 1, 21, 1);
    const minFD = getNumberOption(options, 'minimumFractionDigits', 0, 100, undefined);
    const maxFD = getNumberOption(options, 'maximumFractionDigits', 0, 100, undefined);
    if (style !== 'currency' || minFD !== undefined || maxFD !== undefined) {
      const defMin = style === 'currency' ? 2 : 0;
      const defMax = style === 'percent' ? 0 : style === 'currency' ? 2 : 3;
      const min = minFD ?? Math.min(defMin, maxFD ?? defMin);
      const max = maxFD ?? Math.max(defMax, min);
      if (min > max) throw new RangeError('maximumFractionDigits value is out of range.');
      o.minimumFractionDigits = min;
      o.maximumFractionDigits = max;
    }
    this.#options = o;
  }

  // A bound function, as for DateTimeFormat: `numbers.map(nf.format)` works.
  get format() {
    if (this.#format === null) {
      this.#format = (value) => {
        if (typeof value === 'bigint') return N.formatNumber(this.#locale, String(value), this.#options);
        const x = Number(value);
        if (Number.isNaN(x)) return 'NaN';
        if (!Number.isFinite(x)) return (x < 0 ? '-' : '') + '∞';
        return N.formatNumber(this.#locale, x, this.#options);
      };
    }
    return this.#format;
  }

  formatToParts(value) {
    return [{ type: 'literal', value: this.format(value) }];
  }

  resolvedOptions() {
    return { locale: this.#locale, numberingSystem: 'latn', notation: 'standard', ...this.#options,
      useGrouping: this.#options.useGrouping === 'false' ? false : this.#options.useGrouping };
  }

  static supportedLocalesOf(locales) { return canonicalLocales(locales); }
}
Object.defineProperty(NumberFormat.prototype, Symbol.toStringTag, { value: 'Intl.NumberFormat', configurable: true });

// ------------------------------------------------------------ Collator

class Collator {
  #locale;
  #options;
  #compare = null;

  constructor(locales, options) {
    options = optionsObject(options);
    this.#locale = resolveLocale(locales);
    const usage = getOption(options, 'usage', ['sort', 'search'], 'sort');
    const sensitivity = getOption(options, 'sensitivity', ['base', 'accent', 'case', 'variant'], 'variant');
    const numeric = getBooleanOption(options, 'numeric') ?? false;
    this.#options = { usage, sensitivity, numeric: String(numeric) };
  }

  get compare() {
    if (this.#compare === null) {
      this.#compare = (a, b) => N.compare(this.#locale, String(a), String(b), this.#options);
    }
    return this.#compare;
  }

  resolvedOptions() {
    return { locale: this.#locale, usage: this.#options.usage, sensitivity: this.#options.sensitivity,
      ignorePunctuation: false, collation: 'default', numeric: this.#options.numeric === 'true', caseFirst: 'false' };
  }

  static supportedLocalesOf(locales) { return canonicalLocales(locales); }
}
Object.defineProperty(Collator.prototype, Symbol.toStringTag, { value: 'Intl.Collator', configurable: true });

const Intl = {};
define(Intl, 'DateTimeFormat', DateTimeFormat);
define(Intl, 'NumberFormat', NumberFormat);
define(Intl, 'Collator', Collator);
define(Intl, 'getCanonicalLocales', (locales) => canonicalLocales(locales));
Object.defineProperty(Intl, Symbol.toStringTag, { value: 'Intl', configurable: true });
define(globalThis, 'Intl', Intl);

// ------------------------------------------------------------ built-ins through Intl

function thisNumber(v, what) {
  if (typeof v === 'number') return v;
  if (v instanceof Number) return Number.prototype.valueOf.call(v);
  throw new TypeError(`${what} called on a value that is not a number`);
}

function thisTime(v, what) {
  if (!(v instanceof Date)) throw new TypeError(`${what} called on a value that is not a Date`);
  return Date.prototype.getTime.call(v);
}

define(Number.prototype, 'toLocaleString', function toLocaleString(locales, options) {
  return new NumberFormat(locales, options).format(thisNumber(this, 'Number.prototype.toLocaleString'));
});

define(BigInt.prototype, 'toLocaleString', function toLocaleString(locales, options) {
  if (typeof this !== 'bigint' && !(this instanceof BigInt)) throw new TypeError('BigInt.prototype.toLocaleString called on a value that is not a BigInt');
  return new NumberFormat(locales, options).format(BigInt.prototype.valueOf.call(this));
});

for (const [name, required, defaults] of [['toLocaleString', 'any', 'all'], ['toLocaleDateString', 'date', 'date'], ['toLocaleTimeString', 'time', 'time']]) {
  define(Date.prototype, name, {
    [name](locales, options) {
      const t = thisTime(this, `Date.prototype.${name}`);
      if (Number.isNaN(t)) return 'Invalid Date';
      return makeDateTimeFormat(locales, options, required, defaults).format(t);
    },
  }[name]);
}

define(String.prototype, 'localeCompare', function localeCompare(that, locales, options) {
  if (this === undefined || this === null) throw new TypeError('String.prototype.localeCompare called on null or undefined');
  return new Collator(locales, options).compare(String(this), String(that));
});
