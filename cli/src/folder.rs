//! A folder of scripts: `NAME.js` (or `.mjs`) with its settings in
//! `NAME.json`, or in a leading front-matter comment:
//!
//! ```js
//! /* jsrt {"type": "scheduled", "cron_expression": "*/5 * * * *", "status": "active"} */
//! export default (ctx) => { ... }
//! ```
//!
//! A `NAME.json` wins over the comment. The comment stays part of the source.

use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

/// The settings `pull` writes and `push` sends (everything but the source and name).
pub const SETTINGS: &[&str] = &[
    "type",
    "status",
    "description",
    "cron_expression",
    "timezone",
    "http_path",
    "http_methods",
    "event_types",
    "resource_limits",
    "metadata",
    "tags",
    "history",
    "overlap",
    "catch_up",
    "catch_up_window_s",
    "http_auth",
    "retry",
    "input_schema",
];

/// The settings in a front-matter comment, if the source starts with one.
pub fn front_matter(source: &str) -> Result<Option<Map<String, Value>>, String> {
    let Some(rest) = source.trim_start().strip_prefix("/* jsrt") else {
        return Ok(None);
    };
    let end = rest
        .find("*/")
        .ok_or("the front-matter comment /* jsrt ... */ is not closed")?;
    match serde_json::from_str::<Value>(rest[..end].trim()) {
        Ok(Value::Object(o)) => Ok(Some(o)),
        Ok(_) => Err("the front-matter comment must hold a JSON object".into()),
        Err(e) => Err(format!("the front-matter comment is not JSON: {e}")),
    }
}

/// The bundle of a folder: one `{name, source, ...settings}` per script, by name.
pub fn read(dir: &Path) -> Result<Vec<Value>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut scripts: Vec<(String, std::path::PathBuf)> = Vec::new();
    for e in entries {
        let path = e
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        if ext == "js" || ext == "mjs" {
            if scripts.iter().any(|(n, _)| n == stem) {
                return Err(format!(
                    "{stem}.js and {stem}.mjs are both in {}",
                    dir.display()
                ));
            }
            scripts.push((stem.to_string(), path.clone()));
        }
    }
    scripts.sort();
    let mut out = Vec::with_capacity(scripts.len());
    for (name, path) in scripts {
        let source = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let json_path = path.with_extension("json");
        let settings = if json_path.exists() {
            let text = fs::read_to_string(&json_path)
                .map_err(|e| format!("cannot read {}: {e}", json_path.display()))?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(o)) => o,
                Ok(_) => return Err(format!("{} must hold a JSON object", json_path.display())),
                Err(e) => return Err(format!("{} is not JSON: {e}", json_path.display())),
            }
        } else {
            front_matter(&source)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .unwrap_or_default()
        };
        let mut script = settings;
        script.insert("name".into(), name.into());
        script.insert("source".into(), source.into());
        out.push(Value::Object(script));
    }
    Ok(out)
}

/// Writes one script (as the API shows it) as `NAME.js` and `NAME.json`.
pub fn write(dir: &Path, script: &Value) -> Result<(), String> {
    let name = script["name"].as_str().ok_or("a script without a name")?;
    fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let js = dir.join(format!("{name}.js"));
    fs::write(&js, script["source"].as_str().unwrap_or(""))
        .map_err(|e| format!("cannot write {}: {e}", js.display()))?;
    let mut settings = Map::new();
    for k in SETTINGS {
        if let Some(v) = script.get(*k).filter(|v| !v.is_null()) {
            settings.insert((*k).to_string(), v.clone());
        }
    }
    let json = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&Value::Object(settings)).unwrap_or_default();
    fs::write(&json, text + "\n").map_err(|e| format!("cannot write {}: {e}", json.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_read() {
        let src =
            "/* jsrt {\"type\": \"event\", \"event_types\": [\"a.b\"]} */\nexport default () => 1";
        let fm = front_matter(src).unwrap().unwrap();
        assert_eq!(fm["type"], "event");
        assert_eq!(front_matter("export default () => 1").unwrap(), None);
        assert!(front_matter("/* jsrt {bad */").is_err());
        assert!(front_matter("/* jsrt {\"a\": 1}").is_err());
    }

    #[test]
    fn a_folder_round_trips() {
        let dir = std::env::temp_dir().join(format!("jsrt-cli-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let s = serde_json::json!({"name": "a", "source": "export default () => 1", "type": "oneoff",
                                   "tags": ["x"], "id": "ignored", "version": 3});
        write(&dir, &s).unwrap();
        fs::write(
            dir.join("b.mjs"),
            "/* jsrt {\"status\": \"active\"} */ export default () => 2",
        )
        .unwrap();
        let b = read(&dir).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0]["name"], "a");
        assert_eq!(b[0]["tags"], serde_json::json!(["x"]));
        assert!(b[0].get("id").is_none());
        assert_eq!(b[1]["status"], "active");
        fs::remove_dir_all(&dir).unwrap();
    }
}
