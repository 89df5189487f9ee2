//! The queue in jsrt.script_executions: claiming due runs, finishing them
//! (with retries and dead letters for events), and taking back the runs of
//! executors that died.

use std::cell::RefCell;

use pgrx::pg_sys;
use pgrx::spi::{OwnedPreparedStatement, Spi, SpiError};

use crate::engine::run::Queued;
use crate::gucs;

/// Claims up to `batch` due runs, at most `per_tenant` of each tenant,
/// starting after tenant `after` so that a tenant with a long queue cannot
/// starve the others. Claimed runs are `running`, with `worker` set, once
/// this transaction commits.
///
/// Two small statements rather than one clever one: each has a plan that
/// stays right however stale the table's statistics are (a queue's always are).
pub fn claim(
    batch: i64,
    per_tenant: i64,
    after: &str,
    worker: &str,
) -> Result<Vec<Queued>, SpiError> {
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        Spi::connect_mut(|client| {
            if plans.is_none() {
                let t = |oid| pgrx::PgOid::from(oid);
                let tenants = client
                    .prepare_mut(TENANTS_SQL, &[t(pg_sys::TEXTOID), t(pg_sys::INT8OID)])?
                    .keep();
                let take = client
                    .prepare_mut(
                        TAKE_SQL,
                        &[t(pg_sys::TEXTOID), t(pg_sys::INT8OID), t(pg_sys::TEXTOID)],
                    )?
                    .keep();
                *plans = Some((tenants, take));
            }
            let Some((tenants, take)) = plans.as_ref() else {
                unreachable!("the plans were just made")
            };
            let mut due = Vec::new();
            for r in client.select(tenants, None, &[after.into(), batch.into()])? {
                due.push(r.get::<String>(1)?.unwrap_or_default());
            }
            let mut out = Vec::new();
            for tenant in due {
                let room = (batch - out.len() as i64).min(per_tenant);
                if room <= 0 {
                    break;
                }
                for r in client.update(
                    take,
                    None,
                    &[tenant.as_str().into(), room.into(), worker.into()],
                )? {
                    out.push(Queued {
                        id: r.get::<String>(1)?.unwrap_or_default(),
                        tenant_id: tenant.clone(),
                        script_id: r.get::<String>(2)?.unwrap_or_default(),
                        trigger: r.get::<String>(3)?.unwrap_or_default(),
                        attempt: r.get::<i32>(4)?.unwrap_or(1),
                        input_json: r.get::<String>(5)?.unwrap_or_else(|| "{}".into()),
                        event_json: r.get::<String>(6)?,
                    });
                }
            }
            Ok(out)
        })
    })
}

thread_local! {
    static PLANS: RefCell<Option<(OwnedPreparedStatement, OwnedPreparedStatement)>> = const { RefCell::new(None) };
}

/// Tenants with pending runs after $1, in order: a skip scan of the pending index.
const TENANTS_SQL: &str = "WITH RECURSIVE tenants(tenant_id) AS (
        (SELECT e.tenant_id FROM jsrt.script_executions e
          WHERE e.status = 'pending' AND e.tenant_id > $1::uuid ORDER BY e.tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT e.tenant_id FROM jsrt.script_executions e
                 WHERE e.status = 'pending' AND e.tenant_id > t.tenant_id ORDER BY e.tenant_id LIMIT 1)
          FROM tenants t WHERE t.tenant_id IS NOT NULL)
    SELECT tenant_id::text FROM tenants WHERE tenant_id IS NOT NULL LIMIT $2";

/// Takes up to $2 due runs of tenant $1, skipping those others hold. No
/// ORDER BY: sorting a long queue on every claim costs more than strict
/// order is worth; the index gives them about in the order they were queued.
const TAKE_SQL: &str =
    "UPDATE jsrt.script_executions e SET status = 'running', worker = $3, started_at = now()
     WHERE e.id = ANY (ARRAY (
         SELECT p.id FROM jsrt.script_executions p
          WHERE p.tenant_id = $1::uuid AND p.status = 'pending' AND p.run_after <= now()
          LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING e.id::text, e.script_id::text, e.trigger_type::text, e.attempt, e.input::text,
              CASE WHEN e.trigger_type = 'event' THEN e.trigger_data::text END";

/// After a failed event run: the next attempt, after 2, 4, 8 s (doubling from
/// jsrt.event_retry_base_ms), or a dead letter once jsrt.event_max_retries
/// retries have failed. `execution` is the failed run, already recorded.
pub fn retry_or_dead_letter(execution: &str) -> Result<(), SpiError> {
    Spi::run_with_args(
        "WITH failed AS (SELECT * FROM jsrt.script_executions WHERE id = $1::uuid AND trigger_type = 'event'),
         retry AS (
             INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data, input,
                                                attempt, run_after, parent_execution_id, version_number)
             SELECT f.script_id, f.tenant_id, 'pending', 'event', f.trigger_data, f.input, f.attempt + 1,
                    now() + make_interval(secs => $3 / 1000.0 * 2 ^ (f.attempt - 1)), f.id, f.version_number
               FROM failed f WHERE f.attempt <= $2)
         INSERT INTO jsrt.script_event_dead_letters(script_id, tenant_id, execution_id, event_type, event_data, error,
                                                    retry_count)
         SELECT f.script_id, f.tenant_id, f.id, coalesce(f.trigger_data->>'event_type', ''),
                jsonb_build_object('event', f.trigger_data, 'payload', f.input),
                coalesce(f.error, 'failed'), f.attempt - 1
           FROM failed f WHERE f.attempt > $2",
        &[
            execution.into(),
            gucs::event_max_retries().into(),
            gucs::event_retry_base_ms().into(),
        ],
    )
}

/// A retried dead letter whose run completed is done with.
pub fn clear_dead_letter(execution: &str) -> Result<(), SpiError> {
    Spi::run_with_args(
        "DELETE FROM jsrt.script_event_dead_letters d USING jsrt.script_executions e
          WHERE e.id = $1::uuid AND e.trigger_data ? 'dead_letter_id' AND d.id = (e.trigger_data->>'dead_letter_id')::uuid",
        &[execution.into()],
    )
}

/// Runs left `running` by executors that are gone (killed, or the server
/// restarted): each is recorded as failed and, for events, takes the retry
/// path; never while its executor lives.
pub fn recover() -> Result<Vec<String>, SpiError> {
    Spi::connect_mut(|client| {
        let rows = client.update(
            "UPDATE jsrt.script_executions e
                SET status = 'failed', completed_at = now(),
                    error = 'the executor running it stopped (' || coalesce(e.worker, 'unknown') || ')'
              WHERE e.status = 'running'
                AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                 WHERE a.pid::text = split_part(e.worker, ' ', 2) AND a.backend_type LIKE 'jsrt%')
             RETURNING e.id::text",
            None,
            &[],
        )?;
        let mut ids = Vec::new();
        for r in rows {
            ids.push(r.get::<String>(1)?.unwrap_or_default());
        }
        Ok(ids)
    })
}
