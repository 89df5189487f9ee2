//! The history recorder: a background worker that writes the records of
//! failed synchronous runs in transactions of its own, so that a failure is
//! recorded even when the caller's transaction rolls back.
//!
//! Backends put records into a queue in shared memory and set the worker's
//! latch; the worker inserts them. Where the worker cannot take a record (no
//! preload, another database, a full queue), the backend inserts it in its
//! own transaction instead and says so with a WARNING.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

use crate::catalog::executions::{self, Record};

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

unsafe impl PGRXSharedMemory for Queue {}

static QUEUE: PgLwLock<Queue> = unsafe { PgLwLock::new(c"jsrt_recorder") };
/// The slots live in a shared memory area of their own: too big to build on a stack.
static mut SLOTS_AREA: *mut Slot = std::ptr::null_mut();
static mut PREV_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;

#[pg_guard]
unsafe extern "C-unwind" fn request_slots() {
    unsafe {
        if let Some(prev) = PREV_REQUEST_HOOK {
            prev();
        }
        pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Slot>() * SLOTS);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn attach_slots() {
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

/// Slot `n` of the queue. The caller holds QUEUE's lock.
fn slot(n: u64) -> &'static mut Slot {
    unsafe { &mut *SLOTS_AREA.add((n % SLOTS as u64) as usize) }
}

/// From _PG_init while shared_preload_libraries is being processed.
pub fn init() {
    pg_shmem_init!(QUEUE);
    unsafe {
        PREV_REQUEST_HOOK = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(request_slots);
        PREV_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(attach_slots);
    }
    BackgroundWorkerBuilder::new("jsrt recorder")
        .set_type("jsrt recorder")
        .set_function("jsrt_recorder_main")
        .set_library("jsruntime")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
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
            if q.latch == 0 || q.database != unsafe { pg_sys::MyDatabaseId }.to_u32() {
                return false;
            }
            if q.tail - q.head < SLOTS as u64 {
                let s = slot(q.tail);
                s.len = bytes.len() as u32;
                s.data[..bytes.len()].copy_from_slice(&bytes);
                q.tail += 1;
                let latch = q.latch as *mut pg_sys::Latch;
                drop(q);
                unsafe { pg_sys::SetLatch(latch) };
                return true;
            }
        }
        if Instant::now() > give_up {
            return false;
        }
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
        unsafe { pg_sys::pg_usleep(5_000) };
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_recorder_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    super::connect();
    {
        let mut q = QUEUE.exclusive();
        q.latch = unsafe { pg_sys::MyLatch } as usize;
        q.database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    }
    let mut waiting = Vec::new();
    loop {
        // Look again soon while records wait for their scripts.
        let nap = if waiting.is_empty() {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(100)
        };
        if !BackgroundWorker::wait_latch(Some(nap)) {
            break;
        }
        drain(&mut waiting);
        QUEUE.exclusive().waiting = waiting.len() as u32;
    }
    drain(&mut waiting);
    QUEUE.exclusive().latch = 0;
}

/// How long a record waits for its script's row to commit: a script created
/// in the transaction whose run failed only exists once that transaction commits.
const WAIT_FOR_SCRIPT: Duration = Duration::from_secs(60);

/// Inserts what is queued, each record in its own subtransaction, then frees the slots.
/// Records whose script is not (yet) visible wait in `waiting`.
fn drain(waiting: &mut Vec<(Instant, Record)>) {
    if !waiting.is_empty() {
        let retry: Vec<_> = std::mem::take(waiting);
        BackgroundWorker::transaction(std::panic::AssertUnwindSafe(|| {
            for (since, rec) in retry {
                store(rec, since, waiting);
            }
        }));
    }
    loop {
        let (head, batch) = {
            let q = QUEUE.share();
            let batch: Vec<Vec<u8>> = (q.head..q.tail)
                .take(16)
                .map(|n| {
                    let s = slot(n);
                    s.data[..s.len as usize].to_vec()
                })
                .collect();
            (q.head, batch)
        };
        if batch.is_empty() {
            return;
        }
        BackgroundWorker::transaction(std::panic::AssertUnwindSafe(|| {
            for bytes in &batch {
                match serde_json::from_slice::<Record>(bytes) {
                    Ok(rec) => store(rec, Instant::now(), waiting),
                    Err(e) => warning!("jsrt recorder: dropped an unreadable record: {e}"),
                }
            }
        }));
        let mut q = QUEUE.exclusive();
        q.head = head + batch.len() as u64;
        q.waiting = waiting.len() as u32;
    }
}

fn store(rec: Record, since: Instant, waiting: &mut Vec<(Instant, Record)>) {
    match crate::subxact::run(|| executions::insert(&rec)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warning!(
            "jsrt recorder: execution {} could not be recorded: {}",
            rec.id,
            e.message()
        ),
        // SAFETY: a read of the commit log.
        Err(e)
            if e.code == pgrx::PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION
                && rec
                    .script_xid
                    .is_some_and(|x| unsafe { pg_sys::TransactionIdDidAbort(x.into()) }) =>
        {
            // The script never existed for anyone else: nothing to record it against.
            debug1!(
                "jsrt recorder: execution {} dropped: its script's transaction rolled back",
                rec.id
            );
        }
        Err(e)
            if e.code == pgrx::PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION
                && since.elapsed() < WAIT_FOR_SCRIPT =>
        {
            waiting.push((since, rec));
        }
        Err(e) => warning!(
            "jsrt recorder: execution {} could not be recorded: {}",
            rec.id,
            e.message
        ),
    }
}
