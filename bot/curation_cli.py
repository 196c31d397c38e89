"""``stampy export DIR`` and ``stampy import DIR``: the knowledge base as reviewable YAML.

``export`` writes the knowledge base the bot serves (the files in ``answers/`` plus the
changes moderators made on Discord, stored in the database) as YAML files in DIR, in the
layout of :mod:`bot.knowledge.writer`. ``import`` makes the database's overlay hold DIR's
questions, so the bot serves exactly DIR (after a restart or ``/stampy reload``).
Export, import and export again gives identical files.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TextIO

from bot.config import Settings
from bot.curation import Curator, ImportReport, Refused
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Matcher
from bot.store import Store, StoreError
from bot.store.db import MEMORY

__all__ = ["apply_stored_changes", "run_export", "run_import"]


async def _curator(settings: Settings, store: Store) -> Curator:
    """A curator on the answers files and ``store``, started (stored changes applied)."""
    result = load_directory(settings.knowledge.answers_dir)
    knowledge = KnowledgeBase(Matcher(settings.matching), result.questions)
    curator = Curator(knowledge, store, settings.knowledge.answers_dir)
    await curator.start()
    return curator


def _check_answers(settings: Settings, err: TextIO) -> bool:
    """False (errors printed) if the answers files do not all load."""
    result = load_directory(settings.knowledge.answers_dir)
    for error in result.errors:
        print(error, file=err)
    if result.errors:
        print(
            f"stampy: {settings.knowledge.answers_dir} has {len(result.errors)} error(s); "
            "fix them first (see 'stampy check')",
            file=err,
        )
    return not result.errors


def run_export(
    settings: Settings, directory: str, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Write the whole knowledge base into ``directory``; the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    if not _check_answers(settings, err):
        return 1

    database = settings.database.location
    if not settings.database.shared and not os.path.exists(database):
        # nothing stored: the files alone (creating no file)
        print(f"stampy: no database at {database}; exporting the answers files", file=err)
        database = MEMORY

    async def export() -> list[Path]:
        store = await Store.open(database)
        try:
            curator = await _curator(settings, store)
            return curator.export(directory)
        finally:
            await store.close()

    try:
        written = asyncio.run(export())
    except Refused as error:
        print(f"stampy: cannot export: {error}", file=err)
        return 1
    except (StoreError, OSError) as error:  # the database or DIR cannot be used: as 'stamps'
        print(f"stampy: cannot export: {error}", file=err)
        return 2
    for path in written:
        print(path, file=out)
    if written:
        print(f"wrote {len(written)} file(s) to {directory}; the others were up to date", file=out)
    else:
        print(f"nothing to write: {directory} already holds the knowledge base", file=out)
    return 0


def run_import(
    settings: Settings,
    directory: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    prune: bool = False,
    dry_run: bool = False,
) -> int:
    """Load ``directory``'s YAML files into the database; the exit status.

    Prints the plan (added, changed, removed). Questions the directory does not hold are
    removed only with ``prune``; ``dry_run`` changes nothing."""
    out, err = out or sys.stdout, err or sys.stderr
    if not Path(directory).is_dir():
        state = "does not exist" if not Path(directory).exists() else "is not a directory"
        print(f"stampy: {directory} {state}", file=err)
        return 2
    if not load_directory(directory).files:
        print(f"stampy: {directory} holds no .yaml files: nothing to import", file=err)
        return 2
    if not _check_answers(settings, err):
        return 1

    async def load() -> ImportReport:
        store = await Store.open(settings.database.location)
        try:
            curator = await _curator(settings, store)
            return await curator.import_directory(directory, prune=prune, dry_run=dry_run)
        finally:
            await store.close()

    try:
        report = asyncio.run(load())
    except (StoreError, OSError) as error:  # the database cannot be used: as 'stamps'
        print(f"stampy: cannot import: {error}", file=err)
        return 2
    for error in report.errors:
        print(error, file=out)
    if report.errors:
        print(f"stampy: {len(report.errors)} error(s) in {directory}; nothing imported", file=err)
        return 1
    plan = report.plan
    head = "would import" if dry_run else "imported"
    print(f"{head} {directory}: {plan}", file=out)
    for label, ids in (("added", plan.added), ("changed", plan.changed), ("removed", plan.removed)):
        if ids:
            print(f"  {label}: {_listed(ids)}", file=out)
    if report.kept:
        print(
            f"  kept {len(report.kept)} question(s) that {directory} does not hold: "
            f"{_listed(report.kept)}; add --prune to remove them",
            file=out,
        )
    if dry_run:
        print("dry run: nothing was changed", file=out)
    elif plan:
        print(
            f"{report.versions} change(s) recorded; restart the bot or run /stampy reload "
            "to serve them",
            file=out,
        )
    return 0


def _listed(ids: tuple[str, ...], limit: int = 12) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def apply_stored_changes(settings: Settings, knowledge: KnowledgeBase) -> None:
    """Apply the changes stored in the database (if there is one) to ``knowledge``, so that
    the console answers as the bot does. Quietly does nothing without a database."""
    if not settings.database.shared and not os.path.exists(settings.database.path):
        return

    async def apply() -> None:
        store = await Store.open(settings.database.location)
        try:
            await Curator(knowledge, store, settings.knowledge.answers_dir).start()
        finally:
            await store.close()

    try:
        asyncio.run(apply())
    except StoreError as error:
        print(f"stampy: warning: stored changes not applied: {error}", file=sys.stderr)
