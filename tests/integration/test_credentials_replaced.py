"""Whether the credentials a refused call used are still the channel's: decides between
parking the job (waiting_auth) and trying the new ones (publisher ``_failed``)."""

from __future__ import annotations

from sqlalchemy import update

from herald.common.credentials import Sealed
from herald.common.db.engine import Database
from herald.common.db.models import Channel
from herald.publisher.adapters.job_store import credentials_replaced
from tests.integration.conftest import JobRows


async def _replaced(db: Database, rows: JobRows, refused: Sealed | None) -> bool:
    async with db.transaction() as session:
        return await credentials_replaced(session, rows.channel_id, refused)


async def test_replaced_only_when_the_channel_holds_other_credentials(
    db: Database, job_rows: JobRows
) -> None:
    async with db.transaction() as session:
        channel = await session.get_one(Channel, job_rows.channel_id)
        used = Sealed(str(channel.credentials_key_id), bytes(channel.credentials_ciphertext or b""))
    assert await _replaced(db, job_rows, used) is False  # refused, and still the same: park
    assert await _replaced(db, job_rows, Sealed("dev", b"older")) is True  # new ones: retry
    assert await _replaced(db, job_rows, None) is True  # none were used, some are there now
    async with db.transaction() as session:
        await session.execute(
            update(Channel)
            .where(Channel.id == job_rows.channel_id)
            .values(credentials_ciphertext=None, credentials_key_id=None)
        )
    assert await _replaced(db, job_rows, None) is False  # still disconnected: park
