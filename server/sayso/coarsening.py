"""Sharing less than everything: the views a consumer may grant a brand of a list field.

A grant of ``interests`` or ``browsing_categories`` has a view (every other field is always
shown whole):

- ``all``: everything, as stored (the default);
- ``top_level``: each taxonomy topic replaced by its top-level category ("Books & Literature"
  for "Poetry"), repeats removed; an interest in the consumer's own words has no category,
  so it is left out; a category's weight is the largest of the topics it stands for;
- ``top`` with N of 3, 5 or 10: the first N, browsing categories by weight (heaviest first),
  interests in the consumer's own order;
- ``noised`` with a rate of 5 or 10 (percent): that share of entries, on average, replaced
  by a topic drawn at random from the taxonomy, the rest left as they are (Topics API
  style, so a brand can never be sure of any one entry).

The noise is not drawn afresh on each read: whether an entry is replaced, and by what, is
an HMAC of a server secret, the grant (consumer, brand, field) and the entry itself. A
brand reading a hundred times reads the same view a hundred times, so it cannot average the
noise away; the consent page shows the consumer exactly what the brand will get; and the
entries replaced at 5 % are among those replaced at 10 %, so switching between the two
tells the brand nothing more than the larger rate.

Pure functions over data shipped with the package: nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache

from flask_babel import gettext

from sayso.taxonomy import topics

ALL = "all"
TOP_LEVEL = "top_level"
TOP = "top"
NOISED = "noised"
#: Each view's name and the parameters it takes (``None``: it takes none).
ALLOWED: dict[str, tuple[int | None, ...]] = {
    ALL: (None,),
    TOP_LEVEL: (None,),
    TOP: (3, 5, 10),
    NOISED: (5, 10),
}
#: The fields a consumer may grant less than everything of.
COARSENABLE = ("interests", "browsing_categories")


@dataclass(frozen=True)
class View:
    """A view of a list field: its name and its parameter (N, or the noise rate in %)."""

    name: str = ALL
    parameter: int | None = None

    def __post_init__(self):
        if self.name not in ALLOWED or self.parameter not in ALLOWED[self.name]:
            raise ValueError(f"not a view: {self.name!r} with {self.parameter!r}")

    @classmethod
    def parse(cls, token: str) -> View:
        """The view a form spells ``token`` (``all``, ``top_level``, ``top:5``,
        ``noised:10``); raises ``ValueError`` for anything else."""
        name, colon, number = str(token).partition(":")
        if not colon:
            return cls(name)
        if not number.isdigit() or len(number) > 3:
            raise ValueError(f"not a view: {token!r}")
        return cls(name, int(number))

    @classmethod
    def from_json(cls, value) -> View:
        """The view of ``{"name": ..., "parameter": ...}``; raises ``ValueError``."""
        if not isinstance(value, dict) or set(value) - {"name", "parameter"}:
            raise ValueError("a view is an object with a name and a parameter")
        parameter = value.get("parameter")
        if isinstance(parameter, bool) or not isinstance(parameter, int | None):
            raise ValueError("a view's parameter is a whole number or null")
        return cls(value.get("name"), parameter)

    @property
    def token(self) -> str:
        """How a form spells it: ``top:5``."""
        return self.name if self.parameter is None else f"{self.name}:{self.parameter}"

    @property
    def is_all(self) -> bool:
        return self.name == ALL

    def as_json(self) -> dict:
        """As the API, the ledger and receipts write it."""
        return {"name": self.name, "parameter": self.parameter}


EVERYTHING = View()
#: Every view a consumer may choose, in the order the consent page offers them.
CHOICES: tuple[View, ...] = tuple(
    View(name, parameter) for name, parameters in ALLOWED.items() for parameter in parameters
)


def choices_for(field: str) -> tuple[View, ...]:
    """The views a consumer may grant of ``field`` (only everything, for most fields)."""
    return CHOICES if field in COARSENABLE else (EVERYTHING,)


def describe(view: View, field: str = "interests") -> str:
    """The view in people's words, as a choice and on the Brands page and receipts (in the
    page's language; English outside a request)."""
    if view.name == TOP_LEVEL:
        if field == "interests":
            return gettext("Only the top-level categories (your own words are left out)")
        return gettext("Only the top-level categories")
    if view.name == TOP:
        if field == "browsing_categories":
            return gettext("Only the top %(n)s, by weight", n=view.parameter)
        return gettext("Only the first %(n)s, in your order", n=view.parameter)
    if view.name == NOISED:
        return gettext(
            "Everything, with %(n)s %% of entries swapped for random topics", n=view.parameter
        )
    return gettext("Everything")


def choice_label(view: View, field: str = "interests") -> str:
    """The view as a short choice in a list (a phone's width): "Top-level categories only"."""
    if view.name == TOP_LEVEL:
        return gettext("Top-level categories only")
    if view.name == TOP:
        if field == "browsing_categories":
            return gettext("Top %(n)s only, by weight", n=view.parameter)
        return gettext("First %(n)s only", n=view.parameter)
    if view.name == NOISED:
        return gettext("%(n)s %% swapped at random", n=view.parameter)
    return gettext("Everything")


def noise_key(secret: bytes) -> bytes:
    """The key of the noise, derived from a server secret that never rotates (the pairwise
    subject key): a new key would draw new noise, and a brand could then average it away."""
    return hmac.new(secret, b"sayso/coarsening-noise/v1", hashlib.sha256).digest()


@cache
def _topic_ids() -> tuple[int, ...]:
    return tuple(sorted(topics()))


def top_level_of(topic_id: int) -> int:
    """The top-level category a topic sits in (itself, for a top-level one)."""
    found = topics()[topic_id]
    while found.parent is not None:
        found = topics()[found.parent]
    return found.id


def _by_weight(value: list) -> list:
    # Heaviest first; equal weights keep the consumer's order (sorted() is stable).
    return sorted(value, key=lambda item: -(item.get("weight") or 0))


def _top_level(field: str, value: list) -> list:
    source = _by_weight(value) if field == "browsing_categories" else value
    shown: dict[int, dict] = {}
    for item in source:
        if item.get("topic_id") is None:
            continue  # free text has no category
        top = top_level_of(item["topic_id"])
        if top not in shown:
            shown[top] = {**item, "topic_id": top}
    return list(shown.values())


def _entry(item: dict) -> str:
    if item.get("topic_id") is not None:
        return f"topic:{item['topic_id']}"
    return "text:" + (item.get("text") or "").strip().casefold()


class Coarsener:
    """Applies a grant's view to a value; keyed for the noise."""

    def __init__(self, key: bytes | None):
        self.key = key
        # Keyed once: each draw copies it (half the cost of keying HMAC again).
        self._keyed = hmac.new(key, digestmod=hashlib.sha256) if key is not None else None

    def view(self, field: str, value, view: View, account_id: int, brand_id: int):
        """What a brand granted ``view`` of ``field`` gets of ``value`` (the consumer's
        whole value; ``None`` stays ``None``)."""
        if value is None or view.is_all or field not in COARSENABLE:
            return value
        if view.name == TOP_LEVEL:
            return _top_level(field, value)
        if view.name == TOP:
            source = _by_weight(value) if field == "browsing_categories" else value
            return source[: view.parameter]
        return self._noised(field, value, view.parameter, f"{account_id}/{brand_id}/{field}")

    def _draw(self, grant: str, entry: str, attempt: int) -> bytes:
        if self._keyed is None:
            raise RuntimeError("a noised view needs the noise key")
        mac = self._keyed.copy()
        mac.update(f"{grant}|{entry}|{attempt}".encode())
        return mac.digest()

    def _chance(self, grant: str, item: dict) -> int:
        """The entry's draw in [0, 2**64): it is replaced at a rate of r % when below
        r % of 2**64, so what 5 % replaces, 10 % replaces too."""
        return int.from_bytes(self._draw(grant, _entry(item), 0)[:8], "big")

    def replaced(self, grant: str, item: dict, rate: int) -> bool:
        """Whether the entry ``item`` of the grant ``grant`` is replaced at ``rate`` %."""
        return self._chance(grant, item) < (rate * 2**64) // 100

    def _noised(self, field: str, value: list, rate: int, grant: str) -> list:
        chances = [self._chance(grant, item) for item in value]
        limit = (rate * 2**64) // 100
        # Replaced in the order of their draws, whatever the rate: the entries a lower rate
        # replaces come first, so they get the same random topics at a higher rate.
        order = sorted((c, i) for i, c in enumerate(chances) if c < limit)
        taken = {item["topic_id"] for item in value if item.get("topic_id") is not None}
        ids = _topic_ids()
        shown = list(value)
        for _, index in order:
            item = value[index]
            # A topic the value does not hold already, so the list never repeats itself
            # (while the taxonomy has one left: a value is far shorter than it).
            attempt = 0
            while True:
                draw = self._draw(grant, _entry(item), attempt)
                topic_id = ids[int.from_bytes(draw[8:16], "big") % len(ids)]
                if topic_id not in taken or len(taken) >= len(ids):
                    break
                attempt += 1
            taken.add(topic_id)
            if field == "browsing_categories":
                shown[index] = {"topic_id": topic_id, "weight": item.get("weight")}
            else:
                shown[index] = {"topic_id": topic_id}
        return shown
