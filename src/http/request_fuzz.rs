//! A bounded byte-level fuzzer of the request parser, run by plain `cargo test`:
//! random bytes, mutations of the requests in tests/http/corpus, and streams
//! split at random points. Seeded, so a failure names the seed that repeats it
//! (`JSRT_FUZZ_SEED=n`, and `JSRT_FUZZ_CASES=n` for a longer run).
//!
//! What must hold for every input: `parse` does not panic; it returns a
//! request, "more bytes needed", or an error with a status and a message;
//! a request never takes more bytes than were given; the answer depends only
//! on the bytes the request took (a prefix holding a whole request parses to
//! it, and a prefix of a request is never refused); and bytes that arrive in
//! pieces give the same requests as the same bytes at once.

use super::request::{expects_continue, form_fields, parse, Error, Limits, Request};

const LIMITS: Limits = Limits {
    max_header_bytes: 2048,
    max_body_bytes: 512,
};

/// SplitMix64: small, seeded, and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/http/corpus is readable")
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    let out: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("a corpus file"))
        .collect();
    assert!(out.len() > 50, "the corpus is there");
    out
}

/// Tokens the grammar cares about, spliced in by the mutator.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"\0",
    b"\xff",
    b"\x80",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Host: h\r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: close\r\n",
    b"Content-Type: application/json\r\n",
    b"Content-Type: application/x-www-form-urlencoded\r\n",
    b"0\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"-1",
    b"0x10",
    b"HTTP/1.1",
    b"HTTP/2.0",
    b"HTTP/1.",
    b"%",
    b"%zz",
    b"?",
    b"#",
    b"*",
    b"http://",
    b"\xc3\x28",
    b"\xed\xa0\x80",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(8.min(len - i));
                input.drain(i..i + n);
            }
            3 => {
                let i = rng.below(len + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                input.splice(i..i, t.iter().copied());
            }
            4 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            5 if len > 0 => {
                // a region repeated
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let piece = input[i..i + n].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, piece);
            }
            6 => {
                // another corpus request appended (pipelining), or a piece of one
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(other.len() + 1);
                input.extend_from_slice(&other[..cut]);
            }
            7 if len > 0 => input.truncate(rng.below(len)),
            _ => {
                // a long run of one byte: caps on lines, fields and bodies
                let i = rng.below(len + 1);
                let b = [b'a', b'0', b' ', b'\r', b'\n', b':'][rng.below(6)];
                let n = 1 + rng.below(3000);
                input.splice(i..i, std::iter::repeat_n(b, n));
            }
        }
    }
}

/// The properties every call must keep; returns the parse of `buf`.
fn check(seed: u64, buf: &[u8]) -> Result<Option<(Request, usize)>, Error> {
    let out = parse(buf, &LIMITS);
    match &out {
        Ok(Some((req, used))) => {
            assert!(
                *used > 0 && *used <= buf.len(),
                "seed {seed}: took {used} of {} bytes",
                buf.len()
            );
            // The request is in the bytes it took, and in no fewer.
            assert_eq!(
                parse(&buf[..*used], &LIMITS).as_ref().ok(),
                Some(&Some((clone(req), *used))),
                "seed {seed}: the request is not the same from its own bytes"
            );
            if *used > 1 {
                assert_eq!(
                    parse(&buf[..*used - 1], &LIMITS),
                    Ok(None),
                    "seed {seed}: one byte short of a whole request is not 'more needed'"
                );
            }
            assert!(
                !req.method.is_empty(),
                "seed {seed}: a request with no method"
            );
            assert!(
                req.body.len() <= LIMITS.max_body_bytes,
                "seed {seed}: body over its cap"
            );
            // What a script is given of it must not panic either.
            let _ = req.to_ctx(&[("id".into(), "1".into())]);
        }
        Ok(None) => {}
        Err(e) => {
            assert!(
                (400..=505).contains(&e.status()),
                "seed {seed}: status {} for {e:?}",
                e.status()
            );
            let m = e.message();
            assert!(
                !m.trim().is_empty() && m.len() < 4096,
                "seed {seed}: an unclear message {m:?}"
            );
        }
    }
    let _ = expects_continue(buf);
    out
}

fn clone(r: &Request) -> Request {
    Request {
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
        keep_alive: r.keep_alive,
    }
}

/// All the requests in `stream`, parsed at once, then after the error or the
/// incomplete end: what a connection that got every byte at once would serve.
fn at_once(seed: u64, stream: &[u8]) -> (Vec<Request>, Option<Error>) {
    let mut at = 0;
    let mut reqs = Vec::new();
    loop {
        match check(seed, &stream[at..]) {
            Ok(Some((r, used))) => {
                reqs.push(r);
                at += used;
            }
            Ok(None) => return (reqs, None),
            Err(e) => return (reqs, Some(e)),
        }
    }
}

/// The same stream arriving in random pieces, parsed after each one as a
/// connection does; a refused request ends the connection.
fn in_pieces(seed: u64, rng: &mut Rng, stream: &[u8]) -> (Vec<Request>, Option<Error>) {
    let mut buf = Vec::new();
    let mut reqs = Vec::new();
    let mut sent = 0;
    while sent < stream.len() {
        let most = if rng.chance(3) { 3 } else { 700 };
        let n = 1 + rng.below((stream.len() - sent).min(most));
        buf.extend_from_slice(&stream[sent..sent + n]);
        sent += n;
        loop {
            match check(seed, &buf) {
                Ok(Some((r, used))) => {
                    reqs.push(r);
                    buf.drain(..used);
                }
                Ok(None) => break,
                Err(e) => return (reqs, Some(e)),
            }
        }
    }
    (reqs, None)
}

#[test]
fn the_parser_survives_random_bytes_mutated_requests_and_split_streams() {
    let corpus = corpus();
    let first = env_number("JSRT_FUZZ_SEED", 0x15EED);
    let cases = env_number("JSRT_FUZZ_CASES", 6000);
    let (mut served, mut refused) = (0usize, 0usize);
    for seed in first..first + cases {
        let mut rng = Rng(seed);
        let stream = match rng.below(10) {
            // random bytes, mostly printable so that some get past the request line
            0 => (0..rng.below(400))
                .map(|_| {
                    if rng.chance(4) {
                        rng.next() as u8
                    } else {
                        b" \r\n:abcdefGET/HTTP1.0123456789"[rng.below(30)]
                    }
                })
                .collect(),
            // a corpus request as it is, or a mutation of one
            n => {
                let mut s = corpus[rng.below(corpus.len())].clone();
                if n > 1 {
                    mutate(&mut rng, &mut s, &corpus);
                }
                s
            }
        };
        let whole = at_once(seed, &stream);
        let pieces = in_pieces(seed, &mut rng, &stream);
        // The same requests whatever the split; a refusal at the same point
        // (its reason may differ: a partial request can be refused early).
        assert_eq!(
            whole.0, pieces.0,
            "seed {seed}: split reading gives other requests"
        );
        assert_eq!(
            whole.1.is_some(),
            pieces.1.is_some(),
            "seed {seed}: refused one way and not the other: {:?} / {:?}",
            whole.1,
            pieces.1
        );
        served += whole.0.len();
        refused += usize::from(whole.1.is_some());
        let _ = form_fields(&stream);
    }
    // The generator reaches both sides of the parser.
    assert!(
        served > 500 && refused > 500,
        "served {served}, refused {refused}"
    );
}
