//! Execution ids: random (version 4) UUIDs from a generator seeded once per
//! backend by pg_strong_random, since asking it per call costs microseconds.
//! They name runs; they protect nothing.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// The 16 bytes of a uuid in its hyphenated text form; None for anything else.
pub fn parse(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let mut out = [0u8; 16];
    let mut hex = b.iter().filter(|&&c| c != b'-');
    for byte in out.iter_mut() {
        let hi = (*hex.next()? as char).to_digit(16)?;
        let lo = (*hex.next()? as char).to_digit(16)?;
        *byte = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// A uuid's text as one number, for shared-memory keys; 0 for anything else.
pub fn key(s: &str) -> u128 {
    parse(s).map_or(0, u128::from_be_bytes)
}

/// A map keyed by uuids as numbers (`key`): they are random already, so their
/// bits fold into the hash with no hashing of their text per lookup.
pub type KeyMap<V> = std::collections::HashMap<u128, V, std::hash::BuildHasherDefault<FoldHasher>>;

#[derive(Default)]
pub struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Anything but a u128 key (script SQL text: sql.rs's plans) hashes as FNV-1a.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u128(&mut self, k: u128) {
        // A version 4 or 7 uuid's random bits are in both halves; the multiply spreads them.
        self.0 = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((k >> 64) as u64);
    }
}

/// The next id, in its text form.
pub fn next() -> String {
    let a = step();
    let b = step();
    format_v4(a, b)
}

fn step() -> u64 {
    STATE.with(|s| {
        if s.get() == 0 {
            s.set(seed());
        }
        // splitmix64
        let x = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: writes exactly b.len() bytes into `b`, borrowed for the call.
    let ok = unsafe { pgrx::pg_sys::pg_strong_random(b.as_mut_ptr().cast(), b.len()) };
    let s = u64::from_le_bytes(b);
    if ok && s != 0 {
        s
    } else {
        // No entropy source: the clock and the pid still make ids distinct.
        // SAFETY: reads the system clock; no Postgres state is involved.
        (unsafe { pgrx::pg_sys::GetCurrentTimestamp() } as u64)
            ^ ((std::process::id() as u64) << 40)
            | 1
    }
}

fn format_v4(a: u64, b: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, x) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_accepts_only_hyphenated_uuids() {
        let id = super::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        assert_eq!(id[0], 0x0f);
        assert_eq!(id[15], 0x0e);
        assert!(super::parse("0F8FAD5B-D9CB-469F-A165-70867728950E").is_some());
        assert!(super::parse("0f8fad5b-d9cb-469f-a165-70867728950").is_none());
        assert!(super::parse("0f8fad5bxd9cb-469f-a165-70867728950e").is_none());
        assert!(super::parse("zf8fad5b-d9cb-469f-a165-70867728950e").is_none());
        assert!(super::parse("tenant").is_none());
    }

    #[test]
    fn key_map_finds_what_it_holds() {
        let mut m = super::KeyMap::default();
        for i in 0..1000u128 {
            m.insert(i << 64 | i, i);
        }
        assert_eq!(m.len(), 1000);
        assert!((0..1000u128).all(|i| m[&(i << 64 | i)] == i));
        assert!(!m.contains_key(&(1 << 64)));
    }

    #[test]
    fn formats_a_version_4_uuid() {
        let s = super::format_v4(u64::MAX, 0);
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert_eq!(&s[19..20], "8");
        assert_eq!(s.matches('-').count(), 4);
    }
}
