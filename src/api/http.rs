//! HTTP endpoint scripts from SQL: API keys, and `jsrt.http_dispatch`, the
//! endpoint router (src/endpoints.rs) for gateways such as PostgREST.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use super::jsonb::JsonArg;
use crate::error::{Error, OrRaise};
use crate::http::keys;
use crate::http::request::Request;
use crate::tenancy;

/// Makes an API key for the session's tenant, acting as `role`; returns the key, shown only now.
#[pg_extern]
fn create_api_key(name: &str, role: default!(&str, "'jsrt_developer'")) -> String {
    crate::version::ensure();
    if name.is_empty() || name.len() > 255 {
        Error::Invalid("jsrt.create_api_key: \"name\" must be 1 to 255 characters".into()).raise();
    }
    if !matches!(
        role,
        "jsrt_viewer" | "jsrt_developer" | "jsrt_admin" | "jsrt_superadmin"
    ) {
        Error::Invalid(format!(
            "jsrt.create_api_key: \"role\" must be jsrt_viewer, jsrt_developer, jsrt_admin or jsrt_superadmin, not \"{role}\""
        ))
        .raise();
    }
    // A key acts as its role: only a superadmin makes a superadmin's key
    // (one that may name any tenant in the management API).
    if role == "jsrt_superadmin"
        && Spi::get_one::<bool>("SELECT pg_has_role(current_user, 'jsrt_superadmin', 'MEMBER')")
            != Ok(Some(true))
    {
        Error::Forbidden(
            "jsrt.create_api_key: only a jsrt_superadmin may make a jsrt_superadmin key".into(),
        )
        .raise();
    }
    let tenant = tenancy::current_id().or_raise();
    let key = keys::generate().map_err(Error::Internal).or_raise();
    let by = tenancy::current_role_name();
    let made = tenancy::as_owner(|| {
        Spi::get_one_with_args::<bool>(
            "INSERT INTO jsrt.api_keys (id, tenant_id, name, role, key_hash, created_by)
             VALUES ($1, $2::uuid, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, name) DO NOTHING RETURNING true",
            &[
                key.id.as_str().into(),
                tenant.as_str().into(),
                name.into(),
                role.into(),
                key.hash.as_str().into(),
                by.as_str().into(),
            ],
        )
    });
    match made {
        Ok(Some(true)) => key.key,
        Ok(_) | Err(pgrx::spi::SpiError::InvalidPosition) => Error::Postgres {
            code: PgSqlErrorCode::ERRCODE_UNIQUE_VIOLATION,
            message: format!("an API key named \"{name}\" already exists in this tenant"),
        }
        .raise(),
        Err(e) => Error::Internal(format!("writing jsrt.api_keys: {e}")).raise(),
    }
}

/// Revokes the session tenant's API key `name`; false when there is no such live key.
#[pg_extern]
fn revoke_api_key(name: &str) -> bool {
    crate::version::ensure();
    let tenant = tenancy::current_id().or_raise();
    tenancy::as_owner(|| {
        Spi::get_one_with_args::<bool>(
            "WITH r AS (UPDATE jsrt.api_keys SET revoked_at = now()
                         WHERE tenant_id = $1::uuid AND name = $2 AND revoked_at IS NULL RETURNING 1)
             SELECT count(*) > 0 FROM r",
            &[tenant.as_str().into(), name.into()],
        )
    })
    .map(|b| b.unwrap_or(false))
    .map_err(|e| Error::Internal(format!("revoking an API key: {e}")))
    .or_raise()
}

/// Err says why `path` may not be an endpoint's http_path (the server's own
/// paths); the scripts_validate trigger raises it.
#[pg_extern(immutable, parallel_safe, name = "_check_http_path")]
fn check_http_path(name: &str, path: &str) {
    crate::version::ensure();
    if let Err(why) = crate::http::router::reserved(path) {
        Error::Postgres {
            code: PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            message: format!("http script \"{name}\": {why}"),
        }
        .raise()
    }
}

/// Whether two endpoints' http_path and http_methods would serve the same
/// requests (`router::clash`); the scripts_validate trigger asks it.
#[pg_extern(immutable, parallel_safe, name = "_http_routes_clash")]
fn http_routes_clash(
    path: Option<&str>,
    methods: Option<Vec<Option<String>>>,
    other_path: Option<&str>,
    other_methods: Option<Vec<Option<String>>>,
) -> bool {
    crate::version::ensure();
    // The planner may ask about rows its other quals would drop: no path, no clash.
    let (Some(path), Some(other_path)) = (path, other_path) else {
        return false;
    };
    let listed = |m: Option<Vec<Option<String>>>| -> Vec<String> {
        m.unwrap_or_default().into_iter().flatten().collect()
    };
    crate::http::router::clash(path, &listed(methods), other_path, &listed(other_methods))
}

/// Runs the endpoint router for one request and returns `{status, headers, body}`
/// (and `execution_id` when a script ran). `path` may carry a query. A
/// header sent more than once comes as an array of its values; a body that
/// is not UTF-8 in base64, with `bodyEncoding: "base64"`.
///
/// `draft => true` is for developers trying an endpoint before it is
/// active: the session's tenant's draft endpoints route too, with no API
/// key; the session must be allowed to edit the tenant's scripts.
#[pg_extern]
fn http_dispatch(
    // (Options: with some arguments nullable the function is not STRICT, and
    // pgrx would refuse a NULL one with an internal error, XX000)
    method: Option<&str>,
    path: Option<&str>,
    headers: default!(Option<JsonArg>, "'{}'"),
    body: default!(Option<&str>, "NULL"),
    draft: default!(Option<bool>, false),
) -> JsonB {
    crate::version::ensure();
    // (a standby refuses it before any route is looked up)
    crate::standby::refuse_runs().or_raise();
    let (Some(method), Some(path), Some(draft)) = (method, path, draft) else {
        Error::Invalid("method, path and draft must not be null".into()).raise()
    };
    let mut hs = Vec::new();
    if let Some(JsonArg(Value::Object(o))) = headers {
        for (name, v) in o {
            let value = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            hs.push((name.to_ascii_lowercase(), value));
        }
    }
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let request = Request {
        method: method.to_ascii_uppercase(),
        path: p.to_string(),
        query: q.to_string(),
        headers: hs,
        body: body.unwrap_or("").as_bytes().to_vec(),
        keep_alive: false,
    };
    let (response, execution_id) = if draft {
        let tenant = draft_tenant().or_raise();
        crate::endpoints::dispatch_draft(&request, &tenant)
    } else {
        crate::endpoints::dispatch(&request)
    };
    let mut headers = serde_json::Map::new();
    for (n, v) in &response.headers {
        match headers.get_mut(n) {
            None => {
                headers.insert(n.clone(), Value::String(v.clone()));
            }
            Some(Value::Array(all)) => all.push(Value::String(v.clone())),
            Some(first) => *first = json!([first.take(), v]),
        }
    }
    let body = if request.method == "HEAD" {
        &[][..]
    } else {
        &response.body[..]
    };
    let mut out = json!({"status": response.status, "headers": headers});
    match std::str::from_utf8(body) {
        Ok(text) => out["body"] = text.into(),
        Err(_) => {
            use base64::Engine as _;
            out["body"] = base64::engine::general_purpose::STANDARD
                .encode(body)
                .into();
            out["bodyEncoding"] = "base64".into();
        }
    }
    if let Some(id) = execution_id {
        out["execution_id"] = id.into();
    }
    JsonB(out)
}

/// The session's tenant, when the session may edit its scripts (what a draft request needs).
fn draft_tenant() -> Result<String, Error> {
    let tenant = tenancy::current_id()?;
    let role = tenancy::current_role_name();
    // The caller's grants decide, read with a pinned search_path (the caller's may hold anything).
    let may_edit = tenancy::as_owner(|| {
        Spi::get_one_with_args::<bool>(
            "SELECT pg_catalog.has_table_privilege($1::pg_catalog.name, 'jsrt.scripts', 'UPDATE')",
            &[role.as_str().into()],
        )
    })
    .map_err(|e| Error::Internal(format!("checking the right to edit scripts: {e}")))?;
    if may_edit != Some(true) {
        return Err(Error::Postgres {
            code: PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            message: format!(
                "jsrt.http_dispatch(draft => true) is for roles that may edit scripts (jsrt_developer and up); {role} may not"
            ),
        });
    }
    Ok(tenant)
}
