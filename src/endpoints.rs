//! Endpoint scripts: one HTTP request to one run. Who calls (an API key
//! names the tenant and a jsrt role; without one, `/t/{tenant}/...` reaches
//! that tenant's public endpoints only), which script the path routes to,
//! the run through the pipeline, and the response. The HTTP workers and
//! `jsrt.http_dispatch` both come here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::prelude::*;
use serde_json::json;

use crate::catalog::scripts;
use crate::engine::failure::FailureKind;
use crate::engine::sandbox::Outcome;
use crate::engine::{ids, quota, run};
use crate::error::Error;
use crate::http::keys;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::http::router::{self, Found, Router};
use crate::tenancy;

type Routes = Router<(String, String)>;

/// Per process, dropped with the scripts cache (any change to jsrt.scripts or jsrt.api_keys).
#[derive(Default)]
struct Cached {
    generation: u64,
    routes: HashMap<String, Rc<Routes>>,
    /// key id -> (tenant id, role, hash)
    keys: HashMap<String, (String, String, String)>,
    /// tenant name -> id, for `/t/{tenant}/` paths (found ones only)
    tenants: HashMap<String, String>,
}

thread_local! {
    static CACHED: RefCell<Cached> = RefCell::new(Cached::default());
}

const MAX_CACHED: usize = 10_000;

/// Empties the cache if anything it holds may have changed; once per request.
fn refresh_cache() {
    // SAFETY: on the backend's main thread, inside the request's transaction.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    let generation = scripts::generation();
    CACHED.with(|c| {
        let mut c = c.borrow_mut();
        if c.generation != generation
            || c.routes.len() + c.keys.len() + c.tenants.len() > MAX_CACHED
        {
            *c = Cached {
                generation,
                ..Cached::default()
            };
        }
    })
}

fn cached<R>(f: impl FnOnce(&mut Cached) -> R) -> R {
    CACHED.with(|c| f(&mut c.borrow_mut()))
}

/// Who is calling: the tenant, and the key's role when a key came.
pub struct Caller {
    pub tenant_id: String,
    pub role: Option<String>,
}

/// The caller of a request that must come with an API key (the management
/// API): the key's tenant and role; Err is the 401 of a missing, invalid
/// or revoked key (or a 500 when the keys cannot be read).
pub fn key_holder(req: &Request) -> Result<Caller, Response> {
    refresh_cache();
    match presented_key(req) {
        Some(k) => key_caller(&k),
        None => Err(Response::error(
            401,
            "an API key is needed (X-API-Key or Authorization: Bearer)",
            &[],
        )),
    }
}

/// The API key a request presents: X-API-Key, or Authorization: Bearer.
fn presented_key(req: &Request) -> Option<String> {
    req.header("x-api-key").map(str::to_string).or_else(|| {
        req.header("authorization")
            .and_then(|a| {
                a.strip_prefix("Bearer ")
                    .or_else(|| a.strip_prefix("bearer "))
            })
            .map(|k| k.trim().to_string())
    })
}

/// The response to `req`, and the id of the execution that made it, if a script ran.
pub fn dispatch(req: &Request) -> (Response, Option<String>) {
    match route(req, None) {
        Ok(done) => done,
        Err(r) => (r, None),
    }
}

/// As `dispatch`, for a developer of tenant `tenant_id` trying endpoints
/// before they are active: draft endpoints route too (their current source
/// runs), the caller is the developer (no API key is asked for), and the
/// path may go with or without the tenant's `/t/{tenant}` prefix. The
/// caller checks that the session may edit the tenant's scripts.
pub fn dispatch_draft(req: &Request, tenant_id: &str) -> (Response, Option<String>) {
    match route(req, Some(tenant_id)) {
        Ok(done) => done,
        Err(r) => (r, None),
    }
}

fn route(req: &Request, draft: Option<&str>) -> Result<(Response, Option<String>), Response> {
    refresh_cache();
    let (caller, path) = match draft {
        None => caller(req)?,
        Some(tenant_id) => developer(req, tenant_id)?,
    };
    let routes = match (draft, cached(|c| c.routes.get(&caller.tenant_id).cloned())) {
        (None, Some(r)) => r,
        (None, None) => {
            let r = Rc::new(endpoints(&caller.tenant_id, false).map_err(internal)?);
            cached(|c| c.routes.insert(caller.tenant_id.clone(), r.clone()));
            r
        }
        // Drafts are tried rarely, by developers: not cached.
        (Some(_), _) => Rc::new(endpoints(&caller.tenant_id, true).map_err(internal)?),
    };
    let found = routes
        .find(&req.method, &path)
        .map_err(|m| Response::error(400, &m, &[]))?;
    let (script_id, auth, params) = match found {
        Found::Route { target, params } => (target.0.clone(), target.1.clone(), params),
        Found::WrongMethod(allow) if req.method == "OPTIONS" => {
            return Ok((
                Response {
                    status: 204,
                    headers: vec![("allow".into(), allow.join(", "))],
                    body: vec![],
                },
                None,
            ))
        }
        Found::WrongMethod(allow) => {
            let mut r = Response::error(405, &format!("{} is not allowed here", req.method), &[]);
            r.headers.push(("allow".into(), allow.join(", ")));
            return Err(r);
        }
        Found::Nothing => return Err(Response::error(404, "no endpoint at this path", &[])),
    };
    match (&caller.role, auth.as_str()) {
        (None, "api_key") => {
            return Err(Response::error(
                401,
                "this endpoint needs an API key (X-API-Key or Authorization: Bearer)",
                &[],
            ))
        }
        (Some(role), _) if role == "jsrt_viewer" => {
            return Err(Response::error(
                403,
                "the API key's role, jsrt_viewer, may not run scripts",
                &[],
            ))
        }
        _ => {}
    }
    let script = tenancy::as_owner(|| scripts::resolve(&caller.tenant_id, &script_id)).map_err(
        |e| match e {
            // suspended or moved (jsrt.set_tenant_state): not here now, and not the client's fault
            Error::TenantInactive { .. } => Response::error(503, &e.message(), &[]),
            e => internal(e),
        },
    )?;
    // Before anything of the request is read: a refused request costs little.
    rate_limit(&script)?;
    let ctx_request = req
        .to_ctx(&params)
        .map_err(|e| Response::error(e.status(), &e.message(), &[]))?;
    let mut trigger_data = json!({"method": req.method, "path": req.path});
    if draft.is_some() {
        trigger_data["draft"] = true.into();
    }
    let ran = run::execute_http(
        &script,
        &ctx_request.to_string(),
        &req.body,
        trigger_data,
        |outcome| respond(outcome, "", None).status,
    );
    match ran {
        Ok(r) => {
            if matches!(&r.outcome, Err(f) if f.kind == FailureKind::Cancelled) {
                // A cancel or statement timeout is Postgres's to raise.
                pgrx::check_for_interrupts!();
            }
            let response = respond(&r.outcome, &r.execution_id, Some(&script.name));
            Ok((response, Some(r.execution_id)))
        }
        Err(Error::Busy { .. }) => {
            let mut r = Response::error(
                503,
                "the endpoint is busy: it is running its max_concurrent_runs",
                &[],
            );
            r.headers.push(("retry-after".into(), "1".into()));
            Err(r)
        }
        Err(Error::TenantBusy { .. }) => {
            let mut r = Response::error(
                503,
                "the endpoint is busy: its tenant is running its cap of runs",
                &[],
            );
            r.headers.push(("retry-after".into(), "1".into()));
            Err(r)
        }
        Err(e) => Err(internal(e)),
    }
}

/// `resource_limits.http_rate_limit_per_minute`: requests to the endpoint
/// per clock minute, counted across all processes beside its API calls
/// (`quota`); the one over it is a 429 and the script does not run.
fn rate_limit(script: &scripts::Script) -> Result<(), Response> {
    let Some(limit) = script.limits.requests_per_minute else {
        return Ok(());
    };
    let (minute, seconds_left) = quota::clock_minute();
    let why = match quota::take(quota::requests_key(ids::key(&script.id)), minute, limit) {
        Ok(()) => return Ok(()),
        Err(quota::QuotaError::Limit) => format!(
            "too many requests: this endpoint takes {limit} a minute (resource_limits.http_rate_limit_per_minute)"
        ),
        Err(quota::QuotaError::TableFull) => {
            "too many requests: the server's per-minute counters are all in use this minute".into()
        }
    };
    let mut r = Response::error(429, &why, &[]);
    r.headers
        .push(("retry-after".into(), seconds_left.to_string()));
    Err(r)
}

/// The response for a run's outcome. Script errors never show their message
/// or stack. An invalid response is logged, naming `script` when given (the
/// final call; the first only asks for the status).
fn respond(outcome: &Outcome, execution_id: &str, script: Option<&str>) -> Response {
    let id = [("execution_id", execution_id)];
    match outcome {
        Ok(output) => Response::from_output(output.as_deref()).unwrap_or_else(|why| {
            if let Some(name) = script {
                // In the server log only: the caller sees the 500, not the script's internals.
                pgrx::log!(
                    "jsruntime: endpoint script \"{name}\" (execution {execution_id}) returned an invalid response: {why}"
                );
            }
            Response::error(
                500,
                &format!("the script's response is not valid: {why}"),
                &id,
            )
        }),
        Err(f) if f.kind == FailureKind::Timeout => {
            Response::error(504, "the script ran out of time", &id)
        }
        // The per-minute API quota is the endpoint's rate limit.
        Err(f) if f.message.contains("max_api_calls_per_minute") => {
            let mut r = Response::error(
                429,
                "too many requests: the script's API calls per minute are used up",
                &id,
            );
            r.headers.push(("retry-after".into(), "60".into()));
            r
        }
        Err(_) => Response::error(500, "the script failed", &id),
    }
}

/// The caller and the path to route: a key's tenant, or the tenant of a `/t/{tenant}` prefix.
fn caller(req: &Request) -> Result<(Caller, String), Response> {
    let key = presented_key(req);
    let prefix = router::tenant_prefix(&req.path);
    let by_key = match key {
        None => None,
        Some(k) => Some(key_caller(&k)?),
    };
    match (by_key, prefix) {
        (Some(c), None) => Ok((c, req.path.clone())),
        (by_key, Some((tenant, rest))) => {
            let tenant_id = tenant_by_name(&tenant)?;
            if let Some(c) = &by_key {
                if c.tenant_id != tenant_id {
                    return Err(Response::error(403, "the API key is for another tenant", &[]));
                }
            }
            let role = by_key.and_then(|c| c.role);
            Ok((Caller { tenant_id, role }, rest))
        }
        (None, None) => Err(Response::error(
            401,
            "an API key is needed (X-API-Key or Authorization: Bearer), or a /t/{tenant}/ path for public endpoints",
            &[],
        )),
    }
}

fn key_caller(key: &str) -> Result<Caller, Response> {
    let invalid = || Response::error(401, "invalid or revoked API key", &[]);
    let id = keys::id_of(key).ok_or_else(invalid)?;
    let known = cached(|c| c.keys.get(id).cloned());
    let fetched = known.is_none();
    let row = match known {
        Some(row) => Some(row),
        None => read_key(id)?,
    };
    match row {
        Some((tenant_id, role, hash)) if keys::verify(key, &hash) => {
            if fetched {
                cached(|c| {
                    c.keys
                        .insert(id.to_string(), (tenant_id.clone(), role.clone(), hash))
                });
            }
            Ok(Caller {
                tenant_id,
                role: Some(role),
            })
        }
        _ => Err(invalid()),
    }
}

/// A live key's (tenant id, role, hash).
fn read_key(id: &str) -> Result<Option<(String, String, String)>, Response> {
    tenancy::as_owner(|| {
        Spi::connect(|c| {
            let rows = c.select(
                "SELECT tenant_id::text, role, key_hash FROM jsrt.api_keys WHERE id = $1 AND revoked_at IS NULL",
                Some(1),
                &[id.into()],
            )?;
            let mut found = None;
            for r in rows {
                found = Some((
                    r.get::<String>(1)?.unwrap_or_default(),
                    r.get::<String>(2)?.unwrap_or_default(),
                    r.get::<String>(3)?.unwrap_or_default(),
                ));
            }
            Ok::<_, pgrx::spi::SpiError>(found)
        })
    })
    .map_err(|e| internal(Error::Internal(format!("reading jsrt.api_keys: {e}"))))
}

/// A developer's draft request: the session's tenant, by the
/// `/t/{tenant}` prefix or without it.
fn developer(req: &Request, tenant_id: &str) -> Result<(Caller, String), Response> {
    let path = match router::tenant_prefix(&req.path) {
        Some((tenant, rest)) => {
            if tenant_by_name(&tenant).ok().as_deref() != Some(tenant_id) {
                return Err(Response::error(
                    403,
                    "a draft request runs in the session's tenant; the path names another",
                    &[],
                ));
            }
            rest
        }
        None => req.path.clone(),
    };
    Ok((
        Caller {
            tenant_id: tenant_id.to_string(),
            role: Some("jsrt_developer".into()),
        },
        path,
    ))
}

/// A tenant's id by name. Cached: a tenant deleted since routes to no endpoint.
fn tenant_by_name(name: &str) -> Result<String, Response> {
    if let Some(id) = cached(|c| c.tenants.get(name).cloned()) {
        return Ok(id);
    }
    let id = tenancy::as_owner(|| {
        crate::engine::host::js::no_row_is_none(Spi::get_one_with_args::<String>(
            "SELECT id::text FROM jsrt.tenants WHERE name = $1",
            &[name.into()],
        ))
    })
    .map_err(|e| internal(Error::Internal(format!("reading jsrt.tenants: {e}"))))?;
    let id = id.ok_or_else(|| Response::error(404, "no endpoint at this path", &[]))?;
    cached(|c| c.tenants.insert(name.to_string(), id.clone()));
    Ok(id)
}

/// The tenant's active endpoint scripts, with its drafts when `drafts`:
/// (script id, http_auth) by path and methods. Routes of scripts that are
/// not archived never clash (the scripts_validate trigger), so the two sets
/// fit in one router.
fn endpoints(tenant_id: &str, drafts: bool) -> Result<Routes, Error> {
    let rows = tenancy::as_owner(|| {
        Spi::connect(|c| {
            let rows = c.select(
                "SELECT id::text, http_path::text, http_methods, http_auth::text FROM jsrt.scripts
                  WHERE tenant_id = $1::uuid AND type = 'http' AND http_path IS NOT NULL
                    AND (status = 'active' OR ($2 AND status = 'draft'))",
                None,
                &[tenant_id.into(), drafts.into()],
            )?;
            let mut out = Vec::new();
            for r in rows {
                out.push((
                    r.get::<String>(1)?.unwrap_or_default(),
                    r.get::<String>(2)?.unwrap_or_default(),
                    r.get::<Vec<String>>(3)?.unwrap_or_default(),
                    r.get::<String>(4)?.unwrap_or_default(),
                ));
            }
            Ok::<_, pgrx::spi::SpiError>(out)
        })
    })
    .map_err(|e| Error::Internal(format!("reading the endpoints: {e}")))?;
    let mut router = Router::default();
    for (id, path, methods, auth) in rows {
        router
            .add(&path, &methods, (id, auth))
            .map_err(Error::Internal)?;
    }
    Ok(router)
}

fn internal(e: Error) -> Response {
    pgrx::warning!("jsruntime: http_dispatch: {}", e.message());
    Response::error(500, "internal error", &[])
}
