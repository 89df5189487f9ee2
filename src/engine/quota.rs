//! API calls per script per clock minute (resource_limits.max_api_calls_per_minute),
//! counted across all backends in shared memory when the library is
//! preloaded, and per backend otherwise.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

const BUCKETS: usize = 2048;
/// Slots probed for a script before the oldest of them is taken over.
const PROBE: usize = 16;

#[derive(Copy, Clone, Default)]
struct Bucket {
    script: u128,
    minute: i64,
    count: u64,
}

#[derive(Copy, Clone)]
pub struct Buckets([Bucket; BUCKETS]);

impl Default for Buckets {
    fn default() -> Self {
        Buckets([Bucket::default(); BUCKETS])
    }
}

unsafe impl PGRXSharedMemory for Buckets {}

static SHARED: PgLwLock<Buckets> = unsafe { PgLwLock::new(c"jsrt_api_quota") };
static PRELOADED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static LOCAL: RefCell<HashMap<u128, (i64, u64)>> = RefCell::new(HashMap::new());
}

/// Called from _PG_init while preloading.
pub fn init() {
    pg_shmem_init!(SHARED);
    PRELOADED.store(true, Ordering::Relaxed);
}

/// Counts one call of `script` in `minute`; Err when that would pass `limit`.
pub fn take(script: u128, minute: i64, limit: u64) -> Result<(), ()> {
    if PRELOADED.load(Ordering::Relaxed) {
        let mut all = SHARED.exclusive();
        let slots = &mut all.0;
        let start = (script as usize ^ (script >> 64) as usize) % BUCKETS;
        let mut pick = start;
        for i in 0..PROBE {
            let n = (start + i) % BUCKETS;
            if slots[n].script == script {
                pick = n;
                break;
            }
            // A slot of an earlier minute is free to take.
            if slots[n].minute < slots[pick].minute {
                pick = n;
            }
        }
        let b = &mut slots[pick];
        if b.script != script || b.minute != minute {
            *b = Bucket { script, minute, count: 0 };
        }
        count(&mut b.count, limit)
    } else {
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if l.len() > BUCKETS {
                l.retain(|_, (m, _)| *m == minute);
            }
            let e = l.entry(script).or_insert((minute, 0));
            if e.0 != minute {
                *e = (minute, 0);
            }
            count(&mut e.1, limit)
        })
    }
}

fn count(n: &mut u64, limit: u64) -> Result<(), ()> {
    if *n >= limit {
        return Err(());
    }
    *n += 1;
    Ok(())
}
