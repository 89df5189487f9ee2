//! Checks on JSON text crossing between QuickJS and jsonb. Pure: no Postgres here.

/// Whether JSON text holds a `\u0000` escape, which jsonb refuses. A
/// backslash escaped itself (`\\u0000`) is text, not a NUL.
pub fn has_nul_escape(json: &str) -> bool {
    let b = json.as_bytes();
    let mut i = 0;
    while let Some(off) = json[i..].find("\\u0000") {
        let at = i + off;
        let backslashes = b[..at].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 0 {
            return true;
        }
        i = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn finds_nul_escapes_only() {
        assert!(has_nul_escape(r#""a\u0000b""#));
        assert!(has_nul_escape(r#"{"k":"\\\u0000"}"#));
        assert!(!has_nul_escape(r#""a\\u0000b""#));
        assert!(!has_nul_escape(r#"{"a":1}"#));
    }
}
