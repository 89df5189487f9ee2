#!/usr/bin/env python3
"""Request framing, the server against h11: python3 http_conformance.py HTTP_PORT [CORPUS_DIR]

Each file of tests/http/corpus/ is sent as it is to the server over TCP on
127.0.0.1, and fed to h11 as a server (h11.Connection(h11.SERVER)). Both are
read as a list of outcomes, one per request: "ok(N)" (a request with N body
bytes; "ok" where the server's answer does not tell N) or "reject"; a request
still incomplete when the bytes end adds nothing. Where they differ, the file
must be in DISAGREEMENTS with both outcomes as seen, the RFC section that
decides it and which side is right; an unlisted disagreement fails, and so
does a listed one that no longer happens.

Requests to /t/conformance/echo reach an endpoint that answers with the body's
length (tests/integration/http_conformance.sh makes it). Prints "ok   file" or
"FAIL file" per file, then "integration: N passed, M failed".
"""
import concurrent.futures
import json
import os
import re
import socket
import sys
import time

import h11

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0
CORPUS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http", "corpus")
# what the request parser answers with; routing and scripts give other statuses here
PARSER_STATUSES = {400, 413, 414, 431, 501, 505}

# file -> (server, h11, RFC section, who is right and why)
DISAGREEMENTS = {
    # RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    "leading-crlf-before-request": (["ok(0)"], ["reject"], "RFC 9112 §2.2",
                                    "server: empty lines before a request line SHOULD be ignored; h11 refuses them"),
    "pipelined-crlf-between": (["ok(2)", "ok(0)"], ["ok(2)", "reject"], "RFC 9112 §2.2",
                               "server: the CRLF some clients send after a body SHOULD be ignored"),
    # RFC 9112 §2.2: a recipient MAY take a bare LF as a line end; we do not, since a proxy may not.
    "bare-lf-everywhere": (["reject"], ["ok(0)"], "RFC 9112 §2.2",
                           "both conform (MAY); the server refuses so a proxy's and our line ends cannot differ"),
    "bare-lf-in-headers": (["reject"], ["ok(0)"], "RFC 9112 §2.2", "both conform (MAY); the server is stricter"),
    "bare-lf-final-empty-line": (["reject"], ["ok(0)"], "RFC 9112 §2.2", "both conform (MAY); the server is stricter"),
    # RFC 9112 §5.2: a server MUST either reject obs-fold with 400 or replace it with SP.
    "obs-fold-continuation": (["reject"], ["ok(0)"], "RFC 9112 §5.2", "both conform; the server takes the 400 option"),
    "obs-fold-tab": (["reject"], ["ok(0)"], "RFC 9112 §5.2", "both conform; the server takes the 400 option"),
    "chunked-trailer-obs-fold": (["reject"], ["ok(5)"], "RFC 9112 §5.2", "both conform; the server takes the 400 option"),
    # RFC 9110 §5.5: other CTLs in a field value are invalid; a recipient MAY keep them.
    "header-value-ctl-01": (["reject"], ["ok(0)"], "RFC 9110 §5.5", "both conform; the value is invalid, h11 keeps it"),
    "header-value-del": (["reject"], ["ok(0)"], "RFC 9110 §5.5", "both conform; the value is invalid, h11 keeps it"),
    # RFC 9112 §3.2: 400 for a missing or repeated Host, or an invalid one; §3.2.2: absolute-form authority.
    "host-invalid-slash": (["reject"], ["ok(0)"], "RFC 9112 §3.2", "server: a Host with an invalid value MUST get 400"),
    "host-invalid-space": (["reject"], ["ok(0)"], "RFC 9112 §3.2", "server: a Host with an invalid value MUST get 400"),
    "version-1.9-no-host": (["reject"], ["ok(0)"], "RFC 9110 §2.5, RFC 9112 §3.2",
                            "server: HTTP/1.9 is served as 1.1, whose requests MUST carry Host; h11 applies the rule to 1.1 only"),
    "absolute-form-userinfo": (["reject"], ["ok(0)"], "RFC 9110 §4.2.4", "server: userinfo in an http URI is an error"),
    "absolute-form-ftp": (["reject"], ["ok(0)"], "RFC 9112 §3.2.2", "server: only http(s) URIs name this server"),
    "absolute-form-empty-authority": (["reject"], ["ok(0)"], "RFC 9110 §4.2.1", "server: an http URI with an empty host is invalid"),
    # RFC 9112 §3.2: the request-target has four forms; RFC 9112 §3: an invalid request-line SHOULD get 400.
    "target-relative": (["reject"], ["ok(0)"], "RFC 9112 §3.2", "server: \"foo/bar\" is none of the four forms"),
    "target-asterisk-get": (["reject"], ["ok(0)"], "RFC 9112 §3.2.4", "server: asterisk-form is only for OPTIONS"),
    "target-authority-connect": (["reject"], ["ok(0)"], "RFC 9112 §3.2.3",
                                 "both conform: authority-form is for CONNECT through a proxy, which this origin server is not"),
    # RFC 9110 §15.6.6: 505 for a major version the server does not support.
    "version-2.0": (["reject"], ["ok(0)"], "RFC 9110 §2.5, §15.6.6", "server: HTTP/2.0 in an HTTP/1 request line gets 505"),
    "version-3.0": (["reject"], ["ok(0)"], "RFC 9110 §2.5, §15.6.6", "server: major version 3 is not served"),
    "version-0.9-explicit": (["reject"], ["ok(0)"], "RFC 9110 §2.5, §15.6.6", "server: major version 0 is not served"),
    "h2-preface": (["reject"], ["ok(0)", "reject"], "RFC 9113 §3.4, RFC 9110 §15.6.6",
                   "server: the HTTP/2 preface is not an HTTP/1 request"),
    # RFC 9112 §3: a request line needs its HTTP-version; HTTP/0.9's simple request is not HTTP/1.
    "version-missing-0.9-style": (["reject"], [], "RFC 9112 §3, Appendix C.1",
                                  "server: it refuses the line at once; h11 keeps waiting for a header section"),
    # RFC 9110 §8.6: a recipient MAY reject or fold repeated identical Content-Length values.
    "cl-list-same": (["reject"], ["ok(5)"], "RFC 9110 §8.6", "both conform (MAY); the server refuses any list"),
    "cl-twice-same": (["reject"], ["ok(5)"], "RFC 9110 §8.6", "both conform (MAY); the server refuses any repeat"),
    # RFC 9112 §6.3 (3): TE with CL ought to be an error; a server MAY reject it.
    "te-and-cl": (["reject"], ["ok(5)"], "RFC 9112 §6.3",
                  "server: both framings in one request is the classic smuggling request; rejecting is allowed and safer"),
    "te-and-cl-smuggle-get": (["reject"], ["ok(0)", "ok(0)"], "RFC 9112 §6.3", "server, as for te-and-cl"),
    # RFC 9112 §6.1: TE in an HTTP/1.0 request MUST be treated as faulty framing.
    "te-http10": (["reject"], ["ok(5)"], "RFC 9112 §6.1", "server: h11 decodes a chunked HTTP/1.0 body"),
    # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF; no whitespace but BWS before ";".
    "chunked-size-trailing-space": (["reject"], ["ok(5)"], "RFC 9112 §7.1", "server: h11 allows trailing whitespace on purpose"),
    "chunked-extension-bws": (["ok(5)"], ["reject"], "RFC 9112 §7.1.1", "server: BWS before \";\" is in the grammar"),
    # Field section limits: RFC 9110 §5.4 (a server MUST answer 4xx to fields larger than it wishes to process).
    "headers-20k-one-field": (["reject"], ["ok(0)"], "RFC 9110 §5.4, RFC 6585 §5",
                              "both conform; h11's 16 KiB cap counts only bytes it waits on, and these came at once"),
    "request-line-20k": (["reject"], ["ok(0)"], "RFC 9112 §3, RFC 9110 §5.4",
                         "both conform; the request line counts toward the server's 16 KiB (431; 414 would also do)"),
    "headers-101-small-fields": (["reject"], ["ok(0)"], "RFC 9110 §5.4, RFC 6585 §5", "both conform; the server caps fields at 100"),
    "chunked-trailers-20k": (["reject"], ["ok(5)"], "RFC 9110 §5.4, §6.5", "both conform; the server caps trailers like headers"),
    "chunked-trailers-101-fields": (["reject"], ["ok(5)"], "RFC 9110 §5.4, §6.5", "both conform; the server caps trailer fields"),
    # RFC 9110 §5.6.1: recipients MUST accept (ignore) empty list elements.
    "te-empty-elements": (["ok(5)"], ["reject"], "RFC 9110 §5.6.1", "server: \", chunked\" is the list (chunked)"),
    # HTTP/1.0 keep-alive is optional (RFC 9112 Appendix C.2.2); h11 never keeps a 1.0 connection.
    "http10-keepalive-pipelined": (["ok(0)", "ok(0)"], ["ok(0)"], "RFC 9112 §9.3, Appendix C.2.2",
                                   "both conform: the server honours Connection: keep-alive from 1.0, h11 closes"),
}


def responses(out, methods):
    """(status, body) for each final response in `out`."""
    res, i = [], 0
    while True:
        end = out.find(b"\r\n\r\n", i)
        if end < 0:
            return res
        lines = out[i:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        i = end + 4
        if 100 <= status < 200:
            continue
        n = int(headers.get("content-length", "0"))
        if len(res) < len(methods) and methods[len(res)] == b"HEAD":
            n = 0
        res.append((status, out[i:i + n]))
        i += n


def server(data):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.sendall(data)
    out = b""
    # up to 3 s for the first answer, then until 0.5 s of silence or the close
    s.settimeout(3)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            b = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        out += b
        s.settimeout(0.5)
    s.close()
    methods = re.findall(rb"(?:^|\n)([A-Za-z]+) \S+ HTTP/", data)
    outs = []
    for status, body in responses(out, methods):
        if status in PARSER_STATUSES:
            outs.append("reject")
            break
        try:
            n = json.loads(body).get("len")
        except (ValueError, AttributeError):
            n = None
        outs.append("ok" if n is None else f"ok({n})")
    return outs


def with_h11(data):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    outs, body = [], 0
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError:
            outs.append("reject")
            return outs
        if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.ConnectionClosed):
            return outs
        if isinstance(ev, h11.Request):
            body = 0
        elif isinstance(ev, h11.Data):
            body += len(ev.data)
        elif isinstance(ev, h11.EndOfMessage):
            outs.append(f"ok({body})")
            # not 2xx: a 2xx to CONNECT would switch protocols
            conn.send(h11.Response(status_code=404, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            else:
                return outs


def same(server_outs, h11_outs):
    """Equal, but an "ok" whose length the server did not tell matches any ok(N)."""
    return len(server_outs) == len(h11_outs) and all(
        a == b or (a == "ok" and b.startswith("ok(")) for a, b in zip(server_outs, h11_outs))


def main():
    names = sorted(f[:-5] for f in os.listdir(CORPUS) if f.endswith(".http"))
    datas = {}
    for n in names:
        with open(os.path.join(CORPUS, n + ".http"), "rb") as f:
            datas[n] = f.read()
    server(b"GET /t/conformance/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # warm the endpoint
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        seen = dict(zip(names, pool.map(lambda n: (server(datas[n]), with_h11(datas[n])), names)))
    passed = failed = 0
    for n in names:
        s, h = seen[n]
        agree = same(s, h)
        listed = DISAGREEMENTS.get(n)
        if agree and not listed:
            ok, why = True, f"both {s}"
        elif agree:
            ok, why = False, f"listed as a disagreement but both now give {s}"
        elif listed and (listed[0], listed[1]) == (s, h):
            ok, why = True, f"server {s}, h11 {h}: {listed[2]}: {listed[3]}"
        elif listed:
            ok, why = False, f"listed as server {listed[0]}, h11 {listed[1]}, now server {s}, h11 {h}"
        else:
            ok, why = False, f"unlisted disagreement: server {s}, h11 {h}"
        print(f"{'ok  ' if ok else 'FAIL'} {n}: {why}")
        passed, failed = passed + ok, failed + (not ok)
    for n in sorted(set(DISAGREEMENTS) - set(names)):
        print(f"FAIL {n}: listed as a disagreement but not in the corpus")
        failed += 1
    print(f"{len(names)} requests, {sum(1 for n in names if n in DISAGREEMENTS)} listed disagreements")
    print(f"integration: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
