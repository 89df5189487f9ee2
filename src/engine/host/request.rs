//! What HTTP runs add to a run: `ctx.request`'s body methods, each over the
//! exact bytes the client sent (a webhook's signature is over those bytes,
//! not over a re-serialized body), and a response body given as bytes.
//!
//! - `text()`: the body as UTF-8; bytes that are not UTF-8 become U+FFFD,
//!   as TextDecoder does by default.
//! - `json()`: JSON.parse of the text; invalid JSON throws a SyntaxError
//!   saying where (line and column).
//! - `bytes()`: a new Uint8Array of the body on every call.
//! - `form()`: an `application/x-www-form-urlencoded` body as an object, a
//!   name sent more than once holding an array, as `ctx.request.query`.

use std::rc::Rc;

use base64::Engine as _;
use rquickjs::object::Property;
use rquickjs::{Ctx, Function, Object, TypedArray, Value};

use super::js;

/// Defines text(), json(), bytes() and form() on `request`, not enumerable,
/// so that `JSON.stringify(ctx.request)` stays what it was.
pub fn add_body_methods<'js>(
    ctx: &Ctx<'js>,
    request: &Object<'js>,
    body: &[u8],
) -> rquickjs::Result<()> {
    let body: Rc<[u8]> = Rc::from(body);
    let b = body.clone();
    let text = Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
        let _host = crate::engine::watchdog::Host::enter();
        rquickjs::String::from_str(ctx, &String::from_utf8_lossy(&b))
    })?;
    let b = body.clone();
    let json = Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
        let _host = crate::engine::watchdog::Host::enter();
        parse_json(&ctx, &b)
    })?;
    let b = body.clone();
    let bytes = Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
        let _host = crate::engine::watchdog::Host::enter();
        TypedArray::<u8>::new(ctx, b.to_vec())
    })?;
    let b = body;
    let form = Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
        let _host = crate::engine::watchdog::Host::enter();
        let fields = crate::http::request::form_fields(&b).to_string();
        ctx.json_parse(fields)
    })?;
    for (name, f) in [
        ("text", text),
        ("json", json),
        ("bytes", bytes),
        ("form", form),
    ] {
        request.prop(name, Property::from(f))?;
    }
    Ok(())
}

/// JSON.parse of the body. When it fails, serde_json says where; an error
/// that is not about the JSON (out of memory, interrupted) goes on as it is.
fn parse_json<'js>(ctx: &Ctx<'js>, body: &[u8]) -> rquickjs::Result<Value<'js>> {
    let text = String::from_utf8_lossy(body);
    match ctx.json_parse(text.as_bytes()) {
        Ok(v) => Ok(v),
        Err(e) => {
            let pending = ctx.catch();
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Err(why) => {
                    let message = why.to_string();
                    let message = message
                        .find(" at line ")
                        .map_or(message.as_str(), |i| &message[..i]);
                    Err(js::thrown(
                        ctx,
                        "SyntaxError",
                        &format!(
                            "ctx.request.json(): the body is not valid JSON: {message} (line {}, column {})",
                            why.line(),
                            why.column()
                        ),
                        "22P02",
                    ))
                }
                Ok(_) if pending.is_undefined() || pending.is_null() => Err(e),
                Ok(_) => Err(ctx.throw(pending)),
            }
        }
    }
}

/// An HTTP run's result with a body of bytes (a Uint8Array or an
/// ArrayBuffer) turned into what `Response::from_output` reads: the body in
/// base64 with `bodyEncoding: "base64"`. Bytes returned alone are a 200
/// with that body. Anything else is left as it is.
pub fn binary_body<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Value<'js>> {
    let encoded = |b: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(b);
    if let Some(b) = js::bytes(&value) {
        let out = Object::new(ctx.clone())?;
        out.set("status", 200)?;
        out.set("body", encoded(b))?;
        out.set("bodyEncoding", "base64")?;
        return Ok(out.into_value());
    }
    let Some(o) = value.as_object() else {
        return Ok(value);
    };
    if o.is_array() || !o.contains_key("status")? {
        return Ok(value);
    }
    let body: Value = o.get("body")?;
    let Some(b) = js::bytes(&body) else {
        return Ok(value);
    };
    // A copy: the script's own object is left alone.
    let out = Object::new(ctx.clone())?;
    for key in ["status", "headers"] {
        if o.contains_key(key)? {
            out.set(key, o.get::<_, Value>(key)?)?;
        }
    }
    out.set("body", encoded(b))?;
    out.set("bodyEncoding", "base64")?;
    Ok(out.into_value())
}
