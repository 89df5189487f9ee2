//! ctx.cache: `get(key)`, `set(key, value, ttlSeconds)` and `delete(key)`,
//! JSON values shared by the tenant's runs in every backend (the unlogged
//! table jsrt.cache). Writes belong to the run's transaction.

use pgrx::spi::Spi;
use rquickjs::{Ctx, Object, Value};

use super::super::sandbox::Watch;
use super::js::{as_owner, bad, method, no_row_is_none, text, thrown};
use crate::gucs;

const MAX_KEY_CHARS: usize = 512;
const DEFAULT_TTL_S: f64 = 3600.0;
const MAX_TTL_S: f64 = 30.0 * 86400.0;

pub fn make<'js>(ctx: &Ctx<'js>, watch: &std::rc::Rc<Watch>) -> rquickjs::Result<Object<'js>> {
    let cache = Object::new(ctx.clone())?;
    method(ctx, &cache, watch, "get", |ctx, _, a| {
        let key = key(ctx, "ctx.cache.get", a.first())?;
        let tenant = super::tenant();
        let found = as_owner(ctx, "ctx.cache.get", || {
            no_row_is_none(Spi::get_one_with_args::<String>(
                "SELECT value::text FROM jsrt.cache
                  WHERE tenant_id = $1::uuid AND key = $2 AND expires_at > clock_timestamp()",
                &[tenant.as_str().into(), key.as_str().into()],
            ))
        })?;
        match found {
            Some(json) => ctx.json_parse(json),
            None => Ok(Value::new_null(ctx.clone())),
        }
    })?;
    method(ctx, &cache, watch, "set", |ctx, _, a| {
        const WHAT: &str = "ctx.cache.set";
        let key = key(ctx, WHAT, a.first())?;
        let value = match a.get(1) {
            Some(v) if !v.is_undefined() && !v.is_function() => ctx
                .json_stringify(v.clone())?
                .map(|s| s.to_string())
                .transpose()?,
            _ => None,
        }
        .ok_or_else(|| {
            bad(
                ctx,
                WHAT,
                "the value must be JSON (not undefined or a function)",
            )
        })?;
        let ttl = match a.get(2) {
            None => DEFAULT_TTL_S,
            Some(v) if v.is_undefined() => DEFAULT_TTL_S,
            Some(v) => v
                .as_number()
                .filter(|n| *n > 0.0 && *n <= MAX_TTL_S)
                .ok_or_else(|| {
                    bad(
                        ctx,
                        WHAT,
                        &format!("\"ttlSeconds\" must be a number above 0 and at most {MAX_TTL_S}"),
                    )
                })?,
        };
        let cap = gucs::cache_max_value_bytes();
        if value.len() > cap {
            return Err(thrown(
                ctx,
                "RangeError",
                &format!("{WHAT}: the value is {} bytes of JSON, over jsrt.cache_max_value_bytes ({cap})", value.len()),
                "54000",
            ));
        }
        let tenant = super::tenant();
        let tenant_cap = gucs::cache_max_tenant_bytes();
        let stored = as_owner(ctx, WHAT, || {
            no_row_is_none(Spi::get_one_with_args::<bool>(
                "WITH used AS (
                    SELECT coalesce(sum(bytes), 0) AS bytes FROM jsrt.cache
                     WHERE tenant_id = $1::uuid AND key <> $2 AND expires_at > clock_timestamp())
                 INSERT INTO jsrt.cache AS c (tenant_id, key, value, bytes, expires_at)
                 SELECT $1::uuid, $2, $3::jsonb, $4, clock_timestamp() + make_interval(secs => $5)
                   FROM used WHERE used.bytes + $4 <= $6
                 ON CONFLICT (tenant_id, key) DO UPDATE
                    SET value = excluded.value, bytes = excluded.bytes, expires_at = excluded.expires_at
                 RETURNING true",
                &[
                    tenant.as_str().into(),
                    key.as_str().into(),
                    value.as_str().into(),
                    (value.len() as i32).into(),
                    ttl.into(),
                    tenant_cap.into(),
                ],
            ))
        })?;
        if stored != Some(true) {
            return Err(thrown(
                ctx,
                "RangeError",
                &format!("{WHAT}: the tenant's cache would pass jsrt.cache_max_tenant_bytes ({tenant_cap} bytes)"),
                "54000",
            ));
        }
        Ok(Value::new_bool(ctx.clone(), true))
    })?;
    method(ctx, &cache, watch, "delete", |ctx, _, a| {
        let key = key(ctx, "ctx.cache.delete", a.first())?;
        let tenant = super::tenant();
        let gone = as_owner(ctx, "ctx.cache.delete", || {
            Spi::get_one_with_args::<bool>(
                "WITH gone AS (DELETE FROM jsrt.cache WHERE tenant_id = $1::uuid AND key = $2
                                RETURNING expires_at > clock_timestamp() AS live)
                 SELECT coalesce(bool_or(live), false) FROM gone",
                &[tenant.as_str().into(), key.as_str().into()],
            )
        })?;
        Ok(Value::new_bool(ctx.clone(), gone == Some(true)))
    })?;
    super::js::freeze(ctx, &cache);
    Ok(cache)
}

fn key(ctx: &Ctx<'_>, what: &str, v: Option<&Value<'_>>) -> rquickjs::Result<String> {
    let k = text(ctx, v, what, "the key must be a string")?;
    if k.is_empty() || k.chars().count() > MAX_KEY_CHARS {
        return Err(bad(
            ctx,
            what,
            &format!("the key must be 1 to {MAX_KEY_CHARS} characters"),
        ));
    }
    Ok(k)
}
