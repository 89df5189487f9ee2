#!/usr/bin/env python3
"""The HTTP front worker and its runners over real sockets:
python3 front.py HTTP_PORT.   Needs tenants front_a (a slow /slow endpoint)
and front_b (a fast /fast endpoint), made by front.sh.

Prints "ok   name" or "FAIL name" per check, and "front: N passed, M failed".
Nothing here fails on time: order and status codes are what is checked.
"""
import http.client
import json
import resource
import socket
import sys
import threading
import time

PORT = int(sys.argv[1])
from checks import check, finish


def get(path, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read(), time.monotonic()
    except OSError as e:
        return 0, {}, str(e).encode(), time.monotonic()
    finally:
        c.close()


def in_parallel(paths):
    out = [None] * len(paths)

    def one(i, p):
        out[i] = get(p)
    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(paths)]
    for t in threads:
        t.start()
    return threads, out


# 1. Head-of-line: four requests to a slow script hold the two standing
#    runners (a tenant's share); another tenant's requests start an extra
#    runner, and they and /healthz are answered while all four are in flight.
def hol():
    threads, slow = in_parallel(["/t/front_a/slow"] * 4)
    time.sleep(0.3)
    quick = [get("/healthz") for _ in range(20)] + [get("/t/front_b/fast") for _ in range(20)]
    health = json.loads(get("/healthz")[2])
    for t in threads:
        t.join()
    first_slow_done = min(s[3] for s in slow)
    check("4 slow requests in flight: /healthz and another tenant's endpoint are answered meanwhile",
          all(q[0] == 200 for q in quick) and max(q[3] for q in quick) < first_slow_done,
          [(q[0], q[2][:80]) for q in quick if q[0] != 200][:3])
    check("an extra runner took the other tenant's requests",
          health["runners"]["busy"] == 2 and sum(health["runners"].values()) == 3, health)
    check("the slow requests all complete", [s[0] for s in slow] == [200] * 4, [s[:3] for s in slow])


# 2. The slow tenant's wait queue is bounded (jsrt.http_queue_max_per_tenant = 2,
#    set by front.sh before this step): two run, two wait, the rest get 503 with Retry-After.
def bound():
    threads, burst = in_parallel(["/t/front_a/slow"] * 6)
    for t in threads:
        t.join()
    codes = sorted(b[0] for b in burst)
    refused = [b for b in burst if b[0] == 503]
    check("a tenant's queue is bounded: 503 with Retry-After past it, the rest served",
          codes == [200, 200, 200, 200, 503, 503] and all(b[1].get("retry-after") == "1" for b in refused)
          and all(b"jsrt.http_queue_max_per_tenant" in b[2] for b in refused), [(b[0], b[2][:100]) for b in burst])


# 3. A runner that dies mid-request: the request gets a 502, not a hang; the runner is replaced.
def fatal():
    s, h, body, _ = get("/t/front_a/fatal")
    check("a runner that dies mid-request: its request gets 502", s == 502 and b"stopped" in body, (s, body[:200]))
    ok = False
    for _ in range(50):
        if get("/t/front_b/fast")[0] == 200 and get("/t/front_b/fast")[0] == 200:
            ok = True
            break
        time.sleep(0.2)
    check("the dead runner is replaced and requests are served again", ok)


# 4. 1,000 concurrent keep-alive connections, two requests each, all served.
def conns():
    N = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, N + 200)), hard))
    conns = []
    for _ in range(N):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=60)
        conns.append(s)
    request = b"GET /t/front_b/fast HTTP/1.1\r\nHost: x\r\n\r\n"


    def read_response(s):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
        while len(rest) < length:
            rest += s.recv(65536)
        return head.split(b" ")[1]


    served = 0
    for _round in range(2):
        for s in conns:
            s.sendall(request)
        served += sum(read_response(s) == b"200" for s in conns)
    for s in conns:
        s.close()
    check(f"{N} concurrent keep-alive connections, 2 requests each, all served", served == 2 * N, served)


# 5. With jsrt.http_idle_timeout_ms = 1000 (set by front.sh): a request half
#    sent then silent gets 408; so does one whose head trickles in a byte at
#    a time, never silent for a second (slowloris).
def slow():
    def trickle(first, then, pause):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        s.sendall(first)
        got = b""
        for _ in range(40):
            if then:
                try:
                    s.sendall(then)
                except OSError:
                    break
            s.settimeout(pause)
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            except socket.timeout:
                continue
        s.close()
        return got
    half = trickle(b"GET /t/front_b/fast HTTP/1.1\r\nHost: x\r\n", b"", 0.5)
    check("a request half sent, then silent, gets 408", half.startswith(b"HTTP/1.1 408"), half[:60])
    loris = trickle(b"GET /t/front_b/fast HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a", 0.3)
    check("a head trickling in byte by byte gets 408 (slowloris)", loris.startswith(b"HTTP/1.1 408"), loris[:60])


STEPS = {"hol": hol, "bound": bound, "fatal": fatal, "conns": conns, "slow": slow}
for step in sys.argv[2:]:
    STEPS[step]()
finish("front")
