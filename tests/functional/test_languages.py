"""Languages, through HTTP: which language a page is in (Accept-Language, the picker's
cookie, the account's remembered choice), ``<html lang>``, a French consent page and
error page, and an email in the recipient's language."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.models import Account
from tests.helpers import PASSWORD, csrf_token, emailed, log_in, sign_up
from tests.oauth_helpers import authorize_url, make_brand, pkce

FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def _lang(response) -> str:
    found = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert found, "every page says its language"
    return found.group(1)


def _text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).split())


def _choose(client, language: str, next_url: str = "/"):
    token = csrf_token(client, "/")
    return client.post(
        "/language", data={"language": language, "next": next_url, "csrf_token": token}
    )


def test_english_by_default_and_for_unknown_languages(client):
    assert _lang(client.get("/")) == "en"
    answer = client.get("/signup", headers={"Accept-Language": "ja, es;q=0.8"})
    assert _lang(answer) == "en"
    assert "Create your Sayso account" in _text(answer)


@pytest.mark.parametrize(
    ("header", "lang", "words"),
    [
        ("fr-CA,fr;q=0.9", "fr", "Créez votre compte Sayso"),
        ("de-DE,de;q=0.9,en;q=0.5", "de", "Erstellen Sie Ihr Sayso-Konto"),
        ("es, de;q=0.7, fr;q=0.5", "de", "Erstellen Sie Ihr Sayso-Konto"),
        ("en-GB, fr;q=0.9", "en", "Create your Sayso account"),
    ],
)
def test_accept_language_chooses_the_best_of_english_french_german(client, header, lang, words):
    answer = client.get("/signup", headers={"Accept-Language": header})
    assert _lang(answer) == lang
    assert words in _text(answer)


def test_the_picker_works_without_javascript_and_beats_accept_language(client):
    page = client.get("/signup").get_data(as_text=True)
    assert 'action="/language"' in page and 'value="fr" lang="fr"' in page
    chosen = _choose(client, "de", "/signup?next=/oauth/authorize%3Fx%3D1")
    assert chosen.status_code == 302
    assert chosen.headers["Location"] == "/signup?next=/oauth/authorize%3Fx%3D1"
    answer = client.get("/signup", headers=FRENCH)
    assert _lang(answer) == "de"
    assert "Erstellen Sie Ihr Sayso-Konto" in _text(answer)


def test_the_picker_refuses_other_languages_and_offsite_returns(client):
    answer = _choose(client, "xx", "https://evil.example/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert _lang(client.get("/")) == "en"
    token = csrf_token(client, "/")
    without_csrf = client.post("/language", data={"language": "fr"})
    assert without_csrf.status_code == 400
    assert token


def test_the_picker_never_echoes_an_offsite_next(client):
    page = client.get("/login", query_string={"next": "https://evil.example/"})
    assert "evil.example" not in page.get_data(as_text=True)


def test_a_signed_in_choice_is_remembered_on_the_account(app, client):
    sign_up(client, "ada@example.org")
    _choose(client, "fr")
    with app.app_context():
        account = db.session.scalars(select(Account)).one()
        assert account.language == "fr"
    # Another browser, which asks for German: the account's choice wins once signed in.
    other = app.test_client()
    log_in(other, "ada@example.org")
    answer = other.get("/account/sessions", headers={"Accept-Language": "de"})
    assert _lang(answer) == "fr"
    assert "Se déconnecter" in _text(answer)


def test_an_error_page_is_in_the_reader_s_language(client):
    answer = client.get("/no-such-page", headers=FRENCH)
    assert answer.status_code == 404
    assert _lang(answer) == "fr"
    assert "Nous n\u2019avons pas trouvé cette page" in _text(answer)
    # The API's JSON message stays English (read by developers).
    api = client.get("/api/v1/no-such-thing", headers=FRENCH)
    assert api.status_code == 404 and "not found" in api.get_json()["message"].lower()


def test_form_errors_are_in_the_reader_s_language(client):
    token = csrf_token(client, "/signup")
    answer = client.post(
        "/signup",
        data={"email": "not an address", "password": "short", "csrf_token": token},
        headers=FRENCH,
    )
    text = _text(answer)
    assert "Veuillez corriger ceci" in text
    assert "Écrivez une adresse e-mail, comme ada@example.org." in text
    assert "Utilisez de 10 à 256 caractères." in text


def test_the_consent_page_in_french(runner, client):
    brand = make_brand(runner, scopes={"interests:read": "recommander des livres"})
    sign_up(client, "ada@example.org")
    _choose(client, "fr")
    answer = client.get(authorize_url(brand, scope="interests:read", challenge=pkce()[1]))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    text = _text(answer)
    assert _lang(answer) == "fr"
    assert "Bookshop vous demande votre accord" in text
    assert "Centres d\u2019intérêt" in text
    assert "Autoriser la sélection" in text and "Refuser" in text
    assert "Bookshop indique l\u2019utiliser pour : « recommander des livres »" in text
    assert "Allow selected" not in text


def test_the_confirmation_email_is_in_the_language_of_the_sign_up(app, client):
    token = csrf_token(client, "/signup")
    form = {"email": "zoe@example.org", "password": PASSWORD, "csrf_token": token}
    answer = client.post("/signup", data=form, headers=FRENCH)
    assert "Consultez vos e-mails" in _text(answer)
    (message,) = emailed(app, "zoe@example.org")
    assert message["Subject"] == "Confirmez votre adresse e-mail pour Sayso"
    body = message.get_content()
    assert "Bonjour," in body and "/account/confirm/" in body
    assert "Hello" not in body


def test_an_email_follows_the_account_s_language_not_the_request_s(app, client):
    sign_up(client, "ada@example.org")
    _choose(client, "de")
    other = app.test_client()
    token = csrf_token(other, "/account/forgot")
    other.post(
        "/account/forgot",
        data={"email": "ada@example.org", "csrf_token": token},
        headers=FRENCH,
    )
    newest = emailed(app, "ada@example.org")[-1]
    assert newest["Subject"] == "Setzen Sie Ihr Sayso-Passwort zurück"
    assert "Guten Tag," in newest.get_content()


def test_dates_are_written_for_the_locale(app):
    from datetime import UTC, datetime

    moment = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    shown = {}
    for language in ("en", "fr", "de"):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            template = app.jinja_env.from_string(
                "{{ moment|date_local('long') }} {{ 1234.5|number }}"
            )
            shown[language] = template.render(moment=moment)
    assert shown["en"] == "March 5, 2026 1,234.5"
    assert shown["fr"] == "5 mars 2026 1\u202f234,5"
    assert shown["de"] == "5. März 2026 1.234,5"


# A purpose per language: registration's sayso_purposes#fr (RFC 7591 language tags) ---------

TRANSLATED = {
    "client_name": "Bookshop app",
    "redirect_uris": ["https://shop.bookshop.example/callback"],
    "scope": "interests:read channels:read",
    "sayso_purposes": {
        "interests:read": "recommend books you will like",
        "channels:read": "email you no more often than you allow",
    },
    "sayso_purposes#fr": {
        "interests:read": "vous recommander des livres",
        "channels:read": "vous écrire pas plus souvent que vous ne l\u2019acceptez",
    },
    "sayso_purposes#de": {"interests:read": "Ihnen Bücher empfehlen"},
}


def _registered(runner, client, body) -> dict:
    brand = make_brand(runner)
    result = runner.invoke(args=["brands", "initial-token", brand["brand_id"]])
    token = result.output.strip()
    answer = client.post("/oauth/register", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return {**answer.get_json(), "redirect_uri": body["redirect_uris"][0]}


def test_a_brand_registers_its_purposes_per_language(runner, client, app):
    registered = _registered(runner, app.test_client(), TRANSLATED)
    assert registered["sayso_purposes#fr"] == TRANSLATED["sayso_purposes#fr"]
    assert registered["sayso_purposes#de"] == TRANSLATED["sayso_purposes#de"]
    sign_up(client, "ada@example.org")
    url = authorize_url(registered, scope="interests:read channels:read", challenge=pkce()[1])

    _choose(client, "fr")
    french = _text(client.get(url))
    assert "Bookshop indique l\u2019utiliser pour : « vous recommander des livres »" in french
    assert "recommend books you will like" not in french
    assert "pas rédigé tous ses objectifs" not in french

    _choose(client, "de")
    german = _text(client.get(url))
    assert "Ihnen Bücher empfehlen" in german  # the one German purpose
    assert "email you no more often than you allow" in german  # the other, in its own words
    assert "nicht alle seine Zwecke in Ihrer Sprache" in german

    _choose(client, "en")
    english = _text(client.get(url))
    assert "recommend books you will like" in english
    assert "has not written all its purposes" not in english


@pytest.mark.parametrize(
    "member",
    [
        {"sayso_purposes#es": {"interests:read": "recomendarle libros"}},
        {"sayso_purposes#fr": {"answers:read": "lire vos réponses"}},
        {"sayso_purposes#fr": {"interests:read": "x"}},
        {"sayso_purposes#fr": ["vous recommander des livres"]},
    ],
)
def test_a_purpose_in_another_language_is_checked(runner, app, member):
    body = {**TRANSLATED, **member}
    body.pop("sayso_purposes#de")
    brand = make_brand(runner, name="Other", domain="other.example")
    token = runner.invoke(args=["brands", "initial-token", brand["brand_id"]]).output.strip()
    answer = app.test_client().post(
        "/oauth/register", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid_client_metadata"
