"""The browser extension in a real Chromium, against a live Sayso.

The unpacked extension is loaded into Chromium; every site visited (the brand's and the
pages that make up browsing categories) is served by one local server under its own
hostname (``--host-resolver-rules``). The consumer signs in through the extension, sees the
brand's fields in the popup, turns one off (the brand's token loses it, checked by
introspection and by reading the profile), builds browsing categories by visiting pages and
shares them from the review page; nothing is sent before Share.

Headless Chromium cannot click the extension's host-permission prompt, so the test loads a
copy of ``extension/`` whose manifest grants the loopback address up front; everything else
is the shipped tree. Screenshots go to ``docs/img/extension-*.png`` when
``SAYSO_EXTENSION_SCREENSHOTS=1`` (``make screenshots``), else into the test's tmp dir.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from playwright.sync_api import expect

from tests.e2e.conftest import _CSRF, CHROMIUM_ARGS, ROOT, free_port

EXTENSION_DIR = ROOT / "extension"
EXTENSION_ID = "kcbeacjgbdmffpfeohjhngmloglamnbe"
DOCS_IMG = ROOT / "docs" / "img"
BRAND_HOST = "bookshop.localhost"
#: Pages of real public sites (served locally under their names) with their real titles.
PAGES = {
    "www.allrecipes.com": "Easy Weeknight Dinner Recipes | Allrecipes",
    "www.seriouseats.com": "The Best Pancake Recipe | Serious Eats",
    "www.bonappetit.com": "Cooking tips and recipes | Bon Appétit",
    "www.simplyrecipes.com": "Simply Recipes: Family recipes",
    "www.nfl.com": "NFL scores and schedule",
    "www.espn.com": "ESPN - Serving Sports Fans",
    "www.lonelyplanet.com": "Lonely Planet | Travel Guide & Travel Information",
}
SCOPES = {
    "interests:read": "recommend books about what you like",
    "channels:read": "email you no more often than you allow",
}


class _Sites(BaseHTTPRequestHandler):
    """Every hostname's home page: the brand's, or one of PAGES."""

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        title = "Bookshop — books you'll love" if host == BRAND_HOST else PAGES.get(host, host)
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def sites():
    """A local web server answering for every hostname; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sites)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def extension_copy(tmp_path) -> Path:
    """The shipped extension, with the loopback host permission granted at install."""
    target = tmp_path / "extension"
    shutil.copytree(
        EXTENSION_DIR, target, ignore=shutil.ignore_patterns("node_modules", "test", "package*")
    )
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["host_permissions"] = ["http://127.0.0.1/*"]
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.fixture
def browser(chromium_path, e2e_dir, extension_copy, sites):
    """Chromium with the unpacked extension (new headless mode runs extensions)."""
    from playwright.sync_api import sync_playwright

    rules = ", ".join(f"MAP {host} 127.0.0.1" for host in [BRAND_HOST, *PAGES])
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(e2e_dir / "chromium-extension-profile"),
            executable_path=chromium_path,
            headless=False,
            args=[
                "--headless=new",
                *CHROMIUM_ARGS,
                f"--disable-extensions-except={extension_copy}",
                f"--load-extension={extension_copy}",
                f"--host-resolver-rules={rules}",
            ],
        )
        try:
            context.set_default_timeout(15_000)
            worker = context.service_workers[0] if context.service_workers else None
            if worker is None:
                worker = context.wait_for_event("serviceworker")
            assert EXTENSION_ID in worker.url, worker.url
            yield context, worker
        finally:
            context.close()


def _shot(page, name: str, e2e_dir: Path) -> None:
    folder = DOCS_IMG if os.environ.get("SAYSO_EXTENSION_SCREENSHOTS") else e2e_dir / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"extension-{name}.png"), full_page=True)


def _brand_token(sayso, consumer, brand) -> str:
    """The brand's own access token, from the OAuth flow done with requests."""
    verifier = base64.urlsafe_b64encode(os.urandom(40)).decode().rstrip("=")
    params = {
        "response_type": "code",
        "client_id": brand["client_id"],
        "redirect_uri": "https://bookshop.example/callback",
        "scope": " ".join(SCOPES),
        "state": "s",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    with requests.Session() as http:
        login = http.get(f"{sayso.url}/login", timeout=10)
        http.post(
            f"{sayso.url}/login",
            data={
                "email": consumer.email,
                "password": consumer.password,
                "csrf_token": _CSRF.search(login.text).group(1),
            },
            timeout=10,
        )
        page = http.get(f"{sayso.url}/oauth/authorize", params=params, timeout=10)
        answer = http.post(
            page.url,
            data={
                "csrf_token": _CSRF.search(page.text).group(1),
                "decision": "allow",
                "field": ["interests", "channels"],
                "expiry": "1y",
            },
            allow_redirects=False,
            timeout=10,
        )
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        token = requests.post(
            f"{sayso.url}/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": params["redirect_uri"],
                "code_verifier": verifier,
            },
            auth=(brand["client_id"], brand["client_secret"]),
            timeout=10,
        )
    assert token.status_code == 200, token.text
    return token.json()["access_token"]


def _introspect(sayso, brand, token) -> dict:
    return requests.post(
        f"{sayso.url}/oauth/introspect",
        data={"token": token},
        auth=(brand["client_id"], brand["client_secret"]),
        timeout=10,
    ).json()


def _profile(sayso, token) -> requests.Response:
    return requests.get(
        f"{sayso.url}/api/v1/profile", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _browsing_categories(sayso, consumer) -> list | None:
    with requests.Session() as http:
        login = http.get(f"{sayso.url}/login", timeout=10)
        http.post(
            f"{sayso.url}/login",
            data={
                "email": consumer.email,
                "password": consumer.password,
                "csrf_token": _CSRF.search(login.text).group(1),
            },
            timeout=10,
        )
        return (
            http.get(f"{sayso.url}/api/v1/me/disclosures", timeout=10)
            .json()
            .get("browsing_categories")
        )


def _wait_until_counted(worker, site: str, deadline: float = 10.0) -> None:
    """Poll the extension's local counts until ``site`` is among the evidence."""
    script = (
        "async () => JSON.stringify((await chrome.storage.local.get(['categories']))"
        ".categories || {})"
    )
    end = time.monotonic() + deadline
    while f'"{site}"' not in worker.evaluate(script):
        assert time.monotonic() < end, f"{site} was never counted"
        time.sleep(0.1)


def test_extension_signs_in_toggles_a_field_and_shares_reviewed_categories(
    browser, sayso, consumer, sites, e2e_dir
):
    context, worker = browser
    base = f"chrome-extension://{EXTENSION_ID}"
    sayso.cli("init")
    brand = json.loads(
        sayso.cli(
            "brands",
            "create",
            "Bookshop",
            "--domain",
            BRAND_HOST,
            "--redirect-uri",
            "https://bookshop.example/callback",
            *[
                arg
                for scope, purpose in SCOPES.items()
                for arg in ("--scope", f"{scope}={purpose}")
            ],
            "--json",
        )
    )
    brand_token = _brand_token(sayso, consumer, brand)
    before = _browsing_categories(sayso, consumer)

    # Options: point the extension at this Sayso, turn categories on, sign in.
    options = context.new_page()
    options.goto(f"{base}/options.html")
    options.locator("#sayso-url").fill(sayso.url)
    options.get_by_role("button", name="Save").click()
    expect(options.locator("#message")).to_have_text("Saved.")
    options.locator("#recording").check()
    with context.expect_page() as popup_info:
        options.get_by_role("button", name="Sign in with Sayso").click()
    auth = popup_info.value
    auth.get_by_label("Email").fill(consumer.email)
    auth.get_by_label("Password").fill(consumer.password)
    auth.get_by_role("button", name="Sign in").click()
    expect(auth.get_by_role("heading", name=re.compile("manage your consent"))).to_be_visible()
    _shot(auth, "consent", e2e_dir)
    auth.get_by_label("Let the Sayso extension manage your consent").check()
    auth.get_by_role("button", name="Allow").click()
    expect(options.locator("#signed-in-state")).to_contain_text("Signed in to")
    _shot(options, "options", e2e_dir)

    # The brand's site: the popup shows the brand and the two fields it can see.
    site = context.new_page()
    site.goto(f"http://{BRAND_HOST}:{sites}/")
    popup = context.new_page()
    popup.set_viewport_size({"width": 380, "height": 420})
    popup.goto(f"{base}/popup.html?url=http://{BRAND_HOST}:{sites}/")
    expect(popup.locator("#title")).to_have_text("Bookshop")
    expect(popup.locator("#unverified")).to_be_visible()
    expect(popup.locator("#f-interests")).to_be_checked()
    expect(popup.locator("#f-channels")).to_be_checked()
    _shot(popup, "popup", e2e_dir)
    badge = worker.evaluate(
        "async () => { const [t] = await chrome.tabs.query({url: 'http://bookshop.localhost/*'});"
        " return chrome.action.getBadgeText({tabId: t.id}); }"
    )
    assert badge == "2"

    # Toggling channels off revokes it at once: introspection and the profile agree.
    popup.locator("#f-channels").uncheck()
    expect(popup.locator("#f-channels")).not_to_be_checked()
    assert _introspect(sayso, brand, brand_token)["scope"] == "interests:read"
    profile = _profile(sayso, brand_token).json()
    assert "interests" in profile and "channels" not in profile

    # Pages visited make categories; nothing is sent until Share.
    for host in PAGES:
        site.goto(f"http://{host}:{sites}/")
        # As a person would, stay on the page until the extension has counted it.
        _wait_until_counted(worker, host.removeprefix("www."))
    review = context.new_page()
    review.goto(f"{base}/review.html")
    rows = review.locator("#top li")
    expect(rows.first).to_contain_text("Cooking & Recipes")
    expect(rows.first).to_contain_text("4 visits, 4 sites")
    assert _browsing_categories(sayso, consumer) == before
    _shot(review, "review", e2e_dir)
    travel = review.locator('#top li[data-topic-id="332"]')
    expect(travel).to_contain_text("Travel & Transportation")
    travel.get_by_role("button", name="Block").click()
    expect(travel).to_have_count(0)
    review.get_by_role("button", name="Share with Sayso").click()
    expect(review.locator("#message")).to_contain_text("Shared")
    shared = _browsing_categories(sayso, consumer)
    assert {"topic_id": 173, "weight": 1} in [
        {"topic_id": c["topic_id"], "weight": c["weight"]} for c in shared
    ]
    assert 332 not in [c["topic_id"] for c in shared]

    # Revoke everything from the popup: the brand's token is dead.
    popup.reload()
    popup.get_by_role("button", name="Revoke everything for this brand").click()
    expect(popup.locator("#f-interests")).not_to_be_checked()
    assert _introspect(sayso, brand, brand_token) == {"active": False}
    assert _profile(sayso, brand_token).status_code == 401
