//! The standard library scripts get besides the ECMAScript built-ins: URL and
//! URLSearchParams, TextEncoder and TextDecoder, atob and btoa, crypto and
//! structuredClone. `stdlib.js` defines them on top of the native helpers
//! here (WHATWG URL parsing from the url crate, UTF-8, base64, SHA-256,
//! HMAC, randomness). It is compiled once, in the postmaster when the
//! library is preloaded (backends inherit the bytecode) or else once per
//! backend. A context evaluates it when a script first touches one of its
//! globals (about half a millisecond), so scripts that use none pay nothing.

use base64::Engine as _;
use hmac::Mac as _;
use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Function, Object, TypedArray, Value};
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
    ],
);

/// Compiles the library now, so that backends forked later inherit it.
pub fn prepare() {
    if let Err(m) = LIBRARY.bytecode() {
        pgrx::warning!("jsruntime: {m}");
    }
    compile::release();
}

/// Defines the standard library's globals in `ctx`, to load it on first use.
pub fn install(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    LIBRARY.install(ctx, |ctx| LIBRARY.evaluate(ctx, natives(ctx)?))
}

/// The native helpers, handed to stdlib.js, which removes them from the globals.
fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let n = Object::new(ctx.clone())?;
    n.set(
        "urlParse",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, input: String, base: Opt<String>| {
                let parsed = match base.0 {
                    Some(b) => url::Url::parse(&b).and_then(|b| b.join(&input)),
                    None => url::Url::parse(&input),
                };
                let u = parsed
                    .map_err(|e| type_error(&ctx, &format!("Invalid URL \"{input}\": {e}")))?;
                components(&ctx, &u)
            },
        )?,
    )?;
    n.set(
        "urlSet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, href: String, part: String, value: String| {
                let mut u = url::Url::parse(&href).map_err(|e| type_error(&ctx, &e.to_string()))?;
                use url::quirks as q;
                // WHATWG setters ignore values they cannot take.
                let _ = match part.as_str() {
                    "protocol" => q::set_protocol(&mut u, &value),
                    "username" => q::set_username(&mut u, &value),
                    "password" => q::set_password(&mut u, &value),
                    "host" => q::set_host(&mut u, &value),
                    "hostname" => q::set_hostname(&mut u, &value),
                    "port" => q::set_port(&mut u, &value),
                    "pathname" => {
                        q::set_pathname(&mut u, &value);
                        Ok(())
                    }
                    "search" => {
                        q::set_search(&mut u, &value);
                        Ok(())
                    }
                    "hash" => {
                        q::set_hash(&mut u, &value);
                        Ok(())
                    }
                    _ => return Err(type_error(&ctx, &format!("URL has no part \"{part}\""))),
                };
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
        Function::new(ctx.clone(), |ctx: Ctx<'js>, v: Value<'js>, fatal: bool| {
            let b = bytes(&v).ok_or_else(|| type_error(&ctx, "TextDecoder.decode: the input must be a Uint8Array, a typed array or an ArrayBuffer"))?;
            let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&b);
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
        return Ok(s.to_string()?.into_bytes());
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

fn components<'js>(ctx: &Ctx<'js>, u: &url::Url) -> rquickjs::Result<Object<'js>> {
    use url::quirks as q;
    let o = Object::new(ctx.clone())?;
    o.set("href", q::href(u))?;
    o.set("origin", q::origin(u))?;
    o.set("protocol", q::protocol(u))?;
    o.set("username", q::username(u))?;
    o.set("password", q::password(u))?;
    o.set("host", q::host(u))?;
    o.set("hostname", q::hostname(u))?;
    o.set("port", q::port(u))?;
    o.set("pathname", q::pathname(u))?;
    o.set("search", q::search(u))?;
    o.set("hash", q::hash(u))?;
    Ok(o)
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
