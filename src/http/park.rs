//! Requests parked in the front door: a management API call that starts a
//! run with `wait` is answered by its runner at once with a park header; the
//! front holds the client's connection, holding no runner, and now and then
//! asks a runner for the run (`GET /_jsrt/api/v1/runs/{id}`, with the
//! caller's own credentials) until it has ended or the wait is over. Pure.

use std::time::Duration;

use super::request::Request;
use super::response::Response;

/// The runner's header on a response to park: "EXECUTION_ID TIMEOUT_MS".
/// The front honours it on management API responses only, and never sends it on.
pub const HEADER: &str = "x-jsrt-park";

/// Where runs are read.
const RUNS: &str = "/_jsrt/api/v1/runs/";

/// The runner's answer to a request that waits for run `id` up to `timeout_ms`.
pub fn parked(id: &str, timeout_ms: u64) -> Response {
    let mut r = Response::json(202, &serde_json::json!({"id": id, "status": "pending"}));
    r.headers
        .push((HEADER.into(), format!("{id} {timeout_ms}")));
    r
}

/// The run and the wait a runner's response asks the front to park for.
pub fn requested(r: &Response) -> Option<(String, Duration)> {
    let v = r.headers.iter().find(|(n, _)| n == HEADER)?.1.as_str();
    let (id, ms) = v.split_once(' ')?;
    let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    Some((id.to_string(), Duration::from_millis(ms.parse().ok()?))).filter(|_| ok)
}

/// The request that reads run `id`, with the original request's credentials
/// and tenant (every header but those of its body).
pub fn check(original: &Request, id: &str) -> Request {
    Request {
        method: "GET".into(),
        path: format!("{RUNS}{id}"),
        query: String::new(),
        headers: original
            .headers
            .iter()
            .filter(|(n, _)| {
                !matches!(
                    n.as_str(),
                    "content-length" | "content-type" | "transfer-encoding" | "expect"
                )
            })
            .cloned()
            .collect(),
        body: Vec::new(),
        keep_alive: original.keep_alive,
    }
}

/// What a check's response means: the answer to send (the run, 200 once it
/// has ended, 202 when the wait is over first; an error as it is), or None
/// to park again.
pub fn answer(r: Response, wait_over: bool) -> Option<Response> {
    if r.status != 200 {
        return Some(r);
    }
    let ended = serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| {
            v["status"]
                .as_str()
                .map(|s| !matches!(s, "pending" | "running"))
        })
        .unwrap_or(true);
    match (ended, wait_over) {
        (true, _) => Some(r),
        (false, true) => Some(Response { status: 202, ..r }),
        (false, false) => None,
    }
}

/// How long to wait before check number `n` (from 0): quick at first, for
/// short runs, then every half second.
pub fn delay(n: u32) -> Duration {
    Duration::from_millis((10u64 << n.min(6)).min(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str) -> Response {
        Response::json(200, &serde_json::json!({"id": "a-1", "status": status}))
    }

    #[test]
    fn a_parked_answer_names_its_run_and_wait() {
        let r = parked("0b1c-2d", 5000);
        assert_eq!(
            requested(&r),
            Some(("0b1c-2d".into(), Duration::from_millis(5000)))
        );
        let mut odd = parked("x y", 5);
        odd.headers[1].1 = "zz' 5".into();
        assert_eq!(requested(&odd), None);
        assert_eq!(requested(&run("running")), None);
    }

    #[test]
    fn the_check_keeps_the_callers_credentials_only() {
        let original = Request {
            method: "POST".into(),
            path: "/_jsrt/api/v1/scripts/s/runs".into(),
            query: "x=1".into(),
            headers: vec![
                ("authorization".into(), "Bearer k".into()),
                ("x-jsrt-tenant".into(), "t".into()),
                ("content-length".into(), "2".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: b"{}".to_vec(),
            keep_alive: true,
        };
        let c = check(&original, "a-1");
        assert_eq!(
            (c.method.as_str(), c.path.as_str(), c.query.as_str()),
            ("GET", "/_jsrt/api/v1/runs/a-1", "")
        );
        assert_eq!(c.headers.len(), 2);
        assert!(c.body.is_empty() && c.keep_alive);
    }

    #[test]
    fn a_check_ends_the_wait_when_the_run_ends_or_the_time_is_up() {
        assert_eq!(answer(run("completed"), false).map(|r| r.status), Some(200));
        assert_eq!(answer(run("failed"), false).map(|r| r.status), Some(200));
        assert!(answer(run("running"), false).is_none());
        assert!(answer(run("pending"), false).is_none());
        assert_eq!(answer(run("running"), true).map(|r| r.status), Some(202));
        let gone = Response::error(404, "no run", &[]);
        assert_eq!(answer(gone, false).map(|r| r.status), Some(404));
        assert_eq!(
            (delay(0), delay(3), delay(20)),
            (
                Duration::from_millis(10),
                Duration::from_millis(80),
                Duration::from_millis(500)
            )
        );
    }
}
