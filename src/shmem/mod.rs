//! Shared-memory areas (they need shared_preload_libraries): the workers'
//! notice board and the queue of failure records. Backends and workers both
//! use them; they depend on neither.
pub mod board;
pub mod counters;
pub mod failures;
pub mod live;
