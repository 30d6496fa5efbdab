"""Webhooks never go to internal addresses (server-side request forgery)."""

import ipaddress
import socket

import pytest
from marshmallow import ValidationError

from sayso import outbound
from sayso.schemas.brands import ClientSchema

# IPv6 addresses that carry 169.254.169.254 (the cloud metadata endpoint) or 10.0.0.1.
EMBEDDING = [
    "64:ff9b::a9fe:a9fe",  # NAT64, well-known prefix
    "64:ff9b::10.0.0.1",
    "::ffff:0:a9fe:a9fe",  # SIIT (IPv4-translated)
    "2002:a9fe:a9fe::",  # 6to4
    "2002:a00:1::1",
    "::a9fe:a9fe",  # IPv4-compatible
    "::ffff:a9fe:a9fe",  # IPv4-mapped
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo: client 169.254.169.254 (XOR ffffffff)
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # Teredo through a server at 10.0.0.1
]
# Multicast, reserved, documentation and other special-purpose ranges Python's is_global
# calls global, or that are no public unicast destination.
NOT_PUBLIC = [
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.10",  # documentation
    "198.51.100.10",
    "203.0.113.10",
    "198.18.0.1",  # benchmarking
    "192.88.99.1",  # 6to4 relay anycast
    "[ff0e::1]",  # multicast, global scope
    "[2001:db8::1]",  # documentation
    "[3fff::1]",
    "[fec0::1]",  # site-local
    "[64:ff9b:1::a9fe:a9fe]",  # NAT64 local-use prefix
    "[5f00::1]",  # SRv6
    "[100::1]",  # discard
    "[2001:2::1]",  # benchmarking
]


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "http://127.0.0.1:9/hook",
        "https://localhost/hook",
        "https://167772161/hook",  # 10.0.0.1, spelled as one number
        "https://0xa9fea9fe/hook",  # 169.254.169.254 in hex
        *(f"https://{host}/hook" for host in [*(f"[{a}]" for a in EMBEDDING), *NOT_PUBLIC]),
    ],
)
def test_internal_destinations_are_refused_before_connecting(url):
    with pytest.raises(outbound.Refused):
        outbound.post(url, b"{}", {}, allow_loopback=False, deadline=2)


@pytest.mark.parametrize(
    ("address", "allow_loopback", "allowed"),
    [
        ("93.184.215.14", False, True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),  # while developing
        ("::1", True, True),
        ("10.0.0.1", True, False),
        ("100.64.0.1", False, False),  # carrier-grade NAT
        # An embedded IPv4 address is judged as itself: public ones may be reached.
        ("64:ff9b::8.8.8.8", False, True),
        ("2002:808:808::1", False, True),
        ("::ffff:8.8.8.8", False, True),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False, True),  # Teredo client 8.8.8.8
        ("::ffff:127.0.0.1", True, True),  # loopback, while developing
        ("::ffff:127.0.0.1", False, False),
        ("::", True, False),
        *((address, True, False) for address in EMBEDDING),
        *((address.strip("[]"), False, False) for address in NOT_PUBLIC),
    ],
)
def test_only_public_addresses_are_allowed_and_loopback_while_developing(
    address, allow_loopback, allowed
):
    assert outbound.allowed(ipaddress.ip_address(address), allow_loopback) is allowed


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("10.1", "10.0.0.1"),
        ("167772161", "10.0.0.1"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("[::1]", "::1"),
        ("bookshop.example", None),  # a name: not looked up
    ],
)
def test_every_spelling_of_an_address_is_read_as_one(host, address):
    literal = outbound.literal_address(host)
    assert (str(literal) if literal else None) == address


@pytest.mark.parametrize(
    "webhook",
    [
        "https://169.254.169.254/x",
        "https://10.0.0.1/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://167772161/x",
        "https://0xa9fea9fe/x",
        "https://10.1/x",
        "https://0251.0376.0251.0376/x",
        *(f"https://[{a}]/x" for a in EMBEDDING),
        *(f"https://{host}/x" for host in NOT_PUBLIC),
    ],
)
def test_registration_refuses_internal_webhook_addresses(webhook):
    body = {
        "name": "Shop",
        "redirect_uris": ["https://shop.example/cb"],
        "scope_purposes": {"interests:read": "recommend things"},
        "webhook_url": webhook,
    }
    with pytest.raises(ValidationError) as exc:
        ClientSchema(allow_http_loopback=True).load(body)
    assert "webhook_url" in exc.value.messages


@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "ff02::1"])
def test_a_name_that_resolves_to_an_embedded_or_multicast_address_is_refused(monkeypatch, address):
    # What a DNS64 resolver, or a brand's own AAAA record, answers at delivery time.
    def getaddrinfo(host, port, *args, **kwargs):
        assert host == "hooks.example"
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(outbound.Refused):
        outbound.post("https://hooks.example/x", b"{}", {}, allow_loopback=False, deadline=1)
