"""Command line: ``stampy [run | web | console | ask | check | eval | calibrate | stamps |
export | import | migrate-db]``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from bot import __version__
from bot.app import App, Database, load_knowledge
from bot.config import ConfigError, Settings, load_settings
from bot.console import HELP, Console, line_reader, render_reply, reply_to_json
from bot.knowledge.abstain import ModelError, load_model
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import LoadResult, load_directory
from bot.knowledge.matcher import Matcher
from bot.knowledge.reach import unreachable_phrasings
from bot.logs import LOG_FORMATS, LOG_LEVELS, configure_logging
from bot.service import Service

#: Exit statuses, the same for every command (the README's table lists them).
OK = 0
#: The command ran but found problems (``check``), refused (nothing was changed), or
#: failed on the way (``run`` cannot reach Discord).
FAILED = 1
#: It could not start: a bad option or config, no knowledge base, a database it cannot
#: open, an output file it cannot write.
CANNOT_START = 2
#: Interrupted with Ctrl-C.
INTERRUPTED = 130
#: Whoever read the output stopped early (``stampy ask ... | head -1``): quiet, as ``cat``.
OUTPUT_CLOSED = 141


class CommandError(Exception):
    """Stops a command with one ``stampy: ...`` line on stderr and an exit status."""

    def __init__(self, message: str, status: int = CANNOT_START) -> None:
        super().__init__(message)
        self.status = status


def _version() -> str:
    from importlib import metadata  # (a tenth of a start's imports, for --version only)

    try:
        return metadata.version("stampy")
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return __version__


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before or after the command (SUPPRESS: an option given after the
    # command is not overwritten by the main parser's default).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="settings file (default: $STAMPY_CONFIG, else the defaults)",
    )
    parser = argparse.ArgumentParser(
        prog="stampy",
        parents=[common],
        description="Answer questions from a curated knowledge base, on Discord or here.",
        epilog="With no command: runs the bot when DISCORD_TOKEN is set, else the console.",
    )
    parser.add_argument("--version", action="version", version=f"stampy {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, **kwargs: object) -> argparse.ArgumentParser:
        kwargs.setdefault("parents", [common])
        return commands.add_parser(name, help=help, **kwargs)  # type: ignore[arg-type]

    logging_options = argparse.ArgumentParser(add_help=False)
    logging_options.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="log lines as text (default) or one JSON object per line",
    )
    logging_options.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="least severe level logged"
    )
    run = command(
        "run",
        "run the Discord bot (needs DISCORD_TOKEN); with [web] with_bot, the web site too",
        parents=[common, logging_options],
    )
    run.add_argument(
        "--shard-ids",
        metavar="IDS",
        help="run only these shards, e.g. 0,1 (other processes run the others; needs a "
        "shared PostgreSQL database)",
    )
    run.add_argument(
        "--shard-count", type=int, metavar="N", help="how many shards the bot has in all"
    )
    command(
        "web",
        "serve the read-only web site and JSON API ([web] host and port)",
        parents=[common, logging_options],
    )
    command(
        "console",
        "ask questions in an interactive terminal session",
        description="Ask questions interactively. Besides questions, it takes:\n" + HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ask = command("ask", "answer one question and exit")
    ask.add_argument("question", nargs="+", help="the question (quote it or not)")
    ask.add_argument("--json", action="store_true", help="print the reply as JSON")
    check = command("check", "validate the knowledge-base files")
    check.add_argument(
        "directory",
        nargs="?",
        help="directory of YAML files (default: the answers_dir setting, 'answers')",
    )
    evaluate = command("eval", "score the matcher on a FAQ benchmark")
    evaluate.add_argument("kb", help="benchmark knowledge base (YAML with 'entries')")
    evaluate.add_argument("queries", help="labelled queries (JSON lines)")
    evaluate.add_argument("--predictions", metavar="OUT", help="write one JSON line per query")
    evaluate.add_argument(
        "--folds",
        type=_positive,
        metavar="N",
        help="fit the answering model on N-1 folds of the queries and score the one left out",
    )
    evaluate.add_argument(
        "--model", metavar="FILE", help="decide with this model file (from stampy calibrate)"
    )
    evaluate.add_argument(
        "--semantic",
        action="store_true",
        help="use the semantic tier (needs stampy[semantic]), as [matching] semantic = true",
    )
    evaluate.add_argument(
        "--track",
        action="append",
        metavar="NAME",
        help="score only this track of the benchmark (may be repeated; default: every track)",
    )
    calibrate = command(
        "calibrate", "fit the model that decides when to answer, from labelled questions"
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
    export = command("export", "write the knowledge base (files plus Discord edits) as YAML files")
    export.add_argument("directory", help="where to write the YAML files")
    load = command(
        "import",
        "make the database serve a directory of YAML files (see export)",
        description=(
            "Show the plan (questions added, changed, removed) and carry it out. Questions "
            "the directory does not hold are kept unless --prune is given."
        ),
    )
    load.add_argument("directory", help="directory of YAML files")
    load.add_argument(
        "--prune",
        "--yes",
        action="store_true",
        help="also remove the questions the directory does not hold",
    )
    load.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    stamps = command("stamps", "stamp scores and leaderboard from the database")
    stamps.add_argument(
        "--top", type=_positive, default=10, metavar="N", help="leaderboard rows (default: 10)"
    )
    stamps.add_argument("--user", type=_positive, metavar="ID", help="one user's score and stamps")
    migrate = command("migrate-db", "copy the database into an empty one (e.g. to PostgreSQL)")
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="DB", help="sqlite:///PATH"
    )
    migrate.add_argument(
        "--to", dest="target", required=True, metavar="DB", help="postgresql://... (empty)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stampy`` command; returns the exit status."""
    try:
        return _main(argv)
    except CommandError as error:
        print(f"stampy: {error}", file=sys.stderr)
        return error.status
    except BrokenPipeError:
        _silence_stdout()
        return OUTPUT_CLOSED
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing more."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture it)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as error:
        raise CommandError(str(error)) from None
    command = args.command
    if command is None:
        command = "run" if settings.token else "console"
    if command == "check":
        return _check(args.directory, settings)
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

        _require_directory(settings)
        if command == "export":
            return run_export(settings, args.directory)
        return run_import(settings, args.directory, prune=args.prune, dry_run=args.dry_run)
    if command == "stamps":
        from bot.stamps_cli import stamps_command

        return stamps_command(settings, sys.stdout, sys.stderr, top=args.top, user=args.user)
    if command == "migrate-db":
        from bot.transfer_cli import migrate_db

        return migrate_db(args.source, args.target, sys.stdout, sys.stderr)
    if command == "run":
        return _run(
            settings,
            getattr(args, "log_format", "text"),
            getattr(args, "log_level", "info"),
            getattr(args, "shard_ids", None),
            getattr(args, "shard_count", None),
        )
    if command == "web":
        return _web(settings, args.log_format, args.log_level)
    service = _answering_service(settings)
    if command == "ask":
        reply = service.ask(" ".join(args.question))
        if args.json:
            print(json.dumps(reply_to_json(reply), ensure_ascii=False, indent=2))
        else:
            print(render_reply(reply))
        return OK
    return Console(service, sys.stdout, line_reader()).run()


def _where(settings: Settings) -> str:
    """How to point stampy at a knowledge base, for the messages below."""
    if settings.source is None:
        return (
            "run stampy from the folder that holds answers/, or set [knowledge] answers_dir "
            "in a config file named with --config PATH or STAMPY_CONFIG"
        )
    return f"set [knowledge] answers_dir in {settings.source} to the folder of YAML files"


def _require_directory(settings: Settings) -> None:
    """Stop unless the knowledge base's directory exists."""
    directory = settings.knowledge.answers_dir
    if not os.path.isdir(directory):
        state = "does not exist" if not os.path.exists(directory) else "is not a directory"
        raise CommandError(
            f"no knowledge base: {os.path.abspath(directory)} {state}; {_where(settings)}"
        )


def _require_questions(settings: Settings, result: LoadResult) -> None:
    """Stop unless the knowledge base's directory holds questions to answer from."""
    _require_directory(settings)
    directory = os.path.abspath(settings.knowledge.answers_dir)
    if not result.files:
        raise CommandError(
            f"no knowledge base: {directory} holds no .yaml files; {_where(settings)}"
        )
    if not result.questions:
        raise CommandError(
            f"no knowledge base: no question in {directory} could be loaded "
            f"({len(result.rejected_files)} of {len(result.files)} file(s) with errors); "
            "run 'stampy check' for details"
        )


def _knowledge(settings: Settings) -> tuple[KnowledgeBase, LoadResult]:
    """The knowledge base of the answers files (files with errors are named and left out);
    stops if there is nothing to serve."""
    _require_directory(settings)
    try:
        knowledge, result = load_knowledge(settings)
    except ModelError as error:
        raise CommandError(str(error)) from None
    for error in result.errors:
        print(f"stampy: warning: {error}", file=sys.stderr)
    _require_questions(settings, result)
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


def _check(directory: str | None, settings: Settings) -> int:
    if directory is None:
        _require_directory(settings)
        directory = settings.knowledge.answers_dir
    elif not os.path.isdir(directory):
        state = "does not exist" if not os.path.exists(directory) else "is not a directory"
        raise CommandError(f"{directory} {state}")
    result = load_directory(directory)
    if not result.files:
        raise CommandError(f"{directory} holds no .yaml files: nothing to check")
    for error in result.errors:
        print(error)
    try:
        model = load_model(settings.matching.model, directory)
    except ModelError as error:
        raise CommandError(str(error)) from None
    knowledge = KnowledgeBase(
        Matcher(settings.matching, model=model), result.questions, result.tags
    )
    unreachable = unreachable_phrasings(knowledge.matcher, knowledge)
    for phrasing in unreachable:
        print(f"warning: {phrasing}")
    for warning in knowledge.tag_warnings():
        print(f"warning: {warning}")
    accepted = len(result.files) - len(result.rejected_files)
    print(f"{directory}: {accepted} of {len(result.files)} file(s) valid; {knowledge.summary()}")
    if unreachable:
        print(
            f"{len(unreachable)} phrasing(s) do not reach their own question when asked as "
            "they are stored; reword or remove them",
            file=sys.stderr,
        )
    if result.errors:
        print(f"{len(result.errors)} error(s) found", file=sys.stderr)
        return FAILED
    return OK


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
        raise CommandError("--folds fits its own models; leave out --model")
    predictions_path = args.predictions
    if predictions_path:  # before the work, not after it
        _check_writable(predictions_path)
    try:
        model = load_models(args.model) if args.model else None
        if model is None:
            default = load_model(settings.matching.model, settings.knowledge.answers_dir)
        else:
            default = None if isinstance(model, dict) else model
        make_index = None
        if args.semantic or settings.matching.semantic:
            from bot.knowledge import semantic

            if (reason := semantic.unavailable()) is not None:
                raise CommandError(reason)
            make_index = semantic.index_factory(settings.matching.semantic_cache)
        tracks, queries = load_benchmark_kb(args.kb), load_queries(args.queries)
        if args.track:
            unknown = sorted(set(args.track) - set(tracks))
            if unknown:
                raise BenchmarkError(
                    f"{args.kb}: no track {', '.join(map(repr, unknown))} (it has "
                    f"{', '.join(sorted(tracks))})"
                )
            tracks = {name: entries for name, entries in tracks.items() if name in args.track}
            queries = [query for query in queries if query.track in args.track]
        bench = Benchmark(
            tracks,
            queries,
            lambda: Matcher(
                settings.matching,
                model=default,
                semantic=make_index() if make_index else None,
            ),
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
        raise CommandError(str(error)) from None
    if predictions_path:
        try:
            with Path(predictions_path).open("w", encoding="utf-8") as handle:
                for prediction in predictions:
                    handle.write(json.dumps(prediction.to_json(), ensure_ascii=False) + "\n")
        except OSError as error:
            raise CommandError(
                f"cannot write the predictions to {predictions_path}: {error.strerror or error}"
            ) from None
    print(format_table(score(predictions), bootstrap(predictions)))
    if args.folds is not None:
        print(f"(out of fold: each fold decided by a model fitted on the other {args.folds - 1})")
    return OK


def _check_writable(path: str) -> None:
    """Stop unless a file can be written at ``path`` (without creating it)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        problem = "it is a directory"
    elif not os.path.isdir(folder):
        problem = f"the folder {folder} does not exist"
    elif not os.access(path if os.path.exists(path) else folder, os.W_OK):
        problem = "permission denied"
    else:
        return
    raise CommandError(f"cannot write the predictions to {path}: {problem}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(
    settings: Settings,
    log_format: str = "text",
    log_level: str = "info",
    shard_ids: str | None = None,
    shard_count: int | None = None,
) -> int:
    """Run the Discord bot until SIGTERM/SIGINT; 2 for a missing or rejected token, or shards
    that cannot be. With ``[web] with_bot``, the web site is served by the same process."""
    import asyncio
    import logging

    import discord

    from bot.discord.bot import Shards, StampyBot
    from bot.discord.run import Endpoints, event_loop_factory, serve
    from bot.store import StoreError
    from bot.web.serve import ListenError

    try:
        shards = Shards.parse(shard_ids, shard_count)
    except ValueError as error:
        print(f"stampy: {error}", file=sys.stderr)
        return CANNOT_START
    if shards.ids is not None and not settings.database.shared:
        print(
            "stampy: --shard-ids runs part of the bot in this process; the processes must share "
            "a PostgreSQL database ([database] url), not the SQLite file "
            f"{settings.database.path}",
            file=sys.stderr,
        )
        return CANNOT_START

    if not settings.token:
        print(
            "stampy: DISCORD_TOKEN is not set. Set it to your bot's token to run on Discord, "
            "or use 'stampy console' to try the bot here.",
            file=sys.stderr,
        )
        return CANNOT_START
    configure_logging(log_format, log_level)
    # Until serve() takes over the signals, SIGTERM stops the loading as Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        loaded = _knowledge(settings)
    except KeyboardInterrupt:
        logging.getLogger(__name__).info("stopped while loading the knowledge base")
        return OK
    finally:
        signal.signal(signal.SIGTERM, previous)
    endpoints = Endpoints.from_env(os.environ)
    site = None
    if settings.web.with_bot:
        from bot.web.serve import running_site

        def site(app: App, bot: StampyBot) -> AbstractAsyncContextManager[str]:
            return running_site(app, gateway=lambda: bot.gateway_connected)

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(
                serve(
                    lambda: App.open(settings, knowledge=loaded, follow=True),
                    settings.token,
                    endpoints,
                    shards=shards,
                    site=site,
                )
            )
    except discord.LoginFailure:
        print(
            "stampy: Discord rejected the token in DISCORD_TOKEN; check that it is the bot "
            "token from the Developer Portal.",
            file=sys.stderr,
        )
        return CANNOT_START
    except discord.PrivilegedIntentsRequired:
        print(
            "stampy: the Message Content intent is not enabled for this bot; enable it in the "
            "Developer Portal (Bot > Privileged Gateway Intents).",
            file=sys.stderr,
        )
        return CANNOT_START
    except StoreError as error:
        print(f"stampy: cannot open the database: {error}", file=sys.stderr)
        return CANNOT_START
    except ListenError as error:
        print(f"stampy: {error}", file=sys.stderr)
        return CANNOT_START
    except (OSError, discord.GatewayNotFound, discord.ConnectionClosed) as error:
        print(f"stampy: cannot connect to Discord: {type(error).__name__}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        pass
    return OK


def _web(settings: Settings, log_format: str, log_level: str) -> int:
    """Serve the web site until SIGTERM/SIGINT; 2 when it cannot start."""
    import asyncio
    import logging

    from bot.store import StoreError
    from bot.web.serve import ListenError, serve_web

    configure_logging(log_format, log_level)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        loaded = _knowledge(settings)
    except KeyboardInterrupt:
        return OK
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        # A site of its own records nothing of what is searched; it reads the database the
        # bot writes and follows its changes.
        asyncio.run(serve_web(lambda: App.open(settings, record=False, knowledge=loaded)))
    except StoreError as error:
        print(f"stampy: cannot open the database: {error}", file=sys.stderr)
        return CANNOT_START
    except ListenError as error:
        print(f"stampy: {error}", file=sys.stderr)
        return CANNOT_START
    except KeyboardInterrupt:
        pass
    logging.getLogger(__name__).debug("stampy web stopped")
    return OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
