"""The views of a grant (sayso/coarsening.py): what each returns, and the noise's rate and
stability, over many more entries than one consumer can hold."""

from __future__ import annotations

import math

import pytest

from sayso.coarsening import CHOICES, EVERYTHING, Coarsener, View, describe, noise_key
from sayso.taxonomy import topics

POETRY, CHILDRENS, BOOKS = 102, 101, 100
ARTS = 1

INTERESTS = [
    {"topic_id": POETRY},
    {"text": "crime fiction"},
    {"topic_id": CHILDRENS},
    {"topic_id": ARTS},
    {"topic_id": BOOKS},
]
BROWSING = [
    {"topic_id": POETRY, "weight": 0.2},
    {"topic_id": ARTS, "weight": 0.5},
    {"topic_id": CHILDRENS, "weight": 0.9},
    {"topic_id": 57, "weight": 0.4},
]
KEYED = Coarsener(noise_key(b"k" * 32))


def test_views_are_spelled_one_way_and_only_the_offered_ones_exist():
    assert [v.token for v in CHOICES] == [
        "all",
        "top_level",
        "top:3",
        "top:5",
        "top:10",
        "noised:5",
        "noised:10",
    ]
    for view in CHOICES:
        assert View.parse(view.token) == view == View.from_json(view.as_json())
    for bad in ["top", "top:4", "noised:50", "all:1", "top_level:3", "everything", "top:-3", ""]:
        with pytest.raises(ValueError):
            View.parse(bad)
    for bad in [{"name": "top", "parameter": True}, {"name": "top"}, [], {"name": "all", "x": 1}]:
        with pytest.raises(ValueError):
            View.from_json(bad)


def test_top_level_maps_topics_to_their_category_once_and_leaves_free_text_out():
    shown = KEYED.view("interests", INTERESTS, View("top_level"), 1, 2)
    assert shown == [{"topic_id": BOOKS}, {"topic_id": ARTS}]
    assert "own words are left out" in describe(View("top_level"), "interests")


def test_top_level_of_browsing_keeps_the_heaviest_weight_of_each_category():
    shown = KEYED.view("browsing_categories", BROWSING, View("top_level"), 1, 2)
    assert shown == [
        {"topic_id": BOOKS, "weight": 0.9},
        {"topic_id": ARTS, "weight": 0.5},
        {"topic_id": 57, "weight": 0.4},
    ]


def test_top_n_is_the_consumer_s_order_for_interests_and_weight_for_browsing():
    assert KEYED.view("interests", INTERESTS, View("top", 3), 1, 2) == INTERESTS[:3]
    assert KEYED.view("browsing_categories", BROWSING, View("top", 3), 1, 2) == [
        BROWSING[2],
        BROWSING[1],
        BROWSING[3],
    ]


def test_everything_and_other_fields_are_left_alone():
    assert KEYED.view("interests", INTERESTS, EVERYTHING, 1, 2) is INTERESTS
    channels = [{"channel": "email", "max_per_week": 1}]
    assert KEYED.view("channels", channels, View("top", 3), 1, 2) is channels
    assert KEYED.view("interests", None, View("top", 3), 1, 2) is None


def _many_texts(count: int) -> list[dict]:
    return [{"text": f"interest number {i}"} for i in range(count)]


@pytest.mark.parametrize("rate", [5, 10])
def test_noise_replaces_the_stated_share_of_entries_over_many_items(rate):
    count = 20_000
    value = _many_texts(count)
    shown = KEYED.view("interests", value, View("noised", rate), 7, 9)
    replaced = sum(1 for before, after in zip(value, shown, strict=True) if before != after)
    # Each entry is replaced with probability rate %: well within five standard deviations.
    expected = count * rate / 100
    sigma = math.sqrt(count * rate / 100 * (1 - rate / 100))
    assert abs(replaced - expected) < 5 * sigma, (replaced, expected)
    # The replacements are topics of the taxonomy, never repeated.
    new = [after["topic_id"] for before, after in zip(value, shown, strict=True) if before != after]
    assert all(topic_id in topics() for topic_id in new)
    assert len(new) == len(set(new)) or len(new) > len(topics())


def test_noise_is_the_same_on_every_read_and_differs_by_grant_and_key():
    value = _many_texts(400)
    view = View("noised", 10)
    first = KEYED.view("interests", value, view, 7, 9)
    assert first == KEYED.view("interests", value, view, 7, 9)
    assert first != KEYED.view("interests", value, view, 7, 10)  # another brand
    assert first != Coarsener(noise_key(b"o" * 32)).view("interests", value, view, 7, 9)


def test_what_is_noised_at_five_percent_is_noised_the_same_at_ten():
    value = _many_texts(2000)
    at5 = KEYED.view("interests", value, View("noised", 5), 3, 4)
    at10 = KEYED.view("interests", value, View("noised", 10), 3, 4)
    for before, five, ten in zip(value, at5, at10, strict=True):
        if five != before:
            assert ten == five


def test_noise_keeps_weights_and_never_repeats_a_topic_the_value_holds():
    value = [{"topic_id": t, "weight": 0.5} for t in sorted(topics())[:20]]
    shown = KEYED.view("browsing_categories", value, View("noised", 10), 11, 12)
    assert [item["weight"] for item in shown] == [0.5] * 20
    ids = [item["topic_id"] for item in shown]
    assert len(ids) == len(set(ids))


def test_a_noised_view_needs_its_key():
    with pytest.raises(RuntimeError):
        Coarsener(None).view("interests", INTERESTS, View("noised", 5), 1, 2)
