//! Executors: background workers that run the queue. Each claims one due
//! run at a time (FOR UPDATE SKIP LOCKED), the one it starts next, and runs
//! it in a transaction of its own: no executor holds runs another idle one
//! could start, and a `running` row is one that started. The transaction
//! that records a run also claims the next, so a busy queue costs one
//! commit per run. A commit that
//! queues work sets their latches (board.rs), so no polling interval stands
//! between commit and start.
//!
//! Without preload, jsrt.run_pending(max) runs the same loop in the calling
//! session, each run in a subtransaction.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::{in_transaction, shutting_down};
use crate::catalog::executions::{self, Queued, Record};
use crate::engine::{ids, quota, run};
use crate::error::Error;
use crate::gucs;
use crate::shmem::board;
use crate::xact;

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
    // A standby runs nothing (the queue is the primary's) until it is promoted. (Workers
    // start when recovery ends, BgWorkerStart_RecoveryFinished: this is only a guard.)
    while crate::standby::in_recovery() {
        if !BackgroundWorker::wait_latch(Some(Duration::from_secs(1))) || shutting_down() {
            board::unregister(slot);
            return;
        }
    }
    let mut recovered = false;
    let mut said = false;
    let mut after = FIRST_TENANT.to_string();
    // The last claim error, logged once rather than on every wake-up
    // (say, before CREATE EXTENSION in jsrt.database).
    let mut last_error = String::new();
    loop {
        // Due retries are found by the timeout; new work sets the latch.
        if !BackgroundWorker::wait_latch(Some(Duration::from_millis(500))) || shutting_down() {
            break;
        }
        // (a new library before ALTER EXTENSION jsruntime UPDATE: the tables are the old version's)
        if !super::schema_ready("jsrt executor", &mut said) {
            continue;
        }
        if !recovered {
            let _ = in_transaction(recover);
            recovered = true;
        }
        // the next run, claimed in the transaction that ended the last one
        let mut next: Option<Claimed> = None;
        while !shutting_down() {
            // (between runs too: a long queue must not keep a changed setting out)
            if BackgroundWorker::sighup_received() {
                // SAFETY: the usual SIGHUP reload, on the worker's main thread between transactions.
                unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            }
            let (job, place) = match next.take() {
                Some(claimed) => claimed,
                None => {
                    let claimed =
                        in_transaction(AssertUnwindSafe(|| claim_next(slot, &mut after, &worker)));
                    match claimed.map_err(|c| c.message).and_then(|r| r) {
                        Ok(None) => break,
                        Ok(Some(claimed)) => claimed,
                        Err(e) => {
                            if e != last_error {
                                log!("jsrt executor: claiming runs failed: {e}");
                                last_error = e;
                            }
                            break;
                        }
                    }
                }
            };
            last_error.clear();
            let mut claim = || claim_within(slot, &mut after, &worker);
            next = run_in_own_transaction(slot, &job, &mut claim);
            // the tenant's place under its cap, held from the claim to the end of the run
            drop(place);
        }
        if let Some((job, _place)) = next {
            // claimed, not started: a shutdown puts it back
            board::close_run(slot);
            let _ = in_transaction(|| requeue(&job.id));
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

/// A claimed run with its tenant's place under the cap.
type Claimed = (Queued, Option<quota::Slot>);

/// Claims the next run inside the transaction that records the last one (one
/// commit for both), in a subtransaction: a failed claim loses no record.
fn claim_within(slot: usize, after: &mut String, worker: &str) -> Option<Claimed> {
    match crate::subxact::run(AssertUnwindSafe(|| claim_next(slot, after, worker))) {
        Ok(Ok(claimed)) => claimed,
        // (claimed again in a transaction of its own, where an error is logged)
        Ok(Err(_)) | Err(_) => None,
    }
}

/// Claims the next run in its own short transaction, marked on the board
/// before the claim commits (so that a cancel waiting for the row finds it).
/// A tenant at its cap is skipped; the place taken for the run's tenant
/// comes back with it.
fn claim_next(slot: usize, after: &mut String, worker: &str) -> Result<Option<Claimed>, String> {
    // (A synchronous commit: after a crash, a run that started must be found `running`.
    // An asynchronous one can be lost with the WAL buffers, and the run would start again.)
    let claimed = next_claim(after, worker)?;
    if let Some((job, _)) = &claimed {
        board::claim_run(slot, ids::key(&job.id));
    }
    Ok(claimed)
}

/// Runs a claimed run in a transaction of its own, which nothing else
/// shares: the run commits with its record, or its transaction rolls back
/// and its record is written in a new one (whose now() is the failure's, for
/// the retry's backoff). A one-off run may commit along the way
/// (`ctx.commit()`); what it committed stays whatever comes after. The
/// transaction that ends the run also claims the next one, with `claim`.
fn run_in_own_transaction(
    slot: usize,
    job: &Queued,
    claim: &mut dyn FnMut() -> Option<Claimed>,
) -> Option<Claimed> {
    let outcome = xact::in_transaction_deciding(AssertUnwindSafe(|| {
        if board::cancel_requested() {
            // cancelled between its claim and now: it never starts
            board::close_run(slot);
            mark_cancelled(&job.id);
            return ((After::Nothing, claim()), true);
        }
        report_activity(true);
        let ran = run::execute_queued(job, true);
        report_activity(false);
        // A cancel that came first wins, whatever the run's outcome.
        let cancelled = board::close_run(slot);
        match ran {
            Ok(rec) if rec.status == "completed" && !cancelled => {
                if let Err(e) = write_completed(job, &rec) {
                    error!("{e}");
                }
                ((After::Nothing, claim()), true)
            }
            Ok(rec) => ((After::Record(Box::new(rec), cancelled), None), false),
            // (a tenant suspended since the claim: its run waits, as the claim skips it now)
            Err(
                Error::Busy { .. }
                | Error::TenantBusy { .. }
                | Error::Held { .. }
                | Error::TenantInactive { .. },
            ) => {
                requeue(&job.id);
                ((After::Nothing, claim()), true)
            }
            Err(e) => ((After::Failed(e.message()), None), false),
        }
    }));
    let (after, next) = match outcome {
        Ok(done) => done,
        // (the board still names this run, or a claim rolled back with the transaction)
        Err(_) if board::close_run(slot) => (After::Cancelled, None),
        Err(c) => (After::Failed(c.message), None),
    };
    if next.is_some() || matches!(after, After::Nothing) {
        return next;
    }
    let written = xact::in_transaction(AssertUnwindSafe(|| {
        match after {
            After::Nothing => {}
            After::Cancelled => mark_cancelled_running(&job.id),
            After::Failed(message) => finish_failed(job, &message),
            After::Record(rec, cancelled) => write_unfinished(*rec, cancelled),
        }
        claim()
    }));
    written.unwrap_or_else(|_| {
        board::close_run(slot);
        None
    })
}

/// What is left to write once an executor's run transaction has ended.
enum After {
    Nothing,
    /// the run's transaction failed after jsrt.cancel had stopped the run
    Cancelled,
    /// it failed outside the script, with this message
    Failed(String),
    /// the record of a run that did not complete, and whether jsrt.cancel stopped it
    Record(Box<Record>, bool),
}

/// Records a run that did not complete, after its writes (since its last
/// commit) were rolled back.
fn write_unfinished(mut rec: Record, cancelled: bool) {
    let written = if cancelled {
        if rec.status != "cancelled" {
            rec.status = "cancelled".into();
            rec.error = Some(executions::CANCELLED.into());
        }
        executions::insert(&rec).map_err(|e| e.message())
    } else if rec.status == "cancelled" && shutting_down() && !committed(&rec) {
        // Stopped by a shutdown before it committed anything: it runs again after the restart.
        executions::requeue(&rec.id).map_err(|e| e.to_string())
    } else if rec.status == "cancelled" && !shutting_down() {
        executions::insert(&rec).map_err(|e| e.message())
    } else {
        if rec.status == "cancelled" {
            // A shutdown stopped it after a commit: it does not start again from
            // the beginning unasked; its retry policy decides.
            rec.status = "failed".into();
            rec.error = Some("the server shut down while the run was going on, after it had committed (ctx.commit)".into());
        }
        executions::insert(&rec)
            .map_err(|e| e.message())
            .and_then(|_| executions::retry_or_dead_letter(&rec.id).map_err(|e| e.to_string()))
    };
    if let Err(e) = written {
        log!("jsrt executor: recording the end of {} failed: {e}", rec.id);
    }
}

/// Whether the run committed along the way (`metrics.commits`).
fn committed(rec: &Record) -> bool {
    serde_json::from_str::<serde_json::Value>(&rec.metrics)
        .ok()
        .and_then(|m| m.get("commits").and_then(serde_json::Value::as_u64))
        .is_some_and(|n| n > 0)
}

/// Writes a completed run's record; a retried dead letter is cleared with it.
fn write_completed(job: &Queued, rec: &Record) -> Result<(), String> {
    let retried_dead_letter = job
        .event_json
        .as_deref()
        .is_some_and(|e| e.contains("dead_letter_id"));
    executions::insert(rec).map_err(|e| e.message())?;
    if retried_dead_letter {
        executions::clear_dead_letter(&rec.id).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn report_activity(running: bool) {
    // SAFETY: on the backend's main thread; Postgres copies the static C string, and a null one is allowed.
    unsafe {
        match running {
            true => pg_sys::pgstat_report_activity(
                pg_sys::BackendState::STATE_RUNNING,
                c"jsrt run".as_ptr(),
            ),
            false => {
                pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null())
            }
        }
    }
}

/// Runs one claimed run in the caller's transaction (jsrt.run_pending): in a
/// subtransaction, so that its writes commit with its record, or roll back
/// before its failure is recorded.
fn run_one(job: &Queued) {
    report_activity(true);
    // (The pipeline rolls back a failed run's writes; this catches errors outside the script.)
    let ran = crate::subxact::run(AssertUnwindSafe(|| run::execute_queued(job, false)));
    match ran {
        Ok(Ok(rec)) if rec.status == "completed" || rec.status == "cancelled" => {
            if let Err(e) = write_completed(job, &rec) {
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
        Ok(Err(
            Error::Busy { .. }
            | Error::TenantBusy { .. }
            | Error::Held { .. }
            | Error::TenantInactive { .. },
        )) => requeue(&job.id),
        Ok(Err(e)) => finish_failed(job, &e.message()),
        Err(c) => finish_failed(job, &c.message),
    }
    report_activity(false);
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

/// A run jsrt.cancel stopped after it started, whose own record is not written.
fn mark_cancelled_running(id: &str) {
    if let Err(e) = executions::mark_cancelled_running(id) {
        log!("jsrt executor: recording the cancel of {id} failed: {e}");
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
    if let Err(e) = crate::standby::refuse_runs() {
        e.raise()
    }
    // SAFETY: a read of this process's pid, set at its start.
    let worker = format!("session {}", unsafe { pg_sys::MyProcPid });
    let mut after = FIRST_TENANT.to_string();
    let mut done = 0;
    while done < max {
        let job = next_claim(&mut after, &worker)
            .unwrap_or_else(|e| error!("jsrt.run_pending: claiming runs failed: {e}"));
        let Some((job, _place)) = job else { break };
        run_one(&job);
        done += 1;
    }
    done
}

/// Claims the next run, going round the tenants from the one after `after`
/// (and once more from the first); None only when no tenant below its cap
/// has a due run. The run comes with its tenant's place under the cap.
fn next_claim(
    after: &mut String,
    worker: &str,
) -> Result<Option<(Queued, Option<quota::Slot>)>, String> {
    let admit = |tenant: &str, over: Option<i32>| match gucs::tenant_run_cap(over) {
        None => Some(None),
        Some(cap) => quota::enter(quota::tenant_key(ids::key(tenant)), cap)
            .ok()
            .map(Some),
    };
    loop {
        let claimed = executions::claim(after, worker, admit).map_err(|e| e.to_string())?;
        match claimed {
            Some((mut job, place)) => {
                *after = job.tenant_id.clone();
                job.tenant_counted = place.is_some();
                return Ok(Some((job, place)));
            }
            None if after != FIRST_TENANT => *after = FIRST_TENANT.to_string(),
            None => return Ok(None),
        }
    }
}
