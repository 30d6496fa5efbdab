"""The contact policy as a pure function: channels, weekly caps, quiet hours across zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sayso.services.contacts import decide


def at(zone: str, when: str) -> datetime:
    """A wall-clock time in ``zone``, as an aware datetime."""
    return datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(zone))


def utc(when: str) -> datetime:
    return datetime.fromisoformat(when).replace(tzinfo=UTC)


NOW = utc("2026-06-10T12:00")


def email(cap=2, quiet=None):
    return [{"channel": "email", "max_per_week": cap, "quiet_hours": quiet}]


@pytest.mark.parametrize(
    "channels",
    [None, [], [{"channel": "sms", "max_per_week": 3}], email(cap=0)],
    ids=["nothing disclosed", "no channels", "another channel", "cap of zero"],
)
def test_a_channel_the_consumer_did_not_permit_is_refused_for_good(channels):
    decision = decide(channels, "email", [], NOW)
    assert (decision.allowed, decision.reason, decision.next_allowed_at) == (
        False,
        "channel_not_permitted",
        None,
    )


@pytest.mark.parametrize(
    ("sent", "allowed"),
    [
        ([], True),
        ([NOW - timedelta(days=1)], True),
        ([NOW - timedelta(days=1), NOW - timedelta(days=2)], False),  # exactly the cap
        ([NOW - timedelta(days=7), NOW - timedelta(days=2)], True),  # one just left the week
        ([NOW - timedelta(days=6, hours=23), NOW - timedelta(days=2)], False),
        ([NOW + timedelta(hours=1), NOW - timedelta(days=2)], True),  # later ones don't count
    ],
)
def test_the_weekly_cap_counts_the_seven_days_before(sent, allowed):
    decision = decide(email(cap=2), "email", sent, NOW)
    assert decision.allowed is allowed
    assert decision.reason == ("ok" if allowed else "weekly_cap_reached")


def test_a_reached_cap_says_when_the_oldest_contact_leaves_the_week():
    sent = [NOW - timedelta(days=1), NOW - timedelta(days=5), NOW - timedelta(days=3)]
    decision = decide(email(cap=2), "email", sent, NOW)
    # Three in the week, cap two: two must leave, so the second oldest decides.
    assert decision.next_allowed_at == NOW - timedelta(days=3) + timedelta(days=7)


NIGHT = {"start": "22:00", "end": "07:00"}


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Europe/Paris", "America/New_York"])
@pytest.mark.parametrize(
    ("local", "quiet_until"),
    [
        ("2026-06-10T21:59", None),
        ("2026-06-10T22:00", "2026-06-11T07:00"),
        ("2026-06-10T23:59", "2026-06-11T07:00"),
        ("2026-06-11T00:00", "2026-06-11T07:00"),
        ("2026-06-11T06:59", "2026-06-11T07:00"),
        ("2026-06-11T07:00", None),
        ("2026-06-11T12:00", None),
    ],
)
def test_quiet_hours_spanning_midnight_in_the_consumers_zone(zone, local, quiet_until):
    now = at(zone, local)
    decision = decide(email(quiet={**NIGHT, "tz": zone}), "email", [], now)
    if quiet_until is None:
        assert (decision.allowed, decision.reason) == (True, "ok")
    else:
        assert (decision.allowed, decision.reason) == (False, "quiet_hours")
        assert decision.next_allowed_at == at(zone, quiet_until)
        assert decision.next_allowed_at.tzinfo == UTC


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another():
    now = utc("2026-06-10T21:30")  # 23:30 in Paris (CEST), 17:30 in New York (EDT)
    paris = decide(email(quiet={**NIGHT, "tz": "Europe/Paris"}), "email", [], now)
    new_york = decide(email(quiet={**NIGHT, "tz": "America/New_York"}), "email", [], now)
    assert paris.reason == "quiet_hours" and paris.next_allowed_at == utc("2026-06-11T05:00")
    assert new_york.allowed


def test_a_quiet_night_across_the_spring_dst_change_ends_at_the_new_offset():
    # Paris moves from UTC+1 to UTC+2 at 02:00 on 29 March 2026: the night is an hour shorter.
    now = at("Europe/Paris", "2026-03-28T23:00")
    decision = decide(email(quiet={**NIGHT, "tz": "Europe/Paris"}), "email", [], now)
    assert decision.next_allowed_at == utc("2026-03-29T05:00")
    assert decision.next_allowed_at - now == timedelta(hours=7)  # 8 on the wall clock


def test_a_daytime_window_does_not_wrap():
    quiet = {"start": "12:00", "end": "14:00", "tz": "Asia/Kolkata"}
    assert decide(email(quiet=quiet), "email", [], at("Asia/Kolkata", "2026-06-10T11:59")).allowed
    inside = decide(email(quiet=quiet), "email", [], at("Asia/Kolkata", "2026-06-10T13:00"))
    assert inside.next_allowed_at == at("Asia/Kolkata", "2026-06-10T14:00")
    assert decide(email(quiet=quiet), "email", [], at("Asia/Kolkata", "2026-06-10T14:00")).allowed


def test_when_the_cap_frees_up_inside_quiet_hours_the_next_time_is_the_end_of_them():
    zone = "Europe/Paris"
    sent = [at(zone, "2026-06-04T23:30")]  # frees up 2026-06-11 23:30 Paris time
    decision = decide(email(cap=1, quiet={**NIGHT, "tz": zone}), "email", sent, NOW)
    assert decision.reason == "weekly_cap_reached"
    assert decision.next_allowed_at == at(zone, "2026-06-12T07:00")


def test_the_cap_is_checked_before_quiet_hours():
    zone = "UTC"
    now = at(zone, "2026-06-10T23:00")
    decision = decide(
        email(cap=1, quiet={**NIGHT, "tz": zone}), "email", [now - timedelta(days=1)], now
    )
    assert decision.reason == "weekly_cap_reached"
