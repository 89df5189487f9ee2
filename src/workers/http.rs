//! HTTP workers: `jsrt.http_workers` background workers serving endpoint
//! scripts on `jsrt.http_listen`.
//!
//! The postmaster opens the listening socket while preloading, so every
//! worker (and every worker restarted after a crash) inherits the same port.
//! In each worker, threads do the network: one accepts, one per connection
//! reads and parses requests (keep-alive, size caps, a timeout for slow
//! clients) and writes responses. The main thread does all the SQL: it takes
//! parsed requests from a bounded queue and answers each in a transaction of
//! its own (`api::http::dispatch`, `/healthz`, `/metrics`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::{in_transaction, shutting_down, spawn_without_signals};
use crate::gucs;
use crate::http::request::{self, Limits, Request};
use crate::http::response::Response;

/// The listening socket the postmaster opened; -1 when there is none.
static LISTENER: AtomicI32 = AtomicI32::new(-1);

/// Requests parsed and waiting for the main thread; past this, 503.
const QUEUE: usize = 256;

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

/// One parsed request and where its response goes.
struct Job {
    request: Request,
    reply: SyncSender<Vec<u8>>,
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_http_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(Some(&gucs::database()), None);
    let fd = LISTENER.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // The socket is the postmaster's, shared by every worker; this process has its own copy.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
    let settings = Arc::new(Settings::default());
    settings.refresh();
    let s = settings.clone();
    if let Err(e) = spawn_without_signals("jsrt-http-accept", move || accept(listener, tx, s)) {
        log!("jsrt http: cannot start the accept thread: {e}");
        return;
    }
    serve(rx, &settings);
}

/// What the network threads need of the settings: the main thread copies
/// them here at start and after each SIGHUP (threads never read GUCs).
#[derive(Default)]
struct Settings {
    max_body_bytes: AtomicUsize,
    idle_ms: AtomicU64,
    max_connections: AtomicUsize,
    /// connections open now
    open: AtomicUsize,
}

impl Settings {
    fn refresh(&self) {
        self.max_body_bytes
            .store(gucs::http_max_body_bytes(), Ordering::Relaxed);
        self.idle_ms
            .store(gucs::http_idle_timeout_ms(), Ordering::Relaxed);
        self.max_connections
            .store(gucs::http_max_connections(), Ordering::Relaxed);
    }

    fn limits(&self) -> Limits {
        Limits {
            max_header_bytes: 16 << 10,
            max_body_bytes: self.max_body_bytes.load(Ordering::Relaxed),
        }
    }
}

/// The main thread: answers queued requests, one transaction each, until SIGTERM.
fn serve(rx: Receiver<Job>, settings: &Settings) {
    let mut checked = Instant::now();
    while !shutting_down() {
        let job = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(job) => Some(job),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if job.is_none() || checked.elapsed() > Duration::from_secs(1) {
            checked = Instant::now();
            // false: the postmaster died
            if !BackgroundWorker::wait_latch(Some(Duration::ZERO)) {
                break;
            }
            if BackgroundWorker::sighup_received() {
                unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
                settings.refresh();
            }
        }
        if let Some(job) = job {
            let head = job.request.method == "HEAD";
            let keep = job.request.keep_alive;
            let response = answer(&job.request);
            // The client may be gone; nothing to do then.
            let _ = job.reply.send(response.to_bytes(head, keep));
        }
    }
}

fn answer(req: &Request) -> Response {
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
            _ => crate::api::http::dispatch(req).0,
        }
    }));
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

/// The accept thread: a thread per connection, up to jsrt.http_max_connections.
fn accept(listener: TcpListener, queue: SyncSender<Job>, settings: Arc<Settings>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if settings.open.load(Ordering::Relaxed) >= settings.max_connections.load(Ordering::Relaxed)
        {
            let busy = Response::error(503, "too many connections", &[]);
            let _ = stream.write_all(&busy.to_bytes(false, false));
            continue;
        }
        settings.open.fetch_add(1, Ordering::Relaxed);
        let (queue, s) = (queue.clone(), settings.clone());
        let spawned = spawn_without_signals("jsrt-http-conn", move || {
            connection(stream, &queue, &s);
            s.open.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            settings.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// One connection: requests in, responses out, until the client closes,
/// stays silent past jsrt.http_idle_timeout_ms, or asks to close.
fn connection(mut stream: TcpStream, queue: &SyncSender<Job>, settings: &Settings) {
    let idle = Duration::from_millis(settings.idle_ms.load(Ordering::Relaxed));
    let _ = stream.set_read_timeout(Some(idle));
    let _ = stream.set_write_timeout(Some(idle));
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16384];
    let mut continued = false;
    loop {
        let parsed = request::parse(&buf, &settings.limits());
        let (req, used) = match parsed {
            Ok(Some(done)) => done,
            Ok(None) => {
                if !continued && request::expects_continue(&buf) {
                    continued = true;
                    if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                        return;
                    }
                }
                match stream.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(_) => {
                        // Silent too long: a request half sent gets a 408.
                        if !buf.is_empty() {
                            let r = Response::error(408, "the request did not arrive in time", &[]);
                            let _ = stream.write_all(&r.to_bytes(false, false));
                        }
                        return;
                    }
                }
                continue;
            }
            Err(e) => {
                let r = Response::error(e.status(), &e.message(), &[]);
                let _ = stream.write_all(&r.to_bytes(false, false));
                return;
            }
        };
        buf.drain(..used);
        continued = false;
        let keep = req.keep_alive;
        let (reply, answer) = mpsc::sync_channel(1);
        let bytes = match queue.try_send(Job {
            request: req,
            reply,
        }) {
            Ok(()) => match answer.recv() {
                Ok(bytes) => bytes,
                Err(_) => return,
            },
            Err(TrySendError::Full(job)) => {
                let mut r = Response::error(503, "the server is overloaded; try again", &[]);
                r.headers.push(("retry-after".into(), "1".into()));
                r.to_bytes(job.request.method == "HEAD", keep)
            }
            Err(TrySendError::Disconnected(_)) => return,
        };
        if stream.write_all(&bytes).is_err() || !keep {
            return;
        }
    }
}
