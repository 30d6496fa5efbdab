"""Questions brands ask consumers, and consumers' answers (sealed like disclosures)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sayso.extensions import db
from sayso.models.types import UTCDateTime
from sayso.shared.clock import utcnow

QUESTION_KINDS = ("single", "multiple", "text", "topics")


class Question(db.Model):
    """One question of one brand: a draft (editable) until published to every consumer who
    granted it, then open for answers until the brand closes it."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_brand_id", "brand_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # one of QUESTION_KINDS
    prompt: Mapped[str] = mapped_column(String(280))
    purpose: Mapped[str] = mapped_column(Text)
    why: Mapped[str | None] = mapped_column(Text)
    options_json: Mapped[str] = mapped_column("options", Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Closed by the brand: no new answers; answers given stay until their consumer removes them.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def state(self) -> str:
        """``draft``, ``published`` (open for answers) or ``closed``."""
        if self.closed_at is not None:
            return "closed"
        return "published" if self.published_at is not None else "draft"

    @property
    def options(self) -> list[str]:
        """The choices of a single or multiple choice question (empty otherwise)."""
        return json.loads(self.options_json)

    @options.setter
    def options(self, value: list[str]) -> None:
        self.options_json = json.dumps(list(value))


class Answer(db.Model):
    """One consumer's answer to one question, stored only as ciphertext."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("question_id", "account_id", name="uq_answers_question_account"),
        Index("ix_answers_account_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
