"""Webhooks never go to internal addresses (server-side request forgery)."""

import ipaddress

import pytest
from marshmallow import ValidationError

from sayso import outbound
from sayso.schemas.brands import ClientSchema


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
