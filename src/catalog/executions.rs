//! Writing the record of a run into jsrt.script_executions: a new row, or
//! the queued run's own row.

use std::cell::RefCell;

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, Spi};
use serde::{Deserialize, Serialize};

use crate::error::Error;

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
