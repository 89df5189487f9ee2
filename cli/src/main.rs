//! `jsrt`: jsruntime from a terminal, through the management API.
//!
//! ```text
//! jsrt login URL [KEY]             store the URL and key (KEY from stdin when left out), mode 0600
//! jsrt push DIR                    deploy a folder atomically (NAME.js + NAME.json or front matter)
//! jsrt pull DIR                    write every script of the tenant into DIR
//! jsrt run NAME [--input JSON] [--wait]
//! jsrt logs NAME [--follow]        the last runs' logs; --follow: new ones as they end
//! jsrt history [NAME]              the last runs
//! jsrt rollback NAME VERSION
//! jsrt diff NAME A [B]
//! ```
//! `--json` prints the API's JSON; every error exits non-zero with a readable message.

mod client;
mod folder;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{json, Value};

use client::{problem_text, Client, Reply};

const USAGE: &str = "usage: jsrt [--json] <command>
  login URL [KEY]                    store the server URL and API key (KEY read from stdin if left out)
  push DIR                           deploy DIR's scripts in one transaction (only what changed)
  pull DIR                           write the tenant's scripts into DIR
  run NAME [--input JSON] [--wait]   queue a run; --wait: wait for its end (30 s at most)
  logs NAME [--follow]               the last runs' logs; --follow: new runs' logs as they end
  history [NAME]                     the last runs
  rollback NAME VERSION              make VERSION current again
  diff NAME A [B]                    the changes from version A to B (default: current)";

struct Cli {
    json: bool,
    args: Vec<String>,
}

type Done = Result<(), String>;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    args.retain(|a| a != "--json");
    let cli = Cli { json, args };
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jsrt: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the config lives: $JSRT_CONFIG, else $XDG_CONFIG_HOME/jsrt/config.json, else ~/.config/jsrt/config.json.
fn config_path() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("JSRT_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var("XDG_CONFIG_HOME") {
        Ok(x) if !x.is_empty() => PathBuf::from(x),
        _ => PathBuf::from(std::env::var("HOME").map_err(|_| "HOME is not set; set JSRT_CONFIG")?)
            .join(".config"),
    };
    Ok(base.join("jsrt").join("config.json"))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Cli {
    fn arg(&self, i: usize, what: &str) -> Result<&str, String> {
        self.args
            .get(i)
            .map(String::as_str)
            .filter(|a| !a.starts_with("--"))
            .ok_or_else(|| format!("{what} is missing\n{USAGE}"))
    }

    fn flag(&self, name: &str) -> bool {
        self.args.iter().any(|a| a == name)
    }

    fn option(&self, name: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == name)?;
        self.args.get(i + 1).map(String::as_str)
    }

    fn run(&self) -> Done {
        match self.args.first().map(String::as_str) {
            Some("login") => self.login(),
            Some("push") => self.push(),
            Some("pull") => self.pull(),
            Some("run") => self.run_script(),
            Some("logs") => self.logs(),
            Some("history") => self.history(),
            Some("rollback") => self.rollback(),
            Some("diff") => self.diff(),
            Some("help" | "--help" | "-h") | None => {
                println!("{USAGE}");
                Ok(())
            }
            Some(other) => Err(format!("unknown command \"{other}\"\n{USAGE}")),
        }
    }

    fn client(&self) -> Result<Client, String> {
        let path = config_path()?;
        let text = std::fs::read_to_string(&path).map_err(|_| {
            format!(
                "not logged in ({} is missing): run jsrt login URL",
                path.display()
            )
        })?;
        let c: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let (Some(url), Some(key)) = (c["url"].as_str(), c["key"].as_str()) else {
            return Err(format!(
                "{} lacks url or key: run jsrt login URL",
                path.display()
            ));
        };
        Client::new(url, key)
    }

    /// A call whose error status becomes the command's error.
    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, String> {
        let r = self.client()?.call(method, path, body, &[])?;
        if r.status >= 400 {
            return Err(problem_text(&r));
        }
        Ok(r)
    }

    fn print_json(&self, v: &Value) {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }

    fn login(&self) -> Done {
        let url = self.arg(1, "the server URL")?;
        client::parse_url(url)?;
        let key = match self.args.get(2) {
            Some(k) => k.clone(),
            None => {
                if std::io::stdin().is_terminal() {
                    eprint!("API key: ");
                }
                let mut k = String::new();
                std::io::stdin()
                    .read_to_string(&mut k)
                    .map_err(|e| format!("reading the key: {e}"))?;
                k.trim().to_string()
            }
        };
        if key.is_empty() {
            return Err("no API key given".into());
        }
        // The key is checked before it is stored.
        let r = Client::new(url, &key)?.call("GET", "/scripts?limit=1", None, &[])?;
        if r.status >= 400 {
            return Err(format!("the server refused the key: {}", problem_text(&r)));
        }
        let path = config_path()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        }
        write_private(&path, &json!({"url": url, "key": key}).to_string())?;
        if self.json {
            self.print_json(&json!({"config": path, "url": url}));
        } else {
            println!(
                "logged in to {url}; the key is in {} (mode 0600)",
                path.display()
            );
        }
        Ok(())
    }

    fn push(&self) -> Done {
        let dir = Path::new(self.arg(1, "the folder")?);
        let scripts = folder::read(dir)?;
        if scripts.is_empty() {
            return Err(format!("no NAME.js or NAME.mjs in {}", dir.display()));
        }
        let n = scripts.len();
        if !self.json {
            for (i, s) in scripts.iter().enumerate() {
                eprint!(
                    "\rreading {}/{n}: {:<40}",
                    i + 1,
                    s["name"].as_str().unwrap_or("")
                );
            }
            eprintln!("\rdeploying {n} scripts in one transaction...{:<30}", "");
        }
        let r = self.ok("POST", "/deploy", Some(&json!({"scripts": scripts})))?;
        let v = r.json();
        if self.json {
            self.print_json(&v);
            return Ok(());
        }
        let mut changed = 0;
        for s in v["scripts"].as_array().into_iter().flatten() {
            let action = s["action"].as_str().unwrap_or("");
            if action != "unchanged" {
                changed += 1;
                println!(
                    "{action:>9} {} (version {})",
                    s["name"].as_str().unwrap_or(""),
                    s["version"]
                );
            }
        }
        println!("{n} scripts, {changed} changed, {} unchanged", n - changed);
        Ok(())
    }

    fn pull(&self) -> Done {
        let dir = Path::new(self.arg(1, "the folder")?);
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/scripts?limit=1000&cursor={c}"),
                None => "/scripts?limit=1000".into(),
            };
            let page = self.ok("GET", &path, None)?.json();
            for s in page["items"].as_array().into_iter().flatten() {
                names.push(s["name"].as_str().unwrap_or("").to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        for (i, name) in names.iter().enumerate() {
            if !self.json {
                eprint!("\rpulling {}/{}: {name:<40}", i + 1, names.len());
            }
            let s = self
                .ok("GET", &format!("/scripts/{}", url_encode(name)), None)?
                .json();
            folder::write(dir, &s)?;
        }
        if self.json {
            self.print_json(&json!({"scripts": names, "folder": dir}));
        } else {
            eprintln!();
            println!("{} scripts written to {}", names.len(), dir.display());
        }
        Ok(())
    }

    fn run_script(&self) -> Done {
        let name = self.arg(1, "the script's name")?;
        let input: Value = match self.option("--input") {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| format!("--input is not JSON: {e}"))?
            }
            None => json!({}),
        };
        let mut body = json!({"input": input});
        if self.flag("--wait") {
            body["wait"] = 30.into();
        }
        let r = self.ok(
            "POST",
            &format!("/scripts/{}/runs", url_encode(name)),
            Some(&body),
        )?;
        let v = r.json();
        if self.json {
            self.print_json(&v);
        } else if r.status == 202 {
            println!(
                "queued run {} ({})",
                v["id"].as_str().unwrap_or(""),
                v["status"].as_str().unwrap_or("")
            );
        } else {
            print_logs(&v);
            match v["status"].as_str() {
                Some("completed") => self.print_json(&v["output"]),
                s => eprintln!(
                    "run {} {}: {}",
                    v["id"].as_str().unwrap_or(""),
                    s.unwrap_or("?"),
                    v["error"].as_str().unwrap_or("")
                ),
            }
        }
        match v["status"].as_str() {
            Some("failed" | "timeout" | "cancelled") => Err(format!(
                "the run ended {}",
                v["status"].as_str().unwrap_or("")
            )),
            _ => Ok(()),
        }
    }

    fn logs(&self) -> Done {
        let name = self.arg(1, "the script's name")?;
        let runs = self
            .ok(
                "GET",
                &format!("/runs?script={}&limit=5", url_encode(name)),
                None,
            )?
            .json();
        let mut shown: Vec<Value> = runs["items"].as_array().cloned().unwrap_or_default();
        shown.reverse();
        for r in &shown {
            self.show_run(r["id"].as_str().unwrap_or(""))?;
        }
        if !self.flag("--follow") {
            return Ok(());
        }
        // The run stream (server-sent events), resumed from the last event's id.
        let client = self.client()?;
        let mut last: Option<String> = None;
        loop {
            let mut headers = Vec::new();
            if let Some(l) = &last {
                headers.push(("Last-Event-ID", l.as_str()));
            }
            let r = client.call(
                "GET",
                &format!("/runs/stream?script={}&wait=25", url_encode(name)),
                None,
                &headers,
            )?;
            if r.status >= 400 {
                return Err(problem_text(&r));
            }
            for ev in sse(&String::from_utf8_lossy(&r.body)) {
                if let Some(id) = ev.0 {
                    last = Some(id);
                }
                if let Some(data) = ev.1 {
                    let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    if !matches!(v["status"].as_str(), Some("pending" | "running") | None) {
                        self.show_run(v["id"].as_str().unwrap_or(""))?;
                    }
                }
            }
            std::io::stdout().flush().ok();
        }
    }

    fn show_run(&self, id: &str) -> Done {
        let v = self.ok("GET", &format!("/runs/{id}"), None)?.json();
        if self.json {
            println!("{v}");
            return Ok(());
        }
        println!(
            "== run {id} {} {}{}",
            v["started_at"].as_str().unwrap_or(""),
            v["status"].as_str().unwrap_or(""),
            v["error"]
                .as_str()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        print_logs(&v);
        Ok(())
    }

    fn history(&self) -> Done {
        let path = match self.args.get(1) {
            Some(name) => format!("/runs?limit=20&script={}", url_encode(name)),
            None => "/runs?limit=20".into(),
        };
        let v = self.ok("GET", &path, None)?.json();
        if self.json {
            self.print_json(&v);
            return Ok(());
        }
        for r in v["items"].as_array().into_iter().flatten() {
            println!(
                "{}  {:<9} {:<8} {:<24} v{}  {}",
                r["started_at"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
                r["trigger_type"].as_str().unwrap_or(""),
                r["script"].as_str().unwrap_or(""),
                r["version_number"],
                r["error"].as_str().unwrap_or("")
            );
        }
        Ok(())
    }

    fn rollback(&self) -> Done {
        let name = self.arg(1, "the script's name")?;
        let version: i64 = self
            .arg(2, "the version")?
            .parse()
            .map_err(|_| "the version must be a number".to_string())?;
        let v = self
            .ok(
                "POST",
                &format!("/scripts/{}/rollback", url_encode(name)),
                Some(&json!({"version": version})),
            )?
            .json();
        if self.json {
            self.print_json(&v);
        } else {
            println!(
                "{name} is at version {} (the source of version {version})",
                v["version"]
            );
        }
        Ok(())
    }

    fn diff(&self) -> Done {
        let name = self.arg(1, "the script's name")?;
        let a = self.arg(2, "version A")?;
        let mut path = format!("/scripts/{}/diff?from={}", url_encode(name), url_encode(a));
        if let Some(b) = self.args.get(3) {
            path.push_str(&format!("&to={}", url_encode(b)));
        }
        let v = self.ok("GET", &path, None)?.json();
        if self.json {
            self.print_json(&v);
        } else {
            print!("{}", v["diff"].as_str().unwrap_or(""));
        }
        Ok(())
    }
}

fn print_logs(run: &Value) {
    let lines = run["logs"].as_array().cloned().unwrap_or_default();
    for l in lines {
        match (&l["level"], &l["message"]) {
            (Value::String(level), Value::String(m)) => println!("  [{level}] {m}"),
            _ => println!("  {l}"),
        }
    }
}

/// The (id, data) of each event of a server-sent events body.
fn sse(body: &str) -> Vec<(Option<String>, Option<String>)> {
    let mut out = Vec::new();
    let (mut id, mut data) = (None, None);
    for line in body.split('\n') {
        if line.is_empty() {
            if id.is_some() || data.is_some() {
                out.push((id.take(), data.take()));
            }
        } else if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data = Some(v.trim().to_string());
        }
    }
    out
}

/// Writes a file only its owner may read (the API key is in it).
fn write_private(path: &Path, text: &str) -> Done {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // an older file keeps its mode on open: set it
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split() {
        let e = sse("retry: 1000\n\nid: 1\nevent: run\ndata: {\"a\":1}\n\nid: 2\n\n");
        assert_eq!(
            e,
            vec![
                (Some("1".into()), Some("{\"a\":1}".into())),
                (Some("2".into()), None)
            ]
        );
        assert_eq!(url_encode("a b/c"), "a%20b%2Fc");
    }
}
