//! The run's deadline, kept by timers in the backend's SIGALRM handler (trust
//! rule 4).
//!
//! At the deadline: the allocator and the interrupt handler see the flag at
//! once (QuickJS polls its handler only every so many calls and jumps), a
//! statement of the run's SQL is cancelled, and QuickJS's stack limit drops
//! to nothing, so that the next function call fails however long each call
//! of a loop takes (`for (;;) a.fill(1)`): the run reaches its interrupt
//! check within one builtin call.
//!
//! The last resort, 1 s later: only a builtin that loops without checking
//! (a sort of a huge typed array) can still be running. The handler asks
//! Postgres to end the backend as `pg_terminate_backend` does and, when the
//! backend is inside QuickJS itself (not in a host function, not in an
//! allocator), raises FATAL at once: Postgres's own state is consistent
//! there, as at an interrupt check. Elsewhere it looks again 10 ms later. A
//! FATAL ends one backend (exit code 1): no crash restart.

use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{compiler_fence, AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pgrx::pg_sys;
use rquickjs::qjs;

use crate::timeout;

/// How long past its deadline a run may live.
pub const GRACE_MS: u64 = 1000;

/// Set at the deadline; read by the allocator and the interrupt handler.
static PASSED: AtomicBool = AtomicBool::new(false);
/// Set when the deadline cancelled a statement of the run's SQL.
static SQL_CANCELLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // Plain cells with constant initialisers: safe to read from a signal handler of this thread.
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    static HOST_DEPTH: Cell<u32> = const { Cell::new(0) };
    static ALLOC_DEPTH: Cell<u32> = const { Cell::new(0) };
    static RUNTIME: Cell<*mut qjs::JSRuntime> = const { Cell::new(std::ptr::null_mut()) };
    static STACK_BYTES: Cell<usize> = const { Cell::new(0) };
    static TIMERS: Cell<Option<(c_int, c_int)>> = const { Cell::new(None) };
    /// The current run's deadline, which the handlers check the clock against.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// When each timer was last set to fire: a timer still set for no later
    /// than a new run's deadline is left as it is (see `Armed::start`).
    static SET_FOR: Cell<(Option<Instant>, Option<Instant>)> = const { Cell::new((None, None)) };
}

/// Arms the deadline and the last resort for one run in `runtime`, whose
/// stack limit is `stack_bytes`; dropping it ends the run for the handlers.
///
/// Setting and clearing two timers costs system calls, a large part of a
/// typed function's call. So a timer is left set when the run ends, and the
/// next run keeps it if it fires no later than its own deadline: a handler
/// that fires early (or between runs) only sets itself again for the
/// current deadline, or does nothing.
pub struct Armed(());

impl Armed {
    pub fn start(
        deadline: Option<Instant>,
        runtime: *mut qjs::JSRuntime,
        stack_bytes: usize,
    ) -> Armed {
        // Between runs the handlers do nothing (IN_RUN is false), so plain
        // stores suffice until IN_RUN is set: no locked instruction, as a
        // typed call runs this per row. The fences keep the compiler from
        // moving them past IN_RUN.
        PASSED.store(false, Ordering::Relaxed);
        SQL_CANCELLED.store(false, Ordering::Relaxed);
        RUNTIME.set(runtime);
        STACK_BYTES.set(stack_bytes);
        DEADLINE.set(deadline);
        compiler_fence(Ordering::SeqCst);
        IN_RUN.set(true);
        compiler_fence(Ordering::SeqCst);
        if let Some(deadline) = deadline {
            let (at_deadline, last_resort) = TIMERS.get().unwrap_or_else(|| {
                let ids = (timeout::register(reached), timeout::register(expired));
                TIMERS.set(Some(ids));
                ids
            });
            let (mut first, mut last) = SET_FOR.get();
            let grace = deadline + Duration::from_millis(GRACE_MS);
            set_unless_sooner(at_deadline, &mut first, deadline);
            set_unless_sooner(last_resort, &mut last, grace);
            SET_FOR.set((first, last));
        }
        Armed(())
    }
}

/// Sets timer `id` to fire at `at`, unless it is set already to fire no later.
fn set_unless_sooner(id: c_int, set_for: &mut Option<Instant>, at: Instant) {
    if set_for.is_some_and(|s| s <= at) && timeout::active(id) {
        return;
    }
    timeout::enable_after(id, ms_until(at));
    *set_for = Some(at);
}

fn ms_until(at: Instant) -> c_int {
    at.saturating_duration_since(Instant::now())
        .as_millis()
        .min(c_int::MAX as u128) as c_int
}

impl Drop for Armed {
    fn drop(&mut self) {
        compiler_fence(Ordering::SeqCst);
        IN_RUN.set(false);
        compiler_fence(Ordering::SeqCst);
        // From here the handlers do nothing: plain loads and stores suffice.
        DEADLINE.set(None);
        RUNTIME.set(std::ptr::null_mut());
        if SQL_CANCELLED.load(Ordering::Relaxed) {
            SQL_CANCELLED.store(false, Ordering::Relaxed);
            withdraw_cancel();
        }
        PASSED.store(false, Ordering::Relaxed);
    }
}

/// In a handler: whether the run has no deadline, or its deadline plus
/// `extra` is still ahead; then the timer `which` (0: deadline, 1: last
/// resort) is set again for that time.
fn not_due(which: usize, extra: Duration) -> bool {
    let Some(at) = DEADLINE.get().map(|d| d + extra) else {
        return true;
    };
    if Instant::now() >= at {
        return false;
    }
    if let Some(ids) = TIMERS.get() {
        let (mut first, mut last) = SET_FOR.get();
        let (id, slot) = match which {
            0 => (ids.0, &mut first),
            _ => (ids.1, &mut last),
        };
        timeout::enable_after(id, ms_until(at));
        *slot = Some(at);
        SET_FOR.set((first, last));
    }
    true
}

/// Whether the run's deadline has passed (its timer fired).
pub fn passed() -> bool {
    PASSED.load(Ordering::Relaxed)
}

/// Whether the deadline cancelled a statement of the run's SQL; the cancel it
/// asked for is withdrawn, since the run ends with its own timeout error.
pub fn take_sql_cancel() -> bool {
    let cancelled = SQL_CANCELLED.swap(false, Ordering::SeqCst);
    if cancelled {
        withdraw_cancel();
    }
    cancelled
}

fn withdraw_cancel() {
    // SAFETY: a store to a sig_atomic_t flag on the main thread, as Postgres clears it itself.
    unsafe { pg_sys::QueryCancelPending = 0 };
}

/// Gives QuickJS its stack back once the run is stopped: the uncatchable
/// error that ends it must be made and thrown.
pub fn restore_stack() {
    let rt = RUNTIME.get();
    if !rt.is_null() {
        // SAFETY: the runtime of the run going on, on its own thread.
        unsafe { qjs::JS_SetMaxStackSize(rt, STACK_BYTES.get() as _) };
    }
}

/// The deadline's handler, in signal context.
unsafe extern "C-unwind" fn reached() {
    if !IN_RUN.get() || not_due(0, Duration::ZERO) {
        return;
    }
    PASSED.store(true, Ordering::SeqCst);
    if crate::tenancy::in_script_sql() {
        SQL_CANCELLED.store(true, Ordering::SeqCst);
        // SAFETY: what Postgres's own StatementTimeoutHandler does: flags and a latch, signal-safe.
        unsafe {
            pg_sys::QueryCancelPending = 1;
            pg_sys::InterruptPending = 1;
            pg_sys::SetLatch(pg_sys::MyLatch);
        }
    }
    let rt = RUNTIME.get();
    if !rt.is_null() {
        // SAFETY: two word stores into the runtime (its stack size and limit), which the
        // interrupted code only reads; restored by restore_stack or the next run's start.
        unsafe { qjs::JS_SetMaxStackSize(rt, 1) };
    }
}

/// Whether this backend is inside a run: a process that exits then leaves
/// the run's JS heap alone (its state is mid-operation).
pub fn in_run() -> bool {
    IN_RUN.get()
}

/// Marks Rust code called from JS (host functions) for as long as it lives.
pub struct Host(());

impl Host {
    pub fn enter() -> Host {
        HOST_DEPTH.set(HOST_DEPTH.get() + 1);
        Host(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        HOST_DEPTH.set(HOST_DEPTH.get().saturating_sub(1));
    }
}

/// Marks an allocator call (of the JS heap, or Rust's): malloc is not
/// reentrant, so the handler must not exit from inside it.
pub fn alloc_enter() {
    ALLOC_DEPTH.set(ALLOC_DEPTH.get() + 1);
}

pub fn alloc_exit() {
    ALLOC_DEPTH.set(ALLOC_DEPTH.get().saturating_sub(1));
}

/// Rust's allocations, marked for the handler.
pub struct MarkedAllocator;

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl std::alloc::GlobalAlloc for MarkedAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        alloc_enter();
        let p = unsafe { std::alloc::System.alloc(layout) };
        alloc_exit();
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        alloc_enter();
        // SAFETY: forwarded unchanged; the caller's GlobalAlloc contract is System's too.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        alloc_exit();
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        alloc_enter();
        // SAFETY: forwarded unchanged; the caller's GlobalAlloc contract is System's too.
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        alloc_exit();
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        alloc_enter();
        // SAFETY: forwarded unchanged; the caller's GlobalAlloc contract is System's too.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        alloc_exit();
        p
    }
}

/// The last resort's handler, in signal context.
unsafe extern "C-unwind" fn expired() {
    if !IN_RUN.get() || not_due(1, Duration::from_millis(GRACE_MS)) {
        return;
    }
    // SAFETY: what die() does for pg_terminate_backend: flags and a latch, all signal-safe.
    unsafe {
        pg_sys::ProcDiePending = 1;
        pg_sys::InterruptPending = 1;
        pg_sys::SetLatch(pg_sys::MyLatch);
    }
    if HOST_DEPTH.get() == 0 && ALLOC_DEPTH.get() == 0 {
        pgrx::ereport!(
            FATAL,
            pgrx::PgSqlErrorCode::ERRCODE_ADMIN_SHUTDOWN,
            format!(
                "jsruntime: a script ran {GRACE_MS} ms past its deadline in a builtin that cannot be interrupted; this backend ends"
            )
        );
    }
    if let Some((_, last_resort)) = TIMERS.get() {
        timeout::enable_after(last_resort, 10);
    }
}
