"""Webhooks never go to internal addresses (server-side request forgery)."""

import pytest
from marshmallow import ValidationError

from sayso.schemas.brands import ClientSchema
from sayso.services.webhooks import refused_destination


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "http://127.0.0.1:9/hook",
        "https://localhost/hook",
    ],
)
def test_internal_destinations_are_refused(url):
    assert refused_destination(url, allow_loopback=False)


def test_loopback_only_while_developing():
    assert refused_destination("http://127.0.0.1:9/hook", allow_loopback=True) is None
    assert refused_destination("https://10.0.0.1/hook", allow_loopback=True)


def test_public_addresses_pass():
    assert refused_destination("https://93.184.215.14/hook", allow_loopback=False) is None


@pytest.mark.parametrize(
    "webhook", ["https://169.254.169.254/x", "https://10.0.0.1/x", "https://[::ffff:10.0.0.1]/x"]
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
