//! The history recorder: a background worker that writes the records of
//! failed runs in transactions of its own, so that a failure is recorded
//! even when the caller's transaction rolls back.
//!
//! Backends put records into a queue in shared memory (shmem/failures.rs)
//! and set the worker's latch; the worker inserts them. Where the worker
//! cannot take a record (no preload, another database, a full queue), the
//! backend inserts it in its own transaction instead and says so with a
//! WARNING.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use crate::catalog::executions::{self, Record};
use crate::shmem::failures;

/// From _PG_init while shared_preload_libraries is being processed.
pub fn init() {
    failures::init();
    BackgroundWorkerBuilder::new("jsrt recorder")
        .set_type("jsrt recorder")
        .set_function("jsrt_recorder_main")
        .set_library("jsruntime")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_recorder_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    super::connect();
    failures::attach_worker();
    let mut waiting = Vec::new();
    // Before ALTER EXTENSION jsruntime UPDATE records stay in shared memory.
    let mut said = false;
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
        if super::schema_ready("jsrt recorder", &mut said) {
            drain(&mut waiting);
        }
        failures::set_waiting(waiting.len());
    }
    if super::schema_ready("jsrt recorder", &mut said) {
        drain(&mut waiting);
    }
    failures::detach_worker();
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
        let (head, batch) = failures::peek(16);
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
        failures::advance(head, batch.len(), waiting.len());
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
        Err(e)
            if e.code == pgrx::PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION
                && rec
                    .script_xid
                    // SAFETY: a read of the commit log, inside the recorder's transaction.
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
