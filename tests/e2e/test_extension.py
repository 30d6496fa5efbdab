"""The browser extension in a real Chromium, against a live Sayso.

The unpacked extension is loaded into Chromium; every site visited (the brand's and the
pages that make up browsing categories) is served by one local server under its own
hostname (``--host-resolver-rules``). The consumer signs in through the extension, sees the
brand's fields in the popup, turns one off (the brand's token loses it, checked by
introspection and by reading the profile), builds browsing categories by visiting pages and
shares them from the review page; nothing is sent before Share, and Share sends what the
page showed. The extension talks to Sayso through a counting proxy, which proves that
browsing (loading pages, brand or not, and switching tabs) sends Sayso nothing: the badge
comes from the brand directory and the grants fetched at sign-in.

Headless Chromium cannot click the extension's host-permission prompt, so the test loads a
copy of ``extension/`` whose manifest grants the loopback address up front; everything else
is the shipped tree. Playwright cannot drive the toolbar popup, so the popup page is opened
in a tab, told which tab is active (see ``_popup_over``); the shipped popup has no test
hook (no ``popup.html?url=``). Screenshots go to ``docs/img/extension-*.png`` when
``SAYSO_EXTENSION_SCREENSHOTS=1`` (``make screenshots``), else into the test's tmp dir.
"""

from __future__ import annotations

import base64
import http.client
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
#: A page visited after the review page was drawn: its topics must not be shared.
LATE_PAGES = {"www.chess.com": "Chess.com - Play Chess Online"}
SCOPES = {
    "interests:read": "recommend books about what you like",
    "channels:read": "email you no more often than you allow",
}


class _Sites(BaseHTTPRequestHandler):
    """Every hostname's home page: the brand's, or one of PAGES."""

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        pages = {**PAGES, **LATE_PAGES}
        title = "Bookshop — books you'll love" if host == BRAND_HOST else pages.get(host, host)
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


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection"})


class _CountingProxy(BaseHTTPRequestHandler):
    """Forwards every request to Sayso as it came (Host included, so Sayso answers with the
    proxy's address as its issuer) and records its method and path."""

    protocol_version = "HTTP/1.0"

    def _forward(self):
        self.server.seen.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.sayso_port, timeout=10)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy(sayso):
    """A proxy in front of Sayso that records every request; yields (url, seen)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _CountingProxy)
    server.sayso_port = int(sayso.url.rsplit(":", 1)[1])
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen
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

    rules = ", ".join(f"MAP {host} 127.0.0.1" for host in [BRAND_HOST, *PAGES, *LATE_PAGES])
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


def _badge(worker, host: str) -> str:
    return worker.evaluate(
        "async (host) => { const [t] = await chrome.tabs.query({url: `http://${host}/*`});"
        " return chrome.action.getBadgeText({tabId: t.id}); }",
        host,
    )


def _popup_over(context, host: str):
    """A tab for the extension's popup as the toolbar button opens it over the tab showing
    ``host`` (navigate it to ``popup.html``).

    Playwright cannot drive the browser's own toolbar popup, so the popup page is opened in
    a tab, where the active tab would be itself. Its one question to the browser, which tab
    is active, is answered with the real tab showing ``host``: the one place the test
    stands in for the browser. Nothing in the shipped extension is there for tests.
    """
    pattern = json.dumps(f"http://{host}/*")
    popup = context.new_page()
    popup.add_init_script(
        "(() => { const query = chrome.tabs.query.bind(chrome.tabs);"
        f" chrome.tabs.query = (info) => query(info.active ? {{url: {pattern}}} : info); }})()"
    )
    return popup


def _wait_until(check, failure: str, deadline: float = 10.0) -> None:
    """Poll ``check()`` until it is true; fail with ``failure()`` after ``deadline`` s."""
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, failure()
        time.sleep(0.1)


def _wait_for_badge(worker, host: str, text: str) -> None:
    """Wait until the badge of the tab showing ``host`` reads ``text``."""
    _wait_until(
        lambda: _badge(worker, host) == text,
        lambda: f"badge of {host} is {_badge(worker, host)!r}, not {text!r}",
    )


def _wait_until_counted(worker, site: str) -> None:
    """Wait until ``site`` is among the evidence of the extension's local counts."""
    script = (
        "async () => JSON.stringify((await chrome.storage.local.get(['categories']))"
        ".categories || {})"
    )
    _wait_until(lambda: f'"{site}"' in worker.evaluate(script), lambda: f"{site} was never counted")


def test_extension_signs_in_toggles_a_field_and_shares_reviewed_categories(
    browser, sayso, consumer, sites, proxy, e2e_dir
):
    context, worker = browser
    proxy_url, seen = proxy
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

    # Options: point the extension at this Sayso (through the proxy), turn categories on,
    # sign in.
    options = context.new_page()
    options.goto(f"{base}/options.html")
    options.locator("#sayso-url").fill(proxy_url)
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
    # Saving and signing in fetched the brand directory and the grants overview.
    assert ("GET", "/api/v1/brands/directory") in seen
    assert ("GET", "/api/v1/me/grants") in seen

    # Browsing sends Sayso nothing: the brand's site gets its badge from what is stored,
    # other sites (counted into categories) and switching tabs ask nothing either.
    quiet_from = len(seen)
    site = context.new_page()
    site.goto(f"http://{BRAND_HOST}:{sites}/")
    _wait_for_badge(worker, BRAND_HOST, "2")
    browsing = context.new_page()
    for host in PAGES:
        browsing.goto(f"http://{host}:{sites}/")
        # As a person would, stay on the page until the extension has counted it.
        _wait_until_counted(worker, host.removeprefix("www."))
    site.bring_to_front()
    browsing.bring_to_front()
    assert _badge(worker, BRAND_HOST) == "2"
    assert seen[quiet_from:] == [], f"browsing made requests to Sayso: {seen[quiet_from:]}"

    # The popup (the consumer's click) is what looks the brand up.
    popup = _popup_over(context, BRAND_HOST)
    popup.set_viewport_size({"width": 380, "height": 420})
    popup.goto(f"{base}/popup.html")
    expect(popup.locator("#title")).to_have_text("Bookshop")
    expect(popup.locator("#unverified")).to_be_visible()
    expect(popup.locator("#f-interests")).to_be_checked()
    expect(popup.locator("#f-channels")).to_be_checked()
    _shot(popup, "popup", e2e_dir)
    assert ("GET", f"/api/v1/brands/lookup?domain={BRAND_HOST}") in seen[quiet_from:]

    # Toggling channels off revokes it at once: introspection and the profile agree, and
    # the badge of the brand's tab follows.
    popup.locator("#f-channels").uncheck()
    expect(popup.locator("#f-channels")).not_to_be_checked()
    # The click unticks the box at once; the badge changes once Sayso has answered.
    _wait_for_badge(worker, BRAND_HOST, "1")
    expect(popup.locator("#f-channels")).not_to_be_checked()
    assert _introspect(sayso, brand, brand_token)["scope"] == "interests:read"
    profile = _profile(sayso, brand_token).json()
    assert "interests" in profile and "channels" not in profile

    # Nothing is sent until Share.
    review = context.new_page()
    review.goto(f"{base}/review.html")
    rows = review.locator("#top li")
    expect(rows.first).to_contain_text("Cooking & Recipes")
    expect(rows.first).to_contain_text("4 visits, 4 sites")
    expect(rows.first).to_contain_text("weight 1")
    assert _browsing_categories(sayso, consumer) == before
    _shot(review, "review", e2e_dir)
    travel = review.locator('#top li[data-topic-id="332"]')
    expect(travel).to_contain_text("Travel & Transportation")
    travel.get_by_role("button", name="Block").click()
    expect(travel).to_have_count(0)
    shown = [int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.topicId)")]

    # Pages counted after the review page was drawn are not shared: Share sends what the
    # page shows.
    for host in LATE_PAGES:
        browsing.goto(f"http://{host}:{sites}/")
        _wait_until_counted(worker, host.removeprefix("www."))
    review.get_by_role("button", name="Share with Sayso").click()
    expect(review.locator("#message")).to_contain_text("Shared")
    shared = _browsing_categories(sayso, consumer)
    # Counted now, chess.com's Online Communities (250) would be in the top ten; it was not
    # shown, so it is not shared.
    assert sorted(c["topic_id"] for c in shared) == sorted(shown)
    assert {"topic_id": 173, "weight": 1} in [
        {"topic_id": c["topic_id"], "weight": c["weight"]} for c in shared
    ]
    assert 332 not in [c["topic_id"] for c in shared]
    assert not {250, 465} & {c["topic_id"] for c in shared}

    # Forget all keeps the Block list.
    review.get_by_role("button", name="Forget all").click()
    expect(review.locator("#empty")).to_be_visible()
    expect(review.locator("#blocked")).to_contain_text("1 blocked category")

    # Revoke everything from the popup: the brand's token is dead, the badge says 0.
    popup.reload()
    popup.get_by_role("button", name="Revoke everything for this brand").click()
    expect(popup.locator("#f-interests")).not_to_be_checked()
    assert _introspect(sayso, brand, brand_token) == {"active": False}
    assert _profile(sayso, brand_token).status_code == 401
    _wait_for_badge(worker, BRAND_HOST, "0")
