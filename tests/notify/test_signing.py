"""Webhook signatures: a known answer (computed with openssl), the receiver's checks, rotation."""

from __future__ import annotations

import pytest

from infrasight.notify.signing import SignatureError, sign, signature_header, verify

BODY = b'{"a":1}'
# printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
KNOWN = "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"


def test_signature_matches_openssl() -> None:
    assert sign("whsec_test", 1_700_000_000, BODY) == KNOWN
    assert signature_header(["whsec_test"], 1_700_000_000, BODY) == f"t=1700000000,v1={KNOWN}"


def test_receiver_accepts_a_fresh_signature() -> None:
    header = signature_header(["whsec_test"], 1_700_000_000, BODY)
    assert verify(header, BODY, "whsec_test", now=1_700_000_299) == 1_700_000_000


@pytest.mark.parametrize(
    ("header", "body", "secret", "now", "message"),
    [
        (f"t=1700000000,v1={KNOWN}", BODY, "wrong", 1_700_000_000, "no signature matches"),
        (f"t=1700000000,v1={KNOWN}", b'{"a":2}', "whsec_test", 1_700_000_000, "no signature"),
        (f"t=1700000000,v1={KNOWN}", BODY, "whsec_test", 1_700_000_301, "replay window"),
        (f"t=1700000000,v1={KNOWN}", BODY, "whsec_test", 1_699_999_699, "replay window"),
        (f"v1={KNOWN}", BODY, "whsec_test", 1_700_000_000, "malformed"),
        ("t=1700000000", BODY, "whsec_test", 1_700_000_000, "malformed"),
        ("", BODY, "whsec_test", 1_700_000_000, "malformed"),
    ],
)
def test_receiver_refuses(header: str, body: bytes, secret: str, now: int, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(header, body, secret, now=now)


def test_rotation_header_carries_both_secrets() -> None:
    header = signature_header(["new", "old"], 1_700_000_000, BODY)
    assert header.count("v1=") == 2
    for secret in ("new", "old"):
        assert verify(header, BODY, secret, now=1_700_000_000) == 1_700_000_000
    with pytest.raises(SignatureError):
        verify(header, BODY, "other", now=1_700_000_000)
