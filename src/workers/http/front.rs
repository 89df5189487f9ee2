//! The front worker: every client socket, in one event loop (epoll) that
//! never waits on SQL. It accepts, reads and parses requests as their bytes
//! come (keep-alive, size caps, a timeout for silent clients), answers
//! `/healthz`, `/metrics` and `OPTIONS *` itself, queues the rest fairly
//! across tenants (`http/fairq.rs`), hands each to an idle runner over its
//! socket pair, and writes the runner's response back. A slow script holds
//! one runner; a client holds nobody.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;

use super::{recv, send, FDS};
use crate::gucs;
use crate::http::assets::{self, Assets};
use crate::http::fairq::{FairQueue, Full};
use crate::http::request::{self, Limits, Request};
use crate::http::response::Response;
use crate::http::{keys, park, router, wire};
use crate::metrics;
use crate::shmem::counters;
use crate::workers::shutting_down;

/// epoll tokens: the listener, runner i (RUNNER | i), and connection ids (below RUNNER).
const LISTENER: u64 = u64::MAX;
const RUNNER: u64 = 1 << 62;

/// One client connection.
struct Conn {
    stream: TcpStream,
    /// the events registered for it with epoll
    interest: u32,
    input: Vec<u8>,
    output: Vec<u8>,
    /// close once `output` is written
    closing: bool,
    /// "100 Continue" already sent for the request being read
    continued: bool,
    /// the input may hold a whole request: bytes came, or one was answered with more behind it
    ready: bool,
    /// a request of this connection is queued or with a runner: read no further until it is answered
    waiting: bool,
    last_active: Instant,
    /// when the first byte of the request being read came: its head must be
    /// whole within jsrt.http_idle_timeout_ms, however slowly it trickles in
    head_since: Option<Instant>,
}

/// A request for a runner, waiting or handed over.
struct Job {
    conn: u64,
    /// its wait queue (`fairness_key`)
    key: String,
    message: Vec<u8>,
    head: bool,
    keep_alive: bool,
    queued_at: Instant,
    /// a management API request: its runner may ask to park it (http/park.rs)
    api: bool,
    /// a parked request's check of its run: until when it waits, and how many checks so far
    park: Option<(Instant, u32)>,
}

enum State {
    /// an extra runner's slot with no process
    Absent,
    /// not heard from since the front started (or started it), or restarting
    Starting,
    Idle,
    Busy {
        ticket: u64,
        job: Job,
    },
}

struct Runner {
    fd: RawFd,
    /// an extra runner's slot, past jsrt.http_runners
    extra: bool,
    /// when the state last changed
    since: Instant,
    pid: i32,
    /// the nonce of the runner process's hello: a new one means a new process
    nonce: u64,
    state: State,
    /// messages not yet taken by the socket
    out: VecDeque<Vec<u8>>,
    /// the events registered for it with epoll
    interest: u32,
    /// the response being received
    partial: Vec<u8>,
}

struct Front {
    listener: TcpListener,
    epoll: RawFd,
    /// connections something happened to this turn: their interest, closing, parsing
    touched: Vec<u64>,
    /// connections that may hold a whole request, parsed next turn
    parse_next: Vec<u64>,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    runners: Vec<Runner>,
    queue: FairQueue<Job>,
    /// runners busy per wait-queue key
    busy: HashMap<String, usize>,
    next_ticket: u64,
    /// the web console's files, served here without a runner
    console: Assets,
    /// requests parked until their run ends: when to check next, and the check
    parked: Vec<(Instant, Job)>,
}

/// The console's files, from SHAREDIR/jsruntime/console (scripts/install.sh
/// puts them there); none when it was not built.
fn console_files() -> Assets {
    let mut share = [0 as std::ffi::c_char; pg_sys::MAXPGPATH as usize];
    // SAFETY: my_exec_path is the postmaster's NUL-terminated path, set at start; `share` has MAXPGPATH bytes.
    unsafe {
        pg_sys::get_share_path(
            std::ptr::addr_of!(pg_sys::my_exec_path).cast(),
            share.as_mut_ptr(),
        )
    };
    // SAFETY: get_share_path wrote a NUL-terminated path into `share`.
    let share = unsafe { std::ffi::CStr::from_ptr(share.as_ptr()) };
    let dir = std::path::Path::new(&*share.to_string_lossy()).join("jsruntime/console");
    match Assets::load(&dir) {
        Ok(a) => a,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                log!(
                    "jsrt http front: the console in {} cannot be read: {e}",
                    dir.display()
                );
            }
            Assets::default()
        }
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_http_front_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // No database: the front never runs SQL; connected, it shows in pg_stat_activity.
    BackgroundWorker::connect_worker_to_spi(None, None);
    let Some(fds) = FDS.get() else { return };
    // SAFETY: the listening socket inherited from the postmaster; this process's copy has no other user here.
    let listener = unsafe { TcpListener::from_raw_fd(fds.listener) };
    if let Err(e) = listener.set_nonblocking(true) {
        log!("jsrt http front: {e}");
        return;
    }
    raise_file_limit();
    let standing = gucs::http_runners();
    // SAFETY: a plain syscall; the descriptor lives as long as this process.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epoll < 0 {
        log!(
            "jsrt http front: epoll: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    let mut front = Front {
        console: console_files(),
        parked: Vec::new(),
        listener,
        epoll,
        touched: Vec::new(),
        parse_next: Vec::new(),
        conns: HashMap::new(),
        next_conn: 0,
        runners: fds
            .pairs
            .iter()
            .enumerate()
            .map(|(slot, (mine, _))| Runner {
                fd: *mine,
                extra: slot >= standing,
                since: Instant::now(),
                pid: 0,
                nonce: 0,
                state: if slot >= standing {
                    State::Absent
                } else {
                    State::Starting
                },
                // Runners that were already up say hello again to this (new) front.
                out: VecDeque::from([wire::message(wire::Kind::FrontHello, true, 0, &[])]),
                interest: 0,
                partial: Vec::new(),
            })
            .collect(),
        queue: FairQueue::new(gucs::http_queue_max(), gucs::http_queue_max_per_tenant()),
        busy: HashMap::new(),
        next_ticket: 1,
    };
    front.serve();
    // Exit 1: the postmaster restarts a worker that was stopped alone (pg_terminate_backend).
    // SAFETY: ends this process the usual way, from its main thread, holding nothing.
    unsafe { pg_sys::proc_exit(1) };
}

/// Client connections are file descriptors: take all the process may have.
fn raise_file_limit() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `l` is a valid rlimit for getrlimit to fill and setrlimit to read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

impl Front {
    /// The event loop, until SIGTERM or the postmaster's death.
    fn serve(&mut self) {
        if !self.register(self.listener.as_raw_fd(), libc::EPOLLIN as u32, LISTENER) {
            return;
        }
        for i in 0..self.runners.len() {
            let fd = self.runners[i].fd;
            if !self.register(fd, libc::EPOLLIN as u32, RUNNER | i as u64) {
                return;
            }
            self.runners[i].interest = libc::EPOLLIN as u32;
            flush_runner(&mut self.runners[i]);
        }
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut checked = Instant::now();
        let mut chunk = vec![0u8; 64 << 10];
        let mut message = vec![0u8; wire::MAX_MESSAGE + 1];
        while !shutting_down() {
            if checked.elapsed() > Duration::from_secs(1) {
                checked = Instant::now();
                // false: the postmaster died
                if !BackgroundWorker::wait_latch(Some(Duration::ZERO)) {
                    break;
                }
                if BackgroundWorker::sighup_received() {
                    // SAFETY: the usual SIGHUP reload, on the worker's main thread.
                    unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
                    self.queue
                        .set_limits(gucs::http_queue_max(), gucs::http_queue_max_per_tenant());
                }
                self.expire();
                self.check_runners();
                let timeout = gucs::http_queue_timeout();
                for job in self.queue.take_expired(|j| j.queued_at.elapsed() > timeout) {
                    self.deliver_busy(
                        &job,
                        "no runner was free in time (jsrt.http_queue_timeout_ms)",
                    );
                }
            }
            // Pipelined requests waiting for their turn: look again at once.
            let next_check = self.unpark().map_or(200, |d| d.as_millis().min(200) as i32);
            let timeout = if self.parse_next.is_empty() {
                next_check
            } else {
                0
            };
            // SAFETY: `events` has room for events.len() entries, borrowed for the call.
            // A signal (SIGTERM, SIGHUP) ends the wait early with EINTR.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll,
                    events.as_mut_ptr(),
                    events.len() as i32,
                    timeout,
                )
            };
            for e in events.iter().take(n.max(0) as usize) {
                let (token, ev) = (e.u64, e.events);
                if token == LISTENER {
                    self.accept();
                } else if token & RUNNER != 0 {
                    let i = (token & !RUNNER) as usize;
                    if ev & libc::EPOLLOUT as u32 != 0 {
                        flush_runner(&mut self.runners[i]);
                    }
                    if ev & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                        self.read_runner(i, &mut message);
                    }
                } else if let Some(c) = self.conns.get_mut(&token) {
                    self.touched.push(token);
                    if ev & libc::EPOLLOUT as u32 != 0 {
                        flush(c);
                    } else if c.waiting {
                        // hung up while its request runs: the answer will have nowhere to go
                        if ev & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                            c.closing = true;
                            c.output.clear();
                        }
                    } else {
                        read(c, &mut chunk);
                    }
                }
            }
            // One request per connection per turn, so that a client sending many
            // cannot starve the others; pipelined ones wait for the next turn.
            self.settle();
            for id in std::mem::take(&mut self.parse_next) {
                self.touched.push(id);
                self.take_one(id);
                // A request a free runner can take now never counts as waiting.
                self.assign();
            }
            self.assign();
            self.settle();
        }
    }

    fn register(&self, fd: RawFd, events: u32, token: u64) -> bool {
        let mut e = libc::epoll_event { events, u64: token };
        // SAFETY: a plain epoll_ctl with an event that lives for the call.
        if unsafe { libc::epoll_ctl(self.epoll, libc::EPOLL_CTL_ADD, fd, &mut e) } == 0 {
            return true;
        }
        log!(
            "jsrt http front: epoll_ctl: {}",
            std::io::Error::last_os_error()
        );
        false
    }

    /// For each connection touched this turn: drops it once closed and
    /// written, registers what it waits for now, and marks it for parsing if
    /// it may hold a whole request. Runners' interests follow their queues.
    fn settle(&mut self) {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        for id in touched {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            if c.closing && c.output.is_empty() && !c.waiting {
                // Closing the socket takes it out of the epoll set.
                self.conns.remove(&id);
                continue;
            }
            let want = if !c.output.is_empty() {
                libc::EPOLLOUT as u32
            } else if c.waiting {
                // only a hang-up matters now (always reported); pipelined bytes wait their turn
                0
            } else {
                libc::EPOLLIN as u32
            };
            if want != c.interest {
                c.interest = want;
                modify(self.epoll, c.stream.as_raw_fd(), want, id);
            }
            if parseable(c) && !self.parse_next.contains(&id) {
                self.parse_next.push(id);
            }
        }
        for (i, r) in self.runners.iter_mut().enumerate() {
            let want = (libc::EPOLLIN | if r.out.is_empty() { 0 } else { libc::EPOLLOUT }) as u32;
            if want != r.interest {
                r.interest = want;
                modify(self.epoll, r.fd, want, RUNNER | i as u64);
            }
        }
    }

    /// Takes every waiting connection.
    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = stream.set_nodelay(true);
            let mut c = Conn {
                stream,
                interest: libc::EPOLLIN as u32,
                input: Vec::new(),
                output: Vec::new(),
                closing: false,
                continued: false,
                ready: false,
                waiting: false,
                last_active: Instant::now(),
                head_since: None,
            };
            if self.conns.len() >= gucs::http_max_connections() {
                reply(
                    &mut c,
                    &Response::error(503, "too many connections", &[]),
                    false,
                    false,
                );
                flush(&mut c);
            }
            self.next_conn += 1;
            if !self.register(c.stream.as_raw_fd(), libc::EPOLLIN as u32, self.next_conn) {
                continue;
            }
            self.conns.insert(self.next_conn, c);
            self.touched.push(self.next_conn);
        }
    }

    /// Parses the first request of connection `id` if it is whole, and
    /// answers it, or queues it for a runner.
    fn take_one(&mut self, id: u64) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let limits = Limits {
            max_header_bytes: 16 << 10,
            max_body_bytes: gucs::http_max_body_bytes(),
        };
        let req = match request::parse(&c.input, &limits) {
            Ok(Some((req, used))) => {
                c.input.drain(..used);
                c.continued = false;
                c.ready = !c.input.is_empty();
                // a pipelined request behind it started arriving when it did
                c.head_since = c.ready.then(Instant::now);
                req
            }
            Ok(None) => {
                c.ready = false;
                if !c.continued && request::expects_continue(&c.input) {
                    c.continued = true;
                    c.output.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    flush(c);
                }
                return;
            }
            Err(e) => {
                reply(
                    c,
                    &Response::error(e.status(), &e.message(), &[]),
                    false,
                    false,
                );
                flush(c);
                return;
            }
        };
        let head = req.method == "HEAD";
        if let Some(r) = self.local(&req) {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            reply(c, &r, head, req.keep_alive);
            flush(c);
            return;
        }
        let key = fairness_key(&req);
        let job = Job {
            conn: id,
            key: key.clone(),
            message: wire::encode_request(&req),
            head,
            keep_alive: req.keep_alive,
            queued_at: Instant::now(),
            api: crate::mgmt::routes::is_api(&req.path),
            park: None,
        };
        match self.queue.push(&key, job) {
            Ok(()) => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.waiting = true;
                }
            }
            Err((full, _)) => {
                let why = match full {
                    Full::All(n) => format!("the server is busy: {n} requests are waiting (jsrt.http_queue_max)"),
                    Full::Key(n) => format!("{n} requests of this tenant are waiting already (jsrt.http_queue_max_per_tenant)"),
                };
                let r = busy(&why);
                if let Some(c) = self.conns.get_mut(&id) {
                    reply(c, &r, head, req.keep_alive);
                    flush(c);
                }
            }
        }
    }

    /// What the front answers itself, without a transaction.
    fn local(&self, req: &Request) -> Option<Response> {
        if matches!(req.method.as_str(), "GET" | "HEAD") && req.path.starts_with(assets::PREFIX) {
            return self.console.respond(&req.path, &req.headers);
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("GET" | "HEAD", "/healthz") => Some(self.health()),
            ("GET" | "HEAD", "/metrics") => Some(Response {
                status: 200,
                headers: vec![("content-type".into(), "text/plain; version=0.0.4".into())],
                body: metrics::render(&counters::snapshot(), &self.gauges()).into_bytes(),
            }),
            ("OPTIONS", "*") => Some(Response {
                status: 204,
                headers: vec![(
                    "allow".into(),
                    "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS".into(),
                )],
                body: vec![],
            }),
            _ => None,
        }
    }

    fn gauges(&self) -> metrics::Front {
        let count = |f: fn(&State) -> bool| self.runners.iter().filter(|r| f(&r.state)).count();
        metrics::Front {
            connections: self.conns.len(),
            queued: self.queue.len(),
            runners_idle: count(|s| matches!(s, State::Idle)),
            runners_busy: count(|s| matches!(s, State::Busy { .. })),
            runners_starting: count(|s| matches!(s, State::Starting)),
        }
    }

    /// Up while at least one runner is.
    fn health(&self) -> Response {
        let g = self.gauges();
        let up = g.runners_idle + g.runners_busy > 0;
        let body = serde_json::json!({
            "status": if up { "ok" } else { "starting" },
            "runners": {"idle": g.runners_idle, "busy": g.runners_busy, "starting": g.runners_starting},
            "queued": g.queued,
        });
        Response::json(if up { 200 } else { 503 }, &body)
    }

    /// Hands waiting requests to idle runners, no tenant more than
    /// jsrt.http_max_runners_per_tenant at once. When requests that may run
    /// wait and no runner is free or starting, starts an extra runner: a
    /// tenant whose slow requests hold the standing runners holds up nobody else.
    fn assign(&mut self) {
        let share = match gucs::http_max_runners_per_tenant() {
            0 => gucs::http_runners(),
            n => n,
        };
        self.hand_out(share);
        let free = |r: &Runner| matches!(r.state, State::Idle | State::Starting);
        let busy = &self.busy;
        if self.runners.iter().any(free)
            || !self
                .queue
                .any_eligible(|k| busy.get(k).copied().unwrap_or(0) < share)
        {
            return;
        }
        let Some(slot) = self
            .runners
            .iter()
            .position(|r| matches!(r.state, State::Absent))
        else {
            return;
        };
        match super::start_extra_runner(slot) {
            Ok(()) => {
                set_state(&mut self.runners[slot], State::Starting);
            }
            // max_worker_processes is taken: the standing runners carry on alone
            Err(e) => log!("jsrt http front: cannot start an extra runner: {e}"),
        }
    }

    fn hand_out(&mut self, share: usize) {
        for i in 0..self.runners.len() {
            if !matches!(self.runners[i].state, State::Idle) {
                continue;
            }
            // A request whose client left is dropped here.
            let busy = &self.busy;
            let job = loop {
                match self
                    .queue
                    .pop_eligible(|k| busy.get(k).copied().unwrap_or(0) < share)
                {
                    Some((_, job)) if self.conns.get(&job.conn).is_some_and(|c| !c.closing) => {
                        break Some(job)
                    }
                    Some((_, job)) => {
                        if let Some(c) = self.conns.get_mut(&job.conn) {
                            c.waiting = false;
                            // (settle drops it)
                            self.touched.push(job.conn);
                        }
                    }
                    None => break None,
                }
            };
            let Some(job) = job else { return };
            let ticket = self.next_ticket;
            self.next_ticket += 1;
            *self.busy.entry(job.key.clone()).or_default() += 1;
            let r = &mut self.runners[i];
            r.out
                .extend(wire::chunks(wire::Kind::Request, ticket, &job.message));
            set_state(r, State::Busy { ticket, job });
            flush_runner(r);
        }
    }

    /// Reads what runner `i` sent.
    fn read_runner(&mut self, i: usize, buf: &mut [u8]) {
        loop {
            let n = match recv(self.runners[i].fd, buf) {
                Ok(Some(n)) => n,
                Ok(None) => return,
                Err(e) => {
                    log!("jsrt http front: runner {i}: {e}");
                    return;
                }
            };
            let Some(m) = wire::decode(&buf[..n]) else {
                continue;
            };
            match m.kind {
                wire::Kind::Hello => {
                    let r = &mut self.runners[i];
                    // The same process again, answering our FrontHello: nothing changed.
                    if m.ticket == r.nonce && !matches!(r.state, State::Starting) {
                        continue;
                    }
                    // A new process: one that had a request has restarted.
                    let pid = m
                        .payload
                        .first_chunk::<4>()
                        .map_or(0, |b| i32::from_le_bytes(*b));
                    r.nonce = m.ticket;
                    r.out.clear();
                    r.partial.clear();
                    r.pid = pid;
                    r.out
                        .push_back(wire::message(wire::Kind::Welcome, true, m.ticket, &[]));
                    let before = set_state(r, State::Idle);
                    flush_runner(r);
                    if let State::Busy { job, .. } = before {
                        self.deliver(&job, &stopped());
                    }
                }
                wire::Kind::Response => {
                    let r = &mut self.runners[i];
                    let State::Busy { ticket, .. } = &r.state else {
                        continue;
                    };
                    if *ticket != m.ticket {
                        continue;
                    }
                    r.partial.extend_from_slice(m.payload);
                    if !m.last {
                        continue;
                    }
                    let bytes = std::mem::take(&mut r.partial);
                    let State::Busy { job, .. } = set_state(r, State::Idle) else {
                        continue;
                    };
                    let resp = wire::decode_response(&bytes).unwrap_or_else(|| {
                        Response::error(502, "the runner's response was garbled", &[])
                    });
                    self.finish(job, resp);
                }
                wire::Kind::Bye if m.ticket == self.runners[i].nonce => {
                    // An extra runner left, idle: a request handed to it since was never read.
                    let r = &mut self.runners[i];
                    r.out.clear();
                    r.partial.clear();
                    r.nonce = 0;
                    r.pid = 0;
                    if let State::Busy { job, .. } = set_state(r, State::Absent) {
                        self.release(&job);
                        let key = job.key.clone();
                        self.queue.unpop(&key, job);
                    }
                }
                _ => {}
            }
        }
    }

    /// Runners whose process is gone: a request one had gets a 502 now
    /// rather than when a restarted runner says hello. An extra runner that
    /// never said hello is given up on.
    fn check_runners(&mut self) {
        for i in 0..self.runners.len() {
            let r = &mut self.runners[i];
            let gone = match r.state {
                State::Idle | State::Busy { .. } => {
                    // SAFETY: signal 0 only checks that the process exists.
                    r.pid > 0 && unsafe { libc::kill(r.pid, 0) } != 0
                }
                State::Starting => r.extra && r.since.elapsed() > Duration::from_secs(10),
                State::Absent => false,
            };
            if !gone {
                continue;
            }
            r.partial.clear();
            r.out.clear();
            r.pid = 0;
            let next = if r.extra {
                State::Absent
            } else {
                State::Starting
            };
            if let State::Busy { job, .. } = set_state(r, next) {
                self.deliver(&job, &stopped());
            }
        }
    }

    /// `job`'s runner is done with it.
    fn release(&mut self, job: &Job) {
        if let Some(n) = self.busy.get_mut(&job.key) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(&job.key);
            }
        }
    }

    /// A runner's answer to `job`: sent on, or, for a run started with
    /// `wait` (http/park.rs), the request parked here until the run ends,
    /// checked now and then with the caller's credentials, holding no runner.
    fn finish(&mut self, mut job: Job, r: Response) {
        let now = Instant::now();
        let answer = match job.park {
            Some((until, checks)) => match park::answer(r, now >= until) {
                Some(answer) => answer,
                None => {
                    self.release(&job);
                    job.park = Some((until, checks + 1));
                    self.parked.push((now + park::delay(checks + 1), job));
                    return;
                }
            },
            None => match park::requested(&r).filter(|_| job.api) {
                Some((id, wait)) => match wire::decode_request(&job.message) {
                    Some(req) => {
                        self.release(&job);
                        job.message = wire::encode_request(&park::check(&req, &id));
                        job.park = Some((now + wait, 0));
                        self.parked.push((now + park::delay(0), job));
                        return;
                    }
                    None => Response::error(502, "the parked request could not be read again", &[]),
                },
                None => r,
            },
        };
        self.deliver(&job, &answer);
    }

    /// Parked requests due for a check go back to the wait queue; those whose
    /// client left are dropped. Returns how long until the next is due.
    fn unpark(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.parked)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.parked = later;
        for (_, mut job) in due {
            if self.conns.get(&job.conn).is_none_or(|c| c.closing) {
                continue;
            }
            job.queued_at = now;
            let key = job.key.clone();
            if let Err((_, job)) = self.queue.push(&key, job) {
                self.deliver_busy(
                    &job,
                    "the server is busy: too many requests are waiting (jsrt.http_queue_max)",
                );
            }
        }
        self.parked
            .iter()
            .map(|(at, _)| at.saturating_duration_since(now))
            .min()
    }

    /// Answers with 503 and why a request no runner took (none was ever busy with it).
    fn deliver_busy(&mut self, job: &Job, why: &str) {
        self.touched.push(job.conn);
        if let Some(c) = self.conns.get_mut(&job.conn) {
            c.waiting = false;
            if !c.closing {
                reply(c, &busy(why), job.head, job.keep_alive);
                flush(c);
            }
        }
    }

    /// Answers `job` (its runner is done with it).
    fn deliver(&mut self, job: &Job, r: &Response) {
        self.release(job);
        self.touched.push(job.conn);
        let Some(c) = self.conns.get_mut(&job.conn) else {
            return;
        };
        c.waiting = false;
        if c.closing {
            return;
        }
        c.ready = !c.input.is_empty();
        reply(c, r, job.head, job.keep_alive);
        flush(c);
    }

    /// Connections silent past jsrt.http_idle_timeout_ms are closed; one in the
    /// middle of a request first gets a 408. One waiting on a runner is not silent.
    fn expire(&mut self) {
        let idle = Duration::from_millis(gucs::http_idle_timeout_ms());
        for (id, c) in self.conns.iter_mut() {
            self.touched.push(*id);
            let slow_head = c.head_since.is_some_and(|t| t.elapsed() > idle)
                && !c.input.windows(4).any(|w| w == b"\r\n\r\n");
            if c.waiting || (c.last_active.elapsed() < idle && !slow_head) {
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
    }
}

fn busy(why: &str) -> Response {
    let mut r = Response::error(503, why, &[]);
    r.headers.push(("retry-after".into(), "1".into()));
    r
}

/// Changes a runner's state; the old one.
fn set_state(r: &mut Runner, state: State) -> State {
    r.since = Instant::now();
    std::mem::replace(&mut r.state, state)
}

fn stopped() -> Response {
    Response::error(502, "the worker running this request stopped", &[])
}

/// Which wait queue a request joins: its tenant's, as far as the front can
/// tell without SQL (the API key's id, or the `/t/{tenant}/` prefix).
fn fairness_key(req: &Request) -> String {
    let key = req.header("x-api-key").or_else(|| {
        req.header("authorization").and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
    });
    if let Some(id) = key.and_then(|k| keys::id_of(k.trim())) {
        return format!("key {id}");
    }
    match router::tenant_prefix(&req.path) {
        Some((tenant, _)) => format!("tenant {tenant}"),
        None => "anonymous".into(),
    }
}

fn parseable(c: &Conn) -> bool {
    c.ready && c.output.is_empty() && !c.closing && !c.waiting
}

fn modify(epoll: RawFd, fd: RawFd, events: u32, token: u64) {
    let mut e = libc::epoll_event { events, u64: token };
    // SAFETY: a plain epoll_ctl on a registered descriptor, with an event that lives for the call.
    unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_MOD, fd, &mut e) };
}

/// Sends what the runner's socket takes now.
fn flush_runner(r: &mut Runner) {
    while let Some(m) = r.out.front() {
        match send(r.fd, m) {
            Ok(true) => {
                r.out.pop_front();
            }
            Ok(false) => return,
            Err(e) => {
                log!("jsrt http front: to runner {}: {e}", r.pid);
                r.out.clear();
                return;
            }
        }
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
                if c.input.is_empty() {
                    c.head_since = Some(Instant::now());
                }
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

fn reply(c: &mut Conn, r: &Response, head: bool, keep_alive: bool) {
    counters::response_sent(r.status);
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
