//! Top-level transactions of the workers: one per unit of work, and the
//! in-place commit behind `ctx.commit()` (what COMMIT does in a procedure).

use pgrx::prelude::*;
use pgrx::PgTryBuilder;

use crate::subxact::Caught;

/// Runs `f` in a transaction of its own: committed, or rolled back on an ERROR.
pub fn in_transaction<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> Result<R, Caught> {
    in_transaction_deciding(|| (f(), true))
}

/// Like `in_transaction`, but `f` says whether to commit: a false rolls its
/// work back and still returns its value.
pub fn in_transaction_deciding<R>(
    f: impl FnOnce() -> (R, bool) + std::panic::UnwindSafe,
) -> Result<R, Caught> {
    // SAFETY: called from a worker's main loop between transactions, so one may start; it ends below.
    unsafe { start() };
    let out = PgTryBuilder::new(|| Ok(f()))
        .catch_others(|e| Err(crate::subxact::describe(e)))
        .execute();
    // SAFETY: ends the transaction begun above: committed with its snapshot popped, or aborted
    // (after the ERROR was caught, or as `f` asked).
    unsafe {
        match out {
            Ok((r, true)) => {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
                Ok(r)
            }
            Ok((r, false)) => {
                pg_sys::AbortCurrentTransaction();
                Ok(r)
            }
            Err(c) => {
                pg_sys::AbortCurrentTransaction();
                pg_sys::FlushErrorState();
                Err(c)
            }
        }
    }
}

/// Starts a transaction with a snapshot, as `in_transaction` expects to find one.
unsafe fn start() {
    // SAFETY: the caller is between transactions on the main thread.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
}

/// Commits the transaction `in_transaction` opened, and goes on in a new one.
/// The caller holds no subtransaction, SPI connection or GUC nest level.
/// A failed commit is rolled back; the new transaction starts either way.
pub fn commit_and_continue() -> Result<(), Caught> {
    let committed = PgTryBuilder::new(|| {
        // SAFETY: the transaction is in_transaction's, with its one active snapshot, on the main thread.
        unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        }
        Ok(())
    })
    .catch_others(|e| Err(crate::subxact::describe(e)))
    .execute();
    // SAFETY: the commit either ended the transaction or failed inside it; either way one is started
    // again (with a snapshot) for the rest of the unit and for in_transaction to end.
    unsafe {
        if committed.is_err() {
            pg_sys::AbortCurrentTransaction();
            pg_sys::FlushErrorState();
        }
        start();
    }
    committed
}
