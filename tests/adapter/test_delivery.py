"""Delivery rules without a network: which statuses are retried, Retry-After, the budget, the pace."""

from __future__ import annotations

import email.utils
import time

from trailwatch.adapter import delivery
from trailwatch.adapter.delivery import Pacer, Teams, retry_after


class FakePost:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls: list[float] = []

    def __call__(self, url, body, timeout):
        self.calls.append(time.monotonic())
        return self.answers.pop(0) if self.answers else (202, None)


def teams(answers, budget=3.0):
    post = FakePost(answers)
    retried: list[str] = []
    return Teams("https://example.invalid/x?sig=s", budget, Pacer(rate=1000), post=post,
                 on_retry=retried.append), post, retried


def test_4xx_is_final_at_once():
    t, post, retried = teams([(404, None)])
    outcome = t.send(b"{}")
    assert (outcome.delivered, outcome.reason, outcome.attempts) == (False, "http_404", 1) and retried == []


def test_5xx_and_transport_errors_are_retried_with_growing_waits(monkeypatch):
    monkeypatch.setattr(delivery, "BACKOFF_START", 0.05)
    t, post, retried = teams([(500, None), (None, None), (503, None)], budget=5)
    outcome = t.send(b"{}")
    assert outcome.delivered and outcome.attempts == 4 and retried == ["http_500", "unreachable", "http_503"]
    gaps = [b - a for a, b in zip(post.calls, post.calls[1:])]
    assert gaps[0] < gaps[1] < gaps[2]


def test_retry_after_longer_than_the_budget_is_a_retryable_answer_remembered_for_later_sends():
    t, post, _ = teams([(429, "30")], budget=1.0)
    began = time.monotonic()
    outcome = t.send(b"{}")
    assert (outcome.reason, outcome.delivered, outcome.status) == ("throttled", False, 429)
    assert 29 < outcome.retry_in <= 30 and time.monotonic() - began < 1.0
    again = t.send(b"{}")  # Alertmanager's retry, well before the 30 s: nothing is posted
    assert again.reason == "throttled" and again.attempts == 0 and 28 < again.retry_in < 30
    assert len(post.calls) == 1


def test_a_short_retry_after_is_waited_for_by_every_send():
    t, post, retried = teams([(429, "1")], budget=3.0)
    assert t.send(b"{}").delivered and retried == ["http_429"]
    assert post.calls[1] - post.calls[0] >= 0.95


def test_redirects_are_never_followed_and_are_not_deliveries():
    """A 302 from the Workflows URL: the real client does not follow it (that would re-send a body-less GET
    the adapter would count as delivered); the status is a final failure."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append("POST")
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802
            seen.append("GET")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        t = Teams(f"http://127.0.0.1:{server.server_port}/hook?sig=s", 2.0, Pacer(rate=1000))
        outcome = t.send(b"{}")
    finally:
        server.shutdown()
        server.server_close()
    assert (outcome.delivered, outcome.reason, outcome.attempts) == (False, "http_302", 1)
    assert seen == ["POST"]


def test_retry_after_forms():
    now = time.time()
    assert retry_after("7", now) == 7.0
    assert abs(retry_after(email.utils.formatdate(now + 5, usegmt=True), now) - 5) < 1.01
    assert retry_after("soon", now) is None and retry_after(None, now) is None


def test_pacer_spaces_slots_and_refuses_past_the_deadline():
    clock = [100.0]
    slept: list[float] = []
    pacer = Pacer(rate=4, clock=lambda: clock[0], sleep=slept.append)
    assert all(pacer.wait(deadline=200) for _ in range(4))
    assert slept == [0.25, 0.5, 0.75]  # from one instant: slots 0.25 s apart
    assert pacer.wait(deadline=100.5) is False  # the next slot (101.0) is past this deadline


def test_the_url_is_not_in_repr():
    t, _, _ = teams([])
    assert "sig" not in repr(t) and "example" not in repr(t)


def _local_teams(handler_status: int = 202, tls=None):
    """A Teams stand-in over HTTP/1.1 that records the client port of every POST; ``tls``, an ``ssl.SSLContext``,
    serves it over TLS (a refused handshake is not logged: it is what the TLS test expects)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ports: list[int] = []

    class Accepting(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            ports.append(self.client_address[1])
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(handler_status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accepting)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        server.handle_error = lambda *args: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, ports


def test_a_burst_of_cards_reuses_one_kept_alive_connection():
    server, ports = _local_teams()
    try:
        t = Teams(f"http://127.0.0.1:{server.server_port}/hook?sig=s", 5.0, Pacer(rate=1000))
        outcomes = [t.send(b"{}") for _ in range(5)]
    finally:
        server.shutdown()
        server.server_close()
    assert all(o.delivered for o in outcomes) and len(ports) == 5
    assert len(set(ports)) == 1, ports


def test_a_certificate_the_system_does_not_trust_is_never_posted_to(tmp_path):
    """TLS is verified: a self-signed Workflows host gets no card (and no retry makes it one)."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server, posted = _local_teams(tls=context)
    try:
        outcome = Teams(f"https://localhost:{server.server_port}/hook?sig=s", 1.5, Pacer(rate=1000)).send(b"{}")
    finally:
        server.shutdown()
        server.server_close()
    assert (outcome.delivered, outcome.reason) == (False, "unreachable") and posted == []
