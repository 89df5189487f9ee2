//! HTTP endpoint scripts from SQL: API keys, and `jsrt.http_dispatch`, the
//! endpoint router (src/endpoints.rs) for gateways such as PostgREST.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use crate::error::{Error, OrRaise};
use crate::http::keys;
use crate::http::request::Request;
use crate::tenancy;

/// Makes an API key for the session's tenant, acting as `role`; returns the key, shown only now.
#[pg_extern]
fn create_api_key(name: &str, role: default!(&str, "'jsrt_developer'")) -> String {
    if name.is_empty() || name.len() > 255 {
        Error::Invalid("jsrt.create_api_key: \"name\" must be 1 to 255 characters".into()).raise();
    }
    if !matches!(role, "jsrt_viewer" | "jsrt_developer" | "jsrt_admin") {
        Error::Invalid(format!(
            "jsrt.create_api_key: \"role\" must be jsrt_viewer, jsrt_developer or jsrt_admin, not \"{role}\""
        ))
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

/// Runs the endpoint router for one request and returns `{status, headers, body}`
/// (and `execution_id` when a script ran). `path` may carry a query.
#[pg_extern]
fn http_dispatch(
    method: &str,
    path: &str,
    headers: default!(Option<JsonB>, "'{}'"),
    body: default!(Option<&str>, "NULL"),
) -> JsonB {
    let mut hs = Vec::new();
    if let Some(JsonB(Value::Object(o))) = headers {
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
    let (response, execution_id) = crate::endpoints::dispatch(&request);
    let mut out = json!({
        "status": response.status,
        "headers": response.headers.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "body": if request.method == "HEAD" { String::new() } else { String::from_utf8_lossy(&response.body).into_owned() },
    });
    if let Some(id) = execution_id {
        out["execution_id"] = id.into();
    }
    JsonB(out)
}
