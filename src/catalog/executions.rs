//! The life of a row of jsrt.script_executions, every statement the Rust
//! side makes on it (ARCHITECTURE.md has the diagram): the record of a run
//! (a new row, or the queued run's own row), claiming due runs, finishing
//! them (with retries and dead letters for events), putting back runs that
//! did not start, and taking back the runs of executors that died. Rows are
//! queued by SQL: jsrt.execute_async, the events fan-out and jsrt.run_due.

use std::cell::RefCell;

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, Spi, SpiError};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::gucs;

/// One finished run, as stored. JSON columns travel as JSON text.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Record {
    pub id: String,
    pub tenant_id: String,
    pub script_id: String,
    pub version: i32,
    pub status: String,
    pub trigger_type: String,
    /// JSON text; None keeps what the row has (queued runs)
    pub trigger_data: Option<String>,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub error_detail: Option<String>,
    pub metrics: String,
    pub logs: String,
    pub attempt: i32,
    /// Postgres timestamps: microseconds since 2000-01-01 UTC
    pub started_at: i64,
    pub completed_at: i64,
    /// the transaction that created the script, while it was not committed:
    /// the recorder waits for it, and drops the record if it rolls back
    #[serde(default)]
    pub script_xid: Option<u32>,
}

const INSERT: &str = "INSERT INTO jsrt.script_executions
    (id, tenant_id, script_id, version_number, status, trigger_type, input, output, error, error_detail,
     metrics, logs, attempt, started_at, completed_at, trigger_data)
    VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10::jsonb,
            $11::jsonb, $12::jsonb, $13, $14, $15, coalesce($16::jsonb, '{}'))
    ON CONFLICT (id) DO UPDATE SET
        version_number = EXCLUDED.version_number, status = EXCLUDED.status, output = EXCLUDED.output,
        error = EXCLUDED.error, error_detail = EXCLUDED.error_detail, metrics = EXCLUDED.metrics,
        logs = EXCLUDED.logs, started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at";

thread_local! {
    static PLAN: RefCell<Option<OwnedPreparedStatement>> = const { RefCell::new(None) };
}

/// Inserts the record in the current transaction.
pub fn insert(r: &Record) -> Result<(), Error> {
    let ts = |t: i64| TimestampWithTimeZone::try_from(t).ok();
    PLAN.with(|slot| {
        let mut slot = slot.borrow_mut();
        Spi::connect_mut(|client| -> Result<(), pgrx::spi::SpiError> {
            if slot.is_none() {
                use pg_sys::{INT4OID, TEXTOID, TIMESTAMPTZOID};
                let t = pgrx::PgOid::from;
                let types = [
                    t(TEXTOID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(INT4OID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(TEXTOID),
                    t(INT4OID),
                    t(TIMESTAMPTZOID),
                    t(TIMESTAMPTZOID),
                    t(TEXTOID),
                ];
                *slot = Some(client.prepare_mut(INSERT, &types)?.keep());
            }
            let Some(plan) = slot.as_ref() else {
                unreachable!("the plan was just made")
            };
            client.update(
                plan,
                None,
                &[
                    r.id.as_str().into(),
                    r.tenant_id.as_str().into(),
                    r.script_id.as_str().into(),
                    r.version.into(),
                    r.status.as_str().into(),
                    r.trigger_type.as_str().into(),
                    r.input.as_str().into(),
                    r.output.as_deref().into(),
                    r.error.as_deref().into(),
                    r.error_detail.as_deref().into(),
                    r.metrics.as_str().into(),
                    r.logs.as_str().into(),
                    r.attempt.into(),
                    ts(r.started_at).into(),
                    ts(r.completed_at).into(),
                    r.trigger_data.as_deref().into(),
                ],
            )?;
            Ok(())
        })
    })
    .map_err(|e| Error::Internal(format!("writing jsrt.script_executions: {e}")))
}

/// A queued run: its row, as an executor claimed it.
pub struct Queued {
    pub id: String,
    pub tenant_id: String,
    pub script_id: String,
    pub trigger: String,
    pub attempt: i32,
    pub input_json: String,
    /// trigger_data of event runs: ctx.event
    pub event_json: Option<String>,
    /// its place under the tenant's concurrency cap is taken already (by the claiming executor)
    pub tenant_counted: bool,
}

/// Claims the next due run, going round the tenants from the one after
/// `after` so that a tenant with a long queue cannot starve the others, and
/// skipping tenants `admit` refuses (those at their concurrency cap). The run
/// is `running`, with `worker` set, once this transaction commits: claim only
/// what is about to start, so that an idle executor never waits while another
/// holds unstarted claims, and `running` means started.
///
/// `admit(tenant, its max_concurrent_runs override)` may reserve a place
/// for the tenant; it gets the run (or None when no run of it was free).
///
/// Two small statements rather than one clever one: each has a plan that
/// stays right however stale the table's statistics are (a queue's always are).
pub fn claim<T>(
    after: &str,
    worker: &str,
    mut admit: impl FnMut(&str, Option<i32>) -> Option<T>,
) -> Result<Option<(Queued, T)>, SpiError> {
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        Spi::connect_mut(|client| {
            if plans.is_none() {
                let t = |oid| pgrx::PgOid::from(oid);
                let tenants = client
                    .prepare_mut(TENANTS_SQL, &[t(pg_sys::TEXTOID), t(pg_sys::INT8OID)])?
                    .keep();
                let take = client
                    .prepare_mut(TAKE_SQL, &[t(pg_sys::TEXTOID), t(pg_sys::TEXTOID)])?
                    .keep();
                *plans = Some((tenants, take));
            }
            let Some((tenants, take)) = plans.as_ref() else {
                unreachable!("the plans were just made")
            };
            let mut due = Vec::new();
            for r in client.select(tenants, None, &[after.into(), TENANTS_PER_CLAIM.into()])? {
                due.push((r.get::<String>(1)?.unwrap_or_default(), r.get::<i32>(2)?));
            }
            for (tenant, cap) in due {
                let Some(place) = admit(&tenant, cap) else {
                    continue;
                };
                if let Some(r) = client
                    .update(take, None, &[tenant.as_str().into(), worker.into()])?
                    .next()
                {
                    let queued = Queued {
                        id: r.get::<String>(1)?.unwrap_or_default(),
                        tenant_id: tenant.clone(),
                        script_id: r.get::<String>(2)?.unwrap_or_default(),
                        trigger: r.get::<String>(3)?.unwrap_or_default(),
                        attempt: r.get::<i32>(4)?.unwrap_or(1),
                        input_json: r.get::<String>(5)?.unwrap_or_else(|| "{}".into()),
                        event_json: r.get::<String>(6)?,
                        tenant_counted: false,
                    };
                    return Ok(Some((queued, place)));
                }
            }
            Ok(None)
        })
    })
}

/// Tenants with due work looked at by one claim: past them (all at their
/// cap, or their runs held by others) the executor waits for the next wake-up.
const TENANTS_PER_CLAIM: i64 = 64;

thread_local! {
    static PLANS: RefCell<Option<(OwnedPreparedStatement, OwnedPreparedStatement)>> = const { RefCell::new(None) };
}

/// Active tenants with pending runs after $1, in order, with their cap
/// override: a skip scan of the pending index. A suspended or moved tenant's
/// runs wait (jsrt.set_tenant_state).
const TENANTS_SQL: &str = "WITH RECURSIVE tenants(tenant_id) AS (
        (SELECT e.tenant_id FROM jsrt.script_executions e
          WHERE e.status = 'pending' AND e.tenant_id > $1::uuid ORDER BY e.tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT e.tenant_id FROM jsrt.script_executions e
                 WHERE e.status = 'pending' AND e.tenant_id > t.tenant_id ORDER BY e.tenant_id LIMIT 1)
          FROM tenants t WHERE t.tenant_id IS NOT NULL)
    SELECT x.tenant_id::text, n.max_concurrent_runs
      FROM tenants x JOIN jsrt.tenants n ON n.id = x.tenant_id
     WHERE x.tenant_id IS NOT NULL AND n.state = 'active' LIMIT $2";

/// Takes one due run of tenant $1, skipping those others hold. No ORDER BY:
/// sorting a long queue on every claim costs more than strict order is
/// worth; the index gives them about in the order they were queued.
const TAKE_SQL: &str =
    "UPDATE jsrt.script_executions e SET status = 'running', worker = $2, started_at = clock_timestamp()
     WHERE e.id = (
         SELECT p.id FROM jsrt.script_executions p
          WHERE p.tenant_id = $1::uuid AND p.status = 'pending' AND p.run_after <= now()
          LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING e.id::text, e.script_id::text, e.trigger_type::text, e.attempt, e.input::text,
              CASE WHEN e.trigger_type = 'event' THEN e.trigger_data::text END";

/// After a failed event run: the next attempt, after 2, 4, 8 s (doubling from
/// jsrt.event_retry_base_ms), or a dead letter once jsrt.event_max_retries
/// retries have failed. After a failed cron run of a script with a retry
/// policy (option `retry`): the next attempt, backoff_ms after the failure
/// (clock_timestamp: now() is when the failed run's transaction began),
/// doubling, while attempts last; no dead letter, the next due time comes anyway.
/// `execution` is the failed run, already recorded.
pub fn retry_or_dead_letter(execution: &str) -> Result<(), SpiError> {
    Spi::run_with_args(
        "WITH failed AS (SELECT * FROM jsrt.script_executions WHERE id = $1::uuid AND trigger_type = 'event'),
         cron_retry AS (
             INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data, input,
                                                attempt, run_after, parent_execution_id, version_number)
             SELECT f.script_id, f.tenant_id, 'pending', 'cron', f.trigger_data, f.input, f.attempt + 1,
                    clock_timestamp() + make_interval(secs => coalesce((s.retry->>'backoff_ms')::float8, 0) / 1000.0 * 2 ^ (f.attempt - 1)),
                    f.id, f.version_number
               FROM jsrt.script_executions f JOIN jsrt.scripts s ON s.id = f.script_id
              WHERE f.id = $1::uuid AND f.trigger_type = 'cron' AND f.status IN ('failed', 'timeout')
                AND f.attempt < coalesce((s.retry->>'attempts')::integer, 1)),
         retry AS (
             INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data, input,
                                                attempt, run_after, parent_execution_id, version_number)
             SELECT f.script_id, f.tenant_id, 'pending', 'event', f.trigger_data, f.input, f.attempt + 1,
                    clock_timestamp() + make_interval(secs => $3 / 1000.0 * 2 ^ (f.attempt - 1)), f.id, f.version_number
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

/// Runs left `running` by executors that are gone (killed, the server
/// restarted, or a standby promoted after its primary died): each is
/// recorded as failed and, for events, takes the retry path; never while its
/// executor lives. A live jsrt process with the dead one's pid (pids are
/// reused, and a promoted standby on the same machine shares them) is not
/// its executor if it started after the claim.
pub fn recover() -> Result<Vec<String>, SpiError> {
    Spi::connect_mut(|client| {
        // (the statement is SQL's, sql/queue.sql, so that tests/isolation can race it)
        let rows = client.update("SELECT id::text FROM jsrt._recover_runs() id", None, &[])?;
        let mut ids = Vec::new();
        for r in rows {
            ids.push(r.get::<String>(1)?.unwrap_or_default());
        }
        Ok(ids)
    })
}

/// A run that could not be recorded the normal way (its transaction failed
/// outside the script): failed, with `message`; an event run takes the retry path.
pub fn fail(id: &str, message: &str) -> Result<(), SpiError> {
    Spi::run_with_args(
        "UPDATE jsrt.script_executions SET status = 'failed', error = $2, completed_at = now() WHERE id = $1::uuid",
        &[id.into(), message.into()],
    )?;
    retry_or_dead_letter(id)
}

/// Puts back a claimed run that did not get to run (its script at
/// max_concurrent_runs, or a shutdown), to try again shortly; not an attempt.
/// An event run of a paused script is held instead (run_after 'infinity',
/// released when the script is active again: sql/queue.sql).
pub fn requeue(id: &str) -> Result<(), SpiError> {
    Spi::run_with_args(
        "UPDATE jsrt.script_executions e SET status = 'pending', worker = NULL,
                run_after = CASE WHEN e.trigger_type = 'event'
                                  AND (SELECT s.status FROM jsrt.scripts s WHERE s.id = e.script_id) = 'paused'
                                 THEN 'infinity' ELSE now() + interval '50 ms' END
          WHERE e.id = $1::uuid",
        &[id.into()],
    )
}

/// The error of a run jsrt.cancel stopped before it started (as jsrt.cancel words it).
pub const CANCELLED_BEFORE_START: &str = "the run was cancelled (jsrt.cancel) before it started";

/// A claimed run that was cancelled before it started: its writes, if any, are rolled back.
pub fn mark_cancelled(id: &str) -> Result<(), SpiError> {
    Spi::run_with_args(
        "UPDATE jsrt.script_executions SET status = 'cancelled', error = $2, completed_at = now()
          WHERE id = $1::uuid",
        &[id.into(), CANCELLED_BEFORE_START.into()],
    )
}

/// The error of a run jsrt.cancel stopped once it had started.
pub const CANCELLED: &str = crate::engine::failure::CANCELLED_BY_REQUEST;

/// A run jsrt.cancel stopped after it started, whose own record was not
/// written (its transaction rolled back, or it ended otherwise meanwhile).
pub fn mark_cancelled_running(id: &str) -> Result<(), SpiError> {
    Spi::run_with_args(
        "UPDATE jsrt.script_executions SET status = 'cancelled', error = $2, completed_at = now()
          WHERE id = $1::uuid",
        &[id.into(), CANCELLED.into()],
    )
}
