//! Scripts' outbound HTTP (ctx.http), without Postgres: each hop parses the
//! URL, refuses other schemes, resolves the host once, checks every address
//! with the SSRF rules, and connects only to the checked addresses, so DNS
//! rebinding cannot switch them. Redirects are followed here, hop by hop,
//! each checked again.
//!
//! HTTP/1.1 is spoken here, over rustls for https, rather than by a client
//! library, because connections are kept open between requests and who may
//! reuse one is a security matter:
//! - a connection serves one tenant only (`Sender::tenant` is in its key);
//! - scripts cannot set the headers that frame or route a request
//!   (`check_header`), so what they send is one request and nothing more;
//! - a response is framed exactly (one Content-Length, or chunked alone, or
//!   until the close) or refused, and a connection goes back to the pool only
//!   when nothing was left over after the response, nor waits on the socket.
//!   (ureq 2 pooled a connection whose buffer still held bytes sent past the
//!   declared body, and the next request read them as its response.)

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::ServerName;
use url::{Host, Position, Url};

use crate::redact::Redactor;
use crate::ssrf::{self, Allow, Rule};

pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub redirect: Redirect,
}

/// What a redirect does, as the Fetch standard's redirect modes say.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub enum Redirect {
    /// follow it, checking the next hop again
    #[default]
    Follow,
    /// answer with the redirect response itself
    Manual,
    /// fail
    Error,
}

pub struct Limits {
    /// for the whole request, redirects included
    pub timeout: Duration,
    pub max_response_bytes: usize,
    pub max_redirects: u32,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// the status line's reason phrase
    pub reason: String,
    /// whether a redirect was followed on the way
    pub redirected: bool,
    /// the URL that answered, after redirects
    pub url: String,
    /// lower-case names, in the order received
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Whose request it is.
#[derive(Debug, Default, Clone)]
pub struct Sender {
    /// only this tenant's requests reuse the connections this one opens
    pub tenant: String,
    /// secret values the run read: headers holding one do not follow a
    /// redirect to another origin
    pub secrets: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum Error {
    BadUrl(String),
    Scheme(String),
    /// `host` resolved to `ip`, which `rule` refuses
    Refused {
        host: String,
        ip: IpAddr,
        rule: Rule,
    },
    /// a header or method that may not be sent, and why
    Invalid(String),
    Resolve(String, String),
    TooManyRedirects(u32),
    /// a redirect (to the location given) under `Redirect::Error`
    Redirected(u16, String),
    TooLarge(usize),
    Timeout(Duration),
    Transport(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::BadUrl(why) => write!(f, "bad URL: {why}"),
            Error::Scheme(s) => write!(f, "the scheme \"{s}\" is not allowed: use http or https"),
            Error::Refused { host, ip, rule } => {
                f.write_str("refused by the SSRF rules: ")?;
                if *host != ip.to_string() {
                    write!(f, "{host} is ")?;
                }
                write!(f, "{ip}, a {rule} address (open it with jsrt.http_allow)")
            }
            Error::Invalid(why) => f.write_str(why),
            Error::Resolve(host, why) => write!(f, "cannot resolve {host}: {why}"),
            Error::TooManyRedirects(n) => {
                write!(f, "more than {n} redirects (jsrt.http_max_redirects)")
            }
            Error::Redirected(status, to) => {
                write!(
                    f,
                    "redirected ({status}) to {to}, and redirect is \"error\""
                )
            }
            Error::TooLarge(n) => write!(
                f,
                "the response is larger than {n} bytes (jsrt.http_max_response_bytes)"
            ),
            Error::Timeout(t) => write!(f, "no complete response within {} ms", t.as_millis()),
            Error::Transport(why) => f.write_str(why),
        }
    }
}

/// Err says why a script may not send the header `name: value`: it must be
/// a valid header (`crate::http::check_header`), and not one of those that
/// frame the request or route it, which the client writes itself. A script
/// that set Content-Length could make the bytes after it a second request.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    crate::http::check_header(name, value)?;
    match reserved(name) {
        Some(why) => Err(format!("header \"{name}\" cannot be set: {why}")),
        None => Ok(()),
    }
}

/// Why the client alone writes the header `name`, or None when scripts may.
fn reserved(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    Some(match name.as_str() {
        "content-length" | "transfer-encoding" | "trailer" | "te" => {
            "the client frames the request and its body itself"
        }
        "connection" | "keep-alive" | "upgrade" => "the client manages its connections itself",
        "host" => "the host is the URL's",
        "expect" => "the client sends the body without waiting for 100 Continue",
        _ if name.starts_with("proxy-") => "requests go to their server, not through a proxy",
        _ => return None,
    })
}

/// Whether the header `name: value` may go on to another origin after a
/// redirect: not credentials, nor anything holding a secret the run read.
fn crosses_origins(name: &str, value: &str, secrets: &[String], forms: Option<&Redactor>) -> bool {
    let name = name.to_ascii_lowercase();
    let credential = matches!(
        name.as_str(),
        "authorization" | "cookie" | "proxy-authorization" | "x-api-key"
    );
    let secret = secrets
        .iter()
        .any(|s| !s.is_empty() && value.contains(s.as_str()))
        || forms.is_some_and(|r| r.finds(value));
    !credential && !secret
}

/// Resolves a host name to addresses; the system resolver outside tests.
pub type Resolver<'a> = &'a dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

pub fn system_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// Idle connections kept, in all, and for one tenant, scheme, host and port.
const MAX_IDLE: usize = 16;
const MAX_IDLE_PER_KEY: usize = 2;
/// An idle connection older than this is closed rather than reused: servers
/// close theirs after a while, and a request sent just then would be lost.
const MAX_IDLE_TIME: Duration = Duration::from_secs(30);
/// Caps on a response's head, and on one line of a chunked body.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
const MAX_CHUNK_LINE: usize = 4096;
const USER_AGENT: &str = concat!("jsruntime/", env!("CARGO_PKG_VERSION"));

/// An HTTP client that keeps connections open between requests, each for
/// the tenant, scheme, host and port it was opened for, and reused only
/// while its peer is among the addresses the request's host was just checked
/// to stand for. Clones share the idle connections.
#[derive(Clone, Default)]
pub struct Client {
    idle: Arc<Mutex<VecDeque<Idle>>>,
}

struct Idle {
    key: Key,
    conn: Conn,
    since: Instant,
}

#[derive(Clone, PartialEq, Debug)]
struct Key {
    tenant: String,
    tls: bool,
    host: String,
    port: u16,
}

impl Client {
    /// Sends `req` for `sender`, following redirects, under `limits`.
    pub fn fetch(
        &self,
        sender: &Sender,
        mut req: Request,
        allow: &Allow,
        limits: &Limits,
        resolve: Resolver<'_>,
    ) -> Result<Response, Error> {
        // The request is written as it is: nothing in it may break its framing.
        if req.method.is_empty() || !req.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::Invalid(format!(
                "\"{}\" is not a method",
                req.method
            )));
        }
        for (name, value) in &req.headers {
            check_header(name, value).map_err(Error::Invalid)?;
        }
        let deadline = Instant::now() + limits.timeout;
        let mut url =
            Url::parse(&req.url).map_err(|e| Error::BadUrl(format!("{}: {e}", req.url)))?;
        let mut redirects = 0;
        loop {
            let addrs = checked_addresses(&url, allow, resolve)?;
            if Instant::now() >= deadline {
                return Err(Error::Timeout(limits.timeout));
            }
            let mut response = self.exchange(sender, &req, &url, &addrs, deadline, limits)?;
            response.redirected = redirects > 0;
            let location = response
                .headers
                .iter()
                .find(|(n, _)| n == "location")
                .map(|(_, v)| v.clone());
            if is_redirect(response.status) && req.redirect == Redirect::Error {
                return Err(Error::Redirected(
                    response.status,
                    location.unwrap_or_default(),
                ));
            }
            let Some(location) = location
                .filter(|_| is_redirect(response.status) && req.redirect == Redirect::Follow)
            else {
                return Ok(response);
            };
            if redirects == limits.max_redirects {
                return Err(Error::TooManyRedirects(limits.max_redirects));
            }
            redirects += 1;
            let next = url
                .join(&location)
                .map_err(|e| Error::BadUrl(format!("redirect to {location}: {e}")))?;
            // 301, 302 and 303 turn into a GET without a body; 307 and 308 keep both.
            if matches!(response.status, 301..=303) && req.method != "HEAD" {
                req.method = "GET".into();
                req.body = None;
                req.headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            }
            if next.origin() != url.origin() {
                // Credentials and secrets meant for one origin are not handed to another.
                let forms = Redactor::new(&sender.secrets);
                req.headers
                    .retain(|(n, v)| crosses_origins(n, v, &sender.secrets, forms.as_ref()));
            }
            url = next;
        }
    }

    /// One hop: on a kept-open connection to a checked address if there is
    /// one, else on a new one.
    fn exchange(
        &self,
        sender: &Sender,
        req: &Request,
        url: &Url,
        addrs: &[SocketAddr],
        deadline: Instant,
        limits: &Limits,
    ) -> Result<Response, Error> {
        let mut bytes = request_head(req, url);
        if let Some(body) = &req.body {
            bytes.extend_from_slice(body);
        }
        let hop = Hop {
            key: Key {
                tenant: sender.tenant.clone(),
                tls: url.scheme() == "https",
                host: url.host_str().unwrap_or_default().to_string(),
                port: url.port_or_known_default().unwrap_or_default(),
            },
            bytes,
            method: &req.method,
            url,
            deadline,
            limits,
        };
        if let Some(conn) = self.take_idle(&hop.key, addrs) {
            match self.exchange_on(conn, &hop) {
                // A server may close an idle connection just as it is reused: a
                // request that can safely be sent twice goes again on a new one.
                Err(Failed::NothingBack(_)) if is_idempotent(hop.method) => {}
                Err(Failed::NothingBack(e) | Failed::Other(e)) => return Err(e),
                Ok(r) => return Ok(r),
            }
        }
        let conn = connect(url, addrs, deadline, limits)?;
        self.exchange_on(conn, &hop)
            .map_err(|(Failed::NothingBack(e) | Failed::Other(e))| e)
    }

    fn exchange_on(&self, mut conn: Conn, hop: &Hop<'_>) -> Result<Response, Failed> {
        let (deadline, timeout) = (hop.deadline, hop.limits.timeout);
        conn.write_all(&hop.bytes, deadline, timeout)
            .map_err(Failed::NothingBack)?;
        let (status, reason, headers, framing, keep_alive) = loop {
            let Head {
                status,
                reason,
                version,
                headers,
            } = conn.read_head(deadline, timeout)?;
            match status {
                // informational: the real response follows
                100 | 102..=199 => continue,
                101 => {
                    return Err(Failed::Other(Error::Transport(
                        "the server switched protocols, which was not asked for".into(),
                    )))
                }
                _ => {}
            }
            let framing = framing(hop.method, status, version, &headers).map_err(|why| {
                Failed::Other(Error::Transport(format!(
                    "the response is refused: {why} (its connection is closed)"
                )))
            })?;
            let close = headers.iter().any(|(n, v)| {
                n == "connection" && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
            });
            break (status, reason, headers, framing, version == 1 && !close);
        };
        let body = conn
            .read_body(&framing, deadline, hop.limits)
            .map_err(Failed::Other)?;
        if keep_alive && framing != Framing::UntilClose {
            self.put_idle(hop.key.clone(), conn);
        }
        Ok(Response {
            status,
            reason,
            redirected: false,
            url: hop.url.to_string(),
            headers,
            body,
        })
    }

    /// A kept-open connection for `key` whose peer is still allowed, if it is still clean.
    fn take_idle(&self, key: &Key, addrs: &[SocketAddr]) -> Option<Conn> {
        let mut idle = self.idle.lock().ok()?;
        let now = Instant::now();
        idle.retain(|i| now.duration_since(i.since) < MAX_IDLE_TIME);
        let at = idle
            .iter()
            .rposition(|i| i.key == *key && addrs.contains(&i.conn.peer))?;
        let mut conn = idle.remove(at)?.conn;
        drop(idle);
        conn.is_clean().then_some(conn)
    }

    fn put_idle(&self, key: Key, mut conn: Conn) {
        // Bytes past the response, or sent since, would be read as the next response.
        if !conn.is_clean() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        if idle.iter().filter(|i| i.key == key).count() >= MAX_IDLE_PER_KEY {
            if let Some(at) = idle.iter().position(|i| i.key == key) {
                idle.remove(at);
            }
        }
        if idle.len() >= MAX_IDLE {
            idle.pop_front();
        }
        idle.push_back(Idle {
            key,
            conn,
            since: Instant::now(),
        });
    }
}

/// What one hop sends, and where.
struct Hop<'a> {
    key: Key,
    /// the head and the body
    bytes: Vec<u8>,
    method: &'a str,
    url: &'a Url,
    deadline: Instant,
    limits: &'a Limits,
}

/// How one exchange failed.
enum Failed {
    /// nothing came back: on a kept-open connection, its server may have closed it
    NothingBack(Error),
    Other(Error),
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS")
}

/// The addresses `url`'s host stands for, each allowed by the rules.
fn checked_addresses(
    url: &Url,
    allow: &Allow,
    resolve: Resolver<'_>,
) -> Result<Vec<SocketAddr>, Error> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Scheme(url.scheme().into()));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Error::BadUrl(format!("{url}: no port")))?;
    let (name, addrs) = match url.host() {
        None => return Err(Error::BadUrl(format!("{url}: no host"))),
        Some(Host::Ipv4(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Ipv6(ip)) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        Some(Host::Domain(d)) => {
            let addrs = resolve(d, port).map_err(|e| Error::Resolve(d.into(), e.to_string()))?;
            (d.to_string(), addrs)
        }
    };
    if addrs.is_empty() {
        return Err(Error::Resolve(name, "no addresses".into()));
    }
    // One refused address refuses the host: a name that also points inside is not trusted.
    for a in &addrs {
        ssrf::check(&name, a.ip(), allow).map_err(|rule| Error::Refused {
            host: name.clone(),
            ip: a.ip(),
            rule,
        })?;
    }
    Ok(addrs)
}

/// The request line and headers, ending with the empty line.
fn request_head(req: &Request, url: &Url) -> Vec<u8> {
    let target = match &url[Position::BeforePath..Position::AfterQuery] {
        "" => "/",
        t => t,
    };
    let mut head = format!("{} {target} HTTP/1.1\r\n", req.method);
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => head.push_str(&format!("Host: {host}:{port}\r\n")),
        None => head.push_str(&format!("Host: {host}\r\n")),
    }
    let has = |name: &str| {
        req.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("user-agent") {
        head.push_str(&format!("User-Agent: {USER_AGENT}\r\n"));
    }
    if !has("accept") {
        head.push_str("Accept: */*\r\n");
    }
    if !has("authorization") && (!url.username().is_empty() || url.password().is_some()) {
        let pair = format!("{}:{}", url.username(), url.password().unwrap_or_default());
        let basic = base64::engine::general_purpose::STANDARD.encode(pair);
        head.push_str(&format!("Authorization: Basic {basic}\r\n"));
    }
    for (name, value) in &req.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &req.body {
        Some(b) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
        None if matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") => {
            head.push_str("Content-Length: 0\r\n")
        }
        None => {}
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A response's status line and headers.
struct Head {
    status: u16,
    reason: String,
    /// the minor version: 0 for HTTP/1.0, 1 for HTTP/1.1
    version: u8,
    /// lower-case names, in the order received
    headers: Vec<(String, String)>,
}

/// How a response's body ends (RFC 9112, section 6.3).
#[derive(Debug, PartialEq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The framing of a response, or Err saying why it is ambiguous: two
/// framings at once, two lengths, codings this client cannot undo.
fn framing(
    method: &str,
    status: u16,
    version: u8,
    headers: &[(String, String)],
) -> Result<Framing, String> {
    if method == "HEAD" || matches!(status, 100..=199 | 204 | 304) {
        return Ok(Framing::Empty);
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let codings = values("transfer-encoding");
    let lengths = values("content-length");
    let has_coding = headers.iter().any(|(n, _)| n == "transfer-encoding");
    if has_coding {
        if headers.iter().any(|(n, _)| n == "content-length") {
            return Err("it has both Transfer-Encoding and Content-Length".into());
        }
        if version == 0 {
            return Err("it is HTTP/1.0 with Transfer-Encoding".into());
        }
        if codings != ["chunked"] {
            return Err(format!(
                "Transfer-Encoding \"{}\" is not chunked alone",
                codings.join(", ")
            ));
        }
        return Ok(Framing::Chunked);
    }
    let Some(first) = lengths.first() else {
        return if headers.iter().any(|(n, _)| n == "content-length") {
            Err("its Content-Length is empty".into())
        } else {
            Ok(Framing::UntilClose)
        };
    };
    if lengths.iter().any(|l| l != first) {
        return Err(format!(
            "it has different Content-Length values ({})",
            lengths.join(", ")
        ));
    }
    if !first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("its Content-Length \"{first}\" is not a number"));
    }
    first
        .parse::<u64>()
        .map(Framing::Length)
        .map_err(|_| format!("its Content-Length \"{first}\" is too large"))
}

enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// One connection, with the bytes read from it and not used yet.
struct Conn {
    wire: Wire,
    peer: SocketAddr,
    buf: Vec<u8>,
    /// where the unused bytes in `buf` start
    at: usize,
}

/// The TLS settings: the Mozilla roots that webpki-roots carries, HTTP/1.1.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS cannot be set up: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(Error::Transport)
}

/// A new connection to the first of `addrs` that answers, with TLS for https.
fn connect(
    url: &Url,
    addrs: &[SocketAddr],
    deadline: Instant,
    limits: &Limits,
) -> Result<Conn, Error> {
    let mut failure = None;
    let mut socket = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(limits.timeout));
        }
        match TcpStream::connect_timeout(addr, left) {
            Ok(s) => {
                socket = Some((s, *addr));
                break;
            }
            Err(e) => failure = Some((e, *addr)),
        }
    }
    let Some((socket, peer)) = socket else {
        return Err(match failure {
            Some((e, _)) if is_timeout(&e) && Instant::now() >= deadline => {
                Error::Timeout(limits.timeout)
            }
            Some((e, addr)) => Error::Transport(format!("cannot connect to {addr}: {e}")),
            None => Error::Resolve(url.to_string(), "no addresses".into()),
        });
    };
    // Requests go out whole; waiting to batch them only adds latency.
    let _ = socket.set_nodelay(true);
    let wire = if url.scheme() == "https" {
        let name = match url.host() {
            Some(Host::Domain(d)) => ServerName::try_from(d.to_string())
                .map_err(|e| Error::BadUrl(format!("{d}: {e}")))?,
            _ => ServerName::IpAddress(peer.ip().into()),
        };
        let tls = rustls::ClientConnection::new(tls_config()?, name)
            .map_err(|e| Error::Transport(format!("TLS: {e}")))?;
        Wire::Tls(Box::new(rustls::StreamOwned::new(tls, socket)))
    } else {
        Wire::Plain(socket)
    };
    Ok(Conn {
        wire,
        peer,
        buf: Vec::new(),
        at: 0,
    })
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

impl Conn {
    fn socket(&self) -> &TcpStream {
        match &self.wire {
            Wire::Plain(s) => s,
            Wire::Tls(t) => &t.sock,
        }
    }

    /// Bounds the next read or write by `deadline`.
    fn arm(&self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(timeout));
        }
        let s = self.socket();
        s.set_read_timeout(Some(left))
            .and_then(|_| s.set_write_timeout(Some(left)))
            .map_err(|e| Error::Transport(format!("the connection is unusable: {e}")))
    }

    fn write_all(
        &mut self,
        bytes: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), Error> {
        self.arm(deadline, timeout)?;
        let sent = match &mut self.wire {
            Wire::Plain(s) => s.write_all(bytes).and_then(|_| s.flush()),
            Wire::Tls(t) => t.write_all(bytes).and_then(|_| t.flush()),
        };
        sent.map_err(|e| io_error(e, "sending the request", timeout))
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.at..]
    }

    fn consume(&mut self, n: usize) {
        self.at = (self.at + n).min(self.buf.len());
    }

    /// Reads more bytes; Ok(0) when the server has closed the connection.
    fn fill(&mut self, deadline: Instant, timeout: Duration) -> Result<usize, Error> {
        if self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        } else if self.at > 64 * 1024 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.arm(deadline, timeout)?;
        let end = self.buf.len();
        self.buf.resize(end + 16 * 1024, 0);
        let read = match &mut self.wire {
            Wire::Plain(s) => s.read(&mut self.buf[end..]),
            Wire::Tls(t) => t.read(&mut self.buf[end..]),
        };
        let n = match read {
            Ok(n) => n,
            // a TLS peer that closes without close_notify has still closed
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => {
                self.buf.truncate(end);
                return Err(io_error(e, "reading the response", timeout));
            }
        };
        self.buf.truncate(end + n);
        Ok(n)
    }

    /// The head of the next response.
    fn read_head(&mut self, deadline: Instant, timeout: Duration) -> Result<Head, Failed> {
        let mut got_any = !self.unread().is_empty();
        loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(self.unread()) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = parsed.code.unwrap_or_default();
                    let reason = parsed.reason.unwrap_or_default().to_string();
                    let version = parsed.version.unwrap_or_default();
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    self.consume(len);
                    return Ok(Head {
                        status,
                        reason,
                        version,
                        headers,
                    });
                }
                Ok(httparse::Status::Partial) if self.unread().len() > MAX_HEAD_BYTES => {
                    return Err(Failed::Other(Error::Transport(format!(
                        "the response's head is over {MAX_HEAD_BYTES} bytes"
                    ))))
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => {
                    return Err(Failed::Other(Error::Transport(format!(
                        "the response is not HTTP/1.1: {e}"
                    ))))
                }
            }
            match self.fill(deadline, timeout) {
                Ok(0) => {
                    let e = Error::Transport("the server closed the connection".into());
                    return Err(if got_any {
                        Failed::Other(e)
                    } else {
                        Failed::NothingBack(e)
                    });
                }
                Ok(_) => got_any = true,
                Err(e @ Error::Timeout(_)) => return Err(Failed::Other(e)),
                Err(e) if got_any => return Err(Failed::Other(e)),
                Err(e) => return Err(Failed::NothingBack(e)),
            }
        }
    }

    fn read_body(
        &mut self,
        framing: &Framing,
        deadline: Instant,
        limits: &Limits,
    ) -> Result<Vec<u8>, Error> {
        let max = limits.max_response_bytes;
        let mut body = Vec::new();
        match framing {
            Framing::Empty => {}
            Framing::Length(n) => {
                let n = usize::try_from(*n)
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or(Error::TooLarge(max))?;
                self.read_exact_into(&mut body, n, deadline, limits.timeout)?;
            }
            Framing::Chunked => loop {
                let line = self.read_line(deadline, limits.timeout)?;
                let size = line.split(';').next().unwrap_or_default().trim();
                let size = (!size.is_empty()
                    && size.len() <= 15
                    && size.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| usize::from_str_radix(size, 16).ok())
                .flatten()
                .ok_or_else(|| {
                    Error::Transport(format!("the response has a bad chunk size \"{size}\""))
                })?;
                if size == 0 {
                    // trailers, up to the empty line
                    let mut trailers = 0;
                    loop {
                        let t = self.read_line(deadline, limits.timeout)?;
                        if t.is_empty() {
                            break;
                        }
                        trailers += t.len();
                        if trailers > MAX_HEAD_BYTES {
                            return Err(Error::Transport(
                                "the response's trailers are too large".into(),
                            ));
                        }
                    }
                    break;
                }
                if body.len() + size > max {
                    return Err(Error::TooLarge(max));
                }
                self.read_exact_into(&mut body, size, deadline, limits.timeout)?;
                if !self.read_line(deadline, limits.timeout)?.is_empty() {
                    return Err(Error::Transport(
                        "the response has a chunk longer than its size".into(),
                    ));
                }
            },
            Framing::UntilClose => loop {
                body.extend_from_slice(self.unread());
                self.at = self.buf.len();
                if body.len() > max {
                    return Err(Error::TooLarge(max));
                }
                if self.fill(deadline, limits.timeout)? == 0 {
                    break;
                }
            },
        }
        Ok(body)
    }

    /// Appends exactly `n` more bytes of the response to `body`.
    fn read_exact_into(
        &mut self,
        body: &mut Vec<u8>,
        n: usize,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), Error> {
        let mut left = n;
        while left > 0 {
            if self.unread().is_empty() && self.fill(deadline, timeout)? == 0 {
                return Err(Error::Transport(
                    "the server closed the connection before the end of the body".into(),
                ));
            }
            let take = left.min(self.unread().len());
            body.extend_from_slice(&self.unread()[..take]);
            self.consume(take);
            left -= take;
        }
        Ok(())
    }

    /// The next line of a chunked body, without its CRLF.
    fn read_line(&mut self, deadline: Instant, timeout: Duration) -> Result<String, Error> {
        loop {
            if let Some(end) = self.unread().windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.unread()[..end]).into_owned();
                self.consume(end + 2);
                return Ok(line);
            }
            if self.unread().len() > MAX_CHUNK_LINE {
                return Err(Error::Transport(
                    "the response has a chunk line that does not end".into(),
                ));
            }
            if self.fill(deadline, timeout)? == 0 {
                return Err(Error::Transport(
                    "the server closed the connection before the end of the body".into(),
                ));
            }
        }
    }

    /// Whether another request may go on this connection: nothing is left
    /// of the last response, nothing has come since, and it is still open.
    fn is_clean(&mut self) -> bool {
        if !self.unread().is_empty() {
            return false;
        }
        if let Wire::Tls(t) = &mut self.wire {
            // records rustls has taken in but not handed over
            match t.conn.process_new_packets() {
                Ok(s) if s.plaintext_bytes_to_read() == 0 && !s.peer_has_closed() => {}
                _ => return false,
            }
        }
        let s = self.socket();
        if s.set_nonblocking(true).is_err() {
            return false;
        }
        let waiting = s.peek(&mut [0u8; 1]);
        let blocking = s.set_nonblocking(false).is_ok();
        blocking && matches!(waiting, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

fn io_error(e: io::Error, doing: &str, timeout: Duration) -> Error {
    if is_timeout(&e) {
        return Error::Timeout(timeout);
    }
    Error::Transport(format!("{doing}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A server on `ip` answering each connection with `reply(request head)`; counts connections.
    fn server(
        ip: &str,
        reply: impl Fn(&str) -> String + Send + 'static,
    ) -> (SocketAddr, Arc<AtomicUsize>) {
        let l = TcpListener::bind((ip, 0)).unwrap();
        let addr = l.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                h.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&got).to_string();
                let _ = s.write_all(reply(&head).as_bytes());
            }
        });
        (addr, hits)
    }

    /// Request heads a keep-alive server got, one list per connection.
    type Heads = Arc<Mutex<Vec<Vec<String>>>>;

    /// A server on 127.0.0.2 that answers every request on a connection, until
    /// the client closes it, with `reply(connection, request on it, head)`,
    /// both counted from 0. Requests must have no body.
    fn keep_alive_server(
        reply: impl Fn(usize, usize, &str) -> Vec<u8> + Send + Sync + 'static,
    ) -> (SocketAddr, Heads) {
        let l = TcpListener::bind("127.0.0.2:0").unwrap();
        let addr = l.local_addr().unwrap();
        let heads: Heads = Arc::default();
        let reply = Arc::new(reply);
        let all = heads.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let conn = {
                    let mut all = all.lock().unwrap();
                    all.push(Vec::new());
                    all.len() - 1
                };
                let (all, reply) = (all.clone(), reply.clone());
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut buf = vec![0u8; 65536];
                    loop {
                        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&got[..end + 4]).to_string();
                            got.drain(..end + 4);
                            let n = {
                                let mut all = all.lock().unwrap();
                                all[conn].push(head.clone());
                                all[conn].len() - 1
                            };
                            if s.write_all(&reply(conn, n, &head)).is_err() {
                                break;
                            }
                            continue;
                        }
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                });
            }
        });
        (addr, heads)
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Test: yes\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// A keep-alive response with `body`.
    fn kept(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn limits() -> Limits {
        Limits {
            timeout: Duration::from_secs(5),
            max_response_bytes: 1000,
            max_redirects: 3,
        }
    }

    fn tenant(id: &str) -> Sender {
        Sender {
            tenant: id.into(),
            secrets: vec![],
        }
    }

    fn get(url: &str, allow: &Allow, resolve: Resolver<'_>) -> Result<Response, Error> {
        Client::default().fetch(&tenant("t"), request(url), allow, &limits(), resolve)
    }

    fn refused_loopback(e: &Error) -> bool {
        matches!(
            e,
            Error::Refused {
                rule: Rule::Loopback,
                ..
            }
        )
    }

    fn request(url: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: None,
            redirect: Redirect::Follow,
        }
    }

    fn no_dns(_: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
        Err(io::Error::other("no DNS in this test"))
    }

    fn allow2() -> Allow {
        Allow::parse("127.0.0.2").unwrap()
    }

    #[test]
    fn allowed_server_answers() {
        let (addr, _) = server("127.0.0.2", |_| ok("hello"));
        let r = get(&format!("http://{addr}/x"), &allow2(), &no_dns).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello");
        assert!(r.headers.contains(&("x-test".into(), "yes".into())));
    }

    #[test]
    fn loopback_in_every_disguise_is_refused_without_connecting() {
        let (addr, hits) = server("127.0.0.1", |_| ok("secret"));
        let port = addr.port();
        let localhost = |h: &str, p: u16| -> io::Result<Vec<SocketAddr>> {
            assert_eq!(h, "localhost");
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], p))])
        };
        for host in [
            "localhost",
            "127.1",
            "0x7f000001",
            "2130706433",
            "0177.0.0.1",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[::ffff:0:7f00:1]",
            "[64:ff9b::7f00:1]",
            "[2002:7f00:1::1]",
        ] {
            let e = get(&format!("http://{host}:{port}/"), &allow2(), &localhost).unwrap_err();
            assert!(refused_loopback(&e), "{host}: {e:?}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_name_mapped_to_a_private_address_is_refused() {
        let hosts = |_: &str, p: u16| Ok(vec![SocketAddr::from(([10, 1, 2, 3], p))]);
        let e = get("http://intranet.example/", &Allow::default(), &hosts).unwrap_err();
        assert_eq!(
            e.to_string(),
            "refused by the SSRF rules: intranet.example is 10.1.2.3, a private network address (open it with jsrt.http_allow)"
        );
    }

    #[test]
    fn the_name_is_resolved_once_and_the_connection_pinned() {
        // A rebinding resolver: public-looking (allowed) first, loopback after.
        let (addr, hits) = server("127.0.0.2", |_| ok("pinned"));
        let calls = AtomicUsize::new(0);
        let rebinding = |_: &str, _: u16| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(vec![if n == 0 {
                addr
            } else {
                SocketAddr::from(([127, 0, 0, 1], 9))
            }])
        };
        let r = get("http://rebind.example/", &allow2(), &rebinding).unwrap();
        assert_eq!(r.body, b"pinned");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn redirects_are_checked_again_and_capped() {
        let (inside, hits) = server("127.0.0.1", |_| ok("inside"));
        let (outside, _) = server("127.0.0.2", move |head| {
            let to = if head.starts_with("GET /loop") {
                "/loop".to_string()
            } else if head.starts_with("GET /ok") {
                return ok("followed");
            } else if head.starts_with("GET /rel") {
                "/ok".to_string()
            } else {
                format!("http://{inside}/")
            };
            format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        });
        let allow = allow2();
        let e = get(&format!("http://{outside}/away"), &allow, &no_dns).unwrap_err();
        assert!(refused_loopback(&e), "{e:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        let r = get(&format!("http://{outside}/rel"), &allow, &no_dns).unwrap();
        assert_eq!(r.body, b"followed");
        assert!(r.url.ends_with("/ok"));
        assert!(r.redirected);
        let e = get(&format!("http://{outside}/loop"), &allow, &no_dns).unwrap_err();
        assert_eq!(e, Error::TooManyRedirects(3));
        // manual: the redirect itself is the answer, and nothing is followed
        let send = |path: &str, redirect| {
            let req = Request {
                redirect,
                ..request(&format!("http://{outside}{path}"))
            };
            Client::default().fetch(&tenant("t"), req, &allow, &limits(), &no_dns)
        };
        let r = send("/away", Redirect::Manual).unwrap();
        assert_eq!((r.status, r.redirected), (302, false));
        assert_eq!(r.reason, "Found");
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| n == "location" && v.ends_with(&format!("{inside}/"))));
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        // error: a redirect fails the request
        let e = send("/rel", Redirect::Error).unwrap_err();
        assert_eq!(e, Error::Redirected(302, "/ok".into()));
    }

    #[test]
    fn connections_are_kept_open_and_hosts_checked_again() {
        let (addr, heads) = keep_alive_server(|_, _, _| kept("ok"));
        let calls = AtomicUsize::new(0);
        // the third resolution rebinds the name to loopback
        let rebinding = |_: &str, _: u16| {
            Ok(vec![if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                addr
            } else {
                SocketAddr::from(([127, 0, 0, 1], addr.port()))
            }])
        };
        let client = Client::default();
        let allow = allow2();
        let get =
            |url: &str| client.fetch(&tenant("t"), request(url), &allow, &limits(), &rebinding);
        assert_eq!(get("http://api.example/1").unwrap().body, b"ok");
        assert_eq!(get("http://api.example/2").unwrap().body, b"ok");
        assert_eq!(heads.lock().unwrap().len(), 1);
        let e = get("http://api.example/3").unwrap_err();
        assert!(refused_loopback(&e), "{e:?}");
    }

    #[test]
    fn other_schemes_and_bad_urls_are_refused() {
        let allow = Allow::default();
        for (url, want) in [
            ("file:///etc/passwd", "the scheme \"file\" is not allowed"),
            ("gopher://x/", "the scheme \"gopher\" is not allowed"),
            ("ftp://x/", "the scheme \"ftp\" is not allowed"),
            ("not a url", "bad URL: not a url"),
        ] {
            let e = get(url, &allow, &no_dns).unwrap_err().to_string();
            assert!(e.starts_with(want), "{url}: {e}");
        }
    }

    #[test]
    fn big_responses_and_slow_servers_fail() {
        let (big, _) = server("127.0.0.2", |_| ok(&"x".repeat(5000)));
        let allow = allow2();
        let e = get(&format!("http://{big}/"), &allow, &no_dns).unwrap_err();
        assert_eq!(e, Error::TooLarge(1000));
        let (chunked, _) = server("127.0.0.2", |_| {
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n".to_string()
                + &"x".repeat(1024)
                + "\r\n0\r\n\r\n"
        });
        let e = get(&format!("http://{chunked}/"), &allow, &no_dns).unwrap_err();
        assert_eq!(e, Error::TooLarge(1000));

        let slow = TcpListener::bind("127.0.0.2:0").unwrap();
        let addr = slow.local_addr().unwrap();
        std::thread::spawn(move || {
            let _held: Vec<_> = slow.incoming().take(1).collect();
            std::thread::sleep(Duration::from_secs(3));
        });
        let req = request(&format!("http://{addr}/"));
        let quick = Limits {
            timeout: Duration::from_millis(300),
            ..limits()
        };
        let e = Client::default()
            .fetch(&tenant("t"), req, &allow, &quick, &no_dns)
            .unwrap_err();
        assert_eq!(e, Error::Timeout(Duration::from_millis(300)));
    }

    #[test]
    fn scripts_cannot_set_framing_or_routing_headers() {
        for name in [
            "Content-Length",
            "content-length",
            "Transfer-Encoding",
            "Host",
            "Connection",
            "Upgrade",
            "TE",
            "Trailer",
            "Keep-Alive",
            "Expect",
            "Proxy-Authorization",
            "proxy-connection",
        ] {
            let e = check_header(name, "1").unwrap_err();
            assert!(
                e.starts_with(&format!("header \"{name}\" cannot be set: ")),
                "{e}"
            );
        }
        for name in ["Content-Type", "Authorization", "X-Proxy-Id", "Accept"] {
            assert_eq!(check_header(name, "x"), Ok(()), "{name}");
        }
        assert!(check_header("X-A", "a\r\nb").is_err());
        assert!(check_header("X A", "a").is_err());
        // The client refuses them too, before connecting: a smuggled second request.
        let (addr, hits) = server("127.0.0.2", |_| ok("no"));
        for (name, value) in [
            ("Content-Length", "0"),
            ("Transfer-Encoding", "chunked"),
            ("X-Ok", "1\r\nContent-Length: 0"),
        ] {
            let mut req = request(&format!("http://{addr}/"));
            req.headers.push((name.into(), value.into()));
            let e = Client::default()
                .fetch(&tenant("t"), req, &allow2(), &limits(), &no_dns)
                .unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{name}: {e:?}");
        }
        let mut req = request(&format!("http://{addr}/"));
        req.method = "GET / HTTP/1.1\r\n".into();
        let e = Client::default()
            .fetch(&tenant("t"), req, &allow2(), &limits(), &no_dns)
            .unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn connections_are_never_shared_between_tenants() {
        let (addr, heads) = keep_alive_server(|conn, _, _| kept(&format!("conn {conn}")));
        let client = Client::default();
        let url = format!("http://{addr}/");
        let get = |t: &str| {
            let r = client.fetch(&tenant(t), request(&url), &allow2(), &limits(), &no_dns);
            String::from_utf8(r.unwrap().body).unwrap()
        };
        assert_eq!(get("a"), "conn 0");
        assert_eq!(get("a"), "conn 0");
        assert_eq!(get("b"), "conn 1");
        assert_eq!(get("a"), "conn 0");
        assert_eq!(get("b"), "conn 1");
        let heads = heads.lock().unwrap();
        assert_eq!(heads.len(), 2);
        assert_eq!((heads[0].len(), heads[1].len()), (3, 2));
    }

    #[test]
    fn bytes_past_the_body_close_the_connection() {
        // The first answer carries a second, unasked-for response after its body.
        let (addr, heads) = keep_alive_server(|conn, n, _| {
            match (conn, n) {
            (0, 0) => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL".to_vec(),
            (1, 0) => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL".to_vec(),
            _ => kept("fine"),
        }
        });
        let client = Client::default();
        let url = format!("http://{addr}/");
        let get = || {
            let r = client.fetch(&tenant("t"), request(&url), &allow2(), &limits(), &no_dns);
            String::from_utf8(r.unwrap().body).unwrap()
        };
        assert_eq!(get(), "ok");
        assert_eq!(get(), "ok");
        assert_eq!(get(), "fine");
        assert_eq!(get(), "fine");
        // a new connection after each response with bytes left over, then one kept
        let heads = heads.lock().unwrap();
        assert_eq!(heads.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 2]);
    }

    #[test]
    fn ambiguous_framing_is_refused_and_closes_the_connection() {
        let (addr, heads) = keep_alive_server(|_, _, head| {
            let framing = match head.split(' ').nth(1).unwrap_or_default() {
                "/two-lengths" => "Content-Length: 2\r\nContent-Length: 3",
                "/length-list" => "Content-Length: 2, 3",
                "/both" => "Content-Length: 2\r\nTransfer-Encoding: chunked",
                "/gzip" => "Transfer-Encoding: gzip, chunked",
                "/signed" => "Content-Length: +2",
                "/same-twice" => "Content-Length: 2\r\nContent-Length: 2",
                _ => "Content-Length: 2",
            };
            format!("HTTP/1.1 200 OK\r\n{framing}\r\n\r\nok").into_bytes()
        });
        let client = Client::default();
        let get = |path: &str| {
            let url = format!("http://{addr}{path}");
            client.fetch(&tenant("t"), request(&url), &allow2(), &limits(), &no_dns)
        };
        for path in ["/two-lengths", "/length-list", "/both", "/gzip", "/signed"] {
            let e = get(path).unwrap_err().to_string();
            assert!(e.starts_with("the response is refused: "), "{path}: {e}");
        }
        // every refusal closed its connection
        assert_eq!(heads.lock().unwrap().len(), 5);
        assert_eq!(get("/same-twice").unwrap().body, b"ok");
        assert_eq!(get("/").unwrap().body, b"ok");
        assert_eq!(heads.lock().unwrap().len(), 6);
        let (old, _) = server("127.0.0.2", |_| {
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".into()
        });
        let e = get_at(old).unwrap_err().to_string();
        assert!(e.contains("HTTP/1.0 with Transfer-Encoding"), "{e}");
    }

    fn get_at(addr: SocketAddr) -> Result<Response, Error> {
        get(&format!("http://{addr}/"), &allow2(), &no_dns)
    }

    #[test]
    fn reads_chunked_close_delimited_and_head_bodies() {
        let (chunked, _) = server("127.0.0.2", |_| {
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3;x=1\r\nhel\r\nA\r\nlo, world!\r\n0\r\nX-Trailer: 1\r\n\r\n".into()
        });
        assert_eq!(get_at(chunked).unwrap().body, b"hello, world!");
        let (until_close, _) = server("127.0.0.2", |_| "HTTP/1.1 200 OK\r\n\r\nall of it".into());
        assert_eq!(get_at(until_close).unwrap().body, b"all of it");
        let (cut, _) = server("127.0.0.2", |_| {
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf".into()
        });
        let e = get_at(cut).unwrap_err().to_string();
        assert!(e.contains("before the end of the body"), "{e}");
        // a HEAD response has no body, whatever its Content-Length says
        let (addr, heads) = keep_alive_server(|_, _, head| {
            if head.starts_with("HEAD ") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec()
            } else {
                kept("after")
            }
        });
        let client = Client::default();
        let url = format!("http://{addr}/");
        let head = Request {
            method: "HEAD".into(),
            ..request(&url)
        };
        let r = client.fetch(&tenant("t"), head, &allow2(), &limits(), &no_dns);
        assert_eq!(r.unwrap().body, b"");
        let r = client.fetch(&tenant("t"), request(&url), &allow2(), &limits(), &no_dns);
        assert_eq!(r.unwrap().body, b"after");
        assert_eq!(heads.lock().unwrap().len(), 1);
    }

    #[test]
    fn cross_origin_redirects_drop_credentials_and_secrets() {
        let secrets = vec!["sk_live_AbC123xyz".to_string()];
        let b64 = base64::engine::general_purpose::STANDARD.encode(&secrets[0]);
        let forms = Redactor::new(&secrets);
        let crosses = |n: &str, v: &str| crosses_origins(n, v, &secrets, forms.as_ref());
        assert!(!crosses("Authorization", "Bearer x"));
        assert!(!crosses("cookie", "a=1"));
        assert!(!crosses("Proxy-Authorization", "Basic x"));
        assert!(!crosses("X-API-Key", "k"));
        assert!(!crosses("X-Token", "sk_live_AbC123xyz"));
        assert!(!crosses("X-Sig", &format!("t=1,v={b64}")));
        assert!(!crosses("X-Lower", "sk_live_abc123xyz"));
        assert!(crosses("X-Trace", "abc"));
        assert!(crosses("Accept", "application/json"));
        // a secret too short to redact still stays home
        assert!(!crosses_origins("X-Pin", "pin 123", &["123".into()], None));

        let (elsewhere, _) = server("127.0.0.2", |head| {
            let body = head.to_ascii_lowercase();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        });
        let (home, _) = server("127.0.0.2", move |head| {
            let to = if head.starts_with("GET /same") {
                "/echo".to_string()
            } else {
                format!("http://{elsewhere}/echo")
            };
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        });
        let (same, _) = server("127.0.0.2", |head| {
            if head.starts_with("GET /echo") {
                let body = head.to_ascii_lowercase();
                return format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
            "HTTP/1.1 302 Found\r\nLocation: /echo\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
        });
        let sender = Sender {
            tenant: "t".into(),
            secrets,
        };
        let send = |url: String| {
            let mut req = request(&url);
            for (n, v) in [
                ("Authorization", "Bearer tok"),
                ("X-Api-Key", "key"),
                ("X-Token", "sk_live_AbC123xyz"),
                ("X-Sig", b64.as_str()),
                ("X-Trace", "trace-1"),
            ] {
                req.headers.push((n.into(), v.into()));
            }
            let r = Client::default().fetch(&sender, req, &allow2(), &limits(), &no_dns);
            String::from_utf8(r.unwrap().body).unwrap()
        };
        let there = send(format!("http://{home}/away"));
        assert!(there.contains("x-trace: trace-1"), "{there}");
        for gone in ["authorization", "x-api-key", "x-token", "x-sig"] {
            assert!(!there.contains(gone), "{gone}: {there}");
        }
        // the same origin gets them all
        let here = send(format!("http://{same}/start"));
        for kept in ["authorization", "x-api-key", "x-token", "x-sig", "x-trace"] {
            assert!(here.contains(kept), "{kept}: {here}");
        }
    }

    #[test]
    fn https_speaks_tls() {
        // A server that answers in plain HTTP at once cannot complete a TLS
        // handshake: the request fails cleanly.
        let l = TcpListener::bind("127.0.0.2:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Some(Ok(mut s)) = l.incoming().next() {
                let _ = s.write_all(ok("plain").as_bytes());
            }
        });
        let e = get(&format!("https://{addr}/"), &allow2(), &no_dns).unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
    }
}
