//! Executors: background workers that run the queue. Each claims due runs
//! in batches (FOR UPDATE SKIP LOCKED), then runs each in a transaction of
//! its own. A commit that queues work sets their latches (board.rs), so no
//! polling interval stands between commit and start.
//!
//! Without preload, jsrt.run_pending(max) runs the same loop in the calling
//! session, each run in a subtransaction.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::{in_transaction, shutting_down};
use crate::catalog::executions::{self, Queued};
use crate::engine::{ids, run};
use crate::gucs;
use crate::shmem::board;

/// Runs claimed at once, and at most per tenant in one claim.
const BATCH: i64 = 32;
const PER_TENANT: i64 = 8;
const FIRST_TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// From _PG_init while preloading.
pub fn init() {
    for n in 0..gucs::executor_workers().min(board::MAX_EXECUTORS) {
        BackgroundWorkerBuilder::new(&format!("jsrt executor {n}"))
            .set_type("jsrt executor")
            .set_function("jsrt_executor_main")
            .set_library("jsruntime")
            .set_argument((n as i32).into_datum())
            .enable_spi_access()
            .set_restart_time(Some(Duration::from_secs(1)))
            .load();
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_executor_main(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    super::connect();
    let slot = arg.value().min(board::MAX_EXECUTORS - 1);
    board::register(slot);
    // SAFETY: a read of this process's pid, set at its start.
    let worker = format!("executor {}", unsafe { pg_sys::MyProcPid });
    // A standby runs nothing (the queue is the primary's) until it is promoted.
    // SAFETY: a plain call on the worker's main thread, attached to shared memory.
    while unsafe { pg_sys::RecoveryInProgress() } {
        if !BackgroundWorker::wait_latch(Some(Duration::from_secs(1))) || shutting_down() {
            board::unregister(slot);
            return;
        }
    }
    let _ = in_transaction(recover);
    let mut after = FIRST_TENANT.to_string();
    // The last claim error, logged once rather than on every wake-up
    // (say, before CREATE EXTENSION in jsrt.database).
    let mut last_error = String::new();
    loop {
        // Due retries are found by the timeout; new work sets the latch.
        if !BackgroundWorker::wait_latch(Some(Duration::from_millis(500))) || shutting_down() {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: the usual SIGHUP reload, on the worker's main thread between transactions.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        while !shutting_down() {
            let claimed =
                in_transaction(AssertUnwindSafe(|| next_batch(&mut after, BATCH, &worker)));
            let jobs = match claimed.map_err(|c| c.message).and_then(|r| r) {
                Ok(jobs) if jobs.is_empty() => break,
                Ok(jobs) => jobs,
                Err(e) => {
                    if e != last_error {
                        log!("jsrt executor: claiming runs failed: {e}");
                        last_error = e;
                    }
                    break;
                }
            };
            last_error.clear();
            for job in &jobs {
                run_in_own_transaction(slot, job);
            }
        }
    }
    board::unregister(slot);
}

/// Records the runs of dead executors as failed, and sends their events down the retry path.
fn recover() {
    match executions::recover() {
        Ok(ids) => {
            for id in &ids {
                if let Err(e) = executions::retry_or_dead_letter(id) {
                    log!("jsrt executor: retrying {id} failed: {e}");
                }
            }
            if !ids.is_empty() {
                log!(
                    "jsrt executor: took back {} runs of stopped executors",
                    ids.len()
                );
            }
        }
        Err(e) => log!("jsrt executor: recovering runs failed: {e}"),
    }
}

fn run_in_own_transaction(slot: usize, job: &Queued) {
    let id = ids::key(&job.id);
    let cancelled_before = !board::start_run(slot, id);
    let outcome = in_transaction(AssertUnwindSafe(|| {
        if cancelled_before {
            mark_cancelled(&job.id);
            return;
        }
        run_one(job);
    }));
    if let Err(c) = outcome {
        // The run's transaction failed outside the script (it is rolled back): record that.
        let _ = in_transaction(AssertUnwindSafe(|| finish_failed(job, &c.message)));
    }
    board::end_run(slot);
}

/// Runs one claimed run in the current transaction: its writes commit with
/// its record, or roll back before its failure is recorded.
pub fn run_one(job: &Queued) {
    // SAFETY: on the backend's main thread; Postgres copies the static C string.
    unsafe {
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, c"jsrt run".as_ptr())
    };
    // (The pipeline rolls back a failed run's writes; this catches errors outside the script.)
    let ran = crate::subxact::run(AssertUnwindSafe(|| run::execute_queued(job)));
    match ran {
        // Stopped by a shutdown, not by a cancel: it runs again after the restart.
        Ok(Ok(rec)) if rec.status == "cancelled" && shutting_down() => requeue(&rec.id),
        Ok(Ok(rec)) if rec.status == "completed" || rec.status == "cancelled" => {
            let retried_dead_letter = job
                .event_json
                .as_deref()
                .is_some_and(|e| e.contains("dead_letter_id"));
            let written = executions::insert(&rec)
                .map_err(|e| e.message())
                .and_then(|_| match retried_dead_letter {
                    true => executions::clear_dead_letter(&rec.id).map_err(|e| e.to_string()),
                    false => Ok(()),
                });
            if let Err(e) = written {
                error!("{e}");
            }
        }
        Ok(Ok(rec)) => {
            // rolled back above: record the failure and what comes next
            if let Err(e) = executions::insert(&rec)
                .map_err(|e| e.message())
                .and_then(|_| executions::retry_or_dead_letter(&rec.id).map_err(|e| e.to_string()))
            {
                error!("{e}");
            }
        }
        Ok(Err(crate::error::Error::Busy { .. } | crate::error::Error::Held { .. })) => {
            requeue(&job.id)
        }
        Ok(Err(e)) => finish_failed(job, &e.message()),
        Err(c) => finish_failed(job, &c.message),
    }
    // SAFETY: on the backend's main thread; a null activity string is allowed.
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null()) };
}

fn finish_failed(job: &Queued, message: &str) {
    if let Err(e) = executions::fail(&job.id, message) {
        log!(
            "jsrt executor: recording the failure of {} failed: {e}",
            job.id
        );
    }
}

fn requeue(id: &str) {
    if let Err(e) = executions::requeue(id) {
        log!("jsrt executor: putting back {id} failed: {e}");
    }
}

fn mark_cancelled(id: &str) {
    if let Err(e) = executions::mark_cancelled(id) {
        log!("jsrt executor: recording the cancel of {id} failed: {e}");
    }
}

/// jsrt.run_pending(max): runs up to `max` due runs in this session, each in
/// a subtransaction; they commit with the caller. Returns how many ran.
pub fn run_pending(max: i64) -> i64 {
    // SAFETY: a read of this process's pid, set at its start.
    let worker = format!("session {}", unsafe { pg_sys::MyProcPid });
    let mut after = FIRST_TENANT.to_string();
    let mut done = 0;
    while done < max {
        let jobs = next_batch(&mut after, max - done, &worker)
            .unwrap_or_else(|e| error!("jsrt.run_pending: claiming runs failed: {e}"));
        if jobs.is_empty() {
            break;
        }
        for job in &jobs {
            run_one(job);
            done += 1;
        }
    }
    done
}

/// Claims the next batch, going round the tenants from the one after
/// `after`; empty only when no tenant has due work.
fn next_batch(after: &mut String, limit: i64, worker: &str) -> Result<Vec<Queued>, String> {
    loop {
        let jobs = executions::claim(limit.min(BATCH), PER_TENANT, after, worker)
            .map_err(|e| e.to_string())?;
        match jobs.last() {
            Some(last) => *after = last.tenant_id.clone(),
            None if after != FIRST_TENANT => {
                *after = FIRST_TENANT.to_string();
                continue;
            }
            None => {}
        }
        return Ok(jobs);
    }
}
