//! HTTP/1.x requests from a connection's bytes, one at a time: `parse` says
//! whether the buffer holds a whole request yet, and how many bytes it used,
//! so a worker can read more, answer, and go on with the next (keep-alive).
//! Bodies come by Content-Length or chunked; everything is capped.

/// Caps on one request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// the request line and headers together
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
}

const MAX_HEADERS: usize = 100;

#[derive(Debug, PartialEq)]
pub struct Request {
    pub method: String,
    /// the path as sent, percent-encoded, without the query
    pub path: String,
    /// the query as sent, without the '?'
    pub query: String,
    /// lower-case names, in the order sent
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// whether the connection stays open after the response
    pub keep_alive: bool,
}

impl Request {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request cannot be served; each has its status code.
#[derive(Debug, PartialEq)]
pub enum Error {
    Malformed(String),
    HeadersTooLarge(usize),
    BodyTooLarge(usize),
    /// a transfer coding other than chunked
    Unsupported(String),
    Version,
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::Malformed(_) => 400,
            Error::HeadersTooLarge(_) => 431,
            Error::BodyTooLarge(_) => 413,
            Error::Unsupported(_) => 501,
            Error::Version => 505,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Error::Malformed(why) => format!("malformed request: {why}"),
            Error::HeadersTooLarge(n) => format!("the request line and headers are over {n} bytes"),
            Error::BodyTooLarge(n) => {
                format!("the body is over {n} bytes")
            }
            Error::Unsupported(te) => format!("transfer coding \"{te}\" is not supported"),
            Error::Version => "only HTTP/1.0 and HTTP/1.1 are supported".into(),
        }
    }
}

/// A whole request at the start of `buf` and the bytes it took; None while more bytes are needed.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, Error> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut slots);
    let head_len = match head.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n > limits.max_header_bytes => {
            return Err(Error::HeadersTooLarge(limits.max_header_bytes))
        }
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > limits.max_header_bytes => {
            return Err(Error::HeadersTooLarge(limits.max_header_bytes))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::HeadersTooLarge(limits.max_header_bytes))
        }
        Err(httparse::Error::Version) => return Err(Error::Version),
        Err(e) => return Err(Error::Malformed(e.to_string())),
    };
    let method = head.method.unwrap_or_default().to_string();
    let target = head.path.unwrap_or_default();
    if !target.starts_with('/') {
        return Err(Error::Malformed(format!(
            "the target \"{target}\" is not an absolute path"
        )));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let http11 = head.version == Some(1);
    let mut headers = Vec::with_capacity(head.headers.len());
    for h in head.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| Error::Malformed(format!("header \"{}\" is not UTF-8", h.name)))?;
        headers.push((h.name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        keep_alive: keep_alive(http11, &headers),
        headers,
        body: Vec::new(),
    };

    let rest = &buf[head_len..];
    let chunked = match request.header("transfer-encoding") {
        None => false,
        Some(te) if te.eq_ignore_ascii_case("chunked") => true,
        Some(te) => return Err(Error::Unsupported(te.to_string())),
    };
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    if chunked && !lengths.is_empty() {
        return Err(Error::Malformed(
            "both Content-Length and Transfer-Encoding".into(),
        ));
    }
    if chunked {
        return Ok(dechunk(rest, limits.max_body_bytes)?.map(|(body, used)| {
            request.body = body;
            (request, head_len + used)
        }));
    }
    let length = match lengths.as_slice() {
        [] => 0,
        [one] => one
            .parse::<usize>()
            .map_err(|_| Error::Malformed(format!("Content-Length \"{one}\" is not a number")))?,
        _ => return Err(Error::Malformed("more than one Content-Length".into())),
    };
    if length > limits.max_body_bytes {
        return Err(Error::BodyTooLarge(limits.max_body_bytes));
    }
    if rest.len() < length {
        return Ok(None);
    }
    request.body = rest[..length].to_vec();
    Ok(Some((request, head_len + length)))
}

impl Request {
    /// What a script sees as `ctx.request`: method, path, params, query,
    /// headers and body. The body is read by its Content-Type: JSON is
    /// parsed (malformed JSON is a 400 that says where), a form becomes an
    /// object, anything else is text (bytes that are not UTF-8: base64, with
    /// `bodyEncoding: "base64"`).
    pub fn to_ctx(&self, params: &[(String, String)]) -> Result<serde_json::Value, Error> {
        use serde_json::{json, Map, Value};
        let form = form_fields;
        let mut headers = Map::new();
        for (n, v) in &self.headers {
            let joined = match headers.get(n).and_then(Value::as_str) {
                Some(before) => format!("{before}, {v}"),
                None => v.clone(),
            };
            headers.insert(n.clone(), Value::String(joined));
        }
        let media = self
            .header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let mut out = json!({
            "method": self.method,
            "path": self.path,
            "params": Value::Object(params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
            "query": form(self.query.as_bytes()),
            "headers": headers,
        });
        let body = if self.body.is_empty() {
            Value::Null
        } else if media == "application/json" || media.ends_with("+json") {
            serde_json::from_slice(&self.body).map_err(|e| {
                Error::Malformed(format!(
                    "the JSON body is not valid: {} (line {}, column {})",
                    strip_position(&e.to_string()),
                    e.line(),
                    e.column()
                ))
            })?
        } else if media == "application/x-www-form-urlencoded" {
            form(&self.body)
        } else {
            match std::str::from_utf8(&self.body) {
                Ok(text) => Value::String(text.into()),
                Err(_) => {
                    use base64::Engine as _;
                    out["bodyEncoding"] = "base64".into();
                    Value::String(base64::engine::general_purpose::STANDARD.encode(&self.body))
                }
            }
        };
        out["body"] = body;
        Ok(out)
    }
}

/// A query or `application/x-www-form-urlencoded` body as an object: a
/// name sent more than once has an array of its values, in order.
pub fn form_fields(bytes: &[u8]) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let mut o = Map::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        let (k, v) = (k.into_owned(), v.into_owned());
        match o.get_mut(&k) {
            None => {
                o.insert(k, Value::String(v));
            }
            Some(Value::Array(a)) => a.push(Value::String(v)),
            Some(first) => *first = json!([first.take(), v]),
        }
    }
    Value::Object(o)
}

/// serde_json's message without its own " at line L column C".
fn strip_position(m: &str) -> &str {
    m.find(" at line ").map_or(m, |i| &m[..i])
}

/// Whether the client asked to be told to send its body (Expect: 100-continue).
pub fn expects_continue(buf: &[u8]) -> bool {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut slots);
    matches!(head.parse(buf), Ok(httparse::Status::Complete(_)))
        && head.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("expect") && h.value.eq_ignore_ascii_case(b"100-continue")
        })
}

fn keep_alive(http11: bool, headers: &[(String, String)]) -> bool {
    let connection = headers
        .iter()
        .filter(|(n, _)| n == "connection")
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    if connection.iter().any(|t| t == "close") {
        return false;
    }
    http11 || connection.iter().any(|t| t == "keep-alive")
}

/// A chunked body and the bytes it took, trailers included; None while incomplete.
fn dechunk(buf: &[u8], max: usize) -> Result<Option<(Vec<u8>, usize)>, Error> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = find_crlf(&buf[at..]) else {
            return if buf.len() - at > 1024 {
                Err(Error::Malformed("a chunk size line is too long".into()))
            } else {
                Ok(None)
            };
        };
        let line = std::str::from_utf8(&buf[at..at + eol])
            .map_err(|_| Error::Malformed("a chunk size is not text".into()))?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| Error::Malformed(format!("bad chunk size \"{hex}\"")))?;
        at += eol + 2;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                let Some(eol) = find_crlf(&buf[at..]) else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if body.len() + size > max {
            return Err(Error::BodyTooLarge(max));
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err(Error::Malformed("a chunk does not end with CRLF".into()));
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_header_bytes: 1024,
        max_body_bytes: 64,
    };

    fn whole(raw: &str) -> (Request, usize) {
        parse(raw.as_bytes(), &LIMITS).unwrap().unwrap()
    }

    #[test]
    fn a_get_with_query_and_headers() {
        let raw = "GET /orders/42?x=1&y=%20 HTTP/1.1\r\nHost: a\r\nX-Api-Key: k\r\n\r\nGET /next";
        let (r, used) = whole(raw);
        assert_eq!(used, raw.len() - "GET /next".len());
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_str()),
            ("GET", "/orders/42", "x=1&y=%20")
        );
        assert_eq!(r.header("x-api-key"), Some("k"));
        assert!(r.keep_alive);
        assert!(r.body.is_empty());
    }

    #[test]
    fn bodies_by_length_and_by_chunks_arrive_whole() {
        let raw = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..raw.len() {
            assert_eq!(
                parse(&raw.as_bytes()[..cut], &LIMITS).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        assert_eq!(whole(raw).0.body, b"hello");
        let chunked = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
        for cut in 0..chunked.len() {
            assert_eq!(
                parse(&chunked.as_bytes()[..cut], &LIMITS).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        let (r, used) = whole(chunked);
        assert_eq!(r.body, b"hello world");
        assert_eq!(used, chunked.len());
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        assert!(
            !whole("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                .0
                .keep_alive
        );
        assert!(!whole("GET / HTTP/1.0\r\n\r\n").0.keep_alive);
        assert!(
            whole("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .0
                .keep_alive
        );
    }

    #[test]
    fn bad_requests_get_their_status() {
        let status = |raw: &str| parse(raw.as_bytes(), &LIMITS).unwrap_err().status();
        assert_eq!(status("GARBAGE\r\n\r\n"), 400);
        assert_eq!(status("GET http://x/ HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            501
        );
        assert_eq!(status("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n"), 413);
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n"),
            413
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            400
        );
        assert_eq!(status("GET / HTTP/2.0\r\n\r\n"), 505);
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(2000));
        assert_eq!(status(&big), 431);
        // headers still arriving but already over the cap
        assert_eq!(status(&big[..1500]), 431);
    }

    #[test]
    fn ctx_request_reads_the_body_by_its_type() {
        let req = |ct: &str, body: &[u8]| Request {
            method: "POST".into(),
            path: "/orders/7".into(),
            query: "a=1&a=2&b=x%20y".into(),
            headers: vec![
                ("content-type".into(), ct.into()),
                ("x-n".into(), "1".into()),
                ("x-n".into(), "2".into()),
            ],
            body: body.to_vec(),
            keep_alive: true,
        };
        let params = [("id".to_string(), "7".to_string())];
        let v = req("application/json; charset=utf-8", br#"{"qty": 2}"#)
            .to_ctx(&params)
            .unwrap();
        assert_eq!(v["body"]["qty"], 2);
        assert_eq!(v["params"]["id"], "7");
        assert_eq!(v["query"]["a"], serde_json::json!(["1", "2"]));
        assert_eq!(v["query"]["b"], "x y");
        assert_eq!(v["headers"]["x-n"], "1, 2");
        let v = req(
            "application/x-www-form-urlencoded",
            b"name=Ann+Lee&tag=a&tag=b",
        )
        .to_ctx(&params)
        .unwrap();
        assert_eq!(v["body"]["name"], "Ann Lee");
        assert_eq!(v["body"]["tag"], serde_json::json!(["a", "b"]));
        assert_eq!(
            req("text/csv", b"a,b\n").to_ctx(&params).unwrap()["body"],
            "a,b\n"
        );
        let bin = req("application/octet-stream", &[0xff, 0x00])
            .to_ctx(&params)
            .unwrap();
        assert_eq!(
            (bin["body"].as_str(), bin["bodyEncoding"].as_str()),
            (Some("/wA="), Some("base64"))
        );
        let bad = req("application/json", b"{\"qty\": 2,\n  oops}")
            .to_ctx(&params)
            .unwrap_err();
        assert_eq!(bad.status(), 400);
        assert_eq!(bad.message(), "malformed request: the JSON body is not valid: key must be a string (line 2, column 3)");
    }

    #[test]
    fn expect_continue_is_seen_before_the_body() {
        assert!(expects_continue(
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        ));
        assert!(!expects_continue(
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
        ));
    }
}
