"""The vault seals values per account and label, and shredding a key is final."""

import pytest

from sayso import services
from sayso.config import new_key
from sayso.extensions import db
from sayso.models import Account
from sayso.services.vault import DataKeyCache, Vault
from sayso.shared.crypto import KeyShredded, VaultError, derive_key


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


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_cached_key_is_found_only_by_its_wrapped_form_and_only_for_its_lifetime():
    clock = FakeClock()
    cache = DataKeyCache(60, clock=clock)
    aead = object()
    cache.put(7, b"wrapped", aead)
    assert cache.get(7, b"wrapped") is aead
    assert cache.get(7, b"another wrapped key") is None  # a new key after shredding
    assert cache.get(8, b"wrapped") is None
    clock.now += 59.9
    assert cache.get(7, b"wrapped") is aead
    clock.now += 0.1
    assert cache.get(7, b"wrapped") is None


def test_the_cache_is_bounded_and_drops_the_expired_first_then_the_oldest():
    clock = FakeClock()
    cache = DataKeyCache(60, max_entries=3, clock=clock)
    cache.put(1, b"k1", "one")
    clock.now += 30
    cache.put(2, b"k2", "two")
    cache.put(3, b"k3", "three")
    cache.put(4, b"k4", "four")  # full: nothing expired yet, so the oldest (1) goes
    assert len(cache) == 3
    assert cache.get(1, b"k1") is None
    assert cache.get(4, b"k4") == "four"
    clock.now += 31  # 2 and 3 have expired; 4 has 29 s left
    cache.put(5, b"k5", "five")
    cache.put(6, b"k6", "six")
    assert len(cache) == 3
    assert [cache.get(i, f"k{i}".encode()) for i in (4, 5, 6)] == ["four", "five", "six"]


def test_a_zero_lifetime_caches_nothing():
    cache = DataKeyCache(0)
    cache.put(1, b"k", "key")
    assert len(cache) == 0
    assert cache.get(1, b"k") is None


def test_the_vault_unwraps_once_then_uses_the_cache_until_the_key_is_shredded(app):
    with app.app_context():
        db.session.add(Account(pseudonym="c" * 32))
        db.session.flush()
        cache = DataKeyCache(60)
        vault = Vault(db.session, app.config["MASTER_KEY_BYTES"], cache)
        vault.create_key(1)
        db.session.flush()
        sealed = vault.encrypt_for(1, "f", b"secret")
        assert len(cache) == 1
        assert vault.decrypt_for(1, "f", sealed) == b"secret"
        assert len(cache) == 1  # the same key, not unwrapped again
        vault.shred(1)
        db.session.flush()
        assert len(cache) == 0
        with pytest.raises(KeyShredded):
            vault.decrypt_for(1, "f", sealed)
        db.session.rollback()
