//! The Fetch standard's globals: fetch, Request, Response, Headers,
//! AbortController, AbortSignal, FormData, Blob, File and DOMException.
//! `fetch.js` defines them; requests go out through `host::http::send`, the
//! same path as ctx.http, so the SSRF rules, caps, quotas and logging are
//! the same. Loaded on a script's first touch of one of the globals.

use std::cell::RefCell;
use std::rc::Rc;

use rquickjs::{Ctx, Exception, Function, Object, TypedArray, Value};

use super::host::http;
use super::host::js::bytes;
use super::host::log::LogBuffer;
use super::lazy::Library;
use super::sandbox::Watch;
use crate::outbound::{self, Redirect};

pub static LIBRARY: Library = Library::new(
    "jsrt:fetch",
    include_str!("fetch.js"),
    &[
        "fetch",
        "Request",
        "Response",
        "Headers",
        "AbortController",
        "AbortSignal",
        "FormData",
        "Blob",
        "File",
        "DOMException",
    ],
);

/// Defines the globals in `ctx`, to load the library on first use; its
/// requests stop with the run `watch` watches and log refusals into `logs`.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    watch: &Rc<Watch>,
    logs: &Rc<RefCell<LogBuffer>>,
) -> rquickjs::Result<()> {
    let (watch, logs) = (watch.clone(), logs.clone());
    LIBRARY.install(ctx, move |ctx| {
        LIBRARY.evaluate(ctx, natives(ctx, watch.clone(), logs.clone())?)
    })
}

fn natives<'js>(
    ctx: &Ctx<'js>,
    watch: Rc<Watch>,
    logs: Rc<RefCell<LogBuffer>>,
) -> rquickjs::Result<Object<'js>> {
    let n = Object::new(ctx.clone())?;
    n.set(
        "send",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, o: Object<'js>| {
            let _host = super::watchdog::Host::enter();
            let (req, timeout) = request(&ctx, &o)?;
            let r = http::send(&ctx, &watch, &logs, "fetch", req, timeout)?;
            response(&ctx, r)
        })?,
    )?;
    n.set(
        "utf8Encode",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, s: String| {
            TypedArray::<u8>::new(ctx, s.into_bytes())
        })?,
    )?;
    // UTF-8 decode as the Encoding standard's: a BOM is dropped, bad bytes become U+FFFD.
    n.set(
        "utf8Decode",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, v: Value<'js>| {
            let b =
                bytes(&v).ok_or_else(|| Exception::throw_type(&ctx, "expected a Uint8Array"))?;
            let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&b);
            Ok::<_, rquickjs::Error>(String::from_utf8_lossy(b).into_owned())
        })?,
    )?;
    Ok(n)
}

/// `{method, url, headers: [[name, value]], body?: Uint8Array, redirect, timeoutMs?}`
/// from fetch.js, which has checked each part already except the headers
/// only the client writes.
fn request<'js>(
    ctx: &Ctx<'js>,
    o: &Object<'js>,
) -> rquickjs::Result<(outbound::Request, Option<u64>)> {
    let method: String = o.get("method")?;
    let url: String = o.get("url")?;
    let pairs: Vec<Vec<String>> = o.get("headers")?;
    let mut headers = Vec::with_capacity(pairs.len());
    for p in pairs {
        if let [name, value] = p.as_slice() {
            outbound::check_header(name, value)
                .map_err(|m| Exception::throw_type(ctx, &format!("fetch: {m}")))?;
            headers.push((name.clone(), value.clone()));
        }
    }
    let body: Value = o.get("body")?;
    let body = if body.is_undefined() || body.is_null() {
        None
    } else {
        Some(
            bytes(&body)
                .ok_or_else(|| Exception::throw_type(ctx, "fetch: the body must be bytes"))?,
        )
    };
    let redirect = match o.get::<_, String>("redirect")?.as_str() {
        "manual" => Redirect::Manual,
        "error" => Redirect::Error,
        _ => Redirect::Follow,
    };
    let timeout: Option<f64> = o.get("timeoutMs")?;
    Ok((
        outbound::Request {
            method,
            url,
            headers,
            body,
            redirect,
        },
        timeout.map(|t| t.ceil().max(1.0) as u64),
    ))
}

/// `{status, statusText, url, redirected, headers: [[name, value]], body: Uint8Array}`
fn response<'js>(ctx: &Ctx<'js>, r: outbound::Response) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("status", r.status)?;
    o.set("statusText", r.reason)?;
    o.set("url", r.url)?;
    o.set("redirected", r.redirected)?;
    let headers: Vec<Vec<String>> = r.headers.into_iter().map(|(n, v)| vec![n, v]).collect();
    o.set("headers", headers)?;
    o.set("body", TypedArray::<u8>::new(ctx.clone(), r.body)?)?;
    Ok(o)
}
