"""Parsing JetStream's dead-letter advisories (pure)."""

from __future__ import annotations

import json

import pytest

from herald.recovery.domain.advisories import Advisory, parse_advisory


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {
                "type": "io.nats.jetstream.advisory.v1.terminated",
                "stream": "PUBLISH",
                "consumer": "c",
                "consumer_seq": 2,
                "stream_seq": 9,
                "deliveries": 1,
            },
            Advisory("terminated", "PUBLISH", "c", 9, 1),
        ),
        (
            {
                "type": "io.nats.jetstream.advisory.v1.max_deliver",
                "stream": "PUBLISH",
                "consumer": "c",
                "stream_seq": 4,
                "deliveries": 20,
            },
            Advisory("max_deliveries", "PUBLISH", "c", 4, 20),
        ),
        (
            {
                "type": "io.nats.jetstream.advisory.v1.nak",
                "stream": "S",
                "consumer": "c",
                "stream_seq": 1,
            },
            None,
        ),
        ({"type": "io.nats.jetstream.advisory.v1.terminated", "stream": "S"}, None),
    ],
)
def test_parse_advisory(document: dict[str, object], expected: Advisory | None) -> None:
    assert parse_advisory(json.dumps(document).encode()) == expected


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"null"])
def test_garbage_is_not_an_advisory(data: bytes) -> None:
    assert parse_advisory(data) is None
