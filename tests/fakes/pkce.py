"""PKCE as an authorization server checks it (RFC 7636 section 4.6), written apart from
Herald's own, so that the fakes would catch a wrong challenge."""

from __future__ import annotations

import base64
import hashlib


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
