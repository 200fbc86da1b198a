"""Events of the ASSETS stream (``herald.assets.*``)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from herald.common.events.envelope import Event


class AssetApproved(Event):
    """A reviewer approved an asset; its publish jobs exist in the database."""

    type: ClassVar[str] = "asset.approved"
    subject: ClassVar[str] = "herald.assets.approved"

    asset_id: uuid.UUID
    job_ids: list[uuid.UUID]
