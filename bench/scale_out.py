"""Scaling out: questions/s and stamp events/s with 1, 2 and 4 processes on one PostgreSQL
database, and one process on SQLite for comparison, all in one run.

Each process is a separate OS process running the bot's core on the shared database, as
``stampy run`` processes of different shards would (Discord itself is left out: this
measures what sharing the database costs and allows, not the gateway):

* **questions**: the process answers questions with :class:`bot.service.Service` (the
  seed knowledge base) from ``--handlers`` concurrent tasks; a third of the questions have
  no answer and are recorded as unanswered questions (one atomic upsert each, the rows
  shared by every process, so repeats asked in several processes fold into one row).
* **stamps**: ``--handlers`` concurrent tasks push stamp events through
  :class:`bot.stamps.StampBook` (group commit: what is queued, up to 500 events, in one
  transaction), each on its own answer messages; an event counts once its transaction
  committed. ``one per event`` is the same writer with batches of one.

All processes start together and run for ``--seconds``; the totals are summed. The
throwaway PostgreSQL server runs with ``fsync=off`` (as in the tests): a durable server pays
an fsync per commit, which group commit shares among the events of a batch. The database
time per stamp event is the time spent in ``StampRecords.apply`` (one transaction) divided
by the events in it.

Run: python bench/scale_out.py [--seconds 5] [--handlers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, median, table, write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import StampSettings  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.loader import load_directory  # noqa: E402
from bot.knowledge.matcher import Decision, Matcher  # noqa: E402
from bot.service import Service  # noqa: E402
from bot.stamps import StampBook  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store.pgserver import ThrowawayServer  # noqa: E402
from bot.store.stamps import StampOp  # noqa: E402

ANSWER_MESSAGES = 500  # per process


def questions(kb: KnowledgeBase, index: int) -> list[str]:
    """Phrasings of the seed questions with a typo, and questions nobody answered (some of
    them asked by every process, so that they fold across processes)."""
    known = [p for q in kb for p in q.phrasings]
    typo = [p[:-2] + p[-1] + p[-2] if len(p) > 4 else p for p in known]
    unknown = [f"How many moons does planet number {n} of the survey have?" for n in range(300)]
    mine = [f"Why does process {index} see the comet {n} at dawn?" for n in range(300)]
    return [q for pair in zip(typo * 3, unknown + mine, strict=False) for q in pair] + known


async def worker_questions(
    location: str, start_at: float, seconds: float, handlers: int, index: int
) -> dict[str, float]:
    async with await Store.open(location) as store:
        kb = KnowledgeBase(Matcher(), load_directory(ROOT / "answers").questions)
        service = Service(kb, store)
        texts = questions(kb, index)
        done = 0
        recorded = 0
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.monotonic() + seconds

        async def handler(offset: int) -> None:
            nonlocal done, recorded
            position = offset
            while time.monotonic() < deadline:
                text = texts[position % len(texts)]
                position += handlers
                reply = service.ask(text)
                if reply.decision is Decision.NONE:
                    if await service.note_unanswered(
                        text, asker_id=index, channel_id=1, guild_id=1
                    ):
                        recorded += 1
                done += 1
                await asyncio.sleep(0)  # let the other handlers in, as events would

        began = time.monotonic()
        await asyncio.gather(*(handler(i) for i in range(handlers)))
        elapsed = time.monotonic() - began
    return {"questions": done, "recorded": recorded, "seconds": elapsed}


async def worker_stamps(
    location: str, start_at: float, seconds: float, handlers: int, index: int, batch: int
) -> dict[str, float]:
    async with await Store.open(location) as store:
        book = StampBook(
            store,
            StampSettings(reputation_delay_seconds=3600.0),  # the store, not the solver
            answer_author=lambda question_id, answer_id: 7,
            bot_user_id=1,
            max_batch=batch,
        )
        await book.start()
        base = (index + 1) * 10_000_000
        for message in range(base, base + ANSWER_MESSAGES):
            await book.record_answer(
                message, channel_id=1, guild_id=1, question_id="q", answer_id=f"a{message % 50}"
            )
        apply_times: list[float] = []
        sizes: list[int] = []
        original = book.records.apply

        async def timed(ops, classify, *, messages=()):  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            try:
                return await original(ops, classify, messages=messages)
            finally:
                apply_times.append(time.perf_counter() - began)
                sizes.append(len(ops))

        book.records.apply = timed  # type: ignore[method-assign]
        committed = 0
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.monotonic() + seconds

        async def handler(offset: int) -> None:
            nonlocal committed
            voter = base + offset * 1_000_000
            while time.monotonic() < deadline:
                voter += 1
                message = base + voter % ANSWER_MESSAGES
                await book.apply(StampOp(message, voter, "stamp", add=True, channel_id=1))
                committed += 1

        began = time.monotonic()
        await asyncio.gather(*(handler(i) for i in range(handlers)))
        elapsed = time.monotonic() - began
        await book.close()
    events = sum(sizes)
    return {
        "events": committed,
        "seconds": elapsed,
        "transactions": len([s for s in sizes if s]),
        "db_seconds": sum(t for t, s in zip(apply_times, sizes, strict=True) if s),
        "median_txn_ms": 1000 * median([t for t, s in zip(apply_times, sizes, strict=True) if s]),
        "events_in_txns": events,
    }


def run_workers(
    location: str, processes: int, phase: str, args: argparse.Namespace, batch: int = 500
) -> list[dict[str, float]]:
    start_at = time.time() + 3.0 + processes  # every process ready before the start
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                phase,
                location,
                str(start_at),
                str(args.seconds),
                str(args.handlers),
                str(i),
                str(batch),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120 + args.seconds)
        if proc.returncode != 0:
            raise SystemExit(f"a worker failed ({proc.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


async def prepare(location: str) -> None:
    async with await Store.open(location):  # migrate once, before the workers start
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--handlers", type=int, default=200)
    args = parser.parse_args()
    rows = []
    with ThrowawayServer() as server, tempfile.TemporaryDirectory() as folder:
        configs = [
            ("SQLite", 1, 500),
            ("PostgreSQL", 1, 500),
            ("PostgreSQL", 2, 500),
            ("PostgreSQL", 4, 500),
            ("PostgreSQL", 1, 1),
        ]
        for n, (backend, processes, batch) in enumerate(configs):
            location = (
                str(Path(folder) / f"bench{n}.db") if backend == "SQLite" else server.create()
            )
            asyncio.run(prepare(location))
            asked = run_workers(location, processes, "questions", args) if batch > 1 else []
            stamped = run_workers(location, processes, "stamps", args, batch=batch)
            q_rate = sum(r["questions"] / r["seconds"] for r in asked)
            s_rate = sum(r["events"] / r["seconds"] for r in stamped)
            events = sum(r["events_in_txns"] for r in stamped)
            txns = sum(r["transactions"] for r in stamped)
            db_us = 1e6 * sum(r["db_seconds"] for r in stamped) / max(events, 1)
            rows.append(
                [
                    backend,
                    processes,
                    "group commit" if batch > 1 else "one per event",
                    f"{q_rate:,.0f}" if asked else "",
                    f"{sum(r['recorded'] for r in asked):,}" if asked else "",
                    f"{s_rate:,.0f}",
                    f"{events / max(txns, 1):.0f}",
                    f"{median([r['median_txn_ms'] for r in stamped]):.1f}",
                    f"{db_us:.0f}",
                ]
            )
            print(rows[-1], flush=True)
    header = [
        "database",
        "processes",
        "stamp writer",
        "questions/s",
        "unanswered recorded",
        "stamp events/s",
        "events/transaction",
        "transaction ms (median)",
        "database µs per stamp event",
    ]
    text = table(header, rows)
    print(text)
    base = {r[0] + str(r[1]): r for r in rows if r[2] == "group commit"}
    note = (
        f"Each process runs {args.handlers} concurrent handlers for {args.seconds:g} s; the "
        "rates are summed over the processes. Questions: the seed knowledge base's phrasings "
        "with a typo, and questions with no answer, recorded as unanswered (one upsert each; "
        "some asked in every process, folding into one row). Stamps: each process on its own "
        "500 answer messages; an event counts once its transaction committed. The database "
        "time per stamp event is the time in `StampRecords.apply` divided by the events of "
        "its transaction. The throwaway PostgreSQL server runs with fsync off; a durable "
        "server adds an fsync per commit, shared by a batch's events under group commit. "
        "The machine has 2 cores, shared by the processes and the server."
    )

    def rate(row: list[str]) -> float:
        return float(row[5].replace(",", ""))

    if "PostgreSQL1" in base:
        ratios = [
            f"{p} processes x{rate(base['PostgreSQL' + p]) / rate(base['PostgreSQL1']):.2f}"
            for p in ("2", "4")
            if "PostgreSQL" + p in base
        ]
        note += (
            " Stamp events/s relative to one PostgreSQL process, this run: "
            + ", ".join(ratios)
            + "."
        )
    write_section(
        "scale_out",
        "## Scaling out: several processes on one PostgreSQL database\n\n"
        f"Machine: {machine()}\n"
        f"Command: `python bench/scale_out.py --seconds {args.seconds:g} --handlers "
        f"{args.handlers}`\n\n{text}\n\n{note}",
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        phase, location, start_at, seconds, handlers, index, batch = sys.argv[2:9]
        if phase == "questions":
            result = asyncio.run(
                worker_questions(
                    location, float(start_at), float(seconds), int(handlers), int(index)
                )
            )
        else:
            result = asyncio.run(
                worker_stamps(
                    location, float(start_at), float(seconds), int(handlers), int(index), int(batch)
                )
            )
        print(json.dumps(result), flush=True)
    else:
        main()
