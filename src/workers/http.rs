//! HTTP workers: `jsrt.http_workers` background workers serving endpoint
//! scripts on `jsrt.http_listen`.
//!
//! The postmaster opens the listening socket while preloading, so every
//! worker (and every worker restarted after a crash) inherits the same port.
//! Each worker is one thread running one event loop over non-blocking
//! sockets (poll): it accepts, reads and parses requests as their bytes come
//! (keep-alive, size caps, a timeout for silent clients), answers each in a
//! transaction of its own (`api::http::dispatch`, `/healthz`, `/metrics`),
//! and writes responses as the sockets take them. A slow client holds up
//! nobody, and no request waits for a thread switch.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::{in_transaction, shutting_down};
use crate::gucs;
use crate::http::request::{self, Limits, Request};
use crate::http::response::Response;

/// The listening socket the postmaster opened; -1 when there is none.
static LISTENER: AtomicI32 = AtomicI32::new(-1);

/// From _PG_init while preloading: opens the port, then registers the workers.
pub fn init() {
    let workers = gucs::http_workers();
    if workers == 0 {
        return;
    }
    let addr = gucs::http_listen();
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            warning!("jsruntime: no HTTP workers: cannot listen on {addr} (jsrt.http_listen): {e}");
            return;
        }
    };
    LISTENER.store(listener.into_raw_fd(), Ordering::Relaxed);
    for n in 0..workers {
        BackgroundWorkerBuilder::new(&format!("jsrt http {n}"))
            .set_type("jsrt http")
            .set_function("jsrt_http_main")
            .set_library("jsruntime")
            .enable_spi_access()
            .set_restart_time(Some(Duration::from_secs(1)))
            .load();
    }
}

/// One client connection.
struct Conn {
    stream: TcpStream,
    fd: RawFd,
    input: Vec<u8>,
    output: Vec<u8>,
    /// close once `output` is written
    closing: bool,
    /// "100 Continue" already sent for the request being read
    continued: bool,
    /// the input may hold a whole request: bytes came, or one was answered with more behind it
    ready: bool,
    last_active: Instant,
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_http_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    super::connect();
    let fd = LISTENER.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // The socket is the postmaster's, shared by every worker; this process has its own copy.
    // SAFETY: `fd` is the listening socket inherited from the postmaster; this process's copy has no other
    // user here, so the listener may own (and close) it.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    if let Err(e) = listener.set_nonblocking(true) {
        log!("jsrt http: {e}");
        return;
    }
    serve(&listener);
}

/// The event loop, until SIGTERM or the postmaster's death.
fn serve(listener: &TcpListener) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut checked = Instant::now();
    let mut chunk = vec![0u8; 64 << 10];
    while !shutting_down() {
        if checked.elapsed() > Duration::from_secs(1) {
            checked = Instant::now();
            // false: the postmaster died
            if !BackgroundWorker::wait_latch(Some(Duration::ZERO)) {
                break;
            }
            if BackgroundWorker::sighup_received() {
                // SAFETY: the usual SIGHUP reload, on the worker's main thread between transactions.
                unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            }
            expire(&mut conns);
        }
        fds.clear();
        fds.push(pollfd(listener.as_raw_fd(), libc::POLLIN));
        for c in &conns {
            let events = if c.output.is_empty() {
                libc::POLLIN
            } else {
                libc::POLLOUT
            };
            fds.push(pollfd(c.fd, events));
        }
        // A signal (SIGTERM, SIGHUP) ends the wait early with EINTR.
        // Pipelined requests waiting for their turn: look again at once.
        let waiting = conns
            .iter()
            .any(|c| c.ready && c.output.is_empty() && !c.closing);
        // SAFETY: `fds` holds fds.len() initialised pollfd entries, borrowed for the call.
        let ready = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                if waiting { 0 } else { 200 },
            )
        };
        if ready < 0 {
            continue;
        }
        if fds[0].revents != 0 {
            accept(listener, &mut conns);
        }
        // Newly accepted connections have no pollfd yet; they are read next time round.
        for (i, f) in fds.iter().enumerate().skip(1) {
            if f.revents == 0 {
                continue;
            }
            let c = &mut conns[i - 1];
            if f.revents & libc::POLLOUT != 0 {
                flush(c);
            } else {
                read(c, &mut chunk);
            }
        }
        // One request per connection per turn, so that a client sending many
        // cannot starve the others; pipelined ones wait for the next turn.
        for c in conns.iter_mut() {
            if c.ready && c.output.is_empty() && !c.closing {
                answer_one(c);
            }
        }
        conns.retain(|c| !(c.closing && c.output.is_empty()));
    }
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Takes every waiting connection (other workers may take some first).
fn accept(listener: &TcpListener, conns: &mut Vec<Conn>) {
    while let Ok((stream, _)) = listener.accept() {
        let mut c = Conn {
            fd: stream.as_raw_fd(),
            stream,
            input: Vec::new(),
            output: Vec::new(),
            closing: false,
            continued: false,
            ready: false,
            last_active: Instant::now(),
        };
        if c.stream.set_nonblocking(true).is_err() {
            continue;
        }
        let _ = c.stream.set_nodelay(true);
        if conns.len() >= gucs::http_max_connections() {
            reply(
                &mut c,
                &Response::error(503, "too many connections", &[]),
                false,
                false,
            );
            flush(&mut c);
        }
        conns.push(c);
    }
}

/// Reads what has come.
fn read(c: &mut Conn, chunk: &mut [u8]) {
    loop {
        match c.stream.read(chunk) {
            Ok(0) => {
                c.closing = true;
                c.input.clear();
                break;
            }
            Ok(n) => {
                c.input.extend_from_slice(&chunk[..n]);
                c.last_active = Instant::now();
                c.ready = true;
                if c.input.len() > (16 << 10) + gucs::http_max_body_bytes() + 4096 {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                c.closing = true;
                c.input.clear();
                break;
            }
        }
    }
}

/// Answers the first request in the input if it is whole.
fn answer_one(c: &mut Conn) {
    let limits = Limits {
        max_header_bytes: 16 << 10,
        max_body_bytes: gucs::http_max_body_bytes(),
    };
    match request::parse(&c.input, &limits) {
        Ok(Some((req, used))) => {
            c.input.drain(..used);
            c.continued = false;
            c.ready = !c.input.is_empty();
            let response = answer(&req);
            reply(c, &response, req.method == "HEAD", req.keep_alive);
        }
        Ok(None) => {
            c.ready = false;
            if !c.continued && request::expects_continue(&c.input) {
                c.continued = true;
                c.output.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
        }
        Err(e) => reply(
            c,
            &Response::error(e.status(), &e.message(), &[]),
            false,
            false,
        ),
    }
    flush(c);
}

fn reply(c: &mut Conn, r: &Response, head: bool, keep_alive: bool) {
    c.output.extend_from_slice(&r.to_bytes(head, keep_alive));
    if !keep_alive {
        c.closing = true;
    }
}

/// Writes as much of the output as the socket takes now.
fn flush(c: &mut Conn) {
    while !c.output.is_empty() {
        match c.stream.write(&c.output) {
            Ok(0) => break,
            Ok(n) => {
                c.output.drain(..n);
                c.last_active = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                c.output.clear();
                c.closing = true;
                return;
            }
        }
    }
}

/// Connections silent past jsrt.http_idle_timeout_ms are closed; one in the
/// middle of a request first gets a 408.
fn expire(conns: &mut Vec<Conn>) {
    let idle = Duration::from_millis(gucs::http_idle_timeout_ms());
    for c in conns.iter_mut() {
        if c.last_active.elapsed() < idle {
            continue;
        }
        if !c.input.is_empty() && c.output.is_empty() && !c.closing {
            reply(
                c,
                &Response::error(408, "the request did not arrive in time", &[]),
                false,
                false,
            );
            flush(c);
        }
        c.output.clear();
        c.closing = true;
    }
    conns.retain(|c| !(c.closing && c.output.is_empty()));
}

fn answer(req: &Request) -> Response {
    // SAFETY: on the worker's main thread; Postgres copies the static C string.
    unsafe {
        pg_sys::pgstat_report_activity(
            pg_sys::BackendState::STATE_RUNNING,
            c"jsrt http request".as_ptr(),
        )
    };
    let out = in_transaction(AssertUnwindSafe(|| {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET" | "HEAD", "/healthz") => health(),
            ("GET" | "HEAD", "/metrics") => metrics(),
            _ => crate::endpoints::dispatch(req).0,
        }
    }));
    // SAFETY: on the worker's main thread; a null activity string is allowed.
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null()) };
    out.unwrap_or_else(|c| {
        log!("jsrt http: {} {}: {}", req.method, req.path, c.message);
        Response::error(500, "internal error", &[])
    })
}

fn health() -> Response {
    match Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'jsruntime')",
    ) {
        Ok(Some(true)) => Response::json(200, &serde_json::json!({"status": "ok"})),
        _ => Response::error(503, "jsruntime is not installed in jsrt.database", &[]),
    }
}

/// Prometheus text: runs by status and trigger, a duration histogram, the
/// queue's depth, and the jsrt workers by state (all from the database).
fn metrics() -> Response {
    match Spi::get_one::<String>(include_str!("../../sql/metrics.sql")) {
        Ok(Some(text)) => Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain; version=0.0.4".into())],
            body: text.into_bytes(),
        },
        Ok(None) => Response::error(500, "no metrics", &[]),
        Err(e) => Response::error(500, &format!("metrics: {e}"), &[]),
    }
}
