"""Stamp events per second, sustained through the store: group commit vs a transaction each.

Each run opens a fresh database (WAL) in a temp directory, records answer messages, then
pushes stamp events through :class:`bot.stamps.StampBook` from many concurrent handlers (as
discord.py runs one task per reaction event): 80% adds, 20% removals of earlier stamps, a
tenth of them on people's messages, with some duplicates. ``group commit`` is the bot's
writer (everything queued, up to 500 events, in one transaction); ``one per event`` is the
same writer with batches of one. An event's latency is from ``apply()`` to its commit. Runs
use the store's ``synchronous=NORMAL`` and, to show what an fsync per commit costs,
``synchronous=FULL``. After each run another connection checks every stamp is stored.

Run: python bench/stamps.py [--events 50000] [--single-events 5000] [--handlers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from _common import machine, percentile, table, write_section

from bot.config import StampSettings
from bot.stamps import StampBook
from bot.store import Store
from bot.store.stamps import StampOp

ANSWER_MESSAGES = 2000
PEOPLE = 5000
BOT = 1


def events(count: int, seed: int) -> list[StampOp]:
    """A reproducible stream of reaction events (adds, removals, a few duplicates)."""
    rng = random.Random(seed)
    added: list[StampOp] = []
    stream: list[StampOp] = []
    emojis = ("stamp", "stamp", "stamp", "goldstamp", "🏅")
    while len(stream) < count:
        roll = rng.random()
        if roll < 0.2 and added:
            old = added.pop(rng.randrange(len(added)))
            stream.append(StampOp(old.message_id, old.voter_id, old.emoji, add=False))
        elif roll < 0.23 and added:
            stream.append(rng.choice(added))  # a duplicate delivery
        else:
            voter = rng.randrange(10, 10 + PEOPLE)
            if rng.random() < 0.1:  # a person's message
                message, author = 1_000_000 + rng.randrange(50_000), rng.randrange(10, 10 + PEOPLE)
            else:
                message, author = 100 + rng.randrange(ANSWER_MESSAGES), BOT
            op = StampOp(message, voter, rng.choice(emojis), add=True, author_id=author)
            added.append(op)
            stream.append(op)
    return stream


async def run(count: int, *, batch: int, synchronous: str, handlers: int) -> list[object]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        store = await Store.open(path)
        await store.connection.execute(f"PRAGMA synchronous = {synchronous}")
        book = StampBook(
            store,
            StampSettings(reputation_delay_seconds=3600.0),  # measure the store, not the solver
            answer_author=lambda question_id, answer_id: 2 + hash(answer_id) % PEOPLE,
            bot_user_id=BOT,
            max_batch=batch,
        )
        await book.start()
        for message in range(100, 100 + ANSWER_MESSAGES):
            await book.record_answer(
                message, channel_id=1, guild_id=1, question_id="q", answer_id=f"a{message % 300}"
            )
        stream = iter(events(count, seed=count))
        latencies: list[float] = []

        async def handler() -> None:
            for op in stream:
                start = time.perf_counter()
                await book.apply(op)
                latencies.append(time.perf_counter() - start)

        before = book.transactions
        started = time.perf_counter()
        await asyncio.gather(*(handler() for _ in range(handlers)))
        seconds = time.perf_counter() - started
        transactions = book.transactions - before
        expected = await book.records.count()
        await book.close()
        await store.close()
        with sqlite3.connect(path) as conn:  # durable: a fresh connection sees every stamp
            stored = conn.execute("SELECT count(*) FROM stamps").fetchone()[0]
        assert stored == expected, (stored, expected)
    mode = "group commit" if batch > 1 else "one per event"
    row = [
        mode,
        synchronous,
        f"{count:,}",
        f"{seconds:.2f}",
        f"{count / seconds:,.0f}",
        f"{transactions:,}",
        f"{count / transactions:.0f}",
        f"{percentile(latencies, 50) * 1000:.1f}",
        f"{percentile(latencies, 99) * 1000:.1f}",
    ]
    print(row, flush=True)
    return row


async def store_alone(count: int) -> list[object]:
    """The same events written by ``StampRecords.apply`` in batches of 500, with no handlers
    or writer task: what the database side costs on its own."""
    with tempfile.TemporaryDirectory() as directory:
        store = await Store.open(Path(directory) / "bench.db")
        book = StampBook(store, StampSettings(), bot_user_id=BOT, answer_author=lambda q, a: 2)
        for message in range(100, 100 + ANSWER_MESSAGES):  # no writer task: straight in
            await book.records.record_answer_message(
                message, channel_id=1, guild_id=1, question_id="q", answer_id=f"a{message % 300}"
            )
        stream = events(count, seed=count)
        started = time.perf_counter()
        for start in range(0, count, 500):
            await book.records.apply(stream[start : start + 500], book._classify)
        seconds = time.perf_counter() - started
        await store.close()
    row = [
        "store alone",
        "NORMAL",
        f"{count:,}",
        f"{seconds:.2f}",
        f"{count / seconds:,.0f}",
        f"{-(-count // 500):,}",
        "500",
        "",
        "",
    ]
    print(row, flush=True)
    return row


async def measure(args: argparse.Namespace) -> list[list[object]]:
    rows = [await store_alone(args.events)]
    for synchronous in ("NORMAL", "FULL"):
        for batch, count in ((500, args.events), (1, args.single_events)):
            rows.append(
                await run(count, batch=batch, synchronous=synchronous, handlers=args.handlers)
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000, help="events per group-commit run")
    parser.add_argument("--single-events", type=int, default=5_000, help="events per 1-by-1 run")
    parser.add_argument("--handlers", type=int, default=1000, help="concurrent event handlers")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(measure(args))
    header = [
        "writer",
        "synchronous",
        "events",
        "seconds",
        "events/s",
        "transactions",
        "events/transaction",
        "latency p50 ms",
        "latency p99 ms",
    ]
    body = "\n".join(
        [
            "## Stamp events through the store",
            "",
            f"Machine: {machine()}",
            f"Command: `python bench/stamps.py --events {args.events} "
            f"--single-events {args.single_events} --handlers {args.handlers}`",
            "",
            table(header, rows),
            "",
            f"{args.handlers} concurrent handlers push reaction events through `StampBook.apply`"
            " into a fresh WAL database: 80% adds, 20% removals, ~3% duplicate deliveries,"
            " 10% on people's messages, over 2,000 tracked answer messages. Each `apply` returns"
            " only after its event's transaction committed. `group commit` writes everything"
            " queued (up to 500 events) in one transaction; `one per event` is the same writer"
            " with batches of one; `store alone` writes the same batches of 500 straight through"
            " `StampRecords.apply`, without handlers (the database's share of the cost)."
            " The bot runs with `synchronous=NORMAL` (WAL: a commit"
            " survives the process crashing; an OS crash can lose the last commits);"
            " `synchronous=FULL` adds an fsync per commit.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("stamps", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
