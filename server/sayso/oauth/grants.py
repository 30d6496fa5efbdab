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
from sayso.fields import grant_name_of, grantable
from sayso.models import Account
from sayso.oauth import dpop
from sayso.oauth import rich_authorization as rar
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


class DPoPBinding:
    """RFC 9449 at the token endpoint, for both grants: once the client is authenticated,
    its DPoP proof (if it sent one, and required if it is registered so) is checked and
    used up, and the tokens issued are then of type ``DPoP``, bound to the proof's key."""

    def check_proof(self, client) -> None:
        """Check the request's proof (``self.request.dpop``: ``None`` without one)."""
        self.request.dpop = dpop.token_request_proof(client)

    def bound_key(self) -> str | None:
        """The thumbprint of the key the tokens issued are bound to, if any."""
        proof = getattr(self.request, "dpop", None)
        return proof.jkt if proof is not None else None

    def generate_token(self, *args, **kwargs):
        token = super().generate_token(*args, **kwargs)
        if self.bound_key() is not None:
            token["token_type"] = "DPoP"  # noqa: S105  (a token type, not a secret)
        return token


class AuthorizationCodeGrant(DPoPBinding, grants.AuthorizationCodeGrant):
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
        # RFC 9396 authorization details, by hand: Authlib has none of it (no parameter, no
        # error, no token member), so oauth/rich_authorization.py is the minimum, called
        # from Authlib's own hooks. Read from the request's parameters as Authlib reads
        # ``scope`` (so a pushed request's substituted parameters count the same); raised
        # here, the error goes to the redirect URI only once Authlib has trusted it.
        self.request.authorization_details = rar.parse(
            self.request.payload.data.get("authorization_details"), self.request.client
        )

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        details = self.request.authorization_details
        if details is not None:
            # The union of the scopes and the entries asked for. Without ``scope`` Authlib
            # takes every registered scope; a request of entries alone asks for those only.
            asked = scope_to_list(self.request.scope) if self.request.payload.scope else []
            entries = [grantable(name).scope for name in details]
            self.request.scope = " ".join(dict.fromkeys([*asked, *entries]))
        return redirect_uri

    def authenticate_token_endpoint_client(self):
        # The exchange's transaction begins here, with the client's lookup. Its only write
        # is save_token's INSERT, one statement that is atomic by itself; so on SQLite the
        # write lock is taken for that INSERT alone, not while the client is checked, and a
        # refused request never waits for it (db.one_write). A replay's revocation
        # commits that transaction first and writes in one of its own (TokenService._refuse).
        with one_write():
            client = super().authenticate_token_endpoint_client()
        # Before the code is looked at: a request refused for its proof uses up no code.
        self.check_proof(client)
        return client

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
            # The granted entries, when the request asked with authorization_details.
            getattr(request, "consented_details", None),
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
        sealed = request.authorization_code.details
        if sealed is not None or "authorization_details" in request.form:
            # RFC 9396 section 7: the details as the consumer granted them, from the code
            # (no grant is read: the exchange stays two statements).
            granted = rar.granted_from_seal(sealed or [], request.client.scope_purposes)
            _with_details(token, granted, sealed is not None, request)
        if not services.tokens().save_token_for_code(
            token, request.client, request.authorization_code, jkt=self.bound_key()
        ):
            raise InvalidGrantError("Invalid 'code' in request.")

    def delete_authorization_code(self, authorization_code):
        # Used up already: save_token stored its hash with the token, in one statement.
        pass


def _with_details(token: dict, granted: list[dict], asked_so: bool, request) -> None:
    """Put the granted details in the token response (``asked_so``: the authorization asked
    with authorization_details). A token request that names some (RFC 9396 section 6)
    narrows the token to those, its scope with them; each must be among the granted."""
    raw = request.form.get("authorization_details")
    if raw is not None:
        asked = rar.parse(raw, request.client)
        by_name = {detail["field"]: detail for detail in granted}
        missing = [name for name in asked if name not in by_name]
        if missing:
            raise rar.InvalidAuthorizationDetailsError(
                "Not granted as authorization details: " + ", ".join(missing)
            )
        dropped = {grantable(name).scope for name in by_name if name not in asked}
        token["scope"] = " ".join(s for s in scope_to_list(token["scope"]) if s not in dropped)
        granted = [by_name[name] for name in asked]
    if asked_so:
        token["authorization_details"] = granted


@dataclass(frozen=True, slots=True)
class CodeHolder:
    """The consumer a code was issued to, as far as issuing its token needs."""

    id: int


class RefreshTokenGrant(DPoPBinding, grants.RefreshTokenGrant):
    """Every refresh rotates the refresh token; presenting an old one revokes the family,
    unless it retries, within seconds, a refresh whose answer was lost (then the same pair
    comes back). The new pair covers only what the consumer grants now."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_token_endpoint_client(self):
        client = super().authenticate_token_endpoint_client()
        # Before the refresh token is claimed: a refused proof leaves it usable.
        self.check_proof(client)
        return client

    def authenticate_refresh_token(self, refresh_token):
        client = self.request.client
        found = services.tokens().rotate_refresh(refresh_token, client.client_id)
        if found is not None:
            self._check_binding(found, client)
        if isinstance(found, RetriedPair):
            self.request.retried_pair = found
        return found

    def _check_binding(self, found, client) -> None:
        """RFC 9449 section 5: a DPoP family stays DPoP, so its refresh needs a proof; a
        public client's refresh token is bound to its key, so the proof must be by that
        key (a confidential client authenticates, and may move to a new key), as must a
        retry's, which gets back a pair bound to it. Refused, the claim is undone."""
        if found.jkt is None:
            return
        proof = self.request.dpop
        if proof is None:
            message = "This refresh token's tokens are bound to a key: send a DPoP proof."
        elif proof.jkt != found.jkt and (client.is_public or isinstance(found, RetriedPair)):
            message = "This refresh token is bound to another DPoP key."
        else:
            return
        db.session.rollback()
        raise dpop.InvalidDPoPProofError(message)

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
        live = {}
        if refresh_token.brand_id is not None:
            live = services.consent().live_grants(refresh_token.account_id, refresh_token.brand_id)
            scope = " ".join(s for s in scope_to_list(scope) if grant_name_of(s) in live)
            if not scope:
                # Nothing left to read: refused, and the claim on the refresh token undone.
                db.session.rollback()
                raise InvalidGrantError("Nothing this token covers is granted any more.")
        token = self.generate_token(
            user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )
        names = rar.stored_names(refresh_token.authorization_details)
        if names is not None or "authorization_details" in self.request.form:
            # The granted details again, as the grants say now (a revoked or expired one
            # is left out, as from the scope).
            kept = {grant_name_of(s) for s in scope_to_list(scope)}
            granted = rar.granted_from_grants([n for n in names or () if n in kept], live)
            try:
                _with_details(token, granted, names is not None, self.request)
            except rar.InvalidAuthorizationDetailsError:
                db.session.rollback()
                raise
        return token

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
        # Only a confidential client introspects, and its refresh tokens are not bound to a
        # key (RFC 9449 section 5): ``cnf`` is for access tokens.
        bound = None
        if token.refresh_token_hash == token_hash(request.form["token"]):
            expires_at = token.refresh_expires_at
            if token.rotated_at is not None or expires_at <= utcnow():
                return 200, {"active": False}, default_json_headers
        elif token.is_expired():
            return 200, {"active": False}, default_json_headers
        else:
            expires_at, bound = token.access_expires_at, token.jkt
        answer = self.introspect_token(token, expires_at)
        if bound and answer.get("active"):
            # RFC 9449 section 6.2: the key the token is bound to.
            answer.update(token_type="DPoP", cnf={"jkt": bound})  # noqa: S106
        return 200, answer, default_json_headers

    def introspect_token(self, token, expires_at):
        live = services.consent().live_grants(token.account_id, token.brand_id)
        scopes = [s for s in token.scope.split() if grant_name_of(s) in live]
        if not scopes:
            return {"active": False}
        client = services.brands().client(token.client_id)
        account = db.session.get(Account, token.account_id)
        answer = {
            "active": True,
            "client_id": token.client_id,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
            "sub": services.brands().pairwise_subject(client.brand.public_id, account.pseudonym),
            "exp": int(expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()),
            "iss": issuer(),
        }
        names = rar.stored_names(token.authorization_details)
        if names is not None:
            # RFC 9396 section 9.1: the details granted, live now.
            kept = {grant_name_of(s) for s in scopes}
            answer["authorization_details"] = rar.granted_from_grants(
                [n for n in names if n in kept], live
            )
        return answer
