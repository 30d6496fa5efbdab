"""The profile read: what a brand's token may see right now, and the ledger record of it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import and_, select

from sayso.models import Account, Brand, DataKey, Disclosure, Grant, Token
from sayso.models._types import utcnow
from sayso.services.brands import BrandService
from sayso.services.consent import field_of
from sayso.services.ledger import Event, EventType, Ledger
from sayso.services.questions import QuestionService
from sayso.services.vault import Vault

_GRANTS = Grant.__table__
_ACCOUNTS = Account.__table__
_BRANDS = Brand.__table__
_KEYS = DataKey.__table__
_DISCLOSURES = Disclosure.__table__
ANSWERS = "answers"
ANSWERS_SCOPE = "answers:read"


class NothingGranted(Exception):
    """The token is valid but the consumer has revoked (or let expire) all it covers."""


@dataclass(frozen=True)
class ProfileRead:
    """What one read returned."""

    document: dict
    fields: list[str]


class ProfileService:
    """Reads a consumer's granted disclosures for a brand's token, recording every read."""

    def __init__(
        self,
        session,
        vault: Vault,
        ledger: Ledger,
        brands: BrandService,
        questions: QuestionService | None = None,
    ):
        self.session = session
        self.vault = vault
        self.ledger = ledger
        self.brands = brands
        # With it, a token with a live ``answers:read`` grant also reads "answers".
        self.questions = questions

    def read(self, token: Token) -> ProfileRead:
        """The token's scope intersected with the live grants, checked now, no cache.

        The read is a ledger event committed before anything is returned: if it cannot be
        recorded, this raises and nothing is disclosed (fail closed).

        Everything the read needs (the live grants, the account, the brand's public id, the
        wrapped data key and the sealed values) comes back from one Core query: one round
        trip and no ORM objects on the hot path (docs/benchmarks.md says what that bought).
        """
        now = utcnow()
        wanted = {f for f in (field_of(s) for s in token.scope.split()) if f}
        if self.questions is not None and ANSWERS_SCOPE in token.scope.split():
            wanted.add(ANSWERS)
        if not wanted:
            raise NothingGranted
        rows = self.session.execute(
            select(
                _GRANTS.c.field,
                _GRANTS.c.purpose,
                _GRANTS.c.expires_at,
                _ACCOUNTS.c.pseudonym,
                _ACCOUNTS.c.erased_at,
                _BRANDS.c.public_id,
                _KEYS.c.wrapped_key,
                _DISCLOSURES.c.ciphertext,
            )
            .select_from(
                _GRANTS.join(_ACCOUNTS, _ACCOUNTS.c.id == _GRANTS.c.account_id)
                .join(_BRANDS, _BRANDS.c.id == _GRANTS.c.brand_id)
                .outerjoin(_KEYS, _KEYS.c.account_id == _GRANTS.c.account_id)
                .outerjoin(
                    _DISCLOSURES,
                    and_(
                        _DISCLOSURES.c.account_id == _GRANTS.c.account_id,
                        _DISCLOSURES.c.field == _GRANTS.c.field,
                    ),
                )
            )
            .where(
                _GRANTS.c.account_id == token.account_id,
                _GRANTS.c.brand_id == token.brand_id,
                _GRANTS.c.field.in_(sorted(wanted)),
                _GRANTS.c.revoked_at.is_(None),
            )
        ).all()
        grants = [r for r in rows if r.expires_at is None or r.expires_at > now]
        if not grants:
            raise NothingGranted
        first = grants[0]
        if first.erased_at is not None:
            raise NothingGranted  # erased: nothing of theirs is readable any more
        live = sorted(r.field for r in grants)
        values = {
            r.field: json.loads(
                self.vault.decrypt_with(token.account_id, r.wrapped_key, r.field, r.ciphertext)
            )
            for r in grants
            if r.ciphertext is not None
        }
        document = {"sub": self.brands.pairwise_subject(first.public_id, first.pseudonym)}
        document.update({field: values.get(field) for field in live if field != ANSWERS})
        if ANSWERS in live:
            # Only the answers to this brand's own questions, never another brand's.
            document[ANSWERS] = self.questions.answers_for(token.account_id, token.brand_id)
        purposes = {r.field: r.purpose for r in grants}
        self.ledger.append(
            Event(
                EventType.PROFILE_READ,
                actor=f"client:{token.client_id}",
                subject=first.pseudonym,
                brand=first.public_id,
                fields=tuple(live),
                details={"purposes": purposes},
            )
        )
        self.session.commit()
        return ProfileRead(document, live)
