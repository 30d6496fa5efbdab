"""The topic browser and the channels editor without script (plain links and forms), and
form errors in people's words, through the Flask test client."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from sayso.extensions import db
from sayso.models import Account
from sayso.shared.forms import flatten_errors, plain_message
from tests.functional.test_questions import SCOPES, answer, ask, new_consumer
from tests.helpers import api_headers, csrf_token, sign_up
from tests.oauth_helpers import connect, make_brand
from tests.portal_helpers import member_of

PAGE = "/disclosures/interests"
# What a person should never read on a page.
JARGON = (
    "Shorter than minimum length",
    "Length must be between",
    "greater than or equal",
    "less than or equal",
    "Missing data for required field",
    "Field may not be null",
    "Not a valid integer",
    "Topics taxonomy v2",
    "IANA",
    "max per week",
    "in_app",
    "topic_id",
)


@pytest.fixture
def consumer(client):
    sign_up(client, "ada@example.org")
    return client


def html(response) -> str:
    return response.get_data(as_text=True)


def errors_of(page: str) -> list[str]:
    box = re.search(r'<div class="errors".*?</ul>', page, re.S)
    return re.findall(r"<li[^>]*>(.*?)</li>", box.group(0), re.S) if box else []


def interests(client) -> list:
    return client.get("/api/v1/me/disclosures").get_json().get("interests", [])


def change(client, action: str, **data):
    token = csrf_token(client, PAGE)
    return client.post(f"{PAGE}/{action}", data={"csrf_token": token, **data})


def text_of(page: str) -> str:
    """What a person reads on the page: its text, without tags and attributes."""
    return re.sub(r"<[^>]+>", " ", page)


def section(page: str, id_: str) -> str:
    start = page.index(f'id="{id_}"')
    return page[start : page.index("</section>", start)]


def test_browsing_the_categories_with_plain_links(consumer):
    page = html(consumer.get(PAGE))
    browse = section(page, "browse")
    # The 22 top categories, each a link that opens it.
    assert len(re.findall(r'href="/disclosures/interests\?category=\d+#browse"', browse)) == 22
    assert 'href="/disclosures/interests?category=1#browse"' in browse
    page = html(consumer.get(f"{PAGE}?category=1"))
    browse = section(page, "browse")
    assert "<strong>Arts &amp; Entertainment</strong> itself" in browse
    assert 'href="/disclosures/interests?category=12#browse" data-browse>Movies</a>' in browse
    # Deeper: the trail leads back up.
    browse = section(html(consumer.get(f"{PAGE}?category=12")), "browse")
    assert "Comedy Films" in browse
    assert (
        'href="/disclosures/interests?category=1#browse" data-browse>Arts &amp; Entertainment'
        in (browse)
    )
    # A stale or made-up link still shows the page, at the top.
    for bad in ("abc", "99999", "-1"):
        response = consumer.get(f"{PAGE}?category={bad}")
        assert response.status_code == 200
        assert "All categories</li>" in html(response)


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("novels", "Books &amp; Literature"),  # the extension's everyday synonyms
        ("hiking", "Outdoors"),
        ("cook", "Cooking &amp; Recipes"),  # a word begun
        ("JAZZ", "Jazz"),
    ],
)
def test_searching_in_everyday_words(consumer, typed, found):
    results = section(html(consumer.get(f"{PAGE}?q={typed}")), "search")
    assert f'value="{typed}"' in results
    first = re.search(r'<li class="topic-row">.*?</li>', results, re.S).group(0)
    assert found in first
    assert "Add<span" in first


def test_a_search_that_finds_nothing_says_what_to_do(consumer):
    results = section(html(consumer.get(f"{PAGE}?q=zzqx")), "search")
    assert "No topic for “zzqx”" in results and "in your own words" in results


def test_adding_and_removing_a_topic_one_click_each(consumer):
    response = change(consumer, "add", topic="100", q="novels")
    assert response.status_code == 303
    assert response.headers["Location"] == "/disclosures/interests?q=novels#chosen"
    assert interests(consumer) == [{"topic_id": 100}]
    page = html(consumer.get(response.headers["Location"]))
    assert "Added Books &amp; Literature." in page
    chosen = section(page, "chosen")
    assert "Books &amp; Literature" in chosen and "Remove<span" in chosen
    assert "100 ·" not in page and "/Books" not in page
    # Where it was found, the button now removes it.
    assert 'action="/disclosures/interests/remove"' in section(page, "search")
    # A topic with where it sits.
    change(consumer, "add", topic="15")
    chosen = section(html(consumer.get(PAGE)), "chosen")
    assert (
        'Comedy Films<span class="hint topic-where"> in Arts &amp; Entertainment \u203a Movies'
        in (chosen)
    )
    # Twice is once.
    change(consumer, "add", topic="100")
    assert interests(consumer) == [{"topic_id": 100}, {"topic_id": 15}]
    response = change(consumer, "remove", topic="100")
    assert response.status_code == 303
    assert interests(consumer) == [{"topic_id": 15}]
    change(consumer, "remove", topic="15")
    assert interests(consumer) == []
    assert "None yet." in html(consumer.get(PAGE))


def test_interests_in_your_own_words(consumer):
    change(consumer, "add", text="  crime   fiction ")
    assert interests(consumer) == [{"text": "crime fiction"}]
    chosen = section(html(consumer.get(PAGE)), "chosen")
    assert "“crime fiction”" in chosen and "in your own words" in chosen
    change(consumer, "add", text="Crime Fiction")  # the same, whatever the case
    assert interests(consumer) == [{"text": "crime fiction"}]
    change(consumer, "remove", text="crime fiction")
    assert interests(consumer) == []


def test_a_refused_interest_comes_back_as_typed_with_one_plain_message(consumer):
    typed = "x" * 70
    response = change(consumer, "add", text=typed)
    assert response.status_code == 422
    page = html(response)
    assert errors_of(page) == ["Your words: Use at most 64 characters."]
    assert f'value="{typed}"' in page  # what was typed, not an id or nothing
    assert re.search(r'<input [^>]*name="text"[^>]*aria-invalid="true"', page)
    response = change(consumer, "add", text="   ")
    assert errors_of(html(response)) == ["Your words: Please write a few words, or choose a topic."]
    response = change(consumer, "add", topic="99999")
    assert response.status_code == 422
    assert "That is not one of the topics" in html(response)
    assert interests(consumer) == []


def test_the_page_has_no_blank_boxes_to_fill(consumer):
    page = html(consumer.get(PAGE))
    assert 'name="interest"' not in page
    assert "five empty ones" not in page
    assert len(re.findall(r'<input type="text"', page)) == 1  # "in your own words"


def test_suggestions_come_from_the_reviewed_browsing_categories(consumer):
    consumer.put(
        "/api/v1/me/disclosures",
        json={
            "interests": [{"topic_id": 100}],
            "browsing_categories": [
                {"topic_id": 100, "weight": 0.9},
                {"topic_id": 332, "weight": 0.7},
                {"topic_id": 173, "weight": 0.2},
            ],
        },
        headers=api_headers(consumer),
    )
    suggested = section(html(consumer.get(PAGE)), "suggested-heading")
    names = [n.strip() for n in re.findall(r'<span class="topic-name">([^<]+)', suggested)]
    assert names == ["Travel &amp; Transportation", "Cooking &amp; Recipes"]  # heaviest first
    change(consumer, "add", topic="332")
    suggested = section(html(consumer.get(PAGE)), "suggested-heading")
    assert "Travel" not in suggested


def test_no_browsing_categories_no_suggestions(consumer):
    assert "Suggested from your browsing categories" not in html(consumer.get(PAGE))


def test_the_script_gets_the_browser_part_as_json(consumer):
    token = csrf_token(consumer, PAGE)
    response = consumer.post(
        f"{PAGE}/add",
        data={"csrf_token": token, "topic": "100", "category": "1"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "Added Books & Literature."
    assert 'id="chosen"' in body["html"] and "<html" not in body["html"]
    assert "<strong>Arts &amp; Entertainment</strong> itself" in body["html"]  # still there
    response = consumer.get(f"{PAGE}?q=novels", headers={"Accept": "application/json"})
    assert "Books &amp; Literature" in response.get_json()["html"]
    response = consumer.post(
        f"{PAGE}/add",
        data={"csrf_token": token, "text": "y" * 65},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == ["Your words: Use at most 64 characters."]


def test_add_and_remove_need_the_csrf_token_and_a_session(client, consumer):
    assert consumer.post(f"{PAGE}/add", data={"topic": "100"}).status_code == 400
    assert interests(consumer) == []


def test_the_summary_names_topics_channels_and_caps_in_words(consumer):
    consumer.put(
        "/api/v1/me/disclosures",
        json={
            "interests": [{"topic_id": 15}, {"text": "crime fiction"}],
            "browsing_categories": [{"topic_id": 332, "weight": 0.25}],
            "channels": [
                {
                    "channel": "email",
                    "max_per_week": 2,
                    "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe/Paris"},
                },
                {"channel": "in_app", "max_per_week": 0},
            ],
        },
        headers=api_headers(consumer),
    )
    page = html(consumer.get("/disclosures"))
    assert "Comedy Films" in page and "in Arts &amp; Entertainment \u203a Movies" in page
    assert "Travel &amp; Transportation: weight 0.25" in page
    assert "Email: at most 2 a week, never between 21:00 and 08:00 (Paris time)" in page
    assert "In the brand&#39;s app: never on this channel" in page
    assert "at most 0" not in page
    for word in (*JARGON, "interests:read", "/Arts"):
        assert word not in text_of(page), word


# Channels ---------------------------------------------------------------------------

CHANNELS = "/disclosures/channels"


def save_channels(client, **data):
    token = csrf_token(client, CHANNELS)
    return client.post(CHANNELS, data={"csrf_token": token, **data})


def time_zone_of(app, email="ada@example.org"):
    with app.app_context():
        return db.session.scalars(select(Account.time_zone)).first()


def channels(client):
    return client.get("/api/v1/me/disclosures").get_json().get("channels")


@pytest.mark.parametrize("typed", ["paris", "Paris", "PARIS", "europe/paris", "Europe/Paris"])
def test_one_time_zone_typed_as_a_city(app, consumer, typed):
    response = save_channels(
        consumer,
        time_zone=typed,
        enabled_email="1",
        max_email="2",
        quiet_start_email="21:00",
        quiet_end_email="08:00",
    )
    assert response.status_code == 302, errors_of(html(response))
    assert time_zone_of(app) == "Europe/Paris"
    assert channels(consumer) == [
        {
            "channel": "email",
            "max_per_week": 2,
            "quiet_hours": {"start": "21:00", "end": "08:00", "tz": "Europe/Paris"},
        }
    ]
    page = html(consumer.get(CHANNELS))
    assert 'name="time_zone" list="time-zones" value="Europe/Paris"' in page
    assert '<option value="Europe/Paris">Paris</option>' in page
    assert page.count('name="time_zone"') == 1  # one zone, not one per channel


def test_quiet_hours_without_a_time_zone_are_refused_never_utc(app, consumer):
    response = save_channels(
        consumer,
        enabled_email="1",
        max_email="2",
        quiet_start_email="21:00",
        quiet_end_email="08:00",
    )
    assert response.status_code == 422
    page = html(response)
    assert errors_of(page) == [
        "Quiet hours need your time zone, so they happen at the right time where you are. "
        "Type your city (e.g. Paris) in Your time zone."
    ]
    assert re.search(r'<input [^>]*name="time_zone"[^>]*aria-invalid="true"', page)
    assert 'name="quiet_start_email" value="21:00"' in page  # what was typed stays
    assert channels(consumer) is None
    assert time_zone_of(app) is None
    # Without quiet hours no zone is needed.
    assert save_channels(consumer, enabled_email="1", max_email="2").status_code == 302


def test_an_unknown_time_zone_is_refused_in_plain_words(app, consumer):
    response = save_channels(consumer, time_zone="Mars/Olympus", enabled_email="1", max_email="1")
    assert response.status_code == 422
    assert errors_of(html(response)) == [
        "Your time zone: We don&#39;t know that time zone. "
        "Type a city, such as Paris, or choose one from the list."
    ]
    assert 'value="Mars/Olympus"' in html(response)


def test_a_zone_saved_before_is_shown_for_quiet_hours_kept_in_it(consumer):
    consumer.put(
        "/api/v1/me/disclosures/channels",
        json={
            "value": [
                {
                    "channel": "sms",
                    "max_per_week": 1,
                    "quiet_hours": {"start": "22:00", "end": "07:00", "tz": "Asia/Tokyo"},
                }
            ]
        },
        headers=api_headers(consumer),
    )
    assert 'name="time_zone" list="time-zones" value="Asia/Tokyo"' in html(consumer.get(CHANNELS))


def test_caps_start_empty_and_zero_means_never(consumer):
    page = html(consumer.get(CHANNELS))
    for name in ("email", "sms", "push", "post", "phone", "in_app"):
        cap = re.search(rf'<input type="number" name="max_{name}"[^>]*>', page).group(0)
        assert 'value=""' in cap, cap
    assert "From 0 (never on this channel) to 50." in page
    assert ">in_app<" not in page and "In the brand&#39;s app" in page
    assert save_channels(consumer, enabled_sms="1", max_sms="0").status_code == 302
    assert channels(consumer) == [{"channel": "sms", "max_per_week": 0}]
    page = html(consumer.get(CHANNELS))
    assert "0: never on this channel." in page
    assert "Text message (SMS): never on this channel" in html(consumer.get("/disclosures"))


def test_a_ticked_channel_without_a_cap_says_what_to_write(consumer):
    response = save_channels(consumer, enabled_email="1", max_email="")
    assert response.status_code == 422
    assert errors_of(html(response)) == [
        "Email: how many messages a week at most? Write 0 for never on this channel."
    ]


def test_quiet_hours_explain_a_missing_end(consumer):
    response = save_channels(
        consumer, time_zone="paris", enabled_email="1", max_email="1", quiet_start_email="21:00"
    )
    assert response.status_code == 422
    page = html(response)
    assert errors_of(page) == [
        "Email: quiet hours start at 21:00 but have no end. "
        "Add the time they end (e.g. 08:00), or clear both."
    ]
    assert re.search(r'<input [^>]*name="quiet_end_email"[^>]*aria-invalid="true"', page)


def test_channel_errors_in_words_each_once(consumer):
    response = save_channels(
        consumer,
        time_zone="paris",
        enabled_email="1",
        max_email="99",
        enabled_in_app="1",
        max_in_app="1.5",
        enabled_push="1",
        max_push="1",
        quiet_start_push="10:00",
        quiet_end_push="10:00",
    )
    assert response.status_code == 422
    page = html(response)
    assert errors_of(page) == [
        "Email, messages a week: Use a number from 0 to 50.",
        "Push notification, quiet hours, end: Quiet hours must end at another time than they "
        "start.",
        "In the brand&#39;s app, messages a week: Write a whole number, such as 2.",
    ]
    for word in JARGON:
        assert word not in text_of(page), word


# Messages in people's words, on every form ---------------------------------------------


def test_an_empty_answer_is_one_message_in_plain_words(app, runner):
    brand = make_brand(runner, scopes=SCOPES)
    member = member_of(app, brand["brand_id"])
    question_id = ask(app, member, "text")
    consumer = new_consumer(app, "bo@example.org")
    connect(consumer, brand, ["interests"], scope="interests:read")
    page = html(answer(consumer, question_id, ""))
    box = re.search(r'<ul class="errors".*?</ul>', page, re.S).group(0)
    assert re.findall(r"<li>(.*?)</li>", box) == ["Your answer: Please fill this in."]
    for word in JARGON:
        assert word not in text_of(page), word


def test_password_and_sign_up_messages_name_the_fields_as_people_do(client):
    sign_up(client, "ada@example.org")
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": "", "new_password": "short"},
    )
    assert errors_of(html(response)) == [
        "Current password: Please fill this in.",
        "New password: Use 10 to 256 characters.",
    ]
    other = client.application.test_client()
    token = csrf_token(other, "/signup")
    response = other.post(
        "/signup", data={"csrf_token": token, "email": "nope", "password": "x" * 300}
    )
    assert errors_of(html(response)) == [
        "Email: Write an email address, such as ada@example.org.",
        "Password: Use 10 to 256 characters.",
    ]


@pytest.mark.parametrize(
    ("schema_says", "people_read"),
    [
        ("Shorter than minimum length 1.", "Please fill this in."),
        ("Shorter than minimum length 3.", "Use at least 3 characters."),
        ("Length must be between 3 and 280.", "Use 3 to 280 characters."),
        ("Longer than maximum length 64.", "Use at most 64 characters."),
        (
            "Must be greater than or equal to 0 and less than or equal to 50.",
            "Use a number from 0 to 50.",
        ),
        ("Missing data for required field.", "Please fill this in."),
        ("Must be one of: email, sms.", "Choose one of the choices offered."),
        ("A sentence of Sayso's own.", "A sentence of Sayso's own."),
    ],
)
def test_schema_messages_become_plain_words(schema_says, people_read):
    assert plain_message(schema_says) == people_read


def test_each_message_is_shown_once():
    messages = {"answer": ["Shorter than minimum length 1.", "Must not be blank."]}
    assert flatten_errors(messages) == ["Your answer: Please fill this in."]


def test_the_api_keeps_its_error_shape_and_words(consumer):
    response = consumer.put(
        "/api/v1/me/disclosures/channels",
        json={"value": [{"channel": "email", "max_per_week": 99}]},
        headers=api_headers(consumer),
    )
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) == {"error", "message", "fields"}
    assert body["fields"] == {
        "value": {
            "0": {
                "max_per_week": ["Must be greater than or equal to 0 and less than or equal to 50."]
            }
        }
    }


def test_a_stale_place_in_the_browser_does_not_stop_an_add(consumer):
    response = change(consumer, "add", topic="100", category="99999", q="novels")
    assert response.status_code == 303
    assert response.headers["Location"] == "/disclosures/interests?q=novels#chosen"
    assert interests(consumer) == [{"topic_id": 100}]
