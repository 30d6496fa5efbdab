"""The Topics taxonomy as people look through it: by category, or by searching in their
own words (the everyday synonyms the extension's classifier knows, e.g. "novels" for
Books & Literature).

Pure lookups over data shipped with the package; nothing here touches the database.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from sayso.taxonomy import Topic, topics

#: How the path of a topic's categories is written ("Arts & Entertainment > Movies").
SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark


@cache
def synonyms() -> dict[str, tuple[int, ...]]:
    """Everyday word (stemmed) → topic ids. The table is the extension classifier's
    (``extension/lib/classify.js``, SYNONYMS), kept as a data file of the server's own
    because the extension is not part of the installed package; a unit test keeps the
    two equal."""
    raw = json.loads(
        resources.files("sayso").joinpath("data/topic-synonyms.json").read_text("utf-8")
    )
    table: dict[str, set[int]] = {}
    for word, ids in raw["synonyms"].items():
        for stemmed in words(word.replace("_", " ")):
            table.setdefault(stemmed, set()).update(i for i in ids if i in topics())
    return {word: tuple(sorted(ids)) for word, ids in table.items() if ids}


def _stem(word: str) -> str:
    # The classifier's own folding (extension/lib/classify.js, stem): "stories" → "story",
    # "novels" → "novel", but "glass" stays.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The lower-case words of ``text`` (letters and digits), plural "s" folded away."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.casefold())]


@cache
def _children() -> dict[int | None, tuple[Topic, ...]]:
    by_parent: dict[int | None, list[Topic]] = {}
    for topic in topics().values():
        by_parent.setdefault(topic.parent, []).append(topic)
    return {
        parent: tuple(sorted(found, key=lambda t: t.name.casefold()))
        for parent, found in by_parent.items()
    }


def children_of(topic_id: int | None) -> tuple[Topic, ...]:
    """The topics right under ``topic_id`` (the top-level categories for None), by name."""
    return _children().get(topic_id, ())


def has_children(topic_id: int) -> bool:
    """Whether a topic has topics under it to browse."""
    return bool(_children().get(topic_id))


def ancestors(topic_id: int) -> list[Topic]:
    """The categories a topic sits in, the top-level one first (empty for a top-level one)."""
    found = []
    parent = topics()[topic_id].parent
    while parent is not None:
        found.append(topics()[parent])
        parent = topics()[parent].parent
    return found[::-1]


def category_of(topic_id: int) -> str:
    """Where a topic sits, in words ("Arts & Entertainment > Movies"); "" at the top."""
    return SEPARATOR.join(t.name for t in ancestors(topic_id))


def label(topic_id: int) -> str:
    """A topic as people read it: its name, then where it sits ("Comedy Films (Arts &
    Entertainment > Movies)"); a top-level category is its name alone."""
    category = category_of(topic_id)
    name = topics()[topic_id].name
    return f"{name} ({category})" if category else name


@cache
def _name_words() -> dict[int, frozenset[str]]:
    return {t.id: frozenset(words(t.name)) for t in topics().values()}


def search(query: str, limit: int = 30) -> list[Topic]:
    """Topics for what someone typed, best first: a topic named so, then names that start
    with it or hold its words (whole or begun: "cook" finds Cooking & Recipes), then the
    topics its everyday words stand for ("novels" finds Books & Literature). Topics every
    typed word counts for come first; if none, those some of them count for."""
    wanted = query.strip().casefold()
    typed = words(wanted)
    if not typed:
        return []
    table = synonyms()
    scores: dict[int, float] = {}
    partial: dict[int, float] = {}
    for topic in topics().values():
        name = topic.name.casefold()
        own = _name_words()[topic.id]
        score = 0.0
        if name == wanted:
            score += 100
        elif name.startswith(wanted):
            score += 40
        matched = 0
        for word in typed:
            if word in own:
                score += 20
            elif any(w.startswith(word) for w in own) and len(word) >= 3:
                score += 10
            elif topic.id in table.get(word, ()):
                score += 25
            else:
                continue
            matched += 1
        if matched == len(typed) or score >= 40:
            scores[topic.id] = score
        elif score:
            partial[topic.id] = score
    scores = scores or partial
    ranked = sorted(scores, key=lambda i: (-scores[i], topics()[i].depth, topics()[i].name))
    return [topics()[i] for i in ranked[:limit]]
