"""Dynamic client registration (RFC 7591) behind a brand's initial access token.

Authlib's endpoint does the protocol; Sayso adds who may register (a brand, by its
initial access token), its own rules for what is registered (``ClientSchema``: exact https
redirect URIs, a declared purpose for every scope) and storage through ``BrandService``.

Sayso's extension members: ``sayso_purposes`` (``{"interests:read": "why", ...}``, required
for every scope in ``scope``), ``sayso_webhook_url`` (optional) and
``sayso_third_party_scopes`` (optional: the scopes whose purpose passes data to third
parties, which Sayso then refuses to ask consumers for). The answer repeats what
was registered, with ``client_secret`` and, with a webhook URL, ``sayso_webhook_secret``:
both shown this once.

``token_endpoint_auth_method: "none"`` registers a public client (an app on people's own
devices or in their browser, which cannot keep a secret): no ``client_secret``, PKCE alone
proves it at the token endpoint, it may revoke its tokens but not introspect them, and it
takes no webhook (those go to a brand's server, through a confidential client), as
Sayso's own browser extension. ``require_pushed_authorization_requests`` (RFC 9126
section 6, default false): its authorization requests must be pushed to /oauth/par first.
``dpop_bound_access_tokens`` (RFC 9449 section 5.2, default false): every token request
must carry a DPoP proof, so all its tokens are bound to a key.
"""

from __future__ import annotations

import re

from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2.rfc6749 import InvalidRequestError, scope_to_list
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import (
    ClientMetadataClaims,
    ClientRegistrationEndpoint,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from flask import current_app
from flask import request as flask_request
from marshmallow import ValidationError

from sayso import services
from sayso.i18n import DEFAULT, supported
from sayso.oauth.metadata import metadata
from sayso.oauth.resource import revoke_exposed
from sayso.oauth.rich_authorization import TYPES_SUPPORTED
from sayso.schemas.brands import ClientSchema
from sayso.services.initial_access_tokens import InitialAccessTokenSpent
from sayso.shared.forms import flatten_errors
from sayso.shared.tokens import (
    INITIAL_ACCESS_TOKEN_PREFIX,
    new_client_id,
    new_client_secret,
    token_hash,
)

SECRET_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
GRANT_TYPES = ["authorization_code", "refresh_token"]
# The JSON type of each member Sayso reads or Authlib validates (RFC 7591 section 2).
MEMBER_TYPES = {
    "redirect_uris": list,
    "scope": str,
    "sayso_purposes": dict,
    "sayso_third_party_scopes": list,
    "sayso_webhook_url": str,
    "client_name": str,
    "token_endpoint_auth_method": str,
    "grant_types": list,
    "response_types": list,
    "contacts": list,
    "client_uri": str,
    "logo_uri": str,
    "tos_uri": str,
    "policy_uri": str,
    "jwks_uri": str,
    "jwks": dict,
    "software_id": str,
    "software_version": str,
    "require_pushed_authorization_requests": bool,
    "dpop_bound_access_tokens": bool,
    "authorization_details_types": list,
}
SPENT = "The initial access token is not valid: unknown, revoked, expired or used up."
# RFC 6749 allows only these characters in error_description.
_NOT_ALLOWED = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class SaysoClientMetadata(ClientMetadataClaims):
    """RFC 7591 metadata plus Sayso's members and RFC 9126's."""

    REGISTERED_CLAIMS = (
        *ClientMetadataClaims.REGISTERED_CLAIMS,
        "sayso_purposes",
        "sayso_third_party_scopes",
        "sayso_webhook_url",
        "require_pushed_authorization_requests",
        "dpop_bound_access_tokens",
        "authorization_details_types",
    )

    def validate_redirect_uris(self):
        # Checked by ClientSchema instead, so a bad one is ``invalid_redirect_uri``.
        pass

    @classmethod
    def get_claims_options(cls, metadata):
        options = super().get_claims_options(metadata)
        # What the token endpoint accepts: a secret, or none (a public client, PKCE alone).
        options["token_endpoint_auth_method"] = {"values": [*SECRET_AUTH_METHODS, "none"]}
        return options


def _is(value, kind) -> bool:
    """``value`` is of JSON type ``kind``; an array must hold strings only."""
    if kind is list:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, kind)


def _description(text: str) -> str:
    return _NOT_ALLOWED.sub("?", text)[:500]


class SaysoClientRegistrationEndpoint(ClientRegistrationEndpoint):
    """POST /oauth/register: a brand's software registers a client with its initial token."""

    def __init__(self, server=None):
        super().__init__(server, claims_classes=[SaysoClientMetadata])

    def create_endpoint_request(self, request):
        # A body that is not a JSON object gets an OAuth error (JSON), not Flask's 415/400.
        json_request = FlaskJsonRequest(flask_request)
        try:
            body = flask_request.get_json(silent=True)
        except RecursionError:  # nested too deep for the parser; ``silent`` covers ValueError
            body = None
        json_request.payload = _Payload(body if isinstance(body, dict) else None)
        return json_request

    def authenticate_token(self, request):
        exposed = [
            value
            for name, value in flask_request.args.items(multi=True)
            if name == "access_token" or value.startswith(INITIAL_ACCESS_TOKEN_PREFIX + "_")
        ]
        if exposed:
            # In the URL it is in logs and histories already: refused, and revoked if it
            # still worked, as any token sent there is (oauth.resource.revoke_exposed).
            message = "Send the initial access token in the Authorization header, never in the URL."
            revoked = [revoke_exposed(token) for token in exposed if token]  # each one
            if any(revoked):
                message += " This one was revoked, as it may now be in logs: issue a new one."
            raise InvalidRequestError(message)
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidTokenError(
                "Send a brand's initial access token as a Bearer token.", realm="sayso"
            )
        brand = services.brands().brand_for_initial_access_token(token)
        if brand is None:
            raise InvalidTokenError(SPENT, realm="sayso")
        # Authlib keeps this as ``request.credential``.
        return {"brand": brand, "token_hash": token_hash(token)}

    def get_server_metadata(self):
        # What is supported (scopes, grant types...), not the issuer: never refused.
        return metadata(served=False)

    def extract_client_metadata(self, request):
        data = request.payload.data
        if data is None:
            raise InvalidRequestError("Send the client metadata as a JSON object.")
        # Types first: Authlib's checks assume them, and a wrong one must be a 400, not a 500.
        wrong = [k for k, kind in MEMBER_TYPES.items() if k in data and not _is(data[k], kind)]
        if "redirect_uris" in wrong:
            raise InvalidRedirectURIError("redirect_uris must be an array of URL strings.")
        if wrong:
            raise InvalidClientMetadataError(
                _description("Wrong JSON type for: " + ", ".join(wrong))
            )
        claims = super().extract_client_metadata(request)
        brand = request.credential["brand"]
        requested = scope_to_list(claims.get("scope")) or []
        purposes = claims.get("sayso_purposes")
        if purposes is None:
            raise InvalidClientMetadataError(
                _description("Declare a purpose for every scope in sayso_purposes.")
            )
        if not requested:
            requested = list(purposes)
        missing = [s for s in requested if s not in purposes]
        if missing:
            raise InvalidClientMetadataError(
                _description("Declare a purpose in sayso_purposes for: " + ", ".join(missing))
            )
        extra = [s for s in purposes if s not in requested]
        if extra:
            raise InvalidClientMetadataError(
                _description("sayso_purposes names scopes not in scope: " + ", ".join(extra))
            )
        method = claims.get("token_endpoint_auth_method", "client_secret_basic")
        # Read by generate_client_secret and save_client: a public client gets no secret.
        request.public_client = method == "none"
        if request.public_client and claims.get("sayso_webhook_url"):
            raise InvalidClientMetadataError(
                "A public client (token_endpoint_auth_method none) cannot have a webhook: "
                "register the webhook on a confidential client of the brand's server."
            )
        # RFC 9396 section 10: the types the client will use; Sayso knows one, which every
        # client may use, so an accepted list is only repeated in the answer.
        types = claims.get("authorization_details_types")
        unknown = sorted(set(types or ()) - set(TYPES_SUPPORTED))
        if unknown:
            raise InvalidClientMetadataError(
                _description(
                    "authorization_details_types: Sayso supports only "
                    + ", ".join(TYPES_SUPPORTED)
                    + "; not "
                    + ", ".join(unknown)
                )
            )
        document = {
            "name": claims.get("client_name") or brand.name,
            "redirect_uris": claims.get("redirect_uris") or [],
            "scope_purposes": purposes,
            "third_party_scopes": claims.get("sayso_third_party_scopes") or [],
            "webhook_url": claims.get("sayso_webhook_url"),
        }
        schema = ClientSchema(allow_http_loopback=current_app.config["ALLOW_HTTP_LOOPBACK"])
        try:
            client = schema.load(document)
        except ValidationError as exc:
            _raise_for(exc.messages)
        # What is registered, as RFC 7591 names it (Sayso may substitute values, 3.2.1).
        return {
            "client_name": client["name"],
            "redirect_uris": client["redirect_uris"],
            "scope": " ".join(client["scope_purposes"]),
            "sayso_purposes": client["scope_purposes"],
            **{
                f"sayso_purposes#{language}": words
                for language, words in _translated_purposes(data, client["scope_purposes"]).items()
            },
            **(
                {"sayso_third_party_scopes": client["third_party_scopes"]}
                if client["third_party_scopes"]
                else {}
            ),
            **({"sayso_webhook_url": client["webhook_url"]} if client["webhook_url"] else {}),
            **(
                {"authorization_details_types": list(dict.fromkeys(types))}
                if types is not None
                else {}
            ),
            "grant_types": GRANT_TYPES,
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
            "require_pushed_authorization_requests": bool(
                claims.get("require_pushed_authorization_requests", False)
            ),
            # RFC 9449 section 5.2: every token request needs a DPoP proof.
            "dpop_bound_access_tokens": bool(claims.get("dpop_bound_access_tokens", False)),
        }

    def generate_client_id(self, request):
        return new_client_id()

    def generate_client_secret(self, request):
        return None if request.public_client else new_client_secret()

    def generate_client_info(self, request):
        info = super().generate_client_info(request)
        if info["client_secret"] is None:
            # A public client has no secret, so no secret's expiry either (RFC 7591 3.2.1).
            del info["client_secret"], info["client_secret_expires_at"]
        return info

    def save_client(self, client_info, client_metadata, request):
        credential = request.credential
        try:
            return services.brands().register_client(
                credential["brand"],
                client_metadata["client_name"],
                client_metadata["redirect_uris"],
                client_metadata["sayso_purposes"],
                webhook_url=client_metadata.get("sayso_webhook_url"),
                third_party_scopes=client_metadata.get("sayso_third_party_scopes", []),
                actor=f"registration:{credential['token_hash'][:16]}",
                client_id=client_info["client_id"],
                client_secret=client_info.get("client_secret"),
                public=request.public_client,
                require_pushed_authorization_requests=client_metadata[
                    "require_pushed_authorization_requests"
                ],
                dpop_bound_access_tokens=client_metadata["dpop_bound_access_tokens"],
                purpose_translations={
                    key.partition("#")[2]: words
                    for key, words in client_metadata.items()
                    if key.startswith("sayso_purposes#")
                },
                # Each registration uses the token once, in the client's own transaction.
                initial_access_token=credential["token_hash"],
            )
        except InitialAccessTokenSpent:
            # Its last use went to a registration racing this one, or it expired meanwhile.
            raise InvalidTokenError(SPENT, realm="sayso") from None

    def generate_client_registration_info(self, client, request):
        # ``client`` is the NewClient from save_client: its webhook secret exists only now.
        if client.webhook_secret:
            return {"sayso_webhook_secret": client.webhook_secret}
        return None


def _translated_purposes(data: dict, scopes) -> dict[str, dict[str, str]]:
    """RFC 7591 section 2.2's language tags: ``sayso_purposes#fr`` is ``sayso_purposes``
    in French (``#de``: German), for some or all of the scopes; shown on the consent page to
    a consumer reading that language (the untagged member to everyone else)."""
    found = {}
    for key, words in data.items():
        member, _, tag = key.partition("#")
        if member != "sayso_purposes" or not tag:
            continue
        language = supported(tag)
        if language is None or language == DEFAULT or "-" in tag.strip("-"):
            raise InvalidClientMetadataError(
                _description(f"{key}: Sayso shows purposes in fr and de besides sayso_purposes.")
            )
        good = isinstance(words, dict) and all(
            isinstance(w, str) and 3 <= len(w.strip()) <= 280 and w.isprintable()
            for w in words.values()
        )
        if not good or any(scope not in scopes for scope in words):
            raise InvalidClientMetadataError(
                _description(f"{key}: give scopes of sayso_purposes, each 3 to 280 characters.")
            )
        found[language] = {scope: w.strip() for scope, w in words.items()}
    return found


class _Payload:
    """A JSON body as Authlib's payload (``data``), or ``None`` when it is not an object."""

    def __init__(self, data):
        self.data = data


# ClientSchema's names for what RFC 7591 (and Sayso's extension) call these members.
_MEMBERS = {
    "name": "client_name",
    "scope_purposes": "sayso_purposes",
    "third_party_scopes": "sayso_third_party_scopes",
    "webhook_url": "sayso_webhook_url",
}


def _explain(messages: dict) -> str:
    lines = []
    for key, value in messages.items():
        member = _MEMBERS.get(key, key)
        lines += [f"{member}: {line}" for line in flatten_errors(value, plain=False)]
    return _description("; ".join(lines))


def _raise_for(messages: dict):
    """Turn ``ClientSchema`` errors into the RFC 7591 error that fits."""
    if "redirect_uris" in messages:
        raise InvalidRedirectURIError(_explain({"redirect_uris": messages["redirect_uris"]}))
    raise InvalidClientMetadataError(_explain(messages))
