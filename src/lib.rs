#![recursion_limit = "512"]
//! jsruntime: multi-tenant JavaScript business scripts hosted by PostgreSQL.
//! ARCHITECTURE.md explains the code; README.md the SQL and JS APIs.

use pgrx::prelude::*;

pub mod api;
mod catalog;
mod cron;
mod encoding;
mod endpoints;
mod engine;
mod error;
mod guard;
mod gucs;
mod http;
mod metrics;
mod mgmt;
mod nodes;
mod outbound;
mod redact;
mod shmem;
mod ssrf;
mod standby;
mod subxact;
mod tenancy;
mod tests;
mod threads;
mod timeout;
mod version;
mod workers;
mod xact;

::pgrx::pg_module_magic!();

#[global_allocator]
static ALLOCATOR: engine::watchdog::MarkedAllocator = engine::watchdog::MarkedAllocator;

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!(
    "../sql/api.sql",
    name = "api",
    requires = [
        api::execute::execute,
        api::tenants::tenant_id,
        api::scripts::_scripts_changed,
        api::http::check_http_path,
        api::http::http_routes_clash
    ]
);
extension_sql_file!(
    "../sql/queue.sql",
    name = "queue",
    requires = ["api", api::queue::wake_executors]
);
extension_sql_file!(
    "../sql/schedule.sql",
    name = "schedule",
    requires = [
        "queue",
        api::schedule::cron_next,
        api::schedule::wake_scheduler
    ]
);
extension_sql_file!("../sql/stores.sql", name = "stores", requires = ["schema"]);
extension_sql_file!("../sql/http.sql", name = "http", requires = ["api"]);
extension_sql_file!(
    "../sql/cells.sql",
    name = "cells",
    requires = ["schedule", "stores", "http"]
);
extension_sql_file!("../sql/security.sql", name = "security", finalize);

/// Whether the library was loaded by shared_preload_libraries: only then
/// are there shared memory and background workers.
static PRELOADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn preloaded() -> bool {
    PRELOADED.load(std::sync::atomic::Ordering::Relaxed)
}

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    catalog::scripts::register_invalidation_callback();
    tenancy::register_role_callback();
    guard::install();
    // SAFETY: a plain read of a flag Postgres sets while loading preload libraries, on the main thread.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        PRELOADED.store(true, std::sync::atomic::Ordering::Relaxed);
        workers::recorder::init();
        engine::quota::init();
        shmem::board::init();
        shmem::counters::init();
        shmem::live::init();
        workers::executor::init();
        workers::scheduler::init();
        workers::http::init();
        engine::stdlib::prepare();
    } else {
        guard::forget_unhooked_lookups();
    }
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![
            "shared_preload_libraries = 'jsruntime'",
            "jsrt.database = 'pgrx_tests'",
            "jsrt.http_listen = '127.0.0.1:0'",
        ]
    }
}
