//! What script SQL may never reach, refused when it is reached (trust rule 3):
//! functions whose effects pass the run or the tenant (notify, advisory
//! locks, large objects, dblink, files, signals), SECURITY DEFINER functions
//! (they run as their owner), functions planted in a schema by a role other
//! than its owner, utility statements other than SET, RESET, SHOW and CALL,
//! and the calling session's temporary objects (trust rule 2).
//!
//! The checks sit where Postgres itself checks the right to call a function
//! or read a relation, so they hold however the object is reached: directly,
//! through SQL text run by another function (`query_to_xml`, `ts_stat`), in a
//! view, a trigger or a user function. They apply only while this backend is
//! inside script SQL (`tenancy::in_script_sql`).

use std::ffi::{c_int, c_void, CStr};

use pgrx::{ereport, pg_guard, pg_sys, PgSqlErrorCode as Code};

use crate::catalog::proc::with_proc;
use crate::tenancy;

static mut PREV_FMGR_HOOK: pg_sys::fmgr_hook_type = None;
static mut PREV_NEEDS_FMGR_HOOK: pg_sys::needs_fmgr_hook_type = None;
static mut PREV_OBJECT_ACCESS: pg_sys::object_access_hook_type = None;
static mut PREV_CHECK_PERMS: pg_sys::ExecutorCheckPerms_hook_type = None;
static mut PREV_UTILITY: pg_sys::ProcessUtility_hook_type = None;

/// Installs the hooks; once per process, from _PG_init.
pub fn install() {
    // SAFETY: _PG_init runs once per process, before any query, on the main thread.
    unsafe {
        PREV_FMGR_HOOK = pg_sys::fmgr_hook;
        pg_sys::fmgr_hook = Some(on_fmgr);
        PREV_NEEDS_FMGR_HOOK = pg_sys::needs_fmgr_hook;
        pg_sys::needs_fmgr_hook = Some(needs_fmgr);
        PREV_OBJECT_ACCESS = pg_sys::object_access_hook;
        pg_sys::object_access_hook = Some(on_object_access);
        PREV_CHECK_PERMS = pg_sys::ExecutorCheckPerms_hook;
        pg_sys::ExecutorCheckPerms_hook = Some(on_check_perms);
        PREV_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(on_utility);
    }
}

/// Loaded into a session that has run SQL already (no preload), the hooks
/// were not there when that SQL looked its functions up: a function state
/// PL/pgSQL keeps for the transaction (a simple expression, a cast) may call
/// a planted function directly, and a script's SQL may run it. Every kept
/// plan and expression is made again, now through `needs_fmgr`.
pub fn forget_unhooked_lookups() {
    // SAFETY: marks the saved plans and cached expressions invalid, as an invalidation
    // message would; those in use are replanned on their next use. No memory is freed.
    unsafe { pg_sys::ResetPlanCache() };
}

/// Why a script may not call a function, by its name and schema.
pub fn refusal(name: &str, in_catalog: bool) -> Option<&'static str> {
    const SIGNALS: &[&str] = &[
        "pg_cancel_backend",
        "pg_terminate_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_log_backend_memory_contexts",
        "pg_promote",
    ];
    const FILES: &[&str] = &[
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_ls_dir",
        "pg_current_logfile",
        "pg_file_write",
        "pg_file_sync",
        "pg_file_rename",
        "pg_file_unlink",
    ];
    if name.starts_with("dblink") {
        return Some("scripts reach other servers only through ctx.http");
    }
    if !in_catalog {
        return None;
    }
    if name.starts_with("pg_advisory") || name.starts_with("pg_try_advisory") {
        Some("advisory locks are shared by every tenant and can outlive the run")
    } else if name == "pg_notify" {
        Some("notifications reach every listener of the database")
    } else if name.starts_with("lo_") || name == "loread" || name == "lowrite" {
        Some("large objects are shared by every tenant")
    } else if SIGNALS.contains(&name) {
        Some("scripts do not signal the server or its backends")
    } else if FILES.contains(&name) || name.starts_with("pg_ls_") {
        Some("scripts do not read or write the server's files")
    } else if name == "pg_logical_emit_message" {
        Some("WAL messages reach every logical decoding consumer")
    } else {
        None
    }
}

/// Raises the error for a function scripts may not call, if `func` is one.
fn check_function(func: pg_sys::Oid) {
    let Some((name, namespace, definer, owner)) = with_proc(func, |_, form| {
        // SAFETY: the row's NUL-terminated name, copied while the row is held.
        let name = unsafe { CStr::from_ptr(form.proname.data.as_ptr()) };
        (
            name.to_string_lossy().into_owned(),
            form.pronamespace,
            form.prosecdef,
            form.proowner,
        )
    }) else {
        return;
    };
    let why = if definer {
        Some("a SECURITY DEFINER function runs as its owner, outside the script's role and tenant")
    } else {
        untrusted(namespace, owner).or_else(|| {
            refusal(
                &name,
                namespace == pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE),
            )
        })
    };
    if let Some(why) = why {
        ereport!(
            ERROR,
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("scripts cannot call {name}(): {why}")
        );
    }
}

/// Why a function in `namespace` owned by `owner` may not run in script SQL
/// wherever it is reached: temporary, or planted. None for pg_catalog's.
fn untrusted(namespace: pg_sys::Oid, owner: pg_sys::Oid) -> Option<&'static str> {
    if namespace == pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE) {
        return None;
    }
    // SAFETY: a namespace oid from pg_proc; a plain catalog read.
    if unsafe { pg_sys::isAnyTempNamespace(namespace) } {
        Some("temporary objects belong to the session that called the script, not to the script")
    } else if !vouched_for(owner, namespace) {
        Some("it belongs to neither a superuser nor the owner of its schema: a role that may create functions there could run its code in any tenant's script")
    } else {
        None
    }
}

/// Whether a function's owner is trusted with every tenant's script SQL: a
/// superuser, or the owner of the function's schema (who decides what goes
/// there). A function planted by another role that may create in a schema on
/// the scripts' search_path (an overload of `jsonb_build_object`, say) is not.
fn vouched_for(owner: pg_sys::Oid, namespace: pg_sys::Oid) -> bool {
    // SAFETY: catalog reads inside a transaction; the tuple is released before anything can raise.
    unsafe {
        if pg_sys::superuser_arg(owner) {
            return true;
        }
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::NAMESPACEOID as _,
            pg_sys::Datum::from(namespace),
        );
        if tuple.is_null() {
            return false;
        }
        let schema_owner =
            (*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_namespace>(tuple)).nspowner;
        pg_sys::ReleaseSysCache(tuple);
        pg_sys::has_privs_of_role(owner, schema_owner)
    }
}

/// Utility statements reached from script SQL (inside a function, or through
/// a rewrite rule): only SET, RESET, SHOW and CALL. The script's own
/// statements are checked when planned (engine/sql.rs); this catches the rest
/// (NOTIFY, LOCK, LISTEN, DDL ...).
#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn on_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    if tenancy::in_script_sql() {
        // SAFETY: Postgres hands the hook a valid planned utility statement.
        let stmt = unsafe { (*pstmt).utilityStmt };
        // SAFETY: a node; its tag is its first field.
        let tag = if stmt.is_null() {
            pg_sys::NodeTag::T_Invalid
        } else {
            unsafe { (*stmt).type_ }
        };
        if !matches!(
            tag,
            pg_sys::NodeTag::T_VariableSetStmt
                | pg_sys::NodeTag::T_VariableShowStmt
                | pg_sys::NodeTag::T_CallStmt
        ) {
            // SAFETY: a node of the statement being run; the name is a static string.
            let name = unsafe {
                CStr::from_ptr(pg_sys::GetCommandTagName(pg_sys::CreateCommandTag(stmt)))
            }
            .to_string_lossy();
            ereport!(
                ERROR,
                Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("scripts may not run {name}, also not inside a function or a rule")
            );
        }
    }
    // SAFETY: the hook that was installed before ours, or Postgres's own, with what we were given.
    unsafe {
        match PREV_UTILITY {
            Some(prev) => prev(pstmt, query, read_only_tree, context, params, env, dest, qc),
            None => pg_sys::standard_ProcessUtility(
                pstmt,
                query,
                read_only_tree,
                context,
                params,
                env,
                dest,
                qc,
            ),
        }
    }
}

/// Each function the executor is about to call, as it checks the right to call it.
#[pg_guard]
unsafe extern "C-unwind" fn on_object_access(
    access: pg_sys::ObjectAccessType::Type,
    class_id: pg_sys::Oid,
    object_id: pg_sys::Oid,
    sub_id: c_int,
    arg: *mut c_void,
) {
    if access == pg_sys::ObjectAccessType::OAT_FUNCTION_EXECUTE && tenancy::in_script_sql() {
        check_function(object_id);
    }
    // SAFETY: the hook that was installed before ours, called with what we were given.
    if let Some(prev) = unsafe { PREV_OBJECT_ACCESS } {
        unsafe { prev(access, class_id, object_id, sub_id, arg) };
    }
}

/// Temporary functions, and functions planted by a role other than their
/// schema's owner, go through `on_fmgr` in script SQL, which refuses them as
/// they start, however they are reached: a trigger's function is called with
/// no check of the right to call it, and a SQL function is inlined by the
/// planner only when no hook wants to see it called (an inlined function is
/// never called, so never checked: its setval would run in any tenant's
/// script). Outside script SQL as well, for what a session keeps and runs in
/// script SQL later: such functions are inlined nowhere, and each call starts
/// through the hook (which refuses nothing outside script SQL).
#[pg_guard]
unsafe extern "C-unwind" fn needs_fmgr(func: pg_sys::Oid) -> bool {
    // SAFETY: the hook that was installed before ours, called with what we were given.
    if let Some(prev) = unsafe { PREV_NEEDS_FMGR_HOOK } {
        if unsafe { prev(func) } {
            return true;
        }
    }
    // Outside script SQL too: a plan or an expression's state made now (a PL/pgSQL
    // function's, kept for the session or the transaction) may run in script SQL later.
    with_proc(func, |_, form| (form.pronamespace, form.proowner))
        .is_some_and(|(namespace, owner)| untrusted(namespace, owner).is_some())
}

/// SECURITY DEFINER, temporary and planted functions as they start (Postgres
/// calls fmgr_hook for each function a hook asked to see: `needs_fmgr`).
#[pg_guard]
unsafe extern "C-unwind" fn on_fmgr(
    event: pg_sys::FmgrHookEventType::Type,
    flinfo: *mut pg_sys::FmgrInfo,
    arg: *mut pg_sys::Datum,
) {
    if event == pg_sys::FmgrHookEventType::FHET_START && tenancy::in_script_sql() {
        // SAFETY: Postgres hands a valid FmgrInfo to the hook.
        check_function(unsafe { (*flinfo).fn_oid });
    }
    // SAFETY: the hook that was installed before ours, called with what we were given.
    if let Some(prev) = unsafe { PREV_FMGR_HOOK } {
        unsafe { prev(event, flinfo, arg) };
    }
}

/// Every relation a query of script SQL reads or writes, views' own tables
/// included: none may be a temporary one. And the script role must still be
/// one that row-level security holds: the statement's locks, taken since
/// `as_script` checked it, may have taken in a role change.
#[pg_guard]
unsafe extern "C-unwind" fn on_check_perms(range_table: *mut pg_sys::List, report: bool) -> bool {
    let script_sql = tenancy::in_script_sql();
    if script_sql {
        if let Err(e) = tenancy::check_script_role() {
            ereport!(ERROR, e.code(), e.message());
        }
    }
    if script_sql && !range_table.is_null() {
        // SAFETY: the executor's range table, a List of RangeTblEntry.
        unsafe {
            for i in 0..(*range_table).length {
                let rte = pg_sys::list_nth(range_table, i).cast::<pg_sys::RangeTblEntry>();
                if (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION
                    && pg_sys::get_rel_persistence((*rte).relid) as u8
                        == pg_sys::RELPERSISTENCE_TEMP
                {
                    let name = pg_sys::get_rel_name((*rte).relid);
                    let name = if name.is_null() {
                        "?".into()
                    } else {
                        CStr::from_ptr(name).to_string_lossy()
                    };
                    ereport!(
                        ERROR,
                        Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                        format!("scripts cannot use the temporary relation {name}: temporary objects belong to the session that called the script")
                    );
                }
            }
        }
    }
    // SAFETY: the hook that was installed before ours, called with what we were given.
    match unsafe { PREV_CHECK_PERMS } {
        Some(prev) => unsafe { prev(range_table, report) },
        None => true,
    }
}

/// Whether a query's permission check would do more than Postgres's own:
/// another extension's hook (before or after ours), or ours acting (in script
/// SQL). Reads that skip the query (catalog/lookup.rs) are taken only when not.
pub fn permission_hooks_act() -> bool {
    // SAFETY: plain reads of hook pointers set once, at load, on this thread.
    let (prev, current) = unsafe { (PREV_CHECK_PERMS, pg_sys::ExecutorCheckPerms_hook) };
    let ours: unsafe extern "C-unwind" fn(*mut pg_sys::List, bool) -> bool = on_check_perms;
    prev.is_some() || current.map(|f| f as usize) != Some(ours as usize) || tenancy::in_script_sql()
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refused_functions_by_name() {
        for f in [
            "pg_notify",
            "pg_advisory_lock",
            "pg_try_advisory_xact_lock_shared",
            "lo_from_bytea",
            "lo_import",
            "loread",
            "pg_read_file",
            "pg_ls_waldir",
            "pg_terminate_backend",
            "pg_logical_emit_message",
        ] {
            assert!(refusal(f, true).is_some(), "{f}");
        }
        assert!(refusal("dblink_exec", false).is_some());
        // Only the catalog's: a user's own function may share a name.
        assert!(refusal("pg_notify", false).is_none());
        for f in ["now", "query_to_xml", "set_config", "jsonb_build_object"] {
            assert!(refusal(f, true).is_none(), "{f}");
        }
    }
}
