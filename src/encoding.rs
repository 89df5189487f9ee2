//! Byte encodings and comparisons shared by the SQL conversions, the
//! standard library, redaction and API keys. Pure: no Postgres here.

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Compares in time that depends on the length only, not on where the
/// bytes differ: for secrets and signatures.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Text from QuickJS's UTF-8 rendering of a JS string, which encodes a lone
/// surrogate as its own three bytes (ED A0..BF xx): each of those becomes
/// U+FFFD, as WebIDL's USVString conversion does. Other bytes are UTF-8.
pub fn usv_from_wtf8(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_string();
    }
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // `good` is the prefix from_utf8 found valid, so this never fails.
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let skip = match bad {
                    [0xED, 0xA0..=0xBF, 0x80..=0xBF, ..] => 3,
                    _ => e.error_len().unwrap_or(bad.len()),
                };
                out.push('\u{FFFD}');
                rest = &bad[skip..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{constant_time_eq, hex, usv_from_wtf8};

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(usv_from_wtf8(b"plain \xE2\x82\xAC"), "plain €");
        // U+D800 alone, then U+DC00 alone, around text
        assert_eq!(
            usv_from_wtf8(b"a\xED\xA0\x80b\xED\xB0\x80"),
            "a\u{FFFD}b\u{FFFD}"
        );
        // a high and a low surrogate rendered separately are still two lone ones
        assert_eq!(
            usv_from_wtf8(b"\xED\xA0\x80\xED\xB0\x80"),
            "\u{FFFD}\u{FFFD}"
        );
        assert_eq!(
            usv_from_wtf8(b"\xF0\x9F\x98\x80\xED\xBF\xBF"),
            "\u{1F600}\u{FFFD}"
        );
    }

    #[test]
    fn hex_and_comparison() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
