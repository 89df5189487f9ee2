//! The messages between the HTTP front worker and its runners, over one
//! SOCK_SEQPACKET socket pair per runner (message boundaries kept, each
//! message whole or absent). A request or response bigger than one message
//! travels as numbered chunks of the same ticket.
//!
//! Either side may restart alone, so the other may find stale messages in
//! the socket. The handshake sorts that out: a runner that starts (or hears
//! `FrontHello`) sends `Hello` with a fresh nonce and ignores everything
//! until the `Welcome` that echoes it; the front ignores a runner until its
//! `Hello`, and a `Hello` from a runner it had given a request means that
//! runner restarted, so the request gets a 502.

use super::request::Request;
use super::response::Response;

/// Largest message: well under the default socket buffer (net.core.wmem_default).
pub const MAX_MESSAGE: usize = 32 << 10;
const HEADER: usize = 16;
pub const MAX_CHUNK: usize = MAX_MESSAGE - HEADER;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// runner → front: I am ready; `ticket` is my nonce, the payload my pid
    Hello = 1,
    /// front → runner: welcome, runner with this nonce
    Welcome = 2,
    /// front → runner: the front (re)started; say hello again
    FrontHello = 3,
    /// front → runner: a chunk of a request
    Request = 4,
    /// runner → front: a chunk of the response to a request
    Response = 5,
    /// runner → front: an extra runner, idle, is leaving (it read no request since its last response)
    Bye = 6,
}

/// One decoded message.
#[derive(Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: Kind,
    /// the last chunk of its request or response
    pub last: bool,
    pub ticket: u64,
    pub payload: &'a [u8],
}

pub fn message(kind: Kind, last: bool, ticket: u64, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER + payload.len());
    m.push(kind as u8);
    m.push(last as u8);
    m.extend_from_slice(&[0; 6]);
    m.extend_from_slice(&ticket.to_le_bytes());
    m.extend_from_slice(payload);
    m
}

pub fn decode(m: &[u8]) -> Option<Message<'_>> {
    if m.len() < HEADER {
        return None;
    }
    let kind = match m[0] {
        1 => Kind::Hello,
        2 => Kind::Welcome,
        3 => Kind::FrontHello,
        4 => Kind::Request,
        5 => Kind::Response,
        6 => Kind::Bye,
        _ => return None,
    };
    Some(Message {
        kind,
        last: m[1] != 0,
        ticket: u64::from_le_bytes(m[8..16].try_into().ok()?),
        payload: &m[HEADER..],
    })
}

/// `body` as the messages of one ticket (at least one, the last marked).
pub fn chunks(kind: Kind, ticket: u64, body: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = body
        .chunks(MAX_CHUNK)
        .map(|c| message(kind, false, ticket, c))
        .collect();
    match out.last_mut() {
        Some(m) => m[1] = 1,
        None => out.push(message(kind, true, ticket, &[])),
    }
    out
}

/// Length-prefixed fields, in a fixed order.
struct Writer(Vec<u8>);

impl Writer {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
    }
    fn headers(&mut self, h: &[(String, String)]) {
        self.0.extend_from_slice(&(h.len() as u32).to_le_bytes());
        for (n, v) in h {
            self.bytes(n.as_bytes());
            self.bytes(v.as_bytes());
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (n, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*n))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        if self.0.len() < n {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn headers(&mut self) -> Option<Vec<(String, String)>> {
        let n = self.u32()? as usize;
        let mut h = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            h.push((self.string()?, self.string()?));
        }
        Some(h)
    }
}

pub fn encode_request(r: &Request) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256 + r.body.len()));
    w.bytes(r.method.as_bytes());
    w.bytes(r.path.as_bytes());
    w.bytes(r.query.as_bytes());
    w.headers(&r.headers);
    w.bytes(&r.body);
    w.0.push(r.keep_alive as u8);
    w.0
}

pub fn decode_request(b: &[u8]) -> Option<Request> {
    let mut r = Reader(b);
    let req = Request {
        method: r.string()?,
        path: r.string()?,
        query: r.string()?,
        headers: r.headers()?,
        body: r.bytes()?.to_vec(),
        keep_alive: *r.0.first()? != 0,
    };
    (r.0.len() == 1).then_some(req)
}

pub fn encode_response(r: &Response) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(128 + r.body.len()));
    w.0.extend_from_slice(&u32::from(r.status).to_le_bytes());
    w.headers(&r.headers);
    w.bytes(&r.body);
    w.0
}

pub fn decode_response(b: &[u8]) -> Option<Response> {
    let mut r = Reader(b);
    let status = u16::try_from(r.u32()?).ok()?;
    let resp = Response {
        status,
        headers: r.headers()?,
        body: r.bytes()?.to_vec(),
    };
    r.0.is_empty().then_some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Vec<u8>) -> Request {
        Request {
            method: "POST".into(),
            path: "/t/acme/orders".into(),
            query: "a=1&b=é".into(),
            headers: vec![("host".into(), "x".into()), ("x-a".into(), "1".into())],
            body,
            keep_alive: true,
        }
    }

    #[test]
    fn requests_and_responses_round_trip() {
        for body in [vec![], b"{\"a\": 1.50}".to_vec(), vec![0xff; 100_000]] {
            let r = request(body);
            assert_eq!(decode_request(&encode_request(&r)), Some(r));
        }
        let resp = Response {
            status: 201,
            headers: vec![
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            body: vec![0, 1, 2],
        };
        let back = decode_response(&encode_response(&resp)).expect("decodes");
        assert_eq!(
            (back.status, back.headers, back.body),
            (resp.status, resp.headers, resp.body)
        );
    }

    #[test]
    fn truncated_or_padded_input_is_refused() {
        let e = encode_request(&request(b"xyz".to_vec()));
        for n in 0..e.len() {
            assert_eq!(decode_request(&e[..n]), None, "prefix of {n} bytes");
        }
        let mut longer = e.clone();
        longer.push(0);
        assert_eq!(decode_request(&longer), None);
        assert!(decode_response(&[1, 0, 0]).is_none());
    }

    #[test]
    fn chunks_split_and_mark_the_last() {
        let body = vec![7u8; MAX_CHUNK * 2 + 5];
        let parts = chunks(Kind::Response, 9, &body);
        assert_eq!(parts.len(), 3);
        let decoded: Vec<Message> = parts.iter().map(|m| decode(m).expect("decodes")).collect();
        assert!(decoded
            .iter()
            .all(|m| m.ticket == 9 && m.kind == Kind::Response));
        assert_eq!(
            decoded.iter().map(|m| m.last).collect::<Vec<_>>(),
            [false, false, true]
        );
        let joined: Vec<u8> = decoded.iter().flat_map(|m| m.payload.to_vec()).collect();
        assert_eq!(joined, body);
        assert!(parts.iter().all(|m| m.len() <= MAX_MESSAGE));
        let empty = chunks(Kind::Request, 1, &[]);
        assert_eq!(empty.len(), 1);
        assert!(decode(&empty[0]).expect("decodes").last);
        assert_eq!(decode(&[9; 16]), None);
        assert_eq!(decode(&[1; 15]), None);
    }
}
