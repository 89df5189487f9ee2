//! Runs going on now, in shared memory, for `jsrt.running()`: which run,
//! its progress (`ctx.progress`) and its last log lines. A run's own
//! transaction is not committed while it goes on, so this cannot be a table.
//! A slot belongs to the backend running the run; one whose backend died is
//! skipped by readers and taken again by the next run.

use std::cell::RefCell;

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

use super::{fixed, unfixed};

const SLOTS: usize = 256;
const LOG_LINES: usize = 5;
const LINE_BYTES: usize = 160;
const MESSAGE_BYTES: usize = 200;

#[derive(Copy, Clone)]
struct Slot {
    /// the backend running it; 0: free
    pid: i32,
    execution: u128,
    tenant: u128,
    script: [u8; 128],
    trigger: [u8; 8],
    started_at: i64,
    progress: Option<(f64, Option<f64>)>,
    message: [u8; MESSAGE_BYTES],
    logs: [[u8; LINE_BYTES]; LOG_LINES],
    /// log lines written in all (the last LOG_LINES are kept)
    lines: usize,
}

const FREE: Slot = Slot {
    pid: 0,
    execution: 0,
    tenant: 0,
    script: [0; 128],
    trigger: [0; 8],
    started_at: 0,
    progress: None,
    message: [0; MESSAGE_BYTES],
    logs: [[0; LINE_BYTES]; LOG_LINES],
    lines: 0,
};

#[derive(Copy, Clone)]
pub struct Table([Slot; SLOTS]);

impl Default for Table {
    fn default() -> Self {
        Table([FREE; SLOTS])
    }
}

// SAFETY: plain Copy numbers and byte arrays, no pointers: valid in every backend; used only under the lock.
unsafe impl PGRXSharedMemory for Table {}

// SAFETY: the name is used by no other shared-memory area.
static LIVE: PgLwLock<Table> = unsafe { PgLwLock::new(c"jsrt_live") };

thread_local! {
    /// This backend's slots, innermost run last (a script's SQL may run another script).
    static MINE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

pub fn init() {
    pg_shmem_init!(LIVE);
}

/// What `jsrt.running()` shows of one run.
pub struct LiveRun {
    pub execution: u128,
    pub script: String,
    pub trigger: String,
    pub started_at: i64,
    pub done: Option<f64>,
    pub total: Option<f64>,
    pub message: Option<String>,
    pub logs: Vec<String>,
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// A run starts in this backend. Without preload, or with every slot
/// taken, it goes unseen (and runs all the same).
pub fn start(execution: u128, tenant: u128, script: &str, trigger: &str, started_at: i64) {
    if !crate::preloaded() {
        return;
    }
    // SAFETY: a read of this backend's pid.
    let me = unsafe { pg_sys::MyProcPid };
    let mut t = LIVE.exclusive();
    // A free slot (or one this backend left behind); only failing that, one
    // whose backend died: that costs a syscall per slot.
    let free = MINE
        .with(|m| {
            let mine = m.borrow();
            t.0.iter()
                .enumerate()
                .position(|(i, s)| s.pid == 0 || (s.pid == me && !mine.contains(&i)))
        })
        .or_else(|| t.0.iter().position(|s| s.pid != me && !alive(s.pid)));
    if let Some(i) = free {
        // Field by field: the slot's log and message buffers only need their first byte cleared,
        // and copying a whole slot per run is a measurable part of a typed function call.
        let s = &mut t.0[i];
        s.pid = me;
        s.execution = execution;
        s.tenant = tenant;
        s.script = fixed(script);
        s.trigger = fixed(trigger);
        s.started_at = started_at;
        s.progress = None;
        s.message[0] = 0;
        for l in &mut s.logs {
            l[0] = 0;
        }
        s.lines = 0;
        MINE.with(|m| m.borrow_mut().push(i));
    } else {
        MINE.with(|m| m.borrow_mut().push(usize::MAX));
    }
}

/// The innermost run of this backend ended.
pub fn end() {
    let Some(i) = MINE.with(|m| m.borrow_mut().pop()) else {
        return;
    };
    if i < SLOTS {
        LIVE.exclusive().0[i].pid = 0;
    }
}

fn with_mine(f: impl FnOnce(&mut Slot)) {
    let Some(i) = MINE
        .with(|m| m.borrow().last().copied())
        .filter(|i| *i < SLOTS)
    else {
        return;
    };
    f(&mut LIVE.exclusive().0[i]);
}

pub fn progress(done: f64, total: Option<f64>, message: Option<&str>) {
    with_mine(|s| {
        s.progress = Some((done, total));
        if let Some(m) = message {
            s.message = fixed(m);
        }
    });
}

pub fn log(level: &str, line: &str) {
    with_mine(|s| {
        s.logs[s.lines % LOG_LINES] = fixed(&format!("[{level}] {line}"));
        s.lines += 1;
    });
}

/// The runs of `tenant` going on now, oldest first.
pub fn list(tenant: u128) -> Vec<LiveRun> {
    if !crate::preloaded() {
        return Vec::new();
    }
    let slots: Vec<Slot> = LIVE
        .share()
        .0
        .iter()
        .filter(|s| s.pid != 0 && s.tenant == tenant)
        .copied()
        .collect();
    let mut out: Vec<LiveRun> = slots
        .iter()
        .filter(|s| alive(s.pid))
        .map(|s| {
            let kept = s.lines.min(LOG_LINES);
            LiveRun {
                execution: s.execution,
                script: unfixed(&s.script),
                trigger: unfixed(&s.trigger),
                started_at: s.started_at,
                done: s.progress.map(|p| p.0),
                total: s.progress.and_then(|p| p.1),
                message: Some(unfixed(&s.message)).filter(|m| !m.is_empty()),
                logs: (s.lines - kept..s.lines)
                    .map(|n| unfixed(&s.logs[n % LOG_LINES]))
                    .collect(),
            }
        })
        .collect();
    out.sort_by_key(|r| r.started_at);
    out
}
