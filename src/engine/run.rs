//! The one execution pipeline: resolve, check, run under limits, record.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::Instant;

use pgrx::pg_sys;
use serde_json::json;

use super::failure::{Failure, FailureKind};
use super::ids::KeyMap;
use super::sandbox::{
    remove_least_recent, BuiltInput, Outcome, RunRequest, RunResult, TenantRuntime, Typed,
};
use super::{compile, ids, quota};
use crate::catalog::executions::{self, Queued, Record};
use crate::catalog::scripts::{self, Script};
use crate::error::Error;
use crate::gucs;
use crate::shmem::{counters, failures};
use crate::subxact;

thread_local! {
    /// by tenant key (`Script.tenant_key`)
    static RUNTIMES: RefCell<KeyMap<TenantRuntime>> =
        const { RefCell::new(KeyMap::with_hasher(std::hash::BuildHasherDefault::new())) };
    /// by script id and source digest
    static BYTECODE: RefCell<HashMap<(String, [u8; 32]), Bytecode>> = RefCell::new(HashMap::new());
    static SAMPLED: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

type Bytecode = Rc<[u8]>;

/// Bytecode kept per backend, by the digest of its source: entries never go stale.
const MAX_BYTECODE: usize = 512;

/// Runs `key` (a script name or id) of the session's tenant inside the
/// caller's transaction, and returns its output as JSON text.
pub fn execute_sync(key: &str, input_json: &str) -> Result<Option<String>, Error> {
    let tenant = gucs::tenant().ok_or(Error::NoTenant)?;
    if ids::parse(&tenant).is_none() {
        return Err(Error::UnknownTenant(tenant));
    }
    let script = scripts::resolve(&tenant, key)?;
    sync(&script, input_json, None)
}

/// `execute_sync` of the script a call site holds (`SiteScript`), with an
/// input made straight as a JS object (engine/object_call.rs); its JSON text
/// (`json`, kept in `made`) is made only to check it against an input schema
/// or to record it.
pub fn execute_built(
    script: &Script,
    input: &dyn BuiltInput,
    made: &std::cell::OnceCell<String>,
    json: &dyn Fn() -> String,
) -> Result<Option<String>, Error> {
    sync(script, "", Some((input, (made, json))))
}

type Built<'a> = (
    &'a dyn BuiltInput,
    (&'a std::cell::OnceCell<String>, &'a dyn Fn() -> String),
);

fn sync(
    script: &Script,
    input_json: &str,
    built: Option<Built<'_>>,
) -> Result<Option<String>, Error> {
    // SAFETY: on the backend's main thread; the ERROR it may raise comes back through pgrx's guard.
    unsafe { pg_sys::check_stack_depth() };
    runnable(script)?;
    if script.input_schema.is_some() {
        match built {
            Some((_, (made, json))) => check_input(script, made.get_or_init(json))?,
            None => check_input(script, input_json)?,
        }
    }
    let id = ids::next();
    let trigger = if script.kind == "embedded" {
        "api"
    } else {
        "manual"
    };
    let call = Call {
        built_input: built.map(|(b, _)| b),
        history_input: built.map(|(_, h)| h),
        // A call site holds the places of the script it runs.
        places_held: built.is_some(),
        ..Call::new(script, &id, trigger, input_json)
    };
    let done = run(&call)?;
    keep(&done, &call, None)?;
    match &done.result.outcome {
        Ok(output) => Ok(output.clone()),
        Err(failure) => Err(failed(&script.name, failure, &done)),
    }
}

/// Whether `a` is `b`, byte by byte: a call site asks this per row, and a
/// libc memcmp call costs more than comparing a script id here.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// The script a call site runs (a typed function's, a planned
/// `jsrt.execute`'s): resolved again only when the key or the session's
/// tenant differs or a script changed (the cache's generation). The site
/// holds the script's places under the caps until it is dropped, with the
/// statement: its calls take none of their own.
#[derive(Default)]
pub struct SiteScript {
    resolved: Option<Resolved>,
    places: Option<Places<quota::Hold>>,
}

struct Resolved {
    tenant: String,
    /// jsrt.tenant's assignments (`gucs::tenant_assignments`) when `tenant` was read or last checked
    assignments: u64,
    /// the script cache's generation
    generation: u64,
    key: String,
    script: Rc<Script>,
}

impl SiteScript {
    /// The script `key` names for the session's tenant.
    pub fn get(&mut self, key: &str) -> Result<Rc<Script>, Error> {
        self.get_as(key, |k| same_key(k, key))
    }

    /// The same for a site whose key never changes: a typed function's, whose
    /// key is its body. (Not compared per call.)
    pub fn get_fixed(&mut self, key: &str) -> Result<Rc<Script>, Error> {
        self.get_as(key, |_| true)
    }

    fn get_as(&mut self, key: &str, same: impl Fn(&str) -> bool) -> Result<Rc<Script>, Error> {
        // SAFETY: on the backend's main thread, inside the calling transaction.
        unsafe { pg_sys::AcceptInvalidationMessages() };
        let generation = scripts::generation();
        let assignments = gucs::tenant_assignments();
        if let Some(r) = &mut self.resolved {
            if r.generation == generation && same(&r.key) {
                if r.assignments == assignments {
                    return Ok(r.script.clone());
                }
                if gucs::tenant_is(&r.tenant) {
                    r.assignments = assignments;
                    return Ok(r.script.clone());
                }
            }
        }
        let tenant = gucs::tenant().ok_or(Error::NoTenant)?;
        if ids::parse(&tenant).is_none() {
            return Err(Error::UnknownTenant(tenant));
        }
        let script = scripts::resolve(&tenant, key)?;
        // Checked here, once per script the site resolves: its calls do not check again.
        runnable(&script)?;
        let same = self
            .resolved
            .as_ref()
            .is_some_and(|r| r.script.id == script.id);
        if !same || self.places.is_none() {
            self.places = None;
            self.places = Some(hold_places(&script)?);
        }
        self.resolved = Some(Resolved {
            tenant,
            assignments,
            generation,
            key: key.to_string(),
            script: script.clone(),
        });
        Ok(script)
    }
}

/// The error a failed synchronous or typed run raises in its caller.
fn failed(script: &str, failure: &Failure, done: &Done) -> Error {
    if failure.kind == FailureKind::Cancelled {
        // Postgres raises its own error for a cancel, a statement timeout or a shutdown,
        // again if the run's SQL caught it first.
        pgrx::check_for_interrupts!();
        if let Some(c) = &done.result.usage.interrupted {
            return Error::Postgres {
                code: c.code,
                message: c.message.clone(),
            };
        }
    }
    Error::Run {
        script: script.to_string(),
        failure: failure.clone(),
    }
}

/// Runs `script` for one call of a typed SQL function or trigger (trigger
/// `function` or `trigger`), in the caller's transaction: `typed` gives the
/// script its arguments as JS values and takes its result. A success is
/// recorded only when the script's history is `sampled` (functions and
/// triggers run per row: their history is errors-only otherwise); a failure
/// always, and it comes back as the Error to raise. The caller's call site
/// (`SiteScript`) holds the script's places under the caps and found it runnable.
pub fn execute_typed(
    script: &Script,
    trigger: &str,
    typed: &dyn Typed,
    history_input: &dyn Fn() -> String,
) -> Result<(), Error> {
    let input = std::cell::OnceCell::new();
    // The execution id is made only if the script asks for it or a record is written.
    let call = Call {
        typed: Some(typed),
        history_input: Some((&input, history_input)),
        places_held: true,
        ..Call::new(script, "", trigger, "{}")
    };
    let started = Instant::now();
    // A completed call is recorded only for a `sampled` history: otherwise it gives no result to look at.
    let quiet = script.history != "sampled";
    let result = run_as(&call, started, quiet)?;
    let Some(result) = result else {
        // Counted; timed only when asked for (jsrt.track_typed_call_timing: a clock read per call).
        let seconds = gucs::track_typed_call_timing().then(|| ms_since(started) / 1000.0);
        counters::run_finished(
            trigger,
            "completed",
            seconds,
            (script.key, &script.tenant_name, &script.name),
        );
        return Ok(());
    };
    let duration_ms = ms_since(started);
    let done = Done {
        result,
        duration_ms,
    };
    done.count(&call);
    // A failure, or a sampled script's completed call (a quiet call came back above).
    keep(&done, &call, None)?;
    match &done.result.outcome {
        Ok(_) => Ok(()),
        Err(failure) => Err(failed(&script.name, failure, &done)),
    }
}

/// Runs a queued run in the current transaction. Its record (completed or
/// failed) comes back for the caller to write once it has rolled back a
/// failed run's own writes: in a subtransaction, or, when `own_transaction`
/// (an executor's transaction, which nothing else shares), by rolling the
/// transaction back. Only then may a one-off run `ctx.commit()`.
pub fn execute_queued(q: &Queued, own_transaction: bool) -> Result<Record, Error> {
    let script = scripts::resolve(&q.tenant_id, &q.script_id)?;
    // Paused after the claim: a paused subscriber holds its events (requeue holds it).
    if q.trigger == "event" && script.status == "paused" {
        return Err(Error::Held {
            script: script.name.clone(),
        });
    }
    let call = Call {
        attempt: q.attempt,
        event_json: q.event_json.as_deref(),
        own_writes_roll_back: !own_transaction,
        may_commit: own_transaction && q.trigger == "manual",
        tenant_counted: q.tenant_counted,
        ..Call::new(&script, &q.id, &q.trigger, &q.input_json)
    };
    if let Err(e) = runnable(&script) {
        let mut rec = Done::nothing().record(&call, "cancelled", None);
        rec.error = Some(e.message());
        return Ok(rec);
    }
    // An input queued before the schema changed (or an event's payload) is refused here.
    if let Err(e) = check_input(&script, &q.input_json) {
        let mut rec = Done::nothing().record(&call, "failed", None);
        rec.error = Some(e.message());
        return Ok(rec);
    }
    let done = run(&call)?;
    Ok(match &done.result.outcome {
        Ok(output) => {
            let mut rec = done.record(&call, "completed", None);
            rec.output = output.clone();
            rec
        }
        Err(_) => done.record(&call, done.failed_status(), None),
    })
}

/// A dry run's result: what the run gave back and logged. Nothing is recorded.
pub struct DryRun {
    pub outcome: Result<Option<String>, Failure>,
    pub logs: Vec<super::host::log::Line>,
    pub duration_ms: f64,
}

/// Runs `key` of the session's tenant, with `source` instead of its own if
/// given, whatever its status, without a history record. Its writes are
/// kept in the current transaction when it completes: the caller
/// (`jsrt.dry_run`) rolls them back.
pub fn execute_dry(key: &str, source: Option<&str>, input_json: &str) -> Result<DryRun, Error> {
    use sha2::{Digest, Sha256};
    let tenant = gucs::tenant().ok_or(Error::NoTenant)?;
    if ids::parse(&tenant).is_none() {
        return Err(Error::UnknownTenant(tenant));
    }
    // SAFETY: on the backend's main thread; the ERROR it may raise comes back through pgrx's guard.
    unsafe { pg_sys::check_stack_depth() };
    let mut script = (*scripts::resolve(&tenant, key)?).clone();
    if let Some(source) = source {
        script.source = source.to_string();
        script.digest = Sha256::digest(source.as_bytes()).into();
    }
    check_input(&script, input_json)?;
    let id = ids::next();
    let call = Call {
        own_writes_roll_back: true,
        ..Call::new(&script, &id, "manual", input_json)
    };
    let done = run(&call)?;
    Ok(DryRun {
        outcome: done.result.outcome.map_err(|f| *f),
        logs: done.result.logs,
        duration_ms: done.duration_ms,
    })
}

/// Checks a run's input against the script's input_schema, if it has one.
fn check_input(script: &Script, input_json: &str) -> Result<(), Error> {
    let Some(schema) = &script.input_schema else {
        return Ok(());
    };
    let input: serde_json::Value = serde_json::from_str(input_json)
        .map_err(|e| Error::Invalid(format!("the input is not JSON: {e}")))?;
    super::input_schema::check_input(schema, &input).map_err(|r| Error::InvalidInput {
        script: script.name.clone(),
        pointer: r.pointer,
        message: r.message,
    })
}

fn runnable(script: &Script) -> Result<(), Error> {
    if matches!(script.status.as_str(), "active" | "draft") {
        Ok(())
    } else {
        Err(Error::NotRunnable {
            script: script.name.clone(),
            status: script.status.clone(),
        })
    }
}

/// What an HTTP-triggered run gives back: the outcome for the response, and its execution id.
pub struct HttpRun {
    pub outcome: Outcome,
    pub execution_id: String,
}

/// Runs endpoint script `script` for one request, in
/// the current transaction, with `ctx.request` (`request_body` is the body
/// as received, for its text(), json(), bytes() and form()). It is recorded with trigger
/// http and `trigger_data` {method, path, status}, the status being what
/// `status_of` makes of the outcome.
pub fn execute_http(
    script: &Script,
    request_json: &str,
    request_body: &[u8],
    trigger_data: serde_json::Value,
    status_of: impl FnOnce(&Outcome) -> u16,
) -> Result<HttpRun, Error> {
    let id = ids::next();
    let call = Call {
        request_json: Some(request_json),
        request_body: Some(request_body),
        own_writes_roll_back: true,
        ..Call::new(script, &id, "http", "{}")
    };
    let done = run(&call)?;
    let mut data = trigger_data;
    data["status"] = status_of(&done.result.outcome).into();
    keep(&done, &call, Some(data.to_string()))?;
    Ok(HttpRun {
        outcome: done.result.outcome,
        execution_id: call.id.to_string(),
    })
}

/// One run to make.
struct Call<'a> {
    script: &'a Script,
    id: &'a str,
    trigger: &'a str,
    attempt: i32,
    input_json: &'a str,
    event_json: Option<&'a str>,
    /// ctx.request of HTTP runs, as JSON text
    request_json: Option<&'a str>,
    /// the HTTP body as received
    request_body: Option<&'a [u8]>,
    /// whether the run rolls back its own writes when it fails (in a
    /// subtransaction); false for synchronous runs, whose writes commit or roll
    /// back with their caller, and for an executor's, which rolls back its transaction
    own_writes_roll_back: bool,
    /// whether `ctx.commit()` may commit
    may_commit: bool,
    /// its place under the tenant's cap is held already (by the executor that claimed it)
    tenant_counted: bool,
    /// its places under both caps are held already (by a typed function's call site)
    places_held: bool,
    /// the arguments and result of a typed function or trigger call
    typed: Option<&'a dyn Typed>,
    /// an input made as a JS object, not parsed from `input_json`
    built_input: Option<&'a dyn BuiltInput>,
    /// what such a call's history keeps as its input, made only when a record is written
    history_input: Option<(&'a std::cell::OnceCell<String>, &'a dyn Fn() -> String)>,
}

impl<'a> Call<'a> {
    /// A first attempt of `script` with `input_json`, writing in its caller's
    /// transaction; the other fields say what differs.
    fn new(script: &'a Script, id: &'a str, trigger: &'a str, input_json: &'a str) -> Call<'a> {
        Call {
            script,
            id,
            trigger,
            attempt: 1,
            input_json,
            event_json: None,
            request_json: None,
            request_body: None,
            own_writes_roll_back: false,
            may_commit: false,
            tenant_counted: false,
            places_held: false,
            typed: None,
            built_input: None,
            history_input: None,
        }
    }
}

/// Bytes of an HTTP request's body kept in its run's history.
const HTTP_INPUT_BODY_BYTES: usize = 64 << 10;

/// What a run's history keeps as its input: for an HTTP run its request
/// (built only when a record is written), else the input.
fn recorded_input(call: &Call<'_>) -> String {
    if let Some((made, make)) = call.history_input {
        return made.get_or_init(make).clone();
    }
    match call.request_json.and_then(|r| serde_json::from_str(r).ok()) {
        Some(request) => crate::http::request::for_history(
            &request,
            call.request_body.unwrap_or_default(),
            HTTP_INPUT_BODY_BYTES,
        )
        .to_string(),
        None => call.input_json.into(),
    }
}

/// A finished run, before its record is written.
struct Done {
    result: Box<RunResult>,
    duration_ms: f64,
}

fn run(call: &Call<'_>) -> Result<Done, Error> {
    let started = Instant::now();
    let done = match run_as(call, started, false)? {
        Some(result) => Done {
            result,
            duration_ms: ms_since(started),
        },
        None => Done::nothing(),
    };
    done.count(call);
    Ok(done)
}

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// Makes the run `call` says, started at `started`. None when the run
/// completed and `quiet`: its result is not wanted (a typed call of a script
/// whose history is not sampled).
fn run_as(call: &Call<'_>, started: Instant, quiet: bool) -> Result<Option<Box<RunResult>>, Error> {
    let script = call.script;
    let limits = script.limits.capped(&gucs::caps());
    let _places = match call.places_held {
        true => None,
        false => Some(take_places(script, call.tenant_counted)?),
    };
    let req = RunRequest {
        started,
        script_key: script.key,
        tenant_key: script.tenant_key,
        script_id: &script.id,
        script_name: &script.name,
        version: script.version,
        digest: script.digest,
        tenant_id: &script.tenant_id,
        tenant_name: &script.tenant_name,
        execution_id: call.id,
        trigger: call.trigger,
        attempt: call.attempt,
        input_json: call.input_json,
        built_input: call.built_input,
        event_json: call.event_json,
        request_json: call.request_json,
        request_body: call.request_body,
        may_commit: call.may_commit,
        typed: call.typed,
        limits,
    };
    let go = || {
        with_runtime(script.tenant_key, |rt| {
            rt.run(&req, &mut || bytecode(script), quiet)
        })
    };
    if call.own_writes_roll_back {
        // The one rule for every trigger but the synchronous ones (whose
        // writes are the caller's): a run that does not complete leaves none
        // of its writes; only its record is kept.
        subxact::run_if(
            AssertUnwindSafe(go),
            |r| matches!(r, Ok(Some(r)) if r.outcome.is_ok()),
        )
        .map_err(|c| Error::Postgres {
            code: c.code,
            message: c.message,
        })?
    } else {
        go()
    }
}

/// A run's places under its tenant's cap (unless `tenant_counted`: held
/// already) and its script's: released when dropped.
pub struct Places<P> {
    _tenant: Option<P>,
    _script: P,
}

/// Takes `script`'s places for one run, or says which cap is reached.
pub fn take_places(script: &Script, tenant_counted: bool) -> Result<Places<quota::Slot>, Error> {
    places(script, tenant_counted, quota::enter)
}

/// Takes them for a typed function's call site, which holds them for its
/// statement; the site's calls take none of their own.
pub fn hold_places(script: &Script) -> Result<Places<quota::Hold>, Error> {
    places(script, false, quota::hold)
}

fn places<P>(
    script: &Script,
    tenant_counted: bool,
    enter: impl Fn(u128, u64) -> Result<P, ()>,
) -> Result<Places<P>, Error> {
    let limits = script.limits.capped(&gucs::caps());
    // The tenant's place first: a run refused for its tenant does not hold its script's.
    let tenant = match gucs::tenant_run_cap(script.tenant_max_runs) {
        Some(cap) if !tenant_counted => Some(
            enter(quota::tenant_key(script.tenant_key), cap).map_err(|()| Error::TenantBusy {
                tenant: script.tenant_name.clone(),
                limit: cap,
            })?,
        ),
        _ => None,
    };
    let script_place = enter(script.key, limits.concurrent_runs).map_err(|()| Error::Busy {
        script: script.name.clone(),
        limit: limits.concurrent_runs,
    })?;
    Ok(Places {
        _tenant: tenant,
        _script: script_place,
    })
}

impl Done {
    /// For a run that never started.
    fn nothing() -> Done {
        Done {
            result: Box::new(RunResult {
                outcome: Ok(None),
                memory_used_bytes: 0,
                logs: Vec::new(),
                usage: Default::default(),
            }),
            duration_ms: 0.0,
        }
    }

    /// Counts the run in the metrics.
    fn count(&self, call: &Call<'_>) {
        let s = call.script;
        counters::run_finished(
            call.trigger,
            self.failed_status(),
            Some(self.duration_ms / 1000.0),
            (s.key, &s.tenant_name, &s.name),
        );
    }

    fn failed_status(&self) -> &'static str {
        match &self.result.outcome {
            Err(f) if f.kind == FailureKind::Cancelled && crate::timeout::statement_timed_out() => {
                "timeout"
            }
            Err(f) => f.kind.status(),
            Ok(_) => "completed",
        }
    }

    /// The history row. Built only for runs that get one: embedded calls are hot.
    fn record(&self, call: &Call<'_>, status: &str, sample_every: Option<u64>) -> Record {
        let r = &self.result;
        let mut metrics = json!({
            "duration_ms": (self.duration_ms * 1000.0).round() / 1000.0,
            "memory_used_bytes": r.memory_used_bytes,
            "api_call_count": r.usage.api_calls,
            "database_query_count": r.usage.db_queries,
            "http_request_count": r.usage.http_requests,
        });
        if let Some(n) = sample_every {
            metrics["sample_every"] = n.into();
        }
        if r.usage.commits > 0 {
            metrics["commits"] = r.usage.commits.into();
        }
        if let Some(p) = &r.usage.progress {
            metrics["progress"] = serde_json::to_value(p).unwrap_or_default();
        }
        let failure = r.outcome.as_ref().err().map(|f| &**f);
        // SAFETY: reads the clock; no Postgres state is involved.
        let completed_at = unsafe { pg_sys::GetCurrentTimestamp() };
        let id = match (call.id, &r.usage.made_id) {
            ("", Some(made)) => made.clone(),
            ("", None) => ids::next(),
            (given, _) => given.to_string(),
        };
        Record {
            id,
            tenant_id: call.script.tenant_id.clone(),
            script_id: call.script.id.clone(),
            version: call.script.version,
            status: status.into(),
            trigger_type: call.trigger.into(),
            trigger_data: None,
            input: recorded_input(call),
            output: None,
            error: failure.map(Failure::summary),
            error_detail: failure.and_then(|f| serde_json::to_string(f).ok()),
            metrics: metrics.to_string(),
            logs: serde_json::to_string(&r.logs).unwrap_or_else(|_| "[]".into()),
            attempt: call.attempt,
            started_at: completed_at - (self.duration_ms * 1000.0) as i64,
            completed_at,
            // SAFETY: a lookup of this backend's own transaction state.
            script_xid: unsafe {
                pg_sys::TransactionIdIsCurrentTransactionId(call.script.xmin.into())
            }
            .then_some(call.script.xmin),
        }
    }
}

/// Writes a synchronous run's history: a success as the script's `history`
/// says, in the caller's transaction; a failure always (`record_failure`).
fn keep(done: &Done, call: &Call<'_>, trigger_data: Option<String>) -> Result<(), Error> {
    match &done.result.outcome {
        Ok(output) => {
            if let Some(every) = sample(call.script) {
                let mut rec = done.record(call, "completed", (every > 1).then_some(every));
                rec.output = output.clone();
                rec.trigger_data = trigger_data;
                crate::tenancy::as_owner(|| executions::insert(&rec))?;
            }
        }
        Err(_) => {
            let mut rec = done.record(call, done.failed_status(), None);
            rec.trigger_data = trigger_data;
            record_failure(rec);
        }
    }
    Ok(())
}

/// A failure is recorded by the recorder worker, which survives the caller's
/// rollback; failing that, in the caller's transaction.
fn record_failure(record: Record) {
    if !failures::enqueue(&record) {
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

fn bytecode(script: &Script) -> Result<Bytecode, Failure> {
    let key = (script.id.clone(), script.digest);
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

thread_local! {
    /// the budget the runtimes were last kept within
    static LAST_BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Lends the tenant's runtime, making it (and evicting the least recently used one) if needed.
fn with_runtime<R>(tenant: u128, f: impl FnOnce(&mut TenantRuntime) -> R) -> Result<R, Error> {
    if tenant == 0 {
        // Not a uuid: tenants' ids always are, and no two tenants may share key 0's runtime.
        return Err(Error::Internal("a run's tenant id is not a uuid".into()));
    }
    RUNTIMES.with(|cell| {
        let mut all = cell.try_borrow_mut().map_err(|_| Error::Nested)?;
        let budget = gucs::max_resident_bytes();
        let (out, leftover) = match all.get_mut(&tenant) {
            Some(rt) => {
                let before = rt.resident_bytes();
                // Unset while the run goes on: a run that unwinds has the next one check.
                let last = LAST_BUDGET.replace(usize::MAX);
                let out = f(rt);
                let leftover = rt.has_leftover_jobs();
                if !leftover && rt.resident_bytes() <= before && budget >= last {
                    // Nothing grew and the budget did not shrink: what stays is within it
                    // as it was (the usual typed call, which keeps nothing it allocates).
                    LAST_BUDGET.set(last);
                    return Ok(out);
                }
                (out, leftover)
            }
            None => {
                if all.len() >= gucs::max_runtimes() {
                    remove_least_recent(&mut all, |r| r.last_used);
                }
                let mut rt = TenantRuntime::new().map_err(|f| Error::Internal(f.message))?;
                let out = f(&mut rt);
                let leftover = rt.has_leftover_jobs();
                all.insert(tenant, rt);
                (out, leftover)
            }
        };
        if leftover {
            // Jobs a run left queued must not run inside another script's run.
            all.remove(&tenant);
        }
        keep_within_budget(&mut all, tenant, budget);
        LAST_BUDGET.set(budget);
        Ok(out)
    })
}

/// Drops the least recently used runtimes, then the least recently used
/// scripts of the one that just ran, until what stays is within `budget`.
fn keep_within_budget(all: &mut KeyMap<TenantRuntime>, current: u128, budget: usize) {
    let mut total: usize = all.values().map(TenantRuntime::resident_bytes).sum();
    while total > budget {
        let oldest = all
            .iter()
            .filter(|(k, _)| **k != current)
            .min_by_key(|(_, r)| r.last_used)
            .map(|(k, _)| *k);
        match oldest.and_then(|k| all.remove(&k)) {
            Some(gone) => total = total.saturating_sub(gone.resident_bytes()),
            None => {
                if let Some(rt) = all.get_mut(&current) {
                    rt.shrink_to(budget);
                }
                return;
            }
        }
    }
}
