//! Finding a script to run, through a per-backend cache.
//!
//! The cache maps (tenant, name or id) to the script's current row. Any write
//! to jsrt.scripts sends a relcache invalidation for the table (see the
//! `scripts_changed` trigger); every backend drops its cache when it takes
//! that message in, which it does before it next reads, then reads the row
//! with a snapshot taken after that (never an older one: see `load`), so no
//! backend runs an old version after an update commits.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::spi::Spi;
use pgrx::PgMemoryContexts;
use sha2::{Digest, Sha256};

use super::lookup;
use crate::engine::limits::Limits;
use crate::error::Error;

/// What running a script needs from its row.
#[derive(Debug, Clone)]
pub struct Script {
    pub id: String,
    pub tenant_id: String,
    /// `id` and `tenant_id` as numbers, the keys of shared counters and the run's tenant
    pub key: u128,
    pub tenant_key: u128,
    pub tenant_name: String,
    /// the tenant's own cap on its runs going on (jsrt.tenants.max_concurrent_runs)
    pub tenant_max_runs: Option<i32>,
    pub name: String,
    pub version: i32,
    pub status: String,
    pub kind: String,
    pub history: String,
    /// the script's own limits, before the settings' caps
    pub limits: Limits,
    pub source: String,
    /// SHA-256 of `source`: the key of compiled and loaded code
    pub digest: [u8; 32],
    /// the transaction that wrote the row
    pub xmin: u32,
    /// the JSON Schema every input is checked against, as JSON text
    pub input_schema: Option<String>,
    /// jsrt.tenants.state: only an active tenant's scripts run (jsrt.set_tenant_state)
    pub tenant_state: String,
}

impl Script {
    /// The fields `derive` fills, before it does.
    const UNDERIVED: Script = Script {
        id: String::new(),
        tenant_id: String::new(),
        key: 0,
        tenant_key: 0,
        tenant_name: String::new(),
        tenant_max_runs: None,
        name: String::new(),
        version: 0,
        status: String::new(),
        kind: String::new(),
        history: String::new(),
        limits: Limits::UNCAPPED,
        source: String::new(),
        digest: [0; 32],
        xmin: 0,
        input_schema: None,
        tenant_state: String::new(),
    };

    /// The script with what follows from its row: numeric keys, limits (from
    /// `resource_limits` as text) and the source's digest.
    fn derive(mut self, limits: &str) -> Script {
        self.key = crate::engine::ids::key(&self.id);
        self.tenant_key = crate::engine::ids::key(&self.tenant_id);
        self.limits = Limits::effective(
            &serde_json::from_str(limits).unwrap_or_default(),
            &Limits::UNCAPPED,
        );
        self.digest = Sha256::digest(self.source.as_bytes()).into();
        self
    }
}

/// tenant -> name or id -> script
type ByTenant = HashMap<String, HashMap<String, Rc<Script>>>;

thread_local! {
    /// user -> tenant -> name or id -> script: what the user found (its rights and
    /// row-level security decide what a lookup shows), so another role, after
    /// SET ROLE or in a SECURITY DEFINER function, looks the script up again
    static CACHE: RefCell<HashMap<pg_sys::Oid, ByTenant>> = RefCell::new(HashMap::new());
    static SCRIPTS_OID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    /// counts the times the cache was dropped, for caches built on it (routes, API keys)
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Changes whenever the cached scripts are dropped; call after `AcceptInvalidationMessages`.
pub fn generation() -> u64 {
    GENERATION.get()
}

/// Entries kept; past this the cache starts again empty.
const MAX_ENTRIES: usize = 4096;

/// The script `key` (name or id) of `tenant`, from the cache or the table,
/// when its tenant is active: a suspended or moved tenant's scripts do not
/// run (a queued run goes back to wait, the executors' claim skips it).
pub fn resolve(tenant: &str, key: &str) -> Result<Rc<Script>, Error> {
    let script = resolve_any(tenant, key)?;
    if script.tenant_state != "active" {
        return Err(Error::TenantInactive {
            tenant: script.tenant_name.clone(),
            state: script.tenant_state.clone(),
        });
    }
    Ok(script)
}

fn resolve_any(tenant: &str, key: &str) -> Result<Rc<Script>, Error> {
    // Every run resolves its script first: a standby refuses them all here.
    crate::standby::refuse_runs()?;
    // Take in invalidations other backends committed since we last looked.
    // SAFETY: on the backend's main thread, inside the transaction that resolves the script.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    // SAFETY: a read of the current user id, on the main thread.
    let user = unsafe { pg_sys::GetUserId() };
    let cached = CACHE.with(|c| {
        let c = c.borrow();
        c.get(&user)
            .and_then(|u| u.get(tenant))
            .and_then(|t| t.get(key))
            .cloned()
    });
    if let Some(s) = cached {
        return Ok(s);
    }
    let script = Rc::new(load(tenant, key)?);
    // A row read with the transaction's snapshot (REPEATABLE READ, SERIALIZABLE)
    // can be older than the invalidations just taken in: right for this
    // transaction, stale for the next ones, which no message would clear. Not cached.
    // SAFETY: a read of this backend's isolation level, on its main thread.
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return Ok(script);
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.values()
            .flat_map(HashMap::values)
            .map(HashMap::len)
            .sum::<usize>()
            >= MAX_ENTRIES
        {
            c.clear();
        }
        c.entry(user)
            .or_default()
            .entry(tenant.to_string())
            .or_default()
            .insert(key.to_string(), script.clone());
    });
    Ok(script)
}

/// Reads the row with a new snapshot under READ COMMITTED (as SPI's
/// read-write mode takes one), not the calling statement's: that one may
/// predate an update whose invalidation `resolve` has just taken in, and the
/// old row would then be cached as current. A key that is both a script's
/// name and another's id finds the id.
fn load(tenant: &str, key: &str) -> Result<Script, Error> {
    let scripts = lookup::relation(c"scripts");
    SCRIPTS_OID.set(scripts.unwrap_or(pg_sys::InvalidOid));
    // What the read detoasts goes with its own memory context, as SPI's with SPI's.
    // SAFETY: the context is a child of the current one, deleted when dropped (also on ERROR).
    let direct = scripts.and_then(|oid| unsafe {
        PgMemoryContexts::new("jsrt script lookup").switch_to(|_| read_direct(oid, tenant, key))
    });
    let row = match direct {
        Some(row) => row,
        None => query(tenant, key)?,
    };
    match row {
        Some(s) => Ok(s),
        None if !tenant_exists(tenant)? => Err(Error::UnknownTenant(tenant.to_string())),
        None => Err(Error::UnknownScript(key.to_string())),
    }
}

/// `load`'s row through the primary and unique indexes (catalog/lookup.rs),
/// when the caller provably sees what `query` would show it; None otherwise,
/// and then `query` answers.
fn read_direct(scripts: pg_sys::Oid, tenant: &str, key: &str) -> Option<Option<Script>> {
    let tenant_bytes = crate::engine::ids::parse(tenant)?;
    let scripts = lookup::Table::open(scripts);
    let tenants = lookup::Table::open(lookup::relation(c"tenants")?);
    let c = |t: &lookup::Table, name| t.column(name);
    let (id, tenant_id, name, version, status, kind, history, limits, source, input_schema) = (
        c(&scripts, "id")?,
        c(&scripts, "tenant_id")?,
        c(&scripts, "name")?,
        c(&scripts, "version")?,
        c(&scripts, "status")?,
        c(&scripts, "type")?,
        c(&scripts, "history")?,
        c(&scripts, "resource_limits")?,
        c(&scripts, "source")?,
        c(&scripts, "input_schema")?,
    );
    let (t_id, t_name, t_max_runs, t_state) = (
        c(&tenants, "id")?,
        c(&tenants, "name")?,
        c(&tenants, "max_concurrent_runs")?,
        c(&tenants, "state")?,
    );
    // Looked up and read as uuids, text and int4s below: of any other type (a
    // DBA's change), the query reads them.
    let typed = |cols: &[lookup::Column], t| cols.iter().all(|c| c.typid() == t);
    if !typed(&[id, tenant_id, t_id], pg_sys::UUIDOID)
        || !typed(&[version, t_max_runs], pg_sys::INT4OID)
        || !(typed(&[name], pg_sys::VARCHAROID) || typed(&[name], pg_sys::TEXTOID))
    {
        return None;
    }
    let (by_id, by_name, tenants_pkey) = (
        scripts.unique_index(c"scripts_pkey", &[id])?,
        scripts.unique_index(c"scripts_name_tenant_unique", &[tenant_id, name])?,
        tenants.unique_index(c"tenants_pkey", &[t_id])?,
    );
    // The snapshot first, as the query's (its command counter advanced: what
    // this statement did so far is seen), then both tables' rights: without
    // them the query raises, and so must this.
    let snapshot = lookup::Snapshot::take();
    if !scripts.shows(tenant_id, &tenant_bytes) || !tenants.shows(t_id, &tenant_bytes) {
        return None;
    }
    let read = |r: &lookup::Row<'_>| -> Option<Script> {
        let text = |col| r.text(col).map(Option::unwrap_or_default);
        let (id, tenant_id) = (text(id)?, text(tenant_id)?);
        Some(
            Script {
                id,
                tenant_id,
                tenant_name: String::new(),
                tenant_max_runs: None,
                name: text(name)?,
                version: r.int(version).unwrap_or(1),
                status: text(status)?,
                kind: text(kind)?,
                history: text(history)?,
                source: text(source)?,
                xmin: r.xmin(),
                input_schema: r.text(input_schema)?,
                tenant_state: String::new(),
                ..Script::UNDERIVED
            }
            .derive(&text(limits)?),
        )
    };
    let by_key = crate::engine::ids::parse(key).and_then(|k| {
        scripts
            .find(
                by_id,
                &[(id, lookup::Key::Uuid(&k))],
                Some(&snapshot),
                |r| (r.uuid(tenant_id) == Some(tenant_bytes)).then(|| read(r)),
            )
            .flatten()
    });
    let by_name = || {
        scripts.find(
            by_name,
            &[
                (tenant_id, lookup::Key::Uuid(&tenant_bytes)),
                (name, lookup::Key::Text(key)),
            ],
            Some(&snapshot),
            read,
        )
    };
    // found: the row, None when it could not be read here
    let Some(found) = by_key.or_else(by_name) else {
        // no such row at all: the query finds none either
        return Some(None);
    };
    let mut script = found?;
    tenants.find(
        tenants_pkey,
        &[(t_id, lookup::Key::Uuid(&tenant_bytes))],
        Some(&snapshot),
        |r| {
            script.tenant_name = r.text(t_name)?.unwrap_or_default();
            script.tenant_max_runs = r.int(t_max_runs);
            script.tenant_state = r.text(t_state)?.unwrap_or_default();
            Some(())
        },
    )??;
    Some(Some(script))
}

/// The search_path of the queries `load` runs as its caller: a caller's
/// schema never supplies their operators or types (as a planted `=` would to a
/// SECURITY DEFINER caller).
const LOAD_SEARCH_PATH: &std::ffi::CStr = c"pg_catalog, pg_temp";

/// `load`'s query, which applies whatever rights and policies there are.
fn query(tenant: &str, key: &str) -> Result<Option<Script>, Error> {
    let _path = crate::tenancy::Pinned::set(&[(c"search_path", LOAD_SEARCH_PATH)], false);
    Spi::connect_mut(|client| -> Result<Option<Script>, pgrx::spi::SpiError> {
        let rows = client.update(
            "SELECT s.id::text, s.tenant_id::text, t.name, s.name::text, s.version, s.status::text,
                    s.type::text, s.history::text, s.resource_limits::text, s.source,
                    s.xmin::text::bigint, t.max_concurrent_runs, s.input_schema::text, t.state
               FROM jsrt.scripts s JOIN jsrt.tenants t ON t.id = s.tenant_id
              WHERE s.tenant_id = $1::uuid
                AND (s.name = $2 OR s.id = CASE WHEN $2 ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                                THEN $2::uuid END)
              ORDER BY s.name = $2",
            Some(1),
            &[tenant.into(), key.into()],
        )?;
        let Some(r) = rows.into_iter().next() else { return Ok(None) };
        let text = |i| -> Result<String, pgrx::spi::SpiError> { Ok(r.get::<String>(i)?.unwrap_or_default()) };
        Ok(Some(
            Script {
                id: text(1)?,
                tenant_id: text(2)?,
                tenant_name: text(3)?,
                tenant_max_runs: r.get::<i32>(12)?,
                name: text(4)?,
                version: r.get::<i32>(5)?.unwrap_or(1),
                status: text(6)?,
                kind: text(7)?,
                history: text(8)?,
                source: text(10)?,
                xmin: r.get::<i64>(11)?.unwrap_or(0) as u32,
                input_schema: r.get::<String>(13)?,
                tenant_state: text(14)?,
                ..Script::UNDERIVED
            }
            .derive(&text(9)?),
        ))
    })
    .map_err(|e| Error::Internal(format!("reading jsrt.scripts: {e}")))
}

fn tenant_exists(tenant: &str) -> Result<bool, Error> {
    let _path = crate::tenancy::Pinned::set(&[(c"search_path", LOAD_SEARCH_PATH)], false);
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM jsrt.tenants WHERE id = $1::uuid)",
        &[tenant.into()],
    )
    .map(|b| b.unwrap_or(false))
    .map_err(|e| Error::Internal(format!("reading jsrt.tenants: {e}")))
}

/// Sends the invalidation that makes every backend drop its cache at commit.
pub fn invalidate() {
    // SAFETY: catalog lookups and an invalidation message, inside the trigger's transaction.
    unsafe {
        let jsrt = pg_sys::get_namespace_oid(c"jsrt".as_ptr(), false);
        let table = pg_sys::get_relname_relid(c"scripts".as_ptr(), jsrt);
        if table != pg_sys::InvalidOid {
            pg_sys::CacheInvalidateRelcacheByRelid(table);
        }
    }
}

/// Registered once per process in _PG_init.
pub fn register_invalidation_callback() {
    // SAFETY: once per process, from _PG_init on the main thread; on_relcache touches only thread-locals.
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache), pg_sys::Datum::from(0)) };
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let ours = SCRIPTS_OID.get();
    if relid == pg_sys::InvalidOid || ours == pg_sys::InvalidOid || relid == ours {
        CACHE.with(|c| c.borrow_mut().clear());
        GENERATION.set(GENERATION.get() + 1);
        if relid == ours {
            // The table may be gone (DROP EXTENSION); look it up again next time.
            SCRIPTS_OID.set(pg_sys::InvalidOid);
        }
    }
}
