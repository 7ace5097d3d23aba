#!/usr/bin/env python3
"""notify-receiver.py - a webhook receiver for the notification tests.

Usage: notify-receiver.py PORT DIR

Listens on 127.0.0.1:PORT (threads: a request that hangs does not hold up
the others) and answers every POST as DIR tells it at that moment:
  DIR/hang          exists: answer nothing until it is removed (the
                    X-Jit-Delivery of each request held so is appended
                    to DIR/hung)
  DIR/codes_NAME    lines of HTTP statuses for path /NAME: the first line
                    is taken (and removed) for each request; when the file
                    is empty or missing the answer is 200
Each request is written to DIR/log/NNNNNN.json (path, status answered,
the X-Jit-Delivery and X-Jit-Signature headers, content type, body) and
its body byte for byte to DIR/log/NNNNNN.body, NNNNNN counting in the
order requests arrived (a restarted receiver goes on after the last).  DIR/ready is written once it listens.
"""
import http.server
import json
import os
import sys
import threading
import time

PORT = int(sys.argv[1])
DIR = sys.argv[2]
LOG = os.path.join(DIR, "log")
LOCK = threading.Lock()
COUNT = [0]


def next_status(path):
    name = os.path.join(DIR, "codes_" + path.strip("/").replace("/", "_"))
    with LOCK:
        try:
            with open(name) as f:
                lines = [l.strip() for l in f if l.strip()]
        except FileNotFoundError:
            return 200
        if not lines:
            return 200
        with open(name + ".tmp", "w") as f:
            f.write("".join(l + "\n" for l in lines[1:]))
        os.replace(name + ".tmp", name)
        return int(lines[0])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        hang = os.path.join(DIR, "hang")
        if os.path.exists(hang):
            with open(os.path.join(DIR, "hung"), "a") as f:
                f.write("%s\n" % self.headers.get("X-Jit-Delivery"))
        while os.path.exists(hang):
            time.sleep(0.05)
        status = next_status(self.path)
        with LOCK:
            COUNT[0] += 1
            base = os.path.join(LOG, "%06d" % COUNT[0])
        with open(base + ".body", "wb") as f:
            f.write(body)
        rec = {
            "path": self.path,
            "status": status,
            "delivery": self.headers.get("X-Jit-Delivery"),
            "signature": self.headers.get("X-Jit-Signature"),
            "content_type": self.headers.get("Content-Type"),
            "body": body.decode("utf-8", "replace"),
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(rec, f)
        os.replace(base + ".json.tmp", base + ".json")
        out = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


os.makedirs(LOG, exist_ok=True)
# A restarted receiver goes on counting where the last one stopped.
COUNT[0] = max([int(n[:6]) for n in os.listdir(LOG) if n.endswith(".body")]
               + [0])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
srv.daemon_threads = True
with open(os.path.join(DIR, "ready"), "w") as f:
    f.write("%d\n" % PORT)
srv.serve_forever()
