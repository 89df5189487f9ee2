//! The queue in jsrt.script_executions: claiming due runs, finishing them
//! (with retries and dead letters for events), and taking back the runs of
//! executors that died.

use pgrx::spi::{Spi, SpiError};

use crate::engine::run::Queued;
use crate::gucs;

/// Claims up to `batch` due runs, a few per tenant, starting after tenant
/// `after` so that a tenant with a long queue cannot starve the others.
/// Claimed runs are `running`, with `worker` set, once this transaction commits.
pub fn claim(batch: i64, per_tenant: i64, after: &str, worker: &str) -> Result<Vec<Queued>, SpiError> {
    Spi::connect_mut(|client| {
        let rows = client.update(
            "WITH RECURSIVE tenants(tenant_id) AS (
                 (SELECT e.tenant_id FROM jsrt.script_executions e
                   WHERE e.status = 'pending' AND e.tenant_id > $3::uuid ORDER BY e.tenant_id LIMIT 1)
                 UNION ALL
                 SELECT (SELECT e.tenant_id FROM jsrt.script_executions e
                          WHERE e.status = 'pending' AND e.tenant_id > t.tenant_id ORDER BY e.tenant_id LIMIT 1)
                   FROM tenants t WHERE t.tenant_id IS NOT NULL),
             picked AS (
                 SELECT x.id FROM tenants t CROSS JOIN LATERAL (
                     SELECT e.id FROM jsrt.script_executions e
                      WHERE e.tenant_id = t.tenant_id AND e.status = 'pending' AND e.run_after <= now()
                      ORDER BY e.run_after, e.id LIMIT $2 FOR UPDATE SKIP LOCKED) x
                  WHERE t.tenant_id IS NOT NULL
                  LIMIT $1)
             UPDATE jsrt.script_executions e SET status = 'running', worker = $4, started_at = now()
               FROM picked WHERE e.id = picked.id
             RETURNING e.id::text, e.tenant_id::text, e.script_id::text, e.trigger_type::text, e.attempt,
                       e.input::text, CASE WHEN e.trigger_type = 'event' THEN e.trigger_data::text END",
            None,
            &[batch.into(), per_tenant.into(), after.into(), worker.into()],
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(Queued {
                id: r.get::<String>(1)?.unwrap_or_default(),
                tenant_id: r.get::<String>(2)?.unwrap_or_default(),
                script_id: r.get::<String>(3)?.unwrap_or_default(),
                trigger: r.get::<String>(4)?.unwrap_or_default(),
                attempt: r.get::<i32>(5)?.unwrap_or(1),
                input_json: r.get::<String>(6)?.unwrap_or_else(|| "{}".into()),
                event_json: r.get::<String>(7)?,
            });
        }
        Ok(out)
    })
}

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
