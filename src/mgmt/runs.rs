//! Runs: start (queued, with an optional wait), get with live progress,
//! cancel, replay, and the filtered history by keyset pages.

use serde_json::{json, Value};

use super::problem::Problem;
use super::sql::{self, json as q};
use super::{Ctx, Handled, Reply, MAX_WAIT_S};
use crate::http::response::Response;

fn queued(id: &str) -> Handled {
    let mut r = Response::json(202, &json!({"id": id, "status": "pending"}));
    r.headers.push((
        "location".into(),
        format!("{}/runs/{id}", super::routes::PREFIX),
    ));
    Ok(Reply::Raw(r))
}

pub fn start(ctx: &Ctx) -> Handled {
    let body = ctx.body()?;
    let input = body.get("input").cloned().unwrap_or_else(|| json!({}));
    let wait = match body.get("wait") {
        None | Some(Value::Null) => 0,
        Some(w) => w.as_u64().filter(|w| *w <= MAX_WAIT_S).ok_or_else(|| {
            Problem::new(
                422,
                format!("\"wait\" must be a whole number of seconds from 0 to {MAX_WAIT_S}"),
            )
            .with_field("wait")
        })?,
    };
    let id = q(
        "SELECT to_jsonb(jsrt.execute_async($1, $2::jsonb)::text)",
        &[Some(ctx.param("name")), Some(&input.to_string())],
    )?;
    let id = id.as_str().unwrap_or_default().to_string();
    if wait > 0 {
        return Ok(Reply::Wait(id, wait * 1000));
    }
    queued(&id)
}

/// A run of the current tenant, with its live state while it runs.
fn one(id: &str) -> Result<Value, Problem> {
    if !sql::is_uuid(id) {
        return Err(sql::not_found("run", id));
    }
    let v = q(
        "SELECT to_jsonb(e) - 'tenant_id' || jsonb_build_object('script', s.name,
                'live', (SELECT to_jsonb(r) - 'execution_id' FROM jsrt.running() r WHERE r.execution_id = e.id))
           FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
          WHERE e.tenant_id = jsrt.current_tenant() AND e.id = $1::uuid",
        &[Some(id)],
    )?;
    if v.is_null() {
        return Err(sql::not_found("run", id));
    }
    Ok(v)
}

pub fn get(ctx: &Ctx) -> Handled {
    Ok(Reply::Json(200, one(ctx.param("id"))?))
}

pub fn cancel(ctx: &Ctx) -> Handled {
    let id = ctx.param("id");
    one(id)?;
    let took = q("SELECT to_jsonb(jsrt.cancel($1::uuid))", &[Some(id)])?;
    Ok(Reply::Json(
        200,
        json!({"cancelled": took.as_bool().unwrap_or(false)}),
    ))
}

pub fn replay(ctx: &Ctx) -> Handled {
    let run = one(ctx.param("id"))?;
    let body = ctx.body()?;
    let input = body
        .get("input")
        .cloned()
        .unwrap_or_else(|| run["input"].clone());
    let script = run["script_id"].as_str().unwrap_or_default();
    let id = q(
        "SELECT to_jsonb(jsrt.execute_async($1, $2::jsonb)::text)",
        &[Some(script), Some(&input.to_string())],
    )?;
    queued(id.as_str().unwrap_or_default())
}

pub fn list(ctx: &Ctx) -> Handled {
    let limit = ctx.q_int("limit", 50, 1, 1000)?;
    let (at, id) = sql::time_cursor(ctx.q("cursor"))?;
    if let Some(v) = ctx.q("version") {
        if v.parse::<i32>().is_err() {
            return Err(
                Problem::bad("query parameter \"version\" must be a whole number")
                    .with_field("version"),
            );
        }
    }
    if let Some(i) = ctx.q("input") {
        if serde_json::from_str::<Value>(i).is_err() {
            return Err(Problem::bad("query parameter \"input\" must be JSON").with_field("input"));
        }
    }
    // A script named is found first: the page is then a range of its own index.
    let script = match ctx.q("script") {
        None => None,
        Some(name) => match sql::script_id(name) {
            Ok(id) => Some(id),
            Err(p) if p.status == 404 => {
                return Ok(Reply::Json(200, json!({"items": [], "next_cursor": null})))
            }
            Err(p) => return Err(p),
        },
    };
    if id.as_deref().is_some_and(|i| !sql::is_uuid(i)) {
        return Err(
            Problem::bad("query parameter \"cursor\" is not a cursor this API gave")
                .with_field("cursor"),
        );
    }
    let limit_text = (limit + 1).to_string();
    let rows = q(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'script_id', x.script_id,
                    'script', (SELECT s.name FROM jsrt.scripts s WHERE s.id = x.script_id), 'status', x.status,
                    'trigger_type', x.trigger_type, 'version_number', x.version_number, 'attempt', x.attempt,
                    'started_at', x.started_at, 'completed_at', x.completed_at, 'error', x.error,
                    'metrics', x.metrics, 'cursor_at', x.started_at::text) ORDER BY x.started_at DESC, x.id DESC), '[]')
           FROM (SELECT e.* FROM jsrt.script_executions e
                  WHERE e.tenant_id = jsrt.current_tenant()
                    AND ($1::timestamptz IS NULL OR (e.started_at, e.id) < ($1::timestamptz, $2::uuid))
                    AND ($3::text IS NULL OR e.status = $3)
                    AND ($4::text IS NULL OR e.trigger_type = $4)
                    AND ($5::uuid IS NULL OR e.script_id = $5::uuid)
                    AND ($6::int IS NULL OR e.version_number = $6::int)
                    AND ($7::timestamptz IS NULL OR e.started_at >= $7::timestamptz)
                    AND ($8::timestamptz IS NULL OR e.started_at < $8::timestamptz)
                    AND ($9::jsonb IS NULL OR e.input @> $9::jsonb)
                    AND ($10::text IS NULL OR strpos(lower(coalesce(e.error, '')), lower($10)) > 0
                                           OR strpos(lower(e.logs::text), lower($10)) > 0)
                  ORDER BY e.started_at DESC, e.id DESC LIMIT $11::int) x",
        &[
            at.as_deref(),
            id.as_deref(),
            ctx.q("status"),
            ctx.q("trigger"),
            script.as_deref(),
            ctx.q("version"),
            ctx.q("since"),
            ctx.q("until"),
            ctx.q("input"),
            ctx.q("q"),
            Some(&limit_text),
        ],
    )?;
    Ok(Reply::Json(200, sql::page_by_time(rows, limit as usize)))
}

/// `jsrt.dry_run`: a script that fails (or does not compile) is still a
/// 200: the result says how, with the line and column.
pub fn dry_run(ctx: &Ctx) -> Handled {
    let body = ctx.body()?;
    let source = match body.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(Problem::new(422, "\"source\" must be a string").with_field("source"))
        }
    };
    let input = body.get("input").cloned().unwrap_or_else(|| json!({}));
    let allow_http = match body.get("allow_http") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(
                Problem::new(422, "\"allow_http\" must be true or false").with_field("allow_http")
            )
        }
    };
    let id = sql::script_id(ctx.param("name"))?;
    let r = q(
        "SELECT jsrt.dry_run($1, $2, $3::jsonb, $4::bool)",
        &[
            Some(&id),
            source.as_deref(),
            Some(&input.to_string()),
            Some(if allow_http { "true" } else { "false" }),
        ],
    )?;
    Ok(Reply::Json(200, r))
}

/// Longest a stream request waits for a first update, in seconds.
const MAX_STREAM_WAIT_S: i64 = 25;

/// Server-sent events of the tenant's runs as they start and end: every
/// update after `since` (or the Last-Event-ID an EventSource sends back),
/// waiting up to `wait` seconds for the first, then the response ends and
/// the client reconnects (`retry: 1000`) from the last event's id. Runs that
/// started more than an hour before `since` are not followed (the query is a
/// range of the (tenant, started_at) index).
pub fn stream(ctx: &Ctx) -> Handled {
    let wait = ctx.q_int("wait", 15, 0, MAX_STREAM_WAIT_S)?;
    let since = match ctx.req.header("last-event-id").or(ctx.q("since")) {
        Some(s) => {
            let ok = q("SELECT to_jsonb($1::timestamptz::text)", &[Some(s)]);
            ok.map_err(|_| {
                Problem::bad("\"since\" (or Last-Event-ID) must be a time").with_field("since")
            })?
        }
        None => q("SELECT to_jsonb(clock_timestamp()::text)", &[])?,
    };
    let since = since.as_str().unwrap_or_default().to_string();
    let script = match ctx.q("script") {
        Some(name) => Some(sql::script_id(name)?),
        None => None,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait as u64);
    let rows = loop {
        let rows = q(
            "SELECT coalesce(jsonb_agg(jsonb_build_object('event_id', x.u::text, 'id', x.id, 'script', x.name,
                        'status', x.status, 'trigger_type', x.trigger_type, 'started_at', x.started_at,
                        'completed_at', x.completed_at, 'error', x.error) ORDER BY x.u, x.id), '[]')
               FROM (SELECT e.*, s.name, greatest(e.started_at, coalesce(e.completed_at, e.started_at)) AS u
                       FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
                      WHERE e.tenant_id = jsrt.current_tenant()
                        AND e.started_at > $1::timestamptz - interval '1 hour'
                        AND greatest(e.started_at, coalesce(e.completed_at, e.started_at)) > $1::timestamptz
                        AND ($2::uuid IS NULL OR e.script_id = $2::uuid)
                      ORDER BY u, e.id LIMIT 500) x",
            &[Some(&since), script.as_deref()],
        )?;
        if rows.as_array().is_some_and(|a| !a.is_empty()) || std::time::Instant::now() >= deadline {
            break rows;
        }
        // A fresh snapshot each turn (READ COMMITTED); interruptible.
        q("SELECT to_jsonb(pg_catalog.pg_sleep(0.2)::text)", &[])?;
    };
    let mut body = String::from("retry: 1000\n\n");
    for r in rows.as_array().into_iter().flatten() {
        let id = r["event_id"].as_str().unwrap_or_default();
        body.push_str(&format!("id: {id}\nevent: run\ndata: {r}\n\n"));
    }
    if rows.as_array().is_none_or(|a| a.is_empty()) {
        // nothing new: the client comes back from the same point
        body.push_str(&format!("id: {since}\n\n"));
    }
    Ok(Reply::Raw(Response {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/event-stream".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body: body.into_bytes(),
    }))
}
