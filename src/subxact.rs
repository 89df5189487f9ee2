//! Runs a closure in an internal subtransaction, so that a Postgres ERROR
//! inside it rolls back only its own work and comes back as a value.

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

/// A Postgres error, caught.
#[derive(Debug, Clone)]
pub struct Caught {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub fn run<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> Result<R, Caught> {
    run_if(f, |_| true)
}

/// Like `run`, but also rolls back, keeping the result, when `keep` says so.
pub fn run_if<R>(
    f: impl FnOnce() -> R + std::panic::UnwindSafe,
    keep: impl FnOnce(&R) -> bool,
) -> Result<R, Caught> {
    // SAFETY: PL/pgSQL's exception-block pattern, on the main thread: an ERROR in `f` is caught before
    // the subtransaction ends, and the caller's memory context and resource owner are restored.
    unsafe {
        let cxt = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(cxt);
        let result = PgTryBuilder::new(|| Ok::<R, Caught>(f()))
            .catch_others(|e| Err(describe(e)))
            .execute();
        if matches!(&result, Ok(r) if keep(r)) {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(cxt);
        pg_sys::CurrentResourceOwner = owner;
        result
    }
}

pub fn describe(e: CaughtError) -> Caught {
    match e {
        CaughtError::PostgresError(r)
        | CaughtError::ErrorReport(r)
        | CaughtError::RustPanic { ereport: r, .. } => Caught {
            code: r.sql_error_code(),
            message: r.message().to_string(),
            detail: r.detail().map(str::to_string),
            hint: r.hint().map(str::to_string),
        },
    }
}

/// The five-character SQLSTATE of a code, such as "23505".
pub fn sqlstate(code: PgSqlErrorCode) -> String {
    let n = code as i32;
    (0..5)
        .map(|i| (((n >> (6 * i)) & 0x3F) as u8 + b'0') as char)
        .collect()
}
