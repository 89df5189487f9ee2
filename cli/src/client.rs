//! A small HTTP/1.1 client for the management API: one request per
//! connection (`Connection: close`), plain `http://` (put TLS in front with a
//! proxy), a body by Content-Length or to the end of the connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// Where the API is and the key to call it with.
pub struct Client {
    host: String,
    port: u16,
    /// the URL's path, before `/_jsrt/api/v1`
    base: String,
    key: String,
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// `http://host[:port][/base]`.
pub fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("the URL must start with http:// (got \"{url}\"); use a TLS proxy for https")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port \"{p}\" in the URL"))?,
        ),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("no host in the URL \"{url}\""));
    }
    Ok((host.to_string(), port, path.to_string()))
}

impl Client {
    pub fn new(url: &str, key: &str) -> Result<Client, String> {
        let (host, port, base) = parse_url(url)?;
        Ok(Client {
            host,
            port,
            base,
            key: key.to_string(),
        })
    }

    /// `path` is under `/_jsrt/api/v1`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let target = format!("{}/_jsrt/api/v1{path}", self.base);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Bearer {}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.host, self.port, self.key
        );
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let unreachable = |e: std::io::Error| {
            format!(
                "cannot reach {}:{} ({e}); is the server up and jsrt.http_listen set?",
                self.host, self.port
            )
        };
        let mut s = TcpStream::connect((self.host.as_str(), self.port)).map_err(unreachable)?;
        s.set_read_timeout(Some(Duration::from_secs(120)))
            .map_err(unreachable)?;
        s.write_all(head.as_bytes()).map_err(unreachable)?;
        s.write_all(body.as_bytes()).map_err(unreachable)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(unreachable)?;
        parse_reply(&raw)
    }
}

fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the server's answer ended before its headers did")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("the server's answer has no status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(n) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(n);
    }
    Ok(Reply { status, body })
}

/// A readable line for an error response (RFC 9457 problem or not).
pub fn problem_text(r: &Reply) -> String {
    let j = r.json();
    let mut out = match j["detail"].as_str() {
        Some(d) => d.to_string(),
        None => String::from_utf8_lossy(&r.body).trim().to_string(),
    };
    let mut extra = vec![format!("HTTP {}", r.status)];
    if let Some(s) = j["sqlstate"].as_str() {
        extra.push(format!("SQLSTATE {s}"));
    }
    if let Some(f) = j["field"].as_str() {
        extra.push(format!("field {f}"));
    }
    if let Some(p) = j["pointer"].as_str() {
        extra.push(format!("at {p}"));
    }
    if let (Some(l), Some(c)) = (j["line"].as_u64(), j["column"].as_u64()) {
        extra.push(format!("line {l}:{c}"));
    }
    out.push_str(&format!(" ({})", extra.join(", ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:8787").unwrap(),
            ("127.0.0.1".into(), 8787, "".into())
        );
        assert_eq!(
            parse_url("http://h/base/").unwrap(),
            ("h".into(), 80, "/base".into())
        );
        assert!(parse_url("https://h").is_err());
        assert!(parse_url("http://h:x").is_err());
    }

    #[test]
    fn replies() {
        let r = parse_reply(b"HTTP/1.1 422 Unprocessable Content\r\ncontent-type: application/problem+json\r\ncontent-length: 60\r\n\r\n{\"detail\":\"bad\",\"status\":422,\"sqlstate\":\"42601\",\"line\":2,\"column\":3}").unwrap();
        assert_eq!(r.status, 422);
        let r = parse_reply(b"HTTP/1.1 422 X\r\n\r\n{\"detail\":\"bad\",\"status\":422,\"sqlstate\":\"42601\",\"line\":2,\"column\":3}").unwrap();
        assert_eq!(problem_text(&r), "bad (HTTP 422, SQLSTATE 42601, line 2:3)");
    }
}
