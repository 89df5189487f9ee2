//! The management API: JSON over HTTP under `/_jsrt/api/v1/`, served by the
//! front door and run by the HTTP runners (`workers/http/runner.rs`).
//!
//! A request is authenticated by its API key (`endpoints::key_holder`, the
//! same check endpoint scripts get), then its handler runs as the key's role
//! within the key's tenant (`tenancy::as_api_role`), calling the SQL API
//! functions and reading the tables a SQL user of that role would: the
//! grants and row-level security decide, not this module. A jsrt_superadmin
//! key may name another tenant with `X-Jsrt-Tenant`. Each request is one
//! subtransaction: a handler's error rolls back everything it did, and comes
//! back as an RFC 9457 problem with the SQLSTATE (`problem.rs`).
//!
//! Pure parts: `routes.rs` (the route table), `problem.rs`, `openapi.rs`, `diff.rs`.

pub mod diff;
pub mod openapi;
pub mod problem;
pub mod routes;

mod admin;
mod ops;
mod runs;
mod scripts;
mod sql;

use std::panic::AssertUnwindSafe;

use serde_json::{Map, Value};

use crate::http::park;
use crate::http::request::Request;
use crate::http::response::Response;
use crate::subxact;
use crate::tenancy;
use problem::Problem;
use routes::{Found, Op};

/// The longest a run's `wait` may be, in seconds. The wait parks an HTTP
/// runner (not the front door), so it is capped.
pub const MAX_WAIT_S: u64 = 30;

/// What a handler answers.
pub enum Reply {
    Json(u16, Value),
    /// a response with headers of its own
    Raw(Response),
    Wait(String, u64),
}

type Handled = Result<Reply, Problem>;

/// One request's context for its handler.
pub struct Ctx<'a> {
    pub req: &'a Request,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl Ctx<'_> {
    /// A path parameter (the route guarantees it).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// A query parameter, if given and not empty.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A whole-number query parameter within `min..=max`, or `default`.
    pub fn q_int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, Problem> {
        match self.q(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    Problem::bad(format!(
                        "query parameter \"{name}\" must be a whole number from {min} to {max}, got \"{v}\""
                    ))
                    .with_field(name)
                }),
        }
    }

    /// The body as a JSON object (an empty body is `{}`).
    pub fn body(&self) -> Result<Map<String, Value>, Problem> {
        if self.req.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.req.body) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err(Problem::bad("the request body must be a JSON object")),
            Err(e) => Err(Problem::bad(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }
}

/// The response to a management request (`routes::is_api` said it is one).
pub fn dispatch(req: &Request) -> Response {
    let (op, params) = match routes::find(&req.method, &req.path) {
        Found::Route(op, params) => (op, params),
        Found::WrongMethod(allow) => return problem::wrong_method(&req.method, &allow),
        Found::Nothing => {
            return Problem::new(404, "no management API resource at this path").to_response()
        }
    };
    // The description of the API is public: tools read it before they have a key.
    match op {
        Op::OpenApi => return Response::json(200, &openapi::document()),
        Op::Types => return ops::types(),
        _ => {}
    }
    let (role, tenant_id) = match caller(req) {
        Ok(c) => c,
        Err(p) => return p.to_response(),
    };
    let ctx = Ctx {
        req,
        params,
        query: routes::query(&req.query),
    };
    let ran = subxact::run_if(
        AssertUnwindSafe(|| tenancy::as_api_role(&role, &tenant_id, || handle(op, &ctx))),
        |r| matches!(r, Ok(Ok(_))),
    );
    let reply = match ran {
        Ok(Ok(Ok(reply))) => reply,
        Ok(Ok(Err(p))) => return p.to_response(),
        Ok(Err(e)) => {
            return Problem::from_sql(&subxact::sqlstate(e.code()), &e.message(), None, None)
                .to_response()
        }
        Err(c) => return caught(&c).to_response(),
    };
    match reply {
        Reply::Json(status, v) => Response::json(status, &v),
        Reply::Raw(r) => r,
        // The front door holds the request until the run ends (http/park.rs), not this runner.
        Reply::Wait(execution_id, timeout_ms) => park::parked(&execution_id, timeout_ms),
    }
}

/// A caught Postgres error as a problem; internal errors say little.
fn caught(c: &subxact::Caught) -> Problem {
    let state = subxact::sqlstate(c.code);
    if problem::status_for(&state) == 500 {
        pgrx::log!("jsruntime: management API: {state}: {}", c.message);
        let mut p = Problem::new(500, "internal error");
        p.sqlstate = Some(state);
        return p;
    }
    Problem::from_sql(&state, &c.message, c.detail.as_deref(), c.hint.as_deref())
}

/// The key's role and the tenant the request acts in.
fn caller(req: &Request) -> Result<(String, String), Problem> {
    let c = crate::endpoints::key_holder(req).map_err(|r| {
        let detail = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| "invalid API key".into());
        Problem::new(r.status, detail)
    })?;
    let role = c.role.unwrap_or_default();
    let Some(named) = req.header("x-jsrt-tenant").filter(|t| !t.is_empty()) else {
        return Ok((role, c.tenant_id));
    };
    let found = tenancy::as_owner(|| {
        crate::engine::host::js::no_row_is_none(pgrx::Spi::get_one_with_args::<String>(
            "SELECT id::text FROM jsrt.tenants WHERE name = $1 OR id::text = lower($1)",
            &[named.into()],
        ))
    })
    .map_err(|e| Problem::new(500, format!("reading jsrt.tenants: {e}")))?;
    match found {
        Some(id) if id == c.tenant_id => Ok((role, id)),
        Some(id) if role == "jsrt_superadmin" => Ok((role, id)),
        None if role == "jsrt_superadmin" => Err(Problem::new(
            404,
            format!("tenant \"{named}\" does not exist"),
        )
        .with_field("X-Jsrt-Tenant")),
        _ => Err(Problem::new(
            403,
            "the API key is for another tenant; only a jsrt_superadmin key may name a tenant",
        )
        .with_field("X-Jsrt-Tenant")),
    }
}

fn handle(op: Op, ctx: &Ctx) -> Handled {
    match op {
        Op::ListScripts => scripts::list(ctx),
        Op::CreateScript => scripts::create(ctx),
        Op::GetScript => scripts::get(ctx),
        Op::UpdateScript => scripts::update(ctx),
        Op::DeleteScript => scripts::delete(ctx),
        Op::SetStatus => scripts::set_status(ctx),
        Op::ListVersions => scripts::versions(ctx),
        Op::GetVersion => scripts::version(ctx),
        Op::Diff => scripts::diff(ctx),
        Op::Rollback => scripts::rollback(ctx),
        Op::DryRun => runs::dry_run(ctx),
        Op::Deploy => scripts::deploy(ctx),
        Op::ScriptSchedule => ops::script_schedule(ctx),
        Op::ListSchedules => ops::schedules(ctx),
        Op::StartRun => runs::start(ctx),
        Op::ListRuns => runs::list(ctx),
        Op::GetRun => runs::get(ctx),
        Op::StreamRuns => runs::stream(ctx),
        Op::CancelRun => runs::cancel(ctx),
        Op::ReplayRun => runs::replay(ctx),
        Op::ListDeadLetters => ops::dead_letters(ctx),
        Op::RetryDeadLetter => ops::retry_dead_letter(ctx),
        Op::Redrive => ops::redrive(ctx),
        Op::Emit => ops::emit(ctx),
        Op::Me => ops::me(),
        Op::ListSecrets => admin::secrets(ctx),
        Op::SetSecret => admin::set_secret(ctx),
        Op::DeleteSecret => admin::delete_secret(ctx),
        Op::ListKeys => admin::keys(ctx),
        Op::CreateKey => admin::create_key(ctx),
        Op::RevokeKey => admin::revoke_key(ctx),
        Op::Types | Op::OpenApi => Err(Problem::new(500, "served before authentication")),
    }
}
