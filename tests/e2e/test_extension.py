"""The browser extension in a real Chromium, against a live Sayso.

The unpacked extension is loaded into Chromium; every site visited (the brand's and the
pages that make up browsing categories) is served by one local server under its own
hostname (``--host-resolver-rules``). The extension talks to Sayso through a counting proxy.

Signed out, with no account and no access to the Sayso address: the welcome page opens on
install; categories are worked out and reviewed (the sites behind each, a site and a
category removed) and the popup names the brand behind a site, while the only requests to
Sayso are the public brand directory and lookup (CORS ``*``; no profile, grant or share
endpoint is called). Signed in: the consent page asks again in the same window when it gets
no decision, then Allow signs in; the popup toggles a field (the brand's token loses it,
checked by introspection and by reading the profile); browsing sends Sayso nothing; Share
sends exactly what the review page showed, after a site and a category were removed.
Every extension page (and the consent page) passes ``page_checks.check_at_every_width``.

Headless Chromium cannot click the extension's host-permission prompt, so the signed-in
tests load a copy of ``extension/`` whose manifest grants the loopback address up front;
the signed-out test loads the manifest as shipped. Playwright cannot drive the toolbar
popup, so the popup page is opened in a tab, told which tab is active (see
``_popup_over``). Days passing are the service worker's clock moved back (``_days_ago``).
Screenshots go to ``docs/img/extension-*.png`` when ``SAYSO_EXTENSION_SCREENSHOTS=1``
(``make screenshots``), else into the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import _CSRF, CHROMIUM_ARGS, ROOT, brand_access_token, free_port
from tests.e2e.page_checks import check_at_every_width

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


def _copy_extension(target: Path, granted: bool) -> Path:
    shutil.copytree(
        EXTENSION_DIR, target, ignore=shutil.ignore_patterns("node_modules", "test", "package*")
    )
    if granted:
        manifest = json.loads((target / "manifest.json").read_text())
        manifest["host_permissions"] = ["http://127.0.0.1/*"]
        (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@contextlib.contextmanager
def _chromium_with(extension: Path, chromium_path: str, profile: Path):
    """Chromium with the unpacked extension (new headless mode runs extensions)."""
    from playwright.sync_api import sync_playwright

    rules = ", ".join(f"MAP {host} 127.0.0.1" for host in [BRAND_HOST, *PAGES, *LATE_PAGES])
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path,
            headless=False,
            args=[
                "--headless=new",
                *CHROMIUM_ARGS,
                f"--disable-extensions-except={extension}",
                f"--load-extension={extension}",
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


@pytest.fixture
def browser(chromium_path, e2e_dir, tmp_path, sites):
    """Chromium with the extension, the loopback host permission granted at install."""
    extension = _copy_extension(tmp_path / "extension", granted=True)
    with _chromium_with(extension, chromium_path, e2e_dir / "chromium-extension-profile") as b:
        yield b


@pytest.fixture
def shipped_browser(chromium_path, e2e_dir, tmp_path, sites):
    """Chromium with the extension exactly as shipped: no access to any Sayso address."""
    extension = _copy_extension(tmp_path / "extension-shipped", granted=False)
    with _chromium_with(extension, chromium_path, e2e_dir / "chromium-shipped-profile") as b:
        yield b


def _shot(page, name: str, e2e_dir: Path) -> None:
    folder = DOCS_IMG if os.environ.get("SAYSO_EXTENSION_SCREENSHOTS") else e2e_dir / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"extension-{name}.png"), full_page=True)


def _brand_token(sayso, consumer, brand) -> str:
    """The brand's own access token, for interests and channels."""
    return brand_access_token(
        sayso,
        consumer,
        brand,
        list(SCOPES),
        ["interests", "channels"],
        "https://bookshop.example/callback",
    )


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


def _days_ago(worker, days: int) -> None:
    """Move the service worker's clock ``days`` back (0: the real time again), as if the
    pages visited next were visited then. Only ``Date.now`` of the extension changes."""
    worker.evaluate(
        "(days) => { globalThis.realNow ??= Date.now;"
        " Date.now = () => globalThis.realNow() - days * 86400000; }",
        days,
    )


def _browse(worker, tab, sites: int, hosts) -> None:
    """Load each host's page in ``tab`` and stay until the extension has counted it, as a
    person would."""
    for host in hosts:
        _visit_and_wait(worker, tab, sites, host)


def _visit_and_wait(worker, tab, sites: int, host: str) -> None:
    site = host.removeprefix("www.")
    before = _visits(worker, site)
    tab.goto(f"http://{host}:{sites}/")
    _wait_until(lambda: _visits(worker, site) > before, lambda: f"{host} was never counted")


def _browse_for_three_days(worker, tab, sites: int) -> None:
    """Travel and sports on each of three days, every page of PAGES on the last one."""
    for days in (2, 1):
        _days_ago(worker, days)
        _browse(worker, tab, sites, ["www.lonelyplanet.com", "www.espn.com"])
    _days_ago(worker, 0)
    _browse(worker, tab, sites, PAGES)


def _visits(worker, site: str) -> int:
    """The visits to ``site`` the extension has counted (of the category it counted most)."""
    return worker.evaluate(
        "async (site) => { const c = (await chrome.storage.local.get(['categories'])).categories;"
        " const per = {}; for (const e of Object.values(c?.epochs || {}))"
        " for (const [id, t] of Object.entries(e))"
        " if (t[site]) per[id] = (per[id] || 0) + t[site].v;"
        " return Math.max(0, ...Object.values(per)); }",
        site,
    )


def _make_brand(sayso) -> dict:
    sayso.cli("init")
    return json.loads(
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


def _welcome_page(context, worker):
    """The getting-started page, which the extension opened by itself when it was installed
    (found through the browser's tabs: it opens before Playwright is attached, so Playwright
    does not list it), opened in a page Playwright drives."""
    welcome = f"chrome-extension://{EXTENSION_ID}/welcome.html"
    tabs = "async () => (await chrome.tabs.query({})).map((t) => t.url || t.pendingUrl)"
    _wait_until(
        lambda: welcome in worker.evaluate(tabs),
        lambda: f"no welcome page opened on install: {worker.evaluate(tabs)}",
    )
    page = context.new_page()
    page.goto(welcome)
    return page


#: The only Sayso endpoints the extension may call while signed out: public brand data.
PUBLIC = ("/api/v1/brands/directory", "/api/v1/brands/lookup?")


def test_signed_out_it_names_brands_and_reviews_categories_with_nothing_sent(
    shipped_browser, sayso, consumer, sites, proxy, e2e_dir
):
    """No account, no sign-in, no access granted to the Sayso address: categories are
    worked out and reviewed on the device, and the popup names the brand behind a site."""
    context, worker = shipped_browser
    proxy_url, seen = proxy
    base = f"chrome-extension://{EXTENSION_ID}"
    _make_brand(sayso)
    before = _browsing_categories(sayso, consumer)

    # Installing opened the welcome page: one switch turns categories on.
    welcome = _welcome_page(context, worker)
    expect(welcome.get_by_role("heading", name="Welcome to Sayso")).to_be_visible()
    expect(welcome.get_by_text("sayso init")).to_have_count(0)
    welcome.get_by_label("Work out my browsing categories on this device").check()
    expect(welcome.locator("#message")).to_contain_text("worked out on this device")
    check_at_every_width(welcome, "welcome")
    welcome.set_viewport_size({"width": 800, "height": 900})
    _shot(welcome, "welcome", e2e_dir)
    # The proxy stands for the Sayso the consumer was given (what Save sends, minus the
    # browser's prompt for access, which this copy never gets: it is not needed here).
    welcome.evaluate(
        "(url) => chrome.runtime.sendMessage({type: 'saveSettings', saysoUrl: url})", proxy_url
    )
    # The public directory is read with no host permission (CORS *), with no sign-in.
    _wait_until(
        lambda: ("GET", "/api/v1/brands/directory") in seen,
        lambda: f"the directory was not fetched: {seen}",
    )
    assert worker.evaluate("async () => (await chrome.permissions.getAll()).origins") == [], (
        "the shipped extension holds no host permission"
    )

    tab = context.new_page()
    _browse_for_three_days(worker, tab, sites)
    tab.goto(f"http://{BRAND_HOST}:{sites}/")
    _wait_for_badge(worker, BRAND_HOST, "?")

    # An hour later, opening the popup renews the directory with its ETag: a cross-origin
    # If-None-Match, so the browser asks first (OPTIONS), and Sayso answers 304.
    worker.evaluate(
        "async () => { const {directory} = await chrome.storage.local.get(['directory']);"
        " await chrome.storage.local.set({directory: {...directory, fetchedAt: 0}}); }"
    )
    directory_asks = seen.count(("GET", "/api/v1/brands/directory"))
    # The popup names the brand, what it asks to see and why, and offers to sign in.
    popup = _popup_over(context, BRAND_HOST)
    set_popup = {"width": 380, "height": 520}
    popup.set_viewport_size(set_popup)
    popup.goto(f"{base}/popup.html")
    expect(popup.locator("#title")).to_have_text("Bookshop")
    expect(popup.get_by_role("heading", name="What it asks to see")).to_be_visible()
    expect(popup.locator("#fields")).to_contain_text("Your interests")
    expect(popup.locator("#fields")).to_contain_text("How you want to be contacted")
    expect(popup.locator("#fields")).not_to_contain_text("channels")
    expect(popup.locator("#signed-out")).to_contain_text("Sign in to Sayso to choose")
    expect(popup.locator("#fields input")).to_have_count(0)
    assert ("OPTIONS", "/api/v1/brands/directory") in seen
    assert seen.count(("GET", "/api/v1/brands/directory")) == directory_asks + 1
    assert (
        worker.evaluate(
            "async () => (await chrome.storage.local.get(['directory'])).directory.fetchedAt"
        )
        > 0
    ), "the renewed directory (a 304) was kept"
    check_at_every_width(popup, "popup signed out")
    popup.set_viewport_size(set_popup)
    _shot(popup, "popup-signed-out", e2e_dir)

    # The review page: what led to each category; a site and a category removed.
    review = context.new_page()
    review.goto(f"{base}/review.html")
    rows = review.locator("#top > li")
    expect(rows).to_have_count(3)
    cooking = review.locator('#top > li[data-topic-id="173"]')
    expect(cooking).to_contain_text("Cooking & Recipes")
    expect(cooking).to_contain_text("4 visits to 4 sites")
    expect(cooking.locator(".sites")).to_contain_text("allrecipes.com (1 visit)")
    travel = review.locator('#top > li[data-topic-id="332"]')
    expect(travel).to_contain_text("Seen on 3 days")
    expect(review.locator("#waiting")).to_contain_text("seen too little to suggest")
    # Two sports sites on one day are not enough for "Sports Cars" and the like.
    for weak in ("376", "191", "300"):
        expect(review.locator(f'#top > li[data-topic-id="{weak}"]')).to_have_count(0)
    check_at_every_width(review, "review")
    review.set_viewport_size({"width": 800, "height": 900})
    _shot(review, "review", e2e_dir)
    review.get_by_role("button", name="Remove site espn.com from every category").first.click()
    expect(review.locator('#top > li[data-topic-id="299"]')).to_have_count(0)
    expect(review.locator("#top")).not_to_contain_text("espn.com")
    review.get_by_role("button", name="Remove category Cooking & Recipes").click()
    expect(cooking).to_have_count(0)
    expect(rows).to_have_count(1)
    # Share needs a sign-in: it says so and sends nothing.
    review.get_by_role("button", name="Share with Sayso").click()
    expect(review.locator("#message")).to_contain_text("signed out")

    brands = context.new_page()
    brands.goto(f"{base}/brands.html")
    expect(brands.locator("#sign-in-hint")).to_be_visible()
    check_at_every_width(brands, "my brands signed out")
    options = context.new_page()
    options.goto(f"{base}/options.html")
    expect(options.locator("#signed-in-state")).to_contain_text("not signed in")
    check_at_every_width(options, "options")

    # Nothing was sent: every request to Sayso was for public brand data.
    assert seen, "the directory and the lookup went through the proxy"
    private = [(m, path) for m, path in seen if not path.startswith(PUBLIC)]
    assert private == [], f"signed out, the extension called {private}"
    assert _browsing_categories(sayso, consumer) == before


def test_extension_signs_in_toggles_a_field_and_shares_reviewed_categories(
    browser, sayso, consumer, sites, proxy, e2e_dir
):
    context, worker = browser
    proxy_url, seen = proxy
    base = f"chrome-extension://{EXTENSION_ID}"
    brand = _make_brand(sayso)
    brand_token = _brand_token(sayso, consumer, brand)
    before = _browsing_categories(sayso, consumer)

    # Options: an ftp:// or another computer's http:// address is refused in words before
    # the browser is asked for anything.
    options = context.new_page()
    options.goto(f"{base}/options.html")
    for address, words in [
        ("ftp://127.0.0.1:5000", "must start with https://"),
        ("http://sayso.example", "is not this computer"),
    ]:
        options.locator("#sayso-url").fill(address)
        options.get_by_role("button", name="Save").click()
        expect(options.locator("#message")).to_contain_text(words)
        expect(options.locator("#message")).not_to_contain_text("manifest")
    # Point the extension at this Sayso (through the proxy), turn categories on, sign in.
    options.locator("#sayso-url").fill(proxy_url)
    options.get_by_role("button", name="Save").click()
    expect(options.locator("#message")).to_have_text("Saved.")
    options.locator("#recording").check()
    expect(options.get_by_text("sayso init")).to_have_count(0)
    with context.expect_page() as popup_info:
        options.get_by_role("button", name="Sign in to Sayso").click()
    auth = popup_info.value
    auth.get_by_label("Email").fill(consumer.email)
    auth.get_by_label("Password").fill(consumer.password)
    # exact: the sign-in page also offers "Sign in with a passkey".
    auth.get_by_role("button", name="Sign in", exact=True).click()
    heading = auth.get_by_role("heading", name=re.compile("manage your consent"))
    expect(heading).to_be_visible()
    # Allow is the consent: no second opt-in box to forget.
    expect(auth.locator('input[type="checkbox"]')).to_have_count(0)
    # An answer that is no decision (the form sent without its button) is asked again in
    # the same sign-in window, which a 4xx answer used to close.
    auth.evaluate("() => document.querySelector('button[value=allow]').form.submit()")
    expect(auth.locator("#errors")).to_contain_text("Choose Allow to sign the extension in")
    expect(heading).to_be_visible()
    assert not auth.is_closed()
    check_at_every_width(auth, "consent page")
    auth.set_viewport_size({"width": 600, "height": 700})
    _shot(auth, "consent", e2e_dir)
    auth.get_by_role("button", name="Allow").click()
    expect(options.locator("#signed-in-state")).to_contain_text("signed in to")
    check_at_every_width(options, "options signed in")
    options.set_viewport_size({"width": 900, "height": 900})
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
    _browse_for_three_days(worker, browsing, sites)
    site.bring_to_front()
    browsing.bring_to_front()
    assert _badge(worker, BRAND_HOST) == "2"
    assert seen[quiet_from:] == [], f"browsing made requests to Sayso: {seen[quiet_from:]}"

    # The popup (the consumer's click) is what looks the brand up.
    popup = _popup_over(context, BRAND_HOST)
    popup.set_viewport_size({"width": 380, "height": 480})
    popup.goto(f"{base}/popup.html")
    expect(popup.locator("#title")).to_have_text("Bookshop")
    expect(popup.locator("#unverified")).to_be_visible()
    expect(popup.locator("#f-interests")).to_be_checked()
    expect(popup.locator("#f-channels")).to_be_checked()
    expect(popup.get_by_label(re.compile("How you want to be contacted"))).to_be_checked()
    _shot(popup, "popup", e2e_dir)
    check_at_every_width(popup, "popup")
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

    # My brands says what the brand can see in words.
    brands = context.new_page()
    brands.goto(f"{base}/brands.html")
    expect(brands.locator("#brands")).to_contain_text("Can see: Your interests")
    expect(brands.locator("#brands")).not_to_contain_text("interests,")
    check_at_every_width(brands, "my brands")
    brands.set_viewport_size({"width": 900, "height": 600})
    _shot(brands, "brands", e2e_dir)

    # Nothing is sent until Share; a site and a category are removed first.
    review = context.new_page()
    review.goto(f"{base}/review.html")
    rows = review.locator("#top > li")
    expect(rows).to_have_count(3)
    expect(review.locator('#top > li[data-topic-id="173"]')).to_contain_text("4 visits to 4 sites")
    assert _browsing_categories(sayso, consumer) == before
    travel = review.locator('#top > li[data-topic-id="332"]')
    travel.get_by_role("button", name="Block Travel & Transportation").click()
    expect(travel).to_have_count(0)
    review.get_by_role("button", name="Remove site espn.com from every category").first.click()
    expect(review.locator('#top > li[data-topic-id="299"]')).to_have_count(0)
    shown = [int(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.topicId)")]
    assert shown == [173]

    # Pages counted after the review page was drawn are not shared: Share sends what the
    # page shows.
    _browse(worker, browsing, sites, LATE_PAGES)
    review.get_by_role("button", name="Share with Sayso").click()
    expect(review.locator("#message")).to_contain_text("Shared 1 category")
    shared = _browsing_categories(sayso, consumer)
    assert [{"topic_id": c["topic_id"], "weight": c["weight"]} for c in shared] == [
        {"topic_id": 173, "weight": 1}
    ]

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
