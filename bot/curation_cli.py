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

from bot.app import App, Database
from bot.config import Settings
from bot.curation import ImportReport, Refused
from bot.knowledge.loader import load_directory
from bot.store import StoreError

__all__ = ["run_export", "run_import"]


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

    async def export() -> list[Path]:
        async with App.open(settings, database=Database.EXISTING_OR_MEMORY) as app:
            assert app.curator is not None
            return app.curator.export(directory)

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
        async with App.open(settings) as app:
            assert app.curator is not None
            return await app.curator.import_directory(directory, prune=prune, dry_run=dry_run)

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
