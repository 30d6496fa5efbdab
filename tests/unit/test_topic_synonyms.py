"""The server's everyday words for topics (``sayso/data/topic-synonyms.json``, used by the
interests page's search) are the extension classifier's own (SYNONYMS in
``extension/lib/classify.js``): one table, in two files because the extension is not part of
the installed package. This reads the extension's table with Node and compares."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sayso.services import topics as catalogue

ROOT = Path(__file__).resolve().parents[2]
SERVER_TABLE = ROOT / "server" / "sayso" / "data" / "topic-synonyms.json"
CLASSIFIER = ROOT / "extension" / "lib" / "classify.js"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the extension's code")
def test_the_server_and_the_extension_know_the_same_everyday_words():
    script = (
        f"import({json.dumps(CLASSIFIER.as_uri())})"
        ".then((m) => process.stdout.write(JSON.stringify(m.SYNONYMS)))"
    )
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    extension = json.loads(result.stdout)
    server = json.loads(SERVER_TABLE.read_text("utf-8"))["synonyms"]
    assert server == extension, (
        "The two tables differ: copy SYNONYMS from extension/lib/classify.js into "
        "server/sayso/data/topic-synonyms.json"
    )


def test_everyday_words_find_their_topics():
    assert [t.name for t in catalogue.search("novels")][:1] == ["Books & Literature"]
    assert [t.name for t in catalogue.search("recipes")][:1] == ["Cooking & Recipes"]
    assert catalogue.search("   ") == []
