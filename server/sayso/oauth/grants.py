"""Authlib grants and endpoints, specialised by overriding their hooks.

Only persistence and Sayso's stricter rules live here; the protocol is Authlib's.
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from sayso import services
from sayso.db import one_write
from sayso.extensions import db
from sayso.fields import grant_name_of
from sayso.models import Account
from sayso.services.token_seals import RetriedPair
from sayso.shared.clock import utcnow
from sayso.shared.issuer import issuer
from sayso.shared.tokens import token_hash

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")


class S256Required(CodeChallenge):
    """PKCE for every client, confidential or public, and only with S256.

    Authlib's extension requires PKCE for public clients only and defaults a missing
    method to ``plain``; Sayso refuses both.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        return super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Codes are sealed, not stored; they live 60 s and are single-use with replay revocation."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_requested_scope(self):
        # Authlib would drop unknown scopes silently and show an empty consent page;
        # a scope the client declared no purpose for cannot be asked for at all.
        scope = self.request.payload.scope
        registered = self.request.client.scope_purposes
        if scope and any(s not in registered for s in scope_to_list(scope)):
            raise InvalidScopeError("Ask only for scopes registered with a purpose.")
        # Sayso never lets a brand pass a consumer's data on: a scope whose declared
        # purpose involves third parties is refused before any consent page is shown.
        shared = set(self.request.client.third_party_scopes) & set(scope_to_list(scope or ""))
        if shared:
            raise InvalidScopeError(
                "Sayso does not allow passing consumers' data to third parties; "
                "refused: " + " ".join(sorted(shared))
            )

    def authenticate_token_endpoint_client(self):
        # The exchange's transaction begins here, with the client's lookup. Its only write
        # is save_token's INSERT, one statement that is atomic by itself; so on SQLite the
        # write lock is taken for that INSERT alone, not while the client is checked, and a
        # refused request never waits for it (db.one_write). A replay's revocation
        # commits that transaction first and writes in one of its own (TokenService._refuse).
        with one_write():
            return super().authenticate_token_endpoint_client()

    def generate_authorization_code(self):
        # The code is the authorization itself, sealed (services/tokens.py CodeSeal): it is
        # stored nowhere, so the consent page writes no code row.
        request = self.request
        payload = request.payload
        return services.tokens().codes.seal(
            request.client.client_id,
            request.user.id,
            # Empty when the request left it out (the client has one registered URI): the
            # token request then need not repeat it (RFC 6749 section 4.1.3).
            payload.redirect_uri or "",
            # What the consumer ticked on the consent page (set by the view), not merely
            # what the brand asked for.
            request.consented_scope,
            payload.data.get("code_challenge"),
            payload.data.get("code_challenge_method"),
        )

    def save_authorization_code(self, code, request):
        # Nothing to store. What the consent page left in the transaction (the grants and
        # their ledger event) is committed here, before the code leaves in the redirect:
        # a code never exists without the grants it stands for.
        db.session.commit()

    def query_authorization_code(self, code, client):
        return services.tokens().redeemable_code(code, client.client_id)

    def authenticate_user(self, authorization_code):
        # Whether the account is still active is asked by the token's INSERT (save_token),
        # in the same statement: the token needs only the account's id, so no query here.
        return CodeHolder(authorization_code.account_id)

    def save_token(self, token):
        # The INSERT uses the code up (its hash is unique among tokens) and checks the
        # account; a replay is handled (family revoked, event recorded) before it answers.
        # An expired code is refused here too, not when it is looked up: only once client
        # authentication, redirect_uri and the PKCE verifier have passed, so that only a
        # request that proves it holds the code can revoke what it issued.
        request = self.request
        if not services.tokens().save_token_for_code(
            token, request.client, request.authorization_code
        ):
            raise InvalidGrantError("Invalid 'code' in request.")

    def delete_authorization_code(self, authorization_code):
        # Used up already: save_token stored its hash with the token, in one statement.
        pass


@dataclass(frozen=True, slots=True)
class CodeHolder:
    """The consumer a code was issued to, as far as issuing its token needs."""

    id: int


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Every refresh rotates the refresh token; presenting an old one revokes the family,
    unless it retries, within seconds, a refresh whose answer was lost (then the same pair
    comes back). The new pair covers only what the consumer grants now."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        client = self.request.client
        found = services.tokens().rotate_refresh(refresh_token, client.client_id)
        if isinstance(found, RetriedPair):
            self.request.retried_pair = found
        return found

    def create_token_response(self):
        retried = getattr(self.request, "retried_pair", None)
        if retried is not None:
            # The pair the lost answer carried, as it was: nothing new is issued or stored.
            return 200, retried.response(), self.TOKEN_RESPONSE_HEADER
        return super().create_token_response()

    def issue_token(self, user, refresh_token):
        # Authlib would issue what the old token had (or what was asked, within it). A
        # brand's token covers only what the consumer grants now: a field revoked (or let
        # expire) since is left out, as reads and introspection leave it out.
        scope = self.request.payload.scope or refresh_token.get_scope()
        if refresh_token.brand_id is not None:
            live = services.consent().live_fields(refresh_token.account_id, refresh_token.brand_id)
            scope = " ".join(s for s in scope_to_list(scope) if grant_name_of(s) in live)
            if not scope:
                # Nothing left to read: refused, and the claim on the refresh token undone.
                db.session.rollback()
                raise InvalidGrantError("Nothing this token covers is granted any more.")
        return self.generate_token(
            user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )

    def authenticate_user(self, refresh_token):
        account = db.session.get(Account, refresh_token.account_id)
        return account if account is not None and account.is_active else None

    def revoke_old_credential(self, refresh_token):
        # rotate_refresh already marked it rotated, in this same transaction.
        pass


class SaysoRevocationEndpoint(RevocationEndpoint):
    """RFC 7009: a client may revoke only its own tokens; the whole family goes."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return services.tokens().find(token_string)

    def revoke_token(self, token, request):
        services.tokens().revoke(token, request.client.client_id)


class SaysoIntrospectionEndpoint(IntrospectionEndpoint):
    """RFC 7662: a client may introspect its own tokens. ``active`` follows the live grants,
    so it turns false the moment the consumer revokes."""

    CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

    def query_token(self, token_string, token_type_hint):
        return services.tokens().find(token_string)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def create_endpoint_response(self, request):
        # Authlib judges a row by its access token alone. A refresh token is active only
        # while it can still be exchanged: not rotated, not past its own expiry.
        client = self.authenticate_endpoint_client(request)
        token = self.authenticate_token(request, client)
        if token is None or token.is_revoked():
            return 200, {"active": False}, default_json_headers
        if token.refresh_token_hash == token_hash(request.form["token"]):
            expires_at = token.refresh_expires_at
            if token.rotated_at is not None or expires_at <= utcnow():
                return 200, {"active": False}, default_json_headers
        elif token.is_expired():
            return 200, {"active": False}, default_json_headers
        else:
            expires_at = token.access_expires_at
        return 200, self.introspect_token(token, expires_at), default_json_headers

    def introspect_token(self, token, expires_at):
        live = services.consent().live_fields(token.account_id, token.brand_id)
        scopes = [s for s in token.scope.split() if grant_name_of(s) in live]
        if not scopes:
            return {"active": False}
        client = services.brands().client(token.client_id)
        account = db.session.get(Account, token.account_id)
        return {
            "active": True,
            "client_id": token.client_id,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
            "sub": services.brands().pairwise_subject(client.brand.public_id, account.pseudonym),
            "exp": int(expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()),
            "iss": issuer(),
        }
