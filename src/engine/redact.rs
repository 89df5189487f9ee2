//! Secret values a run read, blanked out of what the run leaves behind: its
//! log lines, its error and its output. Pure: no Postgres here.

use serde_json::Value;

pub const MARK: &str = "[REDACTED]";

/// Shorter values are not redacted: blanking every "ab" would wreck the logs.
pub const MIN_CHARS: usize = 4;

pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// None when nothing needs redacting.
    pub fn new(secrets: &[String]) -> Option<Redactor> {
        let mut secrets: Vec<String> = secrets
            .iter()
            .filter(|s| s.chars().count() >= MIN_CHARS)
            .cloned()
            .collect();
        // Longest first, so a secret that contains another goes whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        (!secrets.is_empty()).then_some(Redactor { secrets })
    }

    pub fn text(&self, s: &mut String) {
        for secret in &self.secrets {
            if s.contains(secret.as_str()) {
                *s = s.replace(secret.as_str(), MARK);
            }
        }
    }

    /// JSON text with secrets blanked inside its strings and keys; stays valid JSON.
    pub fn json(&self, text: &mut String) {
        let escaped = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let hit = self.secrets.iter().any(|s| {
            let e = escaped(s);
            text.contains(s.as_str()) || text.contains(&e[1..e.len() - 1])
        });
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
