//! Reading Postgres nodes (expressions, lists) in place.

use pgrx::pg_sys;

/// The node `e` is, if it is of node type `tag`.
///
/// # Safety
/// `e` is null or a valid Node.
pub unsafe fn node_as<T>(e: *mut pg_sys::Node, tag: pg_sys::NodeTag) -> Option<*mut T> {
    // SAFETY: the caller's node, read for its tag only.
    (!e.is_null() && unsafe { (*e).type_ } == tag).then_some(e.cast())
}

/// The elements of a List of pointers.
///
/// # Safety
/// `list` is NIL or a valid List of pointers, unchanged while the slice lives.
pub unsafe fn elements<'a>(list: *mut pg_sys::List) -> &'a [pg_sys::ListCell] {
    if list.is_null() {
        return &[];
    }
    // SAFETY: the caller's list: `length` cells from `elements`.
    unsafe { std::slice::from_raw_parts((*list).elements, (*list).length as usize) }
}
