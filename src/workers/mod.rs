//! Background workers. They need shared_preload_libraries = 'jsruntime'.
pub mod executor;
pub mod http;
pub mod recorder;
pub mod scheduler;

use pgrx::prelude::*;
use pgrx::PgTryBuilder;

use crate::subxact::Caught;

/// Connects a worker to `jsrt.database`, with the owner's search_path for
/// the whole session: workers run as a superuser, so no name they use may
/// resolve through a schema that others can write to (trust rule 1).
pub fn connect() {
    pgrx::bgworkers::BackgroundWorker::connect_worker_to_spi(Some(&crate::gucs::database()), None);
    // SAFETY: a plain GUC assignment on the worker's main thread; the value parses.
    unsafe {
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            crate::tenancy::OWNER_SEARCH_PATH.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SET,
            true,
            0,
            false,
        );
    }
}

/// SIGTERM arrived. (pgrx's sigterm_received() forgets it once asked.)
pub fn shutting_down() -> bool {
    // SAFETY: a volatile read of a sig_atomic_t flag that the SIGTERM handler sets.
    unsafe { std::ptr::read_volatile(&raw const pg_sys::ShutdownRequestPending) != 0 }
}

/// Runs `f` in a transaction of its own: committed, or rolled back on an ERROR.
pub fn in_transaction<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> Result<R, Caught> {
    // SAFETY: called from a worker's main loop between transactions, so one may start; it ends below.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let out = PgTryBuilder::new(|| Ok(f()))
        .catch_others(|e| Err(crate::subxact::describe(e)))
        .execute();
    // SAFETY: ends the transaction begun above: committed with its snapshot popped, or aborted after
    // the ERROR was caught.
    unsafe {
        match out {
            Ok(_) => {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            Err(_) => {
                pg_sys::AbortCurrentTransaction();
                pg_sys::FlushErrorState();
            }
        }
    }
    out
}
