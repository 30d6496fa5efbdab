"""Consent receipts: a signed, portable record of each grant and revoke.

A receipt is derived from one ledger event (``consent:grant:created`` or
``consent:grant:revoked``) and the brand's row, never from disclosed values, so erasing
an account leaves its receipts intact. Its members follow the consent record structure of
ISO/IEC TS 27560 (record id, principal, controller, purposes, data categories, collection
method, event, validity, withdrawal); its ``ledger`` member names the event's entry in the
log (its leaf hash and index) with an inclusion proof against a checkpoint, cosigned by the
witnesses where there are any: the receipt is in the same history everyone else sees.

The signature is Ed25519 by the ledger's key (the one ``/.well-known/sayso-ledger-key.json``
publishes) over :func:`receipt_bytes`: the receipt without its ``signature`` member, as
sorted-key compact JSON in UTF-8. ``docs/ledger.md`` shows how to check one with nothing
but the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from sayso.coarsening import COARSENABLE, EVERYTHING, View, describe
from sayso.fields import FIELDS, PERMISSIONS, label_of
from sayso.ledger import EventType, LedgerKey, proofs
from sayso.ledger.encoding import entry_leaf_hash
from sayso.ledger.encoding import timestamp as _timestamp
from sayso.ledger.keys import signature_valid
from sayso.models import Account, AuditEvent, Brand, LedgerLeaf
from sayso.services.brands import BrandService
from sayso.shared.forms import N_

RECEIPT_SCHEMA = "sayso-consent-receipt/v1 (after ISO/IEC TS 27560)"
#: What every version's ``schema`` starts with; a checkpoint message has no ``schema``.
RECEIPT_SCHEMA_FAMILY = "sayso-consent-receipt/"
SIGNATURE_ALG = "Ed25519"
#: The ledger events a receipt is made from.
RECEIPT_EVENTS = (str(EventType.CONSENT_GRANTED), str(EventType.CONSENT_REVOKED))
#: What ``details.reason`` of a revoke event says when the account was erased.
ERASURE_REASON = "account_erased"

COLLECTED_ON_CONSENT_PAGE = "Sayso consent page"
COLLECTED_BY_CONSUMER_CONTROLS = "Sayso consumer controls"
COLLECTED_BY_ERASURE = "Sayso account erasure"
COLLECTED_BY_VIEW_CHANGE = "Sayso consumer controls: view changed"

WITHDRAWAL_HOW = (
    "Revoke one field, the whole brand or everything on the Brands page of Sayso (url), "
    "with the Sayso browser extension on the brand's site, or with an authenticated "
    "DELETE to the API URL (api). A revoke takes effect on the brand's next request."
)


def receipt_bytes(receipt: Mapping) -> bytes:
    """The exact bytes a receipt's signature covers: every member but ``signature``, as
    sorted-key compact JSON (no insignificant whitespace, non-ASCII unescaped) in UTF-8."""
    unsigned = {key: value for key, value in receipt.items() if key != "signature"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def key_id_of(public_key) -> str:
    """The key id of an Ed25519 public key, as :class:`LedgerKey` names its own."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def verify_receipt(receipt: Mapping, public_key) -> bool:
    """Whether ``receipt`` is signed, unmodified, by the Ed25519 ``public_key``."""
    signature = receipt.get("signature") if isinstance(receipt, Mapping) else None
    if not isinstance(signature, Mapping) or signature.get("alg") != SIGNATURE_ALG:
        return False
    if not str(receipt.get("schema", "")).startswith(RECEIPT_SCHEMA_FAMILY):
        return False  # the same key signs checkpoints: one is never taken for the other
    if signature.get("key_id") != key_id_of(public_key):
        return False
    value = signature.get("value")
    if not isinstance(value, str):
        return False
    try:
        message = receipt_bytes(receipt)
    except (TypeError, ValueError):
        return False
    return signature_valid(public_key, value, message)


def _rfc3339(value: str | None) -> str | None:
    """An ISO 8601 instant from event details, in the ledger's own ``...Z`` form."""
    if not value:
        return None
    return _timestamp(datetime.fromisoformat(value))


#: How the consent was given or withdrawn (a receipt's ``collection_method``), in words.
#: English here (the pages translate them: the ``t`` filter).
METHOD_WORDS = {
    COLLECTED_ON_CONSENT_PAGE: N_("You agreed on Sayso's consent page."),
    COLLECTED_BY_CONSUMER_CONTROLS: N_(
        "You revoked it yourself: on the Brands page, with the browser extension or through "
        "the API."
    ),
    COLLECTED_BY_ERASURE: N_("It ended because you erased your Sayso account."),
    COLLECTED_BY_VIEW_CHANGE: N_(
        "You changed how much of it the brand may see, on the Brands page."
    ),
}


@dataclass(frozen=True)
class ReceiptLine:
    """One thing a receipt covers: what people call the field, and the brand's purpose."""

    label: str
    purpose: str | None
    #: How much of it the brand may see, in words, when it is less than everything.
    view: str | None = None


@dataclass(frozen=True)
class ReadableReceipt:
    """A signed receipt said for a person: plain field names, times in their time zone.

    Built only from the receipt itself, so the page shows nothing the receipt does not hold.
    """

    seq: int
    given: bool
    brand_id: str
    brand_name: str
    when: datetime
    #: A grant's end (``None``: until revoked); for a withdrawal, ``when``.
    ends_at: datetime | None
    lines: list[ReceiptLine]
    method: str
    global_privacy_control: bool | None
    record_id: str
    leaf_index: int | None
    in_checkpoint: bool
    key_id: str
    public_key_url: str
    withdrawal_url: str


def _instant(value: str | None, zone) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone or UTC)


def readable(receipt: Mapping, zone=None) -> ReadableReceipt:
    """``receipt`` (as :meth:`ReceiptService.sign` made it) for a person, with its times in
    ``zone`` (a ``ZoneInfo``; ``None``: UTC)."""
    given = receipt["event"]["type"] == "given"
    controller = receipt["controller"]
    views = receipt.get("views") or {}
    lines = [
        ReceiptLine(label_of(name), item["purpose"], _view_words(name, views.get(name)))
        for item in receipt["purposes"]
        for name in item["data_categories"]
    ]
    order = {name: i for i, name in enumerate([*FIELDS, *PERMISSIONS])}
    names = {label_of(n): order.get(n, len(order)) for n in receipt["data_categories"]}
    lines.sort(key=lambda line: (names.get(line.label, len(order)), line.label))
    ledger = receipt["ledger"]
    return ReadableReceipt(
        seq=ledger["seq"],
        given=given,
        brand_id=controller["id"],
        brand_name=controller["name"] or controller["id"],
        when=_instant(receipt["event"]["time"], zone),
        ends_at=_instant(receipt["validity"]["expires_at"], zone),
        lines=lines,
        method=METHOD_WORDS.get(receipt["collection_method"], receipt["collection_method"]),
        global_privacy_control=receipt["global_privacy_control"],
        record_id=receipt["record_id"],
        leaf_index=ledger["leaf_index"],
        in_checkpoint=ledger["checkpoint"] is not None,
        key_id=receipt["signature"]["key_id"],
        public_key_url=receipt["issuer"]["public_key_url"],
        withdrawal_url=receipt["withdrawal"]["url"],
    )


def _view_words(name: str, view: Mapping | None) -> str | None:
    """A receipt's view of field ``name`` in words, if it is less than everything."""
    try:
        shown = View.from_json(view) if view else EVERYTHING
    except ValueError:
        return None
    return None if shown.is_all else describe(shown, name)


@dataclass(frozen=True)
class ReceiptLinks:
    """The absolute URLs a receipt carries (built by the caller, which knows the site)."""

    issuer: str
    public_key: str
    brands_page: str
    revoke_api: Callable[[str], str]


class ReceiptService:
    """Builds and signs consent receipts from the ledger; writes nothing."""

    def __init__(
        self,
        session,
        ledger_key: LedgerKey,
        brands: BrandService,
        links: ReceiptLinks,
        witnessed: bool = False,
    ):
        self.session = session
        self.key = ledger_key
        self.brands = brands
        self.links = links
        #: Whether witnesses are configured: proofs are then against a cosigned checkpoint.
        self.witnessed = witnessed

    def for_account(self, account: Account, brand_public_id: str | None = None) -> list[dict]:
        """Every receipt of the account (optionally of one brand), oldest first."""
        query = self._events(account)
        if brand_public_id is not None:
            query = query.where(AuditEvent.brand == brand_public_id)
        return [self.sign(r) for r in self._unsigned(self.session.execute(query))]

    def one(self, account: Account, seq: int) -> dict | None:
        """The account's receipt for the ledger event ``seq``; ``None`` if there is none."""
        row = self.session.scalar(
            select(AuditEvent).where(
                AuditEvent.seq == seq,
                AuditEvent.subject == account.pseudonym,
                AuditEvent.type.in_(RECEIPT_EVENTS),
                AuditEvent.brand.is_not(None),
            )
        )
        if row is None:
            return None
        # Earlier events of the same brand: a revoke recorded before revokes named their
        # purposes takes them from the grant it withdrew.
        history = self.session.execute(
            self._events(account).where(AuditEvent.brand == row.brand, AuditEvent.seq <= seq)
        )
        *_, receipt = self._unsigned(history)
        return self.sign(receipt)

    def sign(self, receipt: dict) -> dict:
        """``receipt`` with its ``signature`` member (Ed25519 by the ledger key)."""
        return {
            **receipt,
            "signature": {
                "alg": SIGNATURE_ALG,
                "key_id": self.key.key_id,
                "value": self.key.sign(receipt_bytes(receipt)),
            },
        }

    def _events(self, account: Account):
        return (
            select(AuditEvent, LedgerLeaf.leaf_index)
            .outerjoin(LedgerLeaf, LedgerLeaf.seq == AuditEvent.seq)
            .where(
                AuditEvent.subject == account.pseudonym,
                AuditEvent.type.in_(RECEIPT_EVENTS),
                AuditEvent.brand.is_not(None),
            )
            .order_by(AuditEvent.seq)
        )

    def _unsigned(self, found: Iterable):
        found = list(found)
        rows = [row for row, _ in found]
        places = {row.seq: leaf_index for row, leaf_index in found}
        names = {
            b.public_id: b.name
            for b in self.session.scalars(
                select(Brand).where(Brand.public_id.in_({r.brand for r in rows}))
            )
        }
        granted: dict[tuple[str, str], str] = {}  # (brand, field) -> purpose last granted
        for row in rows:
            details = json.loads(row.details)
            fields = json.loads(row.fields)
            purposes = details.get("purposes") or {}
            if row.type == EventType.CONSENT_GRANTED:
                granted.update({(row.brand, f): p for f, p in purposes.items()})
            else:
                purposes = {f: purposes.get(f, granted.get((row.brand, f))) for f in fields}
            yield self._build(row, names.get(row.brand), fields, purposes, details, places)

    def _place(self, row, leaf_index: int | None) -> dict:
        """The receipt's ``ledger`` member: its entry's leaf hash, and once the sequencer
        has integrated it, its index and an inclusion proof against a checkpoint."""
        place = {
            "seq": row.seq,
            "leaf_hash": entry_leaf_hash(row.salt, row.canonical).hex(),
            "leaf_index": leaf_index,
            "checkpoint": None,
            "inclusion_proof": None,
        }
        if leaf_index is None:
            return place
        try:
            checkpoint = proofs.checkpoint_covering(self.session, leaf_index, self.witnessed)
        except proofs.NoCheckpoint:
            return place
        proof = proofs.inclusion(self.session, leaf_index, checkpoint.size)
        place["checkpoint"] = checkpoint.note
        place["inclusion_proof"] = [base64.b64encode(h).decode() for h in proof]
        return place

    def _build(self, row, brand_name, fields, purposes, details, places) -> dict:
        given = row.type == EventType.CONSENT_GRANTED
        time = _timestamp(row.occurred_at)
        by_purpose: dict[str | None, list[str]] = {}
        for field in fields:
            by_purpose.setdefault(purposes.get(field), []).append(field)
        if given and details.get("changed") == "view":
            method = COLLECTED_BY_VIEW_CHANGE
        elif given:
            method = COLLECTED_ON_CONSENT_PAGE
        elif details.get("reason") == ERASURE_REASON:
            method = COLLECTED_BY_ERASURE
        else:
            method = COLLECTED_BY_CONSUMER_CONTROLS
        return {
            "schema": RECEIPT_SCHEMA,
            "record_id": entry_leaf_hash(row.salt, row.canonical).hex(),
            "issuer": {
                "name": "Sayso",
                "url": self.links.issuer,
                "public_key_url": self.links.public_key,
            },
            "ledger": self._place(row, places.get(row.seq)),
            # The brand's pairwise id, not Sayso's own pseudonym: it is the id the controller
            # already knows the consumer by, and two brands shown receipts cannot join on it.
            "principal": {
                "pseudonym": self.brands.pairwise_subject(row.brand, row.subject),
                "kind": "pairwise",
            },
            "controller": {
                "id": row.brand,
                "name": brand_name,
                "client_id": details.get("client_id") if given else None,
            },
            "purposes": [
                {"purpose": purpose, "data_categories": sorted(names)}
                for purpose, names in sorted(
                    by_purpose.items(), key=lambda item: (item[0] is None, item[0] or "")
                )
            ],
            "data_categories": sorted(fields),
            "collection_method": method,
            # Whether the consumer's browser sent Global Privacy Control (Sec-GPC: 1) when
            # the consent was given; null for a withdrawal.
            "global_privacy_control": bool(details.get("gpc")) if given else None,
            # For a grant, what the brand may see of each field that may be shared as less
            # than everything (a view's name and parameter, never a value); null for a
            # withdrawal. A grant recorded before views existed gave everything.
            "views": {
                field: (details.get("views") or {}).get(field, EVERYTHING.as_json())
                for field in sorted(fields)
                if field in COARSENABLE
            }
            if given
            else None,
            "event": {
                "type": "given" if given else "withdrawn",
                "time": time,
                "state": "active" if given else "withdrawn",
            },
            # When this consent stops applying: the expiry chosen (null: until withdrawn)
            # for a grant, the moment of withdrawal for a revoke.
            "validity": {"expires_at": _rfc3339(details.get("expires_at")) if given else time},
            "withdrawal": {
                "how": WITHDRAWAL_HOW,
                "url": self.links.brands_page,
                "api": self.links.revoke_api(row.brand),
            },
        }
