//! The standard library scripts get besides the ECMAScript built-ins: URL and
//! URLSearchParams, TextEncoder and TextDecoder, atob and btoa, crypto and
//! structuredClone, timers (setTimeout, setInterval, queueMicrotask) and
//! performance.now(); also the formatter of console.* and ctx.log for values
//! other than primitives. `stdlib.js` defines them on top of the native helpers
//! here (WHATWG URL parsing from ada, Node's own URL parser, via the ada-url crate;
//! form encoding from the url crate; UTF-8, base64, SHA-256,
//! HMAC, randomness). It is compiled once, in the postmaster when the
//! library is preloaded (backends inherit the bytecode) or else once per
//! backend. A context evaluates it when a script first touches one of its
//! globals (about half a millisecond), so scripts that use none pay nothing.

use std::cell::Cell;
use std::time::Instant;

use base64::Engine as _;
use hmac::Mac as _;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, FromJs, Function, Object, TypedArray, Value};
use sha2::Digest as _;

use super::compile;
use super::host::js::bytes;
use super::lazy::Library;

static LIBRARY: Library = Library::new(
    "jsrt:stdlib",
    include_str!("stdlib.js"),
    &[
        "URL",
        "URLSearchParams",
        "TextEncoder",
        "TextDecoder",
        "atob",
        "btoa",
        "crypto",
        "structuredClone",
        "setTimeout",
        "clearTimeout",
        "setInterval",
        "clearInterval",
        "queueMicrotask",
        "performance",
    ],
);

/// Compiles the standard library, fetch and Intl now, so that backends forked later inherit them.
pub fn prepare() {
    LIBRARY.prepare();
    super::fetch::LIBRARY.prepare();
    super::intl::LIBRARY.prepare();
    // (the compiler is not needed again in the postmaster)
    compile::release();
}

thread_local! {
    /// When the current run started: performance.now() counts from here;
    /// the wall-clock time of that instant is worked out when first asked.
    static RUN_START: Cell<Option<(Instant, Option<f64>)>> = const { Cell::new(None) };
    /// whether a context of this backend has loaded the library (and may have timers)
    static LOADED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the start of a run, the origin of performance.now() and the timers.
pub fn run_started(at: Instant) {
    RUN_START.with(|r| r.set(Some((at, None))));
}

/// performance.timeOrigin: the run's start in milliseconds since the epoch.
fn time_origin() -> f64 {
    RUN_START.with(|r| match r.get() {
        Some((_, Some(wall))) => wall,
        Some((at, None)) => {
            let wall = std::time::SystemTime::now()
                .checked_sub(at.elapsed())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
            r.set(Some((at, Some(wall))));
            wall
        }
        None => 0.0,
    })
}

/// Milliseconds since the run started (fractions included).
pub fn now_ms() -> f64 {
    RUN_START.with(|r| {
        r.get()
            .map_or(0.0, |(at, _)| at.elapsed().as_secs_f64() * 1000.0)
    })
}

/// The timers a script set (stdlib.js's timerHost), if it loaded the library.
/// Whether a context of this backend loaded the library, whose timers a run may have set.
pub fn may_have_timers() -> bool {
    LOADED.get()
}

pub fn timers<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Option<Object<'js>>> {
    // Most scripts never load the library: no lookup of a global per call for them.
    if !may_have_timers() {
        return Ok(None);
    }
    Ok(ctx
        .globals()
        .get::<_, Value>("__jsrt_timers")?
        .into_object())
}

/// Defines the standard library's globals in `ctx`, to load it on first use.
pub fn install(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    LIBRARY.install(ctx, load)
}

/// A log line from console.* or ctx.log arguments, printed as Node prints
/// them. Strings, numbers, booleans, null, undefined and BigInts are done
/// here; anything else, or a first string with a '%' (util.format's
/// specifiers), goes to stdlib.js's formatter, loading the library if no
/// global has yet. So a script that logs text only never loads it.
pub fn log_line<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> String {
    let simple = args.iter().all(|v| {
        v.is_string()
            || v.is_number()
            || v.is_bool()
            || v.is_null()
            || v.is_undefined()
            || v.is_big_int()
    });
    let specifiers = args.len() > 1
        && args[0]
            .as_string()
            .and_then(|s| s.to_string().ok())
            .is_some_and(|s| s.contains('%'));
    if !simple || specifiers {
        match formatted(ctx, args) {
            Ok(line) => return line,
            // A script's own getter or toString may have thrown: its values are shown plainly.
            Err(_) => drop(ctx.catch()),
        }
    }
    args.iter()
        .map(|v| plain(ctx, v))
        .collect::<Vec<_>>()
        .join(" ")
}

fn formatted<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> rquickjs::Result<String> {
    let format = match ctx.globals().get::<_, Option<Function>>("__jsrt_format")? {
        Some(f) => f,
        None => {
            load(ctx)?;
            ctx.globals().get("__jsrt_format")?
        }
    };
    let list = rquickjs::Array::new(ctx.clone())?;
    for (i, v) in args.iter().enumerate() {
        list.set(i, v.clone())?;
    }
    let line: rquickjs::String = format.call((list,))?;
    super::host::js::usv(ctx, &line)
}

/// A primitive as Node prints it at the top level of a log line.
fn plain<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> String {
    if let Some(s) = v.as_string() {
        return super::host::js::usv(ctx, s).unwrap_or_default();
    }
    if let Some(n) = v.as_number() {
        if n == 0.0 && n.is_sign_negative() {
            return "-0".into();
        }
    }
    let text = rquickjs::convert::Coerced::<String>::from_js(ctx, v.clone())
        .map(|c| c.0)
        .unwrap_or_else(|_| {
            ctx.catch();
            v.type_name().to_string()
        });
    if v.is_big_int() {
        format!("{text}n")
    } else {
        text
    }
}

fn load(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    LOADED.set(true);
    LIBRARY.evaluate(ctx, natives(ctx)?)
}

/// The native helpers, handed to stdlib.js, which removes them from the globals.
fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let n = Object::new(ctx.clone())?;
    n.set(
        "urlParse",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, input: String, base: Opt<String>| {
                let u = ada_url::Url::parse(&input, base.0.as_deref()).map_err(|_| {
                    let why = match &base.0 {
                        Some(b) => format!("Invalid URL \"{input}\" (against base \"{b}\")"),
                        None if !has_scheme(&input) => {
                            format!("Invalid URL \"{input}\": relative URL without a base")
                        }
                        None => format!("Invalid URL \"{input}\""),
                    };
                    type_error(&ctx, &why)
                })?;
                components(&ctx, &u)
            },
        )?,
    )?;
    n.set(
        "urlSet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, href: String, part: String, value: String| {
                let mut u = ada_url::Url::parse(&href, None)
                    .map_err(|_| type_error(&ctx, &format!("Invalid URL \"{href}\"")))?;
                set_part(&mut u, &part, &value)
                    .map_err(|()| type_error(&ctx, &format!("URL has no part \"{part}\"")))?;
                components(&ctx, &u)
            },
        )?,
    )?;
    n.set(
        "formParse",
        Function::new(ctx.clone(), |s: String| {
            url::form_urlencoded::parse(s.as_bytes())
                .map(|(k, v)| vec![k.into_owned(), v.into_owned()])
                .collect::<Vec<_>>()
        })?,
    )?;
    n.set(
        "formSerialize",
        Function::new(ctx.clone(), |pairs: Vec<Vec<String>>| {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for p in &pairs {
                if let [k, v] = p.as_slice() {
                    out.append_pair(k, v);
                }
            }
            out.finish()
        })?,
    )?;
    n.set(
        "utf8Encode",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, s: String| {
            TypedArray::<u8>::new(ctx, s.into_bytes())
        })?,
    )?;
    n.set(
        "utf8Decode",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, v: Value<'js>, fatal: bool, strip_bom: bool| {
            let b = bytes(&v).ok_or_else(|| type_error(&ctx, "TextDecoder.decode: the input must be a Uint8Array, a typed array or an ArrayBuffer"))?;
            // A byte order mark is dropped only at the start of a stream, unless ignoreBOM.
            let b = match strip_bom {
                true => b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&b),
                false => &b,
            };
            match std::str::from_utf8(b) {
                Ok(s) => Ok(s.to_string()),
                Err(e) if fatal => Err(type_error(
                    &ctx,
                    &format!("TextDecoder.decode: invalid UTF-8 at byte {}", e.valid_up_to()),
                )),
                Err(_) => Ok(String::from_utf8_lossy(b).into_owned()),
            }
        })?,
    )?;
    // structuredClone's checks on what a script cannot tell apart itself.
    n.set("now", Function::new(ctx.clone(), now_ms)?)?;
    n.set("timeOrigin", Function::new(ctx.clone(), time_origin)?)?;
    n.set(
        "isProxy",
        Function::new(ctx.clone(), |v: Value<'js>| v.is_proxy())?,
    )?;
    n.set(
        "isError",
        Function::new(ctx.clone(), |v: Value<'js>| v.is_error())?,
    )?;
    n.set(
        "btoa",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, s: String| {
            let latin1: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
            let b = latin1.ok_or_else(|| {
                dom_error(&ctx, "InvalidCharacterError", "btoa: the string has characters outside Latin-1; encode it to bytes first (TextEncoder)")
            })?;
            Ok::<_, rquickjs::Error>(base64::engine::general_purpose::STANDARD.encode(b))
        })?,
    )?;
    n.set(
        "atob",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, s: String| {
            let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let b = forgiving_base64(&clean).ok_or_else(|| {
                dom_error(
                    &ctx,
                    "InvalidCharacterError",
                    "atob: the string is not valid base64",
                )
            })?;
            Ok::<_, rquickjs::Error>(b.into_iter().map(char::from).collect::<String>())
        })?,
    )?;
    n.set(
        "encode",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, v: Value<'js>, encoding: String| {
                let b = data(&ctx, &v)?;
                encode(&ctx, b, &encoding)
            },
        )?,
    )?;
    n.set(
        "randomBytes",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, len: usize| {
            let mut b = vec![0u8; len];
            getrandom::getrandom(&mut b)
                .map_err(|e| Exception::throw_internal(&ctx, &format!("no randomness: {e}")))?;
            TypedArray::<u8>::new(ctx, b)
        })?,
    )?;
    n.set(
        "sha256",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, v: Value<'js>, encoding: String| {
                let digest = sha2::Sha256::digest(data(&ctx, &v)?).to_vec();
                encode(&ctx, digest, &encoding)
            },
        )?,
    )?;
    n.set(
        "hmacSha256",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, key: Value<'js>, v: Value<'js>, encoding: String| {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&data(&ctx, &key)?)
                    .map_err(|e| type_error(&ctx, &e.to_string()))?;
                mac.update(&data(&ctx, &v)?);
                encode(&ctx, mac.finalize().into_bytes().to_vec(), &encoding)
            },
        )?,
    )?;
    n.set(
        "timingSafeEqual",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, a: Value<'js>, b: Value<'js>| {
                Ok::<_, rquickjs::Error>(crate::encoding::constant_time_eq(
                    &data(&ctx, &a)?,
                    &data(&ctx, &b)?,
                ))
            },
        )?,
    )?;
    Ok(n)
}

/// A string's UTF-8 bytes, or the bytes of a Uint8Array or ArrayBuffer.
fn data(ctx: &Ctx<'_>, v: &Value<'_>) -> rquickjs::Result<Vec<u8>> {
    if let Some(s) = v.as_string() {
        return Ok(super::host::js::usv(ctx, s)?.into_bytes());
    }
    bytes(v).ok_or_else(|| type_error(ctx, "expected a string or bytes"))
}

/// Bytes as hex, base64, base64url (no padding) or a Uint8Array.
fn encode<'js>(ctx: &Ctx<'js>, b: Vec<u8>, encoding: &str) -> rquickjs::Result<Value<'js>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let text = match encoding {
        "hex" => crate::encoding::hex(&b),
        "base64" => STANDARD.encode(b),
        "base64url" => URL_SAFE_NO_PAD.encode(b),
        "bytes" => return Ok(TypedArray::<u8>::new(ctx.clone(), b)?.into_value()),
        _ => return Err(type_error(ctx, &format!("unknown encoding \"{encoding}\""))),
    };
    Ok(rquickjs::String::from_str(ctx.clone(), &text)?.into_value())
}

fn components<'js>(ctx: &Ctx<'js>, u: &ada_url::Url) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("href", u.href())?;
    o.set("origin", u.origin())?;
    o.set("protocol", u.protocol())?;
    o.set("username", u.username())?;
    o.set("password", u.password())?;
    o.set("host", u.host())?;
    o.set("hostname", u.hostname())?;
    o.set("port", u.port())?;
    o.set("pathname", u.pathname())?;
    o.set("search", u.search())?;
    o.set("hash", u.hash())?;
    Ok(o)
}

/// Whether `input` starts with a scheme ("x:"), after the C0 controls and
/// spaces the URL parser drops: without one it needs a base.
fn has_scheme(input: &str) -> bool {
    let s = input.trim_start_matches(|c: char| c <= ' ');
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// Applies the WHATWG setter for `part`; a value the setter cannot take
/// leaves the URL as it was, as the standard says. Err: no such part.
fn set_part(u: &mut ada_url::Url, part: &str, value: &str) -> Result<(), ()> {
    let v = Some(value);
    // The setters' own results only say whether the value was taken.
    let _ = match part {
        "href" => u.set_href(value),
        "protocol" => u.set_protocol(value),
        "username" => u.set_username(v),
        "password" => u.set_password(v),
        "host" => u.set_host(v),
        "hostname" => u.set_hostname(v),
        "port" => u.set_port(v),
        "pathname" => u.set_pathname(v),
        "search" => {
            u.set_search(v);
            Ok(())
        }
        "hash" => {
            u.set_hash(v);
            Ok(())
        }
        _ => return Err(()),
    };
    Ok(())
}

/// WHATWG forgiving-base64 decode: padding optional, but only where it may be.
fn forgiving_base64(s: &str) -> Option<Vec<u8>> {
    let s = if s.len().is_multiple_of(4) {
        s.strip_suffix("==")
            .or_else(|| s.strip_suffix('='))
            .unwrap_or(s)
    } else {
        s
    };
    if s.len() % 4 == 1 {
        return None;
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s)
        .ok()
        .or_else(|| {
            // The last character may carry bits the standard engine refuses; the web allows them.
            base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_allow_trailing_bits(true)
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
            )
            .decode(s)
            .ok()
        })
}

fn type_error(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_type(ctx, message)
}

fn dom_error(ctx: &Ctx<'_>, name: &str, message: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), message).and_then(|e| {
        e.set("name", name)?;
        Ok(e)
    }) {
        Ok(e) => ctx.throw(e.into_value()),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgiving_base64_follows_the_web() {
        assert_eq!(forgiving_base64("aGk=").unwrap(), b"hi");
        assert_eq!(forgiving_base64("aGk").unwrap(), b"hi");
        assert_eq!(forgiving_base64("aGl=").unwrap(), b"hi");
        assert_eq!(forgiving_base64("").unwrap(), b"");
        assert!(forgiving_base64("a").is_none());
        assert!(forgiving_base64("aG=k").is_none());
        assert!(forgiving_base64("a*==").is_none());
    }
}

#[cfg(test)]
mod url_tests {
    use super::set_part;

    #[test]
    fn a_scheme_is_told_apart_from_a_relative_url() {
        use super::has_scheme;
        assert!(has_scheme("https://x"));
        assert!(has_scheme("  mailto:a@b"));
        assert!(has_scheme("a+b-c.d:"));
        assert!(!has_scheme("not a url"));
        assert!(!has_scheme("/x:y"));
        assert!(!has_scheme("1http://x"));
    }

    #[test]
    fn setters_follow_whatwg() {
        let mut u = ada_url::Url::parse("https://example.com/a?b#c", None).expect("parses");
        set_part(&mut u, "port", "8080").expect("a part");
        set_part(&mut u, "hash", "").expect("a part");
        set_part(&mut u, "protocol", "foo").expect("a part"); // special to non-special: refused
        assert_eq!(u.href(), "https://example.com:8080/a?b");
        assert!(set_part(&mut u, "nope", "x").is_err());
        let blob = ada_url::Url::parse("blob:https://a.example:1/x", None).expect("parses");
        assert_eq!(blob.origin(), "https://a.example:1");
    }
}
