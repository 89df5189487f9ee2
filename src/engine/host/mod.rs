//! The bindings behind `ctx`: one module per member.
pub mod log;
