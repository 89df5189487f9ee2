//! Background workers. They need shared_preload_libraries = 'jsruntime'.
pub mod board;
pub mod executor;
pub mod recorder;
