"""Bar charts of counts per day (the console's grants, revokes and reads per brand; the
portal's reads and errors per client), laid out here and drawn as SVG by a template
(``_chart.html``): no script, no third-party library, nothing inline that the
Content-Security-Policy would block (SVG presentation attributes only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Protocol


class DailyCounts(Protocol):
    """Counts per day and kind (``BrandActivity`` and the portal's client activity are)."""

    def count(self, day: date, kind: str) -> int:
        """How many of ``kind`` on ``day``."""


#: Each series, in drawing order: (kind, legend label, colour).
SERIES = (
    ("grants", "grants", "#2b7a3d"),
    ("revokes", "revokes", "#a61b1b"),
    ("reads", "reads", "#2b59c3"),
)
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 30, 34
PLOT_HEIGHT = 140
BAR, BAR_GAP, GROUP_GAP = 5, 1, 5


@dataclass(frozen=True)
class Bar:
    """One day's count of one kind."""

    x: float
    y: float
    width: float
    height: float
    kind: str
    fill: str
    title: str


@dataclass(frozen=True)
class Label:
    """A piece of axis text at (x, y)."""

    x: float
    y: float
    text: str


@dataclass(frozen=True)
class BarChart:
    """Everything the template needs to draw one brand's chart."""

    title: str
    width: float
    height: float
    left: float
    top: float
    bottom: float
    right: float
    bars: list[Bar]
    y_labels: list[Label]
    x_labels: list[Label]
    legend: list[tuple[float, str, str]]


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least ``value``."""
    if value <= 1:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover  (the loop always returns)


def daily_chart(
    activity: DailyCounts,
    days: list[date],
    series=SERIES,
    title: str | None = None,
    bar_title=None,
) -> BarChart:
    """A bar a day for each of ``series`` (by default grants, revokes and reads, for one
    brand) over ``days``. ``title`` names the chart; by default the brand's activity.
    ``bar_title(day, kind, n)`` writes a bar's tooltip (a translated page's); by default
    "2026-12-07: 3 reads"."""
    group = len(series) * BAR + (len(series) - 1) * BAR_GAP + GROUP_GAP
    width = LEFT + max(len(days), 1) * group + RIGHT
    height = TOP + PLOT_HEIGHT + BOTTOM
    baseline = TOP + PLOT_HEIGHT
    highest = max((activity.count(day, kind) for day in days for kind, _, _ in series), default=0)
    scale_max = nice_ceiling(highest)
    bars = []
    for i, day in enumerate(days):
        x0 = LEFT + i * group + GROUP_GAP / 2
        for j, (kind, label, colour) in enumerate(series):
            n = activity.count(day, kind)
            if not n:
                continue
            bar_height = PLOT_HEIGHT * n / scale_max
            bars.append(
                Bar(
                    x=round(x0 + j * (BAR + BAR_GAP), 2),
                    y=round(baseline - bar_height, 2),
                    width=BAR,
                    height=round(bar_height, 2),
                    kind=kind,
                    fill=colour,
                    title=bar_title(day, kind, n)
                    if bar_title
                    else f"{day.isoformat()}: {n} {label if n != 1 else label[:-1]}",
                )
            )
    ticks = sorted({0, scale_max // 2, scale_max}) if scale_max > 1 else [0, 1]
    y_labels = [
        Label(LEFT - 6, round(baseline - PLOT_HEIGHT * t / scale_max + 4, 2), str(t)) for t in ticks
    ]
    step = max(1, math.ceil(len(days) / 10))
    x_labels = [
        Label(round(LEFT + i * group + group / 2, 2), baseline + 16, day.strftime("%m-%d"))
        for i, day in enumerate(days)
        if i % step == 0
    ]
    legend = [(LEFT + k * 80, label, colour) for k, (_, label, colour) in enumerate(series)]
    if title is None:
        name = activity.name or activity.brand
        title = f"{name}: grants, revokes and reads per day"
    return BarChart(
        title=title,
        width=width,
        height=height,
        left=LEFT,
        top=TOP,
        bottom=baseline,
        right=width - RIGHT,
        bars=bars,
        y_labels=y_labels,
        x_labels=x_labels,
        legend=legend,
    )
