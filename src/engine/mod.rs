//! The JS engine: compile, sandbox and the limits of a run.
pub mod compile;
pub mod convert;
pub mod failure;
pub mod fetch;
pub mod host;
pub mod ids;
pub mod input_schema;
pub mod intl;
pub mod lazy;
pub mod limits;
pub mod quota;
pub mod run;
pub mod sandbox;
pub mod sql;
pub mod stdlib;
pub mod typed;
pub mod watchdog;
