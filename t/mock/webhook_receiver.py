#!/usr/bin/python3
"""A webhook receiver for tests, checking what the Standard Webhooks
specification asks a receiver to check.

    webhook_receiver.py --port N --control-port M --secret whsec_...
        [--host 127.0.0.1] [--verbose]

Prints "ready <port> <control port>" once both listen (0 picks a free
port) and stops cleanly on SIGTERM or SIGINT.  Standard library only.

Webhooks, POST to any path of --port:
    Checked as the specification says: the headers webhook-id,
    webhook-timestamp (Unix seconds, within 5 minutes of now either way)
    and webhook-signature (space-separated "v1,<base64>" entries, one of
    which must be base64(HMAC-SHA256(key, "id.timestamp.body")) with the
    key the secret's base64 decodes to), compared in constant time; a
    body that is JSON.  A webhook-id seen before in a verified request is
    a duplicate: answered as the first was (2xx), not delivered twice.
    Answers 204 for a new event, 400 (bad timestamp, missing header, not
    JSON) or 401 (bad signature), unless the behaviour says otherwise.

Control API, on --control-port:
    GET  /received     every request that reached the hook, oldest first:
                       [{"id", "timestamp", "verified", "reason",
                       "duplicate", "status" (what it was answered),
                       "event" (the parsed body, or null), "at" (epoch
                       seconds, float)}]
    GET  /events       the events delivered: verified, not duplicates,
                       answered 2xx, in the order they came
    POST /behaviour    {"mode": "ok"|"status"|"hang", "status": N,
                        "delay_ms": N, "count": N}
                       what the next requests get (all, or the next count):
                       "status" answers N after checking, "hang" holds the
                       request open without an answer until it is closed,
                       delay_ms holds any answer back that long.  Such a
                       request is not delivered (its id is not remembered)
    POST /down         {"ms": N}: the hook's port closed (connections are
                       refused) for N ms, then listening again
    POST /reset        forget requests, ids and behaviours
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 5 * 60
HANG_SECONDS = 120
MODES = ("ok", "status", "hang")


def decode_secret(secret):
    if not secret.startswith("whsec_"):
        raise ValueError("the secret does not begin with whsec_")
    text = secret[len("whsec_"):]
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def sign(key, msg_id, timestamp, body):
    text = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, text, hashlib.sha256).digest())


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify(key, headers, body, now):
    """The parsed event, or Refused: the specification's checks."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")

    if not msg_id or not timestamp or not signature:
        raise Refused(400, "missing header")
    if not timestamp.isdigit():
        raise Refused(400, "bad timestamp")
    if abs(now - int(timestamp)) > TOLERANCE_S:
        raise Refused(400, "timestamp out of tolerance")

    expected = sign(key, msg_id, timestamp, body)
    for entry in signature.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            break
    else:
        raise Refused(401, "bad signature")

    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "body is not JSON")
    if not isinstance(event, dict):
        raise Refused(400, "body is not an object")
    return event


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.received = []
            self.ids = {}
            self.behaviour = {"mode": "ok", "status": 200, "delay_ms": 0,
                              "count": None}

    def next_behaviour(self):
        with self.lock:
            b = dict(self.behaviour)
            if b["count"] is not None:
                self.behaviour["count"] -= 1
                if self.behaviour["count"] <= 0:
                    self.behaviour = {"mode": "ok", "status": 200,
                                      "delay_ms": 0, "count": None}
            return b


class HookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.config.verbose:
            sys.stderr.write("webhook receiver: " + fmt % args + "\n")

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {"id": headers.get("webhook-id"),
                  "timestamp": headers.get("webhook-timestamp"),
                  "verified": False, "reason": None, "duplicate": False,
                  "status": None, "event": None, "at": time.time()}

        b = state.next_behaviour()
        try:
            record["event"] = verify(self.server.key, headers, body,
                                     int(time.time()))
            record["verified"] = True
            status = 204
        except Refused as r:
            record["reason"] = r.reason
            status = r.status

        if b["mode"] == "status":
            status = b["status"]

        with state.lock:
            if record["verified"] and record["id"] in state.ids:
                record["duplicate"] = True
                status = state.ids[record["id"]]
            state.received.append(record)

        if b["mode"] == "hang":
            state.stopping.wait(HANG_SECONDS)
            self.close_connection = True
            return
        if b["delay_ms"]:
            state.stopping.wait(b["delay_ms"] / 1000.0)

        try:
            self.answer(status)
        except OSError:
            # the sender gave up: not delivered, whatever was meant
            status = None
        with state.lock:
            record["status"] = status
            if record["verified"] and status and 200 <= status < 300:
                state.ids.setdefault(record["id"], status)


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.config.verbose:
            sys.stderr.write("receiver control: " + fmt % args + "\n")

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.server.state
        with state.lock:
            received = [dict(r) for r in state.received]
        if self.path == "/received":
            return self.send_json(200, received)
        if self.path == "/events":
            return self.send_json(200, [
                r["event"] for r in received
                if r["verified"] and not r["duplicate"]
                and r["status"] and 200 <= r["status"] < 300])
        self.send_json(404, {"error": "no such path"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self.send_json(400, {"error": "not JSON"})

        state = self.server.state
        if self.path == "/reset":
            state.reset()
            return self.send_json(200, {"ok": True})
        if self.path == "/behaviour":
            mode = req.get("mode", "ok")
            if mode not in MODES:
                return self.send_json(400, {"error": "unknown mode"})
            with state.lock:
                state.behaviour = {"mode": mode,
                                   "status": int(req.get("status", 200)),
                                   "delay_ms": int(req.get("delay_ms", 0)),
                                   "count": req.get("count")}
            return self.send_json(200, {"ok": True})
        if self.path == "/down":
            self.server.hook.down(int(req.get("ms", 1000)) / 1000.0)
            return self.send_json(200, {"ok": True})
        self.send_json(404, {"error": "no such path"})


class Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


class Hook:
    """The hook's server, which can go away and come back on its port."""

    def __init__(self, config, key, state):
        self.config, self.key, self.state = config, key, state
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.port = config.port
        self.up()

    def up(self):
        server = Server((self.config.host, self.port), HookHandler)
        server.config, server.key, server.state = \
            self.config, self.key, self.state
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={"poll_interval": 0.1})
        thread.daemon = True
        thread.start()
        self.server, self.thread = server, thread

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.thread.join()
            self.server.server_close()
            self.server = None

    def down(self, seconds):
        with self.lock:
            self.stop()

        def back():
            if self.state.stopping.wait(seconds):
                return
            with self.lock:
                for _ in range(50):
                    try:
                        self.up()
                        return
                    except OSError:
                        time.sleep(0.1)

        threading.Thread(target=back, daemon=True).start()


def main():
    p = argparse.ArgumentParser(description="A Standard Webhooks receiver")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--control-port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--secret", required=True)
    p.add_argument("--verbose", action="store_true")
    config = p.parse_args()

    try:
        key = decode_secret(config.secret)
    except (ValueError, binascii.Error) as e:
        print("bad secret: %s" % e, flush=True)
        return 2

    state = State()
    Server.allow_reuse_address = True
    hook = Hook(config, key, state)

    control = Server((config.host, config.control_port), ControlHandler)
    control.config, control.state, control.hook = config, state, hook
    serving = threading.Thread(target=control.serve_forever,
                               kwargs={"poll_interval": 0.1})
    serving.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    signal.signal(signal.SIGINT, lambda s, f: stop.set())

    print("ready %d %d" % (hook.port, control.server_address[1]), flush=True)

    while not stop.wait(0.2):
        pass

    state.stopping.set()
    with hook.lock:
        hook.stop()
    control.shutdown()
    serving.join()
    control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
