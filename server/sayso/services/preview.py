"""What a brand would receive, said in plain words, for the consumer's own eyes.

The consent page and the "grant again" step show each requested field with the consumer's
current value as the brand would get it. The values are opened the way the consumer's own
disclosures page opens them (the disclosure and question services), never through the
profile read: showing a consumer their own data is not a brand's read, so no read event
is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from sayso.about_fields import WORDS, in_words
from sayso.coarsening import EVERYTHING, Coarsener, View, choice_label, choices_for
from sayso.fields import FIELDS, channel_label, grantable
from sayso.models import Account, Brand
from sayso.services.disclosures import DisclosureService
from sayso.services.questions import ANSWERS, QuestionService
from sayso.taxonomy import topics


@dataclass(frozen=True)
class ViewPreview:
    """One view the consumer may grant of a field, and what the brand would get with it."""

    view: View
    label: str
    items: tuple[str, ...]


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
    #: The view the items are shown in (everything, unless the grant says less).
    view: View = EVERYTHING
    #: Each view the consumer may choose, with its items; empty for a field always
    #: shared whole.
    options: tuple[ViewPreview, ...] = ()


def _topic(topic_id: int) -> str:
    topic = topics().get(topic_id)
    if topic is None:
        return f"Topic {topic_id}"
    parent = topics().get(topic.parent) if topic.parent else None
    return (
        _("%(topic)s (in %(category)s)", topic=topic.name, category=parent.name)
        if parent
        else topic.name
    )


def _interest(item: dict) -> str:
    if item.get("topic_id") is not None:
        return _topic(item["topic_id"])
    return f"“{item.get('text', '')}”"


def _browsing(item: dict) -> str:
    weight = item.get("weight") or 0
    return _(
        "%(topic)s, weight %(weight)s of 1",
        topic=_topic(item["topic_id"]),
        weight=format(weight, ".2f"),
    )


def _channel(item: dict) -> str:
    name = _(channel_label(item["channel"]))
    cap = item.get("max_per_week")
    if cap == 0:
        return _("%(channel)s: never", channel=name)
    said = (
        _("%(channel)s: at most %(cap)s a week", channel=name, cap=cap) if cap is not None else name
    )
    quiet = item.get("quiet_hours")
    if quiet:
        hours = {"start": quiet["start"], "end": quiet["end"]}
        if quiet.get("tz"):
            said += _(", never between %(start)s and %(end)s (%(tz)s)", tz=quiet["tz"], **hours)
        else:
            said += _(", never between %(start)s and %(end)s", **hours)
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

    def __init__(
        self,
        disclosures: DisclosureService,
        questions: QuestionService,
        coarsener: Coarsener | None = None,
    ):
        self.disclosures = disclosures
        self.questions = questions
        self.coarsener = coarsener or Coarsener(None)

    def preview(
        self,
        account: Account,
        brand: Brand,
        purposes: dict[str, str],
        views: dict[str, View] | None = None,
    ) -> list[FieldPreview]:
        """Each of ``purposes`` (field name -> the brand's declared purpose), reads first,
        then writes, each in the order given; a field's items in its view of ``views``
        (everything if none), with every view it may be granted in as an option."""
        views = views or {}
        values = self.disclosures.read(account)
        shown = []
        for name, purpose in purposes.items():
            granted = grantable(name)
            if granted is None:
                continue
            kind = "write" if is_write(name) else "read"
            view = views.get(name, EVERYTHING)
            items: tuple[str, ...] = ()
            options: tuple[ViewPreview, ...] = ()
            if kind == "read":
                items = self._items(account, brand, name, values, view)
                choices = choices_for(name)
                if len(choices) > 1:
                    options = tuple(
                        ViewPreview(
                            choice,
                            choice_label(choice, name),
                            self._items(account, brand, name, values, choice),
                        )
                        for choice in choices
                    )
            shown.append(
                FieldPreview(
                    name,
                    granted.label,
                    granted.description,
                    purpose,
                    kind,
                    items,
                    view,
                    options,
                )
            )
        return [p for p in shown if p.kind == "read"] + [p for p in shown if p.kind == "write"]

    def _items(self, account, brand, name, values, view=EVERYTHING) -> tuple[str, ...]:
        if name == ANSWERS:
            # Only the answers to this brand's own questions, as the profile read gives them.
            answers = self.questions.answers_for(account.id, brand.id)
            return tuple(
                f"“{q.prompt}”: {_answer(answers[str(q.id)])}"
                for q in reversed(self.questions.of_brand(brand))
                if str(q.id) in answers
            )
        if name in WORDS:
            # "About me" and "What I want to hear about": this brand's own view, in words.
            value = FIELDS[name].for_brand(values.get(name), brand.public_id)
            return tuple(in_words(name, value))
        say = _SAY.get(name)
        if say is None:
            return ()
        # Exactly what the brand's read would return (sayso/coarsening.py).
        value = self.coarsener.view(name, values.get(name) or [], view, account.id, brand.id)
        return tuple(say(item) for item in value)
