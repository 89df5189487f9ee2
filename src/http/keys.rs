//! API keys for endpoint scripts: `jsrt_<id>_<secret>`. The id (12 hex
//! characters) finds the row; only the SHA-256 of the whole key is stored,
//! and it is compared in constant time.

use sha2::Digest as _;

use crate::encoding::hex;

const PREFIX: &str = "jsrt_";

pub struct NewKey {
    /// shown once, never stored
    pub key: String,
    pub id: String,
    /// hex SHA-256 of `key`
    pub hash: String,
}

/// A new random key.
pub fn generate() -> Result<NewKey, String> {
    let mut raw = [0u8; 30];
    getrandom::getrandom(&mut raw).map_err(|e| format!("no randomness for a key: {e}"))?;
    let id = hex(&raw[..6]);
    let key = format!("{PREFIX}{id}_{}", hex(&raw[6..]));
    let hash = hash(&key);
    Ok(NewKey { key, id, hash })
}

/// The id of a key as presented, if it has the right shape.
pub fn id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 12) && hex(secret, 48)).then_some(id)
}

pub fn hash(key: &str) -> String {
    hex(&sha2::Sha256::digest(key.as_bytes()))
}

/// Whether `key` is the one whose hash is `stored`, in constant time.
pub fn verify(key: &str, stored: &str) -> bool {
    crate::encoding::constant_time_eq(hash(key).as_bytes(), stored.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.key, b.key);
        assert_eq!(id_of(&a.key), Some(a.id.as_str()));
        assert!(verify(&a.key, &a.hash));
        assert!(!verify(&b.key, &a.hash));
        assert_eq!(a.key.len(), 5 + 12 + 1 + 48);
    }

    #[test]
    fn malformed_keys_have_no_id() {
        for k in [
            "",
            "jsrt_",
            "jsrt_abc_def",
            "sk_live_x",
            "jsrt_zzzzzzzzzzzz_000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(id_of(k), None, "{k}");
        }
    }
}
