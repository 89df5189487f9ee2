//! Secrets (set and delete; values are never read back) and API keys.

use serde_json::{json, Value};

use super::problem::Problem;
use super::sql::json as q;
use super::{Ctx, Handled, Reply};
use crate::http::response::Response;

fn no_content() -> Handled {
    Ok(Reply::Raw(Response {
        status: 204,
        headers: vec![],
        body: vec![],
    }))
}

pub fn secrets(_ctx: &Ctx) -> Handled {
    let v = q(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('name', x.name, 'created_at', x.created_at,
                    'updated_at', x.updated_at, 'updated_by', x.updated_by) ORDER BY x.name), '[]')
           FROM jsrt.secrets x WHERE x.tenant_id = jsrt.current_tenant()",
        &[],
    )?;
    Ok(Reply::Json(200, json!({"items": v})))
}

pub fn set_secret(ctx: &Ctx) -> Handled {
    let body = ctx.body()?;
    let value = body
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::new(422, "\"value\" must be a string").with_field("value"))?;
    q(
        "SELECT to_jsonb(jsrt.set_secret($1, $2)::text)",
        &[Some(ctx.param("name")), Some(value)],
    )?;
    no_content()
}

pub fn delete_secret(ctx: &Ctx) -> Handled {
    let name = ctx.param("name");
    let gone = q("SELECT to_jsonb(jsrt.delete_secret($1))", &[Some(name)])?;
    if gone.as_bool() != Some(true) {
        return Err(super::sql::not_found("secret", name));
    }
    no_content()
}

pub fn keys(_ctx: &Ctx) -> Handled {
    let v = q(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', k.id, 'name', k.name, 'role', k.role,
                    'created_at', k.created_at, 'created_by', k.created_by, 'revoked_at', k.revoked_at)
                    ORDER BY k.name), '[]')
           FROM jsrt.api_keys k WHERE k.tenant_id = jsrt.current_tenant()",
        &[],
    )?;
    Ok(Reply::Json(200, json!({"items": v})))
}

pub fn create_key(ctx: &Ctx) -> Handled {
    let body = ctx.body()?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::new(422, "\"name\" must be a string").with_field("name"))?;
    let role = match body.get("role") {
        None | Some(Value::Null) => "jsrt_developer",
        Some(Value::String(r)) => r.as_str(),
        Some(_) => return Err(Problem::new(422, "\"role\" must be a string").with_field("role")),
    };
    let key = q(
        "SELECT to_jsonb(jsrt.create_api_key($1, $2))",
        &[Some(name), Some(role)],
    )?;
    Ok(Reply::Json(
        201,
        json!({"name": name, "role": role, "key": key}),
    ))
}

pub fn revoke_key(ctx: &Ctx) -> Handled {
    let name = ctx.param("name");
    let gone = q("SELECT to_jsonb(jsrt.revoke_api_key($1))", &[Some(name)])?;
    if gone.as_bool() != Some(true) {
        return Err(super::sql::not_found("API key", name));
    }
    no_content()
}
