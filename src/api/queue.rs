use pgrx::prelude::*;

use crate::shmem::board;
use crate::workers::executor;

/// Wakes the executors when the current transaction commits (from the SQL that queues runs).
#[pg_extern(name = "_wake_executors")]
pub fn wake_executors() {
    crate::version::ensure();
    board::wake_at_commit();
}

/// Asks the executor running (or about to run) an execution to stop it.
#[pg_extern(name = "_request_cancel")]
fn request_cancel(execution_id: pgrx::Uuid) -> bool {
    crate::version::ensure();
    board::request_cancel(u128::from_be_bytes(*execution_id.as_bytes()))
}

/// Runs up to `max` due queued runs in this session; they commit with the
/// caller. For clusters without the executors (no preload), driven by
/// pg_cron or any client. Returns how many ran.
#[pg_extern]
fn run_pending(max: default!(i32, 100)) -> i64 {
    crate::version::ensure();
    if max < 0 {
        crate::error::Error::Invalid(format!("max must be 0 or more, got {max}")).raise();
    }
    // The queue is the extension's: claims and records are written as its owner; script SQL still runs as jsrt_script.
    crate::tenancy::as_owner(|| executor::run_pending(max as i64))
}
