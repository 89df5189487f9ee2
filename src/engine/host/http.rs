//! ctx.http: `fetch(url, {method, headers, body, timeoutMs})`, `get`,
//! `post`, `put` and `delete`, each returning a promise of
//! `{status, ok, url, headers, body, text(), json()}`.
//!
//! The request itself (SSRF rules, redirects, caps) is `crate::outbound`. It
//! runs on a helper thread with every signal blocked, so that this, the
//! backend's main thread, keeps watching for a cancel, a statement timeout
//! and the run's deadline while it waits.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rquickjs::{Ctx, Function, Object, Value};

use super::super::failure::FailureKind;
use super::super::sandbox::{postgres_wants_out, Watch};
use super::js::{bad, error_object, method, text, Js};
use super::log::LogBuffer;
use crate::gucs;
use crate::outbound::{self, Error};
use crate::ssrf::Allow;

thread_local! {
    /// One client per backend, so that connections stay open between
    /// requests; each connection serves the tenant that opened it only.
    static CLIENT: outbound::Client = outbound::Client::default();
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub fn make<'js>(
    ctx: &Ctx<'js>,
    watch: &Rc<Watch>,
    logs: &Rc<RefCell<LogBuffer>>,
) -> rquickjs::Result<Object<'js>> {
    let http = Object::new(ctx.clone())?;
    // (name, fixed method, whether the body is the second argument)
    for (name, fixed, body_arg) in [
        ("fetch", None, false),
        ("get", Some("GET"), false),
        ("delete", Some("DELETE"), false),
        ("post", Some("POST"), true),
        ("put", Some("PUT"), true),
    ] {
        let logs = logs.clone();
        method(ctx, &http, watch, name, move |ctx, w, a| {
            let what = format!("ctx.http.{name}");
            let (promise, resolve, reject) = ctx.promise()?;
            let outcome = parse(ctx, &what, fixed, body_arg, a)
                .and_then(|(req, timeout)| send(ctx, w, &logs, &what, req, timeout))
                .and_then(|r| response(ctx, r));
            match outcome {
                Ok(v) => resolve.call::<_, ()>((v,))?,
                Err(rquickjs::Error::Exception) => reject.call::<_, ()>((ctx.catch(),))?,
                Err(e) => return Err(e),
            }
            Ok(promise.into_value())
        })?;
    }
    super::js::freeze(ctx, &http);
    Ok(http)
}

/// The request the arguments describe: `(url, options)`, or `(url, body, options)`.
fn parse<'js>(
    ctx: &Ctx<'js>,
    what: &str,
    fixed: Option<&str>,
    body_arg: bool,
    a: &[Value<'js>],
) -> rquickjs::Result<(outbound::Request, Option<u64>)> {
    let url = text(ctx, a.first(), what, "the URL must be a string")?;
    let body = if body_arg { a.get(1) } else { None };
    let options = match a.get(if body_arg { 2 } else { 1 }) {
        None => None,
        Some(v) if v.is_undefined() || v.is_null() => None,
        Some(v) => Some(
            v.as_object()
                .filter(|_| !v.is_array() && !v.is_function())
                .ok_or_else(|| bad(ctx, what, "the options must be an object"))?
                .clone(),
        ),
    };
    let option = |key: &str| -> rquickjs::Result<Option<Value<'js>>> {
        Ok(match &options {
            Some(o) => Some(o.get::<_, Value>(key)?).filter(|v| !v.is_undefined()),
            None => None,
        })
    };
    let method = match (fixed, option("method")?) {
        (Some(m), _) => m.to_string(),
        (None, None) => "GET".to_string(),
        (None, Some(m)) => {
            let m = m
                .as_string()
                .map(|s| s.to_string())
                .transpose()?
                .map(|s| s.to_ascii_uppercase())
                .filter(|m| METHODS.contains(&m.as_str()))
                .ok_or_else(|| {
                    bad(
                        ctx,
                        what,
                        &format!("\"method\" must be one of {}", METHODS.join(", ")),
                    )
                })?;
            m
        }
    };
    let mut headers = Vec::new();
    if let Some(h) = option("headers")? {
        let h = h.as_object().filter(|_| !h.is_array()).ok_or_else(|| {
            bad(
                ctx,
                what,
                "\"headers\" must be an object of names and strings",
            )
        })?;
        for entry in h.props::<String, Value>() {
            let (name, value) = entry?;
            let value = match value.as_string() {
                Some(s) => super::js::usv(ctx, s)?,
                None if value.is_number() => ctx
                    .json_stringify(value)?
                    .map(|s| s.to_string())
                    .transpose()?
                    .unwrap_or_default(),
                None => {
                    return Err(bad(
                        ctx,
                        what,
                        &format!("header \"{name}\" must be a string"),
                    ))
                }
            };
            outbound::check_header(&name, &value).map_err(|m| bad(ctx, what, &m))?;
            headers.push((name, value));
        }
    }
    let body = match body.cloned().or(option("body")?) {
        None => None,
        Some(b) => Some(body_bytes(ctx, what, b, &mut headers)?),
    };
    let timeout = match option("timeoutMs")? {
        None => None,
        Some(t) => Some(
            t.as_number()
                .filter(|n| n.is_finite() && *n >= 1.0)
                .ok_or_else(|| {
                    bad(
                        ctx,
                        what,
                        "\"timeoutMs\" must be a number of milliseconds, at least 1",
                    )
                })? as u64,
        ),
    };
    Ok((
        outbound::Request {
            method,
            url,
            headers,
            body,
            redirect: outbound::Redirect::Follow,
        },
        timeout,
    ))
}

/// A body as bytes: strings as UTF-8, bytes as they are, anything else as
/// JSON, with a Content-Type to match unless the script set one.
fn body_bytes<'js>(
    ctx: &Ctx<'js>,
    what: &str,
    b: Value<'js>,
    headers: &mut Vec<(String, String)>,
) -> rquickjs::Result<Vec<u8>> {
    let mut default_type = |t: &str| {
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), t.into()));
        }
    };
    if let Some(s) = b.as_string() {
        default_type("text/plain; charset=utf-8");
        return Ok(super::js::usv(ctx, s)?.into_bytes());
    }
    if let Some(bytes) = super::js::bytes(&b) {
        default_type("application/octet-stream");
        return Ok(bytes);
    }
    if is_search_params(ctx, &b) {
        default_type("application/x-www-form-urlencoded;charset=UTF-8");
        let s: String = b
            .as_object()
            .map(|o| o.get::<_, Function>("toString"))
            .transpose()?
            .map(|f| f.call((rquickjs::function::This(b.clone()),)))
            .transpose()?
            .unwrap_or_default();
        return Ok(s.into_bytes());
    }
    match ctx.json_stringify(b)? {
        Some(s) => {
            default_type("application/json");
            Ok(s.to_string()?.into_bytes())
        }
        None => Err(bad(ctx, what, "the body cannot be sent: it is not JSON")),
    }
}

fn is_search_params<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> bool {
    let class: Option<Function> = ctx.globals().get("URLSearchParams").ok();
    match (v.as_object(), class) {
        (Some(o), Some(c)) => c
            .as_object()
            .and_then(|c| c.get::<_, Object>("prototype").ok())
            .is_some_and(|p| o.get_prototype().is_some_and(|q| q == p)),
        _ => false,
    }
}

thread_local! {
    /// ctx.http is refused (a dry run that did not ask for it).
    static REFUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Refuses ctx.http and fetch requests while it lives: a dry run's requests would
/// reach the outside world, which no rollback undoes.
pub struct RefuseHttp(());

impl RefuseHttp {
    pub fn new() -> RefuseHttp {
        REFUSED.set(true);
        RefuseHttp(())
    }
}

impl Drop for RefuseHttp {
    fn drop(&mut self) {
        REFUSED.set(false);
    }
}

/// Sends the request on a helper thread and waits for it, watching for
/// interrupts. ctx.http and fetch both send through here, so the SSRF
/// rules, caps, quotas and logging cannot differ between them. Throws an
/// HttpError (with `kind`, `code` and, for refusals, `rule`), or a
/// RangeError when a limit on calls is reached.
pub fn send<'js>(
    ctx: &Ctx<'js>,
    watch: &Watch,
    logs: &Rc<RefCell<LogBuffer>>,
    what: &str,
    req: outbound::Request,
    timeout_ms: Option<u64>,
) -> rquickjs::Result<outbound::Response> {
    if watch.stopped() {
        return Err(http_error(
            ctx,
            &format!("{what}: the run is over"),
            "cancelled",
            "57014",
        ));
    }
    if REFUSED.get() {
        return Err(http_error(
            ctx,
            &format!("{what}: refused during a dry run (jsrt.dry_run(..., allow_http => true) allows it)"),
            "refused",
            "42501",
        ));
    }
    let allow = Allow::parse(&gucs::http_allow())
        .map_err(|e| http_error(ctx, &format!("{what}: {e}"), "bad_setting", "22023"))?;
    if let Some(b) = &req.body {
        let cap = gucs::http_max_request_bytes();
        if b.len() > cap {
            return Err(limit(
                ctx,
                &format!(
                    "{what}: the body is {} bytes, over jsrt.http_max_request_bytes ({cap})",
                    b.len()
                ),
            ));
        }
    }
    super::count_call(what, super::Api::Http).map_err(|m| limit(ctx, &m))?;
    let cap = gucs::http_timeout_ms();
    let run_deadline = super::deadline();
    let mut timeout = Duration::from_millis(timeout_ms.map_or(cap, |t| t.min(cap)));
    if let Some(d) = run_deadline {
        // A request never outlives its run.
        timeout =
            timeout.min(d.saturating_duration_since(Instant::now()) + Duration::from_millis(50));
    }
    let limits = outbound::Limits {
        timeout,
        max_response_bytes: gucs::http_max_response_bytes(),
        max_redirects: gucs::http_max_redirects(),
    };
    let line = format!("{} {}", req.method, req.url);
    let sender = sender();
    let (tx, rx) = mpsc::channel();
    let client = CLIENT.with(outbound::Client::clone);
    crate::threads::spawn_without_signals("jsrt-http-client", move || {
        let _ = tx.send(client.fetch(&sender, req, &allow, &limits, &outbound::system_resolver));
    })
    .map_err(|e| {
        http_error(
            ctx,
            &format!("{what}: cannot start the request: {e}"),
            "transport",
            "58000",
        )
    })?;
    let result = loop {
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(r) => break r,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(Error::Transport(
                    "the request thread ended without an answer".into(),
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The thread is left to finish on its own; its timeout bounds it.
                let stop = if postgres_wants_out() || crate::shmem::board::cancel_requested() {
                    Some(FailureKind::Cancelled)
                } else if run_deadline.is_some_and(|d| Instant::now() >= d) {
                    Some(FailureKind::Timeout)
                } else {
                    None
                };
                if let Some(kind) = stop {
                    watch.stop(kind);
                    return Err(http_error(
                        ctx,
                        &format!("{what}: the run is over"),
                        "cancelled",
                        "57014",
                    ));
                }
            }
        }
    };
    result.map_err(|e| {
        let (kind, code) = match &e {
            Error::BadUrl(_) | Error::Scheme(_) => ("bad_url", "22023"),
            Error::Invalid(_) => ("bad_request", "22023"),
            Error::Refused { .. } => ("refused", "42501"),
            Error::Resolve(..) => ("resolve", "08001"),
            Error::TooManyRedirects(_) => ("too_many_redirects", "54000"),
            Error::Redirected(..) => ("redirected", "08006"),
            Error::TooLarge(_) => ("too_large", "54000"),
            Error::Timeout(_) => ("timeout", "08006"),
            Error::Transport(_) => ("transport", "08006"),
        };
        let message = format!("{what}: {line}: {e}");
        if let Error::Refused { rule, .. } = &e {
            logs.borrow_mut()
                .push("warn", message.clone(), watch.elapsed_ms());
            return match error_object(ctx, "HttpError", &message, code).and_then(|err| {
                err.set("kind", kind)?;
                err.set("rule", rule.to_string())?;
                Ok(err)
            }) {
                Ok(err) => ctx.throw(err.into_value()),
                Err(e) => e,
            };
        }
        http_error(ctx, &message, kind, code)
    })
}

/// The run's tenant, whose connections the request may reuse, and the
/// secrets it has read so far, kept from other origins on redirects.
fn sender() -> outbound::Sender {
    super::current(|run| outbound::Sender {
        tenant: run.request().tenant_id.to_string(),
        secrets: run.usage.secrets.clone(),
    })
    .unwrap_or_default()
}

/// `{status, ok, url, headers, body, text(), json()}`; repeated headers are joined with ", ".
fn response<'js>(ctx: &Ctx<'js>, r: outbound::Response) -> Js<'js> {
    let o = Object::new(ctx.clone())?;
    o.set("status", r.status)?;
    o.set("ok", (200..300).contains(&r.status))?;
    o.set("url", r.url)?;
    let headers = Object::new(ctx.clone())?;
    for (name, value) in r.headers {
        let joined = match headers.get::<_, Option<String>>(name.as_str())? {
            Some(before) => format!("{before}, {value}"),
            None => value,
        };
        headers.set(name, joined)?;
    }
    o.set("headers", headers)?;
    let body = String::from_utf8_lossy(&r.body).into_owned();
    o.set("body", body.as_str())?;
    let b = body.clone();
    o.set("text", Function::new(ctx.clone(), move || b.clone())?)?;
    o.set(
        "json",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
            ctx.json_parse(body.clone())
        })?,
    )?;
    Ok(o.into_value())
}

fn http_error(ctx: &Ctx<'_>, message: &str, kind: &str, code: &str) -> rquickjs::Error {
    match error_object(ctx, "HttpError", message, code).and_then(|e| {
        e.set("kind", kind)?;
        Ok(e)
    }) {
        Ok(e) => ctx.throw(e.into_value()),
        Err(e) => e,
    }
}

fn limit(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    super::js::thrown(ctx, "RangeError", message, "54000")
}
