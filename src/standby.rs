//! A standby (a server in recovery, as a streaming replica is) runs no
//! scripts. Its workers wait for promotion (they are registered to start
//! when recovery ends), and a run asked of it in a session is refused with
//! 25006 before anything is resolved: every run writes (its history, the
//! transaction id pgrx's SPI takes), and a standby can do neither.

use crate::error::Error;

/// Whether this server is in recovery: a standby not (yet) promoted.
pub fn in_recovery() -> bool {
    // SAFETY: a plain call on the backend's main thread, attached to shared memory; once
    // recovery has ended it reads a backend-local flag.
    unsafe { pgrx::pg_sys::RecoveryInProgress() }
}

/// Refuses a run on a standby, with a clear 25006 error.
pub fn refuse_runs() -> Result<(), Error> {
    if in_recovery() {
        return Err(Error::Standby);
    }
    Ok(())
}
