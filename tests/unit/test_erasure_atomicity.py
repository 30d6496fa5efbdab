"""Erasure is all or nothing: a failure at its last steps leaves every earlier step undone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sayso import services
from sayso.extensions import db
from sayso.ledger import EventType, Ledger
from sayso.models import Account, AuditEvent, DataKey, Grant, Token, WebhookDelivery
from sayso.services.accounts import AccountService
from tests.helpers import PASSWORD
from tests.ledger_helpers import log_verifies
from tests.oauth_helpers import connect, make_brand
from tests.rights_helpers import consumer_with

MARKER = "atomic-marker-okapi"


class Boom(Exception):
    pass


def _fail_closing(monkeypatch):
    def close(self, account, now):
        raise Boom

    monkeypatch.setattr(AccountService, "close_uncommitted", close)


def _fail_the_erasure_event(monkeypatch):
    append = Ledger.append

    def failing(self, event):
        if event.type == EventType.ACCOUNT_ERASED:
            db.session.flush()  # everything before it really reached the database
            raise Boom
        return append(self, event)

    monkeypatch.setattr(Ledger, "append", failing)


@pytest.mark.parametrize("failure", [_fail_closing, _fail_the_erasure_event])
def test_a_failed_erasure_changes_nothing(app, client, runner, monkeypatch, failure):
    consumer_with(client, "atomic@example.org", MARKER)
    connect(client, make_brand(runner, webhook="https://bookshop.example/hooks"), ["interests"])
    failure(monkeypatch)
    with app.test_request_context():
        account = db.session.scalar(select(Account).where(Account.role == "consumer"))
        events_before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        with pytest.raises(Boom):
            services.erasure().erase(account, PASSWORD)

        account = db.session.get(Account, account.id)
        assert account.is_active and account.password_hash and account.email_index
        assert services.accounts().email_of(account) == "atomic@example.org"
        assert db.session.get(DataKey, account.id) is not None
        disclosed = services.disclosures().read(account)
        assert disclosed["interests"][1] == {"text": MARKER}
        assert all(g.revoked_at is None for g in db.session.scalars(select(Grant)))
        assert all(t.revoked_at is None for t in db.session.scalars(select(Token)))
        assert db.session.scalars(select(WebhookDelivery)).all() == []
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events_before
        db.session.rollback()  # end this reader's transaction before the sequencer writes
    assert log_verifies(app)
