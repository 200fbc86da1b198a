"""JetStream advisories of messages that will never be delivered again (pure parsing)."""

from __future__ import annotations

import json
from dataclasses import dataclass

KINDS = {
    "io.nats.jetstream.advisory.v1.max_deliver": "max_deliveries",
    "io.nats.jetstream.advisory.v1.terminated": "terminated",
}


@dataclass(frozen=True)
class Advisory:
    kind: str  # max_deliveries | terminated
    stream: str
    consumer: str
    stream_seq: int
    deliveries: int


def parse_advisory(data: bytes) -> Advisory | None:
    """The advisory in ``data``, or None for anything else (other advisories, garbage)."""
    try:
        raw = json.loads(data)
        return Advisory(
            KINDS[raw["type"]],
            str(raw["stream"]),
            str(raw["consumer"]),
            int(raw["stream_seq"]),
            int(raw.get("deliveries", 0)),
        )
    except (ValueError, KeyError, TypeError):
        return None
