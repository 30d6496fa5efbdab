"""The brand portal and the "About me" summaries in French (and one German check): form
errors, dates, the dashboard's chart, translated purposes from the client form, region
names, the interests page's words for its script."""

from __future__ import annotations

import html
import re

import pytest

from tests.functional.test_languages import _choose, _lang, _text
from tests.helpers import api_headers, sign_up
from tests.oauth_helpers import authorize_url, make_brand, pkce
from tests.portal_helpers import client_form, client_row, member_of, shown


@pytest.fixture
def brand(runner):
    return make_brand(runner)


@pytest.fixture
def member(app, brand):
    member = member_of(app, brand["brand_id"])
    _choose(member, "fr", "/portal")
    return member


def _register(member, **overrides):
    return member.post("/portal/clients/new", data=client_form(member, **overrides))


def test_portal_form_errors_are_in_french(member):
    answer = _register(member, name="Book\u202eshop", redirect_uris="", scope=[])
    assert answer.status_code == 422 and _lang(answer) == "fr"
    text = _text(answer)
    assert "Indiquez une à dix URI de redirection, une par ligne." in text
    assert "Cochez au moins une donnée à demander et indiquez une finalité pour chacune." in text
    assert "Nom : Contient un caractère invisible (U+202E) à la position 5" in text
    assert "Give one to ten" not in text

    short = _text(_register(member, **{"purpose_interests:read": "x"}))
    assert "Indiquez la finalité pour Centres d\u2019intérêt (interests:read)" in short


def test_the_portal_refuses_a_non_member_in_french(client):
    sign_up(client, "ada@example.org")
    _choose(client, "fr")
    refused = client.get("/portal")
    assert refused.status_code == 403
    assert "Le portail des marques est réservé aux personnes" in _text(refused)


def test_portal_dates_are_written_in_french_and_say_utc(app, member):
    created = _register(member)
    assert created.status_code == 201
    client_id = shown(created.get_data(as_text=True), "ID du client")
    page = _text(member.get(f"/portal/clients/{client_id}"))
    month = r"(janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)\.?"
    assert re.search(rf"Créé \d{{1,2}} {month} \d{{4}} \d\d:\d\d UTC", page), page
    assert not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page)


def test_the_dashboard_chart_speaks_french_and_german(app, member):
    client_id = shown(_register(member).get_data(as_text=True), "ID du client")
    french = member.get(f"/portal/clients/{client_id}/dashboard").get_data(as_text=True)
    assert ">lectures</text>" in french and ">erreurs</text>" in french
    assert "<strong>0</strong> lecture · <strong>0</strong> erreur" in french
    _choose(member, "de", "/portal")
    german = member.get(f"/portal/clients/{client_id}/dashboard").get_data(as_text=True)
    assert ">Abrufe</text>" in german and ">Fehler</text>" in german


def test_translated_purposes_from_the_client_form_reach_the_consent_page(app, member, client):
    created = _register(
        member,
        **{
            "purpose_fr_interests:read": "vous recommander des livres",
            "purpose_de_interests:read": "Ihnen Bücher empfehlen",
            "purpose_fr_webhook_url:read": "ignored: not a ticked scope",
        },
    )
    assert created.status_code == 201, _text(created)
    client_id = shown(created.get_data(as_text=True), "ID du client")
    row = client_row(app, client_id)
    assert row.purpose_translations == {
        "fr": {"interests:read": "vous recommander des livres"},
        "de": {"interests:read": "Ihnen Bücher empfehlen"},
    }
    page = member.get(f"/portal/clients/{client_id}").get_data(as_text=True)
    assert '<span lang="fr">vous recommander des livres</span>' in page
    assert '<span lang="de">Ihnen Bücher empfehlen</span>' in page

    registered = {"client_id": client_id, "redirect_uri": "https://shop.bookshop.example/callback"}
    sign_up(client, "ada@example.org")
    _choose(client, "fr")
    url = authorize_url(registered, scope="interests:read", challenge=pkce()[1])
    consent = _text(client.get(url))
    assert "« vous recommander des livres »" in consent


def test_a_translated_purpose_is_checked_like_the_brand_s_own(member):
    answer = _register(member, **{"purpose_fr_interests:read": "vous\u202erecommander"})
    assert answer.status_code == 422
    text = _text(answer)
    assert "Écrivez la finalité en français pour Centres d\u2019intérêt (interests:read)" in text
    assert 'name="purpose_fr_interests:read" value="vous' in answer.get_data(as_text=True)


def test_about_me_summaries_and_regions_are_in_french(client):
    sign_up(client, "ada@example.org")
    values = {
        "age_band": "65+",
        "location": {"country": "DE", "region": "DE-BY"},
        "languages": ["de"],
        "household_size": "1",
        "hear_about": {"kinds": ["new_releases"], "new_releases_of": ["Michael Chabon"]},
    }
    for field, value in values.items():
        answer = client.put(
            f"/api/v1/me/disclosures/{field}", json={"value": value}, headers=api_headers(client)
        )
        assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    _choose(client, "fr")
    text = _text(client.get("/disclosures"))
    assert "65 ans ou plus" in text and "Moi seul" in text
    assert "Bavière, Allemagne" in text
    assert "allemand" in text
    assert "Nouveautés de Michael Chabon" in text
    edit = client.get("/disclosures/about").get_data(as_text=True)
    assert ">Bavière</option>" in edit

    _choose(client, "de")
    german = client.get("/disclosures/about").get_data(as_text=True)
    assert ">Bayern</option>" in german


def test_the_interests_script_gets_its_words_from_the_page(client):
    sign_up(client, "ada@example.org")
    _choose(client, "fr")
    page = client.get("/disclosures/interests").get_data(as_text=True)
    offline = re.search(r'data-offline="([^"]+)"', page)
    assert offline and html.unescape(offline.group(1)) == (
        "Impossible de joindre Sayso. Vérifiez votre connexion et réessayez."
    )
