"""Identifiers: UUIDv7 everywhere, so ids sort by creation time and index well."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    """A new UUIDv7 as a standard-library UUID."""
    return uuid7()
