//! `jsrt.dry_run`: a script, or an edited source of it, run against the
//! tenant's real data in a subtransaction that is always rolled back. It
//! says what the run returned, logged and failed with, and which rows it
//! would have written: per table and operation, a count and a sample.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use super::jsonb::JsonArg;
use crate::engine::host::http::RefuseHttp;
use crate::engine::run;
use crate::error::{Error, OrRaise};
use crate::{subxact, tenancy};

/// Rows of each written table shown as a sample.
const SAMPLE_ROWS: i64 = 3;

#[pg_extern]
fn dry_run(
    // (Options: with some arguments nullable the function is not STRICT, and
    // pgrx would refuse a NULL one with an internal error, XX000)
    script: Option<&str>,
    source: default!(Option<&str>, "NULL"),
    input: default!(Option<JsonArg>, "'{}'"),
    allow_http: default!(Option<bool>, false),
) -> JsonB {
    crate::version::ensure();
    let Some(script) = script else {
        Error::Invalid("script must not be null: give a script name or id".into()).raise()
    };
    let Some(allow_http) = allow_http else {
        Error::Invalid("allow_http must not be null: give true or false".into()).raise()
    };
    if tenancy::in_script_sql() {
        Error::Forbidden("a script cannot start a dry run".into()).raise();
    }
    crate::standby::refuse_runs().or_raise();
    let input = input.map(|j| j.0).unwrap_or_else(|| json!({})).to_string();
    let before = counts().or_raise();
    // The transaction's own id: rows it (and its subtransactions) wrote are
    // the ones whose xmin is in progress and not older than it.
    let first_xid = Spi::get_one::<String>("SELECT pg_catalog.pg_current_xact_id()::text")
        .ok()
        .flatten()
        .unwrap_or_default();
    let ran = subxact::run_if(
        AssertUnwindSafe(|| {
            let _no_http = (!allow_http).then(RefuseHttp::new);
            let r = run::execute_dry(script, source, &input);
            let writes = r
                .as_ref()
                .ok()
                .map(|_| writes(&before, &first_xid))
                .transpose();
            (r, writes)
        }),
        // always rolled back
        |_| false,
    );
    let (r, writes) = match ran {
        Ok(x) => x,
        Err(c) => Error::Postgres {
            code: c.code,
            message: c.message,
        }
        .raise(),
    };
    let r = r.or_raise();
    let writes = writes.or_raise().unwrap_or_default();
    let mut out = json!({
        "ok": r.outcome.is_ok(),
        "logs": r.logs,
        "duration_ms": (r.duration_ms * 1000.0).round() / 1000.0,
        "writes": writes,
        "rolled_back": true,
    });
    match r.outcome {
        Ok(output) => {
            out["output"] = output
                .and_then(|o| serde_json::from_str(&o).ok())
                .unwrap_or(Value::Null)
        }
        Err(f) => {
            out["output"] = Value::Null;
            out["error"] = json!({"name": f.name, "message": f.message, "line": f.line,
                                  "column": f.column, "stack": f.stack, "kind": f.kind});
        }
    }
    JsonB(out)
}

type Counts = HashMap<u32, (String, [i64; 3])>;

/// Rows inserted, updated and deleted so far in this transaction, by table.
fn counts() -> Result<Counts, Error> {
    tenancy::as_owner(|| {
        Spi::connect(|c| {
            let rows = c.select(
                "SELECT relid::oid::int8, format('%I.%I', schemaname, relname), n_tup_ins, n_tup_upd, n_tup_del
                   FROM pg_catalog.pg_stat_xact_all_tables
                  WHERE schemaname NOT IN ('pg_catalog', 'pg_toast', 'information_schema')
                    AND n_tup_ins + n_tup_upd + n_tup_del > 0",
                None,
                &[],
            )?;
            let mut out = Counts::new();
            for r in rows {
                let oid = r.get::<i64>(1)?.unwrap_or_default() as u32;
                let name = r.get::<String>(2)?.unwrap_or_default();
                let n = [
                    r.get::<i64>(3)?.unwrap_or_default(),
                    r.get::<i64>(4)?.unwrap_or_default(),
                    r.get::<i64>(5)?.unwrap_or_default(),
                ];
                out.insert(oid, (name, n));
            }
            Ok::<_, pgrx::spi::SpiError>(out)
        })
    })
    .map_err(|e| Error::Internal(format!("reading the transaction's table counters: {e}")))
}

/// What the run wrote: per table and operation, a count, and a sample of
/// the rows inserted or updated (rows this transaction wrote).
fn writes(before: &Counts, first_xid: &str) -> Result<Vec<Value>, Error> {
    let after = counts()?;
    let mut out = Vec::new();
    let mut tables: Vec<_> = after.iter().collect();
    tables.sort_by(|a, b| a.1 .0.cmp(&b.1 .0));
    for (oid, (name, n)) in tables {
        let was = before.get(oid).map(|b| b.1).unwrap_or_default();
        let sample = if n[0] > was[0] || n[1] > was[1] {
            sample(name, first_xid)?
        } else {
            Value::Array(vec![])
        };
        for (i, op) in ["insert", "update", "delete"].iter().enumerate() {
            let count = n[i] - was[i];
            if count > 0 {
                let rows = if i < 2 { sample.clone() } else { json!([]) };
                out.push(json!({"table": name, "operation": op, "count": count, "sample": rows}));
            }
        }
    }
    Ok(out)
}

/// Up to SAMPLE_ROWS rows of `table` that this transaction wrote (their
/// xmin is this transaction or one of its subtransactions: in progress, and
/// not older than its first xid). Read as the owner: only this
/// transaction's rows can match, so no other tenant's row is shown.
fn sample(table: &str, first_xid: &str) -> Result<Value, Error> {
    let sql = format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM (
           SELECT * FROM {table} t
            WHERE CASE WHEN t.xmin::text::int8 >= $1::int8 % 4294967296
                       THEN pg_catalog.pg_xact_status((($1::int8 >> 32 << 32) | t.xmin::text::int8)::text::xid8) = 'in progress'
                       ELSE false END
            LIMIT {SAMPLE_ROWS}) t"
    );
    tenancy::as_owner(|| {
        Spi::get_one_with_args::<JsonB>(&sql, &[first_xid.into()])
            .map(|j| j.map(|j| j.0).unwrap_or(Value::Null))
    })
    .map_err(|e| Error::Internal(format!("sampling the rows written to {table}: {e}")))
}
