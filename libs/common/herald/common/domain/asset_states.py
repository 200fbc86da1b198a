"""Asset review states (the full review workflow is built on these)."""

from __future__ import annotations

from enum import StrEnum


class AssetStatus(StrEnum):
    DRAFT = "draft"  # created, editable, not yet approved
    SUBMITTED = "submitted"  # waiting for a reviewer
    APPROVED = "approved"  # approved; its publish jobs exist
    REJECTED = "rejected"  # a reviewer said no, with a reason
    CANCELLED = "cancelled"  # withdrawn; its unfinished jobs were cancelled


APPROVABLE = frozenset({AssetStatus.DRAFT, AssetStatus.SUBMITTED})


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"
