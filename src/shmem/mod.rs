//! Shared-memory areas (they need shared_preload_libraries): the workers'
//! notice board and the queue of failure records. Backends and workers both
//! use them; they depend on neither.
pub mod board;
pub mod counters;
pub mod failures;
pub mod live;

/// A NUL-padded copy of `s` for a fixed-size shared-memory field, cut at a character boundary.
pub fn fixed<const N: usize>(s: &str) -> [u8; N] {
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = [0; N];
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out
}

/// The text of a field written by `fixed`.
pub fn unfixed(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
