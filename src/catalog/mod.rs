//! Typed reads and writes of the jsrt tables.
pub mod executions;
pub mod exposed;
pub mod scripts;
