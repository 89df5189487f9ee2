//! Background workers. They need shared_preload_libraries = 'jsruntime'.
pub mod recorder;
