//! The #[pg_extern] functions, by surface. The rest of the SQL API is in sql/api.sql.
mod admin;
pub mod execute;
pub mod queue;
pub mod schedule;
mod secrets;
mod scripts;
pub mod tenants;
