//! Typed reads and writes of the jsrt tables, and of the pg_proc rows of
//! the functions the engine runs or checks.
pub mod executions;
pub mod exposed;
pub mod lookup;
pub mod proc;
pub mod scripts;
