//! Libraries of globals written in JS (the standard library, fetch) that a
//! context evaluates only when a script first touches one of their globals,
//! so that scripts using none of them pay nothing. Each is compiled once, in
//! the postmaster when the extension is preloaded (backends inherit the
//! bytecode), or else once per backend.

use std::rc::Rc;
use std::sync::OnceLock;

use rquickjs::object::{Accessor, Property};
use rquickjs::{Ctx, Exception, Module, Object, Value};

use super::compile;

/// A JS module whose evaluation defines some globals.
pub struct Library {
    pub name: &'static str,
    pub source: &'static str,
    pub globals: &'static [&'static str],
    pub bytecode: OnceLock<Vec<u8>>,
}

impl Library {
    pub const fn new(
        name: &'static str,
        source: &'static str,
        globals: &'static [&'static str],
    ) -> Library {
        Library {
            name,
            source,
            globals,
            bytecode: OnceLock::new(),
        }
    }

    /// Compiles the library now (in the postmaster, so that backends forked
    /// later inherit it); a failure is a warning, and the library's globals throw.
    pub fn prepare(&'static self) {
        if let Err(m) = self.bytecode() {
            pgrx::warning!("jsruntime: {m}");
        }
    }

    pub fn bytecode(&'static self) -> Result<&'static [u8], String> {
        if let Some(code) = self.bytecode.get() {
            return Ok(code);
        }
        let code = compile::compile(self.name, self.source)
            .map_err(|f| format!("{} does not compile: {}", self.name, f.summary()))?;
        Ok(self.bytecode.get_or_init(|| code))
    }

    /// Defines the library's globals in `ctx` as accessors that call `load`
    /// on first use; loading replaces them with the real values.
    pub fn install<'js>(
        &'static self,
        ctx: &Ctx<'js>,
        load: impl Fn(&Ctx<'js>) -> rquickjs::Result<()> + 'js,
    ) -> rquickjs::Result<()> {
        let load = Rc::new(load);
        for &name in self.globals {
            let load = load.clone();
            let get = move |ctx: Ctx<'js>| -> rquickjs::Result<Value<'js>> {
                load(&ctx)?;
                ctx.globals().get(name)
            };
            // A script may replace a global without loading the library.
            let set = move |ctx: Ctx<'js>, v: Value<'js>| {
                ctx.globals()
                    .prop(name, Property::from(v).writable().configurable())
            };
            ctx.globals()
                .prop(name, Accessor::new(get, set).configurable())?;
        }
        Ok(())
    }

    /// Makes methods of built-in prototypes (`("Number", "toLocaleString")`)
    /// accessors that call `load` on first use; loading replaces them.
    pub fn install_methods<'js>(
        &'static self,
        ctx: &Ctx<'js>,
        methods: &'static [(&'static str, &'static str)],
        load: impl Fn(&Ctx<'js>) -> rquickjs::Result<()> + 'js,
    ) -> rquickjs::Result<()> {
        let load = Rc::new(load);
        for &(class, name) in methods {
            let proto: Object = ctx.globals().get::<_, Object>(class)?.get("prototype")?;
            let load = load.clone();
            // The prototype is looked up again rather than held: a JS value
            // held by its own property's closure would never be freed.
            let get = move |ctx: Ctx<'js>| -> rquickjs::Result<Value<'js>> {
                load(&ctx)?;
                ctx.globals()
                    .get::<_, Object>(class)?
                    .get::<_, Object>("prototype")?
                    .get(name)
            };
            let set = move |this: rquickjs::function::This<Object<'js>>, v: Value<'js>| {
                this.0
                    .prop(name, Property::from(v).writable().configurable())
            };
            proto.prop(name, Accessor::new(get, set).configurable())?;
        }
        Ok(())
    }

    /// Evaluates the library in `ctx`, handing it `natives` as the global
    /// `__jsrt_native`, which the library removes at once.
    pub fn evaluate<'js>(
        &'static self,
        ctx: &Ctx<'js>,
        natives: Object<'js>,
    ) -> rquickjs::Result<()> {
        let code = self
            .bytecode()
            .map_err(|m| Exception::throw_internal(ctx, &m))?;
        ctx.globals().set("__jsrt_native", natives)?;
        // SAFETY: the bytecode came from compile::compile.
        let module = unsafe { Module::load(ctx.clone(), code) }?;
        // No top-level await: evaluation is done when eval returns, and the
        // script's own pending jobs must not run here, inside a property read.
        let (_, done) = module.eval()?;
        match done.result::<Value>() {
            Some(r) => r.map(drop),
            None => Err(Exception::throw_internal(
                ctx,
                &format!("{} did not load", self.name),
            )),
        }
    }
}
