//! The HTTP server: one front worker owns every client socket, and
//! `jsrt.http_runners` runner workers run the requests that need SQL, with
//! extra runners, up to `jsrt.http_max_runners`, while some tenant's requests
//! wait behind the others'.
//!
//! The postmaster, while preloading, opens the listening socket and one
//! SOCK_SEQPACKET socket pair per runner; every worker (and every worker
//! restarted after a crash) inherits them, so the front and the runners find
//! each other without shared-memory setup. `http/wire.rs` is what travels
//! over the pairs.

pub mod front;
pub mod runner;

use std::net::TcpListener;
use std::os::fd::{IntoRawFd, RawFd};
use std::sync::OnceLock;
use std::time::Duration;

use pgrx::bgworkers::BackgroundWorkerBuilder;
use pgrx::prelude::*;

use crate::gucs;

/// The listening socket, and (front end, runner end) per runner.
struct Fds {
    listener: RawFd,
    pairs: Vec<(RawFd, RawFd)>,
}

static FDS: OnceLock<Fds> = OnceLock::new();

/// From _PG_init while preloading: opens the sockets, registers the workers.
pub fn init() {
    let runners = gucs::http_runners();
    if runners == 0 {
        return;
    }
    let addr = gucs::http_listen();
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            warning!("jsruntime: no HTTP server: cannot listen on {addr} (jsrt.http_listen): {e}");
            return;
        }
    };
    let slots = gucs::http_max_runners();
    let mut pairs = Vec::with_capacity(slots);
    for _ in 0..slots {
        match socket_pair() {
            Ok(p) => pairs.push(p),
            Err(e) => {
                warning!("jsruntime: no HTTP server: {e}");
                return;
            }
        }
    }
    let listener = listener.into_raw_fd();
    // A deeper accept queue than std's 128, for bursts of new connections (capped by somaxconn).
    // SAFETY: a listening socket just opened; listen again only changes its backlog.
    unsafe { libc::listen(listener, 4096) };
    let _ = FDS.set(Fds { listener, pairs });
    BackgroundWorkerBuilder::new("jsrt http front")
        .set_type("jsrt http front")
        .set_function("jsrt_http_front_main")
        .set_library("jsruntime")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
    for n in 0..runners {
        runner(n)
            .set_restart_time(Some(Duration::from_secs(1)))
            .load();
    }
}

/// Runner `slot`'s worker: standing ones are registered at start, extra ones by the front.
fn runner(slot: usize) -> BackgroundWorkerBuilder {
    BackgroundWorkerBuilder::new(&format!("jsrt http runner {slot}"))
        .set_type("jsrt http runner")
        .set_function("jsrt_http_runner_main")
        .set_library("jsruntime")
        .set_argument((slot as i32).into_datum())
        .enable_spi_access()
}

/// Starts an extra runner in `slot` (never restarted: the front starts another when needed).
fn start_extra_runner(slot: usize) -> Result<(), String> {
    runner(slot)
        .set_restart_time(None)
        .load_dynamic()
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

fn socket_pair() -> Result<(RawFd, RawFd), String> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
    }
    for fd in fds {
        // Room for a whole request or response in flight, where the kernel allows it.
        let size: libc::c_int = 1 << 20;
        for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
            // SAFETY: a plain setsockopt on a socket just made, with a c_int option value.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    opt,
                    (&raw const size).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
    }
    Ok((fds[0], fds[1]))
}

/// Sends one message; Ok(false) when the socket is full for now.
fn send(fd: RawFd, m: &[u8]) -> std::io::Result<bool> {
    // SAFETY: `m` is a live byte slice for the call; MSG_NOSIGNAL: no SIGPIPE.
    let n = unsafe {
        libc::send(
            fd,
            m.as_ptr().cast(),
            m.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
    if n >= 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.kind() {
        std::io::ErrorKind::WouldBlock => Ok(false),
        std::io::ErrorKind::Interrupted => send(fd, m),
        _ => Err(e),
    }
}

/// Receives one message into `buf`; Ok(None) when none is waiting.
fn recv(fd: RawFd, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is a live, writable byte slice for the call.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::WouldBlock => return Ok(None),
            std::io::ErrorKind::Interrupted => continue,
            _ => return Err(e),
        }
    }
}
