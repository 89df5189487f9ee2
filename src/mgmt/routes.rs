//! The management API's routes: one table (`ROUTES`) that both the router
//! (`find`) and the OpenAPI document (`openapi.rs`) are made from, so the
//! two cannot disagree. Pure: no Postgres.

use crate::http::router::decode;

/// Every management path starts with this.
pub const PREFIX: &str = "/_jsrt/api/v1";

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ListScripts,
    CreateScript,
    GetScript,
    UpdateScript,
    DeleteScript,
    SetStatus,
    ListVersions,
    GetVersion,
    Diff,
    Rollback,
    DryRun,
    ScriptSchedule,
    StartRun,
    ListRuns,
    GetRun,
    StreamRuns,
    CancelRun,
    ReplayRun,
    ListDeadLetters,
    RetryDeadLetter,
    Redrive,
    ListSchedules,
    Emit,
    ListSecrets,
    SetSecret,
    DeleteSecret,
    ListKeys,
    CreateKey,
    RevokeKey,
    Types,
    Deploy,
    OpenApi,
    Me,
}

/// A query parameter: name, JSON Schema type, description.
pub type Param = (&'static str, &'static str, &'static str);

/// One route. `path` is relative to `PREFIX`; `{x}` is a path parameter.
pub struct RouteDef {
    pub method: &'static str,
    pub path: &'static str,
    pub op: Op,
    pub op_id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// the success status
    pub ok: u16,
    /// name of the request body's schema (components/schemas), if any
    pub body: Option<&'static str>,
    /// name of the success body's schema, if any
    pub returns: Option<&'static str>,
    pub query: &'static [Param],
    /// the least role that may call it (the SQL grants decide; this documents them)
    pub role: &'static str,
}

const PAGE: [Param; 2] = [
    ("limit", "integer", "rows per page, 1 to 1000 (default 50)"),
    ("cursor", "string", "the next_cursor of the previous page"),
];

macro_rules! route {
    ($m:literal, $p:literal, $op:ident, $id:literal, $tag:literal, $sum:literal, $ok:literal, $body:expr, $ret:expr, $q:expr, $role:literal) => {
        RouteDef {
            method: $m,
            path: $p,
            op: Op::$op,
            op_id: $id,
            tag: $tag,
            summary: $sum,
            ok: $ok,
            body: $body,
            returns: $ret,
            query: $q,
            role: $role,
        }
    };
}

pub const ROUTES: &[RouteDef] = &[
    route!(
        "GET",
        "/scripts",
        ListScripts,
        "listScripts",
        "scripts",
        "Scripts of the tenant, by name, with their last run status and next run",
        200,
        None,
        Some("ScriptPage"),
        &[
            ("search", "string", "words in the name or description"),
            (
                "type",
                "string",
                "scheduled, http, event, oneoff or embedded"
            ),
            (
                "status",
                "string",
                "draft, active, paused, disabled or archived"
            ),
            (
                "tags",
                "string",
                "comma-separated tags the script has all of"
            ),
            (
                "metadata",
                "string",
                "a JSON object the script's metadata contains"
            ),
            PAGE[0],
            PAGE[1]
        ],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/scripts",
        CreateScript,
        "createScript",
        "scripts",
        "Create a script (jsrt.create_script)",
        201,
        Some("ScriptCreate"),
        Some("Script"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "GET",
        "/scripts/{name}",
        GetScript,
        "getScript",
        "scripts",
        "A script, its source and settings; the ETag is its revision",
        200,
        None,
        Some("Script"),
        &[],
        "jsrt_viewer"
    ),
    route!(
        "PATCH",
        "/scripts/{name}",
        UpdateScript,
        "updateScript",
        "scripts",
        "Change a script (jsrt.update_script); If-Match with a stale ETag is refused with 412",
        200,
        Some("ScriptUpdate"),
        Some("Script"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "DELETE",
        "/scripts/{name}",
        DeleteScript,
        "deleteScript",
        "scripts",
        "Delete a script (jsrt.delete_script)",
        204,
        None,
        None,
        &[],
        "jsrt_admin"
    ),
    route!(
        "POST",
        "/scripts/{name}/status",
        SetStatus,
        "setScriptStatus",
        "scripts",
        "Change a script's status (jsrt.set_status)",
        200,
        Some("StatusChange"),
        Some("Script"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "GET",
        "/scripts/{name}/versions",
        ListVersions,
        "listVersions",
        "versions",
        "The script's versions, newest first",
        200,
        None,
        Some("VersionList"),
        &[],
        "jsrt_viewer"
    ),
    route!(
        "GET",
        "/scripts/{name}/versions/{version}",
        GetVersion,
        "getVersion",
        "versions",
        "One version and its source",
        200,
        None,
        Some("Version"),
        &[],
        "jsrt_viewer"
    ),
    route!(
        "GET",
        "/scripts/{name}/diff",
        Diff,
        "diffVersions",
        "versions",
        "A unified diff between two versions",
        200,
        None,
        Some("Diff"),
        &[
            ("from", "integer", "the older version"),
            ("to", "integer", "the newer version (default: current)")
        ],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/scripts/{name}/rollback",
        Rollback,
        "rollbackScript",
        "versions",
        "Make an old version current again, as a new version (jsrt.rollback_script)",
        200,
        Some("Rollback"),
        Some("Script"),
        &[],
        "jsrt_developer"
    ),
    route!("POST", "/scripts/{name}/dry-run", DryRun, "dryRun", "runs",
        "Run the script, or an edited source, against the tenant's data, then roll everything back (jsrt.dry_run)",
        200, Some("DryRunRequest"), Some("DryRunResult"), &[], "jsrt_developer"),
    route!(
        "GET",
        "/scripts/{name}/schedule",
        ScriptSchedule,
        "scriptSchedule",
        "schedules",
        "A scheduled script's next run times",
        200,
        None,
        Some("Schedule"),
        &[(
            "count",
            "integer",
            "how many next run times, 1 to 100 (default 5)"
        )],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/scripts/{name}/runs",
        StartRun,
        "startRun",
        "runs",
        "Queue a run (jsrt.execute_async); with wait, answer when it ends or the wait is over",
        202,
        Some("RunStart"),
        Some("Run"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "GET",
        "/runs",
        ListRuns,
        "listRuns",
        "runs",
        "Runs of the tenant, newest first, filtered, by keyset pages",
        200,
        None,
        Some("RunPage"),
        &[
            (
                "status",
                "string",
                "pending, running, completed, failed, timeout or cancelled"
            ),
            ("trigger", "string", "cron, http, event, manual or api"),
            ("script", "string", "a script's name or id"),
            ("version", "integer", "the script version that ran"),
            ("since", "string", "started at or after (RFC 3339)"),
            ("until", "string", "started before (RFC 3339)"),
            ("input", "string", "a JSON value the run's input contains"),
            ("q", "string", "text in the error or the logs"),
            PAGE[0],
            PAGE[1]
        ],
        "jsrt_viewer"
    ),
    // before /runs/{id}, which would take "stream" for an id
    route!("GET", "/runs/stream", StreamRuns, "streamRuns", "runs",
        "Server-sent events: the tenant's runs as they start and end (reconnect with Last-Event-ID)",
        200, None, None,
        &[("script", "string", "a script's name or id"),
          ("since", "string", "updates after this time (the last event's id); default now"),
          ("wait", "integer", "seconds to wait for a first update, 0 to 25 (default 15)")],
        "jsrt_viewer"),
    route!(
        "GET",
        "/runs/{id}",
        GetRun,
        "getRun",
        "runs",
        "One run; while it runs, its live progress and last log lines (jsrt.running())",
        200,
        None,
        Some("Run"),
        &[],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/runs/{id}/cancel",
        CancelRun,
        "cancelRun",
        "runs",
        "Cancel a run (jsrt.cancel)",
        200,
        None,
        Some("Cancelled"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "POST",
        "/runs/{id}/replay",
        ReplayRun,
        "replayRun",
        "runs",
        "Queue the run's script again, with its input or an edited one",
        202,
        Some("Replay"),
        Some("Run"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "GET",
        "/dead-letters",
        ListDeadLetters,
        "listDeadLetters",
        "dead letters",
        "Dead letters of the tenant, newest first",
        200,
        None,
        Some("DeadLetterPage"),
        &[
            ("script", "string", "a script's name or id"),
            ("event_type", "string", "the event type"),
            PAGE[0],
            PAGE[1]
        ],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/dead-letters/{id}/retry",
        RetryDeadLetter,
        "retryDeadLetter",
        "dead letters",
        "Queue a dead letter's event again (jsrt.retry_dead_letter)",
        202,
        None,
        Some("Run"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "POST",
        "/dead-letters/redrive",
        Redrive,
        "redriveDeadLetters",
        "dead letters",
        "Queue again every dead letter matching the filters (jsrt.redrive_dead_letters)",
        200,
        Some("Redrive"),
        Some("Redriven"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "GET",
        "/schedules",
        ListSchedules,
        "listSchedules",
        "schedules",
        "Scheduled scripts with their next run times",
        200,
        None,
        Some("ScheduleList"),
        &[(
            "count",
            "integer",
            "how many next run times each, 1 to 100 (default 5)"
        )],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/events",
        Emit,
        "emitEvent",
        "events",
        "Emit an event (jsrt.emit)",
        201,
        Some("Event"),
        Some("Emitted"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "GET",
        "/secrets",
        ListSecrets,
        "listSecrets",
        "secrets",
        "Names of the tenant's secrets (never their values)",
        200,
        None,
        Some("SecretList"),
        &[],
        "jsrt_viewer"
    ),
    route!(
        "PUT",
        "/secrets/{name}",
        SetSecret,
        "setSecret",
        "secrets",
        "Set a secret (jsrt.set_secret); its value is never read back",
        204,
        Some("SecretValue"),
        None,
        &[],
        "jsrt_admin"
    ),
    route!(
        "DELETE",
        "/secrets/{name}",
        DeleteSecret,
        "deleteSecret",
        "secrets",
        "Delete a secret (jsrt.delete_secret)",
        204,
        None,
        None,
        &[],
        "jsrt_admin"
    ),
    route!(
        "GET",
        "/api-keys",
        ListKeys,
        "listApiKeys",
        "api keys",
        "The tenant's API keys (never their hashes)",
        200,
        None,
        Some("KeyList"),
        &[],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/api-keys",
        CreateKey,
        "createApiKey",
        "api keys",
        "Make an API key (jsrt.create_api_key); the key is shown only in this response",
        201,
        Some("KeyCreate"),
        Some("KeyCreated"),
        &[],
        "jsrt_admin"
    ),
    route!(
        "DELETE",
        "/api-keys/{name}",
        RevokeKey,
        "revokeApiKey",
        "api keys",
        "Revoke an API key (jsrt.revoke_api_key)",
        204,
        None,
        None,
        &[],
        "jsrt_admin"
    ),
    route!(
        "GET",
        "/me",
        Me,
        "whoAmI",
        "meta",
        "The key's role and tenant: what a client may offer its user",
        200,
        None,
        Some("Me"),
        &[],
        "jsrt_viewer"
    ),
    route!(
        "GET",
        "/jsrt.d.ts",
        Types,
        "typeDeclarations",
        "meta",
        "TypeScript declarations of ctx and the standard library",
        200,
        None,
        None,
        &[],
        "jsrt_viewer"
    ),
    route!(
        "POST",
        "/deploy",
        Deploy,
        "deployBundle",
        "scripts",
        "Create and update a bundle of scripts in one transaction: all or nothing",
        200,
        Some("Bundle"),
        Some("Deployed"),
        &[],
        "jsrt_developer"
    ),
    route!(
        "GET",
        "/openapi.json",
        OpenApi,
        "openapi",
        "meta",
        "This document",
        200,
        None,
        None,
        &[],
        "jsrt_viewer"
    ),
];

/// What a path and method route to.
#[derive(Debug, PartialEq)]
pub enum Found {
    Route(Op, Vec<(String, String)>),
    /// the path exists with these methods
    WrongMethod(Vec<&'static str>),
    Nothing,
}

/// Whether a path belongs to the management API.
pub fn is_api(path: &str) -> bool {
    path == PREFIX || path.starts_with("/_jsrt/api/v1/")
}

/// The route of `method` and `path` (the whole path, prefix included, as
/// sent). A segment that is not UTF-8 once decoded routes nowhere.
pub fn find(method: &str, path: &str) -> Found {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Found::Nothing;
    };
    let parts: Option<Vec<String>> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let Some(parts) = parts else {
        return Found::Nothing;
    };
    let method = if method == "HEAD" { "GET" } else { method };
    let mut allow = Vec::new();
    for r in ROUTES {
        let Some(params) = matches(r.path, &parts) else {
            continue;
        };
        if r.method == method {
            return Found::Route(r.op, params);
        }
        allow.push(r.method);
    }
    if allow.is_empty() {
        Found::Nothing
    } else {
        Found::WrongMethod(allow)
    }
}

fn matches(pattern: &str, parts: &[String]) -> Option<Vec<(String, String)>> {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if pattern.len() != parts.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, part) in pattern.iter().zip(parts) {
        match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => params.push((name.to_string(), part.clone())),
            None if p == part => {}
            None => return None,
        }
    }
    Some(params)
}

/// The query's parameters, decoded (`+` is a space), in order.
pub fn query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: &str, path: &str) -> Option<(Op, Vec<(String, String)>)> {
        match find(method, path) {
            Found::Route(op, p) => Some((op, p)),
            _ => None,
        }
    }

    #[test]
    fn routes_scripts_and_their_parts() {
        assert_eq!(
            op("GET", "/_jsrt/api/v1/scripts").unwrap().0,
            Op::ListScripts
        );
        assert_eq!(
            op("GET", "/_jsrt/api/v1/scripts/").unwrap().0,
            Op::ListScripts
        );
        assert_eq!(
            op("POST", "/_jsrt/api/v1/scripts").unwrap().0,
            Op::CreateScript
        );
        let (o, p) = op("PATCH", "/_jsrt/api/v1/scripts/my%20job").unwrap();
        assert_eq!(
            (o, p),
            (Op::UpdateScript, vec![("name".into(), "my job".into())])
        );
        let (o, p) = op("GET", "/_jsrt/api/v1/scripts/a/versions/3").unwrap();
        assert_eq!(o, Op::GetVersion);
        assert_eq!(p[1], ("version".into(), "3".into()));
        assert_eq!(op("HEAD", "/_jsrt/api/v1/runs").unwrap().0, Op::ListRuns);
        // a literal segment wins over nothing: redrive is not a dead letter id
        assert_eq!(
            op("POST", "/_jsrt/api/v1/dead-letters/redrive").unwrap().0,
            Op::Redrive
        );
        assert_eq!(
            op("POST", "/_jsrt/api/v1/dead-letters/x/retry").unwrap().0,
            Op::RetryDeadLetter
        );
    }

    #[test]
    fn wrong_method_and_nothing() {
        assert_eq!(
            find("PUT", "/_jsrt/api/v1/scripts/a"),
            Found::WrongMethod(vec!["GET", "PATCH", "DELETE"])
        );
        assert_eq!(find("GET", "/_jsrt/api/v1/nope"), Found::Nothing);
        assert_eq!(find("GET", "/_jsrt/api/v2/scripts"), Found::Nothing);
        assert_eq!(find("GET", "/_jsrt/api/v1/scripts/%FF"), Found::Nothing);
        assert!(is_api("/_jsrt/api/v1/scripts"));
        assert!(!is_api("/_jsrt/api/v10/scripts"));
        assert!(!is_api("/orders"));
    }

    #[test]
    fn every_route_is_reachable_and_unique() {
        for r in ROUTES {
            let concrete = r
                .path
                .replace("{name}", "n")
                .replace("{id}", "i")
                .replace("{version}", "1");
            let path = format!("{PREFIX}{concrete}");
            assert_eq!(
                op(r.method, &path).map(|x| x.0),
                Some(r.op),
                "{} {}",
                r.method,
                r.path
            );
        }
        let mut ids: Vec<_> = ROUTES.iter().map(|r| r.op_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ROUTES.len());
    }

    #[test]
    fn query_decodes() {
        assert_eq!(
            query("a=1&b=x+y&c=%7B%22k%22%3A1%7D"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "{\"k\":1}".into())
            ]
        );
    }
}
