#!/usr/bin/env python3
"""One small backend service of the example gateway (examples/nginx/gateway.conf).

    service.py NAME PORT [--address 127.0.0.1]

Answers every request under its prefix with JSON naming the service, what it
was asked, and what the gateway told it: the request id (X-Request-ID), the
client's key id and tier (X-Sluice-Client, X-Sluice-Tier), and whether an API
key reached it (it must not: the gateway strips it). Behaviour per service:

  catalog   public data, cacheable: Cache-Control: public, max-age=2
  reports   slow on demand: ?delay_ms=N sleeps N ms before answering
  others    private data: Cache-Control: no-store
  POST      reads the body and echoes its length (201)

HTTP/1.1 with keep-alive, one thread per connection. Stops on SIGTERM.
"""
import argparse
import json
import os
import signal
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_DELAY_MS = 60_000
MAX_BODY = 1 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sluice-example-backend"
    service = "?"

    def log_message(self, fmt, *args):  # the gateway's access log is the log
        pass

    def answer(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.service == "catalog":
            self.send_header("Cache-Control", "public, max-age=2")
        else:
            self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def describe(self):
        url = urlsplit(self.path)
        return {
            "service": self.service,
            "method": self.command,
            "path": url.path,
            "request_id": self.headers.get("X-Request-ID", ""),
            "client": self.headers.get("X-Sluice-Client", ""),
            "tier": self.headers.get("X-Sluice-Tier", ""),
            "api_key_forwarded": "X-API-Key" in self.headers,
            "served_at": time.time(),
        }

    def do_GET(self):
        query = parse_qs(urlsplit(self.path).query)
        if self.service == "reports" and "delay_ms" in query:
            try:
                delay = min(max(int(query["delay_ms"][0]), 0), MAX_DELAY_MS)
            except ValueError:
                self.answer(400, {"error": "delay_ms wants whole milliseconds"})
                return
            time.sleep(delay / 1000.0)
        self.answer(200, self.describe())

    do_HEAD = do_GET

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self.answer(413, {"error": "body too large"})
            return
        body = self.rfile.read(length)
        self.answer(201, dict(self.describe(), received_bytes=len(body)))

    do_PUT = do_POST
    do_DELETE = do_GET


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("port", type=int)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    Handler.service = args.name
    server = ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    # Nothing to flush or finish: stop at once (sys.exit would wait for
    # serve_forever's poll and the interpreter's teardown, about 2 s).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
