use std::time::Duration;

use pgrx::prelude::*;

/// Waits until the recorder worker has written every queued failure record.
/// True when it did within timeout_ms.
#[pg_extern]
fn flush_history(timeout_ms: default!(i32, 5000)) -> bool {
    crate::version::ensure();
    crate::shmem::failures::flush(Duration::from_millis(timeout_ms.max(0) as u64))
}
