//! The management handlers' one way of asking Postgres: a statement that
//! returns one jsonb value, with text arguments (NULL for None) that the
//! statement casts. An ERROR inside unwinds to `mgmt::dispatch`, which
//! makes it a problem with its SQLSTATE.

use pgrx::datum::DatumWithOid;
use pgrx::spi::Spi;
use pgrx::JsonB;
use serde_json::Value;

use super::problem::Problem;

/// The statement's one jsonb value (Null for no row or SQL NULL).
pub fn json(sql: &str, args: &[Option<&str>]) -> Result<Value, Problem> {
    let args: Vec<DatumWithOid> = args.iter().map(|a| (*a).into()).collect();
    match Spi::get_one_with_args::<JsonB>(sql, &args) {
        Ok(Some(j)) => Ok(j.0),
        Ok(None) | Err(pgrx::spi::SpiError::InvalidPosition) => Ok(Value::Null),
        Err(e) => Err(Problem::new(500, format!("internal error: {e}"))),
    }
}

/// The id of a script of the current tenant, by name or id; 404 without one.
/// (Row-level security shows a superadmin every tenant's rows: the tenant is named.)
pub fn script_id(name: &str) -> Result<String, Problem> {
    let v = json(
        "SELECT to_jsonb(s.id::text) FROM jsrt.scripts s
          WHERE s.tenant_id = jsrt.current_tenant() AND (s.name = $1 OR s.id::text = lower($1))",
        &[Some(name)],
    )?;
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| not_found("script", name))
}

pub fn not_found(what: &str, name: &str) -> Problem {
    let mut p = Problem::new(404, format!("{what} \"{name}\" does not exist"));
    p.sqlstate = Some("42704".into());
    p
}

/// Whether `s` is a uuid's text (ids in paths; anything else names nothing).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// An opaque page cursor from the last row's keys, and back.
pub fn cursor(keys: &[&str]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Value::from(keys.to_vec()).to_string())
}

/// A page of `rows` (one more than `limit` was asked for, to know whether more follow).
pub fn page(rows: Value, limit: usize, keys: impl Fn(&Value) -> Vec<String>) -> Value {
    let mut items = match rows {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|r| {
            let k = keys(r);
            cursor(&k.iter().map(String::as_str).collect::<Vec<_>>())
        })
    } else {
        None
    };
    serde_json::json!({"items": items, "next_cursor": next})
}

/// The (time, id) a page of rows newest first starts after: `cursor` as
/// `page_by_time` made it, or nothing for the first page.
pub fn time_cursor(cursor: Option<&str>) -> Result<(Option<String>, Option<String>), Problem> {
    match cursor {
        Some(c) => {
            let mut k = uncursor(c, 2)?;
            let id = k.pop();
            Ok((k.pop(), id))
        }
        None => Ok((None, None)),
    }
}

/// A page of rows ordered by (time, id) newest first, each with its time as
/// text in `cursor_at` (removed here) and its `id`: at most `limit`, and the
/// cursor of the next page.
pub fn page_by_time(rows: Value, limit: usize) -> Value {
    let mut page = page(rows, limit, |r| {
        vec![
            r["cursor_at"].as_str().unwrap_or("").to_string(),
            r["id"].as_str().unwrap_or("").to_string(),
        ]
    });
    for item in page["items"].as_array_mut().into_iter().flatten() {
        if let Some(o) = item.as_object_mut() {
            o.remove("cursor_at");
        }
    }
    page
}

pub fn uncursor(c: &str, n: usize) -> Result<Vec<String>, Problem> {
    use base64::Engine;
    let bad = || {
        Problem::bad("query parameter \"cursor\" is not a cursor this API gave")
            .with_field("cursor")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let v: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if v.len() != n {
        return Err(bad());
    }
    Ok(v)
}
