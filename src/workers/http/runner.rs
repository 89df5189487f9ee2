//! A runner worker: takes one request at a time from the front worker over
//! its socket pair, answers it in a transaction of its own
//! (`endpoints::dispatch`), and sends the response back.

use std::os::fd::RawFd;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;

use super::{recv, send, FDS};
use crate::error::Error;
use crate::http::response::Response;
use crate::http::wire::{self, Kind};
use crate::mgmt;
use crate::version::Catalog;
use crate::workers::{in_transaction, shutting_down};

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn jsrt_http_runner_main(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    crate::workers::connect();
    let slot = arg.value();
    let Some(fd) = FDS.get().and_then(|f| f.pairs.get(slot)).map(|p| p.1) else {
        return;
    };
    let mut nonce = [0u8; 8];
    if getrandom::getrandom(&mut nonce).is_err() {
        // SAFETY: reads this process's pid and the clock: unique enough among runners.
        nonce = (unsafe { pg_sys::MyProcPid } as u64
            ^ unsafe { pg_sys::GetCurrentTimestamp() } as u64)
            .to_le_bytes();
    }
    let mut runner = Runner {
        fd,
        waiter: Waiter::new(fd),
        nonce: u64::from_le_bytes(nonce),
        welcomed: false,
        ticket: 0,
        partial: Vec::new(),
        extra: slot >= crate::gucs::http_runners(),
    };
    runner.hello();
    runner.serve();
    if runner.extra {
        return;
    }
    // Exit 1: the postmaster restarts a runner that was stopped alone (pg_terminate_backend).
    // SAFETY: ends this process the usual way, from its main thread, between transactions.
    unsafe { pg_sys::proc_exit(1) };
}

struct Runner {
    fd: RawFd,
    waiter: Waiter,
    nonce: u64,
    /// the front answered this process's hello: requests from before it were for a previous runner
    welcomed: bool,
    ticket: u64,
    partial: Vec<u8>,
    /// started by the front for a while: leaves when idle
    extra: bool,
}

/// How long an extra runner stays idle before it leaves.
const EXTRA_IDLE: Duration = Duration::from_secs(10);

impl Runner {
    fn hello(&mut self) {
        // SAFETY: a read of this process's pid.
        let pid = unsafe { pg_sys::MyProcPid };
        self.send(&wire::message(
            Kind::Hello,
            true,
            self.nonce,
            &pid.to_le_bytes(),
        ));
    }

    fn serve(&mut self) {
        let mut buf = vec![0u8; wire::MAX_MESSAGE + 1];
        let mut idle_since = Instant::now();
        while !shutting_down() {
            if self.extra && self.welcomed && idle_since.elapsed() > EXTRA_IDLE {
                // Nothing was read since the last response: no request is lost by leaving.
                self.send(&wire::message(Kind::Bye, true, self.nonce, &[]));
                return;
            }
            if !self.waiter.wait(pg_sys::WL_SOCKET_READABLE) {
                return;
            }
            if BackgroundWorker::sighup_received() {
                // SAFETY: the usual SIGHUP reload, on the worker's main thread between transactions.
                unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            }
            loop {
                let n = match recv(self.fd, &mut buf) {
                    Ok(Some(n)) => n,
                    Ok(None) => break,
                    Err(e) => {
                        log!("jsrt http runner: {e}");
                        return;
                    }
                };
                let Some(m) = wire::decode(&buf[..n]) else {
                    continue;
                };
                match m.kind {
                    Kind::FrontHello => self.hello(),
                    Kind::Welcome if m.ticket == self.nonce => self.welcomed = true,
                    Kind::Request if self.welcomed => {
                        if m.ticket != self.ticket {
                            self.ticket = m.ticket;
                            self.partial.clear();
                        }
                        self.partial.extend_from_slice(m.payload);
                        if m.last {
                            let bytes = std::mem::take(&mut self.partial);
                            let response = self.answer(&bytes);
                            for part in wire::chunks(
                                Kind::Response,
                                self.ticket,
                                &wire::encode_response(&response),
                            ) {
                                self.send(&part);
                            }
                        }
                    }
                    _ => {}
                }
                idle_since = Instant::now();
                if shutting_down() {
                    return;
                }
            }
        }
    }

    fn answer(&mut self, bytes: &[u8]) -> Response {
        let Some(req) = wire::decode_request(bytes) else {
            return Response::error(500, "the request reached the runner garbled", &[]);
        };
        // SAFETY: on the worker's main thread; Postgres copies the static C string.
        unsafe {
            pg_sys::pgstat_report_activity(
                pg_sys::BackendState::STATE_RUNNING,
                c"jsrt http request".as_ptr(),
            )
        };
        let api = mgmt::routes::is_api(&req.path);
        let out = in_transaction(AssertUnwindSafe(|| {
            match crate::version::catalog() {
                Catalog::Current => {}
                Catalog::Missing => {
                    return Response::error(503, "jsruntime is not installed in jsrt.database", &[])
                }
                // a new library before ALTER EXTENSION jsruntime UPDATE
                Catalog::Other(installed) => {
                    return Response::error(503, &Error::Outdated { installed }.message(), &[])
                }
            }
            if api {
                mgmt::dispatch(&req)
            } else {
                crate::endpoints::dispatch(&req).0
            }
        }));
        // SAFETY: on the worker's main thread; a null activity string is allowed.
        unsafe {
            pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null())
        };
        out.unwrap_or_else(|c| {
            log!("jsrt http: {} {}: {}", req.method, req.path, c.message);
            if api {
                mgmt::problem::Problem::new(500, "internal error").to_response()
            } else {
                Response::error(500, "internal error", &[])
            }
        })
    }

    /// Sends one message, waiting while the socket is full; gives up at shutdown.
    fn send(&mut self, m: &[u8]) {
        loop {
            match send(self.fd, m) {
                Ok(true) => return,
                Ok(false) => {
                    if !self.waiter.wait(pg_sys::WL_SOCKET_WRITEABLE) || shutting_down() {
                        return;
                    }
                }
                Err(e) => {
                    log!("jsrt http runner: {e}");
                    return;
                }
            }
        }
    }
}

/// One wait set for the runner's life (WaitLatchOrSocket would make and
/// free an epoll set per wait): the latch, the postmaster, the socket.
struct Waiter {
    set: *mut pg_sys::WaitEventSet,
    socket: i32,
    event: u32,
}

impl Waiter {
    fn new(fd: RawFd) -> Waiter {
        // SAFETY: a set in TopMemoryContext, living as long as the process; MyLatch is this process's latch.
        unsafe {
            let set = pg_sys::CreateWaitEventSet(pg_sys::TopMemoryContext, 3);
            pg_sys::AddWaitEventToSet(
                set,
                pg_sys::WL_LATCH_SET,
                -1,
                pg_sys::MyLatch,
                std::ptr::null_mut(),
            );
            pg_sys::AddWaitEventToSet(
                set,
                pg_sys::WL_POSTMASTER_DEATH,
                -1,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            let socket = pg_sys::AddWaitEventToSet(
                set,
                pg_sys::WL_SOCKET_READABLE,
                fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            Waiter {
                set,
                socket,
                event: pg_sys::WL_SOCKET_READABLE,
            }
        }
    }

    /// Waits up to a second for `event` on the socket, the latch (SIGTERM,
    /// SIGHUP) or the postmaster's death; false when the postmaster died.
    fn wait(&mut self, event: u32) -> bool {
        // SAFETY: the set made in `new`; `occurred` has room for the one event asked for.
        unsafe {
            if event != self.event {
                pg_sys::ModifyWaitEvent(self.set, self.socket, event, std::ptr::null_mut());
                self.event = event;
            }
            let mut occurred: pg_sys::WaitEvent = std::mem::zeroed();
            let n = pg_sys::WaitEventSetWait(
                self.set,
                1000,
                &mut occurred,
                1,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
            // Absorbs what other backends signalled (DROP DATABASE waits on a barrier).
            pgrx::check_for_interrupts!();
            !(n == 1 && occurred.events & pg_sys::WL_POSTMASTER_DEATH != 0)
        }
    }
}
