//! The bindings behind `ctx`: one module per member, and the state of the
//! run they serve (its tenant, deadline, limits and counters).

pub mod cache;
pub mod commit;
pub mod db;
pub mod events;
pub mod http;
pub mod js;
pub mod log;
pub mod progress;
pub mod request;
pub mod secrets;

use std::cell::RefCell;
use std::time::Instant;

use super::limits::Limits;
use super::sandbox::RunRequest;
use super::{ids, quota, sql};
use crate::subxact::Caught;
use crate::tenancy::RunTenant;

/// What a run used of the host API.
#[derive(Debug)]
pub struct Usage {
    pub api_calls: u64,
    pub db_queries: u64,
    pub http_requests: u64,
    /// secret values the run read, to redact from what it leaves behind
    pub secrets: Vec<String>,
    /// a cancel or statement timeout caught in the run's SQL, to raise again after it
    /// (this and progress are boxed: a Usage is moved per run, and a small one moves without a call)
    pub interrupted: Option<Box<Caught>>,
    /// the last `ctx.progress`
    pub progress: Option<Box<progress::Progress>>,
    /// how many times `ctx.commit()` committed
    pub commits: u32,
    /// a `ctx.commit()` that failed: the run fails, even if the script caught it
    pub commit_failure: Option<String>,
    /// the execution id, when the run was given none and one was made for it (`execution_id`)
    pub made_id: Option<String>,
}

impl Default for Usage {
    fn default() -> Self {
        Usage::NONE
    }
}

impl Usage {
    /// Nothing used (a const, for the run state's const thread-local).
    const NONE: Usage = Usage {
        api_calls: 0,
        db_queries: 0,
        http_requests: 0,
        secrets: Vec::new(),
        interrupted: None,
        progress: None,
        commits: 0,
        commit_failure: None,
        made_id: None,
    };
}

struct Run {
    /// whether a run is going on (the rest is the last run's, for reuse)
    active: bool,
    /// the request of the run going on: read only while `active`, as the
    /// request outlives its run's scope (`TenantRuntime::run` holds both)
    request: *const RunRequest<'static>,
    /// empty until asked for when the run was given none (typed calls, which are hot)
    execution_id: String,
    /// how many events deep this run is (0 unless an event started it)
    depth: i64,
    deadline: Option<Instant>,
    limits: Limits,
    usage: Usage,
}

impl Run {
    fn request(&self) -> &RunRequest<'_> {
        // SAFETY: set by RunScope::begin from a request that outlives the scope; read only while
        // `active`, which the scope's drop clears (see `current`).
        unsafe { &*self.request }
    }
}

thread_local! {
    /// The run going on, written over in place by the next: typed calls are hot.
    static RUN: RefCell<Run> = const { RefCell::new(Run {
        active: false,
        request: std::ptr::null(),
        execution_id: String::new(),
        depth: 0,
        deadline: None,
        limits: Limits::UNCAPPED,
        usage: Usage::NONE,
    }) };
}

/// `f` of the run going on; None outside a run.
fn current<R>(f: impl FnOnce(&mut Run) -> R) -> Option<R> {
    RUN.with(|r| {
        let mut r = r.borrow_mut();
        r.active.then(|| f(&mut r))
    })
}

/// The host side of one run: while it lives, ctx calls count against this
/// run and its SQL sees this tenant only.
pub struct RunScope {
    _tenant: RunTenant,
    /// it holds a slot of jsrt.running()
    live: bool,
}

impl RunScope {
    pub fn begin(req: &RunRequest<'_>, deadline: Option<Instant>) -> RunScope {
        let depth = req
            .event_json
            .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
            .and_then(|e| e.get("depth").and_then(serde_json::Value::as_i64))
            .unwrap_or(0);
        RUN.with(|r| {
            let run = &mut *r.borrow_mut();
            // The request's own strings are read where they are: no copy per typed call.
            run.request = (req as *const RunRequest<'_>).cast();
            run.execution_id.clear();
            if !req.execution_id.is_empty() {
                run.execution_id.push_str(req.execution_id);
            }
            run.active = true;
            run.depth = depth;
            run.deadline = deadline;
            run.limits = req.limits;
            run.usage = Usage::default();
        });
        // A typed call is part of its statement, which pg_stat_activity shows; a
        // slot of jsrt.running() per row would cost more than the call.
        if req.typed.is_none() {
            // SAFETY: reads the clock; no Postgres state is involved.
            let now = unsafe { pgrx::pg_sys::GetCurrentTimestamp() };
            crate::shmem::live::start(
                ids::key(req.execution_id),
                req.tenant_key,
                req.script_name,
                req.trigger,
                now,
            );
        }
        RunScope {
            _tenant: RunTenant::enter(req.tenant_key),
            live: req.typed.is_none(),
        }
    }

    /// Why a `ctx.commit()` of this run failed, if one did.
    pub fn commit_failure(&self) -> Option<String> {
        current(|run| run.usage.commit_failure.clone()).flatten()
    }

    pub fn finish(self) -> Usage {
        current(|run| std::mem::take(&mut run.usage)).unwrap_or_default()
    }
}

impl Drop for RunScope {
    fn drop(&mut self) {
        if self.live {
            crate::shmem::live::end();
        }
        sql::end_run();
        quota::give_back();
        RUN.with(|r| r.borrow_mut().active = false);
    }
}

/// What a counted ctx call does, for the run's metrics.
#[derive(PartialEq)]
enum Api {
    Db,
    Http,
    Other,
}

/// Counts one ctx call against the run's and the script's per-minute limits;
/// Err names the limit it would pass.
fn count_call(what: &str, kind: Api) -> Result<(), String> {
    if kind != Api::Db {
        // What other calls do must not share the fate of read-only statements (subxact.rs).
        crate::subxact::end_shared();
    }
    current(|run| {
        if run.usage.api_calls >= run.limits.api_calls {
            return Err(format!(
                "{what}: the run reached its limit of {} API calls (resource_limits.max_api_calls)",
                run.limits.api_calls
            ));
        }
        let (minute, _) = quota::clock_minute();
        let taken = quota::take_call(run.request().script_key, minute, run.limits.api_calls_per_minute);
        if taken == Err(quota::QuotaError::TableFull) {
            return Err(format!(
                "{what}: the per-minute API call counters of this server are all in use this minute; try again in a minute"
            ));
        }
        if taken.is_err() {
            return Err(format!(
                "{what}: script \"{}\" reached its limit of {} API calls this minute (resource_limits.max_api_calls_per_minute)",
                run.request().script_name, run.limits.api_calls_per_minute
            ));
        }
        run.usage.api_calls += 1;
        match kind {
            Api::Db => run.usage.db_queries += 1,
            Api::Http => run.usage.http_requests += 1,
            Api::Other => {}
        }
        Ok(())
    })
    .unwrap_or_else(|| Err(format!("{what} can only be called while the script runs")))
}

fn tenant() -> String {
    current(|run| run.request().tenant_id.to_string()).unwrap_or_default()
}

/// The current run's execution id (empty outside a run), made now if the
/// run was given none.
pub fn execution_id() -> String {
    lineage().0
}

/// The run going on's execution id, trigger and attempt.
pub fn run_identity() -> Option<(String, String, i32)> {
    let (id, _) = lineage();
    current(|run| {
        let req = run.request();
        (id, req.trigger.to_string(), req.attempt)
    })
}

/// The run's execution id and event depth.
fn lineage() -> (String, i64) {
    current(|run| {
        if run.execution_id.is_empty() {
            run.execution_id = ids::next();
            run.usage.made_id = Some(run.execution_id.clone());
        }
        (run.execution_id.clone(), run.depth)
    })
    .unwrap_or_default()
}

fn deadline() -> Option<Instant> {
    current(|run| run.deadline).flatten()
}

/// Remembers a secret value the run has read.
fn add_secret(value: &str) {
    current(|run| {
        if !run.usage.secrets.iter().any(|s| s == value) {
            run.usage.secrets.push(value.to_string());
        }
    });
}

fn set_interrupted(c: Caught) {
    current(|run| {
        run.usage.interrupted.get_or_insert(Box::new(c));
    });
}

/// Keeps the run's latest progress.
fn set_progress(p: progress::Progress) {
    current(|run| run.usage.progress = Some(Box::new(p)));
}

/// None when this run may commit; else its trigger, to say why not.
fn commit_refused() -> Option<String> {
    current(|run| (!run.request().may_commit).then(|| run.request().trigger.to_string()))
        .unwrap_or_else(|| Some("finished".into()))
}

fn committed() {
    current(|run| run.usage.commits += 1);
}

fn set_commit_failure(message: String) {
    current(|run| {
        run.usage.commit_failure.get_or_insert(message);
    });
}
