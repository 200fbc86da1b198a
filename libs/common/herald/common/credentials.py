"""Channel credentials encrypted at rest with AES-GCM.

The key id is stored beside the ciphertext so several keys can be accepted at once and
rotated: new writes use the active key, reads use whichever key the row names.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class CredentialKeyError(ValueError):
    """A key ring that cannot be used (bad format, unknown key id)."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    ciphertext: bytes


class CredentialBox:
    """Seals and opens credential dicts; ``keys`` maps key id → 32-byte AES key."""

    def __init__(self, keys: dict[str, bytes], active_key_id: str):
        if active_key_id not in keys:
            raise CredentialKeyError(f"active key {active_key_id!r} is not in the key ring")
        if any(len(key) != 32 for key in keys.values()):
            raise CredentialKeyError("every credential key must be 32 bytes (base64 of 32 bytes)")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_key_id = active_key_id

    @classmethod
    def from_setting(cls, ring: str, active_key_id: str | None = None) -> CredentialBox:
        """Parse ``"kid1:base64key,kid2:base64key"``; the active key defaults to the last."""
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in ring.split(","))):
            kid, sep, encoded = item.partition(":")
            if not sep or not kid:
                raise CredentialKeyError("expected kid:base64key items separated by commas")
            try:
                keys[kid] = base64.b64decode(encoded, validate=True)
            except ValueError:
                raise CredentialKeyError(f"key {kid!r} is not valid base64") from None
        if not keys:
            raise CredentialKeyError("no credential keys configured")
        return cls(keys, active_key_id or list(keys)[-1])

    def seal(self, credentials: dict[str, Any]) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(credentials, separators=(",", ":")).encode()
        aad = self.active_key_id.encode()
        ciphertext = self._keys[self.active_key_id].encrypt(nonce, plaintext, aad)
        return Sealed(self.active_key_id, nonce + ciphertext)

    def open(self, sealed: Sealed) -> dict[str, Any]:
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise CredentialKeyError(f"credentials were sealed with unknown key {sealed.key_id!r}")
        nonce, ciphertext = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        try:
            plaintext = aead.decrypt(nonce, ciphertext, sealed.key_id.encode())
        except (InvalidTag, ValueError):  # tampered, or too short to hold a nonce and a tag
            raise CredentialKeyError(
                f"credentials do not open with key {sealed.key_id!r}"
            ) from None
        data: dict[str, Any] = json.loads(plaintext)
        return data
