//! ctx.events.publish(type, payload): an event written in the run's own
//! transaction, one level deeper than the event that started the run; and
//! ctx.event, the event that started an event run.

use pgrx::spi::Spi;
use rquickjs::function::Rest;
use rquickjs::object::Property;
use rquickjs::{Ctx, Function, Object, Value};

use super::js::{as_owner, bad, text, thrown};

/// ctx.event from the run's trigger data (`{event_id, event_type, depth,
/// emitted_at}` as the queue stores it): `{id, type, payload, depth,
/// emittedAt}`, camelCase like the rest of ctx, the payload being ctx.input.
/// The names of 0.1 stay until 0.2 as deprecated aliases, not enumerable, so
/// that JSON.stringify(ctx.event) shows the new shape only. Other keys of the
/// trigger data (dead_letter_id on a retried dead letter) are kept as they are.
pub fn ctx_event<'js>(
    ctx: &Ctx<'js>,
    trigger_data: &str,
    payload: Value<'js>,
) -> rquickjs::Result<Value<'js>> {
    const RENAMED: [(&str, &str); 4] = [
        ("event_id", "id"),
        ("event_type", "type"),
        ("depth", "depth"),
        ("emitted_at", "emittedAt"),
    ];
    let data = ctx.json_parse(trigger_data)?;
    let Some(d) = data.as_object() else {
        return Ok(data);
    };
    let event = Object::new(ctx.clone())?;
    let old = |k: &str| d.get::<_, Value>(k);
    event.set("id", old("event_id")?)?;
    event.set("type", old("event_type")?)?;
    event.set("payload", payload)?;
    event.set("depth", old("depth")?)?;
    event.set("emittedAt", old("emitted_at")?)?;
    for (was, _) in RENAMED.iter().filter(|(was, now)| was != now) {
        event.prop(*was, Property::from(old(was)?))?;
    }
    for k in d.keys::<String>() {
        let k = k?;
        if !RENAMED.iter().any(|(was, _)| *was == k) {
            event.set(k.as_str(), old(&k)?)?;
        }
    }
    Ok(event.into_value())
}

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
