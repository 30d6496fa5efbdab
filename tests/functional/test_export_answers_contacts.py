"""Export my data includes my answers and the contacts brands reported — and no one else's."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from sayso.extensions import db
from sayso.models import Answer, Contact
from tests.functional.test_questions import answer, ask, new_consumer
from tests.helpers import PASSWORD, api_headers, csrf_token
from tests.oauth_helpers import ALL_SCOPES, bearer, connect, make_brand
from tests.portal_helpers import member_of

SCOPES = {
    **ALL_SCOPES,
    "answers:read": "tell you when your favourite authors publish",
    "contacts:write": "tell Sayso each time we email you",
}


def _consumer_with_an_answer_and_a_contact(app, brand, question_id, email, choice, max_per_week=3):
    client = new_consumer(app, email)
    client.put(
        "/api/v1/me/disclosures/channels",
        json={"value": [{"channel": "email", "max_per_week": max_per_week}]},
        headers=api_headers(client),
    )
    token = connect(
        client,
        brand,
        ["channels", "answers", "contacts"],
        scope="channels:read answers:read contacts:write",
    )["access_token"]
    assert answer(client, question_id, choice).status_code == 302
    sent_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = client.post(
        "/api/v1/contacts", json={"channel": "email", "sent_at": sent_at}, headers=bearer(token)
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return client, token


def test_export_has_my_answers_and_contacts_and_nothing_of_others(app, runner):
    brand = make_brand(runner, scopes=SCOPES)
    member = member_of(app, brand["brand_id"])
    question_id = ask(app, member, kind="single")
    ada, _ = _consumer_with_an_answer_and_a_contact(
        app, brand, question_id, "ada@example.org", "Margaret Atwood"
    )
    _consumer_with_an_answer_and_a_contact(
        app, brand, question_id, "bob@example.org", "Terry Pratchett"
    )
    export = ada.get("/api/v1/me/export").get_json()
    assert [(a["question_id"], a["answer"]) for a in export["answers"]] == [
        (question_id, "Margaret Atwood")
    ]
    assert export["answers"][0]["brand_id"] == brand["brand_id"]
    (contact,) = export["contacts"]
    assert contact["channel"] == "email" and contact["breach"] is False
    assert "Terry Pratchett" not in str(export)


def test_erasure_deletes_answers(app, runner):
    brand = make_brand(runner, scopes=SCOPES)
    question_id = ask(app, member_of(app, brand["brand_id"]), kind="single")
    ada, _ = _consumer_with_an_answer_and_a_contact(
        app, brand, question_id, "ada@example.org", "Margaret Atwood"
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 1
    response = ada.delete(
        "/api/v1/me", json={"password": "correct horse battery"}, headers=api_headers(ada)
    )
    assert response.status_code == 204, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 0


def _main(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def test_my_data_and_erased_pages_say_what_goes_and_what_stays(app, runner):
    brand = make_brand(runner, scopes=SCOPES)
    question_id = ask(app, member_of(app, brand["brand_id"]), kind="single")
    ada, token = _consumer_with_an_answer_and_a_contact(
        app, brand, question_id, "ada@example.org", "Margaret Atwood", max_per_week=1
    )
    sent_at = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    second = ada.post(
        "/api/v1/contacts",
        json={"channel": "email", "sent_at": sent_at},
        headers=bearer(token),
    )
    assert second.status_code in (200, 201)  # beyond one a week: a breach

    page = _main(ada.get("/account/data").get_data(as_text=True))
    export, erase = page.split('id="erase"')
    assert "your answers to brands' questions" in export
    assert "every contact a brand reported making with you" in export
    assert "deletes your disclosures and your answers to brands' questions" in erase
    assert "deletes the contacts brands reported making with you that kept to your" in erase
    assert "Also kept: the contacts that broke your preferences" in erase

    token = csrf_token(ada, "/account/data")
    done = ada.post(
        "/account/erase", data={"csrf_token": token, "password": PASSWORD, "confirm": "yes"}
    )
    assert done.status_code == 200
    erased = _main(done.get_data(as_text=True))
    gone, remains = erased.split("What remains")
    assert "Your answers to brands' questions were deleted" in gone
    assert "contacts brands reported making with you that kept to your preferences" in gone
    assert "The contacts that broke your preferences" in remains
    # Which is what happened.
    with app.app_context():
        assert db.session.scalars(select(Answer)).all() == []
        assert [c.breach for c in db.session.scalars(select(Contact))] == [True]
