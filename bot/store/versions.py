"""Versions of knowledge-base questions written by moderators: the database overlay.

Every change a moderator makes to a question (from Discord or ``stampy import``) appends one
row: the question's id, its next version number, the new state and who did it, when and
what. The latest row of each question is the overlay on top of the shipped YAML files:

* ``set``: the question as stored in ``content`` (JSON) replaces the YAML one (or adds it);
* ``removed``: the question is removed (a tombstone);
* ``shipped``: no overlay, the YAML file's version applies (a revert to what ships).

Older rows are the history that ``/answer history`` shows and ``/answer revert`` goes back
to. Rows are never updated or deleted. This module stores and reads rows; turning
``content`` into questions and checking them is :mod:`bot.curation`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.store.db import Store, check_page, check_status, from_db_time, to_db_time, utc_now

__all__ = ["CHANGES_CHANNEL", "VERSION_STATES", "QuestionVersion", "QuestionVersions"]

#: The states a version can put a question in (see the module docstring).
VERSION_STATES: Final = ("set", "removed", "shipped")

#: The channel on which a committed version is announced to the other processes sharing
#: the database (:meth:`bot.store.Store.listen`); the payload is ``question QUESTION_ID``.
CHANGES_CHANNEL: Final = "stampy_changes"

#: Longest description of a change (``action``) and member name stored.
MAX_ACTION_CHARS: Final = 500
MAX_NAME_CHARS: Final = 100

_COLUMNS = (
    "id, question_id, version, state, content, file, topic, member_id, member_name, guild_id,"
    " created_at, action"
)


@dataclass(frozen=True)
class QuestionVersion:
    """One stored version of a question (see the module docstring for ``state``)."""

    id: int  # the row id: increases with every change, across questions
    question_id: str
    version: int
    state: str
    content: str | None  # JSON of the question when state is "set"
    file: str | None
    topic: str | None
    member_id: int | None
    member_name: str
    guild_id: int | None
    created_at: datetime
    action: str


class QuestionVersions:
    """The question versions in a :class:`~bot.store.db.Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def append(
        self,
        question_id: str,
        *,
        state: str,
        content: str | None,
        member_name: str,
        action: str,
        member_id: int | None = None,
        guild_id: int | None = None,
        file: str | None = None,
        topic: str | None = None,
        at: datetime | None = None,
    ) -> QuestionVersion:
        """Add the next version of ``question_id`` and return it.

        Runs in its own transaction, or as a savepoint of the caller's (so that a change and
        what goes with it, such as closing an unanswered question, commit together). Names
        and descriptions longer than the stored limits are cut. Raises ValueError for an
        unknown ``state`` or ``content`` that does not fit it.
        """
        check_status(state, VERSION_STATES)
        if (state == "set") != (content is not None):
            raise ValueError("content is required for state 'set' and only for it")
        name = (member_name.strip() or "unknown")[:MAX_NAME_CHARS]
        what = (action.strip() or "changed")[:MAX_ACTION_CHARS]
        when = to_db_time(at if at is not None else utc_now())
        # The lock keeps two processes from numbering the same version of a question.
        async with self._store.transaction(lock=f"question:{question_id}") as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT coalesce(max(version), 0) FROM question_versions WHERE question_id = ?",
                    (question_id,),
                )
            )
            version = int(rows[0][0]) + 1
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO question_versions (question_id, version, state, content, file,"
                    " topic, member_id, member_name, guild_id, created_at, action)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                    (
                        question_id,
                        version,
                        state,
                        content,
                        file,
                        topic,
                        member_id,
                        name,
                        guild_id,
                        when,
                        what,
                    ),
                )
            )
            await self._store.notify(conn, CHANGES_CHANNEL, f"question {question_id}")
        return _from_row(rows[0])

    async def latest(self) -> list[QuestionVersion]:
        """The latest version of every question that has one, oldest change first."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM question_versions AS v"
                " WHERE version = (SELECT max(version) FROM question_versions"
                " WHERE question_id = v.question_id) ORDER BY id"
            )
        return [_from_row(row) for row in rows]

    async def all(self) -> list[QuestionVersion]:
        """Every version of every question, oldest first."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM question_versions ORDER BY id"
            )
        return [_from_row(row) for row in rows]

    async def after(self, question_id: str, version: int) -> list[QuestionVersion]:
        """The versions of ``question_id`` above ``version`` (by any process), oldest first.
        Versions of one question commit in order (see :meth:`append`), so none is skipped."""
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM question_versions WHERE question_id = ? AND version > ?"
                " ORDER BY version",
                (question_id, version),
            )
        return [_from_row(row) for row in rows]

    async def history(
        self, question_id: str, *, limit: int = 25, offset: int = 0
    ) -> list[QuestionVersion]:
        """Versions of ``question_id``, newest first."""
        check_page(limit, offset)
        async with self._store.read() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM question_versions WHERE question_id = ?"
                " ORDER BY version DESC LIMIT ? OFFSET ?",
                (question_id, limit, offset),
            )
        return [_from_row(row) for row in rows]

    async def get(self, question_id: str, version: int) -> QuestionVersion | None:
        """One version of a question, or None."""
        async with self._store.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    f"SELECT {_COLUMNS} FROM question_versions"
                    " WHERE question_id = ? AND version = ?",
                    (question_id, version),
                )
            )
        return _from_row(rows[0]) if rows else None

    async def count(self, question_id: str | None = None) -> int:
        """How many versions are stored (of ``question_id`` if given)."""
        async with self._store.read() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "SELECT count(*) FROM question_versions"
                    " WHERE (CAST(? AS TEXT) IS NULL OR question_id = ?)",
                    (question_id, question_id),
                )
            )
        return int(rows[0][0])


def _from_row(row: Any) -> QuestionVersion:
    return QuestionVersion(
        id=row["id"],
        question_id=row["question_id"],
        version=row["version"],
        state=row["state"],
        content=row["content"],
        file=row["file"],
        topic=row["topic"],
        member_id=row["member_id"],
        member_name=row["member_name"],
        guild_id=row["guild_id"],
        created_at=from_db_time(row["created_at"]),
        action=row["action"],
    )
