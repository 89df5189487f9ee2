//! A function's pg_proc row, read through the syscache.

use pgrx::pg_sys;

/// `f` of function `func`'s pg_proc row (the tuple, for its varlena
/// columns, and its fixed part), if there is one.
pub fn with_proc<R>(
    func: pg_sys::Oid,
    f: impl FnOnce(pg_sys::HeapTuple, &pg_sys::FormData_pg_proc) -> R,
) -> Option<R> {
    // SAFETY: a syscache lookup inside a transaction; `f` only reads the row, and it is released
    // after. Should `f` raise, the transaction's abort releases the reference.
    unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as _,
            pg_sys::Datum::from(func),
        );
        if tuple.is_null() {
            return None;
        }
        let out = f(
            tuple,
            &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_proc>(tuple),
        );
        pg_sys::ReleaseSysCache(tuple);
        Some(out)
    }
}
