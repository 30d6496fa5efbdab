"""The Bookshop: a sample brand that connects to Sayso with OAuth 2 (Authlib, PKCE).

It asks for three fields and two permissions, shows in plain words what the consumer let
it see (their answer to its question too), reads the profile afresh on every page view,
refreshes (and rotates) its tokens, asks Sayso's contact policy before its weekly email
and reports the email it sent, and applies Sayso's signed revocation webhooks. Its tokens
are bound to a key it keeps (DPoP, RFC 9449): every call to Sayso carries a proof signed
with it, so a token copied from its database is useless elsewhere. See README.md beside
this file to run it.

It deliberately imports nothing from Sayso: a brand only has Sayso's public interface.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, jsonify, redirect, render_template, request, session, url_for
from joserfc import jws
from joserfc.jwk import ECKey
from requests.adapters import HTTPAdapter

#: What the bookshop asks for. The consumer may grant any subset of it.
SCOPE = "interests:read browsing_categories:read channels:read answers:read contacts:write"
#: The question the bookshop asks on Sayso (created in Sayso's brand portal).
AUTHORS_QUESTION = "Which authors should we tell you about?"
#: Sayso-Signature timestamps further than this from our clock are refused (replays).
SIGNATURE_TOLERANCE = 300
#: Refresh an access token this many seconds before it expires.
REFRESH_LEEWAY = 60
#: Seconds to wait for Sayso before telling the visitor it is not answering.
SAYSO_TIMEOUT = 10

#: app.config key -> (environment variable, default); None means it must be set.
SETTINGS = {
    "BOOKSHOP_SAYSO_URL": ("BOOKSHOP_SAYSO_URL", "http://127.0.0.1:5000"),
    "BOOKSHOP_URL": ("BOOKSHOP_URL", "http://127.0.0.1:5001"),
    "BOOKSHOP_CLIENT_ID": ("BOOKSHOP_CLIENT_ID", None),
    "BOOKSHOP_CLIENT_SECRET": ("BOOKSHOP_CLIENT_SECRET", None),
    "BOOKSHOP_WEBHOOK_SECRET": ("BOOKSHOP_WEBHOOK_SECRET", None),
    "SECRET_KEY": ("BOOKSHOP_SECRET_KEY", None),
    # The SQLite file for tokens and the webhook log ("" means instance/bookshop.sqlite3).
    "BOOKSHOP_DATABASE": ("BOOKSHOP_DATABASE", ""),
    # The id Sayso gave AUTHORS_QUESTION ("" until it is created: no answer is shown).
    "BOOKSHOP_AUTHORS_QUESTION_ID": ("BOOKSHOP_AUTHORS_QUESTION_ID", ""),
}

CHANNEL_VERBS = {
    "email": "email you",
    "sms": "text you",
    "push": "send you a push notification",
    "post": "write to you",
    "phone": "call you",
    "in_app": "notify you in the app",
}


def create_app(config: dict | None = None) -> Flask:
    """Build the bookshop; ``config`` overrides the ``BOOKSHOP_*`` environment variables."""
    app = Flask(__name__, instance_path=str(Path(__file__).parent / "instance"))
    for key, (var, default) in SETTINGS.items():
        app.config[key] = os.environ.get(var, default)
    app.config.update(config or {})
    missing = [var for key, (var, dflt) in SETTINGS.items() if dflt is None and not app.config[key]]
    if missing:
        raise RuntimeError(
            f"Set {', '.join(missing)}: see examples/bookshop/README.md for where each comes from"
        )
    app.config["BOOKSHOP_SAYSO_URL"] = app.config["BOOKSHOP_SAYSO_URL"].rstrip("/")
    app.config["BOOKSHOP_URL"] = app.config["BOOKSHOP_URL"].rstrip("/")
    app.config["BOOKSHOP_AUTHORS_QUESTION_ID"] = str(
        app.config["BOOKSHOP_AUTHORS_QUESTION_ID"] or ""
    ).strip()
    # Sayso and the bookshop may share a host (127.0.0.1 on two ports), and cookies ignore
    # ports: a name of our own keeps the two sessions apart.
    app.config.update(SESSION_COOKIE_NAME="bookshop_session", SESSION_COOKIE_SAMESITE="Lax")
    # Webhook bodies are small; refuse anything large before reading it.
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    if not app.config["BOOKSHOP_DATABASE"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["BOOKSHOP_DATABASE"] = str(Path(app.instance_path) / "bookshop.sqlite3")

    store = BookshopStore(app.config["BOOKSHOP_DATABASE"])
    store.create_tables()
    app.extensions["bookshop_store"] = store
    dpop = DPoPKey(store.dpop_key())
    app.extensions["bookshop_dpop"] = dpop

    sayso_url = app.config["BOOKSHOP_SAYSO_URL"]
    oauth = OAuth(app)
    oauth.register(
        "sayso",
        client_id=app.config["BOOKSHOP_CLIENT_ID"],
        client_secret=app.config["BOOKSHOP_CLIENT_SECRET"],
        server_metadata_url=f"{sayso_url}/.well-known/oauth-authorization-server",
        api_base_url=f"{sayso_url}/api/v1/",
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "default_timeout": SAYSO_TIMEOUT,
        },
        # Every session Authlib opens to Sayso signs DPoP proofs with our key.
        compliance_fix=dpop.install,
    )
    app.extensions["bookshop_oauth"] = oauth

    register_views(app)
    return app


def _store() -> BookshopStore:
    return current_app.extensions["bookshop_store"]


def _sayso():
    return current_app.extensions["bookshop_oauth"].sayso


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- What the bookshop keeps ---------------------------------------------------------


class BookshopStore:
    """Tokens per Sayso subject, the last profile read, and the webhook log (SQLite).

    The browser's session holds only the subject (Sayso's pairwise id for this brand);
    tokens never leave the server.
    """

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS connections (
            sub TEXT PRIMARY KEY,
            access_token TEXT,
            refresh_token TEXT,
            expires_at INTEGER,
            scope TEXT,
            profile TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS emails_sent (
            id INTEGER PRIMARY KEY,
            sub TEXT NOT NULL,
            channel TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            reported INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS dpop_key (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            private_jwk TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS webhook_events (
            event_id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            sub TEXT,
            fields TEXT NOT NULL,
            created_at TEXT,
            received_at TEXT NOT NULL
        );
    """

    def __init__(self, path: str):
        self.path = path

    @contextmanager
    def transaction(self, immediate: bool = False):
        """A connection in one transaction, committed on success; ``immediate`` takes the
        write lock up front (other writers wait)."""
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def create_tables(self) -> None:
        """Create the tables if they are missing."""
        with closing(sqlite3.connect(self.path)) as conn:
            conn.executescript(self.SCHEMA)

    def dpop_key(self) -> dict:
        """Our DPoP private key (a JWK), made the first time: Sayso binds our tokens to it,
        so it must outlive restarts, and it never leaves this database."""
        with self.transaction(immediate=True) as conn:
            conn.execute(
                "INSERT OR IGNORE INTO dpop_key (id, private_jwk) VALUES (1, ?)",
                (json.dumps(ECKey.generate_key("P-256").as_dict(private=True)),),
            )
            row = conn.execute("SELECT private_jwk FROM dpop_key WHERE id = 1").fetchone()
        return json.loads(row["private_jwk"])

    def connection(self, sub: str) -> sqlite3.Row | None:
        """The stored connection for a subject."""
        with self.transaction() as conn:
            return conn.execute("SELECT * FROM connections WHERE sub = ?", (sub,)).fetchone()

    def save_tokens(self, conn, sub: str, token: dict) -> None:
        """Store a token response (in ``conn``'s transaction); Sayso rotates refresh tokens,
        so the one in this response replaces the old one."""
        conn.execute(
            "INSERT INTO connections (sub, access_token, refresh_token, expires_at, scope,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sub) DO UPDATE SET"
            " access_token = excluded.access_token, refresh_token = excluded.refresh_token,"
            " expires_at = excluded.expires_at, scope = excluded.scope,"
            " updated_at = excluded.updated_at",
            (
                sub,
                token["access_token"],
                token.get("refresh_token"),
                int(token.get("expires_at") or 0),
                token.get("scope", ""),
                _now(),
            ),
        )

    def save_profile(self, sub: str, profile: dict) -> None:
        """Cache the latest profile read."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE connections SET profile = ?, updated_at = ? WHERE sub = ?",
                (json.dumps(profile), _now(), sub),
            )

    def disconnect(self, sub: str) -> None:
        """Forget the tokens and everything read: the consumer took it all back."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE connections SET access_token = NULL, refresh_token = NULL,"
                " expires_at = NULL, profile = '{}', updated_at = ? WHERE sub = ?",
                (_now(), sub),
            )

    def record_event(self, event: dict) -> bool:
        """Record a webhook event and apply it, once: False if it was already recorded."""
        data = event.get("data") or {}
        sub, fields = data.get("sub"), list(data.get("fields") or [])
        with self.transaction(immediate=True) as conn:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO webhook_events"
                " (event_id, type, sub, fields, created_at, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event["id"],
                    event["type"],
                    sub,
                    json.dumps(fields),
                    event.get("created_at"),
                    _now(),
                ),
            ).rowcount
            if inserted and event["type"] == "consent.revoked" and sub:
                row = conn.execute(
                    "SELECT profile FROM connections WHERE sub = ?", (sub,)
                ).fetchone()
                if row is not None:
                    cached = json.loads(row["profile"])
                    for name in fields:
                        cached.pop(name, None)
                    conn.execute(
                        "UPDATE connections SET profile = ?, updated_at = ? WHERE sub = ?",
                        (json.dumps(cached), _now(), sub),
                    )
        return bool(inserted)

    def record_email(self, sub: str, sent_at: str) -> int:
        """Record an email sent to ``sub`` (not reported to Sayso yet); returns its id."""
        with self.transaction() as conn:
            return conn.execute(
                "INSERT INTO emails_sent (sub, channel, sent_at) VALUES (?, 'email', ?)",
                (sub, sent_at),
            ).lastrowid

    def mark_reported(self, email_id: int) -> None:
        """Sayso has the report of this email."""
        with self.transaction() as conn:
            conn.execute("UPDATE emails_sent SET reported = 1 WHERE id = ?", (email_id,))

    def emails(self, sub: str) -> list[dict]:
        """The emails sent to one subject, newest first."""
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM emails_sent WHERE sub = ? ORDER BY id DESC", (sub,)
            ).fetchall()
        return [dict(r) for r in rows]

    def events(self, sub: str, limit: int = 20) -> list[dict]:
        """The webhook events about one subject, newest first."""
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM webhook_events WHERE sub = ? ORDER BY received_at DESC, rowid DESC"
                " LIMIT ?",
                (sub, limit),
            ).fetchall()
        return [{**dict(r), "fields": json.loads(r["fields"])} for r in rows]


# --- DPoP: proofs that we hold the key our tokens are bound to ---------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class DPoPKey:
    """Our DPoP key (RFC 9449) and the last nonce each server handed out.

    Authlib's client knows bearer tokens only, so :meth:`install` teaches each session it
    opens two things: to send our tokens with the ``DPoP`` scheme, and (through
    :class:`DPoPAdapter`) to add a fresh proof to every request that carries credentials.
    """

    def __init__(self, private_jwk: dict):
        self.key = ECKey.import_key(private_jwk)
        self.public_jwk = self.key.as_dict(private=False)
        self._nonces: dict[str, str] = {}
        self._lock = threading.Lock()

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A proof for one request: its method and URL (no query), a unique ``jti``, the
        time, the server's nonce if it gave one, and with a token the token's hash."""
        parts = urlsplit(url)
        claims = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": f"{parts.scheme}://{parts.netloc}{parts.path}",
            "iat": int(time.time()),
        }
        nonce = self.nonce_for(url)
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["ath"] = _b64(hashlib.sha256(access_token.encode()).digest())
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk}
        return jws.serialize_compact(header, json.dumps(claims), self.key)

    @staticmethod
    def _origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def nonce_for(self, url: str) -> str | None:
        """The last nonce the server at ``url`` handed out."""
        with self._lock:
            return self._nonces.get(self._origin(url))

    def remember_nonce(self, url: str, response: requests.Response) -> None:
        """Keep the nonce a response hands out (``DPoP-Nonce``), for the next proofs."""
        nonce = response.headers.get("DPoP-Nonce")
        if nonce:
            with self._lock:
                self._nonces[self._origin(url)] = nonce

    def install(self, session) -> None:
        """Make an Authlib session send DPoP-bound tokens, each request with a proof."""
        session.token_auth.SIGN_METHODS = {
            **session.token_auth.SIGN_METHODS,
            "dpop": _add_dpop_token,
        }
        adapter = DPoPAdapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)


def _add_dpop_token(token, uri, headers, body, placement="header"):
    """Authlib sign method: the token in ``Authorization: DPoP``, always in the header
    (the proof is the adapter's, which knows the method)."""
    headers["Authorization"] = f"DPoP {token}"
    return uri, headers, body


def _wants_nonce(response: requests.Response) -> bool:
    """Whether the server refused the proof for want of its nonce (RFC 9449 section 8 and
    9): a 400 at the token endpoint, a 401 at the API."""
    if response.status_code == 401:
        return 'error="use_dpop_nonce"' in response.headers.get("WWW-Authenticate", "")
    if response.status_code == 400 and "DPoP-Nonce" in response.headers:
        try:
            return response.json().get("error") == "use_dpop_nonce"
        except ValueError:
            return False
    return False


class DPoPAdapter(HTTPAdapter):
    """Adds a DPoP proof to each request that carries credentials (the client's at the
    token endpoint, a token at the API), and sends it once more, with a new proof, when
    the server answers that it wants its nonce in it."""

    def __init__(self, key: DPoPKey):
        super().__init__()
        self.dpop = key

    def _sign(self, request: requests.PreparedRequest) -> None:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in {"basic", "dpop"}:
            return  # nothing to prove (the metadata, say)
        token = credentials if scheme.lower() == "dpop" else None
        request.headers["DPoP"] = self.dpop.proof(request.method, request.url, token)

    def send(self, request, **kwargs):
        self._sign(request)
        response = super().send(request, **kwargs)
        self.dpop.remember_nonce(request.url, response)
        if "DPoP" in request.headers and _wants_nonce(response):
            response.close()
            retry = request.copy()
            self._sign(retry)
            response = super().send(retry, **kwargs)
            self.dpop.remember_nonce(request.url, response)
        return response


# --- Reading the profile, refreshing tokens --------------------------------------------


class Disconnected(Exception):
    """Sayso no longer lets the bookshop read anything for this consumer."""


class SaysoUnavailable(Exception):
    """Sayso did not answer usefully; try again later."""


@dataclass
class ProfileView:
    """What the home page shows about one consumer."""

    state: str  # "anonymous" | "connected" | "disconnected" | "unavailable"
    profile: dict = field(default_factory=dict)


def _dpop_token(row_or_token) -> dict:
    # No expires_at on purpose: Authlib would otherwise refresh on its own, sending the
    # full configured scope, which Sayso rightly refuses when the consumer granted a subset.
    # Every token we get is DPoP-bound (we send a proof with every token request).
    return {"access_token": row_or_token["access_token"], "token_type": "DPoP"}


def refresh(sub: str, stale: str) -> dict:
    """New tokens for ``sub`` from its refresh token ``stale``.

    Sayso rotates refresh tokens and treats a second use as theft (it revokes them all),
    so refreshing happens under the store's write lock: whoever comes second finds the
    row already refreshed and uses that.
    """
    with _store().transaction(immediate=True) as conn:
        row = conn.execute("SELECT * FROM connections WHERE sub = ?", (sub,)).fetchone()
        if row is None or not row["refresh_token"]:
            raise Disconnected
        if row["refresh_token"] != stale:
            return dict(row)
        try:
            token = _sayso().fetch_access_token(
                grant_type="refresh_token",
                refresh_token=row["refresh_token"],
                # An empty scope is left out of the request, so the new tokens cover what
                # was granted. Without it Authlib would send the scope configured above,
                # all five scopes, which Sayso refuses when the consumer granted fewer.
                scope="",
            )
        except OAuthError as exc:
            if exc.error in {"invalid_grant", "invalid_scope"}:
                raise Disconnected from None
            raise SaysoUnavailable(str(exc)) from None
        except requests.RequestException as exc:
            raise SaysoUnavailable(str(exc)) from None
        _store().save_tokens(conn, sub, token)
        return dict(token)


def _call(method: str, path: str, token: dict, **kwargs) -> requests.Response:
    try:
        return _sayso().request(method, path, token=_dpop_token(token), **kwargs)
    except requests.RequestException as exc:
        raise SaysoUnavailable(str(exc)) from None


def _get_profile(token: dict) -> requests.Response:
    return _call("GET", "profile", token)


def call_sayso(sub: str, method: str, path: str, **kwargs) -> requests.Response:
    """Call Sayso's API for ``sub`` with its access token, refreshed when it is about to
    expire and once more after a ``401 invalid_token``; a 401 after that is returned."""
    row = _store().connection(sub)
    if row is None or not row["access_token"]:
        raise Disconnected
    token = dict(row)
    if (token["expires_at"] or 0) - REFRESH_LEEWAY <= time.time():
        token = refresh(sub, row["refresh_token"])
    response = _call(method, path, token, **kwargs)
    if response.status_code == 401 and "invalid_token" in response.headers.get(
        "WWW-Authenticate", ""
    ):
        # Expired early, or revoked: one refresh tells which.
        token = refresh(sub, token.get("refresh_token"))
        response = _call(method, path, token, **kwargs)
    return response


def read_profile(sub: str) -> dict:
    """The consumer's profile as Sayso serves it right now (never from a cache)."""
    response = call_sayso(sub, "GET", "profile")
    if response.status_code == 401:
        raise Disconnected
    if response.status_code != 200:
        raise SaysoUnavailable(f"profile answered {response.status_code}")
    profile = response.json()
    _store().save_profile(sub, profile)
    return profile


def profile_view(sub: str | None) -> ProfileView:
    """Read the profile for the page, turning failures into what the page should say."""
    if not sub:
        return ProfileView("anonymous")
    try:
        return ProfileView("connected", read_profile(sub))
    except Disconnected:
        _store().disconnect(sub)
        return ProfileView("disconnected")
    except SaysoUnavailable as exc:
        current_app.logger.warning("Sayso unavailable: %s", exc)
        return ProfileView("unavailable")


# --- Plain words for what we were allowed to see ----------------------------------------


def _topic(item: dict) -> str:
    return item["text"] if item.get("text") else f"topic #{item['topic_id']}"


def describe_interests(items: list[dict]) -> str:
    """Interests, as a promise."""
    return "We'll recommend books about " + ", ".join(_topic(i) for i in items) + "."


def describe_browsing(items: list[dict]) -> str:
    """Browsing categories, as a promise (heaviest first)."""
    ordered = sorted(items, key=lambda i: -i.get("weight", 0))
    return "We'll show these shelves first: " + ", ".join(_topic(i) for i in ordered) + "."


def describe_channel(item: dict) -> str:
    """One channel with its cap and quiet hours, as a promise."""
    verb = CHANNEL_VERBS.get(item["channel"], f"contact you by {item['channel']}")
    cap = item.get("max_per_week", 0)
    if cap == 0:
        return f"We'll never {verb}."
    sentence = f"We'll {verb} at most {cap} {'time' if cap == 1 else 'times'} a week"
    quiet = item.get("quiet_hours")
    if quiet:
        sentence += f", never between {quiet['start']} and {quiet['end']} ({quiet['tz']})"
    return sentence + "."


def describe(profile: dict) -> list[tuple[str, str, list[str]]]:
    """(field, heading, sentences) for each field the profile holds, in a fixed order."""
    sections = []
    if "interests" in profile:
        items = profile["interests"] or []
        lines = [describe_interests(items)] if items else ["You haven't listed any yet."]
        sections.append(("interests", "Your interests", lines))
    if "browsing_categories" in profile:
        items = profile["browsing_categories"] or []
        lines = [describe_browsing(items)] if items else ["You haven't listed any yet."]
        sections.append(("browsing_categories", "Your favourite shelves", lines))
    if "channels" in profile:
        items = profile["channels"] or []
        lines = [describe_channel(i) for i in items] or ["You haven't listed any yet."]
        sections.append(("channels", "How we keep in touch", lines))
    return sections


def authors_answer(profile: dict, question_id: str) -> str | None:
    """The consumer's answer to AUTHORS_QUESTION, as a promise; None if we may not see one."""
    answers = profile.get("answers") or {}
    answer = answers.get(question_id) if question_id else None
    if answer is None or answer == [] or answer == "":
        return None
    authors = answer if isinstance(answer, list) else [answer]
    return "We'll tell you about: " + ", ".join(str(a) for a in authors) + "."


# --- The weekly email: ask Sayso first, report after --------------------------------------

#: Sayso's contact-policy reasons, in plain words.
REFUSALS = {
    "channel_not_permitted": "you don't want email from us",
    "weekly_cap_reached": "we have already emailed you as often this week as you allow",
    "quiet_hours": "it is inside your quiet hours",
}


def _when(value: str | None) -> str | None:
    """An ISO 8601 instant from Sayso, in plain UTC."""
    if not value:
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe_refusal(decision: dict) -> str:
    """Why Sayso says not to send now, and when we may."""
    reason = str(decision.get("reason") or "unknown")
    words = REFUSALS.get(reason, "the consumer's preferences say no")
    text = f"Not sent: Sayso says {words} ({reason})."
    when = _when(decision.get("next_allowed_at"))
    if when:
        text += f" Next allowed at {when}."
    return text


def send_weekly_email(sub: str) -> dict:
    """Ask Sayso's contact policy; send (record) the email only if allowed, then report it.

    Returns ``{"sent": bool, "text": str}`` for the page.
    """
    policy = call_sayso(sub, "GET", "contact-policy", params={"channel": "email"})
    if policy.status_code in {401, 403}:
        return {"sent": False, "text": "Not sent: you haven't let us see how to keep in touch."}
    if policy.status_code != 200:
        raise SaysoUnavailable(f"contact-policy answered {policy.status_code}")
    decision = policy.json()
    if not decision.get("allowed"):
        return {"sent": False, "text": describe_refusal(decision)}
    sent_at = datetime.now(UTC).replace(microsecond=0)
    email_id = _store().record_email(sub, sent_at.isoformat())
    sent = f"Sent this week's email at {sent_at:%Y-%m-%d %H:%M} UTC"
    try:
        report = call_sayso(
            sub, "POST", "contacts", json={"channel": "email", "sent_at": sent_at.isoformat()}
        )
    except SaysoUnavailable:
        return {"sent": True, "text": f"{sent}; Sayso isn't answering, so it is not reported yet."}
    if report.status_code == 201:
        _store().mark_reported(email_id)
        return {"sent": True, "text": f"{sent} and reported it to Sayso."}
    if report.status_code in {401, 403}:
        return {"sent": True, "text": f"{sent}; you haven't let us report it to Sayso."}
    return {"sent": True, "text": f"{sent}; Sayso did not take the report ({report.status_code})."}


def _csrf_token() -> str:
    """The session's token for the bookshop's own forms."""
    if "csrf_token" not in session:
        session["csrf_token"] = secrets.token_urlsafe(32)
    return session["csrf_token"]


def _csrf_ok() -> bool:
    expected = session.get("csrf_token")
    given = request.form.get("csrf_token", "")
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


# --- Webhooks ---------------------------------------------------------------------------


def verify_signature(secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """Check a ``Sayso-Signature: t=<unix>,v1=<hex>`` header over the raw body.

    The MAC is HMAC-SHA256 over ``f"{t}."`` + body; a stale ``t`` is refused so a captured
    delivery cannot be replayed later.
    """
    values: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            values.setdefault(key, []).append(value)
    try:
        timestamp = int(values["t"][0])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > SIGNATURE_TOLERANCE:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    # Several v1 values may be sent while a secret is being rotated.
    # Bytes: compare_digest raises on a str with non-ASCII characters (a header may have them).
    given = [value.encode("utf-8", "surrogateescape") for value in values.get("v1", [])]
    return any(hmac.compare_digest(expected.encode(), value) for value in given)


def _event(body: bytes) -> dict | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("data", {}), dict):
        return None
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return None
    return event


# --- Views ------------------------------------------------------------------------------


def register_views(app: Flask) -> None:
    """The home page, the weekly email, the OAuth dance and the webhook receiver."""

    app.jinja_env.globals["csrf_token"] = _csrf_token

    @app.get("/")
    def home():
        """What Sayso lets us see about you, read afresh, and the webhooks we received."""
        sub = session.get("sub")
        view = profile_view(sub)
        return render_template(
            "home.html",
            view=view,
            sections=describe(view.profile),
            question=AUTHORS_QUESTION,
            authors=authors_answer(
                view.profile, current_app.config["BOOKSHOP_AUTHORS_QUESTION_ID"]
            ),
            questions_url=current_app.config["BOOKSHOP_SAYSO_URL"] + "/questions",
            email_result=session.pop("email_result", None),
            events=_store().events(sub) if sub else [],
            message=session.pop("message", None),
        )

    @app.post("/weekly-email")
    def weekly_email():
        """This week's email: only if Sayso's contact policy allows it now."""
        if not _csrf_ok():
            message = "That form was stale. Reload the page and try again."
            return render_template("error.html", message=message), 400
        sub = session.get("sub")
        if not sub:
            return redirect(url_for("home"))
        try:
            session["email_result"] = send_weekly_email(sub)
        except Disconnected:
            _store().disconnect(sub)
        except SaysoUnavailable as exc:
            current_app.logger.warning("Sayso unavailable: %s", exc)
            text = "Not sent: Sayso isn't answering, so we can't ask whether you want it now."
            session["email_result"] = {"sent": False, "text": text}
        return redirect(url_for("home"))

    @app.get("/connect")
    def connect():
        """Send the visitor to Sayso's consent page (authorization code + PKCE)."""
        redirect_uri = current_app.config["BOOKSHOP_URL"] + "/callback"
        try:
            return _sayso().authorize_redirect(redirect_uri)
        except requests.RequestException:
            return render_template("error.html", message="Sayso isn't answering."), 503

    @app.get("/callback")
    def callback():
        """Sayso's answer: check who sent it, exchange the code, learn who this is."""
        sayso = _sayso()
        # RFC 9207: the answer must come from the server we sent the visitor to (mix-up
        # defence); checked before the code goes anywhere.
        if request.args.get("iss") != sayso.load_server_metadata()["issuer"]:
            message = "That answer did not come from Sayso."
            return render_template("error.html", message=message), 400
        try:
            token = sayso.authorize_access_token()
        except OAuthError as exc:
            if exc.error == "access_denied":
                session["message"] = "You didn't share anything with the bookshop. That's fine."
                return redirect(url_for("home"))
            return render_template("error.html", message=f"Sayso said no: {exc}"), 400
        response = _get_profile(token)
        if response.status_code != 200:
            return render_template("error.html", message="Sayso refused our new token."), 502
        profile = response.json()
        sub = profile["sub"]
        with _store().transaction() as conn:
            _store().save_tokens(conn, sub, token)
        _store().save_profile(sub, profile)
        session["sub"] = sub
        return redirect(url_for("home"))

    @app.post("/webhooks/sayso")
    def sayso_webhook():
        """Sayso's signed events: verified, recorded once, applied."""
        body = request.get_data(cache=False)
        header = request.headers.get("Sayso-Signature", "")
        if not verify_signature(current_app.config["BOOKSHOP_WEBHOOK_SECRET"], body, header):
            return jsonify({"error": "bad signature"}), 400
        event = _event(body)
        if event is None:
            return jsonify({"error": "not an event"}), 400
        new = _store().record_event(event)
        return jsonify({"received": event["id"], "duplicate": not new})
