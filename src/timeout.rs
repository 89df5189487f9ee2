//! Postgres's timeout framework (timeout.h, which pgrx's bindings leave
//! out): timers whose handlers run in the backend's SIGALRM handler.

use std::ffi::c_int;

/// PostgreSQL 15's TimeoutId values used here.
const STATEMENT_TIMEOUT: c_int = 3;
const USER_TIMEOUT: c_int = 12;

unsafe extern "C-unwind" {
    fn RegisterTimeout(id: c_int, handler: Option<unsafe extern "C-unwind" fn()>) -> c_int;
    #[link_name = "enable_timeout_after"]
    fn pg_enable_timeout_after(id: c_int, delay_ms: c_int);
    fn get_timeout_indicator(id: c_int, reset_indicator: bool) -> bool;
    fn get_timeout_active(id: c_int) -> bool;
}

/// A new timer calling `handler` (in signal context: it may only set flags).
pub fn register(handler: unsafe extern "C-unwind" fn()) -> c_int {
    // SAFETY: registers a handler in this backend's table of timeouts.
    unsafe { RegisterTimeout(USER_TIMEOUT, Some(handler)) }
}

pub fn enable_after(id: c_int, delay_ms: c_int) {
    // SAFETY: `id` came from `register`.
    unsafe { pg_enable_timeout_after(id, delay_ms.max(1)) }
}

/// Whether timer `id` is set (Postgres may have cleared every timer since).
pub fn active(id: c_int) -> bool {
    // SAFETY: a read of the timeout table.
    unsafe { get_timeout_active(id) }
}

/// Whether the current cancel came from statement_timeout: its indicator,
/// or, once Postgres has read and reset that (a cancel inside a run's SQL),
/// the timer no longer running.
pub fn statement_timed_out() -> bool {
    // SAFETY: reads of the timeout table.
    unsafe {
        get_timeout_indicator(STATEMENT_TIMEOUT, false)
            || (pgrx::pg_sys::StatementTimeout > 0 && !get_timeout_active(STATEMENT_TIMEOUT))
    }
}
