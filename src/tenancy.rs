//! Whose rows a session or a run sees, and the switches of user id that keep
//! script SQL inside its tenant (DESIGN.md section 6).
//!
//! The session's tenant is the setting `jsrt.tenant`. Only superusers may
//! SET it; everyone else goes through `jsrt.set_tenant`, which checks that
//! the caller's role may use that tenant. During a run, the run's tenant,
//! held in this backend's memory, wins over the setting: no statement a
//! script makes can move it. Script SQL runs as the role `jsrt_script`.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;
use pgrx::spi::Spi;

use crate::engine::ids;
use crate::error::Error;
use crate::gucs;

/// The role script SQL runs as.
pub const SCRIPT_ROLE: &str = "jsrt_script";

thread_local! {
    static RUN_TENANT: Cell<Option<[u8; 16]>> = const { Cell::new(None) };
    /// The script role's oid, once found to be neither a superuser nor
    /// BYPASSRLS; forgotten whenever a role changes (`on_role_change`).
    static SCRIPT_ROLE_OID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

/// Registered once per process in _PG_init: script SQL asks for the script
/// role per statement, and looks it up again only after a role changed.
pub fn register_role_callback() {
    // SAFETY: once per process, from _PG_init on the main thread; the callback touches only a thread-local.
    unsafe {
        pg_sys::CacheRegisterSyscacheCallback(
            pg_sys::SysCacheIdentifier::AUTHOID as _,
            Some(on_role_change),
            pg_sys::Datum::from(0),
        )
    };
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_role_change(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    SCRIPT_ROLE_OID.set(pg_sys::InvalidOid);
}

/// How deep this backend is inside script SQL. Read by the timer signal
/// handler, so an atomic rather than a thread-local.
static IN_SCRIPT_SQL: AtomicU32 = AtomicU32::new(0);

/// The tenant whose rows row-level security shows now: the run's, else the session's.
pub fn current() -> Option<[u8; 16]> {
    RUN_TENANT
        .get()
        .or_else(|| gucs::tenant().and_then(|t| ids::parse(&t)))
}

/// The current tenant's id as text, or the error for a session without one.
pub fn current_id() -> Result<String, Error> {
    current()
        .map(|t| pgrx::Uuid::from_bytes(t).to_string())
        .ok_or(Error::NoTenant)
}

/// The current role's name, for created_by and updated_by columns.
pub fn current_role_name() -> String {
    Spi::get_one::<String>("SELECT current_user::text")
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub fn in_script_sql() -> bool {
    IN_SCRIPT_SQL.load(Ordering::Relaxed) > 0
}

/// Fixes the tenant for one run; dropping it ends the run's tenancy.
pub struct RunTenant(());

impl RunTenant {
    pub fn enter(tenant: u128) -> RunTenant {
        // A run's tenant is a uuid (run.rs checks it); anything else (0) would see no rows.
        RUN_TENANT.set(Some(tenant.to_be_bytes()));
        RunTenant(())
    }
}

impl Drop for RunTenant {
    fn drop(&mut self) {
        RUN_TENANT.set(None);
    }
}

/// Switches the user id; dropping it (also while unwinding) switches back.
struct UserSwitch {
    user: pg_sys::Oid,
    context: i32,
}

impl UserSwitch {
    fn to(user: pg_sys::Oid, flags: u32) -> UserSwitch {
        let (mut old_user, mut context) = (pg_sys::InvalidOid, 0);
        // SAFETY: plain calls on the backend's main thread; Drop restores the saved pair, also while unwinding.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut old_user, &mut context);
            pg_sys::SetUserIdAndSecContext(user, context | flags as i32);
        }
        UserSwitch {
            user: old_user,
            context,
        }
    }
}

impl Drop for UserSwitch {
    fn drop(&mut self) {
        // SAFETY: restores the user and context `to` saved, on the same thread.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) };
    }
}

/// The search_path of every statement the extension runs with more rights
/// than its caller: the caller's schemas and temporary objects never take part
/// in resolving a name (pg_temp is searched first unless it is listed, so it
/// is listed, last).
pub const OWNER_SEARCH_PATH: &CStr = c"pg_catalog, jsrt, pg_temp";

/// Settings that hold until dropped (also while unwinding), like the SET
/// clause of a function.
pub struct Pinned {
    level: i32,
    /// whether changes made inside survive the guard (a SET clause's rule)
    keep_changes: bool,
}

impl Pinned {
    pub fn set(settings: &[(&CStr, &CStr)], keep_changes: bool) -> Pinned {
        // SAFETY: plain calls into the GUC machinery on the backend's main thread;
        // each value is one Postgres accepts (an ERROR unwinds through Drop).
        let level = unsafe { pg_sys::NewGUCNestLevel() };
        let pinned = Pinned {
            level,
            keep_changes,
        };
        for (name, value) in settings {
            // A setting that has the value already is left alone: setting some
            // (timezone_abbreviations) reads a file each time.
            // SAFETY: a NUL-terminated name; Postgres returns a pointer to its own value string or null.
            let current = unsafe { pg_sys::GetConfigOption(name.as_ptr(), true, false) };
            // SAFETY: a non-null result is a NUL-terminated string that lives until the setting changes.
            if !current.is_null() && unsafe { CStr::from_ptr(current) } == *value {
                continue;
            }
            // SAFETY: NUL-terminated names and values; the change ends when the level opened above closes.
            unsafe {
                pg_sys::set_config_option(
                    name.as_ptr(),
                    value.as_ptr(),
                    pg_sys::GucContext::PGC_SUSET,
                    pg_sys::GucSource::PGC_S_SESSION,
                    pg_sys::GucAction::GUC_ACTION_SAVE,
                    true,
                    pgrx::PgLogLevel::ERROR as i32,
                    false,
                );
            }
        }
        pinned
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: closes the nesting level `set` opened, on the same thread.
        unsafe { pg_sys::AtEOXact_GUC(self.keep_changes, self.level) };
    }
}

/// Runs `f` as the bootstrap superuser, with the owner's search_path: for the
/// extension's own reads and writes of its tables (history, tenant lookups),
/// as a SECURITY DEFINER function with `SET search_path` would.
pub fn as_owner<R>(f: impl FnOnce() -> R) -> R {
    let _switch = UserSwitch::to(
        pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID),
        pg_sys::SECURITY_LOCAL_USERID_CHANGE,
    );
    let _path = Pinned::set(&[(c"search_path", OWNER_SEARCH_PATH)], true);
    f()
}

/// Runs `f` as an API key's `role` within tenant `tenant_id`, as a session
/// that did `SET ROLE role` and `jsrt.set_tenant` would: row-level security
/// and the role's grants decide what it may do (the management API). The
/// owner's search_path; every setting `f` changes is undone at its end.
/// Refuses a role that could escape row-level security.
pub fn as_api_role<R>(role: &str, tenant_id: &str, f: impl FnOnce() -> R) -> Result<R, Error> {
    let name = CString::new(role).map_err(|_| Error::Forbidden("invalid role".into()))?;
    // SAFETY: a catalog lookup inside a transaction; `name` is NUL-terminated and a missing role is allowed.
    let oid = unsafe { pg_sys::get_role_oid(name.as_ptr(), true) };
    if oid == pg_sys::InvalidOid {
        return Err(Error::Forbidden(format!("role \"{role}\" does not exist")));
    }
    // SAFETY: catalog lookups of an existing role, inside a transaction.
    if unsafe { pg_sys::superuser_arg(oid) || pg_sys::has_bypassrls_privilege(oid) } {
        return Err(Error::Forbidden(format!(
            "role \"{role}\" is a superuser or has BYPASSRLS; API requests will not run as it"
        )));
    }
    let tenant = CString::new(tenant_id).map_err(|_| Error::UnknownTenant(tenant_id.into()))?;
    let _switch = UserSwitch::to(oid, pg_sys::SECURITY_LOCAL_USERID_CHANGE);
    let _settings = Pinned::set(
        &[
            (c"search_path", OWNER_SEARCH_PATH),
            (c"jsrt.tenant", tenant.as_c_str()),
        ],
        false,
    );
    Ok(f())
}

/// Runs `f` as the script role, in a security-restricted operation (no SET
/// ROLE, no temporary objects). Call it inside a subtransaction: an error
/// unwinds the same state. (What a statement changes of the settings ends
/// with it: sql.rs.)
pub fn as_script<R>(f: impl FnOnce() -> R) -> Result<R, Error> {
    let role = script_role()?;
    let _switch = UserSwitch::to(
        role,
        pg_sys::SECURITY_LOCAL_USERID_CHANGE | pg_sys::SECURITY_RESTRICTED_OPERATION,
    );
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            IN_SCRIPT_SQL.fetch_sub(1, Ordering::Relaxed);
        }
    }
    IN_SCRIPT_SQL.fetch_add(1, Ordering::Relaxed);
    let _depth = Depth;
    Ok(f())
}

/// The settings every run's SQL sees, whoever triggered the run (trust rule
/// 2): its own search_path (`jsrt.script_search_path`, between pg_catalog and
/// pg_temp), and fixed values for the settings that change what a query
/// returns or how values are written. Held until the run ends.
pub fn pin_script_settings() -> Pinned {
    let path = CString::new(format!(
        "pg_catalog, {}, pg_temp",
        gucs::script_search_path()
    ))
    .unwrap_or_else(|_| CString::from(c"pg_catalog, pg_temp"));
    let callers = callers_custom_settings();
    let mut settings: Vec<(&CStr, &CStr)> = vec![(c"search_path", path.as_c_str())];
    settings.extend_from_slice(SCRIPT_SETTINGS);
    settings.extend(callers.iter().map(|name| (name.as_c_str(), c"")));
    Pinned::set(&settings, false)
}

/// Custom settings (`app.user_id`) the caller's session, role or client set:
/// script SQL sees them empty.
fn callers_custom_settings() -> Vec<CString> {
    let mut names = Vec::new();
    // SAFETY: Postgres's array of its settings, read on the main thread; no entry is added while we read.
    unsafe {
        let all = pg_sys::get_guc_variables();
        for i in 0..pg_sys::GetNumConfigOptions().max(0) as usize {
            let var = *all.add(i);
            if var.is_null()
                || (*var).flags & pg_sys::GUC_CUSTOM_PLACEHOLDER as i32 == 0
                || (*var).source < pg_sys::GucSource::PGC_S_USER
            {
                continue;
            }
            names.push(CStr::from_ptr((*var).name).to_owned());
        }
    }
    names
}

/// The fixed settings of script SQL (README, "What script SQL sees").
pub const SCRIPT_SETTINGS: &[(&CStr, &CStr)] = &[
    (c"DateStyle", c"ISO, MDY"),
    (c"IntervalStyle", c"postgres"),
    (c"TimeZone", c"UTC"),
    (c"timezone_abbreviations", c"Default"),
    (c"quote_all_identifiers", c"off"),
    (c"gin_fuzzy_search_limit", c"0"),
    (c"extra_float_digits", c"1"),
    (c"bytea_output", c"hex"),
    (c"standard_conforming_strings", c"on"),
    (c"default_text_search_config", c"pg_catalog.english"),
    (c"row_security", c"on"),
    (c"session_replication_role", c"origin"),
    (c"transform_null_equals", c"off"),
    (c"array_nulls", c"on"),
    (c"xmloption", c"content"),
    (c"xmlbinary", c"base64"),
    (c"lc_monetary", c"C"),
    (c"lc_numeric", c"C"),
    (c"lc_time", c"C"),
];

/// Err if the script role could now escape row-level security. Script SQL
/// asks again once a statement holds its locks (guard.rs): taking a lock
/// takes in other sessions' role changes, and the rewriter decides row
/// security after the check `as_script` made when the statement began.
pub fn check_script_role() -> Result<(), Error> {
    script_role().map(|_| ())
}

/// The script role's oid, refusing a role that could escape row-level security.
fn script_role() -> Result<pg_sys::Oid, Error> {
    let oid = SCRIPT_ROLE_OID.get();
    if oid != pg_sys::InvalidOid {
        return Ok(oid);
    }
    let name = CString::new(SCRIPT_ROLE).expect("no NUL in a constant");
    // SAFETY: a catalog lookup inside a transaction; `name` is NUL-terminated and a missing role is allowed.
    let oid = unsafe { pg_sys::get_role_oid(name.as_ptr(), true) };
    if oid == pg_sys::InvalidOid {
        return Err(Error::Internal(format!(
            "role {SCRIPT_ROLE} does not exist; reinstall the extension"
        )));
    }
    // SAFETY: catalog lookups of an existing role, inside a transaction.
    if unsafe { pg_sys::superuser_arg(oid) || pg_sys::has_bypassrls_privilege(oid) } {
        return Err(Error::Forbidden(format!(
            "role {SCRIPT_ROLE} is a superuser or has BYPASSRLS; scripts will not run SQL as it"
        )));
    }
    SCRIPT_ROLE_OID.set(oid);
    Ok(oid)
}

/// Sets the session's tenant (for the transaction only when `local`), if
/// the current role may use it: superusers, jsrt_superadmin and members of
/// a role granted the tenant with jsrt.grant_tenant may.
pub fn set_session_tenant(name_or_id: &str, local: bool) -> Result<String, Error> {
    if in_script_sql() {
        return Err(Error::Forbidden(
            "scripts cannot change their tenant".into(),
        ));
    }
    // SAFETY: a read of this backend's current user id, on its main thread.
    let user = unsafe { pg_sys::GetUserId() };
    let found = as_owner(|| {
        Spi::connect(|client| {
            let rows = client.select(
                "SELECT t.id::text,
                        pg_has_role($2, 'jsrt_superadmin', 'USAGE')
                        OR EXISTS (SELECT 1 FROM jsrt.tenant_members m
                                    WHERE m.tenant_id = t.id AND pg_has_role($2, m.member, 'USAGE')),
                        t.name, t.state
                   FROM jsrt.tenants t
                  WHERE t.name = $1 OR t.id::text = lower($1)",
                Some(1),
                &[name_or_id.into(), user.into()],
            )?;
            match rows.into_iter().next() {
                None => Ok(None),
                Some(r) => Ok(Some((
                    r.get::<String>(1)?.unwrap_or_default(),
                    r.get::<bool>(2)?.unwrap_or(false),
                    r.get::<String>(3)?.unwrap_or_default(),
                    r.get::<String>(4)?.unwrap_or_default(),
                ))),
            }
        })
    })
    .map_err(|e: pgrx::spi::SpiError| Error::Internal(format!("reading jsrt.tenants: {e}")))?;
    let Some((id, allowed, name, state)) = found else {
        return Err(Error::UnknownTenant(name_or_id.to_string()));
    };
    // A moved tenant's work goes to its new cluster; a suspended one may
    // still be managed (its runs wait).
    if allowed && state == "moved" {
        return Err(Error::TenantInactive {
            tenant: name,
            state,
        });
    }
    if !allowed {
        return Err(Error::Forbidden(format!(
            "role \"{}\" may not use tenant \"{name_or_id}\"",
            role_name(user)
        )));
    }
    let value = CString::new(id.as_str()).expect("a uuid has no NUL");
    // SAFETY: a GUC assignment on the main thread inside a transaction; both strings are NUL-terminated.
    unsafe {
        pg_sys::set_config_option(
            c"jsrt.tenant".as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            if local {
                pg_sys::GucAction::GUC_ACTION_LOCAL
            } else {
                pg_sys::GucAction::GUC_ACTION_SET
            },
            true,
            pgrx::PgLogLevel::ERROR as i32,
            false,
        );
    }
    Ok(id)
}

fn role_name(oid: pg_sys::Oid) -> String {
    // SAFETY: a catalog lookup inside a transaction; a non-null result is a palloc'd C string, copied here.
    unsafe {
        let p = pg_sys::GetUserNameFromId(oid, true);
        if p.is_null() {
            return oid.to_u32().to_string();
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
