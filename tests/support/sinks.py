"""Real receivers on loopback for channel tests: an HTTP sink that verifies webhook
signatures and answers as told, an SMTP server (aiosmtpd) plain, STARTTLS or implicit TLS,
and a self-signed certificate made on the spot."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tasks.notifications.signing import HEADER, InvalidSignature, verify_signature

#: How long a hanging answer holds its request at most (the sink's stop releases it sooner).
HANG_S = 30.0
#: The signing secret of the integration tests' shared sink (the ``sink`` fixture).
SINK_SECRET = "whsec-test-sink-0123456789"


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers with one call."""

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        """Answer ``status`` with ``body`` of ``content_type``."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A threaded HTTP server for ``handler`` on a free 127.0.0.1 port, serving in a thread
    for the block; shut down and closed afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    """One request the sink took in, and when (``time.monotonic()``)."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    #: The sender's port: one port for several requests means a kept connection.
    client_port: int = 0


@dataclass
class HttpSink:
    """What the sink received and refused; ``answer`` decides the next answers: ``ok``,
    ``500``, ``429`` (with ``Retry-After: 7``), ``400`` or ``hang``.

    ``delay_s`` holds each answer that long after the request is taken in (a slow receiver;
    ``in_flight`` counts the requests held). ``processed`` lists the ``Idempotency-Key`` of
    every request the receiver acted on: all of them, or with ``dedup`` only the first of each
    key, as an idempotent receiver does (a repeat still gets its answer)."""

    url: str = ""
    secret: str | None = None
    tolerance_s: float = 300
    answer: str = "ok"
    delay_s: float = 0.0
    dedup: bool = False
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    in_flight: int = 0
    seen: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, headers: dict[str, str], body: bytes) -> str | None:
        """Why the request's signature fails, or ``None`` (also when no secret is set)."""
        if self.secret is None:
            return None
        try:
            verify_signature(self.secret, headers.get(HEADER), body, self.tolerance_s)
        except InvalidSignature as error:
            return str(error)
        return None

    def clear(self) -> None:
        """Forget every request taken in."""
        with self.lock:
            self.received.clear()
            self.refused.clear()
            self.processed.clear()
            self.seen.clear()

    def reset(self) -> None:
        """Back to a fresh sink, as each test wants it: answering ``ok``, nothing taken in."""
        self.answer = "ok"
        self.clear()

    def take(self, received: Received) -> None:
        """Keep ``received``, and act on it unless it repeats a key seen (with ``dedup``)."""
        key = received.headers.get("Idempotency-Key", "")
        with self.lock:
            self.received.append(received)
            if not (self.dedup and key in self.seen):
                self.processed.append(key)
            self.seen.add(key)


class _Handler(BaseHTTPRequestHandler):
    sink: HttpSink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k: v for k, v in self.headers.items()}
        reason = self.sink.check(headers, body)
        if reason is not None:
            self.sink.refused.append(reason)
            self._reply(401, b'{"error": "bad signature"}')
            return
        self.sink.take(Received(self.path, headers, body, client_port=self.client_address[1]))
        answer = self.sink.answer
        if answer == "hang":
            self.sink.release.wait(HANG_S)
            return
        if self.sink.delay_s:
            self._hold(self.sink.delay_s)
        status = 200 if answer == "ok" else int(answer)
        extra = {"Retry-After": "7"} if status == 429 else {}
        # A sender killed while it waited has closed the socket: its answer goes nowhere.
        with suppress(BrokenPipeError, ConnectionResetError):
            self._reply(status, b'{"ok": true}' if status == 200 else b'{"error": "no"}', extra)

    def _hold(self, seconds: float) -> None:
        with self.sink.lock:
            self.sink.in_flight += 1
        try:
            self.sink.release.wait(seconds)
        finally:
            with self.sink.lock:
                self.sink.in_flight -= 1

    def _reply(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_sink(
    secret: str | None = None,
    certificate: SelfSignedCertificate | None = None,
    *,
    keep_alive: bool = False,
) -> Iterator[HttpSink]:
    """An HTTP sink on a free loopback port, in a thread; stopped (hangs released) after.
    With a ``certificate`` it speaks HTTPS, and its URL names ``localhost``. With
    ``keep_alive`` it speaks HTTP/1.1 and keeps connections open between requests (else each
    answer closes its connection, as HTTP/1.0)."""
    sink = HttpSink(secret=secret)
    handler = {"sink": sink, "protocol_version": "HTTP/1.1" if keep_alive else "HTTP/1.0"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Sink", (_Handler,), handler))
    server.daemon_threads = True
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    if certificate is not None:
        server.socket = certificate.server_context().wrap_socket(server.socket, server_side=True)
        sink.url = f"https://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class SelfSignedCertificate:
    """A self-signed certificate for ``localhost``, and its key, as files."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(directory: Path) -> SelfSignedCertificate:
    """Generate the test certificate (EC P-256, valid for a day) into ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    # The name only, not 127.0.0.1: a client that checks the address it connected to (a
    # pinned request that lost its host name) fails.
    names = [x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = SelfSignedCertificate(directory / "test-cert.pem", directory / "test-key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Mailbox:
    """What the SMTP server accepted: each message with its envelope."""

    port: int = 0
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        """Refuse the addresses in ``refuse`` (550), accept the rest."""
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message."""
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(
    security: str = "none",
    certificate: SelfSignedCertificate | None = None,
    credentials: tuple[str, str] | None = None,
) -> Iterator[Mailbox]:
    """aiosmtpd on a free loopback port: ``none``, ``starttls`` (required) or ``tls``
    (implicit), with a login required when ``credentials`` are given."""
    mailbox = Mailbox(port=free_port())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and credentials is not None and (
            data.login.decode(), data.password.decode()) == credentials  # fmt: skip
        if ok:
            mailbox.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535

    options: dict[str, Any] = {}
    if security == "starttls":
        assert certificate is not None
        options.update(tls_context=certificate.server_context(), require_starttls=True)
    elif security == "tls":
        assert certificate is not None
        options.update(ssl_context=certificate.server_context())
    if credentials is not None:
        # aiosmtpd knows a STARTTLS session is encrypted, not an implicit-TLS one.
        options.update(authenticator=authenticate, auth_require_tls=security == "starttls")
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **options)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
