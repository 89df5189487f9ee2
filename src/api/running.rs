//! `jsrt.running()`: the current tenant's runs going on now, whatever
//! started them, with their progress and last log lines (shmem/live.rs).

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// Runs of the session's tenant going on now in any backend, oldest first;
/// none without a tenant, as with the tables' row-level security.
#[pg_extern]
#[allow(clippy::type_complexity)] // pgrx reads the column names from this signature
fn running() -> TableIterator<
    'static,
    (
        name!(execution_id, pgrx::Uuid),
        name!(script, String),
        name!(trigger, String),
        name!(started_at, Option<TimestampWithTimeZone>),
        name!(progress_done, Option<f64>),
        name!(progress_total, Option<f64>),
        name!(message, Option<String>),
        name!(logs, Vec<String>),
    ),
> {
    crate::version::ensure();
    let rows = crate::tenancy::current()
        .map(|t| crate::shmem::live::list(u128::from_be_bytes(t)))
        .unwrap_or_default();
    TableIterator::new(rows.into_iter().map(|r| {
        (
            pgrx::Uuid::from_bytes(r.execution.to_be_bytes()),
            r.script,
            r.trigger,
            TimestampWithTimeZone::try_from(r.started_at).ok(),
            r.done,
            r.total,
            r.message,
            r.logs,
        )
    }))
}
