//! Helpers the ctx bindings share: methods on host objects, and the JS
//! errors they throw (each with a SQLSTATE in `code`).

use std::rc::Rc;

use rquickjs::function::Rest;
use rquickjs::{qjs, Ctx, Function, Object, Value};

use super::super::sandbox::Watch;
use crate::subxact::{self, Caught};

pub type Js<'js> = rquickjs::Result<Value<'js>>;

/// Sets `name` on `target` to a function given the run's watch and the call's arguments.
pub fn method<'js>(
    ctx: &Ctx<'js>,
    target: &Object<'js>,
    watch: &Rc<Watch>,
    name: &'static str,
    f: impl Fn(&Ctx<'js>, &Watch, &[Value<'js>]) -> Js<'js> + 'js,
) -> rquickjs::Result<()> {
    let watch = watch.clone();
    let func = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        let _host = crate::engine::watchdog::Host::enter();
        f(&ctx, &watch, &args.0)
    })?;
    target.set(name, func)
}

/// A JS Error named `name` with a SQLSTATE in `code`; thrown.
pub fn thrown(ctx: &Ctx<'_>, name: &str, message: &str, code: &str) -> rquickjs::Error {
    match error_object(ctx, name, message, code) {
        Ok(e) => ctx.throw(e.into_value()),
        Err(e) => e,
    }
}

pub fn error_object<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    message: &str,
    code: &str,
) -> rquickjs::Result<Object<'js>> {
    let e = rquickjs::Exception::from_message(ctx.clone(), message)?;
    e.set("name", name)?;
    e.set("code", code)?;
    Ok(e.into_object())
}

pub fn database_error(ctx: &Ctx<'_>, c: Caught) -> rquickjs::Error {
    let made =
        error_object(ctx, "DatabaseError", &c.message, &subxact::sqlstate(c.code)).and_then(|e| {
            if let Some(d) = &c.detail {
                e.set("detail", d.as_str())?;
            }
            if let Some(h) = &c.hint {
                e.set("hint", h.as_str())?;
            }
            Ok(e)
        });
    match made {
        Ok(e) => ctx.throw(e.into_value()),
        Err(e) => e,
    }
}

/// A TypeError about a bad argument, named after the call.
pub fn bad(ctx: &Ctx<'_>, what: &str, why: &str) -> rquickjs::Error {
    thrown(ctx, "TypeError", &format!("{what}: {why}"), "22023")
}

/// A string argument, or a TypeError from `what` saying `why`.
pub fn text(
    ctx: &Ctx<'_>,
    v: Option<&Value<'_>>,
    what: &str,
    why: &str,
) -> rquickjs::Result<String> {
    v.and_then(|v| v.as_string())
        .map(|s| usv(ctx, s))
        .transpose()?
        .ok_or_else(|| bad(ctx, what, why))
}

/// Runs `f`'s SPI work as the extension's owner in its own subtransaction:
/// an error rolls back only that work and comes back as a catchable
/// DatabaseError from `what`.
pub fn as_owner<'js, T>(
    ctx: &Ctx<'js>,
    what: &str,
    f: impl FnOnce() -> Result<T, pgrx::spi::SpiError> + std::panic::UnwindSafe,
) -> rquickjs::Result<T> {
    match subxact::run(|| crate::tenancy::as_owner(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(thrown(
            ctx,
            "DatabaseError",
            &format!("{what}: {e}"),
            "XX000",
        )),
        Err(c) => Err(database_error(ctx, c)),
    }
}

/// The bytes of a typed array (any element type: its bytes as laid out),
/// a DataView or an ArrayBuffer, copied; None for other values.
pub fn bytes(v: &Value<'_>) -> Option<Vec<u8>> {
    let o = v.as_object()?;
    // SAFETY: no JS runs while the bytes are copied.
    if let Some(a) = o.as_typed_array::<u8>() {
        return Some(unsafe { a.as_bytes() }.unwrap_or_default().to_vec());
    }
    let raw = v.as_raw();
    let cx = v.ctx().as_raw().as_ptr();
    // SAFETY: `raw` is borrowed from `v`; these calls only read its class.
    let (typed, view) = unsafe { (qjs::JS_GetTypedArrayType(raw) >= 0, qjs::JS_IsDataView(raw)) };
    if typed {
        let (mut offset, mut len, mut per) = (0, 0, 0);
        // SAFETY: `raw` is a typed array of the live context `cx`; the buffer comes back as a new reference,
        // which `from_raw` takes over.
        let buffer = unsafe {
            let b = qjs::JS_GetTypedArrayBuffer(cx, raw, &mut offset, &mut len, &mut per);
            if qjs::JS_IsException(b) {
                v.ctx().catch();
                return None;
            }
            Value::from_raw(v.ctx().clone(), b)
        };
        return slice_of(&buffer, offset as usize, len as usize);
    }
    if view {
        // A DataView's own getters (on its prototype) say which part of its buffer it shows.
        let buffer: Value = o.get("buffer").ok()?;
        let offset: f64 = o.get("byteOffset").ok()?;
        let len: f64 = o.get("byteLength").ok()?;
        return slice_of(&buffer, offset as usize, len as usize);
    }
    rquickjs::ArrayBuffer::from_object(o.clone())
        // SAFETY: as above: no JS runs while the bytes are copied.
        .map(|b| unsafe { b.as_bytes() }.unwrap_or_default().to_vec())
}

/// `len` bytes of an ArrayBuffer from `offset`, copied.
fn slice_of(buffer: &Value<'_>, offset: usize, len: usize) -> Option<Vec<u8>> {
    let b = rquickjs::ArrayBuffer::from_object(buffer.as_object()?.clone())?;
    // SAFETY: no JS runs while the bytes are copied.
    let all = unsafe { b.as_bytes() }.unwrap_or_default();
    Some(all.get(offset..offset.checked_add(len)?)?.to_vec())
}

/// What kind of value `v` is when it has no SQL or JSON form: a Map, Set,
/// WeakMap, WeakSet, RegExp, Promise, Symbol or function (JSON.stringify
/// would make `{}` of the first ones and drop the others).
pub fn unconvertible(v: &Value<'_>) -> Option<&'static str> {
    if v.is_symbol() {
        return Some("a Symbol");
    }
    if v.is_function() {
        return Some("a function");
    }
    if !v.is_object() {
        return None;
    }
    let raw = v.as_raw();
    // SAFETY: `raw` is borrowed from `v`; these calls only read its class.
    unsafe {
        if qjs::JS_IsMap(raw) {
            Some("a Map")
        } else if qjs::JS_IsSet(raw) {
            Some("a Set")
        } else if qjs::JS_IsWeakMap(raw) {
            Some("a WeakMap")
        } else if qjs::JS_IsWeakSet(raw) {
            Some("a WeakSet")
        } else if qjs::JS_IsWeakRef(raw) {
            Some("a WeakRef")
        } else if qjs::JS_IsRegExp(raw) {
            Some("a RegExp")
        } else if qjs::JS_IsPromise(raw) {
            Some("a Promise")
        } else {
            None
        }
    }
}

/// JSON text of `v`, refusing (as a TypeError with SQLSTATE 42804 from
/// `what`) anything inside it that JSON.stringify would silently turn into
/// `{}` or drop: see `unconvertible`.
pub fn strict_json<'js>(ctx: &Ctx<'js>, what: &str, v: &Value<'js>) -> rquickjs::Result<String> {
    let what_owned = what.to_string();
    let replacer = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, key: Value<'js>, value: Value<'js>| -> rquickjs::Result<Value<'js>> {
            if let Some(kind) = unconvertible(&value) {
                let at = key
                    .as_string()
                    .and_then(|k| k.to_string().ok())
                    .filter(|k| !k.is_empty())
                    .map(|k| format!(" (at key \"{k}\")"))
                    .unwrap_or_default();
                return Err(thrown(
                    &ctx,
                    "TypeError",
                    &format!("{what_owned}: {kind}{at} has no JSON form; convert it first (Object.fromEntries(map), [...set], String(re))"),
                    "42804",
                ));
            }
            Ok(value)
        },
    )?;
    Ok(ctx
        .json_stringify_replacer(v.clone(), replacer)?
        .map(|s| s.to_string())
        .transpose()?
        .unwrap_or_else(|| "null".into()))
}

/// pgrx's `Spi::get_one` fails when there is no row; here that is None.
pub fn no_row_is_none<T>(
    r: Result<Option<T>, pgrx::spi::SpiError>,
) -> Result<Option<T>, pgrx::spi::SpiError> {
    match r {
        Err(pgrx::spi::SpiError::InvalidPosition) => Ok(None),
        r => r,
    }
}

/// Freezes `o` with the engine's own JS_FreezeObject, which a script cannot
/// replace the way it could Object.freeze.
pub fn freeze<'js>(ctx: &Ctx<'js>, o: &Object<'js>) {
    // SAFETY: `o` is a live object of this context, borrowed for the call (JS_FreezeObject does not consume it).
    unsafe { rquickjs::qjs::JS_FreezeObject(ctx.as_raw().as_ptr(), o.as_raw()) };
}

/// A JS string as Rust text, converted as WebIDL's USVString: a lone
/// surrogate becomes U+FFFD instead of failing the conversion.
pub fn usv(ctx: &Ctx<'_>, s: &rquickjs::String<'_>) -> rquickjs::Result<String> {
    let mut len = 0usize;
    // SAFETY: the context running this call; `s` is borrowed and stays alive; `len` is a local.
    let ptr = unsafe {
        rquickjs::qjs::JS_ToCStringLen(ctx.as_raw().as_ptr(), &mut len, s.as_value().as_raw())
    };
    if ptr.is_null() {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: QuickJS returned `len` readable bytes at `ptr`, valid until freed below.
    let text = crate::encoding::usv_from_wtf8(unsafe {
        std::slice::from_raw_parts(ptr.cast::<u8>(), len)
    });
    // SAFETY: `ptr` came from JS_ToCStringLen on this context and is freed once.
    unsafe { rquickjs::qjs::JS_FreeCString(ctx.as_raw().as_ptr(), ptr) };
    Ok(text)
}
