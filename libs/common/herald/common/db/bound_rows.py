"""Rows of bind parameters for an INSERT … SELECT that SQLAlchemy compiles once.

An INSERT with several VALUES rows is never cached by SQLAlchemy: every execution compiles it
again (a sixth of the API's CPU per approval, measured, when the approval wrote its rows so).
The same rows as a ``UNION ALL`` of one-row SELECTs of bind parameters are cached like any
other statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BindParameter, CompoundSelect, Select, select, union_all


def bound_rows(
    rows: Sequence[Mapping[str, BindParameter[Any]]],
) -> Select[Any] | CompoundSelect[Any]:
    """One row per mapping (its bind parameters in the mapping's order), for
    ``insert(table).from_select(columns, bound_rows(rows))``."""
    selects = [select(*row.values()) for row in rows]
    if not selects:
        raise ValueError("no rows")
    return selects[0] if len(selects) == 1 else union_all(*selects)
