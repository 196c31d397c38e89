"""Versions of tag records written by moderators: the tags' database overlay.

As :mod:`bot.store.versions` does for questions: every change appends one row (the tag's
name, its next version, the state, who, when and what); the latest row of a tag is the
overlay on the tags of the YAML files (``set``: ``content`` holds the tag as JSON,
``removed``: no record, ``shipped``: the YAML record applies). Rows are never updated or
deleted; older ones are the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.db import Store, check_status, from_db_time, to_db_time, utc_now
from bot.store.versions import CHANGES_CHANNEL, MAX_ACTION_CHARS, MAX_NAME_CHARS, VERSION_STATES

__all__ = ["TagVersion", "TagVersions"]

_COLUMNS = "id, name, version, state, content, member_id, member_name, guild_id, created_at, action"


@dataclass(frozen=True)
class TagVersion:
    """One stored version of a tag record."""

    id: int
    name: str
    version: int
    state: str
    content: str | None
    member_id: int | None
    member_name: str
    guild_id: int | None
    created_at: datetime
    action: str


class TagVersions:
    """The tag versions in a :class:`~bot.store.db.Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def append(
        self,
        name: str,
        *,
        state: str,
        content: str | None,
        member_name: str,
        action: str,
        member_id: int | None = None,
        guild_id: int | None = None,
        at: datetime | None = None,
    ) -> TagVersion:
        """Add the next version of tag ``name`` (its own transaction, or a savepoint of the
        caller's) and announce it to the other processes."""
        check_status(state, VERSION_STATES)
        if (state == "set") != (content is not None):
            raise ValueError("content is required for state 'set' and only for it")
        who = (member_name.strip() or "unknown")[:MAX_NAME_CHARS]
        what = (action.strip() or "changed")[:MAX_ACTION_CHARS]
        when = to_db_time(at if at is not None else utc_now())
        async with self._store.transaction(lock=f"tag:{name}") as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT coalesce(max(version), 0) FROM tag_versions WHERE name = ?", (name,)
                )
            )
            version = int(rows[0][0]) + 1
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO tag_versions (name, version, state, content, member_id,"
                    " member_name, guild_id, created_at, action)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                    (name, version, state, content, member_id, who, guild_id, when, what),
                )
            )
            await self._store.notify(conn, CHANGES_CHANNEL, f"tag {name}")
        return _from_row(rows[0])

    async def all(self) -> list[TagVersion]:
        """Every version of every tag, oldest first."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(f"SELECT {_COLUMNS} FROM tag_versions ORDER BY id")
        return [_from_row(row) for row in rows]

    async def history(self, name: str, *, limit: int = 25) -> list[TagVersion]:
        """Versions of tag ``name``, newest first."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM tag_versions WHERE name = ? ORDER BY version DESC LIMIT ?",
                (name, limit),
            )
        return [_from_row(row) for row in rows]


def _from_row(row: Any) -> TagVersion:
    return TagVersion(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        state=row["state"],
        content=row["content"],
        member_id=row["member_id"],
        member_name=row["member_name"],
        guild_id=row["guild_id"],
        created_at=from_db_time(row["created_at"]),
        action=row["action"],
    )
