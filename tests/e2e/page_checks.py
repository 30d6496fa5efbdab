"""What every page must pass, checked in a real Chromium: it fits the window (no sideways
scrolling at phone width) and axe-core finds no serious or critical violation.

axe-core comes from npm (``extension/package.json`` devDependencies, installed by
``make test``) and is evaluated in the page through the DevTools protocol, which Sayso's
Content-Security-Policy (``script-src 'self'``) does not govern, so the page is checked
with its real CSP on; nothing is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "extension" / "node_modules" / "axe-core" / "axe.min.js"
#: The widths every page is checked at: a desktop window and a phone.
WIDTHS = {"desktop": 1280, "phone": 390}
#: axe-core impacts that fail a page.
FAILING_IMPACTS = ("serious", "critical")


def set_width(page, width: int) -> None:
    """Resize the viewport to ``width`` (the height stays a phone's or a laptop's)."""
    page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})


def overflow(page) -> dict | None:
    """None when the page fits its window; else the widths and the widest offending element."""
    return page.evaluate(
        """() => {
          const doc = document.documentElement;
          if (doc.scrollWidth <= window.innerWidth) return null;
          let worst = null;
          for (const el of document.body.querySelectorAll('*')) {
            const right = el.getBoundingClientRect().right;
            if (right > window.innerWidth + 1 && (!worst || right > worst.right)) {
              worst = {right, tag: el.tagName.toLowerCase(), cls: el.className || '',
                       text: (el.textContent || '').trim().slice(0, 60)};
            }
          }
          return {scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, worst};
        }"""
    )


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await window.axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


def assert_page_ok(page, label: str = "") -> None:
    """Fail with what is wrong if the page scrolls sideways or has a serious axe violation."""
    where = f"{label or page.url} at {page.viewport_size['width']} px"
    wide = overflow(page)
    assert wide is None, f"{where} scrolls sideways: {json.dumps(wide)}"
    violations = axe_violations(page)
    assert not violations, f"{where} fails axe-core: {json.dumps(violations, indent=1)}"


def check_at_every_width(page, label: str = "", screenshot=None) -> None:
    """``assert_page_ok`` at each of ``WIDTHS``; ``screenshot(name)`` is called at each if given."""
    for name, width in WIDTHS.items():
        set_width(page, width)
        assert_page_ok(page, label)
        if screenshot is not None:
            screenshot(f"{label or 'page'}-{name}")
