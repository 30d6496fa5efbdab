"""Requests Sayso itself makes to brands' servers (webhooks): to checked addresses only,
each bounded by one deadline.

A brand chooses the URL, so a careless check would let it make Sayso call an internal
service or a cloud metadata endpoint (server-side request forgery). Here the host is
resolved once, every address it resolves to is checked, and the connection goes to a
checked address while TLS and the ``Host`` header still name the host: a name that
answers a public address to the check and an internal one to the connection (DNS
rebinding) gets nowhere. And a brand's server cannot hold the worker: the whole exchange,
from connecting to the status line, has one deadline, however slowly it answers.

Hand-written on the standard library (socket, ssl, http.client) because the well-kept
clients do neither: requests and urllib3 resolve the name again when they connect, and
their timeouts apply to each read, so a server sending a byte every second never times
out. Nothing here follows redirects, reads the response body, keeps cookies or reads
proxy settings, credentials or CA bundles from the environment.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

import certifi

NOT_PUBLIC = "destination address not allowed (not a public address)"


class Refused(Exception):
    """Sayso will not send there; the message says why, and is safe to store."""


class Failed(Exception):
    """The request did not get a status line; the message is short and names no URL."""


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, in any form the resolver accepts as a number
    (``10.1``, ``167772161``, ``0xa9fea9fe``, octal, ``[::1]``), or None for a name.
    Never asks DNS."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(infos[0][4][0].split("%")[0])


# IPv6 forms whose last 32 bits are an IPv4 address: SIIT (RFC 6145), the NAT64
# well-known prefix (RFC 6052) and the deprecated IPv4-compatible form (RFC 4291), which
# also holds :: and ::1 (0.0.0.0 and 0.0.0.1: refused, unless loopback is allowed).
_CARRYING_LOW_32_BITS = tuple(
    ipaddress.IPv6Network(n) for n in ("::ffff:0:0:0/96", "64:ff9b::/96", "::/96")
)
# Everything outside 2000::/3 is reserved, multicast, link-local, unique-local, site-local,
# discard, NAT64 local-use (64:ff9b:1::/48, whose embedded address cannot be found) or
# SRv6 (5f00::/16): none of it is a public unicast destination.
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2001::/23",  # IETF protocol assignments: benchmarking, ORCHID, AMT... (Teredo above)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
    )
)
_NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # this network (0.0.0.0 reaches the host itself)
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 (broadcast)
    )
)


def allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> bool:
    """Whether Sayso may send to ``address``: a public unicast address, or loopback while
    developing. The one decision for webhooks, at registration and on every delivery.

    An IPv6 address that carries an IPv4 one (mapped, SIIT, NAT64, 6to4, Teredo,
    IPv4-compatible) reaches that IPv4 address through a translator or tunnel, so it is
    judged by the IPv4 address (both of Teredo's): ``[64:ff9b::a9fe:a9fe]`` is the cloud
    metadata endpoint. Python's ``is_global`` is not enough on its own (it calls multicast,
    site-local and several reserved ranges global), so the IANA special-purpose ranges are
    listed here too.
    """
    if allow_loopback and address.is_loopback:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        carried = carried_ipv4(address)
        if carried is not None:
            return all(allowed(inner, allow_loopback) for inner in carried)
        return (
            address in _GLOBAL_UNICAST_V6
            and address.is_global
            and not any(address in network for network in _NOT_PUBLIC_V6)
        )
    return address.is_global and not any(address in network for network in _NOT_PUBLIC_V4)


def carried_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address stands for, in every standard form that embeds
    one; None for an address that embeds none."""
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return (address.ipv4_mapped,)
    if address.teredo is not None:  # 2001::/32: the server, and the client XOR 0xffffffff
        return address.teredo
    if address.sixtofour is not None:  # 2002:AABB:CCDD::/48
        return (address.sixtofour,)
    if any(address in prefix for prefix in _CARRYING_LOW_32_BITS):
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return None


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_loopback: bool,
    deadline: float,
    ca_file: str | None = None,
) -> int:
    """POST ``body`` to ``url`` and return the status code, within ``deadline`` seconds in
    all. Raises :class:`Refused` if the host resolves to any address that is not allowed,
    and :class:`Failed` if no status line came (unresolvable, refused, TLS, timed out)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise Failed("invalid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise Failed("invalid URL")
    port = port or (443 if parts.scheme == "https" else 80)
    exchange = _Exchange(deadline)
    try:
        candidates = _checked_addresses(host, port, allow_loopback)
        sock = exchange.connect(candidates)
        if parts.scheme == "https":
            context = _tls_context(ca_file or certifi.where())
            sock = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            exchange.holds(sock)
            sock.do_handshake()
            connection = http.client.HTTPSConnection(host, port, context=context)
        else:
            connection = http.client.HTTPConnection(host, port)
        connection.sock = sock  # connected already, to the checked address
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.close()  # the body is never read
        return response.status
    except (UnicodeError, http.client.InvalidURL):
        raise Failed("invalid URL") from None
    except (ssl.SSLError, ssl.CertificateError):
        raise Failed("timed out" if exchange.expired else "TLS error") from None
    except (OSError, http.client.HTTPException) as error:
        if exchange.expired or isinstance(error, TimeoutError):
            raise Failed("timed out") from None
        if isinstance(error, socket.gaierror):
            raise Failed("could not resolve the host") from None
        if isinstance(error, http.client.HTTPException):
            raise Failed("invalid response") from None
        raise Failed("could not connect") from None
    finally:
        exchange.finish()


@functools.lru_cache(maxsize=4)
def _tls_context(ca_file: str) -> ssl.SSLContext:
    """Certificates and names verified, against ``ca_file`` (read once, not per request)."""
    return ssl.create_default_context(cafile=ca_file)


def _checked_addresses(host: str, port: int, allow_loopback: bool) -> list[tuple]:
    """``(family, sockaddr)`` for every address ``host`` resolves to, once; all of them
    must be allowed, so an attacker cannot mix an internal address into a public set."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_ignored, sockaddr in infos:
        if not allowed(ipaddress.ip_address(sockaddr[0].split("%")[0]), allow_loopback):
            raise Refused(NOT_PUBLIC)
    return [(family, sockaddr) for family, *_ignored, sockaddr in infos]


class _Exchange:
    """One request's deadline: when it passes, the socket in use is shut down, which
    ends whatever read or write is waiting on it."""

    def __init__(self, deadline: float):
        self._ends_at = time.monotonic() + deadline
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._done = False
        self.expired = False
        self._timer = threading.Timer(deadline, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def connect(self, candidates: list[tuple]) -> socket.socket:
        """A socket connected to the first candidate that answers."""
        error: OSError = ConnectionRefusedError()
        for family, sockaddr in candidates:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(max(self._ends_at - time.monotonic(), 0.001))
            self.holds(sock)
            try:
                sock.connect(sockaddr)
                return sock
            except OSError as failure:
                error = failure
                sock.close()
                if self.expired:
                    break
        raise error

    def holds(self, sock: socket.socket) -> None:
        """``sock`` is the one to shut down at the deadline (or now, if it has passed)."""
        with self._lock:
            self._socket = sock
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._socket is not None:
                _shut(self._socket)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            sock, self._socket = self._socket, None
        self._timer.cancel()
        if sock is not None:
            sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected yet, or closed: nothing waits on it
        sock.shutdown(socket.SHUT_RDWR)
