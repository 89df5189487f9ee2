//! HTTP/1.x requests from a connection's bytes, one at a time: `parse` says
//! whether the buffer holds a whole request yet, and how many bytes it used,
//! so a worker can read more, answer, and go on with the next (keep-alive).
//! Bodies come by Content-Length or chunked; everything is capped.
//!
//! The grammar is RFC 9112's, read strictly where a lenient reading would let
//! a proxy in front of us and this server see different requests in the same
//! bytes (request smuggling): lines end in CRLF and nothing else, no line
//! folding, no space before a field's colon, one Host, one Content-Length of
//! plain digits, one Transfer-Encoding ending in chunked, and caps on the
//! header and trailer sections. Each rule cites its section where it is applied.

/// Caps on one request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// the request line and header section together; the trailer section of
    /// a chunked body has a cap of the same size
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
}

/// Field lines in the header section, and in the trailer section, at most.
pub const MAX_FIELDS: usize = 100;
/// One chunk-size line, extensions included, at most.
const MAX_CHUNK_LINE: usize = 1024;

#[derive(Debug, PartialEq)]
pub struct Request {
    pub method: String,
    /// the path as sent, percent-encoded, without the query; "*" for
    /// `OPTIONS *`; for an absolute-form target, the path part of the URI
    pub path: String,
    /// the query as sent, without the '?'
    pub query: String,
    /// lower-case names, in the order sent; values are Latin-1 decoded
    /// (obs-text bytes 0x80-0xFF become U+0080-U+00FF)
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

/// Which cap a request went over, with the cap's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cap {
    /// bytes in the request line and header section
    HeaderBytes(usize),
    /// field lines in the header section
    HeaderFields(usize),
    /// bytes in the trailer section of a chunked body
    TrailerBytes(usize),
    /// field lines in the trailer section
    TrailerFields(usize),
}

/// Why a request cannot be served; each has its status code.
#[derive(Debug, PartialEq)]
pub enum Error {
    Malformed(String),
    HeadersTooLarge(Cap),
    BodyTooLarge(usize),
    /// transfer codings before chunked that we cannot decode
    Unsupported(String),
    /// an HTTP major version other than 1, as sent
    Version(String),
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::Malformed(_) => 400,
            Error::HeadersTooLarge(_) => 431,
            Error::BodyTooLarge(_) => 413,
            Error::Unsupported(_) => 501,
            Error::Version(_) => 505,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Error::Malformed(why) => format!("malformed request: {why}"),
            Error::HeadersTooLarge(Cap::HeaderBytes(n)) => {
                format!("the request line and header section are over {n} bytes")
            }
            Error::HeadersTooLarge(Cap::HeaderFields(n)) => {
                format!("the header section has more than {n} fields")
            }
            Error::HeadersTooLarge(Cap::TrailerBytes(n)) => {
                format!("the trailer section is over {n} bytes")
            }
            Error::HeadersTooLarge(Cap::TrailerFields(n)) => {
                format!("the trailer section has more than {n} fields")
            }
            Error::BodyTooLarge(n) => {
                format!("the body is over {n} bytes")
            }
            Error::Unsupported(te) => format!("transfer coding \"{te}\" is not supported"),
            Error::Version(v) => format!("{v} is not served: only HTTP/1.x is"),
        }
    }
}

fn malformed(why: impl Into<String>) -> Error {
    Error::Malformed(why.into())
}

/// A whole request at the start of `buf` and the bytes it took; None while more bytes are needed.
/// What has come is checked as it comes, so a bad request is refused before it ends.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, Error> {
    let Some(head) = head(buf, limits.max_header_bytes)? else {
        return Ok(None);
    };
    let Head {
        method,
        target,
        minor,
        mut headers,
        len: head_len,
    } = head;
    let values = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    };

    // RFC 9112 §3.2: exactly one Host in HTTP/1.1, never more than one, and a valid one.
    let hosts = values("host");
    let te = values("transfer-encoding");
    let lengths = values("content-length");
    if hosts.len() > 1 {
        return Err(malformed("more than one Host header"));
    }
    if minor >= 1 && hosts.is_empty() {
        return Err(malformed("an HTTP/1.1 request must have a Host header"));
    }
    if let Some(h) = hosts.first() {
        if !host_ok(h) {
            return Err(malformed(format!("Host \"{h}\" is not host[:port]")));
        }
    }
    // RFC 9112 §3.2.2: with an absolute-form target, its authority is the host.
    if let Some(authority) = &target.authority {
        headers.retain(|(n, _)| n != "host");
        headers.push(("host".into(), authority.clone()));
    }

    let chunked = match te.as_slice() {
        [] => false,
        [_, _, ..] => return Err(malformed("more than one Transfer-Encoding header")),
        [one] => {
            // RFC 9112 §6.1: HTTP/1.0 has no transfer codings; its framing is faulty.
            if minor == 0 {
                return Err(malformed("Transfer-Encoding in an HTTP/1.0 request"));
            }
            // RFC 9112 §6.3 (3): both is a smuggling attempt as often as not.
            if !lengths.is_empty() {
                return Err(malformed("both Content-Length and Transfer-Encoding"));
            }
            let codings: Vec<String> = one
                .split(',')
                .map(|c| c.trim_matches([' ', '\t']).to_ascii_lowercase())
                .filter(|c| !c.is_empty())
                .collect();
            let last = codings.len().saturating_sub(1);
            // RFC 9112 §6.3 (4): a request whose final coding is not chunked has no length.
            if codings.get(last).map(String::as_str) != Some("chunked") {
                return Err(malformed(format!(
                    "Transfer-Encoding \"{one}\" does not end in chunked"
                )));
            }
            // RFC 9112 §6.1: chunked is applied once.
            if codings[..last].iter().any(|c| c == "chunked") {
                return Err(malformed(format!(
                    "Transfer-Encoding \"{one}\" has chunked more than once"
                )));
            }
            // RFC 9112 §6.1: codings we do not know, under chunked: 501.
            if last > 0 {
                return Err(Error::Unsupported(one.clone()));
            }
            true
        }
    };

    let mut request = Request {
        keep_alive: keep_alive(minor >= 1, &headers),
        method,
        path: target.path,
        query: target.query,
        headers,
        body: Vec::new(),
    };
    let rest = &buf[head_len..];
    if chunked {
        return Ok(dechunk(rest, limits)?.map(|(body, used)| {
            request.body = body;
            (request, head_len + used)
        }));
    }
    let length = match lengths.as_slice() {
        [] => 0,
        [one] => content_length(one, limits.max_body_bytes)?,
        // RFC 9110 §8.6 lets a recipient reject repeats even when they agree.
        _ => return Err(malformed("more than one Content-Length header")),
    };
    if rest.len() < length {
        return Ok(None);
    }
    request.body = rest[..length].to_vec();
    Ok(Some((request, head_len + length)))
}

/// RFC 9110 §8.6: Content-Length = 1*DIGIT; no sign, no space, no list.
fn content_length(v: &str, max: usize) -> Result<usize, Error> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!(
            "Content-Length \"{v}\" is not a number of digits"
        )));
    }
    match v.parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        // Digits too many for a usize are over any cap too.
        _ => Err(Error::BodyTooLarge(max)),
    }
}

/// The request line and header section.
struct Head {
    method: String,
    target: Target,
    /// the minor version of HTTP/1.x
    minor: u8,
    headers: Vec<(String, String)>,
    /// bytes taken, the final empty line and any empty lines before the request line included
    len: usize,
}

struct Target {
    path: String,
    query: String,
    /// host[:port] of an absolute-form target
    authority: Option<String>,
}

/// The header section at the start of `buf`, None while it has not all come.
fn head(buf: &[u8], max: usize) -> Result<Option<Head>, Error> {
    let too_big = Error::HeadersTooLarge(Cap::HeaderBytes(max));
    // RFC 9112 §2.2: empty lines before the request line are ignored (a
    // client's stray CRLF after a body).
    let mut at = 0;
    while buf[at..].starts_with(b"\r\n") {
        at += 2;
    }
    let Some(end) = line_end(buf, at, max, "the request line")? else {
        if buf.len() > max {
            return Err(too_big);
        }
        // Refuse what cannot become a method (a TLS hello, say) without waiting;
        // a lone CR may be the first half of another empty line.
        if buf[at..] == *b"\r" {
            return Ok(None);
        }
        if let Some(&b) = buf[at..]
            .iter()
            .take_while(|&&b| b != b' ')
            .find(|&&b| !tchar(b))
        {
            return Err(malformed(format!(
                "the request line holds byte 0x{b:02x} in its method"
            )));
        }
        return Ok(None);
    };
    if end + 2 > max {
        return Err(too_big);
    }
    let (method, target, minor) = request_line(&buf[at..end])?;
    at = end + 2;
    let mut headers = Vec::new();
    loop {
        let Some(end) = line_end(buf, at, max, "the header section")? else {
            return if buf.len() > max {
                Err(too_big)
            } else {
                Ok(None)
            };
        };
        if end + 2 > max {
            return Err(too_big);
        }
        if end == at {
            return Ok(Some(Head {
                method,
                target,
                minor,
                headers,
                len: end + 2,
            }));
        }
        if headers.len() == MAX_FIELDS {
            return Err(Error::HeadersTooLarge(Cap::HeaderFields(MAX_FIELDS)));
        }
        headers.push(field_line(&buf[at..end], "header")?);
        at = end + 2;
    }
}

/// Where the CRLF ending the line that starts at `from` is; None while it has
/// not come, or does not start before `limit` (past a cap: the caller's to
/// refuse, without reading further). RFC 9112 §2.2: a bare CR is invalid; we
/// also refuse a bare LF (which §2.2 lets us take as an end of line) since a
/// proxy may not.
fn line_end(buf: &[u8], from: usize, limit: usize, what: &str) -> Result<Option<usize>, Error> {
    for i in from..buf.len().min(limit) {
        match buf[i] {
            b'\r' => {
                return match buf.get(i + 1) {
                    Some(b'\n') => Ok(Some(i)),
                    Some(_) => Err(malformed(format!("a CR without LF in {what}"))),
                    None => Ok(None),
                }
            }
            b'\n' => return Err(malformed(format!("an LF without CR in {what}"))),
            _ => {}
        }
    }
    Ok(None)
}

/// RFC 9110 §5.6.2.
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn token_len(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| tchar(b)).count()
}

fn shown(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
fn request_line(line: &[u8]) -> Result<(String, Target, u8), Error> {
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    if method.is_empty() || token_len(method) != method.len() {
        return Err(malformed(format!(
            "the method \"{}\" is not a token",
            shown(method)
        )));
    }
    let (Some(target), Some(version)) = (parts.next(), parts.next()) else {
        return Err(malformed(
            "the request line has no HTTP version (HTTP/0.9 is not served)",
        ));
    };
    if parts.next().is_some() || target.is_empty() {
        return Err(malformed(
            "the request line is not method, target and version between single spaces",
        ));
    }
    if let Some(b) = target.iter().find(|b| !(0x21..=0x7e).contains(*b)) {
        return Err(malformed(format!("the target holds byte 0x{b:02x}")));
    }
    // RFC 9112 §2.3: "HTTP/" DIGIT "." DIGIT, case-sensitive.
    let minor = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            // RFC 9110 §2.5/§15.6.6: another major version is one we do not serve.
            if *major != b'1' {
                return Err(Error::Version(shown(version)));
            }
            // Any 1.x is served as the highest we have (1.1).
            (minor - b'0').min(1)
        }
        _ => {
            return Err(malformed(format!(
                "\"{}\" is not an HTTP version",
                shown(version)
            )))
        }
    };
    // The checks above leave only ASCII.
    let method = shown(method);
    let target = request_target(&method, &shown(target))?;
    Ok((method, target, minor))
}

/// RFC 9112 §3.2: origin-form, absolute-form (http and https URIs) or, for OPTIONS, asterisk-form.
fn request_target(method: &str, t: &str) -> Result<Target, Error> {
    let split = |pq: &str, authority: Option<String>| {
        let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
        Target {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            query: query.into(),
            authority,
        }
    };
    if t.starts_with('/') {
        return Ok(split(t, None));
    }
    if t == "*" {
        return if method == "OPTIONS" {
            Ok(Target {
                path: "*".into(),
                query: String::new(),
                authority: None,
            })
        } else {
            Err(malformed(format!(
                "the target * is for OPTIONS, not {method}"
            )))
        };
    }
    let Some((scheme, rest)) = t.split_once("://") else {
        return Err(malformed(format!(
            "the target \"{t}\" is not a path, an http URI, or *"
        )));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(malformed(format!(
            "the target's scheme \"{scheme}\" is not http or https"
        )));
    }
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, pq) = rest.split_at(cut);
    // RFC 9110 §4.2.1/§4.2.4: a host is required, userinfo is an error.
    if authority.is_empty() || authority.contains('@') || !host_ok(authority) {
        return Err(malformed(format!(
            "the target's authority \"{authority}\" is not host[:port]"
        )));
    }
    Ok(split(pq, Some(authority.into())))
}

/// RFC 9110 §7.2: Host = uri-host [ ":" port ] (may be empty).
fn host_ok(h: &str) -> bool {
    let (host, port) = if h.starts_with('[') {
        match h.find(']') {
            Some(i) => {
                let inside = &h[1..i];
                if inside.is_empty()
                    || !inside
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b":.vV".contains(&b))
                {
                    return false;
                }
                match &h[i + 1..] {
                    "" => return true,
                    rest => match rest.strip_prefix(':') {
                        Some(p) => (&h[..=i], p),
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        let (host, port) = h.split_once(':').unwrap_or((h, ""));
        let reg = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
        if !host.bytes().all(reg) {
            return false;
        }
        (host, port)
    };
    (!host.is_empty() || port.is_empty()) && port.bytes().all(|b| b.is_ascii_digit())
}

/// One field line, RFC 9112 §5: name ":" OWS value OWS; the name lower-cased,
/// the value Latin-1 decoded.
fn field_line(line: &[u8], section: &str) -> Result<(String, String), Error> {
    // RFC 9112 §5.2: obs-fold is refused rather than unfolded; §2.2: so is
    // whitespace before the first field.
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(malformed(format!(
            "a {section} line starts with whitespace (line folding is not accepted)"
        )));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(malformed(format!(
            "the {section} line \"{}\" has no colon",
            shown(line)
        )));
    };
    let name = &line[..colon];
    // RFC 9112 §5.1: whitespace between name and colon MUST get a 400.
    if matches!(name.last(), Some(b' ' | b'\t')) {
        return Err(malformed(format!(
            "whitespace between the {section} name \"{}\" and its colon",
            shown(name.trim_ascii_end())
        )));
    }
    if name.is_empty() || token_len(name) != name.len() {
        return Err(malformed(format!(
            "the {section} name \"{}\" is not a token",
            shown(name)
        )));
    }
    let name = shown(name).to_ascii_lowercase();
    let value = trim_ows(&line[colon + 1..]);
    // RFC 9110 §5.5: VCHAR, obs-text, and SP/HTAB inside; no other control bytes.
    if let Some(b) = value
        .iter()
        .find(|&&b| !(b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80))
    {
        return Err(malformed(format!(
            "{section} \"{name}\" holds control byte 0x{b:02x}"
        )));
    }
    Ok((name, value.iter().map(|&b| char::from(b)).collect()))
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn skip_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
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
/// RFC 9110 §10.1.1: an HTTP/1.0 client's expectation is ignored.
pub fn expects_continue(buf: &[u8]) -> bool {
    matches!(head(buf, usize::MAX), Ok(Some(h)) if h.minor >= 1
        && h.headers.iter().any(|(n, v)| n == "expect" && v.eq_ignore_ascii_case("100-continue")))
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

/// A chunked body (RFC 9112 §7.1) and the bytes it took, trailers included; None while incomplete.
fn dechunk(buf: &[u8], limits: &Limits) -> Result<Option<(Vec<u8>, usize)>, Error> {
    let max = limits.max_body_bytes;
    let mut body = Vec::new();
    let mut at = 0;
    // Extensions carry no body bytes, so the body cap does not bound them: they get their own.
    let mut ext_bytes = 0;
    loop {
        let Some(end) = line_end(buf, at, at + MAX_CHUNK_LINE + 1, "a chunk-size line")? else {
            return if buf.len() - at > MAX_CHUNK_LINE {
                Err(malformed(format!(
                    "a chunk-size line is over {MAX_CHUNK_LINE} bytes"
                )))
            } else {
                Ok(None)
            };
        };
        if end - at > MAX_CHUNK_LINE {
            return Err(malformed(format!(
                "a chunk-size line is over {MAX_CHUNK_LINE} bytes"
            )));
        }
        let (size, ext) = chunk_size(&buf[at..end], max)?;
        ext_bytes += ext;
        if ext_bytes > limits.max_header_bytes {
            return Err(malformed(format!(
                "the chunk extensions are over {} bytes in all",
                limits.max_header_bytes
            )));
        }
        at = end + 2;
        if size == 0 {
            return Ok(trailers(buf, at, limits.max_header_bytes)?.map(|used| (body, used)));
        }
        if body.len() + size > max {
            return Err(Error::BodyTooLarge(max));
        }
        let after = (at + size).min(buf.len())..(at + size + 2).min(buf.len());
        if !b"\r\n".starts_with(&buf[after]) {
            return Err(malformed("chunk data does not end in CRLF"));
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size + 2;
    }
}

/// chunk-size [ chunk-ext ]: the size and the extensions' length. No sign, no
/// space but the BWS before a ";".
fn chunk_size(line: &[u8], max: usize) -> Result<(usize, usize), Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || !chunk_ext_ok(&line[digits..]) {
        return Err(malformed(format!(
            "the chunk-size line \"{}\" is not hex digits and extensions",
            shown(line)
        )));
    }
    let hex = &line[..digits];
    let significant = &hex[hex.iter().take_while(|&&b| b == b'0').count()..];
    if significant.len() > 15 {
        return Err(Error::BodyTooLarge(max));
    }
    let size = significant.iter().fold(0usize, |n, &b| {
        n * 16 + (b as char).to_digit(16).unwrap_or(0) as usize
    });
    Ok((size, line.len() - digits))
}

/// chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
fn chunk_ext_ok(mut s: &[u8]) -> bool {
    while !s.is_empty() {
        let Some(rest) = skip_ws(s).strip_prefix(b";") else {
            return false;
        };
        s = skip_ws(rest);
        let n = token_len(s);
        if n == 0 {
            return false;
        }
        s = &s[n..];
        if let Some(rest) = skip_ws(s).strip_prefix(b"=") {
            s = skip_ws(rest);
            let n = if s.first() == Some(&b'"') {
                match quoted_len(s) {
                    Some(n) => n,
                    None => return false,
                }
            } else {
                token_len(s)
            };
            if n == 0 {
                return false;
            }
            s = &s[n..];
        }
    }
    true
}

/// The length of the quoted-string (RFC 9110 §5.6.4) that `s` starts with.
fn quoted_len(s: &[u8]) -> Option<usize> {
    let text = |b: u8| b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80;
    let mut i = 1;
    loop {
        match *s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' if text(*s.get(i + 1)?) => i += 2,
            b if text(b) && b != b'\\' => i += 1,
            _ => return None,
        }
    }
}

/// The trailer section from `start` to its empty line: where it ends, None
/// while it has not all come. Its fields are checked and dropped.
fn trailers(buf: &[u8], start: usize, max: usize) -> Result<Option<usize>, Error> {
    let too_big = Error::HeadersTooLarge(Cap::TrailerBytes(max));
    let mut at = start;
    let mut fields = 0;
    loop {
        let Some(end) = line_end(buf, at, start.saturating_add(max), "the trailer section")? else {
            return if buf.len() - start > max {
                Err(too_big)
            } else {
                Ok(None)
            };
        };
        if end + 2 - start > max {
            return Err(too_big);
        }
        if end == at {
            return Ok(Some(end + 2));
        }
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(Error::HeadersTooLarge(Cap::TrailerFields(MAX_FIELDS)));
        }
        field_line(&buf[at..end], "trailer")?;
        at = end + 2;
    }
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

    fn err(raw: &[u8]) -> Error {
        parse(raw, &LIMITS).unwrap_err()
    }

    fn status(raw: &str) -> u16 {
        err(raw.as_bytes()).status()
    }

    /// A request with Host, then `rest` (more headers, the empty line, a body).
    fn req(rest: &str) -> String {
        format!("POST /a HTTP/1.1\r\nHost: h\r\n{rest}")
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
        let raw = req("Content-Length: 5\r\n\r\nhello");
        for cut in 0..raw.len() {
            assert_eq!(
                parse(&raw.as_bytes()[..cut], &LIMITS).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        assert_eq!(whole(&raw).0.body, b"hello");
        let chunked = req("Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6 ; a = \"q\\\"x\" ;b\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
        for cut in 0..chunked.len() {
            assert_eq!(
                parse(&chunked.as_bytes()[..cut], &LIMITS).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        let (r, used) = whole(&chunked);
        assert_eq!(r.body, b"hello world");
        assert_eq!(used, chunked.len());
        // upper-case hex, leading zeros, and no trailers
        let (r, _) = whole(&req(
            "Transfer-Encoding: Chunked\r\n\r\n0A\r\n0123456789\r\n000\r\n\r\n",
        ));
        assert_eq!(r.body, b"0123456789");
    }

    #[test]
    fn pipelined_requests_come_one_at_a_time() {
        let raw = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut at = 0;
        let mut paths = Vec::new();
        while let Some((r, used)) = parse(&raw.as_bytes()[at..], &LIMITS).unwrap() {
            paths.push(r.path);
            at += used;
        }
        assert_eq!(paths, ["/1", "/2", "/3"]);
        assert_eq!(at, raw.len());
        // RFC 9112 §2.2: a stray CRLF before the next request line is skipped
        let (r, used) = whole("\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((r.path.as_str(), used), ("/x", 32));
        // ... also when it arrives a byte at a time: its CR alone is not refused
        assert_eq!(parse(b"\r", &LIMITS), Ok(None));
        assert_eq!(parse(b"\r\n\r", &LIMITS), Ok(None));
        assert!(parse(b"\r\r", &LIMITS).is_err());
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        assert!(
            !whole("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
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
    fn transfer_encoding_must_be_one_line_ending_in_chunked() {
        let te = |v: &str| status(&req(&format!("Transfer-Encoding: {v}\r\n\r\n0\r\n\r\n")));
        assert_eq!(te("chunked, gzip"), 400);
        assert_eq!(te("gzip"), 400);
        assert_eq!(te("chunked;x=1"), 400);
        assert_eq!(te("chunked, chunked"), 400);
        assert_eq!(te(""), 400);
        // chunked last, but a coding we cannot undo before it
        assert_eq!(te("gzip, chunked"), 501);
        assert!(
            err(req("Transfer-Encoding: gzip, chunked\r\n\r\n").as_bytes())
                .message()
                .contains("\"gzip, chunked\" is not supported")
        );
        // empty list elements are ignored (RFC 9110 §5.6.1)
        assert_eq!(
            whole(&req("Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n"))
                .0
                .body,
            b""
        );
        assert_eq!(
            status(&req(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )),
            400
        );
        assert_eq!(
            status(&req(
                "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )),
            400
        );
        assert_eq!(
            status(&req(
                "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )),
            400
        );
        // RFC 9112 §6.1: HTTP/1.0 has no transfer codings
        assert_eq!(
            status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400
        );
    }

    #[test]
    fn content_length_is_digits_and_only_one() {
        for bad in ["+5", "-5", "5 5", "0x5", "5,5", "5, 5", "five", "1e3", "5;"] {
            let e = err(req(&format!("Content-Length: {bad}\r\n\r\nhello")).as_bytes());
            assert_eq!(e.status(), 400, "{bad}");
            assert!(e.message().contains("Content-Length"), "{bad}");
        }
        // OWS around a field value is not part of it (RFC 9112 §5)
        assert_eq!(
            whole(&req("Content-Length:   5  \r\n\r\nhello")).0.body,
            b"hello"
        );
        assert_eq!(
            whole(&req("Content-Length: 0005\r\n\r\nhello")).0.body,
            b"hello"
        );
        assert_eq!(
            status(&req("Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello")),
            400
        );
        assert_eq!(status(&req("Content-Length: 65\r\n\r\n")), 413);
        assert_eq!(
            status(&req("Content-Length: 99999999999999999999999999\r\n\r\n")),
            413
        );
    }

    #[test]
    fn chunk_sizes_are_bare_hex() {
        let chunk = |line: &str| {
            parse(
                req(&format!(
                    "Transfer-Encoding: chunked\r\n\r\n{line}\r\nhello\r\n0\r\n\r\n"
                ))
                .as_bytes(),
                &LIMITS,
            )
        };
        for bad in [
            "+5", " 5", "5 ", "-5", "0x5", "5;", "5;a=", "5 ; ", "5;a b", "5;a=\"x", "", "z",
        ] {
            assert_eq!(chunk(bad).unwrap_err().status(), 400, "{bad:?}");
        }
        for good in ["5", "05", "5;a", "5 ;a=b", "5;a=\"x y\";b"] {
            assert_eq!(chunk(good).unwrap().unwrap().0.body, b"hello", "{good:?}");
        }
        assert_eq!(chunk("41").unwrap_err().status(), 413);
        assert_eq!(chunk("fffffffffffffffffffff").unwrap_err().status(), 413);
        // chunk data that runs past its size
        assert_eq!(
            status(&req(
                "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"
            )),
            400
        );
        // refused as soon as the wrong byte comes, not when more arrive
        assert_eq!(
            status(&req("Transfer-Encoding: chunked\r\n\r\n3\r\nhelX")),
            400
        );
        assert_eq!(
            status(&req(&format!(
                "Transfer-Encoding: chunked\r\n\r\n5;{}",
                "a".repeat(1100)
            ))),
            400
        );
    }

    #[test]
    fn host_is_required_once_in_http11() {
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400);
        assert!(err(b"GET / HTTP/1.1\r\n\r\n").message().contains("Host"));
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a:x\r\n\r\n"), 400);
        for good in ["", "a", "a.example:8080", "[::1]:80", "127.0.0.1"] {
            let (r, _) = whole(&format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n"));
            assert_eq!(r.header("host"), Some(good));
        }
        // HTTP/1.0 needs none
        assert_eq!(whole("GET / HTTP/1.0\r\n\r\n").0.path, "/");
    }

    #[test]
    fn line_endings_are_crlf_only() {
        for bad in [
            "GET / HTTP/1.1\rHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\rb\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\nHost: h\n\n",
            "GET / HTTP/1.1\r\nHost: h\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n\n",
            "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n",
        ] {
            let e = err(bad.as_bytes());
            assert_eq!(e.status(), 400, "{bad:?}");
            assert!(e.message().contains("CR"), "{bad:?}: {}", e.message());
        }
        // in the trailer section and chunk lines too
        assert_eq!(
            status(&req(
                "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\rb\r\n\r\n"
            )),
            400
        );
        assert_eq!(
            status(&req("Transfer-Encoding: chunked\r\n\r\n0\n\r\n")),
            400
        );
        // a bare CR is refused before the rest arrives
        assert_eq!(status("GET / HTTP/1.1\r\nHost: h\rX"), 400);
    }

    #[test]
    fn field_lines_are_strict() {
        // obs-fold (RFC 9112 §5.2), also in first position
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"),
            400
        );
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n"),
            400
        );
        assert_eq!(status("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400);
        assert!(err(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n")
            .message()
            .contains("folding"));
        // whitespace before the colon (RFC 9112 §5.1)
        for bad in ["Host : h", "Host\t: h", "Transfer-Encoding : chunked"] {
            let e = err(format!("GET / HTTP/1.1\r\n{bad}\r\n\r\n").as_bytes());
            assert_eq!(e.status(), 400, "{bad}");
            assert!(e.message().contains("colon"), "{bad}");
        }
        // names are tokens; values have no controls
        for bad in [
            "X(y): 1",
            "X@: 1",
            ": 1",
            "X y: 1",
            "X\u{7f}: 1",
            "NoColon",
            "X: a\u{0}b",
            "X: a\u{1}b",
            "X: \u{7f}",
        ] {
            assert_eq!(
                status(&format!("GET / HTTP/1.1\r\nHost: h\r\n{bad}\r\n\r\n")),
                400,
                "{bad:?}"
            );
        }
        // OWS trimmed, inner SP/HTAB kept, empty values fine
        let (r, _) = whole("GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a \t b \t\r\nX-E:\r\n\r\n");
        assert_eq!(r.header("x-a"), Some("a \t b"));
        assert_eq!(r.header("x-e"), Some(""));
    }

    #[test]
    fn obs_text_values_read_as_latin1() {
        let mut raw =
            b"GET / HTTP/1.1\r\nHost: h\r\nX-L: caf\xe9 \xff\r\nX-U: \xc3\xa9\r\n\r\n".to_vec();
        let (r, _) = parse(&raw, &LIMITS).unwrap().unwrap();
        assert_eq!(r.header("x-l"), Some("café ÿ"));
        assert_eq!(r.header("x-u"), Some("Ã©"));
        // not in names, nor in the target
        raw = b"GET / HTTP/1.1\r\nHost: h\r\nX-\xe9: 1\r\n\r\n".to_vec();
        assert_eq!(err(&raw).status(), 400);
        assert_eq!(
            err(b"GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n").status(),
            400
        );
    }

    #[test]
    fn request_line_forms() {
        // absolute-form: the URI's authority replaces Host (RFC 9112 §3.2.2)
        let (r, _) = whole("GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
        assert_eq!(
            (r.path.as_str(), r.query.as_str(), r.header("host")),
            ("/a/b", "x=1", Some("example.com"))
        );
        let (r, _) = whole("GET HTTPS://example.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            (r.path.as_str(), r.header("host")),
            ("/", Some("example.com:8443"))
        );
        let (r, _) = whole("GET http://e.com?q HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/", "q"));
        let (r, _) = whole("GET http://e.com/p HTTP/1.0\r\n\r\n");
        assert_eq!(r.header("host"), Some("e.com"));
        for bad in [
            "ftp://e.com/",
            "http://",
            "http:///a",
            "http://u@e.com/",
            "e.com:80",
            "a/b",
        ] {
            assert_eq!(
                status(&format!("GET {bad} HTTP/1.1\r\nHost: h\r\n\r\n")),
                400,
                "{bad}"
            );
        }
        // asterisk-form, for OPTIONS only
        let (r, _) = whole("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((r.method.as_str(), r.path.as_str()), ("OPTIONS", "*"));
        assert_eq!(status("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
        // methods are any token, case-sensitive
        let (r, _) = whole("PURGE-X /a HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(r.method, "PURGE-X");
        for bad in [
            "G(T / HTTP/1.1",
            "GET  / HTTP/1.1",
            "GET / HTTP/1.1 ",
            " GET / HTTP/1.1",
            "GET\t/ HTTP/1.1",
            "GET /",
            "GET",
            "GET / ",
        ] {
            assert_eq!(status(&format!("{bad}\r\nHost: h\r\n\r\n")), 400, "{bad:?}");
        }
        // bytes that cannot start a method are refused before the line ends
        assert_eq!(err(b"\x16\x03\x01\x02\x00").status(), 400);
    }

    #[test]
    fn versions() {
        // any HTTP/1.x is served as 1.1 (RFC 9110 §2.5), so it needs Host too
        let (r, _) = whole("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
        assert!(r.keep_alive);
        assert_eq!(status("GET / HTTP/1.9\r\n\r\n"), 400);
        for other in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0"] {
            let e = err(format!("GET / {other}\r\nHost: h\r\n\r\n").as_bytes());
            assert_eq!(e.status(), 505, "{other}");
            assert!(e.message().contains(other));
        }
        for bad in [
            "HTTP/1.10",
            "HTTP/1",
            "http/1.1",
            "HTTP/1.x",
            "HTTP/11",
            "HTTPS/1.1",
            "HTTP /1.1",
        ] {
            assert_eq!(
                status(&format!("GET / {bad}\r\nHost: h\r\n\r\n")),
                400,
                "{bad}"
            );
        }
        // the HTTP/0.9 simple request
        assert_eq!(status("GET /\r\n"), 400);
        // RFC 9110 §10.1.1: 100-continue is ignored from an HTTP/1.0 client
        assert!(!expects_continue(
            b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        ));
    }

    #[test]
    fn caps_say_which_was_hit() {
        let big = format!(
            "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
            "a".repeat(2000)
        );
        assert_eq!(
            err(big.as_bytes()),
            Error::HeadersTooLarge(Cap::HeaderBytes(1024))
        );
        // headers still arriving but already over the cap
        assert_eq!(
            err(&big.as_bytes()[..1500]),
            Error::HeadersTooLarge(Cap::HeaderBytes(1024))
        );
        assert_eq!(
            err(big.as_bytes()).message(),
            "the request line and header section are over 1024 bytes"
        );
        let limits = Limits {
            max_header_bytes: 16 << 10,
            max_body_bytes: 64,
        };
        let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
        let e = parse(
            format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n").as_bytes(),
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            (e.status(), e.message().as_str()),
            (431, "the header section has more than 100 fields")
        );
        // 99 more fields than Host is fine
        let fine: String = (0..99).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(parse(
            format!("GET / HTTP/1.1\r\nHost: h\r\n{fine}\r\n").as_bytes(),
            &limits
        )
        .unwrap()
        .is_some());
        // trailers have caps of their own, met while they arrive
        let chunked = req("Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n");
        let long = format!("{chunked}X: {}\r\n\r\n", "a".repeat(1100));
        let e = err(long.as_bytes());
        assert_eq!(
            (e.status(), e.message().as_str()),
            (431, "the trailer section is over 1024 bytes")
        );
        assert_eq!(
            err(&long.as_bytes()[..chunked.len() + 1050]),
            Error::HeadersTooLarge(Cap::TrailerBytes(1024))
        );
        let few: String = (0..101).map(|i| format!("T{i}: v\r\n")).collect();
        let e = parse(format!("{chunked}{few}\r\n").as_bytes(), &limits).unwrap_err();
        assert_eq!(
            (e.status(), e.message().as_str()),
            (431, "the trailer section has more than 100 fields")
        );
        // bad trailer lines are refused like header lines
        assert_eq!(status(&format!("{chunked}X : v\r\n\r\n")), 400);
        assert_eq!(status(&format!("{chunked} folded\r\n\r\n")), 400);
        // chunk extensions have a cap in all
        let exts: String = (0..40)
            .map(|_| format!("1;{}\r\nx\r\n", "e".repeat(40)))
            .collect();
        let e = err(req(&format!("Transfer-Encoding: chunked\r\n\r\n{exts}")).as_bytes());
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("chunk extensions"));
    }

    #[test]
    fn expect_continue_is_seen_before_the_body() {
        assert!(expects_continue(
            b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        ));
        assert!(!expects_continue(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
        ));
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
}

/// Headers that carry credentials: never kept in a run's history.
const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
];

/// What an HTTP run's history keeps as its input, so a failed webhook can be
/// seen and replayed: `ctx.request`'s method, path, query and headers
/// (credentials left out), and the body as sent, up to `max_body` bytes
/// (`bodyTruncated` when cut; bytes that are not UTF-8 in base64).
pub fn for_history(
    ctx_request: &serde_json::Value,
    body: &[u8],
    max_body: usize,
) -> serde_json::Value {
    use serde_json::{json, Value};
    let mut headers = ctx_request["headers"].clone();
    if let Value::Object(h) = &mut headers {
        h.retain(|name, _| !CREDENTIAL_HEADERS.contains(&name.as_str()));
    }
    let mut out = json!({
        "method": ctx_request["method"],
        "path": ctx_request["path"],
        "query": ctx_request["query"],
        "headers": headers,
    });
    if body.is_empty() {
        return out;
    }
    let mut cut = body.len().min(max_body);
    let text = loop {
        match std::str::from_utf8(&body[..cut]) {
            Ok(t) => break Some(t),
            // a character cut in two by the cap: cut before it
            Err(e) if e.error_len().is_none() && cut < body.len() => cut = e.valid_up_to(),
            Err(_) => break None,
        }
    };
    match text {
        Some(t) => out["body"] = t.into(),
        None => {
            use base64::Engine as _;
            cut = body.len().min(max_body);
            out["body"] = base64::engine::general_purpose::STANDARD
                .encode(&body[..cut])
                .into();
            out["bodyEncoding"] = "base64".into();
        }
    }
    if cut < body.len() {
        out["bodyTruncated"] = true.into();
    }
    out
}

#[cfg(test)]
mod history_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_request_without_credentials_and_caps_the_body() {
        let req = json!({"method": "POST", "path": "/hook", "query": {"a": "1"}, "params": {},
                         "headers": {"authorization": "Bearer x", "x-api-key": "k", "cookie": "c", "x-sig": "s"},
                         "body": {"parsed": true}});
        let h = for_history(&req, b"{\"b\": 1.50}", 1024);
        assert_eq!(
            h,
            json!({"method": "POST", "path": "/hook", "query": {"a": "1"},
                             "headers": {"x-sig": "s"}, "body": "{\"b\": 1.50}"})
        );
        let cut = for_history(&req, "ééé".as_bytes(), 3);
        assert_eq!(
            (cut["body"].as_str(), cut["bodyTruncated"].as_bool()),
            (Some("é"), Some(true))
        );
        let binary = for_history(&req, &[0xff, 0, 1], 2);
        assert_eq!(binary["body"], "/wA=");
        assert_eq!(binary["bodyEncoding"], "base64");
        assert_eq!(binary["bodyTruncated"], true);
        assert!(for_history(&req, b"", 10).get("body").is_none());
    }
}
