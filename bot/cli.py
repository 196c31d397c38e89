"""Command line: ``stampy [run | console | ask | check | eval | stamps | export | import]``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.console import Console, render_reply, reply_to_json
from bot.knowledge.abstain import ModelError, load_model
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Matcher
from bot.service import Service, build_service


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
    evaluate.add_argument(
        "--folds",
        type=int,
        metavar="N",
        help="fit the abstention model on N-1 folds of the queries and score the one left out",
    )
    evaluate.add_argument(
        "--model", metavar="FILE", help="decide with this model file (from stampy calibrate)"
    )
    calibrate = commands.add_parser(
        "calibrate", help="fit the model that decides when to answer, from labelled questions"
    )
    calibrate.add_argument(
        "--labelled",
        action="append",
        default=[],
        metavar="FILE",
        help="questions with expected ids (the eval format); may be repeated",
    )
    calibrate.add_argument(
        "--feedback",
        action="append",
        default=[],
        metavar="FILE",
        help='JSON lines {"query": ..., "question": ID, "right": true|false}; may be repeated',
    )
    calibrate.add_argument(
        "--database",
        action="store_true",
        help="also learn from the database: did-you-mean picks and merged questions",
    )
    calibrate.add_argument(
        "--benchmark",
        nargs=2,
        metavar=("KB", "QUERIES"),
        help="fit one model per track of a FAQ benchmark instead",
    )
    calibrate.add_argument(
        "--out", metavar="FILE", help="where to write the model (default: beside the answers)"
    )
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
        return _eval(settings, args)
    if command == "calibrate":
        from bot.calibration import run_calibrate

        return run_calibrate(
            settings,
            labelled=args.labelled,
            feedback=args.feedback,
            database=args.database,
            benchmark=tuple(args.benchmark) if args.benchmark else None,
            out_path=args.out,
            out=sys.stdout,
            err=sys.stderr,
        )
    if command in ("export", "import"):
        from bot.curation_cli import run_export, run_import

        return (run_export if command == "export" else run_import)(settings, args.directory)
    if command == "stamps":
        from bot.stamps_cli import stamps_command

        return stamps_command(settings, sys.stdout, sys.stderr, top=args.top, user=args.user)
    if command == "run":
        return _run(settings)
    service = _service(settings)
    from bot.curation_cli import apply_stored_changes

    apply_stored_changes(settings, service.knowledge)  # answer as the bot does
    if command == "ask":
        reply = service.ask(" ".join(args.question))
        if args.json:
            print(json.dumps(reply_to_json(reply), ensure_ascii=False, indent=2))
        else:
            print(render_reply(reply))
        return 0
    return Console(service, sys.stdout).run()


def _service(settings: Settings) -> Service:
    try:
        service, result = build_service(settings)
    except ModelError as error:
        print(f"stampy: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    for error in result.errors:
        print(f"stampy: warning: {error}", file=sys.stderr)
    if result.rejected_files:
        print(
            f"stampy: warning: left out {len(result.rejected_files)} file(s) with errors; "
            "run 'stampy check' for details",
            file=sys.stderr,
        )
    return service


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


def _eval(settings: Settings, args: argparse.Namespace) -> int:
    from bot.evaluation import (
        Benchmark,
        BenchmarkError,
        bootstrap,
        format_table,
        load_benchmark_kb,
        load_models,
        load_queries,
        score,
    )

    if args.folds is not None and args.model:
        print("stampy: --folds fits its own models; leave out --model", file=sys.stderr)
        return 2
    try:
        model = load_models(args.model) if args.model else None
        if model is None:
            default = load_model(settings.matching.model, settings.knowledge.answers_dir)
        else:
            default = None if isinstance(model, dict) else model
        bench = Benchmark(
            load_benchmark_kb(args.kb),
            load_queries(args.queries),
            lambda: Matcher(settings.matching, model=default),
        )
        if args.folds is not None:
            predictions = bench.cross_validate(args.folds)
        else:
            models = model if isinstance(model, dict) else None
            if models is not None and (missing := set(bench.tracks) - set(models)):
                raise BenchmarkError(
                    f"{args.model}: no model for track(s) {', '.join(sorted(missing))}"
                )
            predictions = bench.predict(models)
    except (BenchmarkError, ModelError) as error:
        print(f"stampy: {error}", file=sys.stderr)
        return 2
    if args.predictions:
        out = Path(args.predictions)
        with out.open("w", encoding="utf-8") as handle:
            for prediction in predictions:
                handle.write(json.dumps(prediction.to_json(), ensure_ascii=False) + "\n")
    print(format_table(score(predictions), bootstrap(predictions)))
    if args.folds is not None:
        print(f"(out of fold: each fold decided by a model fitted on the other {args.folds - 1})")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(settings: Settings) -> int:
    """Run the Discord bot until SIGTERM/SIGINT; 2 for a missing or rejected token."""
    import asyncio
    import logging
    import os

    import discord

    from bot.discord.client import Endpoints, serve
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
        service = _service(settings)
    except KeyboardInterrupt:
        logging.getLogger(__name__).info("stopped while loading the knowledge base")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    endpoints = Endpoints.from_env(os.environ)
    try:
        asyncio.run(serve(settings, service, settings.token, endpoints))
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
