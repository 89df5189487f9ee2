#!/usr/bin/env python3
"""Writes tests/http/corpus/: one raw HTTP/1.x request (or a few pipelined)
per file, named for what it probes. The files are the corpus; this script is
how they were made (run it again after adding a case here).

Requests go to /t/conformance/echo (a public endpoint that tests/integration/
http_conformance.sh creates, answering with the body's length) or /healthz.
"""
import os
import shutil

E = "/t/conformance/echo"
CASES = {}


def case(name, data):
    assert name not in CASES, name
    CASES[name] = data if isinstance(data, bytes) else data.encode("latin-1")


def req(method="GET", target=E, version="HTTP/1.1", headers=("Host: 127.0.0.1",), body=b"", eol="\r\n"):
    head = f"{method} {target} {version}{eol}" + "".join(h + eol for h in headers) + eol
    return head.encode("latin-1") + (body if isinstance(body, bytes) else body.encode("latin-1"))


H = "Host: 127.0.0.1"
TE = "Transfer-Encoding: chunked"

# valid requests
case("get-origin-form", req())
case("get-with-query", req(target=E + "?a=1&b=%20x"))
case("get-healthz", req(target="/healthz"))
case("head-healthz", req("HEAD", "/healthz"))
case("head-echo", req("HEAD"))
case("options-path", req("OPTIONS"))
case("options-asterisk", req("OPTIONS", "*"))
case("post-content-length", req("POST", headers=(H, "Content-Length: 5"), body="hello"))
case("post-content-length-zero", req("POST", headers=(H, "Content-Length: 0")))
case("post-no-length", req("POST"))
case("put-body", req("PUT", headers=(H, "Content-Length: 3"), body="abc"))
case("delete", req("DELETE"))
case("patch-body", req("PATCH", headers=(H, "Content-Length: 2"), body="{}"))
case("method-unknown-token", req("PURGE"))
case("method-with-symbols", req("M-SEARCH!"))
case("method-lowercase", req("get"))
case("http10-no-host", req(version="HTTP/1.0", headers=()))
case("http10-with-host", req(version="HTTP/1.0"))
case("http10-keepalive-pipelined", req(version="HTTP/1.0", headers=(H, "Connection: keep-alive")) + req(version="HTTP/1.0", headers=(H, "Connection: keep-alive")))
case("http11-connection-close-then-more", req(headers=(H, "Connection: close")) + req())
case("host-empty", req(headers=("Host:",)))
case("host-with-port", req(headers=("Host: 127.0.0.1:8080",)))
case("host-ipv6", req(headers=("Host: [::1]:80",)))
case("header-name-case", req(headers=("hOsT: 127.0.0.1", "X-MiXeD: v")))
case("header-value-empty", req(headers=(H, "X-Empty:")))
case("header-value-ows", req(headers=(H, "X-Ows: \t value \t")))
case("header-value-inner-tab", req(headers=(H, "X-Tab: a\tb")))
case("header-name-all-tchars", req(headers=(H, "!#$%&'*+-.^_`|~09azAZ: v")))
case("header-many-50", req(headers=(H,) + tuple(f"X-H{i}: v" for i in range(50))))
case("header-long-value-8k", req(headers=(H, "X-Long: " + "a" * 8000)))
case("header-repeated-list", req(headers=(H, "Accept: a", "Accept: b")))
case("obs-text-latin1-value", req(headers=(H, "X-Name: caf\xe9")))
case("obs-text-utf8-bytes-value", req(headers=(H,)) [:-2] + b"X-Utf8: \xc3\xa9\r\n\r\n")
case("leading-crlf-before-request", b"\r\n" + req())
case("expect-100-continue", req("POST", headers=(H, "Expect: 100-continue", "Content-Length: 5"), body="hello"))
case("user-agent-and-accept", req(headers=(H, "User-Agent: curl/8.0", "Accept: */*")))

# absolute form and targets
case("absolute-form-path-query", req(target="http://127.0.0.1" + E + "?x=1"))
case("absolute-form-https", req(target="https://example.com" + E))
case("absolute-form-no-path", req(target="http://example.com"))
case("absolute-form-uppercase-scheme", req(target="HTTP://example.com" + E))
case("absolute-form-other-host-header", req(target="http://example.com" + E, headers=("Host: other.example",)))
case("absolute-form-userinfo", req(target="http://user@example.com" + E))
case("absolute-form-ftp", req(target="ftp://example.com/x"))
case("absolute-form-empty-authority", req(target="http:///x"))
case("target-relative", req(target="foo/bar"))
case("target-asterisk-get", req("GET", "*"))
case("target-authority-connect", req("CONNECT", "example.com:443"))
case("target-percent-encoded", req(target=E + "/%E2%82%AC"))
case("target-obs-text", req(target=E + "/caf\xe9"))
case("target-with-fragment", req(target=E + "#frag"))

# versions
case("version-1.2", req(version="HTTP/1.2"))
case("version-1.9-no-host", req(version="HTTP/1.9", headers=()))
case("version-2.0", req(version="HTTP/2.0"))
case("version-3.0", req(version="HTTP/3.0"))
case("version-0.9-explicit", req(version="HTTP/0.9"))
case("version-missing-0.9-style", f"GET {E}\r\n".encode())
case("version-lowercase", req(version="http/1.1"))
case("version-two-digit-minor", req(version="HTTP/1.10"))
case("version-no-minor", req(version="HTTP/1"))
case("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

# request line shape
case("line-double-space", f"GET  {E} HTTP/1.1\r\n{H}\r\n\r\n")
case("line-tab-separator", f"GET\t{E} HTTP/1.1\r\n{H}\r\n\r\n")
case("line-trailing-space", f"GET {E} HTTP/1.1 \r\n{H}\r\n\r\n")
case("line-leading-space", f" GET {E} HTTP/1.1\r\n{H}\r\n\r\n")
case("method-invalid-token", req("GE(T"))
case("garbage-line", b"GARBAGE\r\n\r\n")
case("tls-client-hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32))
case("nul-in-request-line", f"GET {E}\x00 HTTP/1.1\r\n{H}\r\n\r\n")

# line endings
case("bare-lf-everywhere", req(eol="\n"))
case("bare-lf-in-headers", f"GET {E} HTTP/1.1\r\n{H}\nX: y\r\n\r\n")
case("bare-lf-final-empty-line", f"GET {E} HTTP/1.1\r\n{H}\r\n\n")
case("bare-cr-request-line", f"GET {E} HTTP/1.1\r{H}\r\n\r\n")
case("bare-cr-in-header-value", req(headers=(H, "X: a\rb")))
case("bare-cr-between-headers", f"GET {E} HTTP/1.1\r\n{H}\rX: y\r\n\r\n")
case("bare-cr-smuggles-te", req("POST", headers=(H, "X: a\rTransfer-Encoding: chunked", "Content-Length: 5"), body="hello"))

# header field syntax
case("obs-fold-continuation", req(headers=(H, "X-Fold: a", " b")))
case("obs-fold-tab", req(headers=(H, "X-Fold: a", "\tb")))
case("obs-fold-first-line", req(headers=(" X: y", H)))
case("space-before-colon", req(headers=("Host : 127.0.0.1",)))
case("space-before-colon-te", req("POST", headers=(H, "Transfer-Encoding : chunked", "Content-Length: 5"), body="hello"))
case("tab-before-colon", req(headers=(H, "X-A\t: v")))
case("header-no-colon", req(headers=(H, "NoColonHere")))
case("header-empty-name", req(headers=(H, ": v")))
case("header-name-invalid-char", req(headers=(H, "X(Y): v")))
case("header-name-space-inside", req(headers=(H, "X Y: v")))
case("header-name-obs-text", req(headers=(H, "X-\xe9: v")))
case("header-value-nul", req(headers=(H, "X: a\x00b")))
case("header-value-ctl-01", req(headers=(H, "X: a\x01b")))
case("header-value-del", req(headers=(H, "X: a\x7fb")))
case("header-value-vt", req(headers=(H, "X: a\x0bb")))

# Host
case("host-missing-http11", req(headers=()))
case("host-missing-http11-other-headers", req(headers=("X: y",)))
case("host-twice-same", req(headers=(H, H)))
case("host-twice-different", req(headers=(H, "Host: other")))
case("host-invalid-slash", req(headers=("Host: a/b",)))
case("host-invalid-space", req(headers=("Host: a b",)))
case("host-http10-twice", req(version="HTTP/1.0", headers=(H, H)))

# Content-Length
case("cl-leading-zeros", req("POST", headers=(H, "Content-Length: 005"), body="hello"))
case("cl-ows-around", req("POST", headers=(H, "Content-Length:   5   "), body="hello"))
case("cl-plus-sign", req("POST", headers=(H, "Content-Length: +5"), body="hello"))
case("cl-minus-sign", req("POST", headers=(H, "Content-Length: -5"), body="hello"))
case("cl-inner-space", req("POST", headers=(H, "Content-Length: 5 5"), body="hello"))
case("cl-hex", req("POST", headers=(H, "Content-Length: 0x5"), body="hello"))
case("cl-non-digit", req("POST", headers=(H, "Content-Length: 5a"), body="hello"))
case("cl-list-same", req("POST", headers=(H, "Content-Length: 5, 5"), body="hello"))
case("cl-list-different", req("POST", headers=(H, "Content-Length: 5, 6"), body="hello"))
case("cl-twice-same", req("POST", headers=(H, "Content-Length: 5", "Content-Length: 5"), body="hello"))
case("cl-twice-different", req("POST", headers=(H, "Content-Length: 5", "Content-Length: 6"), body="hello!"))
case("cl-empty", req("POST", headers=(H, "Content-Length:"), body="hello"))
case("cl-huge", req("POST", headers=(H, "Content-Length: 99999999999999999999999"), body="hello"))
case("cl-shorter-than-body-pipelines", req("POST", headers=(H, "Content-Length: 3"), body="abc") + req())
case("cl-body-incomplete", req("POST", headers=(H, "Content-Length: 10"), body="hello"))
case("cl-on-get", req("GET", headers=(H, "Content-Length: 4"), body="abcd"))

# Transfer-Encoding and chunked bodies
CH = "5\r\nhello\r\n0\r\n\r\n"
case("chunked-simple", req("POST", headers=(H, TE), body=CH))
case("chunked-two-chunks", req("POST", headers=(H, TE), body="5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"))
case("chunked-uppercase-coding", req("POST", headers=(H, "Transfer-Encoding: CHUNKED"), body=CH))
case("chunked-hex-upper-and-zeros", req("POST", headers=(H, TE), body="0A\r\n0123456789\r\n000\r\n\r\n"))
case("chunked-extension", req("POST", headers=(H, TE), body="5;name=value\r\nhello\r\n0;last\r\n\r\n"))
case("chunked-extension-quoted", req("POST", headers=(H, TE), body='5;n="a b;c"\r\nhello\r\n0\r\n\r\n'))
case("chunked-extension-bws", req("POST", headers=(H, TE), body="5 ;n=v\r\nhello\r\n0\r\n\r\n"))
case("chunked-trailers", req("POST", headers=(H, TE), body="5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n"))
case("chunked-empty-body", req("POST", headers=(H, TE), body="0\r\n\r\n"))
case("chunked-then-pipelined-get", req("POST", headers=(H, TE), body=CH) + req())
case("chunked-size-plus", req("POST", headers=(H, TE), body="+5\r\nhello\r\n0\r\n\r\n"))
case("chunked-size-leading-space", req("POST", headers=(H, TE), body=" 5\r\nhello\r\n0\r\n\r\n"))
case("chunked-size-trailing-space", req("POST", headers=(H, TE), body="5 \r\nhello\r\n0\r\n\r\n"))
case("chunked-size-0x", req("POST", headers=(H, TE), body="0x5\r\nhello\r\n0\r\n\r\n"))
case("chunked-size-not-hex", req("POST", headers=(H, TE), body="zz\r\nhello\r\n0\r\n\r\n"))
case("chunked-size-empty", req("POST", headers=(H, TE), body="\r\nhello\r\n0\r\n\r\n"))
case("chunked-size-overflow", req("POST", headers=(H, TE), body="fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"))
case("chunked-data-too-long", req("POST", headers=(H, TE), body="3\r\nhello\r\n0\r\n\r\n"))
case("chunked-data-no-crlf", req("POST", headers=(H, TE), body="5\r\nhelloXX0\r\n\r\n"))
case("chunked-bare-lf-size-line", req("POST", headers=(H, TE), body="5\nhello\r\n0\r\n\r\n"))
case("chunked-trailer-bare-cr", req("POST", headers=(H, TE), body="5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n"))
case("chunked-trailer-obs-fold", req("POST", headers=(H, TE), body="5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n"))
case("chunked-trailer-space-before-colon", req("POST", headers=(H, TE), body="5\r\nhello\r\n0\r\nX : a\r\n\r\n"))
case("chunked-trailers-20k", req("POST", headers=(H, TE), body="5\r\nhello\r\n0\r\n" + "".join(f"X-T{i}: {'a' * 190}\r\n" for i in range(100)) + "\r\n"))
case("chunked-trailers-101-fields", req("POST", headers=(H, TE), body="5\r\nhello\r\n0\r\n" + "".join(f"T{i}: v\r\n" for i in range(101)) + "\r\n"))
case("chunked-body-incomplete", req("POST", headers=(H, TE), body="5\r\nhello\r\n"))
case("te-chunked-gzip", req("POST", headers=(H, "Transfer-Encoding: chunked, gzip"), body=CH))
case("te-gzip-chunked", req("POST", headers=(H, "Transfer-Encoding: gzip, chunked"), body=CH))
case("te-gzip-only", req("POST", headers=(H, "Transfer-Encoding: gzip"), body="hello"))
case("te-identity", req("POST", headers=(H, "Transfer-Encoding: identity"), body="hello"))
case("te-chunked-twice-one-line", req("POST", headers=(H, "Transfer-Encoding: chunked, chunked"), body=CH))
case("te-two-lines-chunked", req("POST", headers=(H, TE, TE), body=CH))
case("te-two-lines-gzip-chunked", req("POST", headers=(H, "Transfer-Encoding: gzip", TE), body=CH))
case("te-with-params", req("POST", headers=(H, "Transfer-Encoding: chunked;q=1"), body=CH))
case("te-empty-elements", req("POST", headers=(H, "Transfer-Encoding: , chunked"), body=CH))
case("te-and-cl", req("POST", headers=(H, "Content-Length: 5", TE), body=CH))
case("te-and-cl-smuggle-get", req("POST", headers=(H, "Content-Length: 4", TE), body="0\r\n\r\n" + req().decode()))
case("te-http10", req("POST", version="HTTP/1.0", headers=(H, TE), body=CH))
case("te-vertical-tab-value", req("POST", headers=(H, "Transfer-Encoding: \x0bchunked"), body=CH))
case("te-xchunked", req("POST", headers=(H, "Transfer-Encoding: xchunked"), body=CH))

# pipelining
case("pipelined-two-gets", req() + req(target=E + "?n=2"))
case("pipelined-three-mixed", req() + req("POST", headers=(H, "Content-Length: 2"), body="ok") + req("POST", headers=(H, TE), body=CH))
case("pipelined-valid-then-invalid", req() + req(headers=()))
case("pipelined-crlf-between", req("POST", headers=(H, "Content-Length: 2"), body="ok") + b"\r\n" + req())

# sizes
case("headers-20k-one-field", req(headers=(H, "X-Big: " + "a" * 20000)))
case("headers-101-small-fields", req(headers=(H,) + tuple(f"X-H{i}: v" for i in range(100))))
case("request-line-20k", req(target=E + "?" + "a" * 20000))

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for name, data in CASES.items():
        with open(os.path.join(out, name + ".http"), "wb") as f:
            f.write(data)
    print(f"{len(CASES)} requests in {out}")
