use pgrx::prelude::*;

use crate::cron;
use crate::error::{Error, OrRaise};
use crate::shmem::board;

/// Checks a scheduled script's cron expression and time zone; the error names the field.
#[pg_extern(name = "_check_cron", stable)]
fn check_cron(expr: &str, timezone: &str) {
    crate::version::ensure();
    cron::parse(expr, crate::gucs::cron_seconds())
        .map_err(|e| Error::Invalid(format!("{e} (field \"cron_expression\")")))
        .and_then(|_| {
            cron::zone(timezone).map_err(|e| Error::Invalid(format!("{e} (field \"timezone\")")))
        })
        .or_raise();
}

/// Whether `name` is a time zone of the IANA database the scheduler uses.
#[pg_extern(name = "_timezone_known", immutable, parallel_safe)]
fn timezone_known(name: &str) -> bool {
    crate::version::ensure();
    cron::zone(name).is_ok()
}

/// The first time after `after` that `expr` is due in `timezone`.
#[pg_extern(name = "_cron_next", stable, parallel_safe)]
pub fn cron_next(
    expr: &str,
    timezone: &str,
    after: TimestampWithTimeZone,
) -> Option<TimestampWithTimeZone> {
    crate::version::ensure();
    let schedule = cron::parse(expr, true).map_err(Error::Invalid).or_raise();
    let tz = cron::zone(timezone).map_err(Error::Invalid).or_raise();
    // Postgres counts microseconds from 2000-01-01.
    const EPOCH_US: i64 = 946_684_800_000_000;
    let us = i64::from(after) + EPOCH_US;
    let after = chrono::DateTime::from_timestamp_micros(us)?;
    let next = schedule.next_after(tz, after)?;
    TimestampWithTimeZone::try_from(next.timestamp_micros() - EPOCH_US).ok()
}

/// Wakes the scheduler when the current transaction commits: a schedule changed.
#[pg_extern(name = "_wake_scheduler")]
pub fn wake_scheduler() {
    crate::version::ensure();
    board::wake_scheduler_at_commit();
}
