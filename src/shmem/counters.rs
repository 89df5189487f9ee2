//! The counters behind `/metrics`, in shared memory: every backend adds a
//! finished run, the HTTP front worker its responses and reads them all. They
//! count since the server started; retention never touches them.

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

use super::{fixed, unfixed};
use crate::metrics::{self, Snapshot, NBUCKETS, STATUSES, TRIGGERS};

/// Per-script series kept (jsrt.metrics_per_script); runs of others count as "other".
const MAX_SCRIPTS: usize = 256;
const MAX_CODE: usize = 600;

#[derive(Copy, Clone)]
struct ScriptSeries {
    tenant: [u8; 64],
    script: [u8; 128],
    runs: [u64; STATUSES.len()],
}

#[derive(Copy, Clone)]
pub struct Counters {
    runs: [[u64; STATUSES.len()]; TRIGGERS.len()],
    buckets: [[u64; NBUCKETS]; TRIGGERS.len()],
    micros_sum: [u64; TRIGGERS.len()],
    responses: [u64; MAX_CODE],
    scripts: [ScriptSeries; MAX_SCRIPTS],
    nscripts: usize,
    other_scripts: [u64; STATUSES.len()],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            runs: Default::default(),
            buckets: Default::default(),
            micros_sum: Default::default(),
            responses: [0; MAX_CODE],
            scripts: [ScriptSeries {
                tenant: [0; 64],
                script: [0; 128],
                runs: [0; STATUSES.len()],
            }; MAX_SCRIPTS],
            nscripts: 0,
            other_scripts: [0; STATUSES.len()],
        }
    }
}

// SAFETY: plain Copy integers and byte arrays, no pointers: valid in every backend; used only under the lock.
unsafe impl PGRXSharedMemory for Counters {}

// SAFETY: the name is used by no other shared-memory area.
static COUNTERS: PgLwLock<Counters> = unsafe { PgLwLock::new(c"jsrt_counters") };

pub fn init() {
    pg_shmem_init!(COUNTERS);
}

/// A run ended. Without preload there is nowhere to count it.
pub fn run_finished(trigger: &str, status: &str, seconds: f64, tenant: &str, script: &str) {
    let (Some(t), Some(st)) = (
        metrics::trigger_index(trigger),
        metrics::status_index(status),
    ) else {
        return;
    };
    if !crate::preloaded() {
        return;
    }
    let per_script = crate::gucs::metrics_per_script();
    let (tenant, script) = (fixed::<64>(tenant), fixed::<128>(script));
    let mut c = COUNTERS.exclusive();
    c.runs[t][st] += 1;
    c.buckets[t][metrics::bucket_index(seconds)] += 1;
    c.micros_sum[t] += (seconds * 1e6) as u64;
    if per_script {
        let n = c.nscripts;
        match c.scripts[..n]
            .iter()
            .position(|s| s.tenant == tenant && s.script == script)
        {
            Some(i) => c.scripts[i].runs[st] += 1,
            None if n < MAX_SCRIPTS => {
                c.scripts[n] = ScriptSeries {
                    tenant,
                    script,
                    runs: [0; STATUSES.len()],
                };
                c.scripts[n].runs[st] = 1;
                c.nscripts += 1;
            }
            None => c.other_scripts[st] += 1,
        }
    }
}

/// The front worker answered with `code`.
pub fn response_sent(code: u16) {
    if let Some(n) = COUNTERS.exclusive().responses.get_mut(usize::from(code)) {
        *n += 1;
    }
}

pub fn snapshot() -> Snapshot {
    let c = *COUNTERS.share();
    Snapshot {
        runs: c.runs,
        buckets: c.buckets,
        seconds_sum: c.micros_sum.map(|us| us as f64 / 1e6),
        responses: (0..MAX_CODE)
            .filter(|code| c.responses[*code] > 0)
            .map(|code| (code as u16, c.responses[code]))
            .collect(),
        scripts: c.scripts[..c.nscripts]
            .iter()
            .map(|s| (unfixed(&s.tenant), unfixed(&s.script), s.runs))
            .collect(),
        other_scripts: c.other_scripts,
    }
}
