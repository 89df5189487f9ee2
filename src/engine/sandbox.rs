//! The JS sandbox: one QuickJS runtime per tenant, one context per script
//! version, and the limits every run obeys.
//!
//! Contexts have no Eval intrinsic (no `eval`, no `new Function`) and no
//! module loader (no `import`). The allocator counts every byte, so a run
//! that reaches its memory limit ends even when JS catches the error, and the
//! interrupt handler only reads flags: Postgres's cancel and die flags, the
//! deadline and the allocator's out-of-memory flag.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use rquickjs::context::intrinsic;
use rquickjs::function::Rest;
use rquickjs::{
    allocator::Allocator, qjs, Context, Ctx, Function, Module, Object, Persistent, Runtime, Value,
};

use super::compile::caught;
use super::failure::{Failure, FailureKind};
use super::host::js::freeze;
use super::host::log::{Line, LogBuffer};
use super::host::{self, Usage};
use super::ids::KeyMap;
use super::limits::Limits;
use super::watchdog;

/// Byte accounting shared by a runtime's allocator and the run loop.
///
/// QuickJS polls its interrupt handler only between JS operations, so a
/// builtin such as `Array.prototype.fill` can run long without a poll. Once a
/// run is over its memory or its time (the deadline's timer, watchdog.rs),
/// every allocation fails: such loops then end quickly, and the next poll ends
/// the run.
#[derive(Default)]
struct Memory {
    limit: Cell<usize>,
    used: Cell<usize>,
    peak: Cell<usize>,
    exhausted: Cell<bool>,
    /// the run was stopped: only the interrupt's own (uncatchable) error may still be made
    stopped: Cell<bool>,
    /// bytes that error may take
    reserve: Cell<usize>,
}

/// Room for QuickJS to build the uncatchable "interrupted" error once a run
/// is stopped. Without it that error could not be made, QuickJS would throw
/// a catchable one instead, and `catch`/`finally` would go on running.
const INTERRUPT_RESERVE: usize = 64 << 10;

impl Memory {
    /// The limit this run went over, as the allocator saw it.
    fn over(&self) -> Option<FailureKind> {
        if self.exhausted.get() {
            Some(FailureKind::Memory)
        } else {
            watchdog::passed().then_some(FailureKind::Timeout)
        }
    }
}

struct CountingAllocator(Rc<Memory>);

impl CountingAllocator {
    fn grant(&self, old: usize, new: usize) -> bool {
        let m = &self.0;
        if m.stopped.get() {
            let left = m.reserve.get();
            let grown = new.saturating_sub(old);
            if grown <= left {
                m.reserve.set(left - grown);
                return true;
            }
            return false;
        }
        if m.over().is_some() {
            return false;
        }
        let used = m.used.get() - old;
        if used + new > m.limit.get() {
            m.exhausted.set(true);
            return false;
        }
        true
    }

    fn account(&self, old: usize, new: usize) {
        let m = &self.0;
        let used = m.used.get() - old + new;
        m.used.set(used);
        if used > m.peak.get() {
            m.peak.set(used);
        }
    }
}

// SAFETY: every block comes from libc malloc/calloc/realloc (aligned for any type, at least the size
// asked) and goes back to libc free; usable_size asks libc about its own blocks.
unsafe impl Allocator for CountingAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.grant(0, size) {
            return std::ptr::null_mut();
        }
        watchdog::alloc_enter();
        // SAFETY: malloc has no preconditions; a null result goes back to QuickJS as out of memory.
        let p = unsafe { libc::malloc(size.max(1)) } as *mut u8;
        watchdog::alloc_exit();
        if !p.is_null() {
            // SAFETY: `p` is the live block malloc just returned.
            self.account(0, unsafe { libc::malloc_usable_size(p.cast()) });
        }
        p
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        if !self.grant(0, total) {
            return std::ptr::null_mut();
        }
        watchdog::alloc_enter();
        // SAFETY: calloc has no preconditions; a null result goes back to QuickJS as out of memory.
        let p = unsafe { libc::calloc(count.max(1), size.max(1)) } as *mut u8;
        watchdog::alloc_exit();
        if !p.is_null() {
            // SAFETY: `p` is the live block calloc just returned.
            self.account(0, unsafe { libc::malloc_usable_size(p.cast()) });
        }
        p
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: QuickJS frees only live blocks of this allocator (the trait's contract), all from libc.
        let size = unsafe { libc::malloc_usable_size(ptr.cast()) };
        self.account(size, 0);
        watchdog::alloc_enter();
        // SAFETY: a live libc block, freed once, after its size was read.
        unsafe { libc::free(ptr.cast()) };
        watchdog::alloc_exit();
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        let old = if ptr.is_null() {
            0
        } else {
            // SAFETY: a non-null `ptr` is a live block of this allocator (the trait's contract), from libc.
            unsafe { libc::malloc_usable_size(ptr.cast()) }
        };
        if new_size > old && !self.grant(old, new_size) {
            return std::ptr::null_mut();
        }
        watchdog::alloc_enter();
        // SAFETY: `ptr` is null or a live libc block; on failure libc leaves it allocated, as QuickJS expects.
        let p = unsafe { libc::realloc(ptr.cast(), new_size.max(1)) } as *mut u8;
        watchdog::alloc_exit();
        if !p.is_null() {
            // SAFETY: `p` is the live block realloc just returned.
            self.account(old, unsafe { libc::malloc_usable_size(p.cast()) });
        }
        p
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: QuickJS asks only about live blocks of this allocator, all from libc.
        unsafe { libc::malloc_usable_size(ptr.cast()) }
    }
}

/// What the interrupt handler watches during one run.
#[derive(Default)]
pub struct Watch {
    started: Cell<Option<Instant>>,
    stop: Cell<Option<FailureKind>>,
}

impl Watch {
    /// Ends the run at the next interrupt check, whatever JS catches.
    pub fn stop(&self, kind: FailureKind) {
        if self.stop.get().is_none() {
            self.stop.set(Some(kind));
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.get().is_some()
    }

    /// Milliseconds since the run started, for log lines.
    pub fn elapsed_ms(&self) -> u64 {
        self.started
            .get()
            .map_or(0, |s| s.elapsed().as_millis() as u64)
    }
}

pub fn postgres_wants_out() -> bool {
    // Only the flags that make CHECK_FOR_INTERRUPTS raise: others (barriers,
    // idle timeouts) must not end a script. A background worker's SIGTERM
    // sets ShutdownRequestPending instead.
    // SAFETY: volatile reads of sig_atomic_t flags that Postgres's signal handlers set; no reference is kept.
    unsafe {
        std::ptr::read_volatile(&raw const pgrx::pg_sys::QueryCancelPending) != 0
            || std::ptr::read_volatile(&raw const pgrx::pg_sys::ProcDiePending) != 0
            || std::ptr::read_volatile(&raw const pgrx::pg_sys::ShutdownRequestPending) != 0
    }
}

/// Everything a run needs to know about itself.
pub struct RunRequest<'a> {
    /// when the run started: its deadline counts from here
    pub started: Instant,
    /// `script_id` and `tenant_id` as numbers
    pub script_key: u128,
    pub tenant_key: u128,
    pub script_id: &'a str,
    pub script_name: &'a str,
    pub version: i32,
    /// SHA-256 of the source: what a loaded context is kept by. A version
    /// number alone can name two sources (an update rolled back frees it).
    pub digest: [u8; 32],
    pub tenant_id: &'a str,
    pub tenant_name: &'a str,
    pub execution_id: &'a str,
    pub trigger: &'a str,
    pub attempt: i32,
    pub input_json: &'a str,
    /// an input made straight as a JS object instead of from `input_json`
    pub built_input: Option<&'a dyn BuiltInput>,
    /// ctx.event of event runs, as JSON text
    pub event_json: Option<&'a str>,
    /// ctx.request of HTTP runs, as JSON text
    pub request_json: Option<&'a str>,
    /// the body of HTTP runs as the client sent it, behind ctx.request.text() and the rest
    pub request_body: Option<&'a [u8]>,
    /// whether `ctx.commit()` may commit: a queued one-off run in an executor's own transaction
    pub may_commit: bool,
    /// a typed function or trigger call: its arguments and its result, as JS values
    pub typed: Option<&'a dyn Typed>,
    pub limits: Limits,
}

/// A call of a typed SQL function or trigger: the default export is called
/// as `main(ctx, ...args)`, and what it returns goes to `result` (instead of
/// becoming JSON text).
pub trait Typed {
    /// Adds the arguments after ctx to `argv`. `kept` is what the loaded
    /// script keeps from call to call for them (a trigger's `tg`, its rows' shapes).
    fn args<'js>(
        &self,
        ctx: &Ctx<'js>,
        names: &Names<'_>,
        kept: &Kept,
        argv: &mut Argv<'_, 'js>,
    ) -> rquickjs::Result<()>;
    fn result<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<()>;
}

/// A run's input made as a JS object rather than parsed from JSON text
/// (`jsrt.execute(script, jsonb_build_object(...))`, engine/object_call.rs).
pub trait BuiltInput {
    fn object<'js>(
        &self,
        ctx: &Ctx<'js>,
        names: &Names<'_>,
        kept: &Kept,
    ) -> rquickjs::Result<Value<'js>>;

    /// About how many bytes the object holds.
    fn bytes(&self) -> usize;
}

/// A run's output as JSON text (None for undefined), or why it failed
/// (boxed: a run's result is moved per run, and a small one moves without a call).
pub type Outcome = Result<Option<String>, Box<Failure>>;

pub struct RunResult {
    pub outcome: Outcome,
    pub memory_used_bytes: usize,
    pub logs: Vec<Line>,
    pub usage: Usage,
}

/// A loaded script version: its context and its default export.
struct Loaded {
    // Persistent values must go before the context that owns them.
    /// the default export, held for `main`, its value borrowed: a call passes it as it is
    _main: Persistent<Function<'static>>,
    main: qjs::JSValue,
    /// ctx.log, ctx.db, ctx.http, ...: the same objects for every run
    host: Vec<(qjs::JSAtom, Persistent<Object<'static>>)>,
    /// ctx.tenant and ctx.script: the same for every run of this version
    tenant: Persistent<Object<'static>>,
    script: Persistent<Object<'static>>,
    /// the ctx of typed function and trigger calls, by trigger: made once, as
    /// its only per-call member (`execution.id`) is a getter; with its value,
    /// borrowed, to pass as it is
    typed_ctx: RefCell<Vec<(String, Persistent<Object<'static>>, qjs::JSValue)>>,
    /// the ctx of a plain run (no event, no request) and the slot its input
    /// and execution are read from, passed again while nothing else holds it
    run_ctx: Reused<Persistent<rquickjs::Array<'static>>>,
    kept: Kept,
    context: Context,
    digest: [u8; 32],
    last_used: u64,
}

/// One tenant's heap. No other tenant's code ever runs in it.
pub struct TenantRuntime {
    /// by script key (`Script.key`)
    loaded: KeyMap<Loaded>,
    logs: Rc<RefCell<LogBuffer>>,
    watch: Rc<Watch>,
    memory: Rc<Memory>,
    /// dropped by hand: left alone when the process exits during a run
    runtime: std::mem::ManuallyDrop<Runtime>,
    /// the raw runtime, for the stack settings rquickjs does not wrap
    raw: *mut qjs::JSRuntime,
    atoms: Atoms,
    /// names interned for typed calls (`Names`), and the uid under which they hold
    interned: RefCell<HashMap<Box<str>, qjs::JSAtom>>,
    uid: u64,
    pub last_used: u64,
    clock: u64,
    /// a call's arguments (`Argv`), kept from call to call: no allocation per typed call
    argv: Vec<qjs::JSValue>,
}

macro_rules! atoms {
    ($($field:ident = $text:literal),* $(,)?) => {
        /// Property names of ctx and of a trigger's `tg`, and the words `tg`
        /// holds, made once per runtime: looking them up by string on every
        /// call is a measurable part of an embedded call.
        #[derive(Clone, Copy)]
        pub struct Atoms {
            $(pub $field: qjs::JSAtom,)*
        }

        impl Atoms {
            fn new(ctx: &Ctx<'_>) -> Atoms {
                // SAFETY: `ctx` is live for the call, which copies the n.len() bytes of `n`; Drop frees the atoms.
                let atom = |n: &str| unsafe {
                    qjs::JS_NewAtomLen(ctx.as_raw().as_ptr(), n.as_ptr().cast(), n.len() as _)
                };
                Atoms { $($field: atom($text),)* }
            }

            fn all(&self) -> Vec<qjs::JSAtom> {
                vec![$(self.$field),*]
            }
        }
    };
}

atoms! {
    input = "input", tenant = "tenant", script = "script", execution = "execution",
    log = "log", db = "db", events = "events", http = "http", secrets = "secrets",
    cache = "cache", progress = "progress", commit = "commit", event = "event",
    request = "request", id = "id", name = "name", version = "version",
    trigger = "trigger", attempt = "attempt",
    op = "op", when = "when", level = "level", table = "table", schema = "schema",
    args = "args", new = "new", old = "old",
    insert = "INSERT", update = "UPDATE", delete = "DELETE", truncate = "TRUNCATE",
    before = "BEFORE", after = "AFTER", instead_of = "INSTEAD OF", row = "ROW",
}

/// Names interned per runtime (a trigger's columns, table, schema): at most
/// this many, then they are all let go at the start of a run, and the
/// runtime's uid changes so that nobody uses them again.
const MAX_INTERNED: usize = 4096;

thread_local! {
    static NEXT_UID: Cell<u64> = const { Cell::new(1) };
}

fn next_uid() -> u64 {
    NEXT_UID.with(|n| {
        let uid = n.get();
        n.set(uid + 1);
        uid
    })
}

/// What a typed call makes its arguments with: the runtime's atoms, and
/// names interned in it, valid for as long as `uid` stays the same (a call
/// site may keep them under that uid).
pub struct Names<'a> {
    pub uid: u64,
    pub atoms: &'a Atoms,
    interned: &'a RefCell<HashMap<Box<str>, qjs::JSAtom>>,
}

impl Names<'_> {
    /// `name` as an atom owned by the runtime.
    pub fn atom(&self, ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<qjs::JSAtom> {
        if let Some(a) = self.interned.borrow().get(name) {
            return Ok(*a);
        }
        // The runtime's Drop frees it.
        let a = new_atom(ctx, name)?;
        self.interned.borrow_mut().insert(name.into(), a);
        Ok(a)
    }
}

/// The string an atom names, as a value: no copy of its text.
pub fn word<'js>(ctx: &Ctx<'js>, atom: qjs::JSAtom) -> rquickjs::Result<Value<'js>> {
    // SAFETY: an atom of this context's runtime; JS_AtomToString returns a new reference that `from_raw` takes over.
    unsafe {
        let v = qjs::JS_AtomToString(ctx.as_raw().as_ptr(), atom);
        if qjs::JS_IsException(v) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), v))
    }
}

impl Drop for TenantRuntime {
    fn drop(&mut self) {
        if watchdog::in_run() {
            // The process is exiting in the middle of a run (a FATAL): the
            // heap is mid-operation, and freeing it could crash the exit.
            std::mem::forget(std::mem::take(&mut self.loaded));
            return;
        }
        self.loaded.clear();
        let interned = std::mem::take(&mut *self.interned.borrow_mut());
        for a in self.atoms.all().into_iter().chain(interned.into_values()) {
            // SAFETY: the atoms were made in this runtime, which is still alive.
            unsafe { qjs::JS_FreeAtomRT(self.raw, a) };
        }
        // SAFETY: dropped once, here, after every context of it.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.runtime) };
    }
}

type Intrinsics = (
    intrinsic::Date,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
);

/// Scripts of one tenant kept loaded at once; the least recently used goes first.
const MAX_LOADED: usize = 64;

impl TenantRuntime {
    pub fn new() -> Result<Self, Failure> {
        let memory = Rc::new(Memory::default());
        memory.limit.set(usize::MAX);
        let runtime = Runtime::new_with_alloc(CountingAllocator(memory.clone()))
            .map_err(|e| cannot_create("runtime", e))?;
        let watch = Rc::new(Watch::default());
        let w = watch.clone();
        let m = memory.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            if w.stop.get().is_some() {
                return true;
            }
            let reason = if watchdog::take_sql_cancel() {
                FailureKind::Timeout
            } else if postgres_wants_out() || crate::shmem::board::cancel_requested() {
                FailureKind::Cancelled
            } else if let Some(kind) = m.over() {
                kind
            } else {
                return false;
            };
            w.stop.set(Some(reason));
            m.stopped.set(true);
            m.reserve.set(INTERRUPT_RESERVE);
            watchdog::restore_stack();
            true
        })));
        // rquickjs hands out the raw runtime only through a context.
        let base = Context::base(&runtime).map_err(|e| cannot_create("context", e))?;
        let raw = base.get_runtime_ptr();
        let atoms = base.with(|ctx| Atoms::new(&ctx));
        Ok(TenantRuntime {
            raw,
            atoms,
            interned: RefCell::new(HashMap::new()),
            uid: next_uid(),
            loaded: KeyMap::default(),
            logs: Rc::new(RefCell::new(LogBuffer::default())),
            watch,
            memory,
            runtime: std::mem::ManuallyDrop::new(runtime),
            last_used: 0,
            clock: 0,
            argv: Vec::new(),
        })
    }

    /// Runs one script version. `bytecode` is asked for only when the version
    /// is not loaded. None when the run completed and `quiet` said its result
    /// (logs, usage) is not wanted: nothing is gathered for it.
    pub fn run(
        &mut self,
        req: &RunRequest<'_>,
        bytecode: &mut dyn FnMut() -> Result<Rc<[u8]>, Failure>,
        quiet: bool,
    ) -> Option<Box<RunResult>> {
        let start = req.started;
        self.watch.started.set(Some(start));
        super::stdlib::run_started(start);
        self.watch.stop.set(None);
        let deadline = start.checked_add(std::time::Duration::from_millis(req.limits.time_ms));
        let scope = host::RunScope::begin(req, deadline);
        let _watchdog = watchdog::Armed::start(deadline, self.raw, req.limits.stack_bytes);
        let base = self.memory.used.get();
        self.memory.peak.set(base);
        self.memory
            .limit
            .set(base.saturating_add(req.limits.memory_bytes));
        self.logs.borrow_mut().reset(req.limits.log_bytes);
        // SAFETY: `raw` is the runtime `self.runtime` owns, alive as long as `self`; no JS runs during the calls.
        unsafe {
            let rt = self.raw;
            // Stack limits count from where this run starts, not where the runtime was made.
            qjs::JS_UpdateStackTop(rt);
            qjs::JS_SetMaxStackSize(rt, req.limits.stack_bytes as _);
        }
        self.clock += 1;
        self.last_used = self.clock;

        if self.interned.borrow().len() > MAX_INTERNED {
            for (_, a) in self.interned.borrow_mut().drain() {
                // SAFETY: made in this runtime, which is alive; nothing uses them once the uid changes.
                unsafe { qjs::JS_FreeAtomRT(self.raw, a) };
            }
            self.uid = next_uid();
        }
        let names = Names {
            uid: self.uid,
            atoms: &self.atoms,
            interned: &self.interned,
        };
        // A loaded other source of the script is replaced.
        let clock = self.clock;
        let mut outcome = match self.loaded.get_mut(&req.script_key) {
            Some(l) if l.digest == req.digest => {
                l.last_used = clock;
                call(l, req, &self.watch, &self.memory, &names, &mut self.argv)
            }
            _ => match bytecode().and_then(|code| self.load(req, &code)) {
                Ok(mut l) => {
                    if self.loaded.len() >= MAX_LOADED {
                        remove_least_recent(&mut self.loaded, |l| l.last_used);
                    }
                    l.last_used = clock;
                    let out = call(&l, req, &self.watch, &self.memory, &names, &mut self.argv);
                    self.loaded.insert(req.script_key, l);
                    out
                }
                Err(f) => Err(f),
            },
        };

        // A limit hit inside JS, even one that JS caught, ends the run.
        if let Some(kind) = self.watch.stop.get().or_else(|| self.memory.over()) {
            outcome = Err(limit_failure(kind, req, outcome.err()));
        }
        let memory_used_bytes = self.memory.peak.get().saturating_sub(base);
        self.memory.limit.set(usize::MAX);
        self.memory.exhausted.set(false);
        self.memory.stopped.set(false);
        if outcome.is_err() {
            // Whatever state a failed run left behind, the next run starts clean.
            self.loaded.remove(&req.script_key);
            self.runtime.run_gc();
        }
        if outcome.is_ok() {
            if let Some(message) = scope.commit_failure() {
                outcome = Err(Failure::new(FailureKind::Thrown, "Error", message));
            }
        }
        if quiet && outcome.is_ok() {
            // Nothing is gathered; its logs are let go now, not held until the next run.
            drop(scope);
            self.logs.borrow_mut().reset(0);
            return None;
        }
        let usage = scope.finish();
        let mut logs = self.logs.borrow_mut().take();
        if let Some(r) = (!usage.secrets.is_empty())
            .then(|| crate::redact::Redactor::new(&usage.secrets))
            .flatten()
        {
            match &mut outcome {
                Ok(Some(json)) => r.json(json),
                Ok(None) => {}
                Err(f) => {
                    r.text(&mut f.message);
                    if let Some(stack) = &mut f.stack {
                        r.text(stack);
                    }
                }
            }
            for line in &mut logs {
                r.text(&mut line.message);
            }
        }
        // Boxed: the result passes up through several frames, and moving it costs a copy each.
        Some(Box::new(RunResult {
            outcome: outcome.map_err(Box::new),
            memory_used_bytes,
            logs,
            usage,
        }))
    }

    /// Pending jobs left by a run would run in the next one: the caller drops
    /// the runtime when this is true.
    pub fn has_leftover_jobs(&self) -> bool {
        self.runtime.is_job_pending()
    }

    /// Bytes the runtime holds between runs.
    pub fn resident_bytes(&self) -> usize {
        self.memory.used.get()
    }

    /// Unloads scripts, least recently used first, until the runtime holds
    /// no more than `budget` (or nothing is loaded).
    pub fn shrink_to(&mut self, budget: usize) {
        while self.memory.used.get() > budget && !self.loaded.is_empty() {
            remove_least_recent(&mut self.loaded, |l| l.last_used);
            self.runtime.run_gc();
        }
    }

    /// Makes a context, installs the globals, evaluates the module and finds its default export.
    fn load(&self, req: &RunRequest<'_>, code: &[u8]) -> Result<Loaded, Failure> {
        let context = Context::custom::<Intrinsics>(&self.runtime)
            .map_err(|e| cannot_create("context", e))?;
        let name = req.script_name;
        let (held, main, host, tenant, script) = context.with(|ctx| -> Result<_, Failure> {
            let js = |e| caught(&ctx, e, name);
            let log = make_logger(&ctx, &self.logs, &self.watch).map_err(js)?;
            let console = make_logger(&ctx, &self.logs, &self.watch).map_err(js)?;
            console.set("log", console.get::<_, Value>("info").map_err(js)?).map_err(js)?;
            freeze(&ctx, &log);
            freeze(&ctx, &console);
            let a = &self.atoms;
            let keep = |o| Persistent::save(&ctx, o);
            let host = vec![
                (a.log, keep(log)),
                (a.db, keep(host::db::make(&ctx, &self.watch).map_err(js)?)),
                (a.events, keep(host::events::make(&ctx).map_err(js)?)),
                (a.http, keep(host::http::make(&ctx, &self.watch, &self.logs).map_err(js)?)),
                (a.secrets, keep(host::secrets::make(&ctx, &self.watch).map_err(js)?)),
                (a.cache, keep(host::cache::make(&ctx, &self.watch).map_err(js)?)),
                (a.progress, keep(host::progress::make(&ctx).map_err(js)?)),
                (a.commit, keep(host::commit::make(&ctx).map_err(js)?)),
            ];
            ctx.globals().set("console", console).map_err(js)?;
            // The global eval exists without the Eval intrinsic; it can only throw. Remove it.
            ctx.globals().remove("eval").map_err(js)?;
            super::stdlib::install(&ctx).map_err(js)?;
            super::fetch::install(&ctx, &self.watch, &self.logs).map_err(js)?;
            super::intl::install(&ctx).map_err(js)?;

            // SAFETY: the bytecode came from compile::compile.
            let module = unsafe { Module::load(ctx.clone(), code) }.map_err(js)?;
            let (module, done) = module.eval().map_err(js)?;
            settle(&ctx, done.into_value(), &self.watch).map_err(js)?;
            let entry: Value = module.get("default").map_err(js)?;
            let Some(f) = entry.as_function() else {
                return Err(Failure::new(
                    FailureKind::NoEntryPoint,
                    "TypeError",
                    "the script has no default export function; write `export default function (ctx) { ... }`",
                ));
            };
            let text = |s: &str| rquickjs::String::from_str(ctx.clone(), s).map(|s| s.into_value());
            let tenant = sealed(&ctx, &[(a.id, text(req.tenant_id).map_err(js)?), (a.name, text(req.tenant_name).map_err(js)?)])
                .map_err(js)?;
            let script = sealed(
                &ctx,
                &[
                    (a.id, text(req.script_id).map_err(js)?),
                    (a.name, text(req.script_name).map_err(js)?),
                    (a.version, Value::new_int(ctx.clone(), req.version)),
                ],
            )
            .map_err(js)?;
            Ok((Persistent::save(&ctx, f.clone()), f.as_raw(), host, keep(tenant), keep(script)))
        })?;
        Ok(Loaded {
            _main: held,
            main,
            host,
            tenant,
            script,
            typed_ctx: RefCell::new(Vec::new()),
            run_ctx: Reused::default(),
            kept: Kept::default(),
            context,
            digest: req.digest,
            last_used: 0,
        })
    }
}

/// Calls the default export with a fresh, frozen ctx and turns its result into JSON text.
fn call(
    loaded: &Loaded,
    req: &RunRequest<'_>,
    watch: &Watch,
    memory: &Memory,
    names: &Names<'_>,
    argv: &mut Vec<qjs::JSValue>,
) -> Result<Option<String>, Failure> {
    let a = names.atoms;
    loaded.context.with(|ctx| {
        let js = |e| caught(&ctx, e, req.script_name);
        let mut argv = Argv::new(&ctx, argv);
        match req.typed {
            Some(t) => {
                push_typed_ctx(&mut argv, loaded, req, a).map_err(js)?;
                t.args(&ctx, names, &loaded.kept, &mut argv).map_err(js)?;
            }
            None => argv.push(
                run_ctx(&ctx, loaded, req, memory, names)
                    .map_err(js)?
                    .into_value(),
            ),
        }
        let returned = argv.call(loaded.main).map_err(js)?;
        drop(argv);
        let value = settle(&ctx, returned, watch).map_err(js)?;
        if req.typed.is_none() {
            end_slot(&ctx, loaded, a, small_input(req)).map_err(js)?;
        }
        if watch.stopped() {
            // No JS after a stop, not even toJSON: run() reports the stop.
            return Ok(None);
        }
        if let Some(t) = req.typed {
            t.result(&ctx, value).map_err(|e| {
                let f = js(e);
                Failure::new(FailureKind::BadResult, &f.name, f.message)
            })?;
            return Ok(None);
        }
        if value.is_undefined() {
            return Ok(None);
        }
        let value = match req.request_json {
            Some(_) => host::request::binary_body(&ctx, value).map_err(js)?,
            None => value,
        };
        let bad = |why: String| Failure::new(FailureKind::BadResult, "TypeError", why);
        // A number is written without JSON.stringify where it writes no exponent.
        let number = match value.as_int() {
            Some(i) => Some(i.to_string()),
            None => value.as_float().and_then(super::convert::json_number),
        };
        let is_number = number.is_some();
        let text = match number {
            Some(n) => n,
            None => match ctx.json_stringify(value.clone()) {
                Ok(Some(s)) => s.to_string().map_err(js)?,
                Ok(None) => {
                    return Err(bad(format!(
                        "the script returned a {}, which is not JSON",
                        value.type_name()
                    )))
                }
                Err(e) => {
                    let f = js(e);
                    return Err(bad(format!(
                        "the script's result is not JSON: {}",
                        f.message
                    )));
                }
            },
        };
        if !is_number && super::convert::has_nul_escape(&text) {
            return Err(bad(
                "the result holds a NUL character (\\u0000), which jsonb cannot store".into(),
            ));
        }
        if text.len() > req.limits.output_bytes {
            return Err(Failure::new(
                FailureKind::Output,
                "RangeError",
                format!(
                    "the output is {} bytes, over max_output_size_bytes ({} bytes)",
                    text.len(),
                    req.limits.output_bytes
                ),
            ));
        }
        Ok(Some(text))
    })
}

/// A call's arguments, as owned raw values: with no Ctx per value (a Value
/// holds one, and making one dups the context: typed calls pass their
/// arguments per row), in a list the runtime keeps from call to call.
pub struct Argv<'a, 'js> {
    ctx: &'a Ctx<'js>,
    values: &'a mut Vec<qjs::JSValue>,
}

impl<'a, 'js> Argv<'a, 'js> {
    /// `values` is empty: a list frees what it holds when dropped.
    fn new(ctx: &'a Ctx<'js>, values: &'a mut Vec<qjs::JSValue>) -> Self {
        Argv { ctx, values }
    }

    /// Adds `v`, whose reference passes to the list.
    ///
    /// # Safety
    /// `v` is a value of this context's runtime that the caller owns (and no longer frees).
    pub unsafe fn push_raw(&mut self, v: qjs::JSValue) {
        self.values.push(v);
    }

    pub fn push(&mut self, v: Value<'js>) {
        // SAFETY: a value of this context, given its own reference for the list
        // before `v` drops the one it had.
        unsafe {
            let raw = qjs::JS_DupValue(self.ctx.as_raw().as_ptr(), v.as_raw());
            self.push_raw(raw);
        }
    }

    /// `f(...arguments)`, `f` a function of this context.
    fn call(&mut self, f: qjs::JSValue) -> rquickjs::Result<Value<'js>> {
        let ctx = self.ctx.as_raw().as_ptr();
        let argv = &mut *self.values;
        // SAFETY: the live context of `ctx`; `f` and the arguments live across the call (JS_Call
        // takes no ownership of them) and the result is a new reference.
        unsafe {
            let r = qjs::JS_Call(
                ctx,
                f,
                qjs::JS_UNDEFINED,
                argv.len() as i32,
                argv.as_mut_ptr(),
            );
            if qjs::JS_IsException(r) {
                return Err(rquickjs::Error::Exception);
            }
            Ok(Value::from_raw(self.ctx.clone(), r))
        }
    }
}

impl Drop for Argv<'_, '_> {
    fn drop(&mut self) {
        let ctx = self.ctx.as_raw().as_ptr();
        for v in self.values.drain(..) {
            // SAFETY: the list's own references, of this context.
            unsafe {
                if qjs::JS_VALUE_HAS_REF_COUNT(v) {
                    qjs::JS_FreeValue(ctx, v);
                }
            }
        }
    }
}

/// The ctx of one run: frozen. A plain run's (no event, no request) reads
/// `input` and `execution` through native getters of a slot of its own (an
/// array no script can reach), so that the same ctx is passed again, its slot
/// set, while nothing else holds it; a script that kept its ctx keeps its own run's.
fn run_ctx<'js>(
    ctx: &Ctx<'js>,
    loaded: &Loaded,
    req: &RunRequest<'_>,
    memory: &Memory,
    names: &Names<'_>,
) -> rquickjs::Result<Object<'js>> {
    let a = names.atoms;
    let input = match req.built_input {
        Some(b) => b.object(ctx, names, &loaded.kept)?,
        None => ctx.json_parse(req.input_json)?,
    };
    let plain = req.event_json.is_none() && req.request_json.is_none();
    // Keep the shapes of `execution`, which QuickJS would otherwise free with
    // it and make again next run.
    loaded.kept.shapes.keep(
        ctx,
        EXECUTION_SHAPE,
        &[a.id, a.trigger, a.attempt],
        Make::Frozen,
    )?;
    // A plain run's `execution` is made when the script first reads it.
    let unread = || Value::new_undefined(ctx.clone());
    if plain {
        if let Some(c) = fill_slot(ctx, loaded, memory, input.clone(), unread())? {
            return Ok(c);
        }
    }
    let slot = if plain {
        let slot = new_slot(ctx)?;
        set_slot(&slot, input.clone(), unread())?;
        Some(slot)
    } else {
        None
    };
    let (input_m, execution_m) = match &slot {
        Some(slot) => (
            Member::Getter(slot_getter(ctx, slot, SLOT_INPUT, a)?),
            Member::Getter(slot_getter(ctx, slot, SLOT_EXECUTION, a)?),
        ),
        None => (
            Member::Value(input.clone()),
            Member::Value(execution(ctx, [a.id, a.trigger, a.attempt])?),
        ),
    };
    let mut members = Vec::with_capacity(6 + loaded.host.len());
    members.push((a.input, input_m));
    members.push((
        a.tenant,
        Member::Value(loaded.tenant.clone().restore(ctx)?.into_value()),
    ));
    members.push((
        a.script,
        Member::Value(loaded.script.clone().restore(ctx)?.into_value()),
    ));
    members.push((a.execution, execution_m));
    for (atom, o) in &loaded.host {
        members.push((*atom, Member::Value(o.clone().restore(ctx)?.into_value())));
    }
    if let Some(event) = req.event_json {
        members.push((
            a.event,
            Member::Value(host::events::ctx_event(ctx, event, input)?),
        ));
    }
    if let Some(request) = req.request_json {
        let request = ctx.json_parse(request)?;
        if let Some(o) = request.as_object() {
            host::request::add_body_methods(ctx, o, req.request_body.unwrap_or_default())?;
        }
        members.push((a.request, Member::Value(request)));
    }
    let c = frozen_with(ctx, &members)?;
    if let Some(slot) = slot {
        loaded.run_ctx.keep(ctx, 0, &c, Persistent::save(ctx, slot));
    }
    Ok(c)
}

/// Ends a plain run's use of its ctx. If the script kept its ctx, that ctx
/// keeps its own run's `execution` (made now if the script never read it),
/// and the next run gets a new one. Otherwise the slot lets go of the
/// execution, and of the input unless it is small: the next run's replaces it.
fn end_slot(ctx: &Ctx<'_>, loaded: &Loaded, a: &Atoms, small_input: bool) -> rquickjs::Result<()> {
    let Some((c, slot, alone)) = loaded.run_ctx.take_any(ctx, 0) else {
        return Ok(());
    };
    let slot = slot.restore(ctx)?;
    if !alone {
        if slot.get::<Value>(SLOT_EXECUTION as usize)?.is_undefined() {
            keep_execution(ctx, &slot, [a.id, a.trigger, a.attempt])?;
        }
        return Ok(());
    }
    // The getter of `execution` (a script may have kept it) makes none from
    // another run than the slot's: null says the slot's run is over.
    let over = Value::new_null(ctx.clone());
    if small_input {
        slot.set(SLOT_EXECUTION as usize, over)?;
    } else {
        set_slot(&slot, Value::new_undefined(ctx.clone()), over)?;
    }
    loaded.run_ctx.keep(ctx, 0, &c, Persistent::save(ctx, slot));
    Ok(())
}

/// Whether a plain run's input is small enough to stay in its slot until
/// the next run replaces it.
fn small_input(req: &RunRequest<'_>) -> bool {
    const SMALL_INPUT_BYTES: usize = 64 << 10;
    req.built_input.map_or(req.input_json.len(), |b| b.bytes()) <= SMALL_INPUT_BYTES
}

/// The current run's frozen `execution`.
fn execution<'js>(
    ctx: &Ctx<'js>,
    [id_, trigger_, attempt_]: [qjs::JSAtom; 3],
) -> rquickjs::Result<Value<'js>> {
    let Some((id, trigger, attempt)) = host::run_identity() else {
        return Ok(Value::new_undefined(ctx.clone()));
    };
    let id = rquickjs::String::from_str(ctx.clone(), &id)?.into_value();
    let trigger = rquickjs::String::from_str(ctx.clone(), &trigger)?.into_value();
    let attempt = Value::new_int(ctx.clone(), attempt);
    let props = [(id_, id), (trigger_, trigger), (attempt_, attempt)];
    Ok(sealed(ctx, &props)?.into_value())
}

/// The current run's `execution`, made now and kept in its slot.
fn keep_execution<'js>(
    ctx: &Ctx<'js>,
    slot: &rquickjs::Array<'js>,
    names: [qjs::JSAtom; 3],
) -> rquickjs::Result<Value<'js>> {
    let e = execution(ctx, names)?;
    slot.set(SLOT_EXECUTION as usize, e.clone())?;
    Ok(e)
}

/// The kept plain-run ctx, its slot set to `input` and `execution`, if
/// nothing else holds it. What the slot held (the last run's input, kept
/// if small) was counted in this run's starting memory: the room it leaves
/// once let go is taken off this run's limit, which holds as if nothing had
/// been kept.
fn fill_slot<'js>(
    ctx: &Ctx<'js>,
    loaded: &Loaded,
    memory: &Memory,
    input: Value<'js>,
    execution: Value<'js>,
) -> rquickjs::Result<Option<Object<'js>>> {
    let Some((c, slot)) = loaded.run_ctx.take(ctx, 0) else {
        return Ok(None);
    };
    let slot = slot.restore(ctx)?;
    let before = memory.used.get();
    set_slot(&slot, input, execution)?;
    let freed = before.saturating_sub(memory.used.get());
    memory.limit.set(memory.limit.get().saturating_sub(freed));
    loaded.run_ctx.keep(ctx, 0, &c, Persistent::save(ctx, slot));
    Ok(Some(c))
}

/// A slot: an array with no prototype, so that neither its getters' reads
/// nor the runs' writes ever reach a setter or getter a script defined on
/// `Array.prototype` (which would see the slot and keep what it holds).
fn new_slot<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<rquickjs::Array<'js>> {
    let slot = rquickjs::Array::new(ctx.clone())?;
    // SAFETY: the live context of `ctx`, and a new array of it, borrowed for the call.
    if unsafe { qjs::JS_SetPrototype(ctx.as_raw().as_ptr(), slot.as_raw(), qjs::JS_NULL) } < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(slot)
}

fn set_slot<'js>(
    slot: &rquickjs::Array<'js>,
    input: Value<'js>,
    execution: Value<'js>,
) -> rquickjs::Result<()> {
    slot.set(SLOT_INPUT as usize, input)?;
    slot.set(SLOT_EXECUTION as usize, execution)
}

/// What the shapes of a plain run's `execution` are kept under in `Shapes`
/// (`Shapes::stamp` starts at 1).
const EXECUTION_SHAPE: u64 = 0;

/// Where a plain run's slot holds its input and its execution.
const SLOT_INPUT: u32 = 0;
const SLOT_EXECUTION: u32 = 1;

/// A native getter of `slot[index]`: the slot is the function's own data,
/// which the GC sees. The getter of `execution` makes it on the first read,
/// from the run going on, with the names in `a`.
fn slot_getter<'js>(
    ctx: &Ctx<'js>,
    slot: &rquickjs::Array<'js>,
    index: u32,
    a: &Atoms,
) -> rquickjs::Result<Value<'js>> {
    unsafe extern "C" fn get(
        ctx: *mut qjs::JSContext,
        _this: qjs::JSValue,
        _argc: std::ffi::c_int,
        _argv: *mut qjs::JSValue,
        index: std::ffi::c_int,
        data: *mut qjs::JSValue,
    ) -> qjs::JSValue {
        // SAFETY: QuickJS passes the data the function was made with (the slot array, then
        // the three names as ints) and the index as its magic; JS_GetPropertyUint32 returns
        // a new reference.
        let v = unsafe { qjs::JS_GetPropertyUint32(ctx, *data, index as u32) };
        if index as u32 != SLOT_EXECUTION {
            return v;
        }
        // null: the slot's run is over, unread; what runs now is another run.
        if qjs::JS_IsNull(v) {
            return qjs::JS_UNDEFINED;
        }
        if !qjs::JS_IsUndefined(v) {
            return v;
        }
        // SAFETY: as above: data holds 4 values, the last three ints.
        let names =
            unsafe { [1, 2, 3].map(|i| qjs::JS_VALUE_GET_INT(*data.add(i)) as qjs::JSAtom) };
        let made = std::panic::catch_unwind(|| {
            // SAFETY: the live context the getter is called in (never null), and the slot
            // as above, duplicated for the Value that frees it.
            let (ctx, slot) = unsafe {
                let ctx = Ctx::from_raw(std::ptr::NonNull::new_unchecked(ctx));
                let slot =
                    Value::from_raw(ctx.clone(), qjs::JS_DupValue(ctx.as_raw().as_ptr(), *data));
                (ctx, slot)
            };
            let made = slot
                .as_array()
                .ok_or(rquickjs::Error::Unknown)
                .and_then(|slot| keep_execution(&ctx, slot, names));
            match made {
                // SAFETY: a new reference for the caller; `e` frees its own.
                Ok(e) => unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), e.as_raw()) },
                Err(rquickjs::Error::Exception) => qjs::JS_EXCEPTION,
                Err(e) => {
                    let _thrown = rquickjs::Exception::throw_internal(&ctx, &e.to_string());
                    qjs::JS_EXCEPTION
                }
            }
        });
        made.unwrap_or_else(|_| {
            // A panic above: the script sees an error, not a bare exception flag.
            // SAFETY: the live context the getter is called in.
            let ctx = unsafe { Ctx::from_raw(std::ptr::NonNull::new_unchecked(ctx)) };
            let _thrown =
                rquickjs::Exception::throw_internal(&ctx, "ctx.execution could not be made");
            qjs::JS_EXCEPTION
        })
    }
    let int = |atom: qjs::JSAtom| qjs::JS_MKVAL(qjs::JS_TAG_INT, atom as i32);
    let mut data = [
        slot.as_value().as_raw(),
        int(a.id),
        int(a.trigger),
        int(a.attempt),
    ];
    // SAFETY: the live context of `ctx`; the slot is borrowed, and JS_NewCFunctionData keeps its own
    // reference to it; the result is a new reference that `from_raw` takes over.
    unsafe {
        let f = qjs::JS_NewCFunctionData(
            ctx.as_raw().as_ptr(),
            Some(get),
            0,
            index as std::ffi::c_int,
            data.len() as std::ffi::c_int,
            data.as_mut_ptr(),
        );
        if qjs::JS_IsException(f) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), f))
    }
}

/// A member of a frozen object: a value, or a getter of it.
enum Member<'js> {
    Value(Value<'js>),
    Getter(Value<'js>),
}

/// A frozen object with these enumerable members.
fn frozen_with<'js>(
    ctx: &Ctx<'js>,
    members: &[(qjs::JSAtom, Member<'js>)],
) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    for (atom, m) in members {
        match m {
            Member::Value(v) => {
                define_with(ctx, &o, *atom, v, qjs::JS_PROP_ENUMERABLE as i32)?;
            }
            Member::Getter(g) => define_getter(ctx, &o, *atom, g)?,
        }
    }
    // SAFETY: the live context of `ctx`, and `o` a new object of it, borrowed for the call.
    if unsafe { qjs::JS_PreventExtensions(ctx.as_raw().as_ptr(), o.as_raw()) } < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(o)
}

/// Defines `o[atom]` as an enumerable, non-configurable property read by `getter`.
fn define_getter<'js>(
    ctx: &Ctx<'js>,
    o: &Object<'js>,
    atom: qjs::JSAtom,
    getter: &Value<'js>,
) -> rquickjs::Result<()> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the live context of `ctx`; `o` is borrowed for the call, and the getter is a fresh
    // reference (JS_DupValue) that JS_DefinePropertyGetSet takes over.
    let r = unsafe {
        qjs::JS_DefinePropertyGetSet(
            raw,
            o.as_raw(),
            atom,
            qjs::JS_DupValue(raw, getter.as_raw()),
            qjs::JS_UNDEFINED,
            qjs::JS_PROP_ENUMERABLE as i32,
        )
    };
    if r < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(())
}

/// Adds the ctx of typed calls of `req.trigger` to `argv`, made on the
/// first: `input` is an empty object and `execution.id` a getter of the
/// current run's id.
fn push_typed_ctx<'js>(
    argv: &mut Argv<'_, 'js>,
    loaded: &Loaded,
    req: &RunRequest<'_>,
    a: &Atoms,
) -> rquickjs::Result<()> {
    let ctx = argv.ctx;
    let made = loaded.typed_ctx.borrow();
    if let Some((.., raw)) = made.iter().find(|(t, ..)| t == req.trigger) {
        // SAFETY: a value of this context, which `typed_ctx` holds; the list gets its own reference.
        unsafe { argv.push_raw(qjs::JS_DupValue(ctx.as_raw().as_ptr(), *raw)) };
        return Ok(());
    }
    drop(made);
    let input = Object::new(ctx.clone())?;
    freeze(ctx, &input);
    let getter = Function::new(ctx.clone(), |ctx: Ctx<'js>| {
        rquickjs::String::from_str(ctx, &host::execution_id())
    })?;
    let execution = Object::new(ctx.clone())?;
    define_getter(ctx, &execution, a.id, getter.as_value())?;
    execution.set("trigger", req.trigger)?;
    execution.set("attempt", 1)?;
    freeze(ctx, &execution);
    let tenant = loaded.tenant.clone().restore(ctx)?.into_value();
    let script = loaded.script.clone().restore(ctx)?.into_value();
    let mut members = vec![
        (a.input, input.into_value()),
        (a.tenant, tenant),
        (a.script, script),
        (a.execution, execution.into_value()),
    ];
    for (atom, o) in &loaded.host {
        members.push((*atom, o.clone().restore(ctx)?.into_value()));
    }
    let c = sealed(ctx, &members)?;
    loaded.typed_ctx.borrow_mut().push((
        req.trigger.to_string(),
        Persistent::save(ctx, c.clone()),
        c.as_raw(),
    ));
    argv.push(c.into_value());
    Ok(())
}

/// Runs jobs until `value` (a promise or not) settles, and returns what it settled to.
fn settle<'js>(ctx: &Ctx<'js>, value: Value<'js>, watch: &Watch) -> rquickjs::Result<Value<'js>> {
    let promise = value.as_promise().cloned();
    if promise.is_none() && !watch.stopped() && !super::stdlib::may_have_timers() {
        // Settled, and no timer can be set (the usual embedded call).
        return Ok(value);
    }
    loop {
        if watch.stopped() {
            break;
        }
        let settled = match &promise {
            Some(p) => p.result::<Value>(),
            None => Some(Ok(value.clone())),
        };
        if let Some(Err(e)) = settled {
            return Err(e);
        }
        if settled.is_none() && ctx.execute_pending_job() {
            continue;
        }
        // Settled, or no job left: the timers the script set decide
        // (scripts that never touched the standard library have none).
        let timers = super::stdlib::timers(ctx)?;
        let next = match &timers {
            Some(t) => t.get::<_, Function>("next")?.call::<_, f64>(())?,
            None => -1.0,
        };
        match (settled, timers) {
            (Some(result), _) if next < 0.0 => return result,
            (None, _) if next < 0.0 => break,
            (_, Some(t)) => {
                // The jobs first, then the next timer once it is due.
                if ctx.execute_pending_job() {
                    continue;
                }
                if !wait_for_timer(next, watch) {
                    break;
                }
                t.get::<_, Function>("run")?.call::<_, ()>(())?;
            }
            (_, None) => break,
        }
    }
    if watch.stop.get().is_some() {
        // The interrupt ended the job; report it as the exception it is.
        return Err(ctx.throw(rquickjs::String::from_str(ctx.clone(), "interrupted")?.into_value()));
    }
    Err(rquickjs::Exception::throw_type(
        ctx,
        "the script's promise never settled",
    ))
}

/// Sleeps until a timer is due, `ms` from now, outside JS: false when the
/// run must end first (its deadline, a cancel, Postgres's interrupts), which
/// is then set on `watch`. Looks every 10 ms.
fn wait_for_timer(ms: f64, watch: &Watch) -> bool {
    // Not inside QuickJS: the deadline's last resort must not end the backend here.
    let _host = watchdog::Host::enter();
    let ms = if ms.is_finite() {
        ms.clamp(0.0, 2_147_483_647.0)
    } else {
        0.0
    };
    let until = Instant::now() + std::time::Duration::from_secs_f64(ms / 1000.0);
    loop {
        if watchdog::passed() {
            watch.stop(FailureKind::Timeout);
        } else if postgres_wants_out() || crate::shmem::board::cancel_requested() {
            watch.stop(FailureKind::Cancelled);
        }
        if watch.stopped() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(10)));
    }
}

/// Drops the entry used longest ago.
pub fn remove_least_recent<T>(map: &mut KeyMap<T>, last_used: impl Fn(&T) -> u64) {
    if let Some(oldest) = map
        .iter()
        .min_by_key(|(_, v)| last_used(v))
        .map(|(k, _)| *k)
    {
        map.remove(&oldest);
    }
}

/// A runtime or context that could not be made: QuickJS fails there only without memory.
fn cannot_create(what: &str, e: rquickjs::Error) -> Failure {
    Failure::new(
        FailureKind::Memory,
        "InternalError",
        format!("cannot create a JS {what}: {e}"),
    )
}

fn limit_failure(kind: FailureKind, req: &RunRequest<'_>, inner: Option<Failure>) -> Failure {
    let message = match kind {
        FailureKind::Timeout => format!(
            "the script ran past max_execution_time_ms ({} ms)",
            req.limits.time_ms
        ),
        FailureKind::Memory => {
            format!(
                "the script used more than max_memory_bytes ({} bytes)",
                req.limits.memory_bytes
            )
        }
        // jsrt.cancel, through the executor's flag on the board: say so, not as a JS error
        FailureKind::Cancelled if crate::shmem::board::cancel_requested() => {
            let mut f = Failure::new(kind, "Cancelled", super::failure::CANCELLED_BY_REQUEST);
            if let Some(inner) = inner {
                f.line = inner.line;
                f.column = inner.column;
                f.stack = inner.stack;
            }
            return f;
        }
        FailureKind::Cancelled => "the script was cancelled".to_string(),
        _ => return inner.unwrap_or_else(|| Failure::new(kind, "Error", "the script failed")),
    };
    let mut f = Failure::new(kind, "RangeError", message);
    if let Some(inner) = inner {
        f.line = inner.line;
        f.column = inner.column;
        f.stack = inner.stack;
    }
    f
}

/// A frozen object with these enumerable properties, built without the
/// property-name scan that freezing an existing object costs.
fn sealed<'js>(
    ctx: &Ctx<'js>,
    props: &[(qjs::JSAtom, Value<'js>)],
) -> rquickjs::Result<Object<'js>> {
    object_of(ctx, props, Make::Frozen)
}

/// Defines `o[atom] = v`, writable, enumerable and configurable: no setter
/// is looked for up the prototype chain, and a name such as `__proto__` is
/// an own property like any other.
pub fn define<'js>(
    ctx: &Ctx<'js>,
    o: &Object<'js>,
    atom: qjs::JSAtom,
    v: &Value<'js>,
) -> rquickjs::Result<()> {
    define_with(ctx, o, atom, v, qjs::JS_PROP_C_W_E as i32).map(|_| ())
}

/// Defines `o[atom] = v` with `flags`; false if the object refused it.
fn define_with<'js>(
    ctx: &Ctx<'js>,
    o: &Object<'js>,
    atom: qjs::JSAtom,
    v: &Value<'js>,
    flags: i32,
) -> rquickjs::Result<bool> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the live context of `ctx`; `o` and `v` are borrowed, and JS_DefinePropertyValue takes
    // over a fresh reference to `v` (JS_DupValue).
    let r = unsafe {
        qjs::JS_DefinePropertyValue(
            raw,
            o.as_raw(),
            atom,
            qjs::JS_DupValue(raw, v.as_raw()),
            flags,
        )
    };
    if r < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(r == 1)
}

/// `name` as a new atom of `ctx`'s runtime, which the caller frees.
fn new_atom(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<qjs::JSAtom> {
    // SAFETY: the live context; the bytes of `name` are copied.
    let a =
        unsafe { qjs::JS_NewAtomLen(ctx.as_raw().as_ptr(), name.as_ptr().cast(), name.len() as _) };
    if a == qjs::JS_ATOM_NULL {
        return Err(rquickjs::Error::Exception);
    }
    Ok(a)
}

/// Names as atoms for the time of one call (a result's column names).
pub struct CallAtoms<'js> {
    ctx: Ctx<'js>,
    atoms: Vec<qjs::JSAtom>,
}

impl<'js> CallAtoms<'js> {
    pub fn new<'a>(
        ctx: &Ctx<'js>,
        names: impl Iterator<Item = &'a str>,
    ) -> rquickjs::Result<CallAtoms<'js>> {
        let mut made = CallAtoms {
            ctx: ctx.clone(),
            atoms: Vec::new(),
        };
        for n in names {
            // Drop frees it.
            made.atoms.push(new_atom(ctx, n)?);
        }
        Ok(made)
    }

    pub fn get(&self) -> &[qjs::JSAtom] {
        &self.atoms
    }
}

impl Drop for CallAtoms<'_> {
    fn drop(&mut self) {
        for a in &self.atoms {
            // SAFETY: made by `new` in this context, which is alive while `self` borrows it.
            unsafe { qjs::JS_FreeAtom(self.ctx.as_raw().as_ptr(), *a) };
        }
    }
}

/// A new plain object with these properties, defined by atom: no lookup of
/// their names, nor of setters up its prototype chain. `frozen`: read-only
/// and not extensible, else writable, enumerable and configurable.
pub fn object_of<'js>(
    ctx: &Ctx<'js>,
    props: &[(qjs::JSAtom, Value<'js>)],
    make: Make,
) -> rquickjs::Result<Object<'js>> {
    let (flags, writable_from, extensible) = match make {
        Make::Plain => (qjs::JS_PROP_C_W_E, 0, true),
        Make::Frozen => (qjs::JS_PROP_ENUMERABLE, props.len(), false),
        Make::Sealed { writable_from } => (qjs::JS_PROP_ENUMERABLE, writable_from, false),
    };
    let o = Object::new(ctx.clone())?;
    for (i, (atom, v)) in props.iter().enumerate() {
        let w = if i < writable_from {
            0
        } else {
            qjs::JS_PROP_WRITABLE
        };
        define_with(ctx, &o, *atom, v, (flags | w) as i32)?;
    }
    // SAFETY: the live context of `ctx`, and `o` a new object of it, borrowed for the call.
    if !extensible && unsafe { qjs::JS_PreventExtensions(ctx.as_raw().as_ptr(), o.as_raw()) } < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(o)
}

/// `o[atom]`, as a script reads it (getters and the prototype chain included).
pub fn get<'js>(
    ctx: &Ctx<'js>,
    o: &Object<'js>,
    atom: qjs::JSAtom,
) -> rquickjs::Result<Value<'js>> {
    // SAFETY: the live context of `ctx`; `o` is borrowed, and JS_GetProperty returns a new reference
    // that `from_raw` takes over.
    unsafe {
        let v = qjs::JS_GetProperty(ctx.as_raw().as_ptr(), o.as_raw(), atom);
        if qjs::JS_IsException(v) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), v))
    }
}

/// What `object_of` makes.
#[derive(Clone, Copy)]
pub enum Make {
    /// writable, enumerable and configurable properties; extensible
    Plain,
    /// read-only enumerable properties; not extensible
    Frozen,
    /// the same, but properties from `writable_from` on are writable
    Sealed { writable_from: usize },
}

/// Sets `o[atom] = v` on an own writable, enumerable property as `object_of`
/// makes them, defining nothing new; false if the script made it read-only.
pub fn replace<'js>(
    ctx: &Ctx<'js>,
    o: &Object<'js>,
    atom: qjs::JSAtom,
    v: &Value<'js>,
) -> rquickjs::Result<bool> {
    // The attributes given are the property's own (JS_DefinePropertyValue sets all three); without
    // JS_PROP_THROW, a property made read-only gives false, not an exception.
    define_with(
        ctx,
        o,
        atom,
        v,
        (qjs::JS_PROP_WRITABLE | qjs::JS_PROP_ENUMERABLE) as i32,
    )
}

/// What a loaded script keeps for its typed calls' arguments.
#[derive(Default)]
pub struct Kept {
    /// a trigger's `tg`
    pub tg: Reused,
    /// objects holding each shape a row object passes through as it is made
    pub shapes: Shapes,
    /// short texts passed lately, as JS strings
    pub texts: Texts,
}

/// Texts up to this many bytes are kept as the strings they were made into.
const TEXT_BYTES: usize = 24;
const TEXT_SLOTS: usize = 16;

/// Short texts a typed call was passed lately (a status, a tier, a country
/// code: a column of few values), each with the JS string made of it: the
/// same bytes are passed again as the same string, with no allocation. A JS
/// string cannot be changed, so sharing one is not seen. Two slots a text
/// may be in, picked by its bytes.
#[derive(Default)]
pub struct Texts(RefCell<[Option<Text>; TEXT_SLOTS]>);

struct Text {
    len: usize,
    bytes: [u8; TEXT_BYTES],
    _held: Persistent<rquickjs::String<'static>>,
    /// `_held`'s value, borrowed
    raw: qjs::JSValue,
}

impl Texts {
    /// A new reference to the string of `bytes`: the kept one, else what
    /// `make` makes (kept when it is a string of a short text).
    pub fn string<'js>(
        &self,
        ctx: &Ctx<'js>,
        bytes: &[u8],
        make: impl FnOnce() -> rquickjs::Result<qjs::JSValue>,
    ) -> rquickjs::Result<qjs::JSValue> {
        if bytes.is_empty() || bytes.len() > TEXT_BYTES {
            return make();
        }
        // Two slots a text may be in, picked by a hash of its first and last 8 bytes (or fewer).
        let word = |b: &[u8]| b.iter().fold(0u64, |w, &x| w << 8 | u64::from(x));
        let head = word(&bytes[..bytes.len().min(8)]);
        let tail = word(&bytes[bytes.len().saturating_sub(8)..]);
        let hash =
            (head ^ tail.rotate_left(29) ^ bytes.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let first = ((hash >> 60) as usize % TEXT_SLOTS) & !1;
        let mut slots = self.0.borrow_mut();
        for slot in [first, first + 1] {
            if let Some(t) = &slots[slot] {
                if t.bytes[..t.len] == *bytes {
                    // SAFETY: a value of this runtime, which `_held` keeps; the caller gets its own reference.
                    return Ok(unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), t.raw) });
                }
            }
        }
        // A new text goes in the pair's first slot, the one there moving to the second.
        slots.swap(first, first + 1);
        let slot = first;
        let v = make()?;
        // SAFETY: `v` is the caller's new value; the Value takes a reference of its own.
        let value =
            unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(ctx.as_raw().as_ptr(), v)) };
        if let Some(string) = value.into_string() {
            let mut kept = [0; TEXT_BYTES];
            kept[..bytes.len()].copy_from_slice(bytes);
            slots[slot] = Some(Text {
                len: bytes.len(),
                bytes: kept,
                raw: string.as_raw(),
                _held: Persistent::save(ctx, string),
            });
        }
        Ok(v)
    }
}

/// Objects with the first 1, 2, ... n properties of a row, kept per row
/// shape. QuickJS lets a shape go when no object has it, so without them a
/// row object made property by property makes each intermediate shape anew.
#[derive(Default)]
pub struct Shapes(RefCell<Vec<(u64, Vec<Persistent<Object<'static>>>)>>);

/// Row shapes kept per loaded script, and the widest row kept (its keepers
/// hold n(n+1)/2 properties).
const MAX_SHAPES: usize = 16;
const MAX_KEPT_COLUMNS: usize = 64;

impl Shapes {
    /// A key no other call site's shapes have (`EXECUTION_SHAPE`, 0, is never one).
    pub fn stamp() -> u64 {
        thread_local!(static LAST: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
        LAST.with(|l| {
            l.set(l.get() + 1);
            l.get()
        })
    }

    /// Keeps the shapes of objects made by `object_of(.., make)` with
    /// `atoms`, under `key`, unless they are kept already.
    pub fn keep(
        &self,
        ctx: &Ctx<'_>,
        key: u64,
        atoms: &[qjs::JSAtom],
        make: Make,
    ) -> rquickjs::Result<()> {
        if atoms.len() > MAX_KEPT_COLUMNS || self.0.borrow().iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        let mut keepers = Vec::with_capacity(atoms.len());
        let mut props = Vec::with_capacity(atoms.len());
        for &atom in atoms {
            props.push((atom, Value::new_undefined(ctx.clone())));
            keepers.push(Persistent::save(ctx, object_of(ctx, &props, make)?));
        }
        let mut all = self.0.borrow_mut();
        if all.len() >= MAX_SHAPES {
            all.remove(0);
        }
        all.push((key, keepers));
        Ok(())
    }
}

/// A loaded script's slot for one object its calls pass again from call to
/// call, kept under the key of what it was made for, with `X` beside it (a
/// trigger's `tg`; a plain run's ctx, with the slot its getters read). It is
/// passed again only while nothing else holds it: a script that kept it (in
/// a global, a closure, a pending promise) gets a new one next time.
pub struct Reused<X = ()>(RefCell<Option<(u64, Persistent<Object<'static>>, X)>>);

impl<X> Default for Reused<X> {
    fn default() -> Self {
        Reused(RefCell::new(None))
    }
}

impl<X> Reused<X> {
    /// The object kept under `key` and what is beside it, if only this slot
    /// held the object; it is no longer kept.
    pub fn take<'js>(&self, ctx: &Ctx<'js>, key: u64) -> Option<(Object<'js>, X)> {
        let (o, x, alone) = self.take_any(ctx, key)?;
        alone.then_some((o, x))
    }

    /// The object kept under `key`, what is beside it, and whether only this
    /// slot held the object; it is no longer kept.
    pub fn take_any<'js>(&self, ctx: &Ctx<'js>, key: u64) -> Option<(Object<'js>, X, bool)> {
        let (k, kept, x) = self.0.borrow_mut().take()?;
        let o = kept.restore(ctx).ok()?;
        let alone = held_once(ctx, &o);
        (k == key).then_some((o, x, alone))
    }

    /// Keeps `o`, and `x` beside it, under `key` for the next call.
    pub fn keep<'js>(&self, ctx: &Ctx<'js>, key: u64, o: &Object<'js>, x: X) {
        *self.0.borrow_mut() = Some((key, Persistent::save(ctx, o.clone()), x));
    }
}

/// Whether `o` has no reference but the one given. QuickJS has no call for
/// an object's reference count; this build keeps it in the 4 bytes just
/// before the object (`JSMallocBlockHeader` in quickjs.c). That layout is
/// checked once per process on a new object (1, then 2 once copied, then 1
/// again); if it ever reads otherwise, every object counts as held by others.
fn held_once(ctx: &Ctx<'_>, o: &Object<'_>) -> bool {
    fn count(o: &Object<'_>) -> i32 {
        // SAFETY: every allocation of this QuickJS build, objects included, is preceded by its
        // 8-byte block header whose last 4 bytes are the reference count; only read.
        unsafe { *(qjs::JS_VALUE_GET_PTR(o.as_raw()) as *const i32).sub(1) }
    }
    static READABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let readable = *READABLE.get_or_init(|| {
        let Ok(probe) = Object::new(ctx.clone()) else {
            return false;
        };
        let one = count(&probe);
        let copy = probe.clone();
        let two = count(&probe);
        drop(copy);
        (one, two, count(&probe)) == (1, 2, 1)
    });
    readable && count(o) == 1
}

/// `{info, warn, error, debug}` writing into the run's log buffer.
fn make_logger<'js>(
    ctx: &Ctx<'js>,
    logs: &Rc<RefCell<LogBuffer>>,
    watch: &Rc<Watch>,
) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    for level in ["info", "warn", "error", "debug"] {
        let logs = logs.clone();
        let watch = watch.clone();
        let f = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
            let _host = watchdog::Host::enter();
            let message = super::stdlib::log_line(&ctx, &args.0);
            crate::shmem::live::log(level, &message);
            logs.borrow_mut().push(level, message, watch.elapsed_ms());
        })?;
        o.set(level, f)?;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_kept_and_exact() {
        let rt = Runtime::new().expect("runtime");
        let context = Context::full(&rt).expect("context");
        context.with(|ctx| {
            let texts = Texts::default();
            let c = ctx.as_raw().as_ptr();
            let make = |s: &str| {
                // SAFETY: a new string of this context, passed to the caller.
                Ok(unsafe { qjs::JS_NewStringLen(c, s.as_ptr().cast(), s.len() as _) })
            };
            let long = "x".repeat(TEXT_BYTES + 1);
            let words = [
                "basic",
                "silver",
                "gold",
                "",
                "é",
                long.as_str(),
                "silver2",
                "Gold",
            ];
            let mut first = Vec::new();
            for round in 0..3 {
                for (i, w) in words.iter().enumerate() {
                    let raw = texts
                        .string(&ctx, w.as_bytes(), || make(w))
                        .expect("string");
                    // SAFETY: the new reference `string` gave; the Value frees it.
                    let v = unsafe { Value::from_raw(ctx.clone(), raw) };
                    let got: String = v.get().expect("a string");
                    assert_eq!(got, *w);
                    // SAFETY: the pointer of a string value, compared only.
                    let ptr = unsafe { qjs::JS_VALUE_GET_PTR(raw) } as usize;
                    if round == 0 {
                        first.push(ptr);
                    } else if i < 3 {
                        // The three values of a column of few values are the strings made first.
                        assert_eq!(ptr, first[i], "{w} was made again");
                    }
                }
            }
        });
    }
}
