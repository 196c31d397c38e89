"""Web site latency under concurrent load: p50 and p99 per page and for /api/search.

The site runs in a child process, as ``stampy web`` does (its own App on a SQLite database
with stamps in it), on 127.0.0.1; this process keeps ``--connections`` requests in flight
(aiohttp client, one connection each) and times every response from send to last byte.
Knowledge bases: the shipped one, and 10,000 synthetic questions built from the benchmark
folder's real questions as in bench/match_speed.py (with answers, tags and stamps). Searches
are real questions, a third with a typo; /search is timed to its decision (an answer is a 303
to the question page, not followed).

Run: python bench/web.py [--sizes shipped,10000] [--requests 1000] [--connections 50]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from _common import SHARED_EVAL, machine, median, percentile, table, write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TAGS = [f"topic-{n}" for n in range(60)]
TARGET_P99_MS = 20.0


def _questions(size: str, seed: int = 7):
    from bot.knowledge.loader import load_directory
    from bot.knowledge.model import Answer, Question

    if size == "shipped":
        return list(load_directory(ROOT / "answers").questions)
    from match_speed import build_kb, real_questions

    rng = random.Random(seed)
    kb = build_kb(rng, real_questions(), int(size))
    questions = []
    for n, (qid, phrasings) in enumerate(kb.items()):
        answers = ()
        if n % 5:  # four in five answered, two in three of those canonically
            answers = (
                Answer(
                    f"{qid}-a",
                    f"An answer to *{phrasings[0]}*, with a [link](https://example.org).",
                    canonical=n % 3 != 0,
                    author="Stampy team",
                ),
                Answer(f"{qid}-b", "A second, shorter answer.", author="A member"),
            )
        tags = tuple(sorted({rng.choice(TAGS) for _ in range(rng.randint(1, 3))}))
        questions.append(Question(qid, phrasings[0], tuple(phrasings[1:]), tags, answers))
    return questions


def _serve(size: str, folder: str, ready: multiprocessing.Queue) -> None:  # the child
    from aiohttp import web

    from bot.app import App
    from bot.config import DatabaseSettings, KnowledgeSettings, Settings, WebSettings
    from bot.knowledge.base import KnowledgeBase
    from bot.knowledge.loader import LoadResult
    from bot.knowledge.matcher import Matcher
    from bot.store.stamps import StampOp
    from bot.web import build_site
    from bot.web.refresh import Refresher

    questions = _questions(size)
    kb = KnowledgeBase(Matcher(), questions)
    settings = Settings(
        knowledge=KnowledgeSettings(str(ROOT / "answers")),
        database=DatabaseSettings(path=os.path.join(folder, "stampy.db")),
        web=WebSettings(refresh_seconds=2.0),
    )

    async def main() -> None:
        async with App.open(settings, knowledge=(kb, LoadResult(tuple(kb), (), (), ()))) as app:
            rng = random.Random(3)
            answered = [q for q in questions if q.answers]
            for n in range(min(2000, 4 * len(answered))):  # stamps, as the bot records them
                q = rng.choice(answered)
                await app.stamps.record_answer(
                    10_000 + n,
                    channel_id=1,
                    guild_id=1,
                    question_id=q.id,
                    answer_id=q.answers[0].id,
                )
            await app.stamps.apply_many(
                StampOp(10_000 + n, 500 + n % 97, "stamp", add=True, channel_id=1, guild_id=1)
                for n in range(min(2000, 4 * len(answered)))
            )
        opening = App.open(
            settings, record=False, knowledge=(kb, LoadResult(tuple(kb), (), (), ()))
        )
        async with opening as app:
            site = build_site(app)
            spent: list[float] = []

            @web.middleware
            async def timed(request, handler):  # the time the site spends on one request
                started = time.perf_counter()
                try:
                    return await handler(request)
                finally:
                    if not request.path.startswith("/_bench"):
                        spent.append((time.perf_counter() - started) * 1000)

            async def timings(request):  # what was spent since the last look, then forget it
                body = list(spent)
                spent.clear()
                return web.json_response(body)

            site.middlewares.insert(0, timed)
            site.router.add_get("/_bench/timings", timings)
            runner = web.AppRunner(site, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            refresher = Refresher(app, settings.web.refresh_seconds)  # as stampy web runs
            await refresher.start()
            host, port = runner.addresses[0][:2]
            ready.put(f"http://{host}:{port}")
            await asyncio.Event().wait()

    asyncio.run(main())


async def _server_times(address: str) -> list[float]:
    async with aiohttp.ClientSession(address) as session:
        async with session.get("/_bench/timings") as response:
            return await response.json()


async def _load(address: str, paths: list[str], connections: int) -> tuple[list[float], int]:
    """Request every path, ``connections`` at a time; latencies in ms and the error count."""
    latencies: list[float] = []
    errors = 0
    queue = iter(paths)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(address, connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for path in queue:
                start = time.perf_counter()
                async with session.get(path, allow_redirects=False) as response:
                    await response.read()
                    if response.status not in (200, 303):
                        errors += 1
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, errors


def _routes(size: str, requests: int) -> dict[str, list[str]]:
    from match_speed import real_questions, typo

    questions = _questions(size)
    rng = random.Random(11)
    real = real_questions()
    searches = [
        (typo(rng, q) if rng.random() < 1 / 3 else q)[:500] for q in rng.choices(real, k=requests)
    ]
    tags = sorted({t for q in questions for t in q.tags})
    pick = lambda items: [rng.choice(items) for _ in range(requests)]  # noqa: E731
    return {
        "/": ["/"] * requests,
        "/tags": ["/tags"] * requests,
        "/tags/{name}": ["/tags/" + quote(t) for t in pick(tags)],
        "/questions/{id}": ["/questions/" + q.id for q in pick(questions)],
        "/search?q=": ["/search?q=" + quote(s) for s in searches],
        "/unanswered": ["/unanswered"] * requests,
        "/api/search?q=": ["/api/search?q=" + quote(s) for s in searches],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="shipped,10000")
    parser.add_argument("--requests", type=int, default=1000, help="per route (at most 5000)")
    parser.add_argument("--connections", type=int, default=50, help="in flight (at most 100)")
    args = parser.parse_args()
    requests = max(50, min(args.requests, 5000))
    connections = max(1, min(args.connections, 100))
    if not (SHARED_EVAL / "youtube-questions.jsonl").exists():
        print(f"needs the benchmark's questions in {SHARED_EVAL}", file=sys.stderr)
        return 2
    sections = []
    context = multiprocessing.get_context("spawn")
    for size in args.sizes.split(","):
        with tempfile.TemporaryDirectory() as folder:
            ready = context.Queue()
            child = context.Process(target=_serve, args=(size, folder, ready), daemon=True)
            child.start()
            try:
                address = ready.get(timeout=600)
                routes = _routes(size, requests)
                rows = []
                for name, paths in routes.items():
                    asyncio.run(_load(address, paths[: max(20, requests // 10)], connections))
                    asyncio.run(_server_times(address))  # forget the warm-up
                    started = time.perf_counter()
                    latencies, errors = asyncio.run(_load(address, paths, connections))
                    elapsed = time.perf_counter() - started
                    spent = asyncio.run(_server_times(address))
                    rows.append(
                        [
                            name,
                            f"{median(spent):.2f}",
                            f"{percentile(spent, 99):.2f}",
                            f"{median(latencies):.1f}",
                            f"{percentile(latencies, 99):.1f}",
                            f"{len(latencies) / elapsed:.0f}",
                            errors,
                        ]
                    )
                    print(size, rows[-1], flush=True)
            finally:
                child.terminate()
                child.join(10)
        label = "shipped knowledge base" if size == "shipped" else f"{int(size):,} questions"
        sections.append(
            f"### {label}\n\n"
            + table(
                [
                    "route",
                    "site p50 ms",
                    "site p99 ms",
                    f"client p50 ms ({connections} in flight)",
                    "client p99 ms",
                    "requests/s",
                    "errors",
                ],
                rows,
            )
        )
    body = (
        "## Web site under load\n\n"
        f"Machine: {machine()}\n"
        f"Command: `python bench/web.py --requests {requests} --connections {connections}`\n\n"
        f"{requests} requests per route, {connections} in flight from one client process; "
        "the site in another process (one event loop), both on this machine over 127.0.0.1. "
        "*Site* is the time the site spends on a request (from its first middleware in to "
        "the response out: what a page costs); *client* is from sending a request to its "
        "last byte, so it also holds the time a request waits behind the others in flight "
        "on one process (about connections / throughput). Question pages are picked at "
        "random, so their related questions (kept per question until the knowledge base "
        "changes) are mostly computed afresh. Target: p99 <= "
        f"{TARGET_P99_MS:.0f} ms per page at 10,000 questions.\n\n" + "\n\n".join(sections)
    )
    print(body)
    write_section("web", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
