"""Reading JetStream's fsync setting from nats-server's /varz (pure part)."""

from __future__ import annotations

from typing import Any

import pytest

from herald.common.jetstream_sync import sync_always


@pytest.mark.parametrize(
    ("varz", "expected"),
    [
        ({"jetstream": {"config": {"sync_always": True, "sync_interval": 120000000000}}}, True),
        ({"jetstream": {"config": {"sync_interval": 120000000000}}}, False),
        ({"jetstream": {}}, False),
        ({}, False),
    ],
)
def test_sync_always(varz: dict[str, Any], expected: bool) -> None:
    assert sync_always(varz) is expected
