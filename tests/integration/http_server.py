#!/usr/bin/env python3
"""A small HTTP server for the ctx.http tests: python3 http_server.py HOST PORT LOGDIR.

Every accepted connection is appended to LOGDIR/connections.log, so a test
can assert that a refused request never connected.
  GET  /json            {"hello": "world"}
  POST /upload          saves the body to LOGDIR/upload.bin; 201 {"bytes": n}
  GET  /redirect?to=U   302 to U
  GET  /loop            302 to /loop
  GET  /slow            answers after 5 s, then adds its path to LOGDIR/slow.log
  GET  /big?n=N         N bytes
  GET  /status/404      404
  ANY  /echo            200 {"method", "path", "headers", "body"}: the request as received
  GET  /form            an application/x-www-form-urlencoded body
  GET  /redirect?to=U&status=S   S (default 302) to U
"""
import http.server
import json
import os
import socket
import sys
import time
from urllib.parse import parse_qs, urlparse

host, port, logdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def log(name, line):
    with open(os.path.join(logdir, name), "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        log("connections.log", f"{host} {self.client_address}")

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_any(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        url = urlparse(self.path)
        q = parse_qs(url.query)
        if url.path == "/upload":
            with open(os.path.join(logdir, "upload.bin"), "wb") as f:
                f.write(body)
            log("upload.headers", json.dumps(dict(self.headers)))
            self.reply(201, json.dumps({"bytes": len(body)}).encode(), [("Content-Type", "application/json")])
        elif url.path == "/redirect":
            self.reply(int(q.get("status", ["302"])[0]), headers=[("Location", q["to"][0])])
        elif url.path == "/echo":
            out = {"method": self.command, "path": self.path, "body": body.decode("utf-8", "replace"),
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
            self.reply(200, json.dumps(out).encode(), [("Content-Type", "application/json")])
        elif url.path == "/form":
            self.reply(200, b"a=1&b=x+y&c=%C3%A9&a=2", [("Content-Type", "application/x-www-form-urlencoded")])
        elif url.path == "/loop":
            self.reply(302, headers=[("Location", "/loop")])
        elif url.path == "/slow":
            time.sleep(5)
            log("slow.log", self.path)
            self.reply(200, b"late")
        elif url.path == "/big":
            self.reply(200, b"x" * int(q["n"][0]))
        elif url.path.startswith("/status/"):
            self.reply(int(url.path.rsplit("/", 1)[1]), b"status")
        else:
            out = {"hello": "world", "method": self.command, "path": self.path, "ua": self.headers.get("user-agent")}
            self.reply(200, json.dumps(out).encode(), [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_any

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (size caps, timeouts) are part of the tests


Server((host, port), Handler).serve_forever()
