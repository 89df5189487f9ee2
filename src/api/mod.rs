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
