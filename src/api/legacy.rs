//! Symbols of 0.1.0's C functions that 0.2.0 no longer has. Between a package
//! upgrade and ALTER EXTENSION jsruntime UPDATE the catalog still declares
//! them: a call gets the version error (version.rs) instead of Postgres's
//! "could not find function". The update drops them.

use pgrx::pg_guard;
use pgrx::pg_sys::{self, Datum};

#[no_mangle]
pub extern "C" fn pg_finfo_invalidate_script_cache_wrapper() -> &'static pg_sys::Pg_finfo_record {
    &super::V1
}

/// 0.1.0's jsrt._invalidate_script_cache(oid), called by its scripts and API keys triggers.
#[no_mangle]
#[pg_guard]
pub extern "C-unwind" fn invalidate_script_cache_wrapper(
    _fcinfo: pg_sys::FunctionCallInfo,
) -> Datum {
    crate::version::ensure();
    Datum::from(0)
}
