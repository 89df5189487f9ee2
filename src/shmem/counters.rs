//! The counters behind `/metrics`, in shared memory: every backend adds a
//! finished run, the HTTP front worker its responses and reads them all. They
//! count since the server started; retention never touches them.

use std::cell::{Cell, RefCell};

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

/// Runs this backend counted and has not yet added to shared memory.
struct Pending {
    calls: usize,
    runs: [[u64; STATUSES.len()]; TRIGGERS.len()],
    buckets: [[u64; NBUCKETS]; TRIGGERS.len()],
    micros_sum: [u64; TRIGGERS.len()],
    /// by script key; the names are copied once per script and batch
    scripts: Vec<(u128, ScriptSeries)>,
}

impl Pending {
    /// Nothing counted (a const, for the const thread-local).
    const NONE: Pending = Pending {
        calls: 0,
        runs: [[0; STATUSES.len()]; TRIGGERS.len()],
        buckets: [[0; NBUCKETS]; TRIGGERS.len()],
        micros_sum: [0; TRIGGERS.len()],
        scripts: Vec::new(),
    };
}

impl Default for Pending {
    fn default() -> Self {
        Pending::NONE
    }
}

/// Runs counted here before one lock adds them: a lock per typed function
/// call (per row) is a large part of such a call.
const BATCH: usize = 256;

thread_local! {
    static PENDING: RefCell<Pending> = const { RefCell::new(Pending::NONE) };
    static XACT_HOOKED: Cell<bool> = const { Cell::new(false) };
}

/// A run ended, and took `seconds` (None: it was not timed, see
/// `jsrt.track_typed_call_timing`). Without preload there is nowhere to count
/// it. It is added to shared memory with others, at the latest when the
/// transaction ends.
pub fn run_finished(
    trigger: &str,
    status: &str,
    seconds: Option<f64>,
    (key, tenant, script): (u128, &str, &str),
) {
    let (Some(t), Some(st)) = (
        metrics::trigger_index(trigger),
        metrics::status_index(status),
    ) else {
        return;
    };
    if !crate::preloaded() {
        return;
    }
    if !XACT_HOOKED.replace(true) {
        // SAFETY: once per process (XACT_HOOKED), on the main thread; the callback is a plain fn.
        unsafe { pg_sys::RegisterXactCallback(Some(at_transaction_end), std::ptr::null_mut()) };
    }
    let full = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.calls += 1;
        p.runs[t][st] += 1;
        if let Some(seconds) = seconds {
            p.buckets[t][metrics::bucket_index(seconds)] += 1;
            p.micros_sum[t] += (seconds * 1e6) as u64;
        }
        // Newest first: a statement's rows run the same script.
        match p.scripts.iter_mut().rev().find(|(k, _)| *k == key) {
            Some((_, s)) => s.runs[st] += 1,
            None => {
                let mut runs = [0; STATUSES.len()];
                runs[st] = 1;
                let series = ScriptSeries {
                    tenant: fixed::<64>(tenant),
                    script: fixed::<128>(script),
                    runs,
                };
                p.scripts.push((key, series));
            }
        }
        p.calls >= BATCH
    });
    if full {
        flush();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT
            | XACT_EVENT_PARALLEL_COMMIT
            | XACT_EVENT_ABORT
            | XACT_EVENT_PARALLEL_ABORT
    ) {
        flush();
    }
}

/// Adds what this backend counted to shared memory.
fn flush() {
    let p = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if p.calls == 0 {
        return;
    }
    let per_script = crate::gucs::metrics_per_script();
    let mut c = COUNTERS.exclusive();
    for t in 0..TRIGGERS.len() {
        add(&mut c.runs[t], &p.runs[t]);
        add(&mut c.buckets[t], &p.buckets[t]);
    }
    add(&mut c.micros_sum, &p.micros_sum);
    if !per_script {
        return;
    }
    for (_, series) in p.scripts {
        let n = c.nscripts;
        match c.scripts[..n]
            .iter()
            .position(|s| s.tenant == series.tenant && s.script == series.script)
        {
            Some(i) => add(&mut c.scripts[i].runs, &series.runs),
            None if n < MAX_SCRIPTS => {
                c.scripts[n] = series;
                c.nscripts += 1;
            }
            None => add(&mut c.other_scripts, &series.runs),
        }
    }
}

/// Adds `from` to `into`, element by element.
fn add(into: &mut [u64], from: &[u64]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
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
