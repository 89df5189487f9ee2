//! Runs a closure in an internal subtransaction, so that a Postgres ERROR
//! inside it rolls back only its own work and comes back as a value.
//!
//! Statements that change nothing (`run_shared`) share one subtransaction
//! until something else needs one: starting and ending a subtransaction is
//! most of a small statement's cost. A failure rolls the shared one back,
//! which loses nothing, since all it ran changed nothing. Any other
//! subtransaction (`run_if`), a commit (`end_shared`) or the end of the run
//! ends the shared one first.

use std::cell::Cell;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

/// A Postgres error, caught.
#[derive(Debug, Clone)]
pub struct Caught {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

pub fn run<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> Result<R, Caught> {
    run_if(f, |_| true)
}

/// An internal subtransaction that is open: its nesting level, and the
/// memory context and resource owner of the code that opened it.
#[derive(Clone, Copy)]
struct Opened {
    level: i32,
    cxt: pg_sys::MemoryContext,
    owner: pg_sys::ResourceOwner,
}

thread_local! {
    /// the shared subtransaction, while one is open
    static SHARED: Cell<Option<Opened>> = const { Cell::new(None) };
}

/// Opens an internal subtransaction; the caller's memory context stays current.
///
/// # Safety
/// On the main thread inside a transaction; `end` closes it.
unsafe fn begin() -> Opened {
    // SAFETY: the caller's.
    unsafe {
        let cxt = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(cxt);
        Opened {
            level: pg_sys::GetCurrentTransactionNestLevel(),
            cxt,
            owner,
        }
    }
}

/// Ends the innermost subtransaction, `opened`, keeping or rolling back its
/// work, and restores its opener's memory context and resource owner.
///
/// # Safety
/// `opened` is the innermost subtransaction, on the main thread.
unsafe fn end(opened: Opened, keep: bool) {
    // SAFETY: the caller's.
    unsafe {
        if keep {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(opened.cxt);
        pg_sys::CurrentResourceOwner = opened.owner;
    }
}

/// Runs `f`, which must change nothing a rollback would undo (no writes, no
/// settings, no locks beyond a read's), in the shared subtransaction,
/// opening it if none is open. An ERROR in `f` rolls it back and comes back
/// as a value, as with `run`. After a success, `keep_open` says whether the
/// subtransaction may stay open: false when `f` took a lock the transaction
/// did not hold, which a later failure's rollback would release.
pub fn run_shared<R>(
    f: impl FnOnce() -> R + std::panic::UnwindSafe,
    keep_open: impl FnOnce() -> bool,
) -> Result<R, Caught> {
    // SAFETY: as in run_if, on the main thread. The shared subtransaction is the innermost one whenever
    // it is used: anything that opens another ends it first, and a stale one (of a transaction that
    // ended in an error) is recognised by its level and forgotten.
    unsafe {
        let open = SHARED
            .get()
            .filter(|s| s.level == pg_sys::GetCurrentTransactionNestLevel());
        let shared = open.unwrap_or_else(|| {
            let s = begin();
            SHARED.set(Some(s));
            s
        });
        let result = PgTryBuilder::new(|| Ok::<R, Caught>(f()))
            .catch_others(|e| Err(describe(e)))
            .execute();
        if result.is_err() {
            SHARED.set(None);
            end(shared, false);
        } else if pg_sys::GetCurrentTransactionIdIfAny() != pg_sys::InvalidTransactionId
            || !keep_open()
        {
            // It wrote after all (a policy changed since the statement was planned to call a
            // volatile function, say), or it locked a table the transaction had not locked
            // yet: kept at once, so that no later failure can undo the write or let go of the
            // lock (a concurrent TRUNCATE would then change what the caller's snapshot sees).
            end_shared();
        }
        result
    }
}

/// Ends the shared subtransaction, if one is open, keeping what it ran.
/// While an error unwinds, it is only forgotten: the rollback that catches
/// the error ends it (`run_if`), or the transaction's abort does.
pub fn end_shared() {
    let Some(s) = SHARED.take() else {
        return;
    };
    // SAFETY: on the main thread; the shared subtransaction is the innermost one (its level says so).
    unsafe {
        if !std::thread::panicking() && pg_sys::GetCurrentTransactionNestLevel() == s.level {
            end(s, true);
        }
    }
}

/// Like `run`, but also rolls back, keeping the result, when `keep` says so.
pub fn run_if<R>(
    f: impl FnOnce() -> R + std::panic::UnwindSafe,
    keep: impl FnOnce(&R) -> bool,
) -> Result<R, Caught> {
    end_shared();
    // SAFETY: PL/pgSQL's exception-block pattern, on the main thread: an ERROR in `f` is caught before
    // the subtransaction ends, and the caller's memory context and resource owner are restored.
    unsafe {
        let opened = begin();
        let result = PgTryBuilder::new(|| Ok::<R, Caught>(f()))
            .catch_others(|e| Err(describe(e)))
            .execute();
        let keep = matches!(&result, Ok(r) if keep(r));
        if keep {
            end_shared();
        } else {
            SHARED.set(None);
        }
        // A shared subtransaction `f` opened and an error left open ends with ours.
        while pg_sys::GetCurrentTransactionNestLevel() > opened.level {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        end(opened, keep);
        result
    }
}

pub fn describe(e: CaughtError) -> Caught {
    match e {
        CaughtError::PostgresError(r)
        | CaughtError::ErrorReport(r)
        | CaughtError::RustPanic { ereport: r, .. } => Caught {
            code: r.sql_error_code(),
            message: r.message().to_string(),
            detail: r.detail().map(str::to_string),
            hint: r.hint().map(str::to_string),
        },
    }
}

/// The five-character SQLSTATE of a code, such as "23505".
pub fn sqlstate(code: PgSqlErrorCode) -> String {
    let n = code as i32;
    (0..5)
        .map(|i| (((n >> (6 * i)) & 0x3F) as u8 + b'0') as char)
        .collect()
}
