"""Authlib grants and endpoints, specialised by overriding their hooks.

Only persistence and Sayso's stricter rules live here; the protocol is Authlib's.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from sayso import services
from sayso.extensions import db
from sayso.models import Account
from sayso.oauth.issuer import issuer

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
    """Codes are stored hashed, live 60 s, and are single-use with replay revocation."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code, request):
        payload = request.payload
        services.tokens().save_code(
            code,
            request.client,
            request.user.id,
            payload.redirect_uri,
            # What the consumer ticked on the consent page (set by the view), not merely
            # what the brand asked for.
            request.consented_scope,
            payload.data.get("code_challenge"),
            payload.data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code, client):
        return services.tokens().redeem_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code):
        # Already marked used by redeem_code; kept so a replay can be recognised.
        pass

    def authenticate_user(self, authorization_code):
        account = db.session.get(Account, authorization_code.account_id)
        return account if account is not None and account.is_active else None


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Every refresh rotates the refresh token; presenting an old one revokes the family."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        client = self.request.client
        return services.tokens().rotate_refresh(refresh_token, client.client_id)

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

    def introspect_token(self, token):
        from sayso.services.consent import field_of

        live = services.consent().live_fields(token.account_id, token.brand_id)
        scopes = [s for s in token.scope.split() if field_of(s) in live]
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
            "exp": int(token.access_expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()),
            "iss": issuer(),
        }
