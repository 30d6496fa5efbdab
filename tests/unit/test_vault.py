"""The vault seals values per account and label, and shredding a key is final."""

import pytest

from sayso import services
from sayso.config import new_key
from sayso.extensions import db
from sayso.models import Account
from sayso.services.vault import KeyShredded, Vault, VaultError, derive_key


@pytest.fixture
def vault(app):
    with app.app_context():
        for pseudonym in ("a" * 32, "b" * 32):
            db.session.add(Account(pseudonym=pseudonym))
        db.session.flush()
        v = services.vault()
        v.create_key(1)
        v.create_key(2)
        db.session.flush()
        yield v
        db.session.rollback()


def test_round_trip(vault):
    sealed = vault.encrypt_for(1, "interests", b"secret")
    assert b"secret" not in sealed
    assert vault.decrypt_for(1, "interests", sealed) == b"secret"


def test_same_plaintext_seals_differently_each_time(vault):
    assert vault.encrypt_for(1, "f", b"same") != vault.encrypt_for(1, "f", b"same")


def test_a_value_moved_to_another_row_does_not_open(vault):
    sealed = vault.encrypt_for(1, "interests", b"secret")
    with pytest.raises(VaultError):
        vault.decrypt_for(1, "channels", sealed)
    with pytest.raises(VaultError):
        vault.decrypt_for(2, "interests", sealed)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_flipped_bit_is_detected(vault, position):
    sealed = bytearray(vault.encrypt_for(1, "f", b"secret"))
    sealed[position] ^= 0x01
    with pytest.raises(VaultError):
        vault.decrypt_for(1, "f", bytes(sealed))


def test_shredding_makes_values_unreadable(vault):
    sealed = vault.encrypt_for(1, "f", b"secret")
    vault.shred(1)
    db.session.flush()
    with pytest.raises(KeyShredded):
        vault.decrypt_for(1, "f", sealed)
    assert vault.decrypt_for(2, "f", vault.encrypt_for(2, "f", b"other")) == b"other"


def test_another_master_key_cannot_unwrap(vault):
    sealed = vault.encrypt_for(1, "f", b"secret")
    from sayso.config import decode_key

    other = Vault(db.session, decode_key(new_key(), "test"))
    with pytest.raises(VaultError):
        other.decrypt_for(1, "f", sealed)


def test_email_index_ignores_case_and_spaces_and_depends_on_the_key(vault):
    assert vault.email_index(" Ada@Example.ORG ") == vault.email_index("ada@example.org")
    assert vault.email_index("ada@example.org") != vault.email_index("bob@example.org")
    from sayso.config import decode_key

    other = Vault(db.session, decode_key(new_key(), "test"))
    assert other.email_index("ada@example.org") != vault.email_index("ada@example.org")


def test_subkeys_differ_by_purpose():
    master = b"\x01" * 32
    assert derive_key(master, "a") != derive_key(master, "b")
    assert len(derive_key(master, "a")) == 32
