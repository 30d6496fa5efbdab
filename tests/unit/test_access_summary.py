"""Grouping reads for people: by the consumer's own day, then brand and field, counted."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sayso.services.access_history import ProfileRead, group_reads

PARIS = ZoneInfo("Europe/Paris")


def _read(seq, at, brand="br_book", name="Bookshop", fields=("interests",), purpose="books"):
    return ProfileRead(
        seq=seq,
        occurred_at=at,
        brand_id=brand,
        brand_name=name,
        client_id=None,
        fields=list(fields),
        purposes={f: purpose for f in fields},
    )


def test_reads_are_counted_per_brand_and_field_on_the_consumer_s_day():
    reads = [  # newest first, as the ledger query gives them
        # 23:30 UTC on 7 December is 00:30 on 8 December in Paris.
        _read(5, datetime(2026, 12, 7, 23, 30, tzinfo=UTC), fields=("interests", "channels")),
        _read(4, datetime(2026, 12, 7, 22, 59, 59, 500, tzinfo=UTC)),
        _read(3, datetime(2026, 12, 7, 22, 59, 59, 100, tzinfo=UTC)),
        _read(2, datetime(2026, 12, 7, 9, 0, tzinfo=UTC), brand="br_cafe", name="Cafe"),
        _read(1, datetime(2026, 12, 7, 8, 0, tzinfo=UTC), fields=("answers",), purpose=None),
    ]
    days = group_reads(reads, PARIS)
    assert [d.day.isoformat() for d in days] == ["2026-12-08", "2026-12-07"]
    (interests, channels) = days[0].tallies
    assert (interests.label, interests.count) == ("Interests", 1)
    assert (channels.label, channels.count) == ("Channels", 1)
    assert interests.times[0].hour == 0 and interests.times[0].tzinfo == PARIS

    book_interests, book_answers, cafe = days[1].tallies  # by brand name, then field order
    assert (book_interests.brand_name, book_interests.label, book_interests.count) == (
        "Bookshop",
        "Interests",
        2,
    )
    # Two reads in the same second are one moment, said with its count.
    assert [(t.strftime("%H:%M:%S"), n) for t, n in book_interests.moments] == [("23:59:59", 2)]
    assert book_interests.purposes == ["books"]
    assert (book_answers.label, book_answers.purposes) == ("Your answers", [])
    assert (cafe.brand_name, cafe.label) == ("Cafe", "Interests")


def test_without_a_zone_days_are_utc_days():
    days = group_reads([_read(1, datetime(2026, 12, 7, 23, 30, tzinfo=UTC))], None)
    assert days[0].day.isoformat() == "2026-12-07"
    assert days[0].tallies[0].times[0].utcoffset().total_seconds() == 0
