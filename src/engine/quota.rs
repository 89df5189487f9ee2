//! Counts per script, across all backends in shared memory when the library
//! is preloaded: API calls per clock minute
//! (resource_limits.max_api_calls_per_minute; per backend without preload),
//! and runs going on (resource_limits.max_concurrent_runs), per script and
//! per tenant (jsrt.max_concurrent_runs_per_tenant), in the same table.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

const BUCKETS: usize = 2048;
/// Slots probed near a script's home slot before the rest of the table.
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

// SAFETY: plain Copy integers, no pointers: valid in every backend; used only under SHARED's lock.
unsafe impl PGRXSharedMemory for Buckets {}

// SAFETY: the name is used by no other shared-memory area.
static SHARED: PgLwLock<Buckets> = unsafe { PgLwLock::new(c"jsrt_api_quota") };

thread_local! {
    static LOCAL: RefCell<HashMap<u128, (i64, u64)>> = RefCell::new(HashMap::new());
}

/// Called from _PG_init while preloading.
pub fn init() {
    pg_shmem_init!(SHARED);
    pg_shmem_init!(RUNNING);
}

thread_local! {
    /// Calls counted ahead in shared memory for this backend, and how many
    /// are left of them: (script, minute, left).
    static AHEAD: std::cell::Cell<(u128, i64, u64)> = const { std::cell::Cell::new((0, 0, 0)) };
}

/// At most this many calls are counted at once: a lock per call is a
/// measurable part of a small ctx.db statement.
const AHEAD_MAX: u64 = 32;

/// Counts one ctx call of `script` in `minute`; Err when that would pass
/// `limit`. With preload, calls are counted in shared memory a few at a
/// time, fewer the nearer the count is to `limit` (one within 8 of it), and
/// those not made are given back when the run ends (`give_back`): the count
/// never passes the limit, and is exact again once no run is going on.
pub fn take_call(script: u128, minute: i64, limit: u64) -> Result<(), QuotaError> {
    if !crate::preloaded() {
        return take(script, minute, limit);
    }
    let (s, m, left) = AHEAD.get();
    if s == script && m == minute && left > 0 {
        AHEAD.set((s, m, left - 1));
        return Ok(());
    }
    give_back();
    let extra = count_shared(script, minute, limit, true)?;
    AHEAD.set((script, minute, extra));
    Ok(())
}

/// Counts one of `key` in `minute` (an endpoint's request), exactly; Err
/// when that would pass `limit`.
pub fn take(key: u128, minute: i64, limit: u64) -> Result<(), QuotaError> {
    if crate::preloaded() {
        return count_shared(key, minute, limit, false).map(|_| ());
    }
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        if l.len() > BUCKETS {
            l.retain(|_, (m, _)| *m == minute);
        }
        let e = l.entry(key).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        count(&mut e.1, limit)
    })
}

/// Counts one in shared memory and, when `ahead`, as many more as the room
/// left allows (`take_call`); returns how many more.
fn count_shared(key: u128, minute: i64, limit: u64, ahead: bool) -> Result<u64, QuotaError> {
    let mut all = SHARED.exclusive();
    let Some(pick) = bucket(&all.0, key, minute) else {
        return Err(QuotaError::TableFull);
    };
    let b = &mut all.0[pick];
    if b.script != key || b.minute != minute {
        *b = Bucket {
            script: key,
            minute,
            count: 0,
        };
    }
    count(&mut b.count, limit)?;
    let extra = match ahead {
        true => (limit.saturating_sub(b.count) / 8).min(AHEAD_MAX - 1),
        false => 0,
    };
    b.count += extra;
    Ok(extra)
}

/// Gives back the calls counted ahead and not made.
pub fn give_back() {
    let (script, minute, left) = AHEAD.replace((0, 0, 0));
    if left == 0 {
        return;
    }
    let mut all = SHARED.exclusive();
    if let Some(pick) = bucket(&all.0, script, minute) {
        let b = &mut all.0[pick];
        if b.script == script && b.minute == minute {
            b.count = b.count.saturating_sub(left);
        }
    }
}

/// The counter of requests to endpoint `script`
/// (resource_limits.http_rate_limit_per_minute), kept in the same table as
/// its API calls: the id with its UUID version nibble set to 0xF, which no
/// script id has (gen_random_uuid makes version 4).
pub fn requests_key(script: u128) -> u128 {
    script | (0xF << 76)
}

/// The key of tenant `tenant`'s count of runs going on, kept in the same
/// table as its scripts' counts: the id with its UUID version nibble set to
/// 0xE, which no script id has (gen_random_uuid makes version 4).
pub fn tenant_key(tenant: u128) -> u128 {
    tenant | (0xE << 76)
}

/// The clock minute the counters count in, and the seconds left of it (1 to 60).
pub fn clock_minute() -> (i64, u64) {
    // The coarse clock (a few ms behind, read without a timer): asked per ctx call.
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the local `ts` only.
    let secs = if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        ts.tv_sec.max(0) as u64
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    ((secs / 60) as i64, 60 - secs % 60)
}

/// Why a call may not be counted.
#[derive(Debug, PartialEq)]
pub enum QuotaError {
    /// the script used its calls of this minute
    Limit,
    /// every slot holds another script's count of this minute
    TableFull,
}

/// The slot of `script`: its own, else a free one or one counting an
/// earlier minute. Another script's count of this minute is never taken
/// over (that would reset it). Near the home slot first, then anywhere.
fn bucket(slots: &[Bucket], script: u128, minute: i64) -> Option<usize> {
    let start = home(script, slots.len());
    let mut spare = None;
    for i in 0..slots.len() {
        let n = (start + i) % slots.len();
        if slots[n].script == script {
            return Some(n);
        }
        if spare.is_none() && (slots[n].script == 0 || slots[n].minute < minute) {
            spare = Some(n);
        }
        if i + 1 >= PROBE && spare.is_some() {
            break;
        }
    }
    spare
}

fn home(script: u128, len: usize) -> usize {
    (script as usize ^ (script >> 64) as usize) % len
}

fn count(n: &mut u64, limit: u64) -> Result<(), QuotaError> {
    if *n >= limit {
        return Err(QuotaError::Limit);
    }
    *n += 1;
    Ok(())
}

// ---------------------------------------------------------------- concurrent runs

const RUNNING_SLOTS: usize = 1024;

#[derive(Copy, Clone, Default)]
struct Running {
    script: u128,
    count: u32,
}

#[derive(Copy, Clone)]
pub struct RunningTable([Running; RUNNING_SLOTS]);

impl Default for RunningTable {
    fn default() -> Self {
        RunningTable([Running::default(); RUNNING_SLOTS])
    }
}

// SAFETY: plain Copy integers, no pointers: valid in every backend; used only under RUNNING's lock.
unsafe impl PGRXSharedMemory for RunningTable {}

// SAFETY: the name is used by no other shared-memory area.
static RUNNING: PgLwLock<RunningTable> = unsafe { PgLwLock::new(c"jsrt_running") };

thread_local! {
    /// Runs this backend counts in RUNNING, released if it exits mid-run.
    static HELD: RefCell<Vec<u128>> = const { RefCell::new(Vec::new()) };
    static EXIT_HOOKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A counted run of a script (resource_limits.max_concurrent_runs), across
/// executors and synchronous callers; dropping it ends the count.
pub struct Slot(Option<u128>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(script) = self.0 {
            leave(script);
            HELD.with(|h| {
                let mut h = h.borrow_mut();
                if let Some(i) = h.iter().position(|s| *s == script) {
                    h.swap_remove(i);
                }
            });
        }
    }
}

/// Counts a run of `script` (a script id, or a tenant_key); Err when `limit`
/// runs of it are going already. Without preload there is nothing shared to
/// count in, and every run may start.
pub fn enter(script: u128, limit: u64) -> Result<Slot, ()> {
    if !crate::preloaded() {
        return Ok(Slot(None));
    }
    // A typed function's call site holds the place for its statement (`hold`):
    // its calls, and any run of the same script in this backend meanwhile
    // (runs never nest), take no second one.
    if held_for_statement(script) {
        return Ok(Slot(None));
    }
    if !EXIT_HOOKED.replace(true) {
        // SAFETY: once per process (EXIT_HOOKED), on the main thread; release_held only takes RUNNING's lock.
        unsafe { pg_sys::before_shmem_exit(Some(release_held), pg_sys::Datum::from(0)) };
    }
    let mut t = RUNNING.exclusive();
    let start = home(script, RUNNING_SLOTS);
    let mut free = None;
    for i in 0..PROBE {
        let n = (start + i) % RUNNING_SLOTS;
        let r = &mut t.0[n];
        if r.script == script && r.count > 0 {
            if u64::from(r.count) >= limit {
                return Err(());
            }
            r.count += 1;
            drop(t);
            HELD.with(|h| h.borrow_mut().push(script));
            return Ok(Slot(Some(script)));
        }
        if r.count == 0 && free.is_none() {
            free = Some(n);
        }
    }
    let Some(n) = free else {
        // Every probed slot is busy with other scripts: run uncounted rather than refuse.
        return Ok(Slot(None));
    };
    if limit == 0 {
        return Err(());
    }
    t.0[n] = Running { script, count: 1 };
    drop(t);
    HELD.with(|h| h.borrow_mut().push(script));
    Ok(Slot(Some(script)))
}

/// A place held by the call sites of a statement: shared by the call sites
/// of one script, given back when the last of them is dropped.
pub struct Hold {
    _slot: Rc<Slot>,
}

thread_local! {
    static HOLDS: RefCell<HashMap<u128, Weak<Slot>>> = RefCell::new(HashMap::new());
}

fn held_for_statement(key: u128) -> bool {
    HOLDS.with(|h| h.borrow().get(&key).is_some_and(|w| w.strong_count() > 0))
}

/// `enter` for a call site that keeps the place until it is dropped.
pub fn hold(key: u128, limit: u64) -> Result<Hold, ()> {
    if let Some(slot) = HOLDS.with(|h| h.borrow().get(&key).and_then(Weak::upgrade)) {
        return Ok(Hold { _slot: slot });
    }
    let slot = Rc::new(enter(key, limit)?);
    HOLDS.with(|h| {
        let mut h = h.borrow_mut();
        h.retain(|_, w| w.strong_count() > 0);
        h.insert(key, Rc::downgrade(&slot));
    });
    Ok(Hold { _slot: slot })
}

fn leave(script: u128) {
    let mut t = RUNNING.exclusive();
    let start = home(script, RUNNING_SLOTS);
    for i in 0..PROBE {
        let r = &mut t.0[(start + i) % RUNNING_SLOTS];
        if r.script == script && r.count > 0 {
            r.count -= 1;
            return;
        }
    }
}

/// A backend that exits during a run (pg_terminate_backend) gives its counts back.
#[pg_guard]
unsafe extern "C-unwind" fn release_held(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    let held = HELD.with(|h| std::mem::take(&mut *h.borrow_mut()));
    for script in held {
        leave(script);
    }
}

#[cfg(test)]
mod tests {
    use super::{bucket, home, requests_key, tenant_key, Bucket};

    #[test]
    fn tenant_counts_are_apart_from_script_and_request_counts() {
        let id = u128::from_be_bytes(
            *b"\x12\x34\x56\x78\x9a\xbc\x4d\xef\x81\x23\x45\x67\x89\xab\xcd\xef",
        );
        let k = tenant_key(id);
        assert_ne!(k, id);
        assert_ne!(k, requests_key(id));
        assert_eq!(k.to_be_bytes()[6], 0xed);
        assert_eq!(tenant_key(k), k);
    }

    #[test]
    fn request_counters_are_apart_from_api_call_counters() {
        let id = u128::from_be_bytes(
            *b"\x12\x34\x56\x78\x9a\xbc\x4d\xef\x81\x23\x45\x67\x89\xab\xcd\xef",
        );
        let k = requests_key(id);
        assert_ne!(k, id);
        assert_eq!(k.to_be_bytes()[6], 0xfd);
        assert_eq!(requests_key(k), k);
    }

    fn live(script: u128, minute: i64) -> Bucket {
        Bucket {
            script,
            minute,
            count: 1,
        }
    }

    #[test]
    fn another_scripts_count_of_this_minute_is_never_taken_over() {
        let mut slots = vec![live(0, 0); 64];
        for (i, s) in slots.iter_mut().enumerate() {
            *s = live(1000 + i as u128, 7);
        }
        // every slot counts another script this minute: none is given away
        assert_eq!(bucket(&slots, 5, 7), None);
        // a count of an earlier minute far from home is found and reused
        let far = (home(5, 64) + 40) % 64;
        slots[far] = live(999, 6);
        assert_eq!(bucket(&slots, 5, 7), Some(far));
        // the script's own slot is found wherever it is
        slots[far] = live(5, 7);
        assert_eq!(bucket(&slots, 5, 7), Some(far));
        // near home, a free slot wins
        let near = (home(6, 64) + 1) % 64;
        slots[near] = Bucket::default();
        assert_eq!(bucket(&slots, 6, 7), Some(near));
    }
}
