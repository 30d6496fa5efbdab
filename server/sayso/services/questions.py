"""Questions brands ask and consumers answer; answers sealed by the vault like disclosures.

A brand sees individual answers only through the profile API, for its own questions and
only with a live ``answers`` grant; in the portal it sees aggregates, and only once at
least ``k`` consumers answered a question (k-anonymity).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, distinct, func, or_, select

from sayso.ledger import Event, EventType, Ledger
from sayso.models import Account, Answer, Brand, Grant, Question
from sayso.models.types import MAX_INT64
from sayso.services.accounts import actor_for
from sayso.services.vault import KeyShredded, Vault
from sayso.shared.clock import utcnow

#: The grantable field of a consumer's answers (``answers:read``).
ANSWERS = "answers"


def _label(question: Question) -> str:
    return f"answer:{question.id}"


@dataclass(frozen=True)
class OpenQuestion:
    """A published question for the consumer (open, or closed since), with their answer if
    they gave one."""

    question: Question
    brand: Brand
    answer: object | None


@dataclass(frozen=True)
class Aggregate:
    """How many answered, and the tallies once there are enough (``None`` before)."""

    answered: int
    k: int
    tallies: list[tuple[str, int]] | None


class QuestionService:
    """Owns the ``questions`` and ``answers`` tables."""

    def __init__(self, session, vault: Vault, ledger: Ledger, k: int):
        self.session = session
        self.vault = vault
        self.ledger = ledger
        self.k = k

    # Brands -------------------------------------------------------------------

    def create(self, brand: Brand, data: dict, actor: str) -> Question:
        """A draft question for ``brand`` (validated by ``QuestionSchema``)."""
        question = Question(
            brand_id=brand.id,
            kind=data["kind"],
            prompt=data["prompt"].strip(),
            purpose=data["purpose"].strip(),
            why=(data.get("why") or "").strip() or None,
        )
        question.options = [o.strip() for o in data.get("options") or []]
        self.session.add(question)
        self.session.flush()
        self.ledger.append(
            Event(
                EventType.QUESTION_CREATED,
                actor=actor,
                brand=brand.public_id,
                details={"question_id": question.id, "kind": question.kind},
            )
        )
        self.session.commit()
        return question

    def update(self, question: Question, data: dict, actor: str) -> bool:
        """Rewrite a draft (validated by ``QuestionSchema``); ``False`` once published, as
        consumers may have answered what it asked."""
        if question.published_at is not None:
            return False
        question.kind = data["kind"]
        question.prompt = data["prompt"].strip()
        question.purpose = data["purpose"].strip()
        question.why = (data.get("why") or "").strip() or None
        question.options = [o.strip() for o in data.get("options") or []]
        self._brand_event(EventType.QUESTION_UPDATED, question, actor, kind=question.kind)
        self.session.commit()
        return True

    def audience(self, brand: Brand) -> int:
        """How many consumers a question of ``brand`` reaches now: those with a live grant."""
        now = utcnow()
        return self.session.scalar(
            select(func.count(distinct(Grant.account_id))).where(
                Grant.brand_id == brand.id,
                Grant.revoked_at.is_(None),
                or_(Grant.expires_at.is_(None), Grant.expires_at > now),
            )
        )

    def publish(self, question: Question, actor: str) -> bool:
        """Ask every consumer who grants the brand anything; ``False`` (nothing done) once
        published. The event says how many it reached then, never who."""
        if question.published_at is not None:
            return False
        brand = self.session.get(Brand, question.brand_id)
        question.published_at = utcnow()
        self._brand_event(
            EventType.QUESTION_PUBLISHED, question, actor, audience=self.audience(brand)
        )
        self.session.commit()
        return True

    def close(self, question: Question, actor: str) -> bool:
        """Stop taking answers to a published question; ``False`` (nothing done) for a
        draft or a question already closed. Answers given stay: the brand reads them under
        each consumer's grant, and the consumer may still remove theirs."""
        if question.published_at is None or question.closed_at is not None:
            return False
        question.closed_at = utcnow()
        self._brand_event(EventType.QUESTION_CLOSED, question, actor)
        self.session.commit()
        return True

    def _brand_event(self, type_: EventType, question: Question, actor: str, **details) -> None:
        brand = self.session.get(Brand, question.brand_id)
        self.ledger.append(
            Event(
                type_,
                actor=actor,
                brand=brand.public_id,
                details={"question_id": question.id, **details},
            )
        )

    def of_brand(self, brand: Brand) -> list[Question]:
        """The brand's questions, newest first."""
        return list(
            self.session.scalars(
                select(Question).where(Question.brand_id == brand.id).order_by(Question.id.desc())
            )
        )

    def brand_of(self, question: Question) -> Brand:
        """The brand that asks ``question``."""
        return self.session.get(Brand, question.brand_id)

    def _question(self, question_id: int) -> Question | None:
        # An id from a URL may be beyond the column (see MAX_INT64).
        if not 1 <= question_id <= MAX_INT64:
            return None
        return self.session.get(Question, question_id)

    def question_of_brand(self, brand: Brand, question_id: int) -> Question | None:
        """The brand's own question with this id; ``None`` for anyone else's."""
        question = self._question(question_id)
        return question if question is not None and question.brand_id == brand.id else None

    def aggregate(self, question: Question) -> Aggregate:
        """Tallies over the answers of consumers who still grant the brand something,
        withheld until ``k`` of them answered.

        Answers of consumers who revoked the brand (or whose grants expired) are left out,
        as are those of erased consumers (their key shredded, the answer unreadable), so
        the threshold always holds for what is tallied. And the brand reads some answers
        one by one (``answers:read``): subtracting those from the totals must not single
        anyone out either, so the answers it cannot read must also number ``k`` or more
        (or none at all, when the totals hold nothing it does not read already).
        """
        now = utcnow()
        answered = select(Answer.account_id).where(Answer.question_id == question.id)
        granting, reading = set(), set()
        for grant in self.session.scalars(
            select(Grant).where(
                Grant.brand_id == question.brand_id,
                Grant.account_id.in_(answered.scalar_subquery()),
                Grant.revoked_at.is_(None),
            )
        ):
            if grant.is_live(now):
                granting.add(grant.account_id)
                if grant.field == ANSWERS:
                    reading.add(grant.account_id)
        rows = self.session.scalars(select(Answer).where(Answer.question_id == question.id))
        counted = [
            (row.account_id, value)
            for row in rows
            if row.account_id in granting and (value := self._open(row, question)) is not None
        ]
        unread = sum(1 for account_id, _ in counted if account_id not in reading)
        if len(counted) < self.k or 0 < unread < self.k:
            return Aggregate(len(counted), self.k, None)
        counts: Counter = Counter()
        for _, value in counted:
            if question.kind == "text":
                counts["answered"] += 1  # free text is never shown, even in aggregate
            else:
                counts.update([str(v) for v in (value if isinstance(value, list) else [value])])
        if question.kind in ("single", "multiple"):
            tallies = [(option, counts.get(option, 0)) for option in question.options]
        else:
            tallies = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return Aggregate(len(counted), self.k, tallies)

    # Consumers -----------------------------------------------------------------

    def _granting_brand_ids(self, account: Account) -> set[int]:
        now = utcnow()
        grants = self.session.scalars(
            select(Grant).where(Grant.account_id == account.id, Grant.revoked_at.is_(None))
        ).all()
        return {g.brand_id for g in grants if g.is_live(now)}

    def open_for(self, account: Account) -> list[OpenQuestion]:
        """Questions of brands the consumer grants anything that take answers now (published,
        not closed), with the consumer's answers."""
        return self._published_for(account, closed=False)

    def closed_for(self, account: Account) -> list[OpenQuestion]:
        """Closed questions of brands the consumer grants anything, with their answers."""
        return self._published_for(account, closed=True)

    def _published_for(self, account: Account, closed: bool) -> list[OpenQuestion]:
        brand_ids = self._granting_brand_ids(account)
        if not brand_ids:
            return []
        state = Question.closed_at.is_not(None) if closed else Question.closed_at.is_(None)
        questions = self.session.scalars(
            select(Question)
            .where(Question.brand_id.in_(brand_ids), Question.published_at.is_not(None), state)
            .order_by(Question.published_at.desc(), Question.id.desc())
        ).all()
        brands = {
            b.id: b for b in self.session.scalars(select(Brand).where(Brand.id.in_(brand_ids)))
        }
        answers = self._answers(account.id, questions)
        return [OpenQuestion(q, brands[q.brand_id], answers.get(q.id)) for q in questions]

    def answered_elsewhere(self, account: Account) -> list[OpenQuestion]:
        """The consumer's answers to questions of brands they no longer grant anything
        (no longer counted in those brands' totals), newest question first."""
        brand_ids = self._granting_brand_ids(account)
        rows = self.session.execute(
            select(Answer, Question, Brand)
            .join(Question, Question.id == Answer.question_id)
            .join(Brand, Brand.id == Question.brand_id)
            .where(Answer.account_id == account.id, Question.brand_id.not_in(brand_ids))
            .order_by(Question.id.desc())
        ).all()
        return [
            OpenQuestion(question, brand, value)
            for answer, question, brand in rows
            if (value := self._open(answer, question)) is not None
        ]

    def open_question(self, account: Account, question_id: int) -> Question | None:
        """A question the consumer may answer now: published and not closed, by a brand they
        grant."""
        question = self.asked_question(account, question_id)
        return question if question is not None and question.closed_at is None else None

    def asked_question(self, account: Account, question_id: int) -> Question | None:
        """A question the consumer was asked: published (closed since, perhaps) by a brand
        they grant."""
        question = self._question(question_id)
        if question is None or question.published_at is None:
            return None
        if question.brand_id not in self._granting_brand_ids(account):
            return None
        return question

    def answered_question(self, account: Account, question_id: int) -> Question | None:
        """A question the consumer may remove their answer to: one they may answer now, or
        any they answered (a brand they revoked since included)."""
        question = self.open_question(account, question_id)
        if question is not None:
            return question
        question = self._question(question_id)
        if (
            question is None
            or self.session.scalar(
                select(Answer.id).where(
                    Answer.question_id == question.id, Answer.account_id == account.id
                )
            )
            is None
        ):
            return None
        return question

    def answer(self, account: Account, question: Question, value) -> None:
        """Save (or replace) the consumer's answer, validated by the caller, to a question
        that takes answers (``open_question``)."""
        if question.published_at is None or question.closed_at is not None:
            raise ValueError("the question takes no answers")
        sealed = self.vault.encrypt_for(
            account.id, _label(question), json.dumps(value, sort_keys=True).encode()
        )
        row = self.session.scalar(
            select(Answer).where(Answer.question_id == question.id, Answer.account_id == account.id)
        )
        try:
            if row is None:
                self.session.add(
                    Answer(question_id=question.id, account_id=account.id, ciphertext=sealed)
                )
            else:
                row.ciphertext = sealed
            self._event(EventType.ANSWER_SAVED, account, question)
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise

    def clear(self, account: Account, question: Question) -> bool:
        """Delete the consumer's answer; whether there was one."""
        row = self.session.scalar(
            select(Answer).where(Answer.question_id == question.id, Answer.account_id == account.id)
        )
        if row is None:
            return False
        self.session.delete(row)
        self._event(EventType.ANSWER_DELETED, account, question)
        self.session.commit()
        return True

    def delete_answers_uncommitted(self, account: Account) -> int:
        """Delete every answer of the account (erasure), in the caller's transaction."""
        return self.session.execute(delete(Answer).where(Answer.account_id == account.id)).rowcount

    def answers_for(self, account_id: int, brand_id: int) -> dict[str, object]:
        """The consumer's answers to the brand's own questions, by question id (profile API)."""
        questions = self.session.scalars(
            select(Question).where(Question.brand_id == brand_id)
        ).all()
        return {str(qid): value for qid, value in self._answers(account_id, questions).items()}

    def all_answers_of(self, account: Account) -> list[dict]:
        """Every answer of the account, decrypted, with its question and brand (export)."""
        rows = self.session.execute(
            select(Answer, Question, Brand)
            .join(Question, Question.id == Answer.question_id)
            .join(Brand, Brand.id == Question.brand_id)
            .where(Answer.account_id == account.id)
            .order_by(Answer.id)
        ).all()
        exported = []
        for answer, question, brand in rows:
            value = self._open(answer, question)
            if value is not None:
                exported.append(
                    {
                        "brand_id": brand.public_id,
                        "brand_name": brand.name,
                        "question_id": question.id,
                        "question": question.prompt,
                        "answer": value,
                    }
                )
        return exported

    def _answers(self, account_id: int, questions) -> dict[int, object]:
        by_id = {q.id: q for q in questions}
        if not by_id:
            return {}
        rows = self.session.scalars(
            select(Answer).where(Answer.account_id == account_id, Answer.question_id.in_(by_id))
        ).all()
        opened = {row.question_id: self._open(row, by_id[row.question_id]) for row in rows}
        return {qid: value for qid, value in opened.items() if value is not None}

    def _open(self, row: Answer, question: Question):
        try:
            plain = self.vault.decrypt_for(row.account_id, _label(question), row.ciphertext)
        except (KeyShredded, InvalidTag):
            return None  # the consumer was erased: their key is gone, the answer unreadable
        return json.loads(plain)

    def _event(self, type_: EventType, account: Account, question: Question) -> None:
        brand = self.session.get(Brand, question.brand_id)
        self.ledger.append(
            Event(
                type_,
                actor=actor_for(account),
                subject=account.pseudonym,
                brand=brand.public_id,
                details={"question_id": question.id},
            )
        )
