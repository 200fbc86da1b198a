"""The review workflow's pure rules: every (status, command) pair, and what an asset shows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.api.domain.review import (
    NOT_STARTED,
    NotAllowed,
    Publication,
    ReviewCommand,
    next_status,
    shown_status,
)
from herald.common.domain.asset_states import AssetStatus
from herald.common.domain.job_states import TERMINAL, JobStatus

D, S, A, R, C = (
    AssetStatus.DRAFT,
    AssetStatus.SUBMITTED,
    AssetStatus.APPROVED,
    AssetStatus.REJECTED,
    AssetStatus.CANCELLED,
)
EXPECTED = {
    ReviewCommand.SUBMIT: {D: S, R: S},
    ReviewCommand.APPROVE: {D: A, S: A},
    ReviewCommand.REJECT: {D: R, S: R},
    ReviewCommand.EDIT: {D: D, S: S, R: R, A: S},
}


@pytest.mark.parametrize("command", list(ReviewCommand))
@pytest.mark.parametrize("status", list(AssetStatus))
def test_every_status_and_command(status: AssetStatus, command: ReviewCommand) -> None:
    expected = EXPECTED[command].get(status)
    if expected is None:
        with pytest.raises(NotAllowed, match=f"status {status}"):
            next_status(status, command)
    else:
        assert next_status(status, command) is expected


def test_editing_an_approved_asset_is_refused_once_a_job_started() -> None:
    waiting = [(JobStatus.SCHEDULED, 0), (JobStatus.QUEUED, 0)]
    assert next_status(A, ReviewCommand.EDIT, waiting) is S
    for started in [(JobStatus.PROCESSING, 1), (JobStatus.SUCCEEDED, 1), (JobStatus.QUEUED, 2)]:
        with pytest.raises(NotAllowed, match="1 of its jobs already started"):
            next_status(A, ReviewCommand.EDIT, [*waiting, started])


@pytest.mark.parametrize("status", [D, S, R, C])
def test_before_approval_an_asset_shows_its_review_status(status: AssetStatus) -> None:
    assert shown_status(status, [(JobStatus.SUCCEEDED, 1)]) == status.value


@pytest.mark.parametrize(
    ("jobs", "shown"),
    [
        ([], Publication.APPROVED),
        ([(JobStatus.SCHEDULED, 0), (JobStatus.QUEUED, 0)], Publication.APPROVED),
        ([(JobStatus.QUEUED, 0), (JobStatus.PROCESSING, 1)], Publication.PUBLISHING),
        ([(JobStatus.QUEUED, 0), (JobStatus.SUCCEEDED, 1)], Publication.PUBLISHING),
        ([(JobStatus.QUEUED, 3)], Publication.PUBLISHING),  # retried by hand
        ([(JobStatus.RETRYING, 1)], Publication.PUBLISHING),
        ([(JobStatus.SUCCEEDED, 1), (JobStatus.SUCCEEDED, 2)], Publication.PUBLISHED),
        ([(JobStatus.SUCCEEDED, 1), (JobStatus.FAILED, 5)], Publication.PARTIALLY_FAILED),
        ([(JobStatus.SUCCEEDED, 1), (JobStatus.CANCELLED, 0)], Publication.PARTIALLY_FAILED),
        ([(JobStatus.FAILED, 5), (JobStatus.MISSED, 0)], Publication.FAILED),
    ],
)
def test_an_approved_asset_shows_its_publication(
    jobs: list[tuple[JobStatus, int]], shown: Publication
) -> None:
    assert shown_status(A, jobs) == shown.value


@given(st.lists(st.tuples(st.sampled_from(list(JobStatus)), st.integers(0, 5)), min_size=1))
def test_publication_is_final_exactly_when_every_job_is(jobs: list[tuple[JobStatus, int]]) -> None:
    shown = shown_status(A, jobs)
    final = {Publication.PUBLISHED, Publication.PARTIALLY_FAILED, Publication.FAILED}
    assert (shown in final) == all(s in TERMINAL for s, _ in jobs)
    if shown == Publication.APPROVED:
        assert all(s in NOT_STARTED and n == 0 for s, n in jobs)
