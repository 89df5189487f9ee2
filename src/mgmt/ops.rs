//! Schedules with their next run times, dead letters, events, and the type declarations.

use chrono::Utc;
use serde_json::{json, Value};

use super::problem::Problem;
use super::sql::{self, json as q};
use super::{Ctx, Handled, Reply};
use crate::cron;
use crate::http::response::Response;

pub fn types() -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: include_bytes!("../../types/jsrt.d.ts").to_vec(),
    }
}

/// The role the handler runs as (the key's) and its tenant.
pub fn me() -> Handled {
    let v = q(
        "SELECT jsonb_build_object('role', current_user::text, 'tenant_id', t.id, 'tenant', t.name)
           FROM jsrt.tenants t WHERE t.id = jsrt.current_tenant()",
        &[],
    )?;
    Ok(Reply::Json(200, v))
}

/// The next `count` times `expr` is due in `timezone`, from now.
fn next_runs(expr: &str, timezone: &str, count: i64) -> Value {
    let (Ok(schedule), Ok(tz)) = (cron::parse(expr, true), cron::zone(timezone)) else {
        return json!([]);
    };
    let mut at = Utc::now();
    let mut out = Vec::new();
    for _ in 0..count {
        match schedule.next_after(tz, at) {
            Some(t) => {
                out.push(Value::from(
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ));
                at = t;
            }
            None => break,
        }
    }
    Value::from(out)
}

const SCHEDULE: &str =
    "jsonb_build_object('script', s.name, 'status', s.status, 'cron_expression', s.cron_expression,
        'timezone', s.timezone, 'next_run_at', j.next_run_at, 'last_run_at', j.last_run_at,
        'last_run_status', j.last_run_status)";

fn with_times(mut v: Value, count: i64) -> Value {
    let times = next_runs(
        v["cron_expression"].as_str().unwrap_or(""),
        v["timezone"].as_str().unwrap_or("UTC"),
        count,
    );
    v["next_runs"] = times;
    v
}

pub fn script_schedule(ctx: &Ctx) -> Handled {
    let count = ctx.q_int("count", 5, 1, 100)?;
    let name = ctx.param("name");
    let v = q(
        &format!(
            "SELECT {SCHEDULE} FROM jsrt.scripts s LEFT JOIN jsrt.script_scheduled_jobs j ON j.script_id = s.id
              WHERE s.tenant_id = jsrt.current_tenant() AND (s.name = $1 OR s.id::text = lower($1))"
        ),
        &[Some(name)],
    )?;
    if v.is_null() {
        return Err(sql::not_found("script", name));
    }
    if v["cron_expression"].is_null() {
        return Err(Problem::new(
            404,
            format!("script \"{name}\" has no schedule"),
        ));
    }
    Ok(Reply::Json(200, with_times(v, count)))
}

pub fn schedules(ctx: &Ctx) -> Handled {
    let count = ctx.q_int("count", 5, 1, 100)?;
    let rows = q(
        &format!(
            "SELECT coalesce(jsonb_agg({SCHEDULE} ORDER BY s.name), '[]')
               FROM jsrt.scripts s LEFT JOIN jsrt.script_scheduled_jobs j ON j.script_id = s.id
              WHERE s.tenant_id = jsrt.current_tenant() AND s.type = 'scheduled'"
        ),
        &[],
    )?;
    let items: Vec<Value> = match rows {
        Value::Array(a) => a.into_iter().map(|v| with_times(v, count)).collect(),
        _ => Vec::new(),
    };
    Ok(Reply::Json(200, json!({"items": items})))
}

pub fn dead_letters(ctx: &Ctx) -> Handled {
    let limit = ctx.q_int("limit", 50, 1, 1000)?;
    let (at, id) = sql::time_cursor(ctx.q("cursor"))?;
    let limit_text = (limit + 1).to_string();
    let rows = q(
        "SELECT coalesce(jsonb_agg(x.j ORDER BY x.created_at DESC, x.id DESC), '[]') FROM (
           SELECT d.created_at, d.id,
                  jsonb_build_object('id', d.id, 'script', s.name, 'execution_id', d.execution_id,
                      'event_type', d.event_type, 'event_data', d.event_data, 'error', d.error,
                      'retry_count', d.retry_count, 'last_retry_at', d.last_retry_at,
                      'created_at', d.created_at, 'cursor_at', d.created_at::text) AS j
             FROM jsrt.script_event_dead_letters d JOIN jsrt.scripts s ON s.id = d.script_id
            WHERE d.tenant_id = jsrt.current_tenant()
              AND ($1::timestamptz IS NULL OR (d.created_at, d.id) < ($1::timestamptz, $2::uuid))
              AND ($3::text IS NULL OR s.name = $3 OR s.id::text = lower($3))
              AND ($4::text IS NULL OR d.event_type = $4)
            ORDER BY d.created_at DESC, d.id DESC LIMIT $5::int) x",
        &[
            at.as_deref(),
            id.as_deref(),
            ctx.q("script"),
            ctx.q("event_type"),
            Some(&limit_text),
        ],
    )?;
    Ok(Reply::Json(200, sql::page_by_time(rows, limit as usize)))
}

pub fn retry_dead_letter(ctx: &Ctx) -> Handled {
    let id = ctx.param("id");
    if !sql::is_uuid(id) {
        return Err(sql::not_found("dead letter", id));
    }
    let run = q(
        "SELECT to_jsonb(jsrt.retry_dead_letter($1::uuid)::text)",
        &[Some(id)],
    )?;
    Ok(Reply::Json(202, json!({"id": run, "status": "pending"})))
}

pub fn redrive(ctx: &Ctx) -> Handled {
    let body = ctx.body()?;
    let text = |k: &str| -> Result<Option<String>, Problem> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Problem::new(422, format!("\"{k}\" must be a string")).with_field(k)),
        }
    };
    let (script, event_type, since) = (text("script")?, text("event_type")?, text("since")?);
    let n = q(
        "SELECT to_jsonb(jsrt.redrive_dead_letters($1, $2, $3::timestamptz))",
        &[script.as_deref(), event_type.as_deref(), since.as_deref()],
    )?;
    Ok(Reply::Json(200, json!({"redriven": n})))
}

pub fn emit(ctx: &Ctx) -> Handled {
    let body = ctx.body()?;
    let ty = body.get("type").and_then(Value::as_str).ok_or_else(|| {
        Problem::new(422, "\"type\" (the event type) is required").with_field("type")
    })?;
    let payload = body.get("payload").cloned().unwrap_or_else(|| json!({}));
    let id = q(
        "SELECT to_jsonb(jsrt.emit($1, $2::jsonb))",
        &[Some(ty), Some(&payload.to_string())],
    )?;
    Ok(Reply::Json(201, json!({"id": id})))
}
