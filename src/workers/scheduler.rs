//! The scheduler: one background worker that queues due cron runs
//! (jsrt.run_due) at their time, sleeping until the next one is due or a
//! schedule changes, and deletes expired history once a minute.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::{in_transaction, shutting_down};
use crate::shmem::board;

/// The longest nap: schedules that other backends add wake it sooner.
const MAX_NAP: Duration = Duration::from_secs(1);
const CLEANUP_EVERY: Duration = Duration::from_secs(60);
const CLEANUP_BATCH: i32 = 1000;

pub fn init() {
    BackgroundWorkerBuilder::new("jsrt scheduler")
        .set_type("jsrt scheduler")
        .set_function("jsrt_scheduler_main")
        .set_library("jsruntime")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_scheduler_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    super::connect();
    // SAFETY: a read of this worker's own latch pointer: its PGPROC's latch, in shared memory.
    board::register_scheduler(unsafe { pg_sys::MyLatch } as usize);
    let mut last_cleanup = Instant::now();
    let mut last_error = String::new();
    let mut said = false;
    loop {
        // (a new library before ALTER EXTENSION jsruntime UPDATE: the tables are the old version's)
        let ready =
            !crate::standby::in_recovery() && super::schema_ready("jsrt scheduler", &mut said);
        let nap = if !ready {
            MAX_NAP
        } else {
            let pass = in_transaction(|| {
                Spi::get_one::<i32>("SELECT jsrt.run_due()")?;
                Spi::get_one::<f64>(
                    "SELECT (extract(epoch FROM min(j.next_run_at) - clock_timestamp()) * 1000)::float8
                       FROM jsrt.script_scheduled_jobs j
                      WHERE EXISTS (SELECT 1 FROM jsrt.tenants t WHERE t.id = j.tenant_id AND t.state = 'active')",
                )
            });
            match pass
                .map_err(|c| c.message)
                .and_then(|r| r.map_err(|e| e.to_string()))
            {
                Ok(next_ms) => {
                    last_error.clear();
                    next_ms.map_or(MAX_NAP, |ms| {
                        Duration::from_micros((ms.max(0.0) * 1000.0) as u64).min(MAX_NAP)
                    })
                }
                Err(e) => {
                    if e != last_error {
                        log!("jsrt scheduler: a scheduling pass failed: {e}");
                        last_error = e;
                    }
                    MAX_NAP
                }
            }
        };
        if last_cleanup.elapsed() >= CLEANUP_EVERY && ready {
            last_cleanup = Instant::now();
            cleanup();
        }
        // WaitLatch counts whole milliseconds: round up, so as not to wake just before the time.
        let nap = Duration::from_millis(nap.as_micros().div_ceil(1000) as u64);
        if !BackgroundWorker::wait_latch(Some(nap)) || shutting_down() {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: the usual SIGHUP reload, on the worker's main thread between transactions.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
    }
    board::register_scheduler(0);
}

/// Deletes expired history in batches, each in its own transaction, so no
/// lock is held for long.
fn cleanup() {
    while !shutting_down() {
        let deleted = in_transaction(|| {
            Spi::get_one::<i32>(&format!("SELECT jsrt.cleanup_history({CLEANUP_BATCH})"))
        });
        match deleted {
            Ok(Ok(Some(n))) if n >= CLEANUP_BATCH => continue,
            Ok(Ok(_)) => return,
            Ok(Err(e)) => log!("jsrt scheduler: cleaning up history failed: {e}"),
            Err(c) => log!("jsrt scheduler: cleaning up history failed: {}", c.message),
        }
        return;
    }
}
