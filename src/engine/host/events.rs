//! ctx.events.publish(type, payload): an event written in the run's own
//! transaction, one level deeper than the event that started the run.

use pgrx::spi::Spi;
use rquickjs::function::Rest;
use rquickjs::{Ctx, Function, Object, Value};

use super::js::{as_owner, bad, text, thrown};

pub fn make<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let events = Object::new(ctx.clone())?;
    let publish = Function::new(ctx.clone(), |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        let _host = crate::engine::watchdog::Host::enter();
        publish(&ctx, &args.0)
    })?;
    events.set("publish", publish)?;
    super::js::freeze(ctx, &events);
    Ok(events)
}

fn publish<'js>(ctx: &Ctx<'js>, args: &[Value<'js>]) -> rquickjs::Result<Value<'js>> {
    const WHAT: &str = "ctx.events.publish";
    let event_type = text(ctx, args.first(), WHAT, "the event type must be a string")?;
    // The insert below runs as the owner, whom the outbox lets write jsrt.* types: refuse them here.
    if event_type.starts_with("jsrt.") {
        return Err(thrown(
            ctx,
            "DatabaseError",
            &format!(
                "{WHAT}: event type \"{event_type}\" is reserved for the system (failure alerts)"
            ),
            "42501",
        ));
    }
    let payload = match args.get(1) {
        None => "{}".to_string(),
        Some(v) if v.is_undefined() => "{}".to_string(),
        Some(v) if v.is_object() && !v.is_array() && !v.is_function() => ctx
            .json_stringify(v.clone())?
            .map(|s| s.to_string())
            .transpose()?
            .unwrap_or_else(|| "{}".into()),
        Some(_) => return Err(bad(ctx, WHAT, "the payload must be an object")),
    };
    super::count_call(WHAT, super::Api::Other)
        .map_err(|m| thrown(ctx, "RangeError", &m, "54000"))?;
    let (parent, depth) = super::lineage();
    let tenant = super::tenant();
    // SAFETY: the GUC level opened here is closed below, or by the subtransaction's rollback if the insert raises.
    let id = as_owner(ctx, WHAT, || unsafe {
        // The fan-out trigger links the runs it queues to this one; the setting ends here.
        let level = pgrx::pg_sys::NewGUCNestLevel();
        let id = Spi::get_one_with_args::<i64>(
            // The INSERT in a CTE runs to completion (its statement triggers check
            // and fan out) though only one row is fetched.
            "WITH parent AS (SELECT set_config('jsrt.parent_execution', $4, true)),
                  ins AS (INSERT INTO jsrt.events(tenant_id, event_type, payload, depth)
                          SELECT $1::uuid, $2, $3::jsonb, $5 FROM parent RETURNING id)
             SELECT id FROM ins",
            &[
                tenant.as_str().into(),
                event_type.as_str().into(),
                payload.as_str().into(),
                parent.as_str().into(),
                (depth + 1).into(),
            ],
        );
        pgrx::pg_sys::AtEOXact_GUC(false, level);
        id
    })?;
    match id {
        Some(id) => Ok(Value::new_float(ctx.clone(), id as f64)),
        None => Err(thrown(
            ctx,
            "DatabaseError",
            &format!("{WHAT}: no event was written"),
            "XX000",
        )),
    }
}
