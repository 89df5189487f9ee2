//! The #[pg_extern] functions, by surface. The rest of the SQL API is in sql/api.sql.
mod admin;
mod dry_run;
pub mod execute;
pub mod functions;
pub mod http;
mod jsonb;
mod legacy;
pub mod queue;
mod running;
pub mod schedule;
pub mod scripts;
mod secrets;
pub mod tenants;

/// Version-1 calling convention, as PG_FUNCTION_INFO_V1 declares it, for the
/// C functions written by hand (not `#[pg_extern]`).
static V1: pgrx::pg_sys::Pg_finfo_record = pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
