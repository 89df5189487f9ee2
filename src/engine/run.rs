//! The one execution pipeline: resolve, check, run under limits, record.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use pgrx::pg_sys;
use serde_json::json;

use super::failure::{Failure, FailureKind};
use super::sandbox::{remove_least_recent, RunRequest, TenantRuntime};
use super::{compile, ids};
use crate::catalog::executions::{self, Record};
use crate::catalog::scripts::{self, Script};
use crate::error::Error;
use crate::{gucs, workers::recorder};

thread_local! {
    static RUNTIMES: RefCell<HashMap<String, TenantRuntime>> = RefCell::new(HashMap::new());
    static BYTECODE: RefCell<HashMap<(String, i32), Bytecode>> = RefCell::new(HashMap::new());
    static SAMPLED: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

type Bytecode = Rc<[u8]>;

/// Bytecode kept per backend; versions never change, so entries never go stale.
const MAX_BYTECODE: usize = 512;

/// Runs `key` (a script name or id) of the session's tenant inside the
/// caller's transaction, and returns its output as JSON text.
pub fn execute_sync(key: &str, input_json: &str) -> Result<Option<String>, Error> {
    let tenant = gucs::tenant().ok_or(Error::NoTenant)?;
    if ids::parse(&tenant).is_none() {
        return Err(Error::UnknownTenant(tenant));
    }
    unsafe { pg_sys::check_stack_depth() };
    let script = scripts::resolve(&tenant, key)?;
    if !matches!(script.status.as_str(), "active" | "draft") {
        return Err(Error::NotRunnable {
            script: script.name.clone(),
            status: script.status.clone(),
        });
    }
    let trigger = if script.kind == "embedded" {
        "api"
    } else {
        "manual"
    };
    let execution_id = ids::next();
    let started_at = unsafe { pg_sys::GetCurrentTimestamp() };
    let clock = Instant::now();
    let req = RunRequest {
        script_id: &script.id,
        script_name: &script.name,
        version: script.version,
        tenant_id: &script.tenant_id,
        tenant_name: &script.tenant_name,
        execution_id: &execution_id,
        trigger,
        attempt: 1,
        input_json,
        limits: script.limits.capped(&gucs::caps()),
    };
    let result = with_runtime(&tenant, |rt| rt.run(&req, &mut || bytecode(&script)))?;
    let duration_ms = clock.elapsed().as_secs_f64() * 1000.0;

    // Built only for runs that get a history row: embedded calls are hot.
    let record = |status: &str, sample_every: Option<u64>| {
        let mut metrics = json!({
            "duration_ms": (duration_ms * 1000.0).round() / 1000.0,
            "memory_used_bytes": result.memory_used_bytes,
            "api_call_count": result.usage.api_calls,
            "database_query_count": result.usage.db_queries,
        });
        if let Some(n) = sample_every {
            metrics["sample_every"] = n.into();
        }
        Record {
            id: execution_id.clone(),
            tenant_id: script.tenant_id.clone(),
            script_id: script.id.clone(),
            version: script.version,
            status: status.into(),
            trigger_type: trigger.into(),
            input: input_json.into(),
            output: None,
            error: None,
            error_detail: None,
            metrics: metrics.to_string(),
            logs: serde_json::to_string(&result.logs).unwrap_or_else(|_| "[]".into()),
            attempt: 1,
            started_at,
            completed_at: unsafe { pg_sys::GetCurrentTimestamp() },
        }
    };
    match result.outcome {
        Ok(output) => {
            if let Some(every) = sample(&script) {
                let mut rec = record("completed", (every > 1).then_some(every));
                rec.output = output.clone();
                crate::tenancy::as_owner(|| executions::insert(&rec))?;
            }
            Ok(output)
        }
        Err(failure) => {
            let cancelled = failure.kind == FailureKind::Cancelled;
            let status = if cancelled && statement_timed_out() {
                "timeout"
            } else {
                failure.kind.status()
            };
            let mut record = record(status, None);
            record.error = Some(failure.summary());
            record.error_detail = serde_json::to_string(&failure).ok();
            record_failure(record);
            if cancelled {
                // Postgres raises its own error for a cancel, a statement timeout or a shutdown,
                // again if the run's SQL caught it first.
                pgrx::check_for_interrupts!();
                if let Some(c) = result.usage.interrupted {
                    return Err(Error::Postgres {
                        code: c.code,
                        message: c.message,
                    });
                }
            }
            Err(Error::Run {
                script: script.name.clone(),
                failure,
            })
        }
    }
}

/// A failure is recorded by the recorder worker, which survives the caller's
/// rollback; failing that, in the caller's transaction.
fn record_failure(record: Record) {
    if !recorder::enqueue(&record) {
        pgrx::warning!(
            "jsruntime: the failure of execution {} is recorded in the current transaction only: the recorder worker is not available",
            record.id
        );
        if let Err(e) = crate::tenancy::as_owner(|| executions::insert(&record)) {
            pgrx::warning!(
                "jsruntime: execution {} was not recorded: {}",
                record.id,
                e.message()
            );
        }
    }
}

/// Whether this successful run gets a history row; Some(n) when it stands for n runs.
fn sample(script: &Script) -> Option<u64> {
    match script.history.as_str() {
        "errors" => None,
        "sampled" => {
            let every = gucs::history_sample_every();
            SAMPLED.with(|s| {
                let mut s = s.borrow_mut();
                let n = s.entry(script.id.clone()).or_insert(0);
                *n += 1;
                (*n % every == 1 || every == 1).then_some(every)
            })
        }
        _ => Some(1),
    }
}

/// Whether the cancel came from statement_timeout: its indicator, or, once
/// Postgres has read and reset that (a cancel inside the run's SQL), the
/// timer no longer running. pgrx's bindings leave out timeout.h, so it is
/// declared here (PostgreSQL 15's TimeoutId).
fn statement_timed_out() -> bool {
    const STATEMENT_TIMEOUT: std::ffi::c_int = 3;
    unsafe extern "C" {
        fn get_timeout_indicator(id: std::ffi::c_int, reset_indicator: bool) -> bool;
        fn get_timeout_active(id: std::ffi::c_int) -> bool;
    }
    unsafe {
        get_timeout_indicator(STATEMENT_TIMEOUT, false)
            || (pg_sys::StatementTimeout > 0 && !get_timeout_active(STATEMENT_TIMEOUT))
    }
}

fn bytecode(script: &Script) -> Result<Bytecode, Failure> {
    let key = (script.id.clone(), script.version);
    if let Some(code) = BYTECODE.with(|b| b.borrow().get(&key).cloned()) {
        return Ok(code);
    }
    let code: Bytecode = compile::compile(&script.name, &script.source)?.into();
    BYTECODE.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() >= MAX_BYTECODE {
            b.clear();
        }
        b.insert(key, code.clone());
    });
    Ok(code)
}

/// Lends the tenant's runtime, making it (and evicting the least recently used one) if needed.
fn with_runtime<R>(tenant: &str, f: impl FnOnce(&mut TenantRuntime) -> R) -> Result<R, Error> {
    RUNTIMES.with(|cell| {
        let mut all = cell.try_borrow_mut().map_err(|_| Error::Nested)?;
        if !all.contains_key(tenant) {
            if all.len() >= gucs::max_runtimes() {
                remove_least_recent(&mut all, |r| r.last_used);
            }
            let rt = TenantRuntime::new().map_err(|f| Error::Internal(f.message))?;
            all.insert(tenant.to_string(), rt);
        }
        let rt = all.get_mut(tenant).expect("runtime was just made");
        let out = f(rt);
        if rt.has_leftover_jobs() {
            // Jobs a run left queued must not run inside another script's run.
            all.remove(tenant);
        }
        Ok(out)
    })
}
