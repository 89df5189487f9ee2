//! Background workers. They need shared_preload_libraries = 'jsruntime'.
//! Every one asks for SPI (`enable_spi_access`), which registers it to start
//! when recovery ends (BgWorkerStart_RecoveryFinished): none runs on a
//! standby, and a promoted standby starts them all at promotion.
pub mod executor;
pub mod http;
pub mod recorder;
pub mod scheduler;

use pgrx::prelude::*;

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

/// Whether `jsrt.database`'s catalog is this library's version (read in a
/// transaction of its own). Between a package upgrade and ALTER EXTENSION
/// jsruntime UPDATE it is not: the worker waits, and says so once (`said`).
/// Without the extension it goes on, and its own SQL reports what fails.
pub fn schema_ready(worker: &str, said: &mut bool) -> bool {
    use crate::version::{self, Catalog};
    if version::matched() {
        return true;
    }
    match in_transaction(version::catalog) {
        Ok(Catalog::Current) => {
            if *said {
                log!(
                    "{worker}: the extension is at {} now: starting",
                    version::LIBRARY
                );
                *said = false;
            }
            true
        }
        Ok(Catalog::Missing) => true,
        Ok(Catalog::Other(installed)) => {
            if !*said {
                log!(
                    "{worker}: waiting: {}",
                    crate::error::Error::Outdated { installed }.message()
                );
                *said = true;
            }
            false
        }
        Err(c) => {
            if !*said {
                log!("{worker}: waiting: {}", c.message);
                *said = true;
            }
            false
        }
    }
}

/// SIGTERM arrived. (pgrx's sigterm_received() forgets it once asked.)
pub fn shutting_down() -> bool {
    // SAFETY: a volatile read of a sig_atomic_t flag that the SIGTERM handler sets.
    unsafe { std::ptr::read_volatile(&raw const pg_sys::ShutdownRequestPending) != 0 }
}

pub use crate::xact::in_transaction;
