"""Tests of herald.api.domain.approval: what approving an asset creates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from herald.api.domain.approval import JobPlan, NotApprovable, plan_jobs
from herald.common.domain.asset_states import AssetStatus
from herald.common.domain.job_states import JobStatus

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
A = uuid.UUID("00000000-0000-7000-8000-00000000000a")
B = uuid.UUID("00000000-0000-7000-8000-00000000000b")
C = uuid.UUID("00000000-0000-7000-8000-00000000000c")
CHANNELS = {A: "sandbox", B: "sandbox", C: "mastodon"}


@pytest.mark.parametrize("status", [AssetStatus.DRAFT, AssetStatus.SUBMITTED], ids=str)
def test_draft_and_submitted_assets_are_approvable(status: AssetStatus) -> None:
    plans = plan_jobs(status, CHANNELS, [A], None, NOW)
    assert plans == [JobPlan(A, "sandbox", JobStatus.QUEUED, None)]


@pytest.mark.parametrize(
    "status", [AssetStatus.APPROVED, AssetStatus.REJECTED, AssetStatus.CANCELLED], ids=str
)
def test_other_assets_are_not_approvable(status: AssetStatus) -> None:
    with pytest.raises(NotApprovable, match=f"in status {status} cannot"):
        plan_jobs(status, CHANNELS, [A], None, NOW)


def test_not_approvable_is_a_value_error() -> None:
    assert issubclass(NotApprovable, ValueError)


def test_one_job_per_channel_with_its_platform() -> None:
    plans = plan_jobs(AssetStatus.DRAFT, CHANNELS, [A, C], None, NOW)
    assert [(p.channel_id, p.platform) for p in plans] == [(A, "sandbox"), (C, "mastodon")]


@pytest.mark.parametrize(
    ("channel_ids", "expected"),
    [
        ([A, A], [A]),
        ([A, B, A], [A, B]),
        ([B, A, B, A, C, C], [B, A, C]),
        ([], []),
    ],
)
def test_duplicate_channel_ids_make_one_job_each_in_first_seen_order(
    channel_ids: list[uuid.UUID], expected: list[uuid.UUID]
) -> None:
    plans = plan_jobs(AssetStatus.SUBMITTED, CHANNELS, channel_ids, None, NOW)
    assert [p.channel_id for p in plans] == expected


@pytest.mark.parametrize(
    ("scheduled_for", "status", "planned_for"),
    [
        (NOW + timedelta(hours=2), JobStatus.SCHEDULED, NOW + timedelta(hours=2)),
        (NOW + timedelta(microseconds=1), JobStatus.SCHEDULED, NOW + timedelta(microseconds=1)),
        (NOW, JobStatus.QUEUED, None),  # exactly now is due
        (NOW - timedelta(minutes=5), JobStatus.QUEUED, None),
        (None, JobStatus.QUEUED, None),
    ],
    ids=["future", "just-future", "now", "past", "none"],
)
def test_scheduling(
    scheduled_for: datetime | None, status: JobStatus, planned_for: datetime | None
) -> None:
    plans = plan_jobs(AssetStatus.DRAFT, CHANNELS, [A, B], scheduled_for, NOW)
    assert [(p.status, p.scheduled_for) for p in plans] == [(status, planned_for)] * 2


@pytest.mark.parametrize(
    "channel_ids",
    [[uuid.UUID(int=99)], [A, uuid.UUID(int=99)], [uuid.UUID(int=99), A, uuid.UUID(int=98)]],
)
def test_a_missing_channel_is_not_approvable(channel_ids: list[uuid.UUID]) -> None:
    with pytest.raises(NotApprovable, match=str(uuid.UUID(int=99))):
        plan_jobs(AssetStatus.DRAFT, CHANNELS, channel_ids, None, NOW)


def test_the_error_names_every_missing_channel() -> None:
    gone = [uuid.UUID(int=98), uuid.UUID(int=99)]
    with pytest.raises(NotApprovable) as raised:
        plan_jobs(AssetStatus.DRAFT, CHANNELS, [gone[0], A, gone[1]], None, NOW)
    assert all(str(g) in str(raised.value) for g in gone)
    assert str(A) not in str(raised.value)


def test_status_is_checked_before_channels() -> None:
    with pytest.raises(NotApprovable, match="cannot be approved"):
        plan_jobs(AssetStatus.APPROVED, {}, [uuid.UUID(int=99)], None, NOW)
