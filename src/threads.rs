//! Threads in a backend. Postgres's signal handlers and every Postgres call
//! belong to the backend's main thread; helper threads only wait on sockets.

/// `std::thread::spawn`, with every signal blocked in the new thread: the
/// backend's signal handlers must run on its main thread. Such threads never
/// call into Postgres.
pub fn spawn_without_signals(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    // SAFETY: sigset_t is plain data, set by sigfillset; the old mask is restored whether or not spawn worked.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .stack_size(256 << 10)
            .spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        spawned.map(drop)
    }
}
