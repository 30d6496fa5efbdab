"""Passkeys and sessions in a real Chromium, with its virtual authenticator (DevTools
protocol ``WebAuthn.enable`` / ``WebAuthn.addVirtualAuthenticator``, a resident-key,
user-verifying platform authenticator): a passkey registered from the account page, a
sign-in with the passkey alone, the sessions page ending another browser, the passkey as a
second factor after the password, and its removal. Each page fits 390 px and passes axe.

WebAuthn refuses an IP address as the relying party, so the pages are opened on
``localhost`` (a secure context over plain HTTP, like 127.0.0.1).
"""

from __future__ import annotations

from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.page_checks import WIDTHS, check_at_every_width, set_width


def _virtual_authenticator(context, page) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def _check(page, label: str) -> None:
    """The page fits 390 px and passes axe; then back to a desktop width (open menu)."""
    check_at_every_width(page, label)
    set_width(page, WIDTHS["desktop"])


def _password_sign_in(page, base: str, consumer) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(consumer.email)
    page.get_by_label("Password").fill(consumer.password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_passkey_register_sign_in_second_factor_remove_and_sessions(
    chromium_path, sayso, consumer, e2e_dir
):
    base = sayso.url.replace("127.0.0.1", "localhost")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            mine = browser.new_context()
            mine.set_default_timeout(15_000)
            page = mine.new_page()
            _virtual_authenticator(mine, page)

            # Register a passkey from the account page.
            _password_sign_in(page, base, consumer)
            page.wait_for_url(f"{base}/disclosures")
            page.goto(f"{base}/account/security")
            expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
            _check(page, "security")
            page.get_by_label("A name for it").fill("My laptop")
            page.get_by_role("button", name="Add a passkey").click()
            expect(page.get_by_text("Passkey “My laptop” added.")).to_be_visible()
            expect(page.get_by_text("Not used yet.")).to_be_visible()
            _check(page, "security-with-passkey")

            # Sign out, then in with the passkey alone (no email typed).
            _sign_out(page)
            page.goto(f"{base}/login")
            _check(page, "login")
            page.get_by_role("button", name="Sign in with a passkey").click()
            page.wait_for_url(f"{base}/disclosures")

            # Another browser signs in with the password; "sign out all others" ends it.
            theirs = browser.new_context()
            theirs.set_default_timeout(15_000)
            other = theirs.new_page()
            _password_sign_in(other, base, consumer)
            other.wait_for_url(f"{base}/disclosures")
            page.goto(f"{base}/account/sessions")
            expect(page.get_by_text("(this browser)")).to_be_visible()
            expect(page.get_by_role("button", name="Sign out of this one")).to_have_count(1)
            _check(page, "sessions")
            page.get_by_role("button", name="Sign out all others").click()
            expect(page.get_by_text("Signed out of 1 other session.")).to_be_visible()
            other.goto(f"{base}/account/sessions")
            other.wait_for_url(f"{base}/login**")

            # The passkey as a second factor after the password.
            page.goto(f"{base}/account/security")
            page.get_by_label("Ask for my passkey after my password").check()
            page.get_by_role("button", name="Save this setting").click()
            expect(page.get_by_text("we ask for your passkey after your password")).to_be_visible()
            _sign_out(page)
            _password_sign_in(page, base, consumer)
            page.wait_for_url(f"{base}/login/passkey")
            _check(page, "passkey-step")
            page.get_by_role("button", name="Use my passkey").click()
            page.wait_for_url(f"{base}/disclosures")

            # Remove it (signed in moments ago, so no password is asked).
            page.goto(f"{base}/account/security")
            page.get_by_role("button", name="Remove the passkey “My laptop”").click()
            expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()
        finally:
            browser.close()


def test_a_browser_without_passkeys_is_told_so(chromium_path, sayso, consumer):
    """Without WebAuthn (taken away before the page's script runs) the button is off and a
    plain sentence says what to do instead."""
    base = sayso.url.replace("127.0.0.1", "localhost")
    sayso.server.wait_ready()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()
            context.add_init_script("delete window.PublicKeyCredential;")
            page = context.new_page()
            page.goto(f"{base}/login")
            expect(page.get_by_text("This browser cannot use passkeys.")).to_be_visible()
            expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_disabled()
        finally:
            browser.close()
