//! The time a run starts and ends, read per typed call (per row): the
//! monotonic clock costs about 30 ns a read on a virtual machine, the CPU's
//! time-stamp counter a third of that. `now()` reads the counter and turns it
//! into an `Instant` at a rate measured against the monotonic clock, which it
//! reads again (and re-anchors to) at least every `ANCHOR_NS`: the two never
//! drift apart by more than the rate's error over that span (microseconds).
//! Where the kernel does not keep time by the counter itself (another
//! clocksource: the counter may then differ between CPUs) and on other
//! architectures, `now()` is `Instant::now()`.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long a reading of the counter may go without the monotonic clock.
const ANCHOR_NS: f64 = 100e6;
/// The shortest span a rate is measured over.
const MEASURE_NS: f64 = 10e6;

#[derive(Clone, Copy)]
enum State {
    /// not known yet whether the counter is usable
    Unknown,
    /// the monotonic clock only
    Monotonic,
    /// the counter, with the last reading of both and the rate (ns per tick) once measured
    Counter {
        at: Instant,
        ticks: u64,
        rate: Option<f64>,
    },
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State::Unknown) };
}

/// The time now.
pub fn now() -> Instant {
    STATE.with(|s| {
        let (state, at) = step(s.get(), counter());
        s.set(state);
        at
    })
}

/// One reading: `ticks` the counter's value (None where it is not read).
fn step(state: State, ticks: Option<u64>) -> (State, Instant) {
    let anchor = |rate| {
        let at = Instant::now();
        match ticks {
            Some(ticks) => (State::Counter { at, ticks, rate }, at),
            None => (State::Monotonic, at),
        }
    };
    match (state, ticks) {
        (State::Unknown, _) if counter_keeps_time() => anchor(None),
        (State::Unknown | State::Monotonic, _) | (_, None) => (State::Monotonic, Instant::now()),
        (
            State::Counter {
                at,
                ticks: from,
                rate,
            },
            Some(t),
        ) => {
            let Some(elapsed) = t.checked_sub(from) else {
                // The counter went back (another CPU's): measure again.
                return anchor(None);
            };
            match rate {
                Some(rate) if (elapsed as f64) * rate < ANCHOR_NS => (
                    state,
                    at + Duration::from_nanos((elapsed as f64 * rate) as u64),
                ),
                _ => {
                    let (next, now) = anchor(rate);
                    let ns = now.duration_since(at).as_nanos() as f64;
                    let measured = (ns >= MEASURE_NS && elapsed > 0).then(|| ns / elapsed as f64);
                    match next {
                        State::Counter { at, ticks, .. } => (
                            State::Counter {
                                at,
                                ticks,
                                rate: measured.or(rate),
                            },
                            now,
                        ),
                        other => (other, now),
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn counter() -> Option<u64> {
    // SAFETY: RDTSC reads a counter; it has no other effect.
    Some(unsafe { core::arch::x86_64::_rdtsc() })
}

#[cfg(not(target_arch = "x86_64"))]
fn counter() -> Option<u64> {
    None
}

/// Whether the kernel keeps time by the counter: it then found it constant
/// and the same on every CPU.
fn counter_keeps_time() -> bool {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .is_ok_and(|s| s.trim() == "tsc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_monotonic_clock() {
        // Over 300 ms of readings (past a measurement and several anchors),
        // every reading lies between two of the monotonic clock's, within 1 ms.
        let start = Instant::now();
        let mut last = now();
        while start.elapsed() < Duration::from_millis(300) {
            let before = Instant::now();
            let t = now();
            let after = Instant::now();
            assert!(t + Duration::from_millis(1) >= before, "{t:?} behind {before:?}");
            assert!(t <= after + Duration::from_millis(1), "{t:?} ahead of {after:?}");
            assert!(t + Duration::from_millis(1) >= last, "went back: {t:?} after {last:?}");
            last = t;
        }
    }

    #[test]
    fn a_counter_that_goes_back_is_measured_again() {
        let at = Instant::now();
        let state = State::Counter {
            at,
            ticks: 1_000,
            rate: Some(1.0),
        };
        let (next, t) = step(state, Some(10));
        assert!(t >= at);
        assert!(matches!(next, State::Counter { ticks: 10, rate: None, .. }));
    }

    #[test]
    fn without_a_counter_it_is_the_monotonic_clock() {
        let (next, _) = step(State::Unknown, None);
        assert!(matches!(next, State::Monotonic));
        let (next, _) = step(State::Monotonic, Some(5));
        assert!(matches!(next, State::Monotonic));
    }
}
