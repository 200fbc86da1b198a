"""Tests of herald.common.credentials: AES-GCM sealing of channel credentials with key rotation."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.common.credentials import NONCE_BYTES, CredentialBox, CredentialKeyError, Sealed

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
SECRET = "s3cr3t-oauth-token-value"
CREDS: dict[str, Any] = {"token": SECRET, "refresh": "r-1", "scopes": ["write"], "n": 3}


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_seal_then_open_round_trip() -> None:
    box = CredentialBox({"old": OLD_KEY}, "old")
    sealed = box.seal(CREDS)
    assert sealed.key_id == "old"
    assert box.open(sealed) == CREDS


@settings(database=None, deadline=None, max_examples=50)
@given(
    creds=st.dictionaries(
        st.text(max_size=10),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40)),
        max_size=5,
    )
)
def test_round_trip_for_any_json_dict(creds: dict[str, Any]) -> None:
    box = CredentialBox({"k": NEW_KEY}, "k")
    assert box.open(box.seal(creds)) == creds


def test_ciphertext_differs_each_time() -> None:
    box = CredentialBox({"old": OLD_KEY}, "old")
    first, second = box.seal(CREDS), box.seal(CREDS)
    assert first.ciphertext != second.ciphertext
    assert first.ciphertext[:NONCE_BYTES] != second.ciphertext[:NONCE_BYTES]
    assert box.open(first) == box.open(second) == CREDS


def test_the_plaintext_never_appears_in_the_ciphertext() -> None:
    box = CredentialBox({"old": OLD_KEY}, "old")
    sealed = box.seal(CREDS)
    plaintext = json.dumps(CREDS, separators=(",", ":")).encode()
    assert SECRET.encode() not in sealed.ciphertext
    assert b"token" not in sealed.ciphertext
    assert plaintext not in sealed.ciphertext
    # nonce + ciphertext (same length as the plaintext) + 16-byte tag
    assert len(sealed.ciphertext) == NONCE_BYTES + len(plaintext) + 16


def test_rotation_new_box_opens_what_the_old_box_sealed() -> None:
    old_box = CredentialBox({"old": OLD_KEY}, "old")
    rotated = CredentialBox({"old": OLD_KEY, "new": NEW_KEY}, "new")
    sealed_before = old_box.seal(CREDS)
    assert rotated.open(sealed_before) == CREDS
    sealed_after = rotated.seal(CREDS)
    assert sealed_after.key_id == "new"
    assert rotated.open(sealed_after) == CREDS


def test_a_box_without_the_key_refuses() -> None:
    sealed = CredentialBox({"new": NEW_KEY}, "new").seal(CREDS)
    old_only = CredentialBox({"old": OLD_KEY}, "old")
    with pytest.raises(CredentialKeyError, match="unknown key 'new'"):
        old_only.open(sealed)


def test_same_key_id_but_different_key_material_refuses() -> None:
    sealed = CredentialBox({"k": OLD_KEY}, "k").seal(CREDS)
    with pytest.raises(CredentialKeyError, match="do not open"):
        CredentialBox({"k": NEW_KEY}, "k").open(sealed)


@pytest.mark.parametrize(
    "position", [0, NONCE_BYTES - 1, NONCE_BYTES, NONCE_BYTES + 5, -1], ids=str
)
def test_tampered_ciphertext_refuses(position: int) -> None:
    box = CredentialBox({"old": OLD_KEY}, "old")
    sealed = box.seal(CREDS)
    data = bytearray(sealed.ciphertext)
    data[position] ^= 0x01
    with pytest.raises(CredentialKeyError):
        box.open(Sealed(sealed.key_id, bytes(data)))


def test_truncated_ciphertext_refuses() -> None:
    box = CredentialBox({"old": OLD_KEY}, "old")
    sealed = box.seal(CREDS)
    with pytest.raises(CredentialKeyError):
        box.open(replace(sealed, ciphertext=sealed.ciphertext[:-1]))


@pytest.mark.parametrize("length", [0, 1, NONCE_BYTES, NONCE_BYTES + 15])
def test_a_ciphertext_too_short_to_hold_nonce_and_tag_refuses(length: int) -> None:
    box = CredentialBox({"old": OLD_KEY}, "old")
    with pytest.raises(CredentialKeyError):
        box.open(Sealed("old", b"x" * length))


def test_relabelled_key_id_refuses() -> None:
    """The key id is authenticated data: a row cannot be moved to another key id."""
    box = CredentialBox({"a": OLD_KEY, "b": OLD_KEY}, "a")
    sealed = box.seal(CREDS)
    with pytest.raises(CredentialKeyError):
        box.open(Sealed("b", sealed.ciphertext))


def test_from_setting_parses_the_ring_and_defaults_to_the_last_key() -> None:
    box = CredentialBox.from_setting(f"a:{b64(OLD_KEY)},b:{b64(NEW_KEY)}")
    assert box.active_key_id == "b"
    assert box.seal(CREDS).key_id == "b"
    assert box.open(CredentialBox({"a": OLD_KEY}, "a").seal(CREDS)) == CREDS
    assert box.open(CredentialBox({"b": NEW_KEY}, "b").seal(CREDS)) == CREDS


def test_from_setting_honours_an_explicit_active_key() -> None:
    box = CredentialBox.from_setting(f"a:{b64(OLD_KEY)},b:{b64(NEW_KEY)}", "a")
    assert box.active_key_id == "a"
    assert CredentialBox({"a": OLD_KEY}, "a").open(box.seal(CREDS)) == CREDS


def test_from_setting_tolerates_spaces_and_empty_items() -> None:
    box = CredentialBox.from_setting(f" a:{b64(OLD_KEY)} , ,b:{b64(NEW_KEY)},")
    assert box.active_key_id == "b"
    assert box.open(CredentialBox({"a": OLD_KEY}, "a").seal(CREDS)) == CREDS


@pytest.mark.parametrize(
    ("ring", "active", "message"),
    [
        ("", None, "no credential keys"),
        (" , ,", None, "no credential keys"),
        (b64(OLD_KEY), None, "kid:base64key"),  # no colon
        (f":{b64(OLD_KEY)}", None, "kid:base64key"),  # no key id
        ("a:not base64!", None, "not valid base64"),
        ("a:QUJ", None, "not valid base64"),  # bad padding
        (f"a:{b64(b'short')}", None, "32 bytes"),
        (f"a:{b64(bytes(64))}", None, "32 bytes"),
        (f"a:{b64(OLD_KEY)},b:{b64(b'x' * 16)}", None, "32 bytes"),
        ("a:", None, "32 bytes"),  # empty key
        (f"a:{b64(OLD_KEY)}", "missing", "not in the key ring"),
    ],
)
def test_from_setting_refuses_bad_rings(ring: str, active: str | None, message: str) -> None:
    with pytest.raises(CredentialKeyError, match=message):
        CredentialBox.from_setting(ring, active)


def test_credential_key_error_is_a_value_error() -> None:
    assert issubclass(CredentialKeyError, ValueError)
