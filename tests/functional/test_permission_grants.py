"""Permissions (contacts:write, answers:read) are granted, looked up and revoked like fields."""

from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import connect, make_brand

SCOPES = {
    "interests:read": "recommend books by authors you like",
    "contacts:write": "tell Sayso each time we email you",
    "answers:read": "read your answers to our questions",
}


def test_a_permission_is_revoked_through_the_api_like_a_field(client, runner):
    brand = make_brand(runner, scopes=SCOPES)
    sign_up(client, "ada@example.org")
    connect(client, brand, ["interests", "contacts"], scope=" ".join(SCOPES))
    response = client.delete(
        f"/api/v1/me/grants/{brand['brand_id']}/contacts", headers=api_headers(client)
    )
    assert response.status_code == 200
    assert response.get_json() == {"revoked": {brand["brand_id"]: ["contacts"]}}
    (entry,) = client.get("/api/v1/me/grants").get_json()
    active = {g["field"] for g in entry["grants"] if g["active"]}
    assert active == {"interests"}


def test_lookup_lists_permissions_with_their_purposes_and_the_toggle_grants_them(client, runner):
    brand = make_brand(runner, scopes=SCOPES)
    found = client.get("/api/v1/brands/lookup?domain=bookshop.example").get_json()
    assert {f["field"]: f["purpose"] for f in found["fields"]} == {
        "interests": SCOPES["interests:read"],
        "contacts": SCOPES["contacts:write"],
        "answers": SCOPES["answers:read"],
    }
    sign_up(client, "ada@example.org")
    response = client.post(
        f"/api/v1/me/grants/{brand['brand_id']}/answers", headers=api_headers(client)
    )
    assert response.status_code == 200
    (entry,) = client.get("/api/v1/me/grants").get_json()
    assert [g["field"] for g in entry["grants"] if g["active"]] == ["answers"]
