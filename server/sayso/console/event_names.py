"""Ledger event types as officers read them: grouped by what they are about, each with a
plain name. The raw ``source:subject:action`` stays in the event's detail page, for
experts and for searches shared as links.
"""

from __future__ import annotations

from dataclasses import dataclass

from sayso.ledger import EventType as T

#: (group name, ((type, plain name), ...)), in the order the type filter lists them.
GROUPS: tuple[tuple[str, tuple[tuple[T, str], ...]], ...] = (
    (
        "Consent",
        (
            (T.CONSENT_GRANTED, "Consent given"),
            (T.CONSENT_REVOKED, "Consent withdrawn"),
            (T.CONSENT_DENIED, "Consent request denied"),
        ),
    ),
    (
        "Reads and contacts by brands",
        (
            (T.PROFILE_READ, "Brand read a profile"),
            (T.CONTACT_POLICY_CHECKED, "Brand checked contact preferences"),
            (T.CONTACT_RECORDED, "Brand reported a contact"),
            (T.CONTACT_BREACHED, "Contact against a consumer's preferences"),
        ),
    ),
    (
        "Consumers' data",
        (
            (T.DISCLOSURE_UPDATED, "Disclosure changed"),
            (T.DISCLOSURE_DELETED, "Disclosure deleted"),
            (T.ANSWER_SAVED, "Answer to a question saved"),
            (T.ANSWER_DELETED, "Answer to a question removed"),
            (T.DATA_EXPORTED, "Consumer exported their data"),
            (T.ACCOUNT_ERASED, "Consumer erased their account"),
        ),
    ),
    (
        "Accounts and sign-in",
        (
            (T.ACCOUNT_CREATED, "Consumer account created"),
            (T.BRAND_MEMBER_CREATED, "Brand member account created"),
            (T.OFFICER_CREATED, "Officer account created"),
            (T.LOGIN_SUCCEEDED, "Signed in"),
            (T.LOGIN_FAILED, "Sign-in failed"),
            (T.LOGIN_LOCKED, "Sign-in locked after failures"),
            (T.PASSWORD_CHANGED, "Password changed"),
            (T.EMAIL_CONFIRMED, "Email address confirmed"),
            (T.SIGNUP_REPEATED, "Sign-up tried with an address that has an account"),
            (T.PASSWORD_RESET_REQUESTED, "Password reset asked for"),
            (T.PASSWORD_RESET, "Password reset by email link"),
            (T.PASSKEY_ADDED, "Passkey added"),
            (T.PASSKEY_REMOVED, "Passkey removed"),
            (T.SESSION_ENDED, "Signed out of a session or the extension"),
        ),
    ),
    (
        "Brands",
        (
            (T.BRAND_CREATED, "Brand registered"),
            (T.DOMAIN_VERIFIED, "Brand domain verified"),
            (T.BRAND_MEMBER_ADDED, "Member added to a brand"),
            (T.CLIENT_CREATED, "Client registered"),
            (T.CLIENT_UPDATED, "Client changed"),
            (T.CLIENT_SECRET_ROTATED, "Client secret rotated"),
            (T.WEBHOOK_SECRET_ROTATED, "Webhook signing secret rotated"),
            (T.CLIENT_DELETED, "Client deleted"),
            (T.INITIAL_TOKEN_ISSUED, "Registration token issued"),
            (T.INITIAL_TOKENS_REVOKED, "Registration tokens revoked"),
            (T.QUESTION_CREATED, "Question written"),
            (T.QUESTION_UPDATED, "Question draft edited"),
            (T.QUESTION_PUBLISHED, "Question published"),
            (T.QUESTION_CLOSED, "Question closed"),
        ),
    ),
    (
        "Tokens and security",
        (
            (T.TOKEN_REVOKED, "Token revoked"),
            (T.CODE_REPLAYED, "Authorization code used twice"),
            (T.REFRESH_REUSED, "Refresh token used twice"),
            (T.TOKEN_EXPOSED, "Token exposed"),
        ),
    ),
    (
        "Officers and the ledger",
        (
            (T.CONSOLE_VIEWED, "Officer opened a console page"),
            (T.CONSOLE_EXPORTED, "Officer downloaded events"),
            (T.MASTER_KEY_ROTATED, "Master key rotated"),
            (T.LOG_CARRIED_OVER, "Hash chain carried over"),
        ),
    ),
)
#: Where a type nobody has named yet is listed, under its raw name.
OTHER = "Other"

_NAMES = {str(t): name for _, members in GROUPS for t, name in members}


@dataclass(frozen=True)
class TypeOption:
    """One type in the filter: its raw value and what officers read."""

    value: str
    name: str


def plain_name(event_type: str) -> str:
    """What officers read for ``event_type``: its plain name, or the raw type if it has none."""
    return _NAMES.get(event_type, event_type)


def grouped_types() -> list[tuple[str, list[TypeOption]]]:
    """Every event type, grouped, with its plain name; unnamed ones last, under ``OTHER``."""
    groups = [
        (group, [TypeOption(str(t), name) for t, name in members]) for group, members in GROUPS
    ]
    unnamed = [TypeOption(str(t), str(t)) for t in T if str(t) not in _NAMES]
    if unnamed:
        groups.append((OTHER, unnamed))
    return groups
