"""The Topics API taxonomy v2, shipped with the package: the vocabulary for topics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Topic:
    id: int
    name: str
    path: str
    depth: int
    parent: int | None


@cache
def topics() -> dict[int, Topic]:
    """Every topic of the taxonomy by id (read once, on first use)."""
    raw = json.loads(
        resources.files("sayso").joinpath("data/topics-taxonomy-v2.json").read_text("utf-8")
    )
    return {
        t["id"]: Topic(t["id"], t["name"], t["path"], t["depth"], t.get("parent"))
        for t in raw["topics"]
    }


def is_topic(topic_id: object) -> bool:
    """True when ``topic_id`` is an int naming a topic of the taxonomy."""
    return isinstance(topic_id, int) and not isinstance(topic_id, bool) and topic_id in topics()
