"""``stampy stamps``: reputation and stamps from the database, in the terminal.

The same :class:`~bot.stamps.StampBook` the bot uses reads the database the bot writes, so
the numbers are those ``/stamps show`` and ``/stamps top`` give on Discord (people appear by
user id: there is no Discord connection to look names up).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path
from typing import TextIO

from bot.app import App, Database
from bot.config import Settings
from bot.store import MIGRATIONS, StoreError
from bot.store.db import redact_url
from bot.store.pg_migrations import PG_MIGRATIONS
from bot.store.postgres import stored_version
from bot.store.sqlite import describe_open_failure

#: The first schema with stamp tables.
STAMPS_SCHEMA = 2


def stamps_command(
    settings: Settings, out: TextIO, err: TextIO, *, top: int, user: int | None
) -> int:
    """Print the leaderboard (``top`` rows) or one user's stamps; the exit status."""
    path = settings.database.path
    if settings.database.url:
        path = redact_url(settings.database.url)
        try:  # read the schema without migrating, as for a file below
            version = asyncio.run(stored_version(settings.database.url))
        except StoreError as error:
            print(f"stampy: {error}", file=err)
            return 2
    else:
        if not os.path.exists(path):
            print(
                f"stampy: no database at {path} (the bot creates it when it first runs)",
                file=err,
            )
            return 2
        # A report must not change the file: read its schema first, and open it at that
        # schema (no migration); a database from before stamps, or not Stampy's, is left
        # alone.
        try:
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as error:
            print(f"stampy: {describe_open_failure(path, error)}", file=err)
            return 2
    if version < STAMPS_SCHEMA:
        print(
            f"stampy: {path} holds no stamps (schema {version}; stamps arrive with schema "
            f"{STAMPS_SCHEMA}, when the bot next runs on it)",
            file=err,
        )
        return 2
    try:
        text = asyncio.run(_report(settings, version, top=top, user=user))
    except StoreError as error:
        print(f"stampy: {error}", file=err)
        return 2
    if text is None:
        print(
            f"stampy: user {user} has given and received no stamps (is it their Discord user "
            "id? 'stampy stamps' lists the leaderboard)",
            file=err,
        )
        return 1
    print(text, file=out)
    return 0


async def _report(settings: Settings, version: int, *, top: int, user: int | None) -> str | None:
    """The report; None for a ``user`` the stamps know nothing about."""
    schema = (PG_MIGRATIONS if settings.database.url else MIGRATIONS)[:version]
    async with App.open(
        settings, database=Database.EXISTING, curate=False, migrations=schema
    ) as app:
        book = app.stamps
        assert book is not None
        if user is not None:
            found = book.user(user)
            if not (found.received_by_emoji or found.given_by_emoji or user in book.roots):
                return None
            return (
                f"{user}: worth {found.score:.2f} stamps; received {found.received}"
                f" ({_by_emoji(found.received_by_emoji)}), gave {found.given}"
                f" ({_by_emoji(found.given_by_emoji)})"
            )
        stamped = book.stamped_answers()
        lines = [
            f"{await book.records.count()} stamps stored; {len(stamped)} answers stamped; "
            f"{len(book.roots)} roots of trust"
        ]
        board = book.leaderboard(top)
        if not board:
            lines.append("Nobody has a stamp score yet.")
        else:
            lines.append("Stamp leaderboard (reputation, as stamps worth):")
            width = len(str(len(board)))
            lines += [
                f"{rank:>{width}}. {person}  {score:.2f}"
                for rank, (person, score) in enumerate(board, 1)
            ]
        if stamped:
            lines.append("Most stamped answers:")
            best = sorted(stamped.items(), key=lambda pair: (-pair[1], pair[0]))[:top]
            lines += [f"  {answer_id}  {count}" for answer_id, count in best]
        return "\n".join(lines)


def _by_emoji(counts: dict[str, int]) -> str:
    return ", ".join(f"{emoji} x{count}" for emoji, count in sorted(counts.items())) or "none"
