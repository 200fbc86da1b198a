"""Tests of herald.common.domain.job_states: the publish job lifecycle graph."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from herald.common.domain.job_commands import can_retry_manually, retried_status
from herald.common.domain.job_states import (
    CLAIMABLE,
    PARKABLE,
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    can_transition,
    is_terminal,
    sources_of,
)

S = JobStatus
ALL = list(JobStatus)
NON_TERMINAL = [s for s in ALL if s not in TERMINAL]

# The lifecycle as documented, written out independently of the module's table.
EXPECTED_EDGES: set[tuple[JobStatus, JobStatus]] = {
    (S.SCHEDULED, S.QUEUED),
    (S.SCHEDULED, S.CANCELLED),
    (S.SCHEDULED, S.MISSED),
    (S.SCHEDULED, S.WAITING_AUTH),  # its channel was refused before its slot
    (S.QUEUED, S.PROCESSING),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.WAITING_AUTH),  # parked with its channel, or at its claim
    (S.PROCESSING, S.SUCCEEDED),
    (S.PROCESSING, S.RETRYING),
    (S.PROCESSING, S.FAILED),
    (S.PROCESSING, S.WAITING_AUTH),
    (S.PROCESSING, S.UNCERTAIN),
    (S.PROCESSING, S.CANCELLED),
    (S.RETRYING, S.PROCESSING),
    (S.RETRYING, S.QUEUED),
    (S.RETRYING, S.CANCELLED),
    (S.RETRYING, S.WAITING_AUTH),
    (S.WAITING_AUTH, S.QUEUED),
    (S.WAITING_AUTH, S.SCHEDULED),  # re-authorized before the slot it was parked for
    (S.WAITING_AUTH, S.CANCELLED),
    (S.UNCERTAIN, S.PROCESSING),
    (S.UNCERTAIN, S.CANCELLED),
    (S.FAILED, S.QUEUED),
    (S.CANCELLED, S.QUEUED),
    (S.MISSED, S.QUEUED),
}
DEAD = (S.FAILED, S.CANCELLED, S.MISSED)  # terminal states a manual retry may revive


@pytest.mark.parametrize("current", ALL, ids=str)
@pytest.mark.parametrize("target", ALL, ids=str)
def test_can_transition_matches_the_documented_lifecycle(
    current: JobStatus, target: JobStatus
) -> None:
    assert can_transition(current, target) is ((current, target) in EXPECTED_EDGES)


def test_every_state_has_an_entry_in_transitions() -> None:
    assert set(TRANSITIONS) == set(JobStatus)


@pytest.mark.parametrize("target", ALL, ids=str)
def test_sources_of_is_exactly_the_states_that_reach_target(target: JobStatus) -> None:
    expected = {s for s in ALL if target in TRANSITIONS[s]}
    assert sources_of(target) == expected
    assert sources_of(target) == {src for src, dst in EXPECTED_EDGES if dst == target}


@pytest.mark.parametrize(
    ("target", "sources"),
    [
        (S.PROCESSING, {S.QUEUED, S.RETRYING, S.UNCERTAIN}),
        (S.QUEUED, {S.SCHEDULED, S.RETRYING, S.WAITING_AUTH, *DEAD}),
        (S.SUCCEEDED, {S.PROCESSING}),
        (S.SCHEDULED, {S.WAITING_AUTH}),
        (S.WAITING_AUTH, {S.SCHEDULED, S.QUEUED, S.PROCESSING, S.RETRYING}),
        (S.MISSED, {S.SCHEDULED}),
        (S.CANCELLED, set(NON_TERMINAL)),
    ],
    ids=str,
)
def test_sources_of_table(target: JobStatus, sources: set[JobStatus]) -> None:
    assert sources_of(target) == sources


@pytest.mark.parametrize("status", ALL, ids=str)
def test_is_terminal(status: JobStatus) -> None:
    assert is_terminal(status) is (status in {S.SUCCEEDED, *DEAD})


def test_terminal_set() -> None:
    assert frozenset({S.SUCCEEDED, *DEAD}) == TERMINAL


@pytest.mark.parametrize("status", sorted(CLAIMABLE), ids=str)
def test_claimable_states_can_move_to_processing(status: JobStatus) -> None:
    assert can_transition(status, S.PROCESSING)


def test_claimable_is_every_non_processing_source_of_processing() -> None:
    assert frozenset({S.QUEUED, S.RETRYING, S.UNCERTAIN}) == CLAIMABLE
    assert sources_of(S.PROCESSING) == CLAIMABLE


def test_parkable_jobs_are_those_no_worker_holds_that_can_wait_for_auth() -> None:
    assert frozenset({S.SCHEDULED, S.QUEUED, S.RETRYING}) == PARKABLE
    assert all(can_transition(s, S.WAITING_AUTH) for s in PARKABLE)
    assert S.UNCERTAIN not in PARKABLE  # its claim asks the platform first (lookup)


SLOT = datetime(2026, 12, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "scheduled_for", "queued_at", "target"),
    [
        (S.WAITING_AUTH, SLOT, None, S.SCHEDULED),  # parked before its slot: waits for it
        (S.WAITING_AUTH, SLOT, SLOT, S.QUEUED),  # dispatched, then parked
        (S.WAITING_AUTH, None, SLOT, S.QUEUED),
        (S.MISSED, SLOT, None, S.QUEUED),  # a person wants it now
        (S.CANCELLED, SLOT, None, S.QUEUED),
        (S.FAILED, None, SLOT, S.QUEUED),
    ],
    ids=str,
)
def test_where_a_retry_or_a_resumption_sends_a_job(
    status: JobStatus, scheduled_for: datetime | None, queued_at: datetime | None, target: JobStatus
) -> None:
    assert retried_status(status, scheduled_for, queued_at) is target
    assert can_transition(status, target)


@pytest.mark.parametrize("status", NON_TERMINAL, ids=str)
def test_every_non_terminal_state_can_be_cancelled(status: JobStatus) -> None:
    assert can_transition(status, S.CANCELLED)


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=str)
def test_terminal_states_only_go_back_to_queued(status: JobStatus) -> None:
    assert TRANSITIONS[status] <= {S.QUEUED}


def test_succeeded_is_never_left() -> None:
    assert TRANSITIONS[S.SUCCEEDED] == frozenset()
    assert not any(can_transition(S.SUCCEEDED, t) for t in ALL)


@pytest.mark.parametrize("status", ALL, ids=str)
def test_no_state_transitions_to_itself(status: JobStatus) -> None:
    assert not can_transition(status, status)


class JobLifecycle(RuleBasedStateMachine):
    """A model job driven by random events; it only ever moves along allowed transitions."""

    def __init__(self) -> None:
        super().__init__()
        self.status = S.SCHEDULED
        self.history: list[JobStatus] = [self.status]
        self.rejected: list[tuple[JobStatus, JobStatus]] = []
        self.manual: set[int] = set()  # history indices entered by an explicit manual retry

    @rule(start=st.sampled_from([S.SCHEDULED, S.QUEUED]))
    def reset(self, start: JobStatus) -> None:
        """A new job is created scheduled or queued (approval)."""
        self.status = start
        self.history = [start]
        self.manual = set()

    @rule(wanted=st.sampled_from(ALL))
    def event(self, wanted: JobStatus) -> None:
        """Some component asks to move the job; only allowed moves are applied."""
        before = self.status
        allowed = can_transition(before, wanted)
        assert allowed is (wanted in TRANSITIONS[before])
        assert allowed is (before in sources_of(wanted))
        if allowed and is_terminal(before):
            # workers, sweeps and relays never revive a finished job: only a person does
            assert can_retry_manually(before)  # the revival stays with the manual_retry rule
        elif allowed:
            self.status = wanted
            self.history.append(wanted)
        else:
            self.rejected.append((before, wanted))

    @rule()
    def cancel(self) -> None:
        """A user cancels: allowed from every non-terminal state, refused from terminal ones."""
        if is_terminal(self.status):
            assert not can_transition(self.status, S.CANCELLED)
        else:
            assert can_transition(self.status, S.CANCELLED)
            self.status = S.CANCELLED
            self.history.append(S.CANCELLED)

    @rule()
    def manual_retry(self) -> None:
        """An operator retries a dead job: only failed, cancelled or missed jobs go back."""
        if self.status in DEAD:
            assert can_retry_manually(self.status)
            assert can_transition(self.status, S.QUEUED)
            self.status = S.QUEUED
            self.history.append(S.QUEUED)
            self.manual.add(len(self.history) - 1)
        elif self.status is S.SUCCEEDED:
            assert not can_transition(self.status, S.QUEUED)

    @precondition(lambda self: self.status in CLAIMABLE)
    @rule()
    def claim(self) -> None:
        assert can_transition(self.status, S.PROCESSING)
        self.status = S.PROCESSING
        self.history.append(S.PROCESSING)

    @invariant()
    def every_step_was_allowed(self) -> None:
        for before, after in zip(self.history, self.history[1:], strict=False):
            assert (before, after) in EXPECTED_EDGES

    @invariant()
    def terminal_states_only_leave_by_a_manual_retry(self) -> None:
        for index, (before, after) in enumerate(zip(self.history, self.history[1:], strict=False)):
            if is_terminal(before):
                assert after is S.QUEUED
                assert before in DEAD
                assert index + 1 in self.manual, "a terminal job changed without a manual retry"

    @invariant()
    def succeeded_is_never_left(self) -> None:
        if S.SUCCEEDED in self.history:
            assert self.history.index(S.SUCCEEDED) == len(self.history) - 1
            assert self.status is S.SUCCEEDED

    @invariant()
    def succeeded_at_most_once(self) -> None:
        assert self.history.count(S.SUCCEEDED) <= 1

    @invariant()
    def rejected_moves_were_not_in_the_table(self) -> None:
        for before, target in self.rejected:
            assert (before, target) not in EXPECTED_EDGES


JobLifecycle.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, database=None, deadline=None
)
TestJobLifecycle = JobLifecycle.TestCase
