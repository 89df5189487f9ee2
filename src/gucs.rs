//! Every jsrt.* setting, with typed accessors.

use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicU64, Ordering};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting, GucValue};

use crate::engine::limits::Limits;

pub static TENANT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
static MAX_EXECUTION_TIME_MS: GucSetting<i32> = GucSetting::<i32>::new(300_000);
static MAX_MEMORY_BYTES: GucSetting<i32> = GucSetting::<i32>::new(256 << 20);
static MAX_OUTPUT_SIZE_BYTES: GucSetting<i32> = GucSetting::<i32>::new(16 << 20);
static MAX_STACK_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1 << 20);
static MAX_LOG_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1 << 20);
static HISTORY_SAMPLE_EVERY: GucSetting<i32> = GucSetting::<i32>::new(100);
static MAX_API_CALLS: GucSetting<i32> = GucSetting::<i32>::new(100_000);
static MAX_QUERY_ROWS: GucSetting<i32> = GucSetting::<i32>::new(100_000);
static EXECUTOR_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(2);
static EVENT_MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(3);
/// 0: no cap (a cluster with one tenant keeps every executor); see README.
static MAX_CONCURRENT_RUNS_PER_TENANT: GucSetting<i32> = GucSetting::<i32>::new(0);
static EVENT_RETRY_BASE_MS: GucSetting<i32> = GucSetting::<i32>::new(2000);
static MAX_EVENT_DEPTH: GucSetting<i32> = GucSetting::<i32>::new(8);
static CRON_SECONDS: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static EXECUTION_RETENTION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"90 days"));
static DEAD_LETTER_RETENTION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"30 days"));
static EVENT_RETENTION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"30 days"));
static MAX_RUNTIMES: GucSetting<i32> = GucSetting::<i32>::new(32);
static MAX_RESIDENT_BYTES: GucSetting<i32> = GucSetting::<i32>::new(256 << 20);
static SCRIPT_SEARCH_PATH: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"public"));
static HTTP_ALLOW: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static HTTP_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static HTTP_MAX_REQUEST_BYTES: GucSetting<i32> = GucSetting::<i32>::new(10 << 20);
static HTTP_MAX_RESPONSE_BYTES: GucSetting<i32> = GucSetting::<i32>::new(10 << 20);
static HTTP_MAX_REDIRECTS: GucSetting<i32> = GucSetting::<i32>::new(5);
static CACHE_MAX_VALUE_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1 << 20);
static HTTP_RUNNERS: GucSetting<i32> = GucSetting::<i32>::new(2);
static HTTP_MAX_RUNNERS: GucSetting<i32> = GucSetting::<i32>::new(8);
static HTTP_MAX_RUNNERS_PER_TENANT: GucSetting<i32> = GucSetting::<i32>::new(0);
static HTTP_QUEUE_MAX: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static HTTP_QUEUE_MAX_PER_TENANT: GucSetting<i32> = GucSetting::<i32>::new(1_000);
static HTTP_QUEUE_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(30_000);
static METRICS_PER_SCRIPT: GucSetting<bool> = GucSetting::<bool>::new(false);
static TRACK_TYPED_CALL_TIMING: GucSetting<bool> = GucSetting::<bool>::new(false);
static HTTP_LISTEN: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"127.0.0.1:8787"));
static HTTP_MAX_BODY_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1 << 20);
static HTTP_IDLE_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static HTTP_MAX_CONNECTIONS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static CACHE_MAX_TENANT_BYTES: GucSetting<i32> = GucSetting::<i32>::new(64 << 20);

/// Counts the assignments of jsrt.tenant (SET, RESET, a transaction's end
/// undoing one, a function's SET clause: Postgres calls the assign hook for
/// each). A call site that resolved its script under one count knows the
/// tenant is unchanged while the count is: no string compare per row.
static TENANT_ASSIGNMENTS: AtomicU64 = AtomicU64::new(0);

// The hook cannot fail: it only counts.
unsafe extern "C-unwind" fn tenant_assigned(_: *const c_char, _: *mut c_void) {
    TENANT_ASSIGNMENTS.fetch_add(1, Ordering::Relaxed);
}

/// How many times jsrt.tenant was assigned in this backend.
pub fn tenant_assignments() -> u64 {
    TENANT_ASSIGNMENTS.load(Ordering::Relaxed)
}

pub fn init() {
    // SAFETY: the hook is a plain counter: it cannot panic or raise.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"jsrt.tenant",
            c"The session's tenant id; set it with jsrt.set_tenant(name).",
            c"Every tenant-scoped jsrt function acts on this tenant.",
            &TENANT,
            // Superuser-only: everyone else goes through jsrt.set_tenant, which checks membership.
            GucContext::Suset,
            GucFlags::default(),
            None,
            Some(tenant_assigned),
            None,
        );
    }

    int(
        c"jsrt.max_execution_time_ms",
        c"Cap on any script's max_execution_time_ms.",
        &MAX_EXECUTION_TIME_MS,
        1,
        i32::MAX,
    );
    int(
        c"jsrt.max_memory_bytes",
        c"Cap on any script's max_memory_bytes.",
        &MAX_MEMORY_BYTES,
        1 << 20,
        i32::MAX,
    );
    int(
        c"jsrt.max_output_size_bytes",
        c"Cap on any script's max_output_size_bytes.",
        &MAX_OUTPUT_SIZE_BYTES,
        2,
        i32::MAX,
    );
    int(
        c"jsrt.max_stack_bytes",
        c"Cap on any script's max_stack_bytes (JS native stack).",
        &MAX_STACK_BYTES,
        64 << 10,
        8 << 20,
    );
    int(
        c"jsrt.max_log_bytes",
        c"Cap on any script's max_log_bytes (captured console output).",
        &MAX_LOG_BYTES,
        0,
        i32::MAX,
    );
    int(
        c"jsrt.max_api_calls",
        c"Cap on any script's max_api_calls (ctx calls per run).",
        &MAX_API_CALLS,
        0,
        i32::MAX,
    );
    int(
        c"jsrt.max_query_rows",
        c"Rows one ctx.db statement may return; more is an error.",
        &MAX_QUERY_ROWS,
        1,
        i32::MAX,
    );

    int(
        c"jsrt.max_concurrent_runs_per_tenant",
        c"Runs of one tenant going on at once (synchronous, queued, event, cron, HTTP); 0: no cap. jsrt.set_tenant_max_concurrent_runs overrides it per tenant.",
        &MAX_CONCURRENT_RUNS_PER_TENANT,
        0,
        1_000_000,
    );
    int(
        c"jsrt.event_max_retries",
        c"Retries of a failed event run before it becomes a dead letter.",
        &EVENT_MAX_RETRIES,
        0,
        100,
    );
    int(
        c"jsrt.event_retry_base_ms",
        c"Delay before the first retry of a failed event run; each next one doubles.",
        &EVENT_RETRY_BASE_MS,
        0,
        86_400_000,
    );
    int(
        c"jsrt.max_event_depth",
        c"How deep events published by event runs may nest before they are refused.",
        &MAX_EVENT_DEPTH,
        0,
        1000,
    );
    GucRegistry::define_bool_guc(
        c"jsrt.cron_seconds",
        c"Whether cron expressions may have a sixth field, for seconds.",
        c"",
        &CRON_SECONDS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"jsrt.execution_retention",
        c"How long finished runs (completed, failed, timeout, cancelled) are kept, as an interval.",
        c"",
        &EXECUTION_RETENTION,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"jsrt.dead_letter_retention",
        c"How long dead letters out of retries are kept, as an interval.",
        c"",
        &DEAD_LETTER_RETENTION,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"jsrt.event_retention",
        c"How long events stay in the outbox (jsrt.events) after they were written, as an interval.",
        c"Their runs were queued when they were written.",
        &EVENT_RETENTION,
        GucContext::Suset,
        GucFlags::default(),
    );
    int(
        c"jsrt.history_sample_every",
        c"Scripts with history 'sampled' record one successful run in this many, per backend.",
        &HISTORY_SAMPLE_EVERY,
        1,
        i32::MAX,
    );
    int(
        c"jsrt.max_runtimes",
        c"Tenant JS runtimes one backend keeps; the least recently used goes first.",
        &MAX_RUNTIMES,
        1,
        10_000,
    );
    int(
        c"jsrt.max_resident_bytes",
        c"JS memory one backend keeps between runs (runtimes and loaded scripts); the least recently used go first.",
        &MAX_RESIDENT_BYTES,
        1 << 20,
        i32::MAX,
    );
    GucRegistry::define_string_guc(
        c"jsrt.script_search_path",
        c"The schemas script SQL finds unqualified names in, whoever triggered the run.",
        c"Searched after pg_catalog and before pg_temp, whose objects scripts may not use.",
        &SCRIPT_SEARCH_PATH,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"jsrt.http_allow",
        c"Hosts and networks (CIDR) that ctx.http may reach although the SSRF rules refuse them.",
        c"A comma-separated list, such as 'api.internal, 10.1.0.0/16, 127.0.0.1'.",
        &HTTP_ALLOW,
        GucContext::Suset,
        GucFlags::default(),
    );
    int(
        c"jsrt.http_timeout_ms",
        c"Longest a ctx.http request may take, redirects included; timeoutMs may only lower it.",
        &HTTP_TIMEOUT_MS,
        1,
        3_600_000,
    );
    int(
        c"jsrt.http_max_request_bytes",
        c"Largest body a ctx.http request may send.",
        &HTTP_MAX_REQUEST_BYTES,
        0,
        i32::MAX,
    );
    int(
        c"jsrt.http_max_response_bytes",
        c"Largest response body a ctx.http request may receive.",
        &HTTP_MAX_RESPONSE_BYTES,
        0,
        i32::MAX,
    );
    int(
        c"jsrt.http_max_redirects",
        c"Redirects a ctx.http request follows, each checked again by the SSRF rules.",
        &HTTP_MAX_REDIRECTS,
        0,
        20,
    );
    int(
        c"jsrt.cache_max_value_bytes",
        c"Largest value one ctx.cache key may hold, as JSON text.",
        &CACHE_MAX_VALUE_BYTES,
        1,
        i32::MAX,
    );
    int(
        c"jsrt.cache_max_tenant_bytes",
        c"Bytes of ctx.cache values one tenant may hold in all.",
        &CACHE_MAX_TENANT_BYTES,
        1,
        i32::MAX,
    );
    int(
        c"jsrt.http_max_body_bytes",
        c"Largest request body the HTTP workers accept (413 beyond).",
        &HTTP_MAX_BODY_BYTES,
        0,
        i32::MAX,
    );
    int(
        c"jsrt.http_max_runners_per_tenant",
        c"HTTP runners one tenant (or one API key) may hold at once (0: jsrt.http_runners).",
        &HTTP_MAX_RUNNERS_PER_TENANT,
        0,
        64,
    );
    int(
        c"jsrt.http_queue_max",
        c"Requests that may wait for an HTTP runner, in all (503 with Retry-After beyond).",
        &HTTP_QUEUE_MAX,
        1,
        1_000_000,
    );
    int(
        c"jsrt.http_queue_max_per_tenant",
        c"Requests of one tenant (or one API key) that may wait for an HTTP runner.",
        &HTTP_QUEUE_MAX_PER_TENANT,
        1,
        1_000_000,
    );
    int(
        c"jsrt.http_queue_timeout_ms",
        c"Longest a request waits for an HTTP runner (503 with Retry-After beyond).",
        &HTTP_QUEUE_TIMEOUT_MS,
        1,
        3_600_000,
    );
    GucRegistry::define_bool_guc(
        c"jsrt.track_typed_call_timing",
        c"Whether /metrics times the typed function and trigger calls that complete quietly.",
        c"Off, they are counted but not timed, which saves a clock read per call (as track_functions does for PL/pgSQL). A failed or recorded call is always timed.",
        &TRACK_TYPED_CALL_TIMING,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"jsrt.metrics_per_script",
        c"Whether /metrics counts runs by tenant and script too (256 series at most).",
        c"",
        &METRICS_PER_SCRIPT,
        GucContext::Suset,
        GucFlags::default(),
    );
    int(
        c"jsrt.http_idle_timeout_ms",
        c"How long the HTTP workers wait on a silent client (408 for a request half sent).",
        &HTTP_IDLE_TIMEOUT_MS,
        100,
        3_600_000,
    );
    int(
        c"jsrt.http_max_connections",
        c"Open client connections the HTTP front worker holds at once (503 beyond).",
        &HTTP_MAX_CONNECTIONS,
        1,
        100_000,
    );
    // Postgres allows postmaster settings only while preloading; without
    // preload there are no workers for them to configure.
    // SAFETY: a plain read of a flag Postgres sets while loading preload libraries, on the main thread.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        GucRegistry::define_string_guc(
            c"jsrt.database",
            c"The database the jsrt background workers connect to.",
            c"",
            &DATABASE,
            GucContext::Postmaster,
            GucFlags::default(),
        );
        GucRegistry::define_int_guc(
            c"jsrt.http_runners",
            c"Background workers running HTTP requests for the front worker on jsrt.http_listen (0: no HTTP).",
            c"",
            &HTTP_RUNNERS,
            0,
            64,
            GucContext::Postmaster,
            GucFlags::default(),
        );
        GucRegistry::define_int_guc(
            c"jsrt.http_max_runners",
            c"HTTP runners at most: past jsrt.http_runners, extra ones start while a tenant waits behind the others and stop when idle.",
            c"",
            &HTTP_MAX_RUNNERS,
            0,
            64,
            GucContext::Postmaster,
            GucFlags::default(),
        );
        GucRegistry::define_string_guc(
            c"jsrt.http_listen",
            c"Address and port the HTTP front worker listens on.",
            c"",
            &HTTP_LISTEN,
            GucContext::Postmaster,
            GucFlags::default(),
        );
        GucRegistry::define_int_guc(
            c"jsrt.executor_workers",
            c"Background workers that run queued runs (events, execute_async).",
            c"",
            &EXECUTOR_WORKERS,
            0,
            32,
            GucContext::Postmaster,
            GucFlags::default(),
        );
    }
}

fn int(
    name: &'static std::ffi::CStr,
    short: &'static std::ffi::CStr,
    setting: &'static GucSetting<i32>,
    min: i32,
    max: i32,
) {
    GucRegistry::define_int_guc(
        name,
        short,
        c"",
        setting,
        min,
        max,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// A setting read where it is, without pgrx's check of the thread per read
/// (a thread-local lookup each): for the settings every run reads, typed
/// calls per row. Read on the main thread, as every run is made there.
fn read<T: GucValue>(setting: &GucSetting<T>) -> T
where
    T::Raw: Copy,
{
    // SAFETY: the setting's own variable, which Postgres assigns on this (the main) thread;
    // `from_raw` is what `GucSetting::get` makes of it.
    unsafe { T::from_raw(*setting.as_ptr()) }
}

/// The caps the settings put on every script's own limits.
pub fn caps() -> Limits {
    Limits {
        time_ms: read(&MAX_EXECUTION_TIME_MS) as u64,
        memory_bytes: read(&MAX_MEMORY_BYTES) as usize,
        output_bytes: read(&MAX_OUTPUT_SIZE_BYTES) as usize,
        stack_bytes: read(&MAX_STACK_BYTES) as usize,
        log_bytes: read(&MAX_LOG_BYTES) as usize,
        api_calls: read(&MAX_API_CALLS) as u64,
        api_calls_per_minute: u64::MAX,
        concurrent_runs: u64::MAX,
        requests_per_minute: None,
    }
}

pub fn history_sample_every() -> u64 {
    HISTORY_SAMPLE_EVERY.get().max(1) as u64
}

pub fn max_query_rows() -> u64 {
    MAX_QUERY_ROWS.get().max(1) as u64
}

pub fn executor_workers() -> usize {
    EXECUTOR_WORKERS.get().max(0) as usize
}

/// The tenant-wide cap on runs going on: the tenant's own override, else
/// jsrt.max_concurrent_runs_per_tenant; None when there is no cap (0).
pub fn tenant_run_cap(over: Option<i32>) -> Option<u64> {
    let n = over.unwrap_or_else(|| MAX_CONCURRENT_RUNS_PER_TENANT.get());
    (n > 0).then_some(n as u64)
}

pub fn event_max_retries() -> i32 {
    EVENT_MAX_RETRIES.get()
}

pub fn event_retry_base_ms() -> i32 {
    EVENT_RETRY_BASE_MS.get()
}

pub fn cron_seconds() -> bool {
    CRON_SECONDS.get()
}

pub fn max_resident_bytes() -> usize {
    read(&MAX_RESIDENT_BYTES).max(1 << 20) as usize
}

pub fn max_runtimes() -> usize {
    MAX_RUNTIMES.get().max(1) as usize
}

pub fn database() -> String {
    DATABASE
        .get()
        .and_then(|c| c.into_string().ok())
        .unwrap_or_else(|| "postgres".into())
}

/// jsrt.script_search_path: schemas for script SQL.
pub fn script_search_path() -> String {
    SCRIPT_SEARCH_PATH
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "public".into())
}

/// Whether the session's tenant (jsrt.tenant) is `name`, without copying it.
pub fn tenant_is(name: &str) -> bool {
    // SAFETY: the GUC's own variable, read on the main thread: null or a NUL-terminated string
    // that Postgres keeps until the setting changes.
    unsafe {
        let p = *TENANT.as_ptr();
        if p.is_null() {
            return false;
        }
        // Byte by byte up to the NUL, with no strlen: typed calls ask this per row.
        let p = p.cast::<u8>();
        for (i, &b) in name.as_bytes().iter().enumerate() {
            if *p.add(i) != b || b == 0 {
                return false;
            }
        }
        *p.add(name.len()) == 0
    }
}

/// The session's tenant id, if one is set.
pub fn tenant() -> Option<String> {
    TENANT
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|s| !s.is_empty())
}

/// jsrt.http_allow as written (empty when unset).
pub fn http_allow() -> String {
    HTTP_ALLOW
        .get()
        .and_then(|c| c.into_string().ok())
        .unwrap_or_default()
}

pub fn http_timeout_ms() -> u64 {
    HTTP_TIMEOUT_MS.get().max(1) as u64
}

pub fn http_max_request_bytes() -> usize {
    HTTP_MAX_REQUEST_BYTES.get().max(0) as usize
}

pub fn http_max_response_bytes() -> usize {
    HTTP_MAX_RESPONSE_BYTES.get().max(0) as usize
}

pub fn http_max_redirects() -> u32 {
    HTTP_MAX_REDIRECTS.get().max(0) as u32
}

pub fn cache_max_value_bytes() -> usize {
    CACHE_MAX_VALUE_BYTES.get().max(1) as usize
}

pub fn cache_max_tenant_bytes() -> i64 {
    i64::from(CACHE_MAX_TENANT_BYTES.get().max(1))
}

pub fn http_runners() -> usize {
    HTTP_RUNNERS.get().max(0) as usize
}

/// Runner slots: the standing runners, then room for extra ones.
pub fn http_max_runners() -> usize {
    (HTTP_MAX_RUNNERS.get().max(0) as usize).max(http_runners())
}

pub fn http_max_runners_per_tenant() -> usize {
    HTTP_MAX_RUNNERS_PER_TENANT.get().max(0) as usize
}

pub fn http_queue_max() -> usize {
    HTTP_QUEUE_MAX.get().max(1) as usize
}

pub fn http_queue_max_per_tenant() -> usize {
    HTTP_QUEUE_MAX_PER_TENANT.get().max(1) as usize
}

pub fn http_queue_timeout() -> std::time::Duration {
    std::time::Duration::from_millis(HTTP_QUEUE_TIMEOUT_MS.get().max(1) as u64)
}

/// Read per typed call: no thread check (`read`).
pub fn track_typed_call_timing() -> bool {
    read(&TRACK_TYPED_CALL_TIMING)
}

pub fn metrics_per_script() -> bool {
    METRICS_PER_SCRIPT.get()
}

pub fn http_listen() -> String {
    HTTP_LISTEN
        .get()
        .and_then(|c| c.into_string().ok())
        .unwrap_or_else(|| "127.0.0.1:8787".into())
}

pub fn http_max_body_bytes() -> usize {
    HTTP_MAX_BODY_BYTES.get().max(0) as usize
}

pub fn http_idle_timeout_ms() -> u64 {
    HTTP_IDLE_TIMEOUT_MS.get().max(100) as u64
}

pub fn http_max_connections() -> usize {
    HTTP_MAX_CONNECTIONS.get().max(1) as usize
}
