//! Runs a closure in an internal subtransaction, so that a Postgres ERROR
//! inside it rolls back only its own work and comes back as a message.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

/// The error comes back as its SQLSTATE and message.
pub fn run<R>(
    f: impl FnOnce() -> R + std::panic::UnwindSafe,
) -> Result<R, (PgSqlErrorCode, String)> {
    unsafe {
        let cxt = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(cxt);
        let result = PgTryBuilder::new(|| Ok::<R, (PgSqlErrorCode, String)>(f()))
            .catch_others(|e| Err(describe(e)))
            .execute();
        if result.is_ok() {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(cxt);
        pg_sys::CurrentResourceOwner = owner;
        result
    }
}

fn describe(e: CaughtError) -> (PgSqlErrorCode, String) {
    match e {
        CaughtError::PostgresError(r)
        | CaughtError::ErrorReport(r)
        | CaughtError::RustPanic { ereport: r, .. } => {
            (r.sql_error_code(), r.message().to_string())
        }
    }
}
