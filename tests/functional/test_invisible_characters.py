"""Invisible and direction-changing characters are refused wherever a person later reads
the text (fields.plain_text): a brand's client names, purposes, questions and their
reasons, and consumers' free text. The refusal names the character and where it is."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sayso.extensions import db
from sayso.models import Answer, OAuthClient, Question
from tests.helpers import api_headers, csrf_token, sign_up
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand
from tests.portal_helpers import client_form, member_of

SCOPES = {**ALL_SCOPES, "answers:read": "tell you when your favourite authors publish"}

# (character, how the message names it)
HIDDEN = [
    ("\u202e", "an invisible right-to-left override (U+202E)"),
    ("\u202a", "an invisible left-to-right embedding (U+202A)"),
    ("\u2066", "an invisible left-to-right isolate (U+2066)"),
    ("\u2069", "an invisible pop directional isolate (U+2069)"),
    ("\u200e", "an invisible left-to-right mark (U+200E)"),
    ("\u200f", "an invisible right-to-left mark (U+200F)"),
    ("\u061c", "an invisible arabic letter mark (U+061C)"),
    ("\u200b", "an invisible zero width space (U+200B)"),
    ("\u200d", "an invisible zero width joiner (U+200D)"),
    ("\u2060", "an invisible word joiner (U+2060)"),
    ("\ufeff", "an invisible zero width no-break space (U+FEFF)"),
    ("\u00ad", "an invisible soft hyphen (U+00AD)"),
    ("\U000e0041", "an invisible tag latin capital letter a (U+E0041)"),
    ("\u3164", "an invisible hangul filler (U+3164)"),
    ("\u2028", "a line separator (U+2028)"),
    ("\x1b", "a control character (U+001B)"),
]
IDS = [f"U+{ord(c):04X}" for c, _ in HIDDEN]


@pytest.fixture
def brand(runner):
    return make_brand(runner, scopes=SCOPES)


@pytest.fixture
def member(app, brand):
    return member_of(app, brand["brand_id"])


def ask_text_question(app, member) -> int:
    """A published text question of the member's brand; its id."""
    form = {
        "csrf_token": csrf_token(member, "/portal/questions"),
        "kind": "text",
        "prompt": "Which authors should we tell you about?",
        "purpose": "email you when their next book is out",
    }
    assert member.post("/portal/questions", data=form).status_code == 302
    with app.app_context():
        question_id = db.session.scalar(select(Question.id))
    token = csrf_token(member, "/portal/questions")
    published = member.post(f"/portal/questions/{question_id}/publish", data={"csrf_token": token})
    assert published.status_code == 302
    return question_id


def clients(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OAuthClient))


@pytest.mark.parametrize(("char", "named"), HIDDEN, ids=IDS)
def test_dynamic_registration_refuses_them_in_the_client_name_and_purposes(
    app, client, runner, brand, char, named
):
    token = runner.invoke(args=["brands", "initial-token", brand["brand_id"]]).output.strip()
    # "Bookshop" then the character at position 9: a brand's name that reads otherwise.
    for body, where in (
        ({"client_name": f"Bookshop{char}pohskooB"}, "client_name"),
        ({"sayso_purposes": {"interests:read": f"recommend books{char}"}}, "sayso_purposes"),
    ):
        document = {
            "client_name": "Bookshop",
            "redirect_uris": ["https://shop.example/cb"],
            "sayso_purposes": {"interests:read": "recommend books"},
            **body,
        }
        response = client.post("/oauth/register", json=document, headers=bearer(token))
        assert response.status_code == 400
        error = response.get_json()
        assert error["error"] == "invalid_client_metadata"
        position = 9 if where == "client_name" else 16
        assert where in error["error_description"]
        assert f"Contains {named} at position {position}." in error["error_description"]
    assert clients(app) == 1


@pytest.mark.parametrize(("char", "named"), HIDDEN[:4], ids=IDS[:4])
def test_the_portal_refuses_them_in_a_client_name_and_says_which_and_where(
    app, member, char, named
):
    form = client_form(member, name=f"Shop{char}")
    response = member.post("/portal/clients/new", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"Contains {named} at position 5." in html
    assert clients(app) == 1


@pytest.mark.parametrize(
    "names",
    [["Shop\u202epohS"], ["Shop", "--client-name", "Shop\u202epohS"]],
    ids=["brand", "client"],
)
def test_the_cli_refuses_them_in_a_brand_s_and_a_client_s_name(app, runner, names):
    result = runner.invoke(
        args=[
            *("brands", "create", *names),
            *("--domain", "shop.example", "--redirect-uri", "https://shop.example/cb"),
            *("--scope", "interests:read=recommend books"),
        ]
    )
    assert result.exit_code != 0
    assert "right-to-left override (U+202E) at position 5" in result.output
    assert clients(app) == 0


@pytest.mark.parametrize("field", ["prompt", "purpose", "why", "options"])
@pytest.mark.parametrize(("char", "named"), [HIDDEN[0], HIDDEN[7]], ids=[IDS[0], IDS[7]])
def test_the_portal_refuses_them_in_questions_their_reasons_and_choices(
    app, member, field, char, named
):
    form = {
        "csrf_token": csrf_token(member, "/portal/questions"),
        "kind": "single",
        "prompt": "Which authors?",
        "purpose": "tell you about new books",
        "why": "so we write only when it matters",
        "options": "Atwood\nChabon",
        field: f"Atwood{char}\nChabon" if field == "options" else f"Which{char} authors?",
    }
    response = member.post("/portal/questions", data=form)
    assert response.status_code == 422
    assert f"Contains {named} at position {7 if field == 'options' else 6}." in (
        response.get_data(as_text=True)
    )
    with app.app_context():
        assert db.session.scalars(select(Question)).all() == []


@pytest.mark.parametrize(("char", "named"), HIDDEN, ids=IDS)
def test_consumers_free_text_interests_refuse_them(client, char, named):
    sign_up(client, "ada@example.org")
    response = client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": "crime fiction"}, {"text": f"poetry{char}"}]},
        headers=api_headers(client),
    )
    assert response.status_code == 422
    assert response.get_json()["fields"] == {
        "interests": {"1": {"text": [f"Contains {named} at position 7."]}}
    }


@pytest.mark.parametrize(("char", "named"), [HIDDEN[0], HIDDEN[5], HIDDEN[10]])
def test_consumers_text_answers_refuse_them_on_the_page_and_in_the_api(
    app, brand, member, char, named
):
    question_id = ask_text_question(app, member)
    consumer = app.test_client()
    sign_up(consumer, "ada@example.org")
    connect(consumer, brand, ["interests"], scope="interests:read")
    token = csrf_token(consumer, "/questions")
    page = consumer.post(
        f"/questions/{question_id}", data={"csrf_token": token, "answer": f"Atwood{char}"}
    )
    assert page.status_code == 422
    assert f"Contains {named} at position 7." in page.get_data(as_text=True)
    api = consumer.put(
        f"/api/v1/me/questions/{question_id}",
        json={"answer": f"{char}Atwood"},
        headers=api_headers(consumer),
    )
    assert api.status_code == 422
    assert f"Contains {named} at position 1." in str(api.get_json())
    with app.app_context():
        assert db.session.scalars(select(Answer)).all() == []


@pytest.mark.parametrize(
    "text",
    [
        "café, 中文, مرحبا, עברית",  # right-to-left scripts need no control characters
        "Ω≈ç√∫ 🙂",
        'O\'Reilly & Sons \u2013 "quoted"',
    ],
)
def test_ordinary_text_in_any_script_is_accepted(client, text):
    sign_up(client, "ada@example.org")
    response = client.put(
        "/api/v1/me/disclosures",
        json={"interests": [{"text": text[:64]}]},
        headers=api_headers(client),
    )
    assert response.status_code == 200, response.get_json()
