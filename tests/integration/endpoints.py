#!/usr/bin/env python3
"""Endpoint scripts over real HTTP: python3 endpoints.py HTTP_PORT KEY VIEWER_KEY.

Prints "ok   name" or "FAIL name" per check, and "endpoints: N passed, M failed".
"""
import http.client
import json
import socket
import sys
import threading
import time

PORT, KEY, VIEWER = int(sys.argv[1]), sys.argv[2], sys.argv[3]
from checks import check, finish


def call(method, path, body=None, headers=None, key=KEY, conn=None):
    h = dict(headers or {})
    if key:
        h["X-API-Key"] = key
    c = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def raw(data, read_timeout=10):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=read_timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out


# statuses and bodies
s, h, b = call("GET", "/orders/42?x=1")
check("200 with params and query", s == 200 and json.loads(b) == {"id": "42", "q": {"x": "1"}, "method": "GET"}, b)
s, h, b = call("POST", "/orders", body='{"qty": 2}', headers={"Content-Type": "application/json"})
check("201 with Location, JSON body read", s == 201 and h.get("location") == "/orders/9" and json.loads(b) == {"got": {"qty": 2}}, (s, h, b))
s, h, b = call("POST", "/orders", body="qty=2&note=a+b", headers={"Content-Type": "application/x-www-form-urlencoded"})
check("form body read", s == 201 and json.loads(b) == {"got": {"qty": "2", "note": "a b"}}, b)
s, h, b = call("POST", "/orders", body="plain words", headers={"Content-Type": "text/plain"})
check("text body read", s == 201 and json.loads(b) == {"got": "plain words"}, b)
s, h, b = call("POST", "/orders", body='{"qty": ', headers={"Content-Type": "application/json"})
check("400 for malformed JSON, with where", s == 400 and b"line 1, column 8" in b, b)
s, h, b = call("GET", "/nothing")
check("404 for no route", s == 404, s)
s, h, b = call("DELETE", "/orders/1")
check("405 with Allow", s == 405 and h.get("allow") == "GET, HEAD, OPTIONS, PUT", (s, h))
s, h, b = call("HEAD", "/orders/42")
check("HEAD: headers, no body", s == 200 and b == b"" and int(h.get("content-length", 0)) > 0, (s, h, b))
s, h, b = call("OPTIONS", "/orders/42")
check("OPTIONS: 204 with Allow", s == 204 and "PUT" in h.get("allow", ""), (s, h))
s, h, b = call("GET", "/orders/42", key=None)
check("401 without a key", s == 401, s)
s, h, b = call("GET", "/orders/42", key=VIEWER)
check("403 for a viewer's key", s == 403, s)
s, h, b = call("GET", "/t/http_it/ping", key=None)
check("public endpoint by tenant prefix", s == 200 and json.loads(b) == "pong", b)
s, h, b = call("GET", "/empty")
check("204 for undefined", s == 204 and b == b"", (s, b))
s, h, b = call("GET", "/fails")
body = json.loads(b)
check("500: generic body with the execution id, no stack", s == 500 and body.get("error") == "the script failed"
      and len(body.get("execution_id", "")) == 36 and b"internals" not in b, b)
s, h, b = call("GET", "/slow")
check("504 when the script runs out of time", s == 504, s)
s, h, b = call("GET", "/limited")
check("429 on the rate limit", s == 429 and h.get("retry-after") == "60", (s, h))

# webhooks: a Stripe-style signature over the body exactly as sent
import hashlib  # noqa: E402
import hmac  # noqa: E402


def stripe(body, secret=b"whsec_it_secret", t="1700000000"):
    mac = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


event = ('{\n  "type": "charge.succeeded",\n  "data": {\n    "amount": 1.50,\n    "fee": 1e3,\n'
         '    "note": "caf\u00e9"\n  },\n  "id": "evt_1"\n}').encode()
sig = stripe(event)
s, h, b = call("POST", "/hooks/stripe", body=event, headers={"Content-Type": "application/json", "Stripe-Signature": sig})
got = json.loads(b) if s == 200 else {}
check("webhook: HMAC over the exact bytes verifies (pretty JSON, odd key order, 1.50, 1e3)",
      s == 200 and got.get("verified") is True and got.get("amount") == 1.5
      and got.get("keys") == ["type", "data", "id"] and got.get("text") == event.decode(), (s, b))
tampered = event.replace(b"1.50", b"1.51")
s, h, b = call("POST", "/hooks/stripe", body=tampered, headers={"Content-Type": "application/json", "Stripe-Signature": sig})
check("webhook: one byte changed is refused by the script (401)", s == 401 and json.loads(b) == {"error": "bad signature"}, (s, b))
s, h, b = call("POST", "/hooks/stripe", body=event, headers={"Content-Type": "application/json", "Stripe-Signature": stripe(event, b"other")})
check("webhook: another secret's signature is refused (401)", s == 401, (s, b))

# responses: repeated headers, bytes, and no response splitting
out = raw(b"GET /respond/cookies HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-API-Key: " + KEY.encode() + b"\r\n\r\n")
head = out.split(b"\r\n\r\n", 1)[0].lower()
check("two Set-Cookie lines from a header array",
      head.startswith(b"http/1.1 200") and b"\r\nset-cookie: a=1; path=/\r\n" in head and b"\r\nset-cookie: b=2; httponly" in head, head)
out = raw(b"GET /respond/pairs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-API-Key: " + KEY.encode() + b"\r\n\r\n")
head = out.split(b"\r\n\r\n", 1)[0].lower()
check("headers as [name, value] pairs", head.count(b"\r\nset-cookie: ") == 2 and b"\r\nx-kind: pairs" in head, head)
s, h, b = call("GET", "/respond/bytes")
check("a Uint8Array body goes as-is, application/octet-stream",
      s == 200 and b == bytes([0, 1, 2, 253, 254, 255, 13, 10]) and h.get("content-type") == "application/octet-stream", (s, h, b))
s, h, b = call("GET", "/respond/png")
check("an ArrayBuffer body with its own Content-Type", s == 200 and b == b"\x89PNG" and h.get("content-type") == "image/png", (s, h, b))
out = raw(b"GET /respond/split HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-API-Key: " + KEY.encode() + b"\r\n\r\n")
check("a header value with CR LF is a 500, nothing injected",
      out.startswith(b"HTTP/1.1 500") and b"admin=1" not in out.split(b"\r\n\r\n", 1)[0] and b"not valid" in out, out[:300])
s, h, b = call("GET", "/respond/badname")
check("a header name that is not a token is a 500", s == 500 and b"not a header name" in b, (s, b))

# a request rate limit per endpoint: the 4th request of a minute is a 429 and the script does not run
now = time.time()
if now % 60 > 55:
    time.sleep(61 - now % 60)
rated = [call("GET", "/rated") for _ in range(4)]
last = rated[-1]
check("rate limit: 3 requests run, the 4th is 429 with Retry-After",
      [r[0] for r in rated] == [200, 200, 200, 429] and 1 <= int(last[1].get("retry-after", "0")) <= 60
      and b"http_rate_limit_per_minute" in last[2], [(r[0], r[1].get("retry-after"), r[2]) for r in rated])

# caps
s, h, b = call("POST", "/orders", body="x" * 2000, headers={"Content-Type": "text/plain"})
check("413 for a body over jsrt.http_max_body_bytes", s == 413, s)
out = raw(b"GET /orders/1 HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
check("431 for oversized headers", out.startswith(b"HTTP/1.1 431"), out[:40])
out = raw(b"GARBAGE\r\n\r\n")
check("400 for a malformed request", out.startswith(b"HTTP/1.1 400"), out[:40])

# keep-alive: two requests on one connection
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
s1, _, _ = call("GET", "/orders/1", conn=c)
s2, _, _ = call("GET", "/orders/2", conn=c)
c.close()
check("keep-alive: two requests on one connection", (s1, s2) == (200, 200), (s1, s2))

# a slow client does not hold up others
slow = socket.create_connection(("127.0.0.1", PORT), timeout=30)
slow.sendall(b"GET /orders/7 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY.encode())
t0 = time.time()
s, _, _ = call("GET", "/orders/8")
fast_done = s == 200
slow.sendall(b"\r\n\r\n")
answer = slow.recv(65536)
slow.close()
check("a slow client does not block another, and is served when it finishes", fast_done and answer.startswith(b"HTTP/1.1 200"), answer[:40])

# 200 concurrent connections, all open at once before any sends
N = 200
results = [None] * N
barrier = threading.Barrier(N)


def one(i):
    try:
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        c.connect()
        barrier.wait(timeout=60)
        results[i] = call("GET", f"/orders/{i}", conn=c)[0]
        c.close()
    except Exception as e:  # noqa: BLE001 - reported as a failure below
        results[i] = repr(e)


threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(f"{N} concurrent connections all answered 200", all(r == 200 for r in results),
      [r for r in results if r != 200][:5])

# overload: while one run holds the script's only concurrency slot, the other worker answers 503
def busy():
    call("GET", "/busy")


holder = threading.Thread(target=busy)
holder.start()
time.sleep(0.3)
seen = []
for _ in range(10):
    seen.append(call("GET", "/busy")[0])
    if 503 in seen:
        break
holder.join()
check("503 when the endpoint is at max_concurrent_runs", 503 in seen, seen)

# operations endpoints, answered by the front worker itself
s, h, b = call("GET", "/healthz", key=None)
health = json.loads(b) if s == 200 else {}
check("/healthz says ok with the runners' states",
      health.get("status") == "ok" and sum(health.get("runners", {}).values()) == 2, (s, b))
s, h, b = call("GET", "/metrics", key=None)
text = b.decode()
samples = {}
for line in text.splitlines():
    if line and not line.startswith("#"):
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
check("/metrics in Prometheus text: run counters, duration histograms, queue, runners",
      s == 200 and h.get("content-type", "").startswith("text/plain")
      and samples.get('jsrt_runs_total{trigger="http",status="completed"}', 0) > 0
      and samples.get('jsrt_runs_total{trigger="http",status="timeout"}', 0) >= 1
      and samples.get('jsrt_run_duration_seconds_bucket{trigger="http",le="+Inf"}')
          == samples.get('jsrt_run_duration_seconds_count{trigger="http"}')
      and "jsrt_http_queue_depth" in samples
      and samples.get('jsrt_http_runners{state="idle"}', 0) + samples.get('jsrt_http_runners{state="busy"}', 0) == 2
      and samples.get('jsrt_http_responses_total{code="200"}', 0) > 0, text[:300])

finish("endpoints")
