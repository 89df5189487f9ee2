//! Source to bytecode. Sandboxes have no Eval intrinsic, so they cannot
//! compile: a separate compiler context does it, and sandboxes only ever load
//! bytecode that this module produced.

use std::cell::RefCell;

use std::ffi::CString;

use rquickjs::context::intrinsic;
use rquickjs::{qjs, Context, Ctx, Runtime};

use super::failure::{locate, Failure, FailureKind};

thread_local! {
    static COMPILER: RefCell<Option<(Runtime, Context)>> = const { RefCell::new(None) };
}

/// Compiles `source` as the ES module `name`. A syntax error, or an import
/// (scripts are single modules), comes back with its line and column.
pub fn compile(name: &str, source: &str) -> Result<Vec<u8>, Failure> {
    COMPILER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let rt = Runtime::new().map_err(internal)?;
            rt.set_memory_limit(256 << 20);
            // Compiling needs the parser (Eval) and regular expression literals'
            // compiler, not the builtins a full context makes in every new backend.
            let ctx = Context::custom::<(intrinsic::Eval, intrinsic::RegExpCompiler)>(&rt)
                .map_err(internal)?;
            *slot = Some((rt, ctx));
        }
        let Some((rt, ctx)) = slot.as_ref() else {
            unreachable!("compiler was just created")
        };
        // The runtime may be reached from a deeper native stack than when it was made.
        // SAFETY: the runtime is alive (held in `slot`) and used by this thread only.
        unsafe { qjs::JS_UpdateStackTop(ctx.get_runtime_ptr()) };
        // SAFETY: `ctx` is a live context of the compiler runtime, entered by `with` for the whole call.
        let out = ctx.with(|ctx| unsafe { compile_raw(&ctx, name, source) });
        rt.run_gc();
        out
    })
}

/// Drops the compiler's runtime; the next compile makes a new one. The
/// postmaster calls this so that backends do not inherit its runtime.
pub fn release() {
    COMPILER.with(|cell| cell.borrow_mut().take());
}

/// Compiles, resolves and serialises one module with the raw QuickJS API:
/// rquickjs keeps the module pointer private, and resolving needs it.
unsafe fn compile_raw(ctx: &Ctx<'_>, name: &str, source: &str) -> Result<Vec<u8>, Failure> {
    let raw = ctx.as_raw().as_ptr();
    let src = CString::new(source).map_err(|_| {
        Failure::new(
            FailureKind::Thrown,
            "SyntaxError",
            "the source contains a NUL character",
        )
    })?;
    let cname = CString::new(name)
        .map_err(|_| Failure::new(FailureKind::Thrown, "SyntaxError", "bad module name"))?;
    let flags = (qjs::JS_EVAL_TYPE_MODULE | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
    let module = qjs::JS_Eval(raw, src.as_ptr(), source.len() as _, cname.as_ptr(), flags);
    // With no module loader, any import fails here or when resolving.
    let no_imports = |mut f: Failure| {
        if f.message.starts_with("could not load module") {
            f.name = "SyntaxError".into();
            f.message = format!("import is not available to scripts ({})", f.message);
        }
        f
    };
    if qjs::JS_IsException(module) {
        return Err(no_imports(caught(ctx, rquickjs::Error::Exception, name)));
    }
    if qjs::JS_ResolveModule(raw, module) < 0 {
        qjs::JS_FreeValue(raw, module);
        return Err(no_imports(caught(ctx, rquickjs::Error::Exception, name)));
    }
    let mut len: qjs::size_t = 0;
    let buf = qjs::JS_WriteObject(raw, &mut len, module, qjs::JS_WRITE_OBJ_BYTECODE as i32);
    qjs::JS_FreeValue(raw, module);
    if buf.is_null() {
        return Err(caught(ctx, rquickjs::Error::Exception, name));
    }
    let bytes = std::slice::from_raw_parts(buf, len as usize).to_vec();
    qjs::js_free(raw, buf.cast());
    Ok(bytes)
}

fn internal(e: rquickjs::Error) -> Failure {
    Failure::new(
        FailureKind::Thrown,
        "InternalError",
        format!("compiler: {e}"),
    )
}

/// Turns a pending exception into a Failure located in module `name`.
pub fn caught(ctx: &Ctx<'_>, e: rquickjs::Error, name: &str) -> Failure {
    if !matches!(e, rquickjs::Error::Exception) {
        return internal(e);
    }
    let v = ctx.catch();
    let mut f = match v.as_object() {
        Some(o) if v.is_error() || o.contains_key("message").unwrap_or(false) => {
            let name: Option<String> = o.get("name").ok();
            let message: Option<String> = o.get("message").ok();
            let mut f = Failure::new(
                FailureKind::Thrown,
                name.as_deref().unwrap_or("Error"),
                message.unwrap_or_default(),
            );
            f.stack = o.get::<_, Option<String>>("stack").ok().flatten();
            let line: Option<u32> = o.get("lineNumber").ok();
            let col: Option<u32> = o.get("columnNumber").ok();
            if let (Some(l), Some(c)) = (line, col) {
                f.line = Some(l);
                f.column = Some(c);
            }
            f
        }
        _ => {
            let text = ctx
                .json_stringify(v.clone())
                .ok()
                .flatten()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_else(|| format!("{:?}", v.type_of()));
            Failure::new(
                FailureKind::Thrown,
                "Error",
                format!("uncaught value {text}"),
            )
        }
    };
    if f.name == "RangeError" && f.message.contains("stack") {
        f.kind = FailureKind::Stack;
    }
    if f.line.is_none() {
        if let Some((l, c)) = f.stack.as_deref().and_then(|s| locate(s, name)) {
            f.line = Some(l);
            f.column = Some(c);
        }
    }
    f
}
