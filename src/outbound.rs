//! Scripts' outbound HTTP (ctx.http), without Postgres: each hop parses the
//! URL, refuses other schemes, resolves the host once, checks every address
//! with the SSRF rules, and connects only to the checked addresses, so DNS
//! rebinding cannot switch them. Redirects are followed here, hop by hop,
//! each checked again.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::{Host, Url};

use crate::ssrf::{self, Allow, Rule};

pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
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
    /// the URL that answered, after redirects
    pub url: String,
    /// lower-case names, in the order received
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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

/// Resolves a host name to addresses; the system resolver outside tests.
pub type Resolver<'a> = &'a dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

pub fn system_resolver(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// An HTTP client that keeps connections open between requests. Its
/// resolver answers only with addresses `fetch` has checked (the pins), by
/// "host:port"; a pooled connection always goes to an address that was checked
/// when it was opened, and each request checks its host again first.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    pins: Arc<Mutex<HashMap<String, Vec<SocketAddr>>>>,
}

impl Default for Client {
    fn default() -> Self {
        let pins: Arc<Mutex<HashMap<String, Vec<SocketAddr>>>> = Arc::default();
        let lookup = pins.clone();
        let agent = ureq::AgentBuilder::new()
            .resolver(move |netloc: &str| {
                lookup
                    .lock()
                    .ok()
                    .and_then(|p| p.get(netloc).cloned())
                    .ok_or_else(|| io::Error::other(format!("{netloc} was not checked")))
            })
            .redirects(0)
            .max_idle_connections_per_host(2)
            .user_agent(concat!("jsruntime/", env!("CARGO_PKG_VERSION")))
            .build();
        Client { agent, pins }
    }
}

impl Client {
    /// Sends `req`, following redirects, under `limits`.
    pub fn fetch(
        &self,
        mut req: Request,
        allow: &Allow,
        limits: &Limits,
        resolve: Resolver<'_>,
    ) -> Result<Response, Error> {
        // Nothing a script set may break the request's framing.
        for (name, value) in &req.headers {
            check_header(name, value).map_err(Error::Invalid)?;
        }
        let deadline = Instant::now() + limits.timeout;
        let mut url =
            Url::parse(&req.url).map_err(|e| Error::BadUrl(format!("{}: {e}", req.url)))?;
        let mut redirects = 0;
        loop {
            self.pin(&url, checked_addresses(&url, allow, resolve)?)?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(limits.timeout));
            }
            let response = send(&self.agent, &req, &url, left, limits)?;
            let location = response
                .headers
                .iter()
                .find(|(n, _)| n == "location")
                .map(|(_, v)| v.clone());
            let Some(location) = location.filter(|_| is_redirect(response.status)) else {
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
                // Credentials meant for one origin are not handed to another.
                req.headers.retain(|(n, _)| {
                    !n.eq_ignore_ascii_case("authorization") && !n.eq_ignore_ascii_case("cookie")
                });
            }
            url = next;
        }
    }

    fn pin(&self, url: &Url, addrs: Vec<SocketAddr>) -> Result<(), Error> {
        // ureq asks its resolver for "host:port", the host as the URL writes it.
        let netloc = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let mut pins = self
            .pins
            .lock()
            .map_err(|_| Error::Transport("the client's address pins are unusable".into()))?;
        if pins.len() > 1000 {
            pins.clear();
        }
        pins.insert(netloc, addrs);
        Ok(())
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
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

/// One hop, through the pinned addresses.
fn send(
    agent: &ureq::Agent,
    req: &Request,
    url: &Url,
    timeout: Duration,
    limits: &Limits,
) -> Result<Response, Error> {
    let mut r = agent.request_url(&req.method, url).timeout(timeout);
    for (n, v) in &req.headers {
        r = r.set(n, v);
    }
    let sent = match &req.body {
        Some(b) => r.send_bytes(b),
        None => r.call(),
    };
    let response = match sent {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => return Err(transport(t, limits.timeout)),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            response
                .all(&n)
                .into_iter()
                .map(|v| (n.to_ascii_lowercase(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let final_url = response.get_url().to_string();
    let mut body = Vec::new();
    response
        .into_reader()
        .take(limits.max_response_bytes as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| io_error(e, limits.timeout))?;
    if body.len() > limits.max_response_bytes {
        return Err(Error::TooLarge(limits.max_response_bytes));
    }
    Ok(Response {
        status,
        url: final_url,
        headers,
        body,
    })
}

fn transport(t: ureq::Transport, timeout: Duration) -> Error {
    use std::error::Error as _;
    let io = t
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    if matches!(
        io,
        Some(io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
    ) {
        return Error::Timeout(timeout);
    }
    Error::Transport(t.to_string())
}

fn io_error(e: io::Error, timeout: Duration) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout(timeout),
        _ => Error::Transport(format!("reading the response: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
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

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Test: yes\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    fn limits() -> Limits {
        Limits {
            timeout: Duration::from_secs(5),
            max_response_bytes: 1000,
            max_redirects: 3,
        }
    }

    fn get(url: &str, allow: &Allow, resolve: Resolver<'_>) -> Result<Response, Error> {
        Client::default().fetch(request(url), allow, &limits(), resolve)
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
        }
    }

    fn no_dns(_: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
        Err(io::Error::other("no DNS in this test"))
    }

    #[test]
    fn allowed_server_answers() {
        let (addr, _) = server("127.0.0.2", |_| ok("hello"));
        let allow = Allow::parse("127.0.0.2").unwrap();
        let r = get(&format!("http://{addr}/x"), &allow, &no_dns).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello");
        assert!(r.headers.contains(&("x-test".into(), "yes".into())));
    }

    #[test]
    fn loopback_in_every_disguise_is_refused_without_connecting() {
        let (addr, hits) = server("127.0.0.1", |_| ok("secret"));
        let port = addr.port();
        let allow = Allow::parse("127.0.0.2").unwrap();
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
        ] {
            let e = get(&format!("http://{host}:{port}/"), &allow, &localhost).unwrap_err();
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
        let allow = Allow::parse("127.0.0.2").unwrap();
        let r = get("http://rebind.example/", &allow, &rebinding).unwrap();
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
        let allow = Allow::parse("127.0.0.2").unwrap();
        let e = get(&format!("http://{outside}/away"), &allow, &no_dns).unwrap_err();
        assert!(refused_loopback(&e), "{e:?}");
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        let r = get(&format!("http://{outside}/rel"), &allow, &no_dns).unwrap();
        assert_eq!(r.body, b"followed");
        assert!(r.url.ends_with("/ok"));
        let e = get(&format!("http://{outside}/loop"), &allow, &no_dns).unwrap_err();
        assert_eq!(e, Error::TooManyRedirects(3));
    }

    #[test]
    fn connections_are_kept_open_and_hosts_checked_again() {
        // Answers every request on a connection until the client closes it.
        let l = TcpListener::bind("127.0.0.2:0").unwrap();
        let addr = l.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                h.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0
                            || s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                                .is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        let calls = AtomicUsize::new(0);
        // the third resolution rebinds the name to loopback
        let rebinding = |_: &str, _: u16| {
            Ok(vec![if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                addr
            } else {
                SocketAddr::from(([127, 0, 0, 1], addr.port()))
            }])
        };
        let allow = Allow::parse("127.0.0.2").unwrap();
        let client = Client::default();
        let get = |url: &str| client.fetch(request(url), &allow, &limits(), &rebinding);
        assert_eq!(get("http://api.example/1").unwrap().body, b"ok");
        assert_eq!(get("http://api.example/2").unwrap().body, b"ok");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
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
        let allow = Allow::parse("127.0.0.2").unwrap();
        let e = get(&format!("http://{big}/"), &allow, &no_dns).unwrap_err();
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
            .fetch(req, &allow, &quick, &no_dns)
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
                .fetch(req, &Allow::parse("127.0.0.2").unwrap(), &limits(), &no_dns)
                .unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{name}: {e:?}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }
}
