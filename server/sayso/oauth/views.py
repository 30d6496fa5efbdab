"""OAuth endpoints: authorize (consent page), token, revoke, introspect, register, metadata."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import redirect, render_template, request
from flask_login import current_user
from marshmallow import ValidationError

from sayso import services
from sayso.auth import consumer_required
from sayso.coarsening import COARSENABLE
from sayso.extensions import csrf, limiter
from sayso.fields import MANAGE_SCOPE, grant_name_of, scope_of
from sayso.i18n import DEFAULT, page_language
from sayso.oauth import dpop
from sayso.oauth import rich_authorization as rar
from sayso.oauth.blueprint import bp
from sayso.oauth.metadata import metadata, metadata_response
from sayso.oauth.pushed import pushed_request
from sayso.oauth.server import authorization_server
from sayso.schemas.consent import ConsentDecisionSchema
from sayso.security import CONTENT_SECURITY_POLICY
from sayso.shared.forms import N_, FormError
from sayso.shared.issuer import issuer

NOTHING_TICKED = FormError(N_("Tick at least one field, or choose Deny."), ("field",))
NO_DECISION = FormError(N_("Choose Allow to sign the extension in, or Deny to send it away."))


@bp.get("/.well-known/oauth-authorization-server")
def server_metadata():
    """RFC 8414 metadata."""
    return metadata_response(metadata)


def _error(error: OAuth2Error):
    """An authorization error: redirected (with ``iss``) only once the redirect URI is trusted."""
    if not error.redirect_uri:
        message = error.description or error.error
        return render_template("error.html", status=400, message=message), 400
    status, _, headers = error(error.redirect_uri)
    location = add_params_to_uri(dict(headers)["Location"], {"iss": issuer()})
    return redirect(location, status)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


@bp.route("/oauth/authorize", methods=["GET", "POST"])
@pushed_request  # first: a request_uri stands for the pushed parameters (RFC 9126)
@consumer_required
def authorize():
    """The consent page: the brand, each requested field and its purpose, nothing pre-ticked."""
    server = authorization_server()
    try:
        grant = server.get_consent_grant(end_user=current_user)
    except OAuth2Error as error:
        return _error(error)
    client = grant.client
    if client.brand is None:
        if client.is_public and grant.request.scope.split() == [MANAGE_SCOPE]:
            return _authorize_first_party(server, grant, client)
        return render_template("error.html", status=400, message=N_("Not a brand's client.")), 400
    if not current_user.email_confirmed:
        # No grant before the address is confirmed (issue 21): say so, and how, instead.
        return render_template("confirm_first.html", client=client), 403
    requested = [f for f in (grant_name_of(s) for s in grant.request.scope.split()) if f]
    # RFC 9396 entries (by name), asked with authorization_details; empty for scopes only.
    details = grant.request.authorization_details or {}
    consent = services.consent()

    if request.method == "GET":
        # A client that asks again for what the consumer granted through it, for the
        # purposes it still declares, gets a code without a page, unless it asked for the
        # page (prompt=consent): then the grants are not looked up. Authorization details
        # ask for a duration the consumer chooses: always the page.
        if (
            not details
            and request.args.get("prompt") != "consent"
            and consent.consented_through(current_user.id, client, requested)
        ):
            grant.request.consented_scope = " ".join(scope_of(f) for f in requested)
            return server.create_authorization_response(grant=grant, grant_user=current_user)
        return _consent_page(grant, client, requested)

    try:
        decision = ConsentDecisionSchema().load(
            {
                "decision": request.form.get("decision", ""),
                "field": request.form.getlist("field"),
                "expiry": request.form.get("expiry", "1y"),
                # What the brand gets of each field that may be coarsened (everything unless
                # the consumer chose less).
                "views": {
                    f: request.form[f"view-{f}"] for f in COARSENABLE if f"view-{f}" in request.form
                },
            }
        )
        lasting = rar.chosen_durations(request.form, details)
    except ValidationError as exc:
        return render_template("error.html", status=422, message=str(exc.messages)), 422
    chosen = [f for f in requested if f in decision["fields_"]]
    if decision["decision"] == "deny":
        # Recorded (field names, no value) so the brand's portal can count its consent rate.
        consent.record_denial(current_user, client, requested)
        return server.create_authorization_response(grant=grant, grant_user=None)
    if not chosen:
        # "Allow selected" with nothing ticked is a slip, not a deny: ask again, with the
        # expiry as chosen (the form posts back to this URL, the request's parameters).
        return _consent_page(
            grant,
            client,
            requested,
            decision["expiry"],
            [NOTHING_TICKED],
            lasting,
            decision["views"],
        )
    # Global Privacy Control, as the browser sent it with the consumer's decision, goes
    # into the grant event and so into the consent receipt.
    gpc = request.headers.get("Sec-GPC") == "1"
    context = {"gpc": True} if gpc else {}
    # The fields asked for and left unticked (names only), for the brand's consent rate.
    declined = sorted(set(requested) - set(chosen))
    if declined:
        context["declined"] = declined
    # One grant per expiry chosen (an authorization details entry has its own); the
    # fields left unticked are said once.
    for expiry, names in _by_expiry(chosen, decision["expiry"], lasting):
        consent.grant_uncommitted(
            current_user, client, names, expiry, context=context or None, views=decision["views"]
        )
        context.pop("declined", None)
    if details:
        # The code carries the entries as granted (expiry, view), for the token response.
        grant.request.consented_details = rar.sealed(
            [f for f in chosen if f in details],
            consent.live_grants(current_user.id, client.brand_id),
        )
    # The token's scope is exactly what the consumer ticked, sealed into the code. The
    # grants and their ledger event commit as the code is issued: no code without them.
    grant.request.consented_scope = " ".join(scope_of(f) for f in chosen)
    return server.create_authorization_response(grant=grant, grant_user=current_user)


def _by_expiry(chosen, expiry, lasting):
    """``chosen`` grouped by the expiry each gets (``lasting``'s, else ``expiry``)."""
    groups = {}
    for name in chosen:
        groups.setdefault(lasting.get(name, expiry), []).append(name)
    return groups.items()


def _consent_page(grant, client, requested, expiry="1y", errors=(), lasting=None, views=None):
    """The consent page: each requested field with the brand's declared purpose and what
    the brand would get of it now (reads, then writes), and for an authorization details
    entry what it asks and for how long (``lasting``: as chosen); each field that may be
    shared as less than everything in each such view (``views``: as chosen, else
    everything); 422 when it comes back with ``errors``."""
    # The purposes in the page's language where the brand registered them in it
    # (``sayso_purposes#fr``), else in its own words, and the page says so.
    translated = client.purpose_translations.get(page_language(), {})
    purposes = {
        f: translated.get(scope_of(f)) or client.scope_purposes[scope_of(f)] for f in requested
    }
    untranslated = page_language() != DEFAULT and any(
        scope_of(f) not in translated for f in requested
    )
    details = grant.request.authorization_details or {}
    target = grant.request.payload.redirect_uri or client.get_default_redirect_uri()
    response = render_template(
        "consent.html",
        client=client,
        brand=client.brand,
        requested=services.share_preview().preview(
            current_user._get_current_object(), client.brand, purposes, views
        ),
        return_to=urlsplit(target).netloc,
        expiry=expiry,
        details=details,
        lasting=lasting or {name: detail["duration"] for name, detail in details.items()},
        durations=rar.DURATION_LABELS,
        errors=list(errors),
        gpc=request.headers.get("Sec-GPC") == "1",
        untranslated_purposes=untranslated,
    )
    return _with_form_action(response, grant, client, 422 if errors else 200)


def _with_form_action(response, grant, client, status=200):
    # The form's answer is a redirect to the client: form-action must allow its origin.
    target = _origin(grant.request.payload.redirect_uri or client.get_default_redirect_uri())
    return response, status, _form_action_to(target)


def _form_action_to(origin: str) -> dict:
    csp = CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")
    return {"Content-Security-Policy": csp}


def _requesting_client(next_url: str | None):
    """The client of an authorization request at ``next_url`` (a path on this site), with the
    redirect URI it asked for, checked against its registration; ``(None, None)`` if
    ``next_url`` is not one."""
    parts = urlsplit(next_url or "")
    if parts.scheme or parts.netloc or parts.path != "/oauth/authorize":
        return None, None
    query = parse_qs(parts.query)
    client = services.brands().client((query.get("client_id") or [""])[0])
    if client is None:
        return None, None
    asked = (query.get("redirect_uri") or [None])[0]
    if "request_uri" in query:
        # A pushed request (RFC 9126): the redirect URI is the one pushed, not the URL's.
        pushed = services.pushed_requests().peek(query["request_uri"][0], client.client_id)
        asked = (pushed or {}).get("redirect_uri")
    if asked is not None and not client.check_redirect_uri(asked):
        return None, None
    return client, asked or client.get_default_redirect_uri()


def continuing_to(next_url: str | None) -> str | None:
    """Who the sign-in and sign-up pages say the consumer will continue to ("to continue to
    Bookshop"): the brand of the authorization request at ``next_url``, else ``None``."""
    client, _ = _requesting_client(next_url)
    if client is None:
        return None
    return client.brand.name if client.brand is not None else client.name


def sign_in_headers(next_url: str | None) -> dict:
    """Headers for the sign-in page when it goes on to ``next_url``. If that is an
    authorization request, signing in may end at the client at once (a client asking
    again for what was granted through it gets its code without the consent page), and the
    browser checks the sign-in form's whole redirect chain against ``form-action``: so it
    must allow the origin of that client's registered redirect URI, and only that."""
    client, target = _requesting_client(next_url)
    if client is None or not target:
        return {}
    return _form_action_to(_origin(target))


def _authorize_first_party(server, grant, client):
    """A first-party client (the browser extension) asks to manage the consumer's consent:
    one page saying what that lets it do, and Allow or Deny; no field list, no checkbox.

    Allow is the consent: the page says in words what allowing does, so a second opt-in
    (a box to tick as well) only made a slip possible. Every answer that is not a decision
    shows the page again with 200, never 4xx: the page runs inside the browser's sign-in
    window (``identity.launchWebAuthFlow``), and Chromium closes that window on an error
    status ("Authorization page could not be loaded") instead of showing the page."""
    decision = request.form.get("decision") if request.method == "POST" else None
    if decision == "deny":
        return server.create_authorization_response(grant=grant, grant_user=None)
    if decision == "allow":
        grant.request.consented_scope = MANAGE_SCOPE
        return server.create_authorization_response(grant=grant, grant_user=current_user)
    errors = [NO_DECISION] if request.method == "POST" else []
    page = render_template("consent_manage.html", client=client, errors=errors)
    return _with_form_action(page, grant, client)


@bp.post("/oauth/token")
@csrf.exempt
@limiter.limit("60 per minute")
def token():
    """RFC 6749 token endpoint: code exchange (with PKCE) and refresh rotation."""
    dpop.check_token_request()  # RFC 9449: a DPoP proof binds the tokens to a key
    return authorization_server().create_token_response()


@bp.post("/oauth/revoke")
@csrf.exempt
@limiter.limit("120 per minute")
def revoke():
    """RFC 7009 revocation."""
    return authorization_server().create_endpoint_response("revocation")


@bp.post("/oauth/introspect")
@csrf.exempt
@limiter.limit("600 per minute")
def introspect():
    """RFC 7662 introspection."""
    return authorization_server().create_endpoint_response("introspection")


@bp.post("/oauth/register")
@csrf.exempt
@limiter.limit("30 per minute")
def register():
    """RFC 7591 dynamic client registration, with a brand's initial access token."""
    return authorization_server().create_endpoint_response("client_registration")
