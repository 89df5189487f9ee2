//! Scripts, their versions, rollback and the atomic bundle deploy.

use std::panic::AssertUnwindSafe;

use serde_json::{json, Map, Value};

use super::problem::Problem;
use super::sql::{self, json as q};
use super::{Ctx, Handled, Reply};
use crate::http::response::Response;
use crate::subxact;

/// A script row as the API shows it (`s`, with its last run `l`), without its source.
const SCRIPT: &str = "to_jsonb(s) - 'tenant_id' - 'source' || jsonb_build_object(
        'etag', format('\"%s-%s\"', s.version, floor(extract(epoch FROM s.updated_at) * 1000000)::bigint),
        'last_run_status', l.status, 'last_run_at', l.started_at,
        'next_run_at', (SELECT j.next_run_at FROM jsrt.script_scheduled_jobs j WHERE j.script_id = s.id))";
const LAST_RUN: &str =
    "LEFT JOIN LATERAL (SELECT e.status, e.started_at FROM jsrt.script_executions e
                         WHERE e.tenant_id = s.tenant_id AND e.script_id = s.id
                         ORDER BY e.started_at DESC, e.id DESC LIMIT 1) l ON true";
const ETAG: &str =
    "format('\"%s-%s\"', s.version, floor(extract(epoch FROM s.updated_at) * 1000000)::bigint)";

pub fn list(ctx: &Ctx) -> Handled {
    let limit = ctx.q_int("limit", 50, 1, 1000)?;
    let after = match ctx.q("cursor") {
        Some(c) => Some(sql::uncursor(c, 1)?.remove(0)),
        None => None,
    };
    let tags = ctx.q("tags").map(|t| {
        Value::from(
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>(),
        )
        .to_string()
    });
    if let Some(m) = ctx.q("metadata") {
        if !matches!(serde_json::from_str::<Value>(m), Ok(Value::Object(_))) {
            return Err(
                Problem::bad("query parameter \"metadata\" must be a JSON object")
                    .with_field("metadata"),
            );
        }
    }
    let limit_text = (limit + 1).to_string();
    let rows = q(
        &format!(
            "SELECT coalesce(jsonb_agg(x.j ORDER BY x.name), '[]') FROM (
               SELECT s.name, {SCRIPT} AS j FROM jsrt.scripts s {LAST_RUN}
                WHERE s.tenant_id = jsrt.current_tenant()
                  AND ($1::text IS NULL OR s.name > $1)
                  AND ($2::text IS NULL OR s.type = $2)
                  AND ($3::text IS NULL OR s.status = $3)
                  AND ($4::jsonb IS NULL OR s.tags @> ARRAY(SELECT jsonb_array_elements_text($4::jsonb)))
                  AND ($5::jsonb IS NULL OR s.metadata @> $5::jsonb)
                  AND ($6::text IS NULL OR to_tsvector('english', coalesce(s.name, '') || ' ' || coalesce(s.description, ''))
                                           @@ websearch_to_tsquery('english', $6))
                ORDER BY s.name LIMIT $7::int) x"
        ),
        &[
            after.as_deref(),
            ctx.q("type"),
            ctx.q("status"),
            tags.as_deref(),
            ctx.q("metadata"),
            ctx.q("search"),
            Some(&limit_text),
        ],
    )?;
    Ok(Reply::Json(
        200,
        sql::page(rows, limit as usize, |r| {
            vec![r["name"].as_str().unwrap_or("").to_string()]
        }),
    ))
}

/// The script with its source, and the ETag header; 404 when there is none.
fn shown(id_or_name: &str, status: u16) -> Handled {
    let v = q(
        &format!(
            "SELECT {SCRIPT} || jsonb_build_object('source', s.source) FROM jsrt.scripts s {LAST_RUN}
              WHERE s.tenant_id = jsrt.current_tenant() AND (s.name = $1 OR s.id::text = lower($1))"
        ),
        &[Some(id_or_name)],
    )?;
    if v.is_null() {
        return Err(sql::not_found("script", id_or_name));
    }
    let mut r = Response::json(status, &v);
    if let Some(etag) = v["etag"].as_str() {
        r.headers.push(("etag".into(), etag.to_string()));
    }
    if status == 201 {
        if let Some(name) = v["name"].as_str() {
            r.headers.push((
                "location".into(),
                format!("{}/scripts/{}", super::routes::PREFIX, encode(name)),
            ));
        }
    }
    Ok(Reply::Raw(r))
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

pub fn get(ctx: &Ctx) -> Handled {
    shown(ctx.param("name"), 200)
}

fn text_field(
    body: &mut Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<String>, Problem> {
    match body.remove(name) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        None | Some(Value::Null) => {
            Err(Problem::new(422, format!("\"{name}\" is required")).with_field(name))
        }
        Some(_) => Err(Problem::new(422, format!("\"{name}\" must be a string")).with_field(name)),
    }
}

pub fn create(ctx: &Ctx) -> Handled {
    let id = create_from(ctx.body()?)?;
    shown(&id, 201)
}

/// Creates a script from a `ScriptCreate` object; its id.
fn create_from(mut body: Map<String, Value>) -> Result<String, Problem> {
    let name = text_field(&mut body, "name", true)?.unwrap_or_default();
    let source = text_field(&mut body, "source", true)?.unwrap_or_default();
    let ty = text_field(&mut body, "type", false)?.unwrap_or_else(|| "oneoff".into());
    let options = Value::Object(body).to_string();
    let id = q(
        "SELECT to_jsonb(jsrt.create_script($1, $2, $3, $4::jsonb)::text)",
        &[Some(&name), Some(&source), Some(&ty), Some(&options)],
    )?;
    Ok(id.as_str().unwrap_or_default().to_string())
}

/// Locks the script for a change and checks If-Match; its id.
fn lock(ctx: &Ctx) -> Result<String, Problem> {
    let name = ctx.param("name");
    let cur = q(
        &format!(
            "SELECT jsonb_build_object('id', s.id, 'etag', {ETAG}) FROM jsrt.scripts s
              WHERE s.tenant_id = jsrt.current_tenant() AND (s.name = $1 OR s.id::text = lower($1)) FOR UPDATE"
        ),
        &[Some(name)],
    )?;
    if cur.is_null() {
        return Err(sql::not_found("script", name));
    }
    let etag = cur["etag"].as_str().unwrap_or_default();
    if let Some(want) = ctx.req.header("if-match") {
        let ok = want
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
        if !ok {
            let mut p = Problem::new(
                412,
                format!("the script changed since {want}: it is at {etag} now; read it again and redo the change"),
            )
            .with_field("If-Match")
            .with("etag", etag.into());
            p.headers.push(("etag".into(), etag.to_string()));
            return Err(p);
        }
    }
    Ok(cur["id"].as_str().unwrap_or_default().to_string())
}

pub fn update(ctx: &Ctx) -> Handled {
    let id = lock(ctx)?;
    update_from(&id, ctx.body()?)?;
    shown(&id, 200)
}

fn update_from(id: &str, mut body: Map<String, Value>) -> Result<(), Problem> {
    let source = text_field(&mut body, "source", false)?;
    let change = text_field(&mut body, "change_description", false)?;
    if body.contains_key("name") {
        return Err(Problem::new(422, "a script's name does not change here").with_field("name"));
    }
    let options = Value::Object(body).to_string();
    q(
        "SELECT to_jsonb(jsrt.update_script($1, $2, $3::jsonb, $4))",
        &[
            Some(id),
            source.as_deref(),
            Some(&options),
            change.as_deref(),
        ],
    )?;
    Ok(())
}

pub fn delete(ctx: &Ctx) -> Handled {
    let id = lock(ctx)?;
    q(
        "SELECT to_jsonb(jsrt.delete_script($1)::text)",
        &[Some(&id)],
    )?;
    Ok(Reply::Raw(Response {
        status: 204,
        headers: vec![],
        body: vec![],
    }))
}

pub fn set_status(ctx: &Ctx) -> Handled {
    let mut body = ctx.body()?;
    let status = text_field(&mut body, "status", true)?.unwrap_or_default();
    let id = sql::script_id(ctx.param("name"))?;
    q(
        "SELECT to_jsonb(jsrt.set_status($1, $2)::text)",
        &[Some(&id), Some(&status)],
    )?;
    shown(&id, 200)
}

pub fn versions(ctx: &Ctx) -> Handled {
    let id = sql::script_id(ctx.param("name"))?;
    let v = q(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('version', v.version_number,
                    'change_description', v.change_description, 'created_by', v.created_by,
                    'created_at', v.created_at, 'bytes', octet_length(v.source)) ORDER BY v.version_number DESC), '[]')
           FROM jsrt.script_versions v WHERE v.script_id = $1::uuid",
        &[Some(&id)],
    )?;
    Ok(Reply::Json(200, json!({"items": v})))
}

fn version_number(text: &str, field: &str) -> Result<i32, Problem> {
    text.parse::<i32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
        Problem::bad(format!(
            "\"{field}\" must be a version number (1 or more), got \"{text}\""
        ))
        .with_field(field)
    })
}

fn source_of(id: &str, name: &str, version: i32) -> Result<Value, Problem> {
    let v = q(
        "SELECT jsonb_build_object('version', v.version_number, 'source', v.source,
                'change_description', v.change_description, 'created_by', v.created_by, 'created_at', v.created_at)
           FROM jsrt.script_versions v WHERE v.script_id = $1::uuid AND v.version_number = $2::int",
        &[Some(id), Some(&version.to_string())],
    )?;
    if v.is_null() {
        let mut p = Problem::new(404, format!("script \"{name}\" has no version {version}"))
            .with_field("version");
        p.sqlstate = Some("42704".into());
        return Err(p);
    }
    Ok(v)
}

pub fn version(ctx: &Ctx) -> Handled {
    let name = ctx.param("name");
    let n = version_number(ctx.param("version"), "version")?;
    let id = sql::script_id(name)?;
    Ok(Reply::Json(200, source_of(&id, name, n)?))
}

pub fn diff(ctx: &Ctx) -> Handled {
    let name = ctx.param("name");
    let id = sql::script_id(name)?;
    let from = version_number(
        ctx.q("from").ok_or_else(|| {
            Problem::bad("query parameter \"from\" is required").with_field("from")
        })?,
        "from",
    )?;
    let to = match ctx.q("to") {
        Some(t) => version_number(t, "to")?,
        None => q(
            "SELECT to_jsonb(s.version) FROM jsrt.scripts s WHERE s.id = $1::uuid",
            &[Some(&id)],
        )?
        .as_i64()
        .unwrap_or(1) as i32,
    };
    let a = source_of(&id, name, from)?;
    let b = source_of(&id, name, to)?;
    let d = super::diff::unified(
        a["source"].as_str().unwrap_or(""),
        b["source"].as_str().unwrap_or(""),
        &format!("{name} version {from}"),
        &format!("{name} version {to}"),
    );
    Ok(Reply::Json(200, json!({"from": from, "to": to, "diff": d})))
}

pub fn rollback(ctx: &Ctx) -> Handled {
    let body = ctx.body()?;
    let version = body
        .get("version")
        .and_then(Value::as_i64)
        .filter(|v| *v >= 1 && *v <= i32::MAX as i64)
        .ok_or_else(|| {
            Problem::new(422, "\"version\" must be a version number (1 or more)")
                .with_field("version")
        })?;
    let id = sql::script_id(ctx.param("name"))?;
    q(
        "SELECT to_jsonb(jsrt.rollback_script($1, $2::int))",
        &[Some(&id), Some(&version.to_string())],
    )?;
    shown(&id, 200)
}

/// The bundle deploy: every script of the bundle is created or updated in
/// this request's one subtransaction, or, at the first error, none is.
/// A script whose settings and source are what it has already is left alone
/// (its own subtransaction is rolled back: no new version, no write).
pub fn deploy(ctx: &Ctx) -> Handled {
    let mut body = ctx.body()?;
    let scripts = match body.remove("scripts") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(
                Problem::new(422, "\"scripts\" must be a non-empty array of scripts")
                    .with_field("scripts"),
            )
        }
    };
    let mut done = Vec::with_capacity(scripts.len());
    for (i, item) in scripts.into_iter().enumerate() {
        let at = |p: Problem, name: &str| {
            let mut p = p.with("index", i.into()).with("script", name.into());
            p.pointer = Some(format!("/scripts/{i}"));
            p.detail = format!("scripts[{i}] ({name}): {}; nothing was deployed", p.detail);
            p
        };
        let Value::Object(item) = item else {
            return Err(at(Problem::new(422, "a script must be a JSON object"), ""));
        };
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ran = subxact::run_if(
            AssertUnwindSafe(|| apply(item)),
            |r| matches!(r, Ok((a, _)) if *a != "unchanged"),
        );
        match ran {
            Ok(Ok((action, version))) => {
                done.push(json!({"name": name, "action": action, "version": version}))
            }
            Ok(Err(p)) => return Err(at(p, &name)),
            Err(c) => return Err(at(super::caught(&c), &name)),
        }
    }
    Ok(Reply::Json(200, json!({"scripts": done})))
}

/// One script of a bundle: (created | updated | unchanged, its version).
fn apply(item: Map<String, Value>) -> Result<(&'static str, i64), Problem> {
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let state = |lock: bool| {
        q(
            &format!(
                "SELECT to_jsonb(s) - 'updated_at' - 'updated_by' FROM jsrt.scripts s
                  WHERE s.tenant_id = jsrt.current_tenant() AND s.name = $1 {}",
                if lock { "FOR UPDATE" } else { "" }
            ),
            &[Some(&name)],
        )
    };
    let before = state(true)?;
    if before.is_null() {
        create_from(item)?;
        return Ok(("created", 1));
    }
    // What the script has already is not written again: no UPDATE, no subtransaction's work.
    let same = item.iter().all(|(k, v)| match k.as_str() {
        "name" | "change_description" => true,
        // resource_limits given are merged into the script's
        "resource_limits" => v.as_object().is_some_and(|o| {
            o.iter()
                .all(|(lk, lv)| before["resource_limits"].get(lk) == Some(lv))
        }),
        _ => before.get(k) == Some(v),
    });
    if same {
        return Ok(("unchanged", before["version"].as_i64().unwrap_or(0)));
    }
    let mut item = item;
    item.remove("name");
    if let Some(ty) = item.remove("type") {
        if ty != before["type"] {
            return Err(Problem::new(
                422,
                format!(
                    "the script is of type {}; a type does not change",
                    before["type"]
                ),
            )
            .with_field("type"));
        }
    }
    let id = before["id"].as_str().unwrap_or_default().to_string();
    update_from(&id, item)?;
    let after = state(false)?;
    let version = after["version"].as_i64().unwrap_or(0);
    Ok((
        if after == before {
            "unchanged"
        } else {
            "updated"
        },
        version,
    ))
}
