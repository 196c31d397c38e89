"""``stampy migrate-db --from DB --to DB``: move a community's database to another backend.

Typically from the SQLite file a single process used to the PostgreSQL database several
processes will share. Stop the bot first: what it writes meanwhile would not be copied.
"""

from __future__ import annotations

import asyncio
import os
from typing import TextIO

from bot.store import Store, StoreError
from bot.store.db import is_postgres_url, redact_url
from bot.store.transfer import CopyMismatch, TableCopy, copy_database, parse_location


def migrate_db(source: str, target: str, out: TextIO, err: TextIO) -> int:
    """Copy ``source`` into the empty ``target``, print the verification; the exit status."""
    try:
        origin, destination = parse_location(source), parse_location(target)
    except ValueError as error:
        print(f"stampy: {error}", file=err)
        return 2
    if not is_postgres_url(origin) and not os.path.isfile(origin):
        print(f"stampy: no database at {origin}", file=err)
        return 2
    if origin == destination:
        print("stampy: --from and --to name the same database", file=err)
        return 2
    try:
        copies = asyncio.run(_copy(origin, destination, err))
    except CopyMismatch as error:
        _table(error.copies, out)
        print(f"stampy: {error}", file=err)
        return 1
    except StoreError as error:
        print(f"stampy: {error}", file=err)
        return 1
    _table(copies, out)
    total = sum(c.target_rows for c in copies)
    print(
        f"copied {total} rows from {_name(origin)} to {_name(destination)}; every table has "
        "the same rows and checksum on both sides",
        file=out,
    )
    return 0


async def _copy(origin: str, destination: str, err: TextIO) -> list[TableCopy]:
    async with await Store.open(origin) as source, await Store.open(destination) as target:
        return await copy_database(source, target, progress=lambda line: print(line, file=err))


def _name(location: str) -> str:
    return redact_url(location) if is_postgres_url(location) else location


def _table(copies: list[TableCopy], out: TextIO) -> None:
    width = max(len(c.table) for c in copies)
    print(f"{'table':<{width}}  {'rows':>8}  {'copied':>8}  checksum (sha256)", file=out)
    for c in copies:
        mark = "" if c.same else f"  DIFFERS (copy: {c.target_checksum[:16]})"
        counts = f"{c.source_rows:>8}  {c.target_rows:>8}"
        print(f"{c.table:<{width}}  {counts}  {c.source_checksum[:16]}{mark}", file=out)
