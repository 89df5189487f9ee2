//! The queue of failure records, in shared memory: backends put the record
//! of a failed run here (it must survive their rollback), and the recorder
//! worker (workers/recorder.rs) writes it. One lock guards the head and the
//! slots.

use std::time::{Duration, Instant};

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

use crate::catalog::executions::Record;

const SLOTS: usize = 64;
const SLOT_BYTES: usize = 32 * 1024 - 8;

#[repr(C)]
struct Slot {
    len: u32,
    _pad: u32,
    data: [u8; SLOT_BYTES],
}

/// The queue's head; its lock also guards the slots.
#[derive(Copy, Clone, Default)]
pub struct Queue {
    head: u64,
    tail: u64,
    /// the worker's latch (shared memory, same address in every process); 0 when it is not running
    latch: usize,
    database: u32,
    /// records the worker holds back until their script's row commits
    waiting: u32,
}

// SAFETY: plain Copy integers (the latch address as usize): valid in every backend; used only
// under QUEUE's lock.
unsafe impl PGRXSharedMemory for Queue {}

// SAFETY: the name is used by no other shared-memory area.
static QUEUE: PgLwLock<Queue> = unsafe { PgLwLock::new(c"jsrt_recorder") };
/// The slots live in a shared memory area of their own: too big to build on a stack.
static mut SLOTS_AREA: *mut Slot = std::ptr::null_mut();
static mut PREV_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;

#[pg_guard]
unsafe extern "C-unwind" fn request_slots() {
    // SAFETY: Postgres calls this hook in the postmaster while shared memory may still be requested.
    unsafe {
        if let Some(prev) = PREV_REQUEST_HOOK {
            prev();
        }
        pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Slot>() * SLOTS);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn attach_slots() {
    // SAFETY: Postgres calls this hook in the postmaster alone, after the request; ShmemInitStruct returns
    // `size` bytes of shared memory, and children inherit SLOTS_AREA.
    unsafe {
        if let Some(prev) = PREV_STARTUP_HOOK {
            prev();
        }
        let size = std::mem::size_of::<Slot>() * SLOTS;
        let mut found = false;
        let p = pg_sys::ShmemInitStruct(c"jsrt_recorder_slots".as_ptr(), size, &mut found);
        if !found {
            std::ptr::write_bytes(p.cast::<u8>(), 0, size);
        }
        SLOTS_AREA = p.cast();
    }
}

/// Slot `n` of the queue.
///
/// # Safety
/// The library is preloaded (the area exists), and the caller holds QUEUE's
/// lock for as long as it uses the slot.
unsafe fn slot(n: u64) -> &'static mut Slot {
    // SAFETY: as the function's contract says; n % SLOTS stays inside the area.
    unsafe { &mut *SLOTS_AREA.add((n % SLOTS as u64) as usize) }
}

/// From _PG_init while shared_preload_libraries is being processed.
pub fn init() {
    pg_shmem_init!(QUEUE);
    // SAFETY: _PG_init while preloading, once, in the postmaster: the hook chain is ours to extend.
    unsafe {
        PREV_REQUEST_HOOK = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(request_slots);
        PREV_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(attach_slots);
    }
}

/// Hands a record to the worker. False when the worker cannot take it.
pub fn enqueue(record: &Record) -> bool {
    if !crate::preloaded() {
        return false;
    }
    let Some(bytes) = encode(record) else {
        return false;
    };
    let give_up = Instant::now() + Duration::from_secs(2);
    loop {
        {
            let mut q = QUEUE.exclusive();
            // SAFETY: a read of this backend's own database oid.
            if q.latch == 0 || q.database != unsafe { pg_sys::MyDatabaseId }.to_u32() {
                return false;
            }
            if q.tail - q.head < SLOTS as u64 {
                // SAFETY: preloaded (checked above), and `q` holds the lock while the slot is written.
                let s = unsafe { slot(q.tail) };
                s.len = bytes.len() as u32;
                s.data[..bytes.len()].copy_from_slice(&bytes);
                q.tail += 1;
                let latch = q.latch as *mut pg_sys::Latch;
                drop(q);
                // SAFETY: the recorder's PGPROC latch: shared memory at the same address in every backend.
                unsafe { pg_sys::SetLatch(latch) };
                return true;
            }
        }
        if Instant::now() > give_up {
            return false;
        }
        // SAFETY: a plain sleep; no lock is held.
        unsafe { pg_sys::pg_usleep(10_000) };
    }
}

/// Serialises a record into one slot, shedding logs, stack, input and the
/// tail of the error message if it is too big.
fn encode(record: &Record) -> Option<Vec<u8>> {
    let mut r = record.clone();
    for step in 0..5 {
        let bytes = serde_json::to_vec(&r).ok()?;
        if bytes.len() <= SLOT_BYTES {
            return Some(bytes);
        }
        match step {
            0 => r.logs = r#"[{"level":"warn","message":"logs dropped: the failure record was too large","at_ms":0}]"#.into(),
            1 => r.error_detail = None,
            2 => r.input = format!(r#"{{"_truncated_bytes":{}}}"#, r.input.len()),
            3 => {
                if let Some(e) = r.error.as_mut() {
                    if let Some((cut, _)) = e.char_indices().nth(4096) {
                        e.truncate(cut);
                        e.push_str(" [truncated]");
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Waits until the queue is empty or `timeout` passes. True when it emptied.
pub fn flush(timeout: Duration) -> bool {
    if !crate::preloaded() {
        return true;
    }
    let until = Instant::now() + timeout;
    loop {
        {
            let q = QUEUE.share();
            // An empty queue, or no worker to wait for.
            if (q.head == q.tail && q.waiting == 0) || q.latch == 0 {
                return q.head == q.tail;
            }
        }
        if Instant::now() > until {
            return false;
        }
        pgrx::check_for_interrupts!();
        // SAFETY: a plain sleep; no lock is held.
        unsafe { pg_sys::pg_usleep(5_000) };
    }
}

/// The worker's side: it registers its latch and database.
pub fn attach_worker() {
    let mut q = QUEUE.exclusive();
    // SAFETY: reads of this process's own globals.
    q.latch = unsafe { pg_sys::MyLatch } as usize;
    q.database = unsafe { pg_sys::MyDatabaseId }.to_u32();
}

pub fn detach_worker() {
    QUEUE.exclusive().latch = 0;
}

/// Up to `n` queued records (as bytes), from the head, and the head's number.
pub fn peek(n: usize) -> (u64, Vec<Vec<u8>>) {
    let q = QUEUE.share();
    let batch = (q.head..q.tail)
        .take(n)
        .map(|i| {
            // SAFETY: only the worker calls this (preloaded), under the shared lock `q`.
            let s = unsafe { slot(i) };
            s.data[..s.len as usize].to_vec()
        })
        .collect();
    (q.head, batch)
}

/// Frees the slots `peek` returned, and says how many records wait for their scripts.
pub fn advance(head: u64, taken: usize, waiting: usize) {
    let mut q = QUEUE.exclusive();
    q.head = head + taken as u64;
    q.waiting = waiting as u32;
}

pub fn set_waiting(waiting: usize) {
    QUEUE.exclusive().waiting = waiting as u32;
}
