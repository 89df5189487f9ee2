//! The workers' notice board in shared memory: the executors' and the
//! scheduler's latches, so that a commit that queued work or changed a
//! schedule wakes them at once, and the run each executor has claimed, with
//! its cancel flag, so that jsrt.cancel can stop it. A cancel of a run no
//! executor has claimed is written into its row instead (jsrt.cancel), so
//! nothing here has to remember cancels.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

pub const MAX_EXECUTORS: usize = 32;

#[derive(Copy, Clone)]
pub struct Board {
    latches: [usize; MAX_EXECUTORS],
    scheduler: usize,
    running: [u128; MAX_EXECUTORS],
    cancel: [bool; MAX_EXECUTORS],
}

impl Default for Board {
    fn default() -> Self {
        Board {
            latches: [0; MAX_EXECUTORS],
            scheduler: 0,
            running: [0; MAX_EXECUTORS],
            cancel: [false; MAX_EXECUTORS],
        }
    }
}

// SAFETY: plain Copy integers (latch addresses as usize), no references: valid in every backend;
// used only under BOARD's lock.
unsafe impl PGRXSharedMemory for Board {}

// SAFETY: the name is used by no other shared-memory area.
static BOARD: PgLwLock<Board> = unsafe { PgLwLock::new(c"jsrt_executors") };
/// This process's executor slot, when it is an executor.
static MY_SLOT: AtomicUsize = AtomicUsize::new(usize::MAX);

thread_local! {
    static WAKE_AT_COMMIT: Cell<bool> = const { Cell::new(false) };
    static WAKE_SCHEDULER_AT_COMMIT: Cell<bool> = const { Cell::new(false) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

pub fn init() {
    pg_shmem_init!(BOARD);
}

/// An executor takes its slot.
pub fn register(slot: usize) {
    MY_SLOT.store(slot, Ordering::Relaxed);
    let mut b = BOARD.exclusive();
    // SAFETY: a read of this worker's own latch pointer: its PGPROC's latch, in shared memory.
    b.latches[slot] = unsafe { pg_sys::MyLatch } as usize;
    b.running[slot] = 0;
    b.cancel[slot] = false;
}

pub fn unregister(slot: usize) {
    let mut b = BOARD.exclusive();
    b.latches[slot] = 0;
    b.running[slot] = 0;
}

/// Marks the run this executor claims, inside the claiming transaction: a
/// jsrt.cancel that waited for the claim's row lock finds it here.
pub fn claim_run(slot: usize, id: u128) {
    let mut b = BOARD.exclusive();
    b.running[slot] = id;
    b.cancel[slot] = false;
}

/// Ends this executor's run before its record is written; true when it was
/// cancelled meanwhile. After this, jsrt.cancel no longer finds it.
pub fn close_run(slot: usize) -> bool {
    let mut b = BOARD.exclusive();
    b.running[slot] = 0;
    std::mem::take(&mut b.cancel[slot])
}

/// Asks the executor that has claimed `id` to stop it; false when none has.
pub fn request_cancel(id: u128) -> bool {
    if !crate::preloaded() || id == 0 {
        return false;
    }
    let mut b = BOARD.exclusive();
    let mut found = false;
    for slot in 0..MAX_EXECUTORS {
        if b.running[slot] == id {
            b.cancel[slot] = true;
            found = true;
        }
    }
    found
}

/// Whether this executor's current run was cancelled: read by the JS interrupt handler.
pub fn cancel_requested() -> bool {
    let slot = MY_SLOT.load(Ordering::Relaxed);
    slot != usize::MAX && BOARD.share().cancel[slot]
}

/// Wakes every executor now.
pub fn wake_all() {
    if !crate::preloaded() {
        return;
    }
    let b = BOARD.share();
    for &latch in b.latches.iter().filter(|&&l| l != 0) {
        // SAFETY: each nonzero entry is a worker's PGPROC latch: shared memory at the same address in every
        // backend, valid even after that worker exits.
        unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
    }
}

/// The scheduler takes its place (or leaves it, with 0).
pub fn register_scheduler(latch: usize) {
    BOARD.exclusive().scheduler = latch;
}

/// Wakes the executors when the current transaction commits.
pub fn wake_at_commit() {
    at_commit(&WAKE_AT_COMMIT);
}

/// Wakes the scheduler when the current transaction commits.
pub fn wake_scheduler_at_commit() {
    at_commit(&WAKE_SCHEDULER_AT_COMMIT);
}

fn at_commit(flag: &'static std::thread::LocalKey<Cell<bool>>) {
    if !crate::preloaded() {
        return;
    }
    flag.set(true);
    if !CALLBACK_REGISTERED.replace(true) {
        // SAFETY: once per process (CALLBACK_REGISTERED), on the main thread; the callback is a plain fn.
        unsafe { pg_sys::RegisterXactCallback(Some(on_transaction_end), std::ptr::null_mut()) };
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT => {
            if WAKE_AT_COMMIT.replace(false) {
                wake_all();
            }
            if WAKE_SCHEDULER_AT_COMMIT.replace(false) {
                let latch = BOARD.share().scheduler;
                if latch != 0 {
                    // SAFETY: the scheduler's PGPROC latch: shared memory at the same address in every backend.
                    unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
                }
            }
        }
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT => {
            WAKE_AT_COMMIT.set(false);
            WAKE_SCHEDULER_AT_COMMIT.set(false);
        }
        _ => {}
    }
}
