//! ctx.db: SQL for scripts. `query`, `one` and `exec` take SQL with $1, $2
//! parameters; `select`, `insert`, `update` and `delete` work on exposed
//! tables and put the run's tenant in themselves.

use std::rc::Rc;

use rquickjs::{qjs, Array, Ctx, Object, TypedArray, Value};

use super::super::convert::{quote_ident, Arg, ReadOptions};
use super::super::failure::FailureKind;
use super::super::sandbox::{define, CallAtoms, Watch};
use super::super::sql::{self, Cell, Rows, SqlError};
use crate::catalog::exposed;
use crate::gucs;
use crate::subxact;

use super::js::{bad, database_error, method, text, thrown, Js};

/// The frozen `ctx.db` object.
pub fn make<'js>(ctx: &Ctx<'js>, watch: &Rc<Watch>) -> rquickjs::Result<Object<'js>> {
    let db = Object::new(ctx.clone())?;
    method(ctx, &db, watch, "query", |ctx, w, a| {
        let rows = statement(
            ctx,
            w,
            "ctx.db.query",
            &text(ctx, a.first(), "ctx.db", SQL_MUST_BE_TEXT)?,
            &params(ctx, a.get(1))?,
            read_options(ctx, "ctx.db.query", a.get(2))?,
        )?;
        rows_to_js(ctx, rows)
    })?;
    method(ctx, &db, watch, "one", |ctx, w, a| {
        let rows = statement(
            ctx,
            w,
            "ctx.db.one",
            &text(ctx, a.first(), "ctx.db", SQL_MUST_BE_TEXT)?,
            &params(ctx, a.get(1))?,
            read_options(ctx, "ctx.db.one", a.get(2))?,
        )?;
        if rows.rows.len() > 1 {
            return Err(thrown(
                ctx,
                "DatabaseError",
                &format!(
                    "ctx.db.one: the statement returned {} rows, not one",
                    rows.rows.len()
                ),
                "21000",
            ));
        }
        let all = rows_to_js(ctx, rows)?;
        all.as_array()
            .map_or(Ok(Value::new_null(ctx.clone())), |a| {
                Ok(a.get::<Value>(0)
                    .ok()
                    .filter(|v| !v.is_undefined())
                    .unwrap_or(Value::new_null(ctx.clone())))
            })
    })?;
    method(ctx, &db, watch, "exec", |ctx, w, a| {
        let rows = statement(
            ctx,
            w,
            "ctx.db.exec",
            &text(ctx, a.first(), "ctx.db", SQL_MUST_BE_TEXT)?,
            &params(ctx, a.get(1))?,
            ReadOptions::default(),
        )?;
        Ok(Value::new_float(ctx.clone(), rows.affected as f64))
    })?;
    method(ctx, &db, watch, "select", |ctx, w, a| {
        let what = "ctx.db.select";
        let t = table(ctx, what, a.first())?;
        let opts = a.get(1).filter(|v| !v.is_undefined() && !v.is_null());
        let opts = match opts {
            None => None,
            Some(v) => Some(v.as_object().cloned().ok_or_else(|| {
                bad(
                    ctx,
                    what,
                    "options must be an object like {where, orderBy, limit}",
                )
            })?),
        };
        let mut args = vec![Arg::Text(super::tenant())];
        let mut q = format!("SELECT * FROM {} WHERE {} = $1", t.table, t.tenant_column);
        let mut read = ReadOptions::default();
        if let Some(o) = &opts {
            for k in o.keys::<String>() {
                let k = k?;
                if !matches!(
                    k.as_str(),
                    "where" | "orderBy" | "limit" | "exactTimestamps" | "jsonText"
                ) {
                    return Err(bad(
                        ctx,
                        what,
                        &format!("unknown option \"{k}\"; options are where, orderBy, limit, exactTimestamps, jsonText"),
                    ));
                }
            }
            read = read_flags(ctx, what, o)?;
            if let Some(w) = o
                .get::<_, Option<Object>>("where")
                .map_err(|_| bad(ctx, what, "option \"where\" must be an object"))?
            {
                q.push_str(&conditions(ctx, what, &w, &t, &mut args)?);
            }
            q.push_str(&order_by(ctx, what, o.get("orderBy")?)?);
            let limit: Value = o.get("limit")?;
            if !limit.is_undefined() && !limit.is_null() {
                let n = limit
                    .as_number()
                    .filter(|n| n.fract() == 0.0 && *n >= 0.0)
                    .ok_or_else(|| {
                        bad(ctx, what, "option \"limit\" must be a non-negative integer")
                    })?;
                q.push_str(&format!(" LIMIT {n}"));
            }
        }
        let rows = statement(ctx, w, what, &q, &args, read)?;
        rows_to_js(ctx, rows)
    })?;
    method(ctx, &db, watch, "insert", |ctx, w, a| {
        let what = "ctx.db.insert";
        let t = table(ctx, what, a.first())?;
        let given = a
            .get(1)
            .cloned()
            .unwrap_or(Value::new_undefined(ctx.clone()));
        let (rows, single) = match given.as_array() {
            Some(arr) => (
                arr.iter::<Value>().collect::<rquickjs::Result<Vec<_>>>()?,
                false,
            ),
            None => (vec![given.clone()], true),
        };
        let objects: Vec<Object> = rows
            .iter()
            .map(|r| r.as_object().filter(|_| !r.is_array()).cloned())
            .collect::<Option<_>>()
            .filter(|v: &Vec<Object>| !v.is_empty())
            .ok_or_else(|| {
                bad(
                    ctx,
                    what,
                    "give a row object or a non-empty array of row objects",
                )
            })?;
        let mut columns: Vec<String> = Vec::new();
        for o in &objects {
            for k in o.keys::<String>() {
                let k = k?;
                if !columns.contains(&k) {
                    columns.push(k);
                }
            }
        }
        refuse_tenant_column(ctx, what, &t, &columns)?;
        let mut args = vec![Arg::Text(super::tenant())];
        let mut q = format!("INSERT INTO {} ({}", t.table, t.tenant_column);
        for c in &columns {
            q.push_str(", ");
            q.push_str(&ident(ctx, what, c)?);
        }
        q.push_str(") VALUES ");
        for (i, o) in objects.iter().enumerate() {
            q.push_str(if i == 0 { "($1" } else { ", ($1" });
            for c in &columns {
                let v: Value = o.get(c.as_str())?;
                if v.is_undefined() {
                    q.push_str(", DEFAULT");
                } else {
                    args.push(arg(ctx, &v)?);
                    q.push_str(&format!(", ${}", args.len()));
                }
            }
            q.push(')');
        }
        q.push_str(" RETURNING *");
        let out = rows_to_js(
            ctx,
            statement(ctx, w, what, &q, &args, ReadOptions::default())?,
        )?;
        if single {
            return Ok(out
                .as_array()
                .and_then(|a| a.get::<Value>(0).ok())
                .unwrap_or(out));
        }
        Ok(out)
    })?;
    method(ctx, &db, watch, "update", |ctx, w, a| {
        let what = "ctx.db.update";
        let t = table(ctx, what, a.first())?;
        let filter = object_arg(ctx, what, a.get(1), "where")?;
        let patch = object_arg(ctx, what, a.get(2), "patch")?;
        let keys = patch
            .keys::<String>()
            .collect::<rquickjs::Result<Vec<String>>>()?;
        if keys.is_empty() {
            return Err(bad(ctx, what, "patch names no column to change"));
        }
        refuse_tenant_column(ctx, what, &t, &keys)?;
        let mut args = vec![Arg::Text(super::tenant())];
        let mut sets = Vec::new();
        for k in &keys {
            args.push(arg(ctx, &patch.get::<_, Value>(k.as_str())?)?);
            sets.push(format!("{} = ${}", ident(ctx, what, k)?, args.len()));
        }
        let cond = conditions(ctx, what, &filter, &t, &mut args)?;
        let q = format!(
            "UPDATE {} SET {} WHERE {} = $1{cond} RETURNING *",
            t.table,
            sets.join(", "),
            t.tenant_column
        );
        rows_to_js(
            ctx,
            statement(ctx, w, what, &q, &args, ReadOptions::default())?,
        )
    })?;
    method(ctx, &db, watch, "delete", |ctx, w, a| {
        let what = "ctx.db.delete";
        let t = table(ctx, what, a.first())?;
        let filter = object_arg(ctx, what, a.get(1), "where")?;
        let mut args = vec![Arg::Text(super::tenant())];
        let cond = conditions(ctx, what, &filter, &t, &mut args)?;
        let q = format!(
            "DELETE FROM {} WHERE {} = $1{cond}",
            t.table, t.tenant_column
        );
        let rows = statement(ctx, w, what, &q, &args, ReadOptions::default())?;
        Ok(Value::new_float(ctx.clone(), rows.affected as f64))
    })?;
    super::js::freeze(ctx, &db);
    Ok(db)
}

/// Runs one statement for the script: counted, limited, and with SQL errors as catchable JS errors.
fn statement<'js>(
    ctx: &Ctx<'js>,
    watch: &Watch,
    what: &str,
    q: &str,
    args: &[Arg],
    read: ReadOptions,
) -> rquickjs::Result<Rows> {
    if watch.stopped() {
        // The run is ending (a cancel, its time): no more SQL, whatever JS caught.
        return Err(thrown(
            ctx,
            "InternalError",
            &format!("{what}: the run is over"),
            "57014",
        ));
    }
    super::count_call(what, super::Api::Db).map_err(|m| thrown(ctx, "RangeError", &m, "54000"))?;
    match sql::run(q, args, gucs::max_query_rows(), read) {
        Ok(rows) => Ok(rows),
        Err(SqlError::Failed(c)) => Err(database_error(ctx, c)),
        Err(SqlError::Deadline) => {
            watch.stop(FailureKind::Timeout);
            Err(thrown(
                ctx,
                "RangeError",
                &format!("{what}: the run's time is up"),
                "54000",
            ))
        }
        Err(SqlError::Interrupted(c)) => {
            watch.stop(FailureKind::Cancelled);
            let e = database_error(ctx, c.clone());
            super::set_interrupted(c);
            Err(e)
        }
    }
}

const SQL_MUST_BE_TEXT: &str = "\"sql\" must be a string";

fn params<'js>(ctx: &Ctx<'js>, v: Option<&Value<'js>>) -> rquickjs::Result<Vec<Arg>> {
    match v {
        None => Ok(Vec::new()),
        Some(v) if v.is_undefined() || v.is_null() => Ok(Vec::new()),
        Some(v) => match v.as_array() {
            Some(a) => a.iter::<Value>().map(|v| arg(ctx, &v?)).collect(),
            None => Err(bad(
                ctx,
                "ctx.db",
                "params must be an array, as in query(sql, [a, b])",
            )),
        },
    }
}

/// The third argument of query and one: `{exactTimestamps, jsonText}`.
fn read_options(ctx: &Ctx<'_>, what: &str, v: Option<&Value<'_>>) -> rquickjs::Result<ReadOptions> {
    let Some(v) = v.filter(|v| !v.is_undefined() && !v.is_null()) else {
        return Ok(ReadOptions::default());
    };
    let o = v.as_object().filter(|_| !v.is_array()).ok_or_else(|| {
        bad(
            ctx,
            what,
            "options must be an object like {exactTimestamps: true}",
        )
    })?;
    for k in o.keys::<String>() {
        let k = k?;
        if !matches!(k.as_str(), "exactTimestamps" | "jsonText") {
            return Err(bad(
                ctx,
                what,
                &format!("unknown option \"{k}\"; options are exactTimestamps, jsonText"),
            ));
        }
    }
    read_flags(ctx, what, o)
}

fn read_flags(ctx: &Ctx<'_>, what: &str, o: &Object<'_>) -> rquickjs::Result<ReadOptions> {
    let flag = |name: &str| -> rquickjs::Result<bool> {
        let v: Value = o.get(name)?;
        if v.is_undefined() {
            return Ok(false);
        }
        v.as_bool().ok_or_else(|| {
            bad(
                ctx,
                what,
                &format!("option \"{name}\" must be true or false"),
            )
        })
    };
    Ok(ReadOptions {
        exact_timestamps: flag("exactTimestamps")?,
        json_text: flag("jsonText")?,
    })
}

fn object_arg<'js>(
    ctx: &Ctx<'js>,
    what: &str,
    v: Option<&Value<'js>>,
    field: &str,
) -> rquickjs::Result<Object<'js>> {
    let o = v
        .and_then(|v| v.as_object().filter(|_| !v.is_array()).cloned())
        .ok_or_else(|| bad(ctx, what, &format!("\"{field}\" must be an object")))?;
    if o.keys::<String>().next().is_none() {
        return Err(bad(ctx, what, &format!("\"{field}\" must name at least one column; use ctx.db.exec for statements on every row")));
    }
    Ok(o)
}

fn table(ctx: &Ctx<'_>, what: &str, v: Option<&Value<'_>>) -> rquickjs::Result<exposed::Exposed> {
    let name = text(ctx, v, what, "the table name must be a string")?;
    let found = subxact::run(|| exposed::find(&name)).map_err(|c| database_error(ctx, c))?;
    let mut t =
        found.map_err(|m| thrown(ctx, "DatabaseError", &format!("{what}: {m}"), "42501"))?;
    t.tenant_column = ident(ctx, what, &t.tenant_column)?;
    Ok(t)
}

fn ident(ctx: &Ctx<'_>, what: &str, name: &str) -> rquickjs::Result<String> {
    quote_ident(name).map_err(|m| bad(ctx, what, &m))
}

fn refuse_tenant_column(
    ctx: &Ctx<'_>,
    what: &str,
    t: &exposed::Exposed,
    columns: &[String],
) -> rquickjs::Result<()> {
    for c in columns {
        if ident(ctx, what, c)? == t.tenant_column {
            return Err(bad(
                ctx,
                what,
                &format!(
                    "column {} is the tenant column: jsrt sets it to the run's tenant",
                    t.tenant_column
                ),
            ));
        }
    }
    Ok(())
}

/// ` AND "a" = $2 AND "b" IS NULL AND "c" = ANY($3)` for `{a: 1, b: null, c: [1, 2]}`.
fn conditions<'js>(
    ctx: &Ctx<'js>,
    what: &str,
    filter: &Object<'js>,
    t: &exposed::Exposed,
    args: &mut Vec<Arg>,
) -> rquickjs::Result<String> {
    let mut out = String::new();
    for k in filter.keys::<String>() {
        let k = k?;
        let col = ident(ctx, what, &k)?;
        if col == t.tenant_column {
            return Err(bad(
                ctx,
                what,
                &format!("column {col} is the tenant column: jsrt filters on it already"),
            ));
        }
        let v: Value = filter.get(k.as_str())?;
        if v.is_null() || v.is_undefined() {
            out.push_str(&format!(" AND {col} IS NULL"));
        } else {
            let is_list = v.is_array();
            args.push(arg(ctx, &v)?);
            let n = args.len();
            out.push_str(&if is_list {
                format!(" AND {col} = ANY(${n})")
            } else {
                format!(" AND {col} = ${n}")
            });
        }
    }
    Ok(out)
}

/// ` ORDER BY "a" DESC, "b"` from "a desc" or ["a desc", "b"].
fn order_by(ctx: &Ctx<'_>, what: &str, v: Value<'_>) -> rquickjs::Result<String> {
    if v.is_undefined() || v.is_null() {
        return Ok(String::new());
    }
    let items: Vec<Value> = match v.as_array() {
        Some(a) => a.iter().collect::<rquickjs::Result<_>>()?,
        None => vec![v],
    };
    let mut parts = Vec::new();
    for item in items {
        let s = text(
            ctx,
            Some(&item),
            what,
            "orderBy takes \"column\", \"column desc\" or an array of them",
        )?;
        let mut words = s.split_whitespace();
        let col = ident(ctx, what, words.next().unwrap_or(""))?;
        let dir = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => "",
            Some("desc") => " DESC",
            Some(other) => {
                return Err(bad(
                    ctx,
                    what,
                    &format!("orderBy direction \"{other}\" must be asc or desc"),
                ))
            }
        };
        if words.next().is_some() {
            return Err(bad(
                ctx,
                what,
                &format!("orderBy item \"{s}\" is not \"column [asc|desc]\""),
            ));
        }
        parts.push(format!("{col}{dir}"));
    }
    Ok(format!(" ORDER BY {}", parts.join(", ")))
}

// ---------------------------------------------------------------- JS <-> SQL values

/// A JS value as a SQL parameter: exact, or a TypeError saying why not.
pub fn arg<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> rquickjs::Result<Arg> {
    if v.is_null() || v.is_undefined() {
        return Ok(Arg::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Arg::Bool(b));
    }
    if let Some(n) = v.as_number() {
        return Ok(Arg::Number(n));
    }
    if let Some(s) = v.as_string() {
        return Ok(Arg::Text(super::js::usv(ctx, s)?));
    }
    if v.is_big_int() {
        // Its decimal text, whatever its size: numeric takes it exactly, and
        // int8 or int4 refuse what does not fit (22003) instead of wrapping it.
        let text: rquickjs::Coerced<String> = v.get()?;
        return Ok(Arg::BigInt(text.0));
    }
    if let Some(kind) = super::js::unconvertible(v) {
        return Err(thrown(
            ctx,
            "TypeError",
            &format!("ctx.db: {kind} cannot be a parameter; convert it first (Object.fromEntries(map), [...set], String(re))"),
            "42804",
        ));
    }
    let raw = v.as_raw();
    // SAFETY: `raw` is borrowed from `v`, which keeps it alive; JS_IsDate only reads its tag.
    if unsafe { qjs::JS_IsDate(raw) } {
        let mut ms = f64::NAN;
        // SAFETY: the context running this host function; `raw` is borrowed, not consumed, and `ms` is a local.
        // (A script may have replaced the Date's valueOf: what it throws is the call's error.)
        if unsafe { qjs::JS_ToFloat64(ctx.as_raw().as_ptr(), &mut ms, raw) } < 0 {
            return Err(rquickjs::Error::Exception);
        }
        return Ok(Arg::Date(ms));
    }
    if let Some(b) = super::js::bytes(v) {
        return Ok(Arg::Bytes(b));
    }
    let json = super::js::strict_json(ctx, "ctx.db", v)?;
    if let Some(a) = v.as_array() {
        let items = a
            .iter::<Value>()
            .map(|i| arg(ctx, &i?))
            .collect::<rquickjs::Result<_>>()?;
        return Ok(Arg::Array(items, json));
    }
    Ok(Arg::Json(json))
}

pub fn rows_to_js<'js>(ctx: &Ctx<'js>, rows: Rows) -> Js<'js> {
    let out = Array::new(ctx.clone())?;
    let names = CallAtoms::new(ctx, rows.columns.iter().map(String::as_str))?;
    for (i, row) in rows.rows.iter().enumerate() {
        let o = Object::new(ctx.clone())?;
        for (name, c) in names.get().iter().zip(row) {
            define(ctx, &o, *name, &cell(ctx, c)?)?;
        }
        out.set(i, o)?;
    }
    Ok(out.into_value())
}

/// A datum as the JS value `cell` makes of its decoded Cell, owned by the
/// caller as a raw value (a typed call's arguments go to `Argv` as such);
/// the scalars a typed call is passed most go straight from the datum, with
/// no copy between.
///
/// # Safety
/// `d` is a non-null datum of the type `how` was made for, alive during the call.
pub unsafe fn datum(
    ctx: &Ctx<'_>,
    d: pgrx::pg_sys::Datum,
    how: &sql::Decoder,
) -> rquickjs::Result<qjs::JSValue> {
    use sql::Decoder;
    let owned = |v: Value<'_>| {
        // SAFETY: the caller's reference, taken before `v` drops its own.
        unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), v.as_raw()) }
    };
    Ok(match how {
        Decoder::Bool => match d.value() {
            0 => qjs::JS_FALSE,
            _ => qjs::JS_TRUE,
        },
        Decoder::Int2 => qjs::JS_MKVAL(qjs::JS_TAG_INT, d.value() as i16 as i32),
        Decoder::Int4 => qjs::JS_MKVAL(qjs::JS_TAG_INT, d.value() as i32),
        Decoder::Float8 => qjs::JS_NewFloat64(f64::from_bits(d.value() as u64)),
        // SAFETY: the caller's text datum.
        Decoder::PlainText => match std::str::from_utf8(unsafe { sql::bytes_of(d) }) {
            // SAFETY: the context of this run; the new string is the caller's.
            Ok(s) => unsafe {
                let v =
                    qjs::JS_NewStringLen(ctx.as_raw().as_ptr(), s.as_ptr().cast(), s.len() as _);
                if qjs::JS_IsException(v) {
                    return Err(rquickjs::Error::Exception);
                }
                v
            },
            // SAFETY: as above.
            Err(_) => owned(cell(ctx, &unsafe { sql::decode(d, how) })?),
        },
        // SAFETY: as above.
        _ => owned(cell(ctx, &unsafe { sql::decode(d, how) })?),
    })
}

pub fn cell<'js>(ctx: &Ctx<'js>, c: &Cell) -> Js<'js> {
    Ok(match c {
        Cell::Null => Value::new_null(ctx.clone()),
        Cell::Bool(b) => Value::new_bool(ctx.clone(), *b),
        Cell::Int(n) => match i32::try_from(*n) {
            Ok(i) => Value::new_int(ctx.clone(), i),
            Err(_) => Value::new_float(ctx.clone(), *n as f64),
        },
        Cell::BigInt(n) => rquickjs::BigInt::from_i64(ctx.clone(), *n)?.into_value(),
        Cell::Float(f) => Value::new_float(ctx.clone(), *f),
        Cell::Text(s) => rquickjs::String::from_str(ctx.clone(), s)?.into_value(),
        Cell::Json(s) => ctx.json_parse(s.as_str())?,
        // SAFETY: JS_NewDate returns a new value owned by this context, which `from_raw` takes over.
        Cell::Date(ms) => unsafe {
            let raw = qjs::JS_NewDate(ctx.as_raw().as_ptr(), *ms);
            if qjs::JS_IsException(raw) {
                return Err(rquickjs::Error::Exception);
            }
            Value::from_raw(ctx.clone(), raw)
        },
        Cell::Bytes(b) => TypedArray::<u8>::new_copy(ctx.clone(), b)?.into_value(),
        Cell::Array(items) => {
            let a = Array::new(ctx.clone())?;
            for (i, item) in items.iter().enumerate() {
                a.set(i, cell(ctx, item)?)?;
            }
            a.into_value()
        }
    })
}
