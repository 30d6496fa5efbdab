"""Requests to brands' servers (``sayso.outbound``), on real sockets and real TLS: the
connection goes to the address that was checked, TLS still verifies the host's name, and
one deadline bounds the whole exchange however slowly the server answers."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sayso import outbound

BODY = b'{"type":"consent.revoked"}'


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.server.seen.append((self.path, self.headers["Host"], self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args):
        pass


@pytest.fixture
def receiver():
    """An HTTP server on 127.0.0.1 that records (path, Host, body) of each POST."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, key, signer, *, ca: bool, dns: str | None = None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture
def tls(tmp_path):
    """A CA of the test's own (its file for ``ca_file``) and a way to serve ``receiver``
    over TLS with a certificate it signed for a given name."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(_name("Test CA"), _name("Test CA"), ca_key, ca_key, ca=True)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def serve(server: ThreadingHTTPServer, name: str) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(_name(name), ca.subject, key, ca_key, ca=False, dns=name)
        (tmp_path / "leaf.pem").write_bytes(
            leaf.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "leaf.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)

    return str(ca_file), serve


@pytest.fixture
def resolver(monkeypatch):
    """Answers for names of our choosing, one answer per lookup in turn (the last one
    repeats); other names resolve as usual. Returns the list of names looked up."""
    real = socket.getaddrinfo
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        turn = answers[host]
        address = turn.pop(0) if len(turn) > 1 else turn[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, asked


def test_the_connection_goes_to_the_address_that_was_checked(receiver, resolver):
    # DNS rebinding: the name answers loopback (allowed while developing) to the first
    # lookup and an internal address afterwards. Only one lookup is made, and used.
    answers, asked = resolver
    answers["hooks.example"] = ["127.0.0.1", "10.0.0.1"]
    port = receiver.server_address[1]
    status = outbound.post(
        f"http://hooks.example:{port}/hooks/sayso?token=t",
        BODY,
        {"Content-Type": "application/json"},
        allow_loopback=True,
        deadline=5,
    )
    assert status == 204
    assert receiver.seen == [("/hooks/sayso?token=t", f"hooks.example:{port}", BODY)]
    assert asked == ["hooks.example"]


def test_a_name_that_turns_internal_after_the_check_is_not_reached(receiver, resolver):
    # The attack the other way round: a public address to the check, then loopback.
    answers, _asked = resolver
    answers["hooks.example"] = ["93.184.215.14", "127.0.0.1"]
    with pytest.raises(outbound.Failed):  # the public address is not reachable from here
        outbound.post(
            f"http://hooks.example:{receiver.server_address[1]}/x",
            BODY,
            {},
            allow_loopback=False,
            deadline=1,
        )
    assert receiver.seen == []


def test_a_name_with_any_internal_address_is_refused(resolver):
    answers, _asked = resolver
    answers["mixed.example"] = ["10.0.0.1"]
    with pytest.raises(outbound.Refused):
        outbound.post("https://mixed.example/x", BODY, {}, allow_loopback=False, deadline=1)


def test_tls_verifies_the_hosts_name_on_the_pinned_address(receiver, tls):
    ca_file, serve = tls
    serve(receiver, "localhost")
    port = receiver.server_address[1]
    url = f"https://localhost:{port}/hooks/sayso"
    status = outbound.post(url, BODY, {}, allow_loopback=True, deadline=5, ca_file=ca_file)
    assert status == 204
    assert receiver.seen == [("/hooks/sayso", f"localhost:{port}", BODY)]


def test_a_certificate_for_another_name_is_a_tls_error(receiver, tls):
    ca_file, serve = tls
    serve(receiver, "other.example")
    url = f"https://localhost:{receiver.server_address[1]}/hooks/sayso"
    with pytest.raises(outbound.Failed, match="TLS error"):
        outbound.post(url, BODY, {}, allow_loopback=True, deadline=5, ca_file=ca_file)
    assert receiver.seen == []


def test_a_certificate_from_an_unknown_authority_is_a_tls_error(receiver, tls):
    _ca_file, serve = tls
    serve(receiver, "localhost")
    url = f"https://localhost:{receiver.server_address[1]}/hooks/sayso"
    with pytest.raises(outbound.Failed, match="TLS error"):
        outbound.post(url, BODY, {}, allow_loopback=True, deadline=5)  # the public CAs


@pytest.fixture
def dripping():
    """A server that reads the request, then answers one byte every 0.1 s, for ever."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000:
                if stop.wait(0.1):
                    return
                try:
                    connection.send(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


def test_one_deadline_bounds_the_whole_exchange(dripping):
    # Every read gets a byte well within any per-read timeout; only a deadline ends it.
    began = time.monotonic()
    with pytest.raises(outbound.Failed, match="timed out"):
        outbound.post(f"http://127.0.0.1:{dripping}/x", BODY, {}, allow_loopback=True, deadline=1)
    assert time.monotonic() - began < 5  # not the 17 s the status line would take


def test_nothing_listening_is_could_not_connect():
    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}/x"
        with pytest.raises(outbound.Failed, match="could not connect"):
            outbound.post(url, BODY, {}, allow_loopback=True, deadline=2)


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "https:///x", "https://h:99999/x"])
def test_what_is_not_an_http_url_is_an_invalid_url(url):
    with pytest.raises(outbound.Failed, match="invalid URL"):
        outbound.post(url, BODY, {}, allow_loopback=True, deadline=1)
