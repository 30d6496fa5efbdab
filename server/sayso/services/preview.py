"""What a brand would receive, said in plain words, for the consumer's own eyes.

The consent page and the "grant again" step show each requested field with the consumer's
current value as the brand would get it. The values are opened the way the consumer's own
disclosures page opens them (the disclosure and question services), never through the
profile read: showing a consumer their own data is not a brand's read, so no read event
is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sayso.fields import channel_label, grantable
from sayso.models import Account, Brand
from sayso.services.disclosures import DisclosureService
from sayso.services.questions import ANSWERS, QuestionService
from sayso.taxonomy import topics


@dataclass(frozen=True)
class FieldPreview:
    """One requested field or permission, as the consent page shows it."""

    name: str
    label: str
    description: str
    purpose: str
    #: "read" (the brand would see a value) or "write" (the brand would do something).
    kind: str
    #: The value in plain words, one line per item; empty when there is nothing to send.
    #: Always empty for a write, which sends the brand nothing.
    items: tuple[str, ...]


def _topic(topic_id: int) -> str:
    topic = topics().get(topic_id)
    if topic is None:
        return f"Topic {topic_id}"
    parent = topics().get(topic.parent) if topic.parent else None
    return f"{topic.name} (in {parent.name})" if parent else topic.name


def _interest(item: dict) -> str:
    if item.get("topic_id") is not None:
        return _topic(item["topic_id"])
    return f"“{item.get('text', '')}”"


def _browsing(item: dict) -> str:
    weight = item.get("weight") or 0
    return f"{_topic(item['topic_id'])}, weight {weight:.2f} of 1"


def _channel(item: dict) -> str:
    name = channel_label(item["channel"])
    cap = item.get("max_per_week")
    if cap == 0:
        return f"{name}: never"
    said = f"{name}: at most {cap} a week" if cap is not None else name
    quiet = item.get("quiet_hours")
    if quiet:
        zone = f" ({quiet['tz']})" if quiet.get("tz") else ""
        said += f", never between {quiet['start']} and {quiet['end']}{zone}"
    return said


def _answer(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


_SAY = {"interests": _interest, "browsing_categories": _browsing, "channels": _channel}


def is_write(name: str) -> bool:
    """Whether a grant of ``name`` lets the brand do something (``…:write``) rather than
    read a value."""
    granted = grantable(name)
    return granted is not None and granted.scope.endswith(":write")


class SharePreview:
    """Reads the consumer's own values to show them what a brand would receive."""

    def __init__(self, disclosures: DisclosureService, questions: QuestionService):
        self.disclosures = disclosures
        self.questions = questions

    def preview(
        self, account: Account, brand: Brand, purposes: dict[str, str]
    ) -> list[FieldPreview]:
        """Each of ``purposes`` (field name -> the brand's declared purpose), reads first,
        then writes, each in the order given."""
        values = self.disclosures.read(account)
        shown = []
        for name, purpose in purposes.items():
            granted = grantable(name)
            if granted is None:
                continue
            kind = "write" if is_write(name) else "read"
            items: tuple[str, ...] = ()
            if kind == "read":
                items = self._items(account, brand, name, values)
            shown.append(
                FieldPreview(name, granted.label, granted.description, purpose, kind, items)
            )
        return [p for p in shown if p.kind == "read"] + [p for p in shown if p.kind == "write"]

    def _items(self, account, brand, name, values) -> tuple[str, ...]:
        if name == ANSWERS:
            # Only the answers to this brand's own questions, as the profile read gives them.
            answers = self.questions.answers_for(account.id, brand.id)
            return tuple(
                f"“{q.prompt}”: {_answer(answers[str(q.id)])}"
                for q in reversed(self.questions.of_brand(brand))
                if str(q.id) in answers
            )
        say = _SAY.get(name)
        return tuple(say(item) for item in values.get(name) or []) if say else ()
