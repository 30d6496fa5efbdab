"""Choosing interests one at a time: add or remove a topic or a few words of one's own.

The interests disclosure is one list (``fields.py``); each step reads it, changes one
entry, validates the whole list with the same schema the API uses and saves it through
the disclosure service (so the change and its ledger event commit together).
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import ValidationError

from sayso.fields import FIELDS
from sayso.models import Account
from sayso.schemas.disclosures import value_schema
from sayso.services import topics as catalogue
from sayso.services.disclosures import DisclosureService
from sayso.taxonomy import topics

FIELD = "interests"


@dataclass(frozen=True)
class Chosen:
    """One chosen interest as the page shows it."""

    item: dict  # {"topic_id": 100} or {"text": "crime fiction"}
    name: str  # "Books & Literature", or the words as typed
    category: str  # "Arts & Entertainment > Movies"; "" for free text or a top category

    @property
    def topic_id(self) -> int | None:
        return self.item.get("topic_id")

    @property
    def text(self) -> str | None:
        return self.item.get("text")


def _same(a: dict, b: dict) -> bool:
    if "topic_id" in a or "topic_id" in b:
        return a.get("topic_id") == b.get("topic_id")
    return (a.get("text") or "").strip().casefold() == (b.get("text") or "").strip().casefold()


class InterestEditor:
    """Adds and removes single interests of a consumer, through the disclosure service."""

    def __init__(self, disclosures: DisclosureService):
        self.disclosures = disclosures

    def current(self, account: Account) -> list[dict]:
        """The consumer's interests as stored."""
        return self.disclosures.read(account).get(FIELD, [])

    def chosen(self, account: Account, value: list[dict] | None = None) -> list[Chosen]:
        """The interests (``value``, or the stored ones) named for people."""
        shown = []
        for item in self.current(account) if value is None else value:
            topic_id = item.get("topic_id")
            if topic_id in topics():
                shown.append(Chosen(item, topics()[topic_id].name, catalogue.category_of(topic_id)))
            elif "text" in item:
                shown.append(Chosen(item, item["text"], ""))
        return shown

    def suggestions(self, account: Account, limit: int = 8) -> list[int]:
        """Topics of the consumer's own browsing categories (reviewed on their device),
        heaviest first, that are not among their interests yet."""
        values = self.disclosures.read(account)
        have = {i.get("topic_id") for i in values.get(FIELD, [])}
        browsing = sorted(
            values.get("browsing_categories", []), key=lambda c: (-c["weight"], c["topic_id"])
        )
        return [c["topic_id"] for c in browsing if c["topic_id"] not in have][:limit]

    def add(self, account: Account, item: dict) -> bool:
        """Add one interest; False if it is there already. Raises ``ValidationError`` when
        the interest, or the list with it, is not valid (too long, too many…)."""
        current = self.current(account)
        if any(_same(item, have) for have in current):
            return False
        if len(current) >= FIELDS[FIELD].max_items:
            raise ValidationError(
                [
                    f"You have {len(current)} interests, the most you can keep. "
                    "Remove one to add another."
                ]
            )
        value = value_schema(FIELD).load({"value": [*current, item]})["value"]
        self.disclosures.update(account, {FIELD: value})
        return True

    def remove(self, account: Account, item: dict) -> bool:
        """Remove one interest; False if it was not there."""
        current = self.current(account)
        kept = [have for have in current if not _same(item, have)]
        if len(kept) == len(current):
            return False
        self.disclosures.update(account, {FIELD: kept or None})
        return True
