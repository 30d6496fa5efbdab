"""Brands ask, consumers answer: question kinds, validation, visibility, k-anonymity."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.ledger import EventType
from sayso.models import Answer, AuditEvent, Question
from sayso.taxonomy import topics
from tests.helpers import api_headers, csrf_token, sign_up
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand
from tests.portal_helpers import member_of

SCOPES = {**ALL_SCOPES, "answers:read": "tell you when your favourite authors publish"}
AUTHORS = "Michael Chabon\nMargaret Atwood\nTerry Pratchett"


@pytest.fixture
def brand(runner):
    return make_brand(runner, scopes=SCOPES)


@pytest.fixture
def member(app, brand):
    return member_of(app, brand["brand_id"])


def ask(app, member, kind="multiple", options=AUTHORS, publish=True, **extra) -> int:
    """Write a question in the portal (and publish it); its id."""
    form = {
        "csrf_token": csrf_token(member, "/portal/questions"),
        "kind": kind,
        "prompt": "Which authors should we tell you about?",
        "purpose": "email you when their next book is out",
        "why": "so we only write when it matters to you",
        "options": options if kind in ("single", "multiple") else "",
        **extra,
    }
    response = member.post("/portal/questions", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        question_id = db.session.scalar(select(Question.id).order_by(Question.id.desc()))
    if publish:
        token = csrf_token(member, "/portal/questions")
        response = member.post(
            f"/portal/questions/{question_id}/publish", data={"csrf_token": token}
        )
        assert response.status_code == 302
    return question_id


def new_consumer(app, email="ada@example.org"):
    client = app.test_client()
    sign_up(client, email)
    return client


def answer(consumer, question_id, value):
    token = csrf_token(consumer, "/questions")
    return consumer.post(f"/questions/{question_id}", data={"csrf_token": token, "answer": value})


def profile(consumer, token):
    response = consumer.get("/api/v1/profile", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


KINDS = [
    ("single", "Margaret Atwood", "Margaret Atwood"),
    ("multiple", ["Michael Chabon", "Terry Pratchett"], ["Michael Chabon", "Terry Pratchett"]),
    (
        "text",
        "Michael Chabon, and anything about Alaska",
        "Michael Chabon, and anything about Alaska",
    ),
    ("topics", ["100", "332"], [100, 332]),
]


@pytest.mark.parametrize(("kind", "given", "stored"), KINDS)
def test_each_kind_is_answered_and_read_back_only_with_answers_read(
    app, brand, member, kind, given, stored
):
    question_id = ask(app, member, kind)
    consumer = new_consumer(app)
    token = connect(consumer, brand, ["interests", "answers"], scope="interests:read answers:read")[
        "access_token"
    ]
    page = consumer.get("/questions").get_data(as_text=True)
    assert "Which authors should we tell you about?" in page
    assert "so we only write when it matters to you" in page

    response = answer(consumer, question_id, given)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert profile(consumer, token)["answers"] == {str(question_id): stored}
    with app.app_context():
        (row,) = db.session.scalars(select(Answer)).all()
        sealed = bytes(row.ciphertext)
    assert b"Chabon" not in sealed and b"Atwood" not in sealed  # sealed like disclosures


BAD = [
    ("single", "Leo Tolstoy"),
    ("single", ""),
    ("multiple", []),
    ("multiple", ["Michael Chabon", "Michael Chabon"]),
    ("multiple", ["Leo Tolstoy"]),
    ("text", ""),
    ("text", "   "),
    ("text", "x" * 281),
    ("text", "bell\x07"),
    ("text", "a lone\rcarriage return"),
    ("topics", []),
    ("topics", ["romance"]),
    ("topics", ["99999999"]),
    ("topics", [str(t) for t in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)]),
    ("topics", ["100", "100"]),
    ("topics", ["\u00b2"]),  # a digit to str.isdigit, not to int()
    ("topics", ["1" * 5000]),  # more digits than int() converts
]


@pytest.mark.parametrize(("kind", "bad"), BAD)
def test_bad_answers_are_refused_and_nothing_is_stored(app, brand, member, kind, bad):
    question_id = ask(app, member, kind)
    consumer = new_consumer(app)
    connect(consumer, brand, ["interests"], scope="interests:read")
    response = answer(consumer, question_id, bad)
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalars(select(Answer)).all() == []


@pytest.mark.parametrize(
    "typed",
    [
        "Michael Chabon\r\nMargaret Atwood",
        "Michael Chabon \r\n\r\nMargaret Atwood\r\n",
        "Michael Chabon\nMargaret Atwood",
    ],
    ids=["crlf", "blank-line", "lf"],
)
def test_a_text_answer_on_several_lines_is_saved_on_one(app, brand, member, typed):
    # A textarea posts its line breaks as CR LF: each becomes one space, not a refusal.
    question_id = ask(app, member, "text")
    consumer = new_consumer(app)
    token = connect(consumer, brand, ["interests", "answers"], scope="interests:read answers:read")
    response = answer(consumer, question_id, typed)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert profile(consumer, token["access_token"])["answers"] == {
        str(question_id): "Michael Chabon Margaret Atwood"
    }


def _section(html: str, question_id: int) -> str:
    start = html.index(f'id="question-{question_id}"')
    return html[start : html.index("</section>", start)]


ELEVEN_TOPICS = [t for t in topics() if t != 100][:11]
REFUSED = [
    (
        "text",
        "Margaret Atwood",
        "Michael Chabon\r\nbell\x07",
        "Michael Chabon\r\nbell\x07</textarea>",
    ),
    ("single", "Margaret Atwood", "Leo Tolstoy", None),
    (
        "multiple",
        ["Margaret Atwood"],
        ["Michael Chabon", "Michael Chabon"],
        'value="Michael Chabon" checked',
    ),
    (
        "topics",
        ["100"],
        [str(t) for t in ELEVEN_TOPICS],
        f'<option value="{ELEVEN_TOPICS[-1]}" selected>',
    ),
]


@pytest.mark.parametrize(("kind", "stored", "submitted", "shown"), REFUSED)
def test_a_refused_answer_comes_back_as_submitted_with_its_error_tied_to_it(
    app, brand, member, kind, stored, submitted, shown
):
    question_id = ask(app, member, kind)
    consumer = new_consumer(app)
    connect(consumer, brand, ["interests"], scope="interests:read")
    assert answer(consumer, question_id, stored).status_code == 302
    response = answer(consumer, question_id, submitted)
    assert response.status_code == 422
    section = _section(response.get_data(as_text=True), question_id)
    error_id = f"question-{question_id}-error"
    assert f'<ul class="errors" role="alert" id="{error_id}"' in section
    inputs = re.findall(r"<(?:input|textarea|select) [^>]*name=\"answer\"[^>]*>", section)
    assert inputs and all(f'aria-invalid="true" aria-describedby="{error_id}"' in i for i in inputs)
    # What was submitted, not the stored answer.
    if shown:
        assert shown in section
    if kind in ("single", "multiple"):
        assert 'value="Margaret Atwood" checked' not in section
    if kind == "topics":
        assert section.count(" selected>") == 11 and '<option value="100" selected>' not in section


@pytest.mark.parametrize("kind", ["single", "multiple"])
def test_choices_are_a_group_named_by_the_question(app, brand, member, kind):
    question_id = ask(app, member, kind)
    consumer = new_consumer(app)
    connect(consumer, brand, ["interests"], scope="interests:read")
    section = _section(consumer.get("/questions").get_data(as_text=True), question_id)
    fieldset = section[section.index("<fieldset") : section.index("</fieldset>")]
    # Named for screen readers; on screen the heading above already shows the question.
    assert (
        '<legend class="visually-hidden">Which authors should we tell you about?</legend>'
        in fieldset
    )
    assert fieldset.count('name="answer"') == 3
    assert "aria-invalid" not in section and 'role="alert"' not in section


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "single", "options": "Only one"},
        {"kind": "multiple", "options": "Same\nsame"},
        {"kind": "text", "options": "A\nB"},
        {"kind": "essay"},
        {"prompt": ""},
        {"purpose": "x"},
        {"prompt": "y" * 281},
        {"why": "because\x1b\x07"},  # shown to consumers: plain text only
    ],
)
def test_bad_questions_are_refused_in_the_portal(app, member, overrides):
    form = {
        "csrf_token": csrf_token(member, "/portal/questions"),
        "kind": "single",
        "prompt": "Which authors?",
        "purpose": "tell you about new books",
        "options": "A\nB",
        **overrides,
    }
    assert member.post("/portal/questions", data=form).status_code == 422
    with app.app_context():
        assert db.session.scalars(select(Question)).all() == []


def test_answering_is_optional_editable_and_removable(app, brand, member):
    question_id = ask(app, member, "single")
    consumer = new_consumer(app)
    token = connect(consumer, brand, ["interests", "answers"], scope="interests:read answers:read")[
        "access_token"
    ]
    assert profile(consumer, token)["answers"] == {}  # skipped: nothing
    assert answer(consumer, question_id, "Michael Chabon").status_code == 302
    assert answer(consumer, question_id, "Terry Pratchett").status_code == 302
    assert profile(consumer, token)["answers"] == {str(question_id): "Terry Pratchett"}
    token_ = csrf_token(consumer, "/questions")
    assert (
        consumer.post(f"/questions/{question_id}/clear", data={"csrf_token": token_}).status_code
        == 302
    )
    assert profile(consumer, token)["answers"] == {}
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.type.in_([str(EventType.ANSWER_SAVED), str(EventType.ANSWER_DELETED)])
            )
        ).all()
    assert len(events) == 3
    assert all("Chabon" not in e.details and "Pratchett" not in e.details for e in events)


def test_brands_see_only_their_own_questions_and_answers(app, runner, brand, member):
    mine = ask(app, member, "single")
    draft = ask(app, member, "text", publish=False)
    other = make_brand(runner, name="Garden", domain="garden.example", scopes=SCOPES)
    other_member = member_of(app, other["brand_id"], email="gil@garden.example")
    theirs = ask(app, other_member, "text")

    consumer = new_consumer(app)
    token = connect(consumer, brand, ["interests", "answers"], scope="interests:read answers:read")[
        "access_token"
    ]
    page = consumer.get("/questions").get_data(as_text=True)
    assert f"question-{mine}" in page
    assert f"question-{theirs}" not in page  # not granted anything: not asked
    assert f"question-{draft}" not in page  # a draft is not asked
    assert answer(consumer, theirs, "hello").status_code == 404
    assert answer(consumer, draft, "hello").status_code == 404

    other_token = connect(consumer, other, ["channels"], scope="channels:read")["access_token"]
    assert answer(consumer, mine, "Michael Chabon").status_code == 302
    assert answer(consumer, theirs, "roses").status_code == 302
    assert profile(consumer, token)["answers"] == {str(mine): "Michael Chabon"}
    # No answers:read grant: no answers at all, not even its own question's.
    assert "answers" not in profile(consumer, other_token)
    # Nor can another brand's member open the question in the portal.
    assert other_member.get(f"/portal/questions/{mine}").status_code == 404
    # Revoking answers stops them at once.
    path = f"/api/v1/me/grants/{brand['brand_id']}"
    revoke = consumer.delete(path, headers=api_headers(consumer))
    assert revoke.status_code == 200
    assert consumer.get("/api/v1/profile", headers=bearer(token)).status_code == 401


def test_aggregates_appear_only_once_k_consumers_answered(app, brand, member):
    question_id = ask(app, member, "single")
    picks = ["Michael Chabon"] * 6 + ["Margaret Atwood"] * 4
    for i, pick in enumerate(picks):
        consumer = new_consumer(app, f"reader{i}@example.org")
        connect(consumer, brand, ["interests"], scope="interests:read")
        assert answer(consumer, question_id, pick).status_code == 302
        page = member.get(f"/portal/questions/{question_id}").get_data(as_text=True)
        if i < 9:
            assert 'id="withheld"' in page and 'id="results"' not in page, i
            assert "Chabon</td>" not in page
    assert 'id="results"' in page
    assert '<td data-label="Answer">Michael Chabon</td><td data-label="People">6</td>' in page
    assert '<td data-label="Answer">Margaret Atwood</td><td data-label="People">4</td>' in page
    assert '<td data-label="Answer">Terry Pratchett</td><td data-label="People">0</td>' in page
    assert "reader" not in page  # never who answered what


def _small_k_brand(app_factory, k=3):
    """An app whose threshold is ``k``, a brand on it asking a single-choice question,
    and the brand's portal member; returns (app, brand, member, question id)."""
    app = app_factory(ANSWERS_K=k)
    brand = make_brand(app.test_cli_runner(), scopes=SCOPES)
    member = member_of(app, brand["brand_id"])
    return app, brand, member, ask(app, member, "single")


def _results(member, question_id) -> str | None:
    page = member.get(f"/portal/questions/{question_id}").get_data(as_text=True)
    if 'id="withheld"' in page:
        return None
    return re.findall(
        r'<td data-label="Answer">([^<]+)</td><td data-label="People">(\d+)</td>', page
    )


def test_answers_of_a_revoked_brand_stop_counting_and_can_still_be_removed(app_factory):
    app, brand, member, question_id = _small_k_brand(app_factory)
    readers = []
    for i in range(3):
        consumer = new_consumer(app, f"reader{i}@example.org")
        connect(consumer, brand, ["interests"], scope="interests:read")
        assert answer(consumer, question_id, "Margaret Atwood").status_code == 302
        readers.append(consumer)
    assert ("Margaret Atwood", "3") in _results(member, question_id)

    # One of them revokes the brand: their answer no longer feeds its results (two left:
    # below k, so withheld), and they can still remove it, on the page and in the API.
    leaver = readers[0]
    path = f"/api/v1/me/grants/{brand['brand_id']}"
    assert leaver.delete(path, headers=api_headers(leaver)).status_code == 200
    assert _results(member, question_id) is None
    page = leaver.get("/questions").get_data(as_text=True)
    assert 'id="answered-elsewhere"' in page and "Which authors" in page
    token = csrf_token(leaver, "/questions")
    cleared = leaver.post(f"/questions/{question_id}/clear", data={"csrf_token": token})
    assert cleared.status_code == 302
    assert 'id="answered-elsewhere"' not in leaver.get("/questions").get_data(as_text=True)
    again = leaver.delete(f"/api/v1/me/questions/{question_id}", headers=api_headers(leaver))
    assert again.status_code == 404  # nothing of theirs left to remove

    # Someone who never answered cannot reach a question of a brand they do not grant.
    stranger = new_consumer(app, "stranger@example.org")
    path = f"/api/v1/me/questions/{question_id}"
    assert stranger.delete(path, headers=api_headers(stranger)).status_code == 404


def test_totals_minus_the_answers_a_brand_reads_never_single_anyone_out(app_factory):
    # Two readers share their answers (answers:read), one does not. Totals over three
    # would meet k = 3, but minus the two answers the brand reads one by one they would
    # give the third's away: withheld until the answers it cannot read number k, or none.
    app, brand, member, question_id = _small_k_brand(app_factory)

    def reader(name, pick, fields):
        consumer = new_consumer(app, f"{name}@example.org")
        scope = " ".join(f"{f}:read" for f in fields)
        connect(consumer, brand, fields, scope=scope)
        assert answer(consumer, question_id, pick).status_code == 302
        return consumer

    reader("sharer1", "Michael Chabon", ["interests", "answers"])
    reader("sharer2", "Michael Chabon", ["interests", "answers"])
    holdout = reader("holdout", "Margaret Atwood", ["interests"])
    assert _results(member, question_id) is None
    # The hold-out shares too: the totals hold nothing the brand does not read already.
    connect(holdout, brand, ["interests", "answers"], scope="interests:read answers:read")
    assert ("Margaret Atwood", "1") in _results(member, question_id)
    # Three who do not share: k of them, so the totals may show again.
    for i in range(3):
        reader(f"private{i}", "Terry Pratchett", ["interests"])
    assert ("Terry Pratchett", "3") in _results(member, question_id)


def test_the_threshold_is_configurable(app_factory):
    app = app_factory(ANSWERS_K=3)
    assert app.config["ANSWERS_K"] == 3


def test_the_consent_page_offers_answers_with_the_brands_purpose(app, brand):
    from tests.oauth_helpers import authorize_url, pkce

    consumer = new_consumer(app)
    _, challenge = pkce()
    page = consumer.get(authorize_url(brand, scope="answers:read", challenge=challenge))
    text = page.get_data(as_text=True)
    assert "Your answers" in text and SCOPES["answers:read"] in text


def test_the_json_api_lists_answers_changes_and_removes(app, runner, brand, member):
    question_id = ask(app, member, "multiple")
    other = make_brand(runner, name="Garden", domain="garden.example", scopes=SCOPES)
    other_question = ask(app, member_of(app, other["brand_id"], email="gil@garden.example"), "text")
    consumer = new_consumer(app)
    token = connect(consumer, brand, ["interests", "answers"], scope="interests:read answers:read")
    connect(consumer, other, ["interests"], scope="interests:read")

    listed = consumer.get(f"/api/v1/me/questions?brand_id={brand['brand_id']}").get_json()
    assert [q["id"] for q in listed] == [question_id]
    assert listed[0]["options"] == AUTHORS.splitlines() and listed[0]["answer"] is None
    assert {q["id"] for q in consumer.get("/api/v1/me/questions").get_json()} == {
        question_id,
        other_question,
    }

    path = f"/api/v1/me/questions/{question_id}"
    headers = api_headers(consumer)
    bad = consumer.put(path, json={"answer": "Michael Chabon"}, headers=headers)
    assert bad.status_code == 422  # a multiple choice answer is a list
    good = consumer.put(path, json={"answer": ["Margaret Atwood"]}, headers=headers)
    assert good.status_code == 200 and good.get_json() == {"answer": ["Margaret Atwood"]}
    assert profile(consumer, token["access_token"])["answers"] == {
        str(question_id): ["Margaret Atwood"]
    }
    assert consumer.delete(path, headers=headers).status_code == 204
    assert profile(consumer, token["access_token"])["answers"] == {}
    assert (
        consumer.put(
            "/api/v1/me/questions/999999", json={"answer": "x"}, headers=headers
        ).status_code
        == 404
    )


def test_a_question_id_beyond_64_bits_is_not_found_on_every_route(app, brand, member):
    consumer = new_consumer(app)
    connect(consumer, brand, ["interests"], scope="interests:read")
    huge = 2**64
    headers = api_headers(consumer)
    assert (
        consumer.put(
            f"/api/v1/me/questions/{huge}", json={"answer": "x"}, headers=headers
        ).status_code
        == 404
    )
    assert consumer.delete(f"/api/v1/me/questions/{huge}", headers=headers).status_code == 404
    assert answer(consumer, huge, "x").status_code == 404
    assert member.get(f"/portal/questions/{huge}").status_code == 404
    token = csrf_token(member, "/portal/questions")
    publish = member.post(f"/portal/questions/{huge}/publish", data={"csrf_token": token})
    assert publish.status_code == 404


# A question's life: draft (editable), published (after a confirmation), closed ------------


def events_of(app, type_: EventType) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.type == str(type_))).all()


def portal_post(member, path, **data):
    return member.post(path, data={"csrf_token": csrf_token(member, "/portal/questions"), **data})


def test_the_list_shows_states_not_buttons_and_a_draft_can_be_edited(app, member):
    draft = ask(app, member, "single", publish=False)
    page = member.get("/portal/questions").get_data(as_text=True)
    assert "is saved as a draft" in page  # said after saving
    assert '<span class="state state-draft">Draft</span>' in page
    assert "<button" not in page.split('id="questions"')[1].split("</table>")[0]
    assert f'href="/portal/questions/{draft}/edit"' in page
    # Nobody grants the brand anything yet: publishing says so rather than "0 consumers".
    confirm = member.get(f"/portal/questions/{draft}/publish").get_data(as_text=True)
    assert "Nobody grants Bookshop anything yet" in confirm and ">Publish</button>" in confirm

    form = member.get(f"/portal/questions/{draft}/edit").get_data(as_text=True)
    assert 'value="Which authors should we tell you about?"' in form
    refused = portal_post(
        member, f"/portal/questions/{draft}/edit", kind="single", prompt="", purpose="x"
    )
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.get_data(as_text=True)
    saved = portal_post(
        member,
        f"/portal/questions/{draft}/edit",
        kind="multiple",
        prompt="Which genres do you read?",
        purpose="choose which newsletters to send",
        options="Crime\nPoetry\nScience fiction",
    )
    assert saved.status_code == 302
    with app.app_context():
        question = db.session.get(Question, draft)
        assert (question.kind, question.prompt) == ("multiple", "Which genres do you read?")
        assert question.options == ["Crime", "Poetry", "Science fiction"]
    (edited,) = events_of(app, EventType.QUESTION_UPDATED)
    assert json.loads(edited.details) == {"question_id": draft, "kind": "multiple"}
    assert "Which genres" not in edited.canonical.decode()  # the wording is not recorded


def test_publishing_asks_first_saying_how_many_it_reaches_then_says_what_happened(
    app, brand, member
):
    for email in ("ada@example.org", "bob@example.org"):
        connect(new_consumer(app, email), brand, ["interests"], scope="interests:read")
    new_consumer(app, "cy@example.org")  # grants nothing: not reached
    draft = ask(app, member, "single", publish=False)

    confirm = member.get(f"/portal/questions/{draft}/publish")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Publish this question?" in html
    assert "<strong>2 consumers</strong>" in html and "Publish to 2 consumers" in html
    with app.app_context():
        assert db.session.get(Question, draft).published_at is None  # asking changed nothing

    done = portal_post(member, f"/portal/questions/{draft}/publish")
    assert done.status_code == 302 and done.headers["Location"] == f"/portal/questions/{draft}"
    page = member.get(done.headers["Location"]).get_data(as_text=True)
    assert "Published. 2 consumers who grant Bookshop something can answer it now" in page
    assert '<span class="state state-published">Published</span>' in page
    (published,) = events_of(app, EventType.QUESTION_PUBLISHED)
    assert json.loads(published.details) == {"question_id": draft, "audience": 2}

    # Published: no second publish, no edit.
    again = portal_post(member, f"/portal/questions/{draft}/publish")
    assert again.status_code == 302 and len(events_of(app, EventType.QUESTION_PUBLISHED)) == 1
    edit = member.get(f"/portal/questions/{draft}/edit")
    assert edit.status_code == 302
    assert "cannot be edited" in member.get(edit.headers["Location"]).get_data(as_text=True)


def test_closing_keeps_the_answers_given_and_refuses_new_ones_plainly(app, brand, member):
    question_id = ask(app, member, "single")
    ada, bob = new_consumer(app), new_consumer(app, "bob@example.org")
    token = connect(ada, brand, ["interests", "answers"], scope="interests:read answers:read")[
        "access_token"
    ]
    connect(bob, brand, ["interests"], scope="interests:read")
    assert answer(ada, question_id, "Margaret Atwood").status_code == 302

    # A draft cannot be closed; a published one asks first, saying what closing means.
    draft = ask(app, member, "text", publish=False)
    assert portal_post(member, f"/portal/questions/{draft}/close").status_code == 302
    assert not events_of(app, EventType.QUESTION_CLOSED)
    confirm = member.get(f"/portal/questions/{question_id}/close").get_data(as_text=True)
    assert "Close this question?" in confirm and "The answers already given stay" in confirm
    closed = portal_post(member, f"/portal/questions/{question_id}/close")
    assert closed.status_code == 302
    page = member.get(closed.headers["Location"]).get_data(as_text=True)
    assert "Closed. Consumers can no longer answer it" in page
    assert '<span class="state state-closed">Closed</span>' in page
    (event,) = events_of(app, EventType.QUESTION_CLOSED)
    assert json.loads(event.details) == {"question_id": question_id}

    # Ada's answer stays readable to the brand under her grant; she sees it, marked closed.
    assert profile(ada, token)["answers"] == {str(question_id): "Margaret Atwood"}
    mine = ada.get("/questions").get_data(as_text=True)
    closed_part = mine.split('id="closed"')[1]
    assert f'id="question-{question_id}"' in closed_part
    assert "takes no new answers" in closed_part and "Your answer: Margaret Atwood" in closed_part
    assert f'action="/questions/{question_id}"' not in mine  # no form to answer
    # New answers and changes are refused, in words, and nothing changes.
    refused = answer(bob, question_id, "Terry Pratchett")
    assert refused.status_code == 409
    assert "Bookshop closed this question, so it takes no new answers" in refused.get_data(
        as_text=True
    )
    assert answer(ada, question_id, "Terry Pratchett").status_code == 409
    api = bob.put(
        f"/api/v1/me/questions/{question_id}", json={"answer": "x"}, headers=api_headers(bob)
    )
    assert api.status_code == 404
    assert question_id not in [q["id"] for q in bob.get("/api/v1/me/questions").get_json()]
    assert profile(ada, token)["answers"] == {str(question_id): "Margaret Atwood"}
    # She can still withdraw it.
    cleared = ada.post(
        f"/questions/{question_id}/clear", data={"csrf_token": csrf_token(ada, "/questions")}
    )
    assert cleared.status_code == 302 and profile(ada, token)["answers"] == {}
    # Closing twice does nothing more.
    portal_post(member, f"/portal/questions/{question_id}/close")
    assert len(events_of(app, EventType.QUESTION_CLOSED)) == 1
