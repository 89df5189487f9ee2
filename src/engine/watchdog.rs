//! The last resort of trust rule 4: a run still alive 1 s after its deadline
//! ends its own backend with FATAL.
//!
//! A run normally ends at the first interrupt check after its deadline
//! (sandbox.rs). Only a builtin that loops without checking (a sort of a huge
//! typed array) can outlive that. Then a timer, in the backend's SIGALRM
//! handler, asks Postgres to end the backend as `pg_terminate_backend` does
//! and, when the backend is inside QuickJS itself (not in a host function,
//! not in an allocator), raises FATAL at once: Postgres's own state is
//! consistent there, as at an interrupt check. Elsewhere it looks again 10 ms
//! later. A FATAL ends one backend (exit code 1): no crash restart.

use std::cell::Cell;
use std::ffi::c_int;
use std::time::Instant;

use pgrx::pg_sys;

use crate::timeout;

/// How long past its deadline a run may live.
pub const GRACE_MS: u64 = 1000;

thread_local! {
    // Plain cells with constant initialisers: safe to read from a signal handler of this thread.
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    static HOST_DEPTH: Cell<u32> = const { Cell::new(0) };
    static ALLOC_DEPTH: Cell<u32> = const { Cell::new(0) };
    static TIMER: Cell<c_int> = const { Cell::new(-1) };
}

/// Arms the watchdog for one run; dropping it disarms it.
pub struct Armed(());

impl Armed {
    pub fn start(deadline: Option<Instant>) -> Armed {
        IN_RUN.set(true);
        if let Some(deadline) = deadline {
            let ms = deadline
                .saturating_duration_since(Instant::now())
                .as_millis()
                .saturating_add(u128::from(GRACE_MS))
                .min(c_int::MAX as u128) as c_int;
            let mut id = TIMER.get();
            if id < 0 {
                id = timeout::register(expired);
                TIMER.set(id);
            }
            timeout::enable_after(id, ms);
        }
        Armed(())
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        IN_RUN.set(false);
        let id = TIMER.get();
        if id >= 0 {
            timeout::disable(id);
        }
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

/// The timer's handler, in signal context.
unsafe extern "C-unwind" fn expired() {
    if !IN_RUN.get() {
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
    timeout::enable_after(TIMER.get(), 10);
}
