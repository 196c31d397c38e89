"""Cheap looks at the database: is it there, and has anything changed since last time.

A process that only reads (``stampy web`` beside ``stampy run``) polls :func:`change_marks`
every few seconds and re-reads what changed: the latest question and tag versions' row ids
grow with every moderator's change, and the stamps' count and latest time move with every
stamp added or taken back.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Store

__all__ = ["ChangeMarks", "change_marks", "ping"]


@dataclass(frozen=True)
class ChangeMarks:
    """Where the stored changes and stamps stand (compare two to see if either moved)."""

    last_version: int
    last_tag_version: int
    stamps: int
    last_stamp: str | None


async def ping(store: Store) -> None:
    """Read one row; raises :class:`~bot.store.StoreError` if the database cannot be read."""
    async with store.read() as conn:
        await conn.execute_fetchall("SELECT 1")


async def change_marks(store: Store) -> ChangeMarks:
    """The latest version's row id and the stamps' count and latest time, in one read."""
    async with store.read() as conn:
        versions = list(
            await conn.execute_fetchall(
                "SELECT (SELECT coalesce(max(id), 0) FROM question_versions),"
                " (SELECT coalesce(max(id), 0) FROM tag_versions)"
            )
        )
        stamps = list(await conn.execute_fetchall("SELECT count(*), max(stamped_at) FROM stamps"))
    last = stamps[0][1]
    return ChangeMarks(
        int(versions[0][0]),
        int(versions[0][1]),
        int(stamps[0][0]),
        None if last is None else str(last),
    )
