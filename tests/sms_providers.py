"""Local servers that speak the SMS providers' documented HTTP APIs, for the channel tests.

Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json, Basic auth with the
account SID and auth token, form fields To, From, Body; 201 with a "sid", or an error
with Twilio's "code" and "message". Vonage's SMS API: POST /sms/json, form fields
api_key, api_secret, from, to, text, type; HTTP 200 with a "status" per message part, "0"
for accepted; a request signed with the signature secret ("sig" and "timestamp" instead
of the API secret) is checked as Vonage documents. Each checks credentials as the real
one does, keeps what it accepted and can be told to fail: `outage` (HTTP 503),
`throttle` (Twilio 429, Vonage status 1), `timeout_after_accepting` (keeps the message,
answers too late), or a scripted answer queued in `answers`.
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_AUTH_TOKEN = "test-token"
TWILIO_FROM = "+12125550100"
VONAGE_API_KEY = "abcd1234"
VONAGE_API_SECRET = "vonage-test-secret"
VONAGE_FROM = "12125550199"
VONAGE_SIGNATURE_SECRET = "vonage-signature-secret"
# Vonage refuses a signed request whose timestamp is further than this from its clock.
VONAGE_SIGNATURE_WINDOW_SECONDS = 300


@dataclass
class Provider:
    """What a fake provider was asked and accepted, and how it is to behave next."""

    port: int = 0
    requests: list[dict] = field(default_factory=list)  # every request, parsed
    accepted: list[dict] = field(default_factory=list)  # messages it took: to, body, ...
    answers: list[tuple[int, dict]] = field(default_factory=list)  # scripted, in order
    invalid_numbers: set[str] = field(default_factory=set)
    mode: str = "ok"  # ok, outage, throttle, timeout_after_accepting
    accept_before_outage: int | None = None  # then switches to `outage_mode`
    outage_mode: str = "outage"
    answer_delay: float = 2.0  # for timeout_after_accepting
    signature_method: str = "md5hash"  # Vonage: the account's setting for signed requests
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def current_mode(self) -> str:
        if (
            self.accept_before_outage is not None
            and len(self.accepted) >= self.accept_before_outage
        ):
            return self.outage_mode
        return self.mode


class _Handler(BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, *args):
        pass

    def _form(self) -> dict[str, str]:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        return {name: values[0] for name, values in parse_qs(raw).items()}

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _accept(self, message: dict) -> None:
        """Keep the message; in timeout_after_accepting mode, answer only after the
        client has stopped waiting (and switch to an outage for what follows)."""
        with self.provider.lock:
            mode = self.provider.current_mode()
            self.provider.accepted.append(message)
            if mode == "timeout_after_accepting":
                self.provider.mode = self.provider.outage_mode = "outage"
        if mode == "timeout_after_accepting":
            time.sleep(self.provider.answer_delay)


class TwilioHandler(_Handler):
    def do_POST(self):
        form = self._form()
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        auth = base64.b64decode(credentials).decode() if scheme == "Basic" else ""
        self.provider.requests.append({"path": self.path, "auth": auth, "form": form})
        if self.provider.answers:
            return self._answer(*self.provider.answers.pop(0))
        if self.path != f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json":
            return self._answer(
                404, {"code": 20404, "message": "The requested resource was not found"}
            )
        if auth != f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}":
            return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        mode = self.provider.current_mode()
        if mode == "outage":
            return self._answer(503, {"code": 20503, "message": "Service unavailable"})
        if mode == "throttle":
            return self._answer(429, {"code": 20429, "message": "Too Many Requests"})
        if form.get("To") in self.provider.invalid_numbers:
            text = f"The 'To' number {form['To']} is not a valid phone number."
            return self._answer(400, {"code": 21211, "message": text, "status": 400})
        sid = f"SM{secrets.token_hex(16)}"
        self._accept({"sid": sid, "to": form["To"], "from": form["From"], "body": form["Body"]})
        self._answer(201, {"sid": sid, "status": "queued", "to": form["To"]})


class VonageHandler(_Handler):
    def _signature_holds(self, form: dict[str, str]) -> bool:
        return _vonage_signature_holds(form, self.provider.signature_method)

    def _status(self, status: str, text: str) -> None:
        self._answer(
            200, {"message-count": "1", "messages": [{"status": status, "error-text": text}]}
        )

    def do_POST(self):
        form = self._form()
        self.provider.requests.append({"path": self.path, "form": form})
        if self.provider.answers:
            return self._answer(*self.provider.answers.pop(0))
        if self.path != "/sms/json":
            return self._answer(404, {"type": "not-found"})
        for name in ("api_key", "from", "to", "text"):
            if not form.get(name):
                return self._status("2", f"Missing {name} param")
        if "sig" in form:
            if not self._signature_holds(form):
                return self._status("14", "Invalid Signature")
        elif (form["api_key"], form.get("api_secret")) != (VONAGE_API_KEY, VONAGE_API_SECRET):
            return self._status("4", "Bad Credentials")
        mode = self.provider.current_mode()
        if mode == "outage":
            return self._answer(503, {"type": "service-unavailable"})
        if mode == "throttle":
            return self._status("1", "Throughput Rate Exceeded - please wait [ 1000 ] and retry")
        if form["to"] in self.provider.invalid_numbers:
            return self._status("3", "Invalid to param")
        message_id = secrets.token_hex(8).upper()
        self._accept(
            {
                "message-id": message_id,
                **{k: form[k] for k in ("to", "from", "text")},
                "type": form.get("type", "text"),
            }
        )
        part = {
            "to": form["to"],
            "message-id": message_id,
            "status": "0",
            "remaining-balance": "15.5",
        }
        self._answer(200, {"message-count": "1", "messages": [part]})


def _vonage_signed_text(form: dict[str, str]) -> bytes:
    pairs = []
    for name in sorted(name for name in form if name != "sig"):
        value = form[name].replace("&", "_").replace("=", "_")
        pairs.append(f"&{name}={value}")
    return "".join(pairs).encode()


def _vonage_signature_holds(form: dict[str, str], method: str) -> bool:
    """As Vonage checks a signed request: the account's key, a recent timestamp, and the
    signature over the other parameters with the signature secret."""
    try:
        age = abs(time.time() - int(form.get("timestamp", "")))
    except ValueError:
        return False
    if form.get("api_key") != VONAGE_API_KEY or age > VONAGE_SIGNATURE_WINDOW_SECONDS:
        return False
    text, secret = _vonage_signed_text(form), VONAGE_SIGNATURE_SECRET.encode()
    if method == "md5hash":
        expected = hashlib.md5(text + secret).hexdigest()
    else:
        expected = hmac.new(secret, text, getattr(hashlib, method)).hexdigest()
    return hmac.compare_digest(form["sig"].lower(), expected)


@contextmanager
def _serving(handler: type[_Handler]) -> Iterator[Provider]:
    provider = Provider()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Bound", (handler,), {"provider": provider})
    )
    provider.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def twilio_server() -> Iterator[Provider]:
    with _serving(TwilioHandler) as provider:
        yield provider


@contextmanager
def vonage_server() -> Iterator[Provider]:
    with _serving(VonageHandler) as provider:
        yield provider


def twilio_settings(provider: Provider) -> dict:
    return {
        "TWILIO_API_BASE": provider.base,
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TWILIO_FROM,
    }


def vonage_settings(provider: Provider) -> dict:
    return {
        "VONAGE_API_BASE": provider.base,
        "VONAGE_API_KEY": VONAGE_API_KEY,
        "VONAGE_API_SECRET": VONAGE_API_SECRET,
        "VONAGE_FROM": VONAGE_FROM,
    }
