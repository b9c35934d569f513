#!/usr/bin/python3
"""A stand-in for the two SMS APIs the module speaks, for tests.

    sms_mock.py --port N [--host 127.0.0.1] [--verbose]
        [--sens-service-id ID --sens-access-key AK --sens-secret-key SK]
        [--cafe24-user-id U --cafe24-secure-key K]

Prints "ready <port>" once listening (--port 0 picks a free port) and stops
cleanly on SIGTERM or SIGINT.  Standard library only.

NAVER Cloud SENS, SMS API v2:
    POST /sms/v2/services/{serviceId}/messages
    Checked as the API gateway and SENS do: the service id, the headers
    x-ncp-apigw-timestamp (epoch ms, within 5 minutes of now),
    x-ncp-iam-access-key and x-ncp-apigw-signature-v2 =
    base64(HMAC-SHA256(secret, "POST {path}\\n{timestamp}\\n{access key}")),
    a JSON body with type SMS, contentType COMM or AD, countryCode, from,
    content and messages (1 to 100) of to (digits only) and an optional
    content of the message's own, which goes before the request's.
    401 {"error": {"errorCode": "200", "message": "Authentication Failed",
    "details": ...}} for bad credentials (the API gateway's form),
    400 {"status": "400", "errorMessage": ...} for a bad body,
    202 {"requestId", "requestTime", "statusCode": "202",
    "statusName": "success"} when accepted.

Cafe24 SMS:
    POST /sms_sender.php, application/x-www-form-urlencoded, every value
    base64-encoded (mode=1).  Answers 200 with a plain-text result:
    "success,<remaining>", "Test Success!" under testflag=Y, or an error
    code: -101 (a variable missing or badly encoded), -102 (user_id or
    secure key wrong), 3205 (a receiver that is not a Korean number:
    Cafe24 sends within Korea only).

Control API, for the tests:
    GET  /__mock/messages    every accepted message, oldest first:
                             [{"provider", "to", "from", "text", "conn",
                             ...}], conn being the client's port (equal
                             ports: a kept-alive connection); sens adds
                             type, contentType, countryCode and request
                             (the requestId it answered: equal ids, one
                             request of many messages), cafe24
                             testflag (true or false)
    GET  /__mock/requests    every request to a provider, accepted or not,
                             oldest first: [{"provider", "to",
                             "countryCode"}] as far as the body could be
                             read (cafe24: rphone decoded; sens: each
                             messages[].to), so a test can see what a
                             provider was handed even when it refused it
    POST /__mock/behaviour   {"provider": "sens"|"cafe24",
                              "mode": "ok"|"http500"|"http400"|"garbage"|
                                      "hang"|"badstatus",
                              "delay_ms": N, "count": N}
                             what the next requests to that provider get
                             (all of them, or the next count); delay_ms
                             holds each answer back that long
    POST /__mock/reset       forget messages and behaviours
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENS_PATH = re.compile(r"^/sms/v2/services/([^/]+)/messages$")
CAFE24_PATH = "/sms_sender.php"
TIMESTAMP_SKEW_MS = 5 * 60 * 1000
HANG_SECONDS = 60
MODES = ("ok", "http500", "http400", "garbage", "hang", "badstatus")
PROVIDERS = ("sens", "cafe24")
CAFE24_REMAINING = 999


class Rejected(Exception):
    """An answer other than success: status, body and content type."""

    def __init__(self, status, body, ctype="application/json"):
        super().__init__(status)
        self.status = status
        self.body = body
        self.ctype = ctype


class State:
    """What the mock remembers between requests; shared by all threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = []
            self.requests = []
            self.behaviour = {p: {"mode": "ok", "delay_ms": 0, "count": None}
                              for p in PROVIDERS}

    def set_behaviour(self, provider, mode, delay_ms, count):
        with self.lock:
            self.behaviour[provider] = {"mode": mode, "delay_ms": delay_ms,
                                        "count": count}

    def next_behaviour(self, provider):
        """The mode and delay for one request, counting it down."""
        with self.lock:
            b = self.behaviour[provider]
            mode, delay_ms = b["mode"], b["delay_ms"]
            if b["count"] is not None:
                b["count"] -= 1
                if b["count"] <= 0:
                    self.behaviour[provider] = {"mode": "ok", "delay_ms": 0,
                                                "count": None}
            return mode, delay_ms

    def record(self, message):
        with self.lock:
            self.messages.append(message)

    def all_messages(self):
        with self.lock:
            return list(self.messages)

    def record_request(self, request):
        with self.lock:
            self.requests.append(request)

    def all_requests(self):
        with self.lock:
            return list(self.requests)


def sens_error(status, message):
    return Rejected(status, {"status": str(status), "errorMessage": message})


def gateway_auth_error(details):
    return Rejected(401, {"error": {"errorCode": "200",
                                    "message": "Authentication Failed",
                                    "details": details}})


def sens_signature(secret, path, timestamp, access_key):
    text = "POST %s\n%s\n%s" % (path, timestamp, access_key)
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_sens_auth(config, headers, path):
    timestamp = headers.get("x-ncp-apigw-timestamp")
    access_key = headers.get("x-ncp-iam-access-key")
    signature = headers.get("x-ncp-apigw-signature-v2")

    if not timestamp or not access_key or not signature:
        raise gateway_auth_error("Required header is missing.")
    if not timestamp.isdigit():
        raise gateway_auth_error("Invalid timestamp.")
    if abs(int(timestamp) - int(time.time() * 1000)) > TIMESTAMP_SKEW_MS:
        raise gateway_auth_error("Timestamp is out of range.")
    if config.sens_access_key is not None \
            and access_key != config.sens_access_key:
        raise gateway_auth_error("Invalid access key.")
    if config.sens_secret_key is not None:
        expected = sens_signature(config.sens_secret_key, path, timestamp,
                                  access_key)
        if not hmac.compare_digest(expected, signature):
            raise gateway_auth_error("Invalid signature.")


def check_sens_body(headers, raw):
    ctype = headers.get("content-type", "")
    if not ctype.lower().startswith("application/json"):
        raise sens_error(400, "Content-Type must be application/json")

    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise sens_error(400, "Request body is not valid JSON")
    if not isinstance(body, dict):
        raise sens_error(400, "Request body must be a JSON object")

    def string(name, required=True):
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or value == "":
            raise sens_error(400, "'%s' is required and must be a string"
                             % name)
        return value

    if string("type").upper() != "SMS":
        raise sens_error(400, "this mock takes type SMS only")
    content_type = string("contentType", required=False) or "COMM"
    if content_type not in ("COMM", "AD"):
        raise sens_error(400, "contentType must be COMM or AD")
    country = string("countryCode", required=False) or "82"
    if not country.isdigit():
        raise sens_error(400, "countryCode must be digits")
    sender = string("from")
    if not sender.isdigit():
        raise sens_error(400, "from must be digits")
    content = string("content")

    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 100:
        raise sens_error(400, "messages must hold 1 to 100 entries")
    to = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("to"), str) \
                or not m["to"].isdigit():
            raise sens_error(400, "messages[].to must be digits only")
        own = m.get("content")
        if own is not None and (not isinstance(own, str) or own == ""):
            raise sens_error(400, "messages[].content must be a string")
        # a message's own content goes before the request's
        to.append((m["to"], own if own is not None else content))

    return {"type": "SMS", "contentType": content_type,
            "countryCode": country, "from": sender, "recipients": to}


def what_was_asked(name, raw):
    """The receivers of a provider request, read leniently, for the log."""
    asked = []
    try:
        if name == "sens":
            body = json.loads(raw.decode("utf-8"))
            for m in body.get("messages") or []:
                asked.append({"provider": name, "to": m.get("to"),
                              "countryCode": body.get("countryCode")})
        else:
            form = urllib.parse.parse_qs(raw.decode("ascii"))
            rphone = form.get("rphone", [""])[0]
            asked.append({"provider": name,
                          "to": base64.b64decode(rphone).decode("utf-8")})
    except (UnicodeDecodeError, ValueError, AttributeError, TypeError,
            binascii.Error):
        pass
    return asked or [{"provider": name, "to": None}]


def cafe24_fields(headers, raw):
    """The form's fields, base64-decoded; Rejected with -101 if unreadable."""
    ctype = headers.get("content-type", "")
    if not ctype.lower().startswith("application/x-www-form-urlencoded"):
        raise Rejected(200, "-101", "text/html")

    try:
        form = urllib.parse.parse_qs(raw.decode("ascii"),
                                     keep_blank_values=True,
                                     strict_parsing=True)
        return {name: base64.b64decode(values[0], validate=True)
                .decode("utf-8") for name, values in form.items()}
    except (UnicodeDecodeError, ValueError, binascii.Error):
        raise Rejected(200, "-101", "text/html")


def check_cafe24(config, fields):
    for name in ("user_id", "secure", "msg", "rphone", "sphone1", "sphone2",
                 "mode"):
        if fields.get(name, "") == "":
            raise Rejected(200, "-101", "text/html")

    if fields["mode"] != "1":
        raise Rejected(200, "-101", "text/html")
    if config.cafe24_user_id is not None \
            and fields["user_id"] != config.cafe24_user_id:
        raise Rejected(200, "-102", "text/html")
    if config.cafe24_secure_key is not None \
            and not hmac.compare_digest(fields["secure"],
                                        config.cafe24_secure_key):
        raise Rejected(200, "-102", "text/html")
    # a number as dialled in Korea: a trunk 0, hyphens optional
    if not re.fullmatch(r"0[0-9]{1,2}-?[0-9]{3,4}-?[0-9]{4}",
                        fields["rphone"]):
        raise Rejected(200, "3205", "text/html")

    sender = [fields[n] for n in ("sphone1", "sphone2", "sphone3")
              if fields.get(n)]
    if not all(part.isdigit() for part in sender):
        raise Rejected(200, "-101", "text/html")

    return {"to": fields["rphone"], "from": "-".join(sender),
            "text": fields["msg"], "testflag": fields.get("testflag") == "Y"}


# What each provider answers when told to misbehave: status, body, type.
FAILURES = {
    "sens": {
        "http500": (500, {"error": {"errorCode": "900",
                                    "message": "Unexpected Error"}}),
        "http400": (400, {"status": "400",
                          "errorMessage": "Bad Request Exception"}),
        "garbage": (202, "<html><body>garbage</body></html>", "text/html"),
        "badstatus": (202, {"requestId": "RSSA-mock", "statusCode": "500",
                            "statusName": "fail"}),
    },
    "cafe24": {
        "http500": (500, "<html><body>Internal Server Error</body></html>",
                    "text/html"),
        "http400": (400, "<html><body>Bad Request</body></html>",
                    "text/html"),
        "garbage": (200, b"\x00\x01garbage\xff\r\n", "text/html"),
        "badstatus": (200, "-100", "text/html"),
    },
}


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so that clients may keep the connection alive
    protocol_version = "HTTP/1.1"
    server_version = "sms-mock/1"
    # headers and body go out in two writes: with Nagle, the body would
    # wait ~40 ms for the client's delayed ACK of the headers
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.config.verbose:
            sys.stderr.write("sms_mock: " + fmt % args + "\n")

    def send(self, status, body, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False)
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        if self.path == "/__mock/messages":
            self.send(200, self.server.state.all_messages())
        elif self.path == "/__mock/requests":
            self.send(200, self.server.state.all_requests())
        else:
            self.send(404, {"errorMessage": "Not Found"})

    def do_POST(self):
        raw = self.read_body()
        path = urllib.parse.urlsplit(self.path).path

        if path == "/__mock/behaviour":
            self.set_behaviour(raw)
        elif path == "/__mock/reset":
            self.server.state.reset()
            self.send(200, {"ok": True})
        elif SENS_PATH.match(path):
            self.provider("sens", path, raw)
        elif path == CAFE24_PATH:
            self.provider("cafe24", path, raw)
        else:
            self.send(404, {"errorMessage": "Not Found"})

    def set_behaviour(self, raw):
        try:
            b = json.loads(raw.decode("utf-8"))
            provider, mode = b["provider"], b.get("mode", "ok")
            delay_ms, count = int(b.get("delay_ms", 0)), b.get("count")
            if provider not in PROVIDERS or mode not in MODES \
                    or delay_ms < 0 or (count is not None and count < 1):
                raise ValueError
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            self.send(400, {"error": "bad behaviour"})
            return
        self.server.state.set_behaviour(provider, mode, delay_ms, count)
        self.send(200, {"ok": True})

    def provider(self, name, path, raw):
        state = self.server.state
        for asked in what_was_asked(name, raw):
            state.record_request(asked)
        mode, delay_ms = state.next_behaviour(name)

        if mode == "hang":
            # longer than any client waits; the client gives up first
            state.stopping.wait(HANG_SECONDS)
            self.close_connection = True
            return
        if delay_ms:
            state.stopping.wait(delay_ms / 1000)

        if mode != "ok":
            self.send(*FAILURES[name][mode])
            return

        try:
            if name == "sens":
                answer = self.sens(path, raw)
            else:
                answer = self.cafe24(raw)
        except Rejected as r:
            self.send(r.status, r.body, r.ctype)
            return

        self.send(*answer)

    def sens(self, path, raw):
        config = self.server.config
        service_id = SENS_PATH.match(path).group(1)
        headers = {k.lower(): v for k, v in self.headers.items()}

        if config.sens_service_id is not None \
                and urllib.parse.unquote(service_id) != config.sens_service_id:
            raise sens_error(404, "Not Found serviceId")
        check_sens_auth(config, headers, path)
        message = check_sens_body(headers, raw)
        request_id = "RSSA-" + uuid.uuid4().hex

        for to, text in message.pop("recipients"):
            self.server.state.record(dict(message, provider="sens", to=to,
                                          text=text, request=request_id,
                                          conn=self.client_address[1]))

        now = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime())
        return 202, {"requestId": request_id,
                     "requestTime": now, "statusCode": "202",
                     "statusName": "success"}

    def cafe24(self, raw):
        headers = {k.lower(): v for k, v in self.headers.items()}
        message = check_cafe24(self.server.config,
                               cafe24_fields(headers, raw))

        message.update(provider="cafe24", conn=self.client_address[1])
        self.server.state.record(message)

        if message["testflag"]:
            return 200, "Test Success!", "text/html"
        return 200, "success,%d" % CAFE24_REMAINING, "text/html"


def parse_args():
    p = argparse.ArgumentParser(description="Mock SENS and Cafe24 SMS APIs")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sens-service-id")
    p.add_argument("--sens-access-key")
    p.add_argument("--sens-secret-key")
    p.add_argument("--cafe24-user-id")
    p.add_argument("--cafe24-secure-key")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args()


class Server(ThreadingHTTPServer):
    # every pool thread of every worker may connect at once
    request_queue_size = 1024


def main():
    config = parse_args()

    server = Server((config.host, config.port), Handler)
    server.daemon_threads = True
    server.config = config
    server.state = State()

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # serve in a thread: shutdown() must not be called from the serving one
    serving = threading.Thread(target=server.serve_forever,
                               kwargs={"poll_interval": 0.1})
    serving.start()

    print("ready %d" % server.server_address[1], flush=True)

    while not stop.wait(0.2):
        pass

    server.state.stopping.set()
    server.shutdown()
    serving.join()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
