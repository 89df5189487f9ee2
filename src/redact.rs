//! Secret values a run read, blanked out of what the run leaves behind: its
//! log lines, its error and its output. Pure: no Postgres here.
//!
//! A secret is found as it is and in the forms a script most often turns it
//! into before printing it: other letter case, hex, percent-encoding
//! (encodeURIComponent), and base64 or base64url with or without padding,
//! also where the base64 is a piece of a longer encoded string.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;

pub const MARK: &str = "[REDACTED]";

/// Shorter values are not redacted: blanking every "ab" would wreck the logs.
pub const MIN_CHARS: usize = 4;

/// The shortest base64 piece looked for inside longer base64 text: shorter
/// ones would blank unrelated text by chance.
const MIN_BASE64_PIECE: usize = 6;

/// One form of a secret to look for.
#[derive(PartialEq)]
struct Needle {
    text: String,
    /// matched whatever the ASCII letter case; `text` is then lower-case
    any_case: bool,
}

pub struct Redactor {
    /// every form of every secret, built once
    needles: Vec<Needle>,
    /// secrets as JSON writes them inside a string, where that differs:
    /// only to notice that JSON text holds a secret
    json_escaped: Vec<String>,
}

impl Redactor {
    /// None when nothing needs redacting.
    pub fn new(secrets: &[String]) -> Option<Redactor> {
        let mut r = Redactor {
            needles: Vec::new(),
            json_escaped: Vec::new(),
        };
        for secret in secrets.iter().filter(|s| s.chars().count() >= MIN_CHARS) {
            r.add(secret);
        }
        (!r.needles.is_empty()).then_some(r)
    }

    fn add(&mut self, secret: &str) {
        let bytes = secret.as_bytes();
        let mut push = |text: String, any_case: bool| {
            let text = if any_case {
                text.to_ascii_lowercase()
            } else {
                text
            };
            let n = Needle { text, any_case };
            if !n.text.is_empty() && !self.needles.contains(&n) {
                self.needles.push(n);
            }
        };
        // Case: ASCII letters in any mix; other letters only all lower or all upper.
        push(secret.to_string(), true);
        push(secret.to_lowercase(), true);
        push(secret.to_uppercase(), true);
        // hex and percent-encoding, whatever the case of their digits
        push(crate::encoding::hex(bytes), true);
        push(percent_encode(bytes), true);
        for engine in [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            push(engine.encode(bytes), false);
        }
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            // Inside longer base64, the secret starts 0, 1 or 2 bytes into a
            // 3-byte group; each start gives other characters, of which only
            // those made of the secret's bits alone are certain.
            for lead in 0..3usize {
                let mut padded = vec![0u8; lead];
                padded.extend_from_slice(bytes);
                let encoded = engine.encode(&padded);
                let first = (8 * lead).div_ceil(6);
                let end = (8 * padded.len() / 6).min(encoded.len());
                if end >= first + MIN_BASE64_PIECE {
                    push(encoded[first..end].to_string(), false);
                }
            }
        }
        // As console.log prints it inside a quoted string of an object (stdlib.js's quote()).
        for q in ['\'', '"', '`'] {
            push(inspect_escape(secret, q), true);
        }
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let inner = escaped
            .get(1..escaped.len().saturating_sub(1))
            .unwrap_or_default();
        if inner != secret && !inner.is_empty() {
            self.json_escaped.push(inner.to_ascii_lowercase());
        }
    }

    /// Where `s` holds a secret in any form: sorted byte ranges that do not overlap.
    fn hits(&self, s: &str) -> Vec<(usize, usize)> {
        // ASCII lower-casing keeps every byte where it was, so ranges found in it hold for `s`.
        let lower = s.to_ascii_lowercase();
        let mut found: Vec<(usize, usize)> = Vec::new();
        for n in &self.needles {
            let hay = if n.any_case { lower.as_str() } else { s };
            found.extend(
                hay.match_indices(n.text.as_str())
                    .map(|(at, m)| (at, at + m.len())),
            );
        }
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
        for (start, end) in found {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// Whether `s` holds a secret in any of its forms.
    pub fn finds(&self, s: &str) -> bool {
        let lower = s.to_ascii_lowercase();
        self.needles.iter().any(|n| {
            if n.any_case {
                lower.contains(n.text.as_str())
            } else {
                s.contains(n.text.as_str())
            }
        })
    }

    pub fn text(&self, s: &mut String) {
        let hits = self.hits(s);
        if hits.is_empty() {
            return;
        }
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (start, end) in hits {
            out.push_str(&s[at..start]);
            out.push_str(MARK);
            at = end;
        }
        out.push_str(&s[at..]);
        *s = out;
    }

    /// JSON text with secrets blanked inside its strings and keys; stays valid JSON.
    pub fn json(&self, text: &mut String) {
        let hit = self.finds(text) || {
            let lower = text.to_ascii_lowercase();
            self.json_escaped.iter().any(|e| lower.contains(e.as_str()))
        };
        if !hit {
            return;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(mut v) => {
                self.value(&mut v);
                *text = v.to_string();
            }
            Err(_) => self.text(text),
        }
    }

    fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.value(x)),
            Value::Object(o) => {
                let entries = std::mem::take(o);
                for (mut k, mut x) in entries {
                    self.text(&mut k);
                    self.value(&mut x);
                    o.insert(k, x);
                }
            }
            _ => {}
        }
    }
}

/// `s` escaped as console.log escapes a string it shows in `quote` quotes:
/// the quote, backslashes and control characters.
fn inspect_escape(s: &str, quote: char) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// What encodeURIComponent makes of `bytes` (upper-case hex digits).
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_as_console_log_quotes_them() {
        let r = Redactor::new(&["it's\\a\tsecret".to_string()]).expect("long enough");
        // console.log({k: "it's\\a\tsecret"}) prints { k: "it's\\\\a\\tsecret" }; in a string with both quotes, 'it\'s...
        assert!(!r.hits("{ k: \"it's\\\\a\\tsecret\" }").is_empty());
        assert!(!r.hits("'say \"x\" it\\'s\\\\a\\tsecret'").is_empty());
        assert!(!r.hits("`\"'it's\\\\a\\tsecret`").is_empty());
    }

    #[test]
    fn blanks_text_and_json() {
        let r = Redactor::new(&["sk_live_123".into(), "ab".into(), "quo\"te".into()]).unwrap();
        let mut s = "key=sk_live_123; short ab stays".to_string();
        r.text(&mut s);
        assert_eq!(s, "key=[REDACTED]; short ab stays");
        let mut j =
            r#"{"k":"Bearer sk_live_123","sk_live_123":1,"q":"quo\"te","n":[1,"x"]}"#.to_string();
        r.json(&mut j);
        let v: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["k"], "Bearer [REDACTED]");
        assert_eq!(v["[REDACTED]"], 1);
        assert_eq!(v["q"], "[REDACTED]");
        assert_eq!(v["n"][1], "x");
    }

    #[test]
    fn nothing_to_redact() {
        assert!(Redactor::new(&["abc".into()]).is_none());
        let r = Redactor::new(&["secret-1".into()]).unwrap();
        let mut j = r#"{"a":"b"}"#.to_string();
        r.json(&mut j);
        assert_eq!(j, r#"{"a":"b"}"#);
    }

    const SECRET: &str = "sk_live_AbC123xyz";

    fn redacted(secret: &str, s: &str) -> String {
        let mut s = s.to_string();
        Redactor::new(&[secret.into()]).unwrap().text(&mut s);
        s
    }

    #[test]
    fn other_letter_case() {
        assert_eq!(
            redacted(
                SECRET,
                "a sk_live_abc123xyz b SK_LIVE_ABC123XYZ c Sk_Live_aBc123XYZ"
            ),
            "a [REDACTED] b [REDACTED] c [REDACTED]"
        );
        assert_eq!(redacted("Grüße-geheim", "x GRÜSSE-GEHEIM"), "x [REDACTED]");
        assert_eq!(redacted("Grüße-geheim", "x grüße-geheim"), "x [REDACTED]");
    }

    #[test]
    fn hex_in_either_case() {
        let hex = crate::encoding::hex(SECRET.as_bytes());
        assert_eq!(redacted(SECRET, &format!("h={hex};")), "h=[REDACTED];");
        assert_eq!(
            redacted(SECRET, &format!("H={}", hex.to_uppercase())),
            "H=[REDACTED]"
        );
    }

    #[test]
    fn percent_encoding() {
        let secret = "p@ss/w0rd+x y";
        for encoded in ["p%40ss%2Fw0rd%2Bx%20y", "p%40ss%2fw0rd%2bx%20y"] {
            assert_eq!(
                redacted(secret, &format!("?k={encoded}&z=1")),
                "?k=[REDACTED]&z=1",
                "{encoded}"
            );
        }
    }

    #[test]
    fn base64_whole_and_inside_longer_text() {
        let bytes = SECRET.as_bytes();
        for whole in [
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
        ] {
            assert_eq!(redacted(SECRET, &format!("b={whole}!")), "b=[REDACTED]!");
        }
        // Basic credentials: the secret after 0, 1 and 2 bytes of a 3-byte group
        for user in ["abc", "abcd", "abcde", "ab?>?"] {
            for engine in [STANDARD, URL_SAFE] {
                let basic = engine.encode(format!("{user}:{SECRET}-and-more"));
                let out = redacted(SECRET, &format!("Basic {basic}"));
                assert!(out.contains(MARK), "{user}: {out}");
                assert!(!out.contains(&basic), "{user}: {out}");
            }
        }
        // a piece of base64 too short to be told from chance is left alone
        let short = "k3y!";
        assert_eq!(
            redacted(short, &STANDARD.encode(format!("x{short}y"))),
            STANDARD.encode(format!("x{short}y"))
        );
    }

    #[test]
    fn derived_forms_in_json_output_keeps_it_valid() {
        let r = Redactor::new(&[SECRET.into(), "p@ss/w0rd+x y".into()]).unwrap();
        let output = serde_json::json!({
            "btoa": STANDARD.encode(SECRET),
            "lower": SECRET.to_lowercase(),
            "hex": crate::encoding::hex(SECRET.as_bytes()),
            "uri": "https://x.example/?k=p%40ss%2Fw0rd%2Bx%20y",
            "basic": format!("Basic {}", STANDARD.encode(format!("me:{SECRET}"))),
            STANDARD.encode(SECRET): "as a key",
            "fine": "nothing here",
        });
        let mut text = output.to_string();
        r.json(&mut text);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["btoa"], MARK);
        assert_eq!(v["lower"], MARK);
        assert_eq!(v["hex"], MARK);
        assert_eq!(v["uri"], "https://x.example/?k=[REDACTED]");
        assert!(v["basic"].as_str().unwrap().contains(MARK), "{v}");
        assert_eq!(v[MARK], "as a key");
        assert_eq!(v["fine"], "nothing here");
    }

    #[test]
    fn finds_every_form() {
        let r = Redactor::new(&[SECRET.into()]).unwrap();
        assert!(r.finds(&format!("x-sig: {}", STANDARD.encode(SECRET))));
        assert!(r.finds("token SK_LIVE_ABC123XYZ"));
        assert!(!r.finds("sk_live_other"));
    }
}
