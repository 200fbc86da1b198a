"""Statements that write several rows are compiled once: SQLAlchemy caches a statement only when
it has a cache key, and an INSERT of several VALUES rows has none."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy import BindParameter, Table, bindparam, insert

from herald.api.service_layer import assets
from herald.common.db.bound_rows import bound_rows
from herald.common.db.models import OutboxMessage
from herald.common.outbox import TOLD, told_binds

_OUTBOX = cast(Table, OutboxMessage.__table__)


def test_several_values_rows_are_never_cached_which_is_why_bound_rows_exists() -> None:
    rows = [told_binds(n) for n in range(3)]
    assert insert(_OUTBOX).values(rows)._generate_cache_key() is None
    assert insert(_OUTBOX).from_select(list(TOLD), bound_rows(rows))._generate_cache_key()


@pytest.mark.parametrize(("jobs", "told"), [(0, 1), (1, 3), (3, 7)])
def test_every_shape_of_approval_is_cached(jobs: int, told: int) -> None:
    assert assets._approval(jobs, told)._generate_cache_key() is not None


def test_no_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="no rows"):
        bound_rows([])


def test_one_row_is_a_plain_select() -> None:
    row: dict[str, BindParameter[Any]] = {"a": bindparam("a"), "b": bindparam("b")}
    assert str(bound_rows([row])) == "SELECT :a AS anon_1, :b AS anon_2"
