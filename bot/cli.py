"""Command line: ``stampy [run | console | ask | check | eval | stamps | export | import]``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app import App, Database, load_knowledge
from bot.config import ConfigError, Settings, load_settings
from bot.console import Console, render_reply, reply_to_json
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import LoadResult, load_directory
from bot.knowledge.matcher import Matcher
from bot.service import Service


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stampy",
        description="Answer questions from a curated knowledge base, on Discord or here.",
        epilog="With no command: runs the bot when DISCORD_TOKEN is set, else the console.",
    )
    parser.add_argument(
        "--config", metavar="PATH", help="settings file (default: $STAMPY_CONFIG, else defaults)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the Discord bot (needs DISCORD_TOKEN)")
    commands.add_parser("console", help="ask questions in an interactive terminal session")
    ask = commands.add_parser("ask", help="answer one question and exit")
    ask.add_argument("question", nargs="+", help="the question (quote it or not)")
    ask.add_argument("--json", action="store_true", help="print the reply as JSON")
    check = commands.add_parser("check", help="validate the knowledge-base files")
    check.add_argument("directory", nargs="?", help="directory of YAML files (default: config)")
    evaluate = commands.add_parser("eval", help="score the matcher on a FAQ benchmark")
    evaluate.add_argument("kb", help="benchmark knowledge base (YAML with 'entries')")
    evaluate.add_argument("queries", help="labelled queries (JSON lines)")
    evaluate.add_argument("--predictions", metavar="OUT", help="write one JSON line per query")
    export = commands.add_parser(
        "export", help="write the knowledge base (files plus Discord edits) as YAML files"
    )
    export.add_argument("directory", help="where to write the YAML files")
    load = commands.add_parser(
        "import", help="make the database serve a directory of YAML files (see export)"
    )
    load.add_argument("directory", help="directory of YAML files")
    stamps = commands.add_parser("stamps", help="stamp scores and leaderboard from the database")
    stamps.add_argument("--top", type=int, default=10, metavar="N", help="leaderboard rows")
    stamps.add_argument("--user", type=int, metavar="ID", help="one user's score and stamps")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stampy`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(f"stampy: {error}", file=sys.stderr)
        return 2
    command = args.command
    if command is None:
        command = "run" if settings.token else "console"
    if command == "check":
        return _check(args.directory or settings.knowledge.answers_dir)
    if command == "eval":
        return _eval(settings, args.kb, args.queries, args.predictions)
    if command in ("export", "import"):
        from bot.curation_cli import run_export, run_import

        return (run_export if command == "export" else run_import)(settings, args.directory)
    if command == "stamps":
        from bot.stamps_cli import stamps_command

        return stamps_command(settings, sys.stdout, sys.stderr, top=args.top, user=args.user)
    if command == "run":
        return _run(settings)
    service = _answering_service(settings)
    if command == "ask":
        reply = service.ask(" ".join(args.question))
        if args.json:
            print(json.dumps(reply_to_json(reply), ensure_ascii=False, indent=2))
        else:
            print(render_reply(reply))
        return 0
    return Console(service, sys.stdout).run()


def _knowledge(settings: Settings) -> tuple[KnowledgeBase, LoadResult]:
    """The knowledge base of the answers files; files with errors are named and left out."""
    knowledge, result = load_knowledge(settings)
    for error in result.errors:
        print(f"stampy: warning: {error}", file=sys.stderr)
    if result.rejected_files:
        print(
            f"stampy: warning: left out {len(result.rejected_files)} file(s) with errors; "
            "run 'stampy check' for details",
            file=sys.stderr,
        )
    return knowledge, result


def _answering_service(settings: Settings) -> Service:
    """The service the console and ``ask`` use: the answers files with the edits and stamps
    stored in the bot's database (if there is one), so that it answers as the bot does. It
    records nothing and creates no database; the app is closed once built (answering needs
    only what is in memory)."""
    import asyncio

    from bot.store import StoreError

    loaded = _knowledge(settings)

    async def build() -> Service:
        opening = App.open(settings, database=Database.EXISTING, record=False, knowledge=loaded)
        async with opening as app:
            return app.service

    try:
        return asyncio.run(build())
    except StoreError as error:
        print(f"stampy: warning: stored changes not applied: {error}", file=sys.stderr)
        return App.offline(settings, knowledge=loaded).service


def _check(directory: str) -> int:
    result = load_directory(directory)
    for error in result.errors:
        print(error)
    knowledge = KnowledgeBase(Matcher(), result.questions)
    accepted = len(result.files) - len(result.rejected_files)
    print(f"{directory}: {accepted} of {len(result.files)} file(s) valid; {knowledge.summary()}")
    if result.errors:
        print(f"{len(result.errors)} error(s) found", file=sys.stderr)
        return 1
    return 0


def _eval(settings: Settings, kb: str, queries: str, predictions_path: str | None) -> int:
    from bot.evaluation import (
        BenchmarkError,
        format_table,
        load_benchmark_kb,
        load_queries,
        run_benchmark,
        score,
    )

    try:
        tracks = load_benchmark_kb(kb)
        labelled = load_queries(queries)
        predictions = run_benchmark(tracks, labelled, lambda: Matcher(settings.matching))
    except BenchmarkError as error:
        print(f"stampy: {error}", file=sys.stderr)
        return 2
    if predictions_path:
        out = Path(predictions_path)
        with out.open("w", encoding="utf-8") as handle:
            for prediction in predictions:
                handle.write(json.dumps(prediction.to_json(), ensure_ascii=False) + "\n")
    print(format_table(score(predictions)))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(settings: Settings) -> int:
    """Run the Discord bot until SIGTERM/SIGINT; 2 for a missing or rejected token."""
    import asyncio
    import logging
    import os

    import discord

    from bot.discord.run import Endpoints, serve
    from bot.store import StoreError

    if not settings.token:
        print(
            "stampy: DISCORD_TOKEN is not set. Set it to your bot's token to run on Discord, "
            "or use 'stampy console' to try the bot here.",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Until serve() takes over the signals, SIGTERM stops the loading as Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        loaded = _knowledge(settings)
    except KeyboardInterrupt:
        logging.getLogger(__name__).info("stopped while loading the knowledge base")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    endpoints = Endpoints.from_env(os.environ)
    try:
        asyncio.run(serve(lambda: App.open(settings, knowledge=loaded), settings.token, endpoints))
    except discord.LoginFailure:
        print(
            "stampy: Discord rejected the token in DISCORD_TOKEN; check that it is the bot "
            "token from the Developer Portal.",
            file=sys.stderr,
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        print(
            "stampy: the Message Content intent is not enabled for this bot; enable it in the "
            "Developer Portal (Bot > Privileged Gateway Intents).",
            file=sys.stderr,
        )
        return 2
    except StoreError as error:
        print(f"stampy: cannot open the database: {error}", file=sys.stderr)
        return 2
    except (OSError, discord.GatewayNotFound, discord.ConnectionClosed) as error:
        print(f"stampy: cannot connect to Discord: {type(error).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
