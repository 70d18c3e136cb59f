#!/usr/bin/python3
"""The internet as tests/e2e/doctor.test.ts needs it, in the client namespace (192.0.2.1):

- an authenticating smarthost: 587 (STARTTLS) and 465 (implicit TLS), AUTH PLAIN/LOGIN required, certificate for
  smarthost.test from the test CA; every message it takes is written to OUT/mail-N.json;
- a receiving MX on port 25 (no AUTH): where direct delivery would go; its messages are OUT/direct-N.json;
- the alert webhook: HTTPS on 8443 (hooks.test), every POST body is OUT/hook-N.json.

Usage: outside.py OUT CERT KEY USER PASSWORD   (prints "ready" once everything listens)
"""
import http.server
import json
import os
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ADDRESS = "192.0.2.1"
OUT, CERT, KEY, USER, PASSWORD = sys.argv[1:6]
os.makedirs(OUT, exist_ok=True)
lock = threading.Lock()


def record(kind, obj):
    with lock:
        n = len([f for f in os.listdir(OUT) if f.startswith(kind + "-")])
        tmp = os.path.join(OUT, f".{kind}-{n}.tmp")
        with open(tmp, "w") as f:
            json.dump(obj, f)
        os.rename(tmp, os.path.join(OUT, f"{kind}-{n}.json"))


class Store:
    def __init__(self, kind, port):
        self.kind, self.port = kind, port

    async def handle_DATA(self, server, session, envelope):
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        record(self.kind, {"port": self.port, "login": login, "tls": session.ssl is not None,
                           "from": envelope.mail_from, "to": envelope.rcpt_tos,
                           "data": envelope.content.decode("utf8", "replace")})
        return "250 2.0.0 Ok: stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
    if not ok:
        record("authfail", {"mechanism": mechanism})
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(CERT, KEY)
    return ctx


controllers = [
    Controller(Store("mail", 587), hostname=ADDRESS, port=587, server_hostname="smarthost.test",
               tls_context=tls_context(), require_starttls=True, auth_required=True, auth_require_tls=True,
               authenticator=authenticator),
    Controller(Store("mail", 465), hostname=ADDRESS, port=465, server_hostname="smarthost.test",
               ssl_context=tls_context(), auth_required=True, auth_require_tls=False, authenticator=authenticator),
    Controller(Store("direct", 25), hostname=ADDRESS, port=25, server_hostname="mx.outside.test"),
]
for c in controllers:
    c.start()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf8", "replace")
        record("hook", {"path": self.path, "type": self.headers.get("Content-Type"), "body": body})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


hooks = http.server.ThreadingHTTPServer((ADDRESS, 8443), Hook)
hooks.socket = tls_context().wrap_socket(hooks.socket, server_side=True)
threading.Thread(target=hooks.serve_forever, daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
