"""The sans-IO MSE/PE handshake (wire/mse): both roles against each other, every edge."""

from __future__ import annotations

import os
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.wire.mse import (
    CRYPTO_PLAINTEXT,
    CRYPTO_RC4,
    MAX_PAD,
    Encryption,
    MseError,
    MseInitiator,
    MseReceiver,
    crypto_provide,
    crypto_select,
    encryption_hint,
    is_plaintext_start,
    parse_encryption,
    req2,
    retry_other_way,
)
from bitswarm.wire.mse.crypto import P, public_key, rc4_pair, req1, req3, shared_secret, xor20

SKEY = bytes(range(20))
IA = b"\x13BitTorrent protocol" + bytes(8) + SKEY + b"-BS0001-" + bytes(12)


def receiver(level: Encryption = Encryption.PREFERRED, **kw: int) -> MseReceiver:
    return MseReceiver(
        {req2(SKEY): SKEY}.get,
        choose=lambda provided: crypto_select(level, provided),
        random_bytes=os.urandom,
        **kw,
    )


def initiator(provide: int = CRYPTO_RC4 | CRYPTO_PLAINTEXT, **kw: int) -> MseInitiator:
    return MseInitiator(SKEY, provide=provide, initial_payload=IA, random_bytes=os.urandom, **kw)


def run(a: MseInitiator, b: MseReceiver, *, chunk: int | None = None) -> None:
    """Shuttle bytes until both are done (or one raises), `chunk` bytes per delivery."""
    for _ in range(2000):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if data and not dst.done:
                moved = True
                step = chunk or len(data)
                for i in range(0, len(data), step):
                    dst.receive_data(data[i : i + step])
        if (a.done and b.done) or not moved:
            return


@pytest.mark.parametrize(
    ("level", "provide", "method"),
    [
        (Encryption.PREFERRED, CRYPTO_RC4 | CRYPTO_PLAINTEXT, CRYPTO_RC4),
        (Encryption.ALLOWED, CRYPTO_RC4 | CRYPTO_PLAINTEXT, CRYPTO_PLAINTEXT),
        (Encryption.REQUIRED, CRYPTO_RC4, CRYPTO_RC4),
        (Encryption.PREFERRED, CRYPTO_PLAINTEXT, CRYPTO_PLAINTEXT),
    ],
)
def test_both_roles_agree_and_the_stream_continues(
    level: Encryption, provide: int, method: int
) -> None:
    a, b = initiator(provide), receiver(level)
    run(a, b)
    assert a.result is not None and b.result is not None
    assert a.result.method == b.result.method == method
    assert b.result.skey == SKEY and b.result.initial_payload == IA
    if method == CRYPTO_RC4:
        assert a.result.encryptor is not None and b.result.decryptor is not None
        assert b.result.encryptor is not None and a.result.decryptor is not None
        secret = os.urandom(1000)
        assert b.result.decryptor.update(a.result.encryptor.update(secret)) == secret
        assert a.result.decryptor.update(b.result.encryptor.update(secret)) == secret
    else:
        assert a.result.encryptor is None and b.result.decryptor is None


@pytest.mark.parametrize("pad", [0, 1, 255, MAX_PAD - 1, MAX_PAD])
def test_every_pad_length_edge(pad: int) -> None:
    a = initiator(pad_a=pad, pad_c=pad)
    b = receiver(pad_b=pad, pad_d=pad)
    run(a, b)
    assert a.result is not None and b.result is not None
    assert b.result.initial_payload == IA


def test_split_delivery_byte_by_byte_and_trailing_payload() -> None:
    a, b = initiator(pad_a=300), receiver(pad_b=400)
    run(a, b, chunk=1)
    assert a.result is not None and b.result is not None and b.result.initial_payload == IA
    # bytes that follow the handshake in the same delivery come back in `rest`
    a2, b2 = initiator(), receiver()
    b2.receive_data(a2.data_to_send())
    a2.receive_data(b2.data_to_send())
    step3 = a2.data_to_send()
    assert b2.result is None
    assert a2.result is None
    # the receiver's reply plus its first payload bytes, in one read
    b2.receive_data(step3)
    assert b2.result is not None and b2.result.encryptor is not None
    reply = b2.data_to_send() + b2.result.encryptor.update(b"after")
    a2.receive_data(reply)
    assert a2.result is not None and a2.result.decryptor is not None
    assert a2.result.decryptor.update(a2.result.rest) == b"after"


def test_sync_search_limit_for_the_receiver() -> None:
    """HASH('req1', S) must end within 512 + 20 bytes after Ya (628 from the start)."""
    for pad, ok in ((MAX_PAD, True), (MAX_PAD + 1, False)):
        b = receiver()
        private = 0x1234567890ABCDEF1234567890ABCDEF12345679
        b.receive_data(public_key(private))
        yb = b.data_to_send()[:96]
        secret = shared_secret(private, yb)
        enc, _ = rc4_pair(secret, SKEY, initiator=True)
        header = bytes(8) + struct.pack(">IHH", CRYPTO_RC4, 0, 0)
        data = bytes(pad) + req1(secret) + xor20(req2(SKEY), req3(secret)) + enc.update(header)
        if ok:
            b.receive_data(data)
            assert b.result is not None and b.result.method == CRYPTO_RC4
        else:
            with pytest.raises(MseError, match="synchronisation"):
                b.receive_data(data)


def test_sync_search_limit_for_the_initiator() -> None:
    """ENCRYPT(VC) must end within 512 + 8 bytes after Yb (616 bytes)."""
    a = initiator()
    a.receive_data(public_key(0xABCDEF0123456789ABCDEF0123456789ABCDEF01))
    with pytest.raises(MseError, match="synchronisation"):
        a.receive_data(bytes(MAX_PAD + 8))  # no VC in PadB-sized garbage


def test_wrong_vc_unknown_skey_and_crypto_select_mismatch() -> None:
    private = 0x1234567890ABCDEF1234567890ABCDEF12345679

    def step3(skey: bytes, vc: bytes, provide: int) -> MseReceiver:
        b = receiver(Encryption.REQUIRED)
        b.receive_data(public_key(private))
        secret = shared_secret(private, b.data_to_send()[:96])
        enc, _ = rc4_pair(secret, skey, initiator=True)
        header = vc + struct.pack(">IHH", provide, 0, 0)
        b.receive_data(req1(secret) + xor20(req2(skey), req3(secret)) + enc.update(header))
        return b

    assert step3(SKEY, bytes(8), CRYPTO_RC4).result is not None
    with pytest.raises(MseError, match="verification constant"):
        step3(SKEY, b"\x00" * 7 + b"\x01", CRYPTO_RC4)
    with pytest.raises(MseError, match="torrent we do not have"):
        step3(b"\xff" * 20, bytes(8), CRYPTO_RC4)
    with pytest.raises(MseError, match="no crypto method in common"):
        step3(SKEY, bytes(8), CRYPTO_PLAINTEXT)  # required wants RC4: plaintext only offered


def test_initiator_refuses_a_select_it_did_not_provide() -> None:
    private = 0x1234567890ABCDEF1234567890ABCDEF12345679
    for select, ok in ((CRYPTO_RC4, True), (CRYPTO_PLAINTEXT, False), (CRYPTO_RC4 | 1, False)):
        a = initiator(CRYPTO_RC4)
        a.receive_data(public_key(private))
        secret = shared_secret(private, a.data_to_send()[:96])
        enc_b, _ = rc4_pair(secret, SKEY, initiator=False)
        reply = enc_b.update(bytes(8) + struct.pack(">IH", select, 0))
        if ok:
            a.receive_data(reply)
            assert a.result is not None and a.result.method == CRYPTO_RC4
        else:
            with pytest.raises(MseError, match="selected crypto"):
                a.receive_data(reply)


def test_degenerate_dh_keys_are_refused() -> None:
    for y in (0, 1, P - 1, P):
        with pytest.raises(MseError, match="degenerate"):
            initiator().receive_data(y.to_bytes(96, "big") if y < P else b"\xff" * 96)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=1500), st.booleans(), st.integers(1, 64))
def test_garbage_raises_only_mse_error(garbage: bytes, as_receiver: bool, chunk: int) -> None:
    core: MseInitiator | MseReceiver = receiver() if as_receiver else initiator()
    try:
        for i in range(0, len(garbage), chunk):
            core.receive_data(garbage[i : i + chunk])
    except MseError:
        pass


def test_garbage_after_a_real_dh_key_raises_only_mse_error() -> None:
    rng = random.Random(5)
    for _ in range(30):
        a, b = initiator(), receiver()
        b.receive_data(a.data_to_send())
        a.receive_data(b.data_to_send()[:96])
        junk = rng.randbytes(rng.randrange(0, 900))
        for core in (a, b):
            try:
                core.receive_data(junk)
            except MseError:
                pass


def test_plaintext_sniffing_and_policy_table() -> None:
    assert is_plaintext_start(b"\x13BitTorrent protocol" + bytes(8))
    assert is_plaintext_start(b"\x13Bit")  # not decided yet: could still be plain
    assert not is_plaintext_start(b"\x13Bix")
    assert parse_encryption("tolerated") is Encryption.ALLOWED
    assert parse_encryption(" Required ") is Encryption.REQUIRED
    with pytest.raises(ValueError):
        parse_encryption("sometimes")
    assert crypto_provide(Encryption.REQUIRED) == CRYPTO_RC4
    assert crypto_provide(Encryption.PREFERRED) == CRYPTO_RC4 | CRYPTO_PLAINTEXT
    assert crypto_select(Encryption.DISABLED, 3) == 0
    assert crypto_select(Encryption.REQUIRED, CRYPTO_PLAINTEXT) == 0
    assert retry_other_way(Encryption.PREFERRED, encrypted=True)
    assert not retry_other_way(Encryption.REQUIRED, encrypted=True)
    assert retry_other_way(Encryption.ALLOWED, encrypted=False)
    assert not retry_other_way(Encryption.DISABLED, encrypted=False)
    hint = encryption_hint(Encryption.DISABLED, plain_lost=5, mse_lost=0, peers=0)
    assert hint is not None and "require encryption" in hint
    assert encryption_hint(Encryption.DISABLED, plain_lost=5, mse_lost=0, peers=1) is None
    assert encryption_hint(Encryption.PREFERRED, plain_lost=9, mse_lost=9, peers=0) is None
    # the first refusal is enough (a single seeder that requires encryption)
    one = encryption_hint(Encryption.DISABLED, plain_lost=1, mse_lost=0, peers=0)
    assert one is not None and one.startswith("1 peer closed plaintext connections")
    assert encryption_hint(Encryption.DISABLED, plain_lost=0, mse_lost=0, peers=0) is None
    other = encryption_hint(Encryption.REQUIRED, plain_lost=0, mse_lost=1, peers=0)
    assert other is not None and "may not support encryption" in other
