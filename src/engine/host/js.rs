//! Helpers the ctx bindings share: methods on host objects, and the JS
//! errors they throw (each with a SQLSTATE in `code`).

use std::rc::Rc;

use rquickjs::function::Rest;
use rquickjs::{Ctx, Function, Object, Value};

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

/// The bytes of a Uint8Array or an ArrayBuffer, copied; None for other values.
pub fn bytes(v: &Value<'_>) -> Option<Vec<u8>> {
    let o = v.as_object()?;
    // SAFETY: no JS runs while the bytes are copied.
    if let Some(a) = o.as_typed_array::<u8>() {
        return Some(unsafe { a.as_bytes() }.unwrap_or_default().to_vec());
    }
    rquickjs::ArrayBuffer::from_object(o.clone())
        // SAFETY: as above: no JS runs while the bytes are copied.
        .map(|b| unsafe { b.as_bytes() }.unwrap_or_default().to_vec())
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
