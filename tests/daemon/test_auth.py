"""The remote-control password (daemon/auth.py): scrypt hashes in the config file's
format, and the per-client lockout."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from bitswarm.daemon import auth
from bitswarm.daemon.auth import (
    MAX_TRACKED_CLIENTS,
    Authenticator,
    LockedOut,
    check_password,
    hash_password,
)
from bitswarm.daemon.model import DaemonError

# hashing is slow on purpose: make the one hash the tests share once
STORED = hash_password("correct horse")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_hash_format() -> None:
    kind, n, r, p, salt, digest = STORED.split("$")
    assert (kind, n, r, p) == ("scrypt", str(2**14), "8", "1")
    salt_bytes = base64.b64decode(salt, validate=True)
    assert len(salt_bytes) == 16
    expected = hashlib.scrypt(b"correct horse", salt=salt_bytes, n=2**14, r=8, p=1, dklen=32)
    assert base64.b64decode(digest, validate=True) == expected


def test_salts_differ_and_passwords_check() -> None:
    again = hash_password("correct horse")
    assert again != STORED  # a fresh salt each time
    assert check_password("correct horse", again)
    assert check_password("correct horse", STORED)
    assert not check_password("correct horsE", STORED)
    assert not check_password("", STORED)


def test_a_hash_made_elsewhere_with_other_parameters_checks() -> None:
    salt = b"saltsaltsaltsalt"
    digest = hashlib.scrypt("pässwörd".encode(), salt=salt, n=1024, r=4, p=2, dklen=24)
    stored = "$".join(
        [
            "scrypt",
            "1024",
            "4",
            "2",
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )
    assert check_password("pässwörd", stored)
    assert not check_password("passwörd", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "hunter2",
        "scrypt$",
        "bcrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,
        "scrypt$16384$8$1$c2FsdA==",  # too few parts
        "scrypt$x$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,
        "scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,  # n not a power of two
        "scrypt$1$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,
        "scrypt$16384$0$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,
        "scrypt$16384$8$0$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,
        "scrypt$16384$8$1$not*base64$" + "A" * 44,
        "scrypt$16384$8$1$$" + "A" * 44,  # no salt
        "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$QUJD",  # a 3-byte hash
        "scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44,  # 1 TiB of memory
        "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 44 + "$extra",
    ],
)
def test_malformed_hashes_never_match_and_never_raise(stored: str) -> None:
    started = time.perf_counter()
    assert check_password("anything", stored) is False
    assert time.perf_counter() - started < 5  # refused up front, not hashed with 1 TiB


def test_lockout_after_repeated_failures() -> None:
    clock = Clock()
    gate = Authenticator("admin", STORED, max_failures=3, lockout_seconds=60, clock=clock)
    assert gate.enabled
    assert gate.verify("10.0.0.1", "admin", "wrong") is False
    assert gate.verify("10.0.0.1", "root", "correct horse") is False  # wrong name counts
    assert gate.failures("10.0.0.1") == 2
    assert gate.verify("10.0.0.1", "admin", "wrong") is False  # the third: locked now
    clock.now += 10
    with pytest.raises(LockedOut) as caught:
        gate.verify("10.0.0.1", "admin", "correct horse")  # even the right one
    assert caught.value.seconds_left == pytest.approx(50)
    assert str(caught.value) == "too many failed logins from 10.0.0.1: try again in 50 seconds"
    assert isinstance(caught.value, DaemonError)
    assert gate.verify("10.0.0.2", "admin", "correct horse") is True  # others unaffected
    clock.now += 49.5
    with pytest.raises(LockedOut, match=r"in 1 second$"):
        gate.verify("10.0.0.1", "admin", "wrong")
    clock.now += 0.5
    assert gate.verify("10.0.0.1", "admin", "wrong") is False  # lockout over: counting anew
    assert gate.failures("10.0.0.1") == 1
    assert gate.verify("10.0.0.1", "admin", "correct horse") is True
    assert gate.failures("10.0.0.1") == 0


def test_a_success_resets_the_count() -> None:
    gate = Authenticator("u", STORED, max_failures=3, clock=Clock())
    for _ in range(5):
        assert gate.verify("c", "u", "x") is False
        assert gate.verify("c", "u", "x") is False
        assert gate.verify("c", "u", "correct horse") is True
    assert len(gate) == 0


def test_defaults_lock_after_five_for_five_minutes() -> None:
    clock = Clock()
    gate = Authenticator("u", "scrypt$malformed", clock=clock)  # every check fails fast
    for _ in range(5):
        assert gate.verify("c", "u", "x") is False
    with pytest.raises(LockedOut) as caught:
        gate.verify("c", "u", "x")
    assert caught.value.seconds_left == 300.0


def test_memory_stays_bounded_oldest_dropped() -> None:
    gate = Authenticator("u", "scrypt$malformed", clock=Clock())
    for n in range(MAX_TRACKED_CLIENTS + 500):
        gate.verify(f"client{n}", "u", "x")
    assert len(gate) == MAX_TRACKED_CLIENTS == 10_000
    assert gate.failures("client0") == 0  # forgotten
    assert gate.failures(f"client{MAX_TRACKED_CLIENTS + 499}") == 1

    small = Authenticator("u", "scrypt$malformed", clock=Clock(), max_clients=3)
    for client in ("a", "b", "c"):
        small.verify(client, "u", "x")
    small.verify("a", "u", "x")  # seen again: now the newest
    small.verify("d", "u", "x")
    assert (small.failures("a"), small.failures("b"), small.failures("d")) == (2, 0, 1)


def test_no_password_means_disabled() -> None:
    gate = Authenticator("", "")
    assert not gate.enabled
    assert gate.verify("c", "", "") is False  # nothing can match an empty hash


def test_credentials_that_passed_are_not_hashed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = auth.check_password

    def counting(password: str, stored: str) -> bool:
        calls.append(password)
        return real(password, stored)

    monkeypatch.setattr(auth, "check_password", counting)
    gate = Authenticator("u", STORED, clock=Clock())
    for _ in range(3):
        assert gate.verify("c", "u", "correct horse") is True
    assert calls == ["correct horse"]  # scrypt once, not per request
    assert gate.verify("c", "u", "wrong") is False
    assert gate.verify("c", "v", "correct horse") is False  # the name is part of it
    assert calls == ["correct horse", "wrong", "correct horse"]


def test_odd_text_does_not_raise() -> None:
    gate = Authenticator("u", STORED, clock=Clock())
    assert gate.verify("c", "u\udcff", "\ud800") is False
    assert check_password("\udcff", STORED) is False


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Authenticator("u", STORED, max_failures=0)
    with pytest.raises(ValueError):
        Authenticator("u", STORED, max_clients=0)
