"""Soak: ``stampy run`` for ten minutes at a steady rate of questions and stamps.

The bot runs in its own process (``python -m bot run``) against the fake Discord of
``tests/fakediscord/`` served by this process on 127.0.0.1, as in discord_throughput.py (whose
bot process, config file, reply hook and knowledge-base check this reuses), with the shipped
knowledge base and the default cooldowns and stamp settings.

Traffic, open loop (sent on schedule whatever the bot does), from 1,000 members in 10 channels:

- ``--rate`` questions/s, "stampy, <question>": a share ``--new-share`` are new questions made
  by splicing two real YouTube questions (nearly all distinct, so they fill the unanswered
  store, the handled-id memory and the cooldown maps, and bring words never seen before),
  ``--real-share`` real YouTube questions as asked, the rest phrasings of the knowledge base
  (which the bot answers). A question is never repeated in a channel within 3 s, and a member
  asks at most every 1,000 / rate s, so the cooldowns (3 s per member, 1 s per question and
  channel) never drop a question: every one must get exactly one reply.
- ``--stamps`` stamp reactions/s on the bot's answer messages (posted at least 1 s before),
  with the configured stamp emojis by random members: a share ``--remove-share`` take back a
  stamp given earlier, the rest add one.

Latency: the fake dispatching MESSAGE_CREATE -> the fake receiving the bot's reply POST. Every
``--sample`` s the bot's resident memory (VmRSS of /proc/PID/status) and CPU time are read.
After a warm-up of ``--warmup`` s (not in the table), one row per minute. At the end the bot is
stopped with SIGTERM (it must exit 0, having logged no error) and its SQLite database opened
read-only: the stamps in it must be exactly the stamp reactions the fake holds on its messages.

With ``--heap`` the bot runs under ``bench/_traced_bot.py``, which writes a census of its live
objects by type (what the garbage collector tracks, with their shallow sizes) at the start (after
the warm-up), at half time and at the end, when this process signals it: what grew between them,
at no cost to the run. With ``--heap-frames N`` as well, tracemalloc traces the bot's Python heap
from half time (keeping N frames per allocation), and at the end a snapshot shows what was
allocated in the second half and is still alive (what grows, plus what is merely in flight), by
allocation site with the stack that made it; tracing slows every allocation, so such a run goes
to its own section of the results, and a busy machine may leave the traced bot too little CPU.

On a slow or busy machine the bench reports rather than hangs: every wait has a bound (a
question the fake cannot hand over counts as undelivered, a stamp reaction as stuck, a heap
snapshot the bot does not write in time as missing), and if for ``--give-up`` s most questions
go unanswered the run stops there and says so. Each row gives the machine's load average and how
far behind its schedule this process sent, so a bot starved by other work shows as such.

Run: python bench/soak.py [--minutes 10] [--rate 50] [--stamps 20] [--heap] [--give-up 60]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

from _common import machine, median, percentile, rss_mib, table, write_section
from discord_throughput import (
    AUTHORS,
    ROOT,
    TOKEN,
    BotProcess,
    Driver,
    bot_env,
    check_kb,
    write_config,
)
from match_speed import real_questions, splice

from bot.config import StampSettings
from bot.knowledge.text import normalize

sys.path.insert(0, str(ROOT / "tests"))
from fakediscord import FakeDiscord, RateLimits  # noqa: E402

CHANNELS = 10
STAMP_EMOJIS = ("stamp=1", "goldstamp=5", "🏅=1")
USER_COOLDOWN = 3.0  # the defaults, written to the config file so the bench can rely on them
CHANNEL_COOLDOWN = 1.0
REPEAT_WINDOW = 3 * CHANNEL_COOLDOWN  # no question twice in a channel within this (s)
STAMP_AGE = 1.0  # stamp answer messages at least this old (s), as people would
RECENT_ANSWERS = 2000  # stamps go on one of the last this many answer messages
FAKE_LOG_KEEP = 5000  # gateway frames the fake keeps for a RESUME (bounded in the bench too)
DEFAULTS = {"minutes": 10.0, "rate": 50.0, "stamps": 20.0, "warmup": 20.0, "sample": 5.0}


@dataclass
class Minute:
    """What happened to the traffic scheduled in one minute (index -1: the warm-up)."""

    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    missing: int = 0
    undelivered: int = 0  # the fake could not hand the question to the bot in time
    lag: float = 0.0  # s: the most the driver sent behind its schedule (a busy bench process)
    stamps_stuck: int = 0  # stamp reactions the fake could not hand over in time
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    added: int = 0
    removed: int = 0


@dataclass
class Sample:
    at: float  # s since the end of the warm-up
    rss: float  # MiB, the bot
    cpu: float  # s, the bot, all threads
    bench_rss: float  # MiB, this process (the fake and the driver)
    load: float  # the machine's 1-minute load average


class Health:
    """Gives up on a run the bot cannot keep up with, so that the bench reports instead of
    piling an open-loop load on a bot that is ever further behind: if for ``give_up`` s in a
    row (checked every ``sample`` s) most questions that came due went unanswered, or none
    came due at all while questions were sent, the run stops (``stopped`` says why)."""

    def __init__(self, give_up: float, sample: float) -> None:
        self.replied = 0
        self.failed = 0
        self.stopped = ""
        self.at: float | None = None  # s since the warm-up's end when it stopped
        self._bad = 0  # consecutive bad checks
        self._limit = max(1, round(give_up / sample))

    def stop(self, at: float, why: str) -> None:
        if not self.stopped:
            self.stopped, self.at = f"{why} (at {at:.0f} s)", at

    def check(self, at: float) -> None:
        """Called every ``sample`` s: judge what came due since the last call."""
        replied, failed = self.replied, self.failed
        self.replied = self.failed = 0
        self._bad = self._bad + 1 if failed > replied or not replied + failed else 0
        if self._bad >= self._limit:
            self.stop(
                at,
                f"the bot fell behind: for {self._limit} checks in a row most questions "
                "that came due went unanswered",
            )


class Traffic:
    """Endless (channel, author, text, kind) for the soak; see the module docstring."""

    def __init__(
        self,
        rng: random.Random,
        phrasings: list[str],
        real: list[str],
        channels: list[int],
        authors: list[int],
        new_share: float,
        real_share: float,
    ) -> None:
        self.rng = rng
        self.phrasings = phrasings
        self.real = real
        self.channels = channels
        self.authors = itertools.cycle(authors)
        self.new_share = new_share
        self.real_share = real_share
        self.count = 0
        self.recent: collections.OrderedDict[tuple[int, str], float] = collections.OrderedDict()
        self.distinct: set[str] = set()

    def _pick(self) -> tuple[str, str]:
        draw = self.rng.random()
        if draw < self.new_share:
            return "new", splice(self.rng, *self.rng.sample(self.real, 2))
        if draw < self.new_share + self.real_share:
            return "real", self.rng.choice(self.real)
        return "kb", self.rng.choice(self.phrasings)

    def next(self, now: float) -> tuple[int, int, str, str]:
        channel = self.channels[self.count % len(self.channels)]
        self.count += 1
        while self.recent:  # forget what is out of the window
            key, at = next(iter(self.recent.items()))
            if now - at < REPEAT_WINDOW:
                break
            del self.recent[key]
        for _ in range(100):
            kind, text = self._pick()
            key = (channel, normalize(text))
            if key not in self.recent:
                break
        self.recent[key] = now
        self.distinct.add(key[1])
        return channel, next(self.authors), f"stampy, {text}", kind


class Stamper:
    """Adds and removes stamp reactions on the bot's recent answer messages."""

    def __init__(
        self, fake: FakeDiscord, rng: random.Random, members: list[int], remove_share: float
    ) -> None:
        self.fake = fake
        self.rng = rng
        self.members = members
        self.remove_share = remove_share
        self.answers: collections.deque[tuple[int, int, float]] = collections.deque(
            maxlen=RECENT_ANSWERS
        )
        self.given: list[tuple[int, int, int, int]] = []  # channel, message, member, emoji index
        self.given_set: set[tuple[int, int, int]] = set()
        self.done: list[tuple[int, int]] = []  # (channel, message) no longer needed
        # (name, custom emoji id or None) of each configured stamp
        self.emojis = [
            (name, 880_000_000_000_000_000 + i if StampSettings.is_custom_name(name) else None)
            for i, name in enumerate(e.rsplit("=", 1)[0] for e in STAMP_EMOJIS)
        ]

    def on_reply(self, asked: int, body: dict, reply: dict) -> None:
        channel = int(reply["channel_id"])
        self.done.append((channel, asked))  # the question is answered: the fake may forget it
        if body.get("embeds"):  # an answer: to be stamped
            self.answers.append((channel, int(reply["id"]), time.perf_counter()))
        else:
            self.done.append((channel, int(reply["id"])))

    async def step(self) -> str | None:
        """One stamp added ("add") or taken back ("remove"); None if no answer is old enough."""
        if self.given and self.rng.random() < self.remove_share:
            index = self.rng.randrange(len(self.given))
            self.given[index], self.given[-1] = self.given[-1], self.given[index]
            channel, message, member, emoji = self.given.pop()
            self.given_set.discard((message, member, emoji))
            name, emoji_id = self.emojis[emoji]
            await self.fake.remove_reaction(channel, message, member, name, emoji_id)
            return "remove"
        old = time.perf_counter() - STAMP_AGE
        ready = len(self.answers)
        while ready and self.answers[ready - 1][2] > old:
            ready -= 1
        if not ready:
            return None
        for _ in range(20):
            channel, message, _ = self.answers[self.rng.randrange(ready)]
            member = self.rng.choice(self.members)
            emoji = self.rng.randrange(len(self.emojis))
            if (message, member, emoji) not in self.given_set:
                break
        else:
            return None
        self.given.append((channel, message, member, emoji))
        self.given_set.add((message, member, emoji))
        name, emoji_id = self.emojis[emoji]
        await self.fake.add_reaction(channel, message, member, name, emoji_id)
        return "add"


def stamp_config() -> str:
    emojis = ", ".join(f'"{e}"' for e in STAMP_EMOJIS)
    return (
        f"user_cooldown_seconds = {USER_COOLDOWN}\n"
        f"channel_cooldown_seconds = {CHANNEL_COOLDOWN}\n"
        f"[stamps]\nemojis = [{emojis}]\n"
    )


def trim_fake(fake: FakeDiscord, done: list[tuple[int, int]]) -> None:
    """Drop what the fake records for tests (every request, every gateway frame beyond what
    a RESUME could need) and the messages in ``done`` (answered questions, replies that are
    not answers), so that the bench process stays small over a long run."""
    fake.requests.clear()
    for channel_id, message_id in done:
        fake.model.channels[channel_id].messages.pop(message_id, None)
        fake.model.message_channel.pop(message_id, None)
    done.clear()
    for session in getattr(fake.gateway, "sessions", {}).values():
        if len(session.log) > 2 * FAKE_LOG_KEEP:
            del session.log[:-FAKE_LOG_KEEP]


def fake_stamps(fake: FakeDiscord, emojis: list[tuple[str, int | None]]) -> set[tuple]:
    """(message, member, stamp name) of every stamp reaction the fake holds."""
    wanted = {(name, str(emoji_id) if emoji_id else None) for name, emoji_id in emojis}
    found = set()
    for message_id, reactions in fake.model.reactions.items():
        for key, users in reactions.by_emoji.items():
            info = reactions.emoji[key]
            if (info["name"], info["id"]) in wanted:
                found.update((int(message_id), u, info["name"]) for u in users if u != fake.bot.id)
    return found


HEAP_TOP = 10  # allocation sites shown in the heap diff
SNAPSHOT_LIMIT = 120.0  # s to wait for the bot to write a heap snapshot


class HeapSnapshots:
    """Snapshots of the bot's heap, taken on demand (see bench/_traced_bot.py): a census of
    live objects by type at the start (after the warm-up), at half time and at the end, and
    with ``frames`` > 0 tracemalloc snapshots from half time on."""

    def __init__(self, prefix: Path, frames: int) -> None:
        self.prefix = prefix
        self.frames = frames
        self.names: list[str] = []  # in the order taken
        self.census: dict[str, dict[str, list[int]]] = {}
        self.traced: dict[str, tracemalloc.Snapshot] = {}
        self.overhead: dict[str, int] = {}  # bytes tracemalloc used at each snapshot
        self.failed: list[str] = []  # snapshots the bot did not write in time

    def command(self) -> list[str]:
        return [str(Path(__file__).resolve().parent / "_traced_bot.py"), str(self.prefix)]

    def env(self) -> dict[str, str]:
        return {"STAMPY_HEAP_FRAMES": str(self.frames), "STAMPY_HEAP_TRACE_FROM": "1"}

    async def take(self, bot: BotProcess, name: str, limit: float = SNAPSHOT_LIMIT) -> None:
        """Have the bot write a snapshot; read only later (:meth:`load`), as reading one takes
        seconds that would stall the fake Discord served by this process. Gives up after
        ``limit`` s (a bot too busy to write it, or gone): that snapshot is missing."""
        index = len(self.names)
        self.names.append(name)
        done = Path(f"{self.prefix}.{index}.done")
        started = time.perf_counter()
        if bot.proc.returncode is None:
            bot.proc.send_signal(signal.SIGUSR1)
        while not done.exists() or not done.read_text():
            if time.perf_counter() - started > limit or bot.proc.returncode is not None:
                self.failed.append(name)
                print(f"heap snapshot at the {name}: none after {limit:g} s", flush=True)
                return
            await asyncio.sleep(0.2)
        self.overhead[name] = int(done.read_text())
        print(f"heap snapshot at the {name}: {time.perf_counter() - started:.1f} s", flush=True)

    def load(self) -> None:
        """Read the snapshots taken, leaving out tracemalloc's and the importer's own."""
        ignored = [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
        ]
        for index, name in enumerate(self.names):
            if name in self.failed:
                continue
            self.census[name] = json.loads(Path(f"{self.prefix}.{index}.types").read_text())
            traced = Path(f"{self.prefix}.{index}")
            if traced.exists():
                self.traced[name] = tracemalloc.Snapshot.load(str(traced)).filter_traces(ignored)

    def report(self) -> list[str]:
        lines: list[str] = []
        for first, last in (("start", "end"), ("half time", "end")):
            if first not in self.census or last not in self.census:
                lines += [f"Heap: no census at the {first} and the {last}.", ""]
                continue
            before, after = self.census[first], self.census[last]
            grown = sorted(
                after, key=lambda kind: after[kind][1] - before.get(kind, [0, 0])[1], reverse=True
            )
            rows = [
                [
                    kind,
                    f"{after[kind][0] - before.get(kind, [0, 0])[0]:+,}",
                    f"{(after[kind][1] - before.get(kind, [0, 0])[1]) / 1024:+.1f}",
                    f"{after[kind][0]:,}",
                ]
                for kind in grown[:HEAP_TOP]
            ]
            total = sum(v[1] for v in after.values()) - sum(v[1] for v in before.values())
            count = sum(v[0] for v in after.values()) - sum(v[0] for v in before.values())
            lines += [
                f"Live objects the garbage collector tracks, from the {first} to the {last}: "
                f"{count:+,} objects, {total / 2**20:+.2f} MiB shallow; the types that grew most:",
                "",
                table(["type", "objects", "KiB (shallow)", f"objects at the {last}"], rows),
                "",
            ]
        end = self.traced.get("end")
        if self.frames <= 0:
            return lines
        if end is None:
            return [*lines, "Heap: no tracemalloc snapshot was taken at the end."]
        stats = end.statistics("traceback")
        size = sum(stat.size for stat in stats)
        blocks = sum(stat.count for stat in stats)
        lines += [
            f"Python heap, traced from half time: at the end {size / 2**20:.2f} MiB in "
            f"{blocks:,} blocks allocated in the second half are still alive (tracemalloc's "
            f"own traces: {self.overhead.get('end', 0) / 2**20:.1f} MiB, in the RSS above). "
            "The sites holding most of it:",
            "",
        ]
        rows = []
        for stat in stats[:HEAP_TOP]:
            innermost = list(reversed(stat.traceback))  # tracemalloc lists oldest first
            frames = [
                f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}"
                for f in innermost
            ]
            rows.append([f"{stat.size / 1024:.1f}", f"{stat.count:,}", " < ".join(frames)])
        lines.append(table(["KiB", "blocks", "where (innermost first)"], rows))
        return lines


def read_database(path: Path) -> tuple[set[tuple], dict[int, str | None], tuple[int, int]]:
    """The stamps (message, voter, emoji), the answer messages (message -> answer id) and the
    unanswered questions (rows, askings)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        stamps = {
            tuple(row) for row in db.execute("SELECT message_id, voter_id, emoji FROM stamps")
        }
        answers = dict(db.execute("SELECT message_id, answer_id FROM answer_messages"))
        rows, askings = db.execute(
            "SELECT count(*), coalesce(sum(count), 0) FROM unanswered"
        ).fetchone()
    finally:
        db.close()
    return stamps, answers, (rows, askings)


async def soak(
    args: argparse.Namespace, workdir: Path
) -> tuple[list[list[str]], list[str], bool, list[str]]:
    real = real_questions()
    _, phrasings = check_kb(ROOT / "answers", None)
    rng = random.Random(2417)
    fake = FakeDiscord(token=TOKEN, rate_limits=RateLimits(10_000, 1.0))
    driver = Driver(fake, args.timeout)
    channels = [fake.add_channel(fake.guild.id, f"soak-{i}").id for i in range(CHANNELS)]
    members = fake.add_members(AUTHORS, "asker")
    traffic = Traffic(rng, phrasings, real, channels, members, args.new_share, args.real_share)
    stamper = Stamper(fake, random.Random(7), members, args.remove_share)
    driver.on_reply = stamper.on_reply
    minutes: dict[int, Minute] = collections.defaultdict(Minute)
    health = Health(args.give_up, args.sample)
    samples: list[Sample] = []
    pending: set[asyncio.Task[None]] = set()
    total = args.warmup + 60 * args.minutes
    await fake.start()
    bot: BotProcess | None = None
    heap = HeapSnapshots(workdir / "heap", args.heap_frames) if args.heap else None
    snapshots: list[asyncio.Task[None]] = []
    try:
        config = write_config(workdir, ROOT / "answers", cooldowns=True, extra=stamp_config())
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *(heap.command() if heap else ["-m", "bot"]),
            "--config",
            str(config),
            "run",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**bot_env(fake, True, workdir), **(heap.env() if heap else {})},
            cwd=str(workdir),
        )
        bot = BotProcess(proc)
        if args.bot_log:
            bot.log = open(args.bot_log, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
        await bot.wait_ready(args.start_timeout)
        await bot.settle()
        print(f"bot pid {bot.pid} ready, RSS {bot.rss_mib():.0f} MiB", flush=True)
        start = time.perf_counter()
        t0 = start + args.warmup  # the end of the warm-up

        def bucket(at: float) -> int:
            return -1 if at < t0 else int((at - t0) // 60)

        async def ask(at: float) -> None:
            channel, author, text, kind = traffic.next(at)
            minute = minutes[bucket(at)]
            minute.sent += 1
            posted = await driver.post(channel, author, text)
            if posted is None:
                minute.undelivered += 1
                health.failed += 1
                return
            result = await driver.reply(*posted)
            if result is None:
                minute.missing += 1
                health.failed += 1
            else:
                minute.latencies.append(result[0])
                minute.kinds[kind] += 1
                health.replied += 1

        async def questions() -> None:
            for i in itertools.count():
                at = start + i / args.rate
                if at >= start + total or health.stopped:
                    return
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                minute = minutes[bucket(at)]
                minute.lag = max(minute.lag, time.perf_counter() - at)
                task = asyncio.create_task(ask(at))
                pending.add(task)
                task.add_done_callback(pending.discard)

        async def stamps() -> None:
            if args.stamps <= 0:
                return
            for i in itertools.count():
                at = start + i / args.stamps
                if at >= start + total or health.stopped:
                    return
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                try:  # the fake blocks while the bot does not read its socket
                    done = await asyncio.wait_for(stamper.step(), args.timeout)
                except TimeoutError:
                    minutes[bucket(at)].stamps_stuck += 1
                    continue
                if done == "add":
                    minutes[bucket(at)].added += 1
                elif done == "remove":
                    minutes[bucket(at)].removed += 1

        async def sampler() -> None:
            for k in itertools.count(-int(args.warmup // args.sample)):
                at = t0 + k * args.sample
                if at > start + total + 0.5:
                    return
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                if bot.proc.returncode is not None:
                    health.stop(k * args.sample, f"the bot exited with {bot.proc.returncode}")
                    print("".join(list(bot.lines)[-20:]), flush=True)
                    return
                samples.append(
                    Sample(
                        k * args.sample,
                        bot.rss_mib(),
                        bot.cpu_seconds()[0],
                        rss_mib(),
                        os.getloadavg()[0],
                    )
                )
                if heap is not None and k == 0:
                    snapshots.append(asyncio.create_task(heap.take(bot, "start")))
                if heap is not None and k * args.sample == 30 * args.minutes:
                    snapshots.append(asyncio.create_task(heap.take(bot, "half time")))
                if k > 0 and k * args.sample % 60 == 0:
                    trim_fake(fake, stamper.done)
                    report_minute(int(k * args.sample // 60) - 1)
                health.check(k * args.sample)
                if health.stopped:
                    print(f"  giving up: {health.stopped}", flush=True)
                    return

        def report_minute(m: int) -> None:
            row = minute_row(m, minutes[m], samples)
            print("  " + " | ".join(row), flush=True)

        await asyncio.gather(questions(), stamps(), sampler())
        if pending:  # each one ends within two timeouts
            await asyncio.wait(pending, timeout=3 * args.timeout)
        await bot.settle()
        await asyncio.sleep(1.0)  # let the stamp book's writer flush its last batch
        end_rss = bot.rss_mib()
        if heap is not None:
            await asyncio.gather(*snapshots)
            await heap.take(bot, "end")
    finally:
        code = await bot.stop() if bot is not None else 0
        if bot is not None and bot.log is not None:
            bot.log.close()
        await fake.close()

    rows = [minute_row(m, minutes[m], samples) for m in range(int(args.minutes)) if m in minutes]
    problems: list[str] = []
    if health.stopped:
        problems.append(f"stopped early: {health.stopped}")
    if code != 0:
        problems.append(f"the bot exited with {code}")
    if bot is not None and bot.errors:
        problems.append("the bot logged errors: " + " / ".join(bot.errors[:5]))
    if fake.errors:
        problems.append("the fake failed: " + fake.errors[0].splitlines()[0])
    if driver.duplicates or driver.early:
        problems.append(f"{driver.duplicates} duplicate and {len(driver.early)} late replies")
    missing = sum(m.missing for m in minutes.values())
    if missing:
        problems.append(f"{missing} questions got no reply within {args.timeout:g} s")
    undelivered = sum(m.undelivered for m in minutes.values())
    if undelivered:
        problems.append(
            f"{undelivered} questions the fake could not hand to the bot within "
            f"{args.timeout:g} s (its socket full: the bot was not reading)"
        )
    stuck = sum(m.stamps_stuck for m in minutes.values())
    if stuck:
        problems.append(f"{stuck} stamp reactions the fake could not hand to the bot")
    in_fake = fake_stamps(fake, stamper.emojis)
    in_db, tracked, (open_rows, askings) = read_database(workdir / "bench.db")
    # A stamp on an answer message of a question with no answer yet endorses nothing: the
    # bot does not count it (bot/stamps.py). Every other stamp in the fake must be a row.
    untracked = {s for s in in_fake if s[0] not in tracked}
    endorsing = {s for s in in_fake if tracked.get(s[0]) is not None}
    stamps_equal = endorsing == in_db and not untracked
    if len(tracked) != driver.kinds["answer"]:
        problems.append(f"{driver.kinds['answer']} answers sent, {len(tracked)} tracked")
    if not stamps_equal:
        problems.append(
            f"stamps differ: {len(endorsing - in_db)} in the fake only, "
            f"{len(in_db - endorsing)} in the database only, {len(untracked)} on messages "
            "the database does not know"
        )

    measured = [m for i, m in minutes.items() if i >= 0]
    latencies = [x for m in measured for x in m.latencies]
    at_start = next((s for s in samples if s.at >= 0), samples[0])
    at_half = next((s for s in samples if s.at >= 30 * args.minutes), samples[-1])
    last = samples[-1]
    summary = [
        f"Questions: {sum(m.sent for m in measured):,} after a warm-up of "
        f"{minutes[-1].sent:,} ({traffic.count:,} in all, {len(traffic.distinct):,} distinct "
        f"texts); {len(latencies) / (60 * args.minutes):.1f} replies/s; p50 "
        f"{median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, max "
        f"{max(latencies):.0f} ms; missing replies: {missing} (warm-up included). Replies: "
        + ", ".join(f"{driver.kinds[k]:,} {k}" for k in ("answer", "suggest", "none"))
        + " (answer, did-you-mean, no answer).",
        f"Bot RSS: {at_start.rss:.1f} MiB at the start (after the warm-up), "
        f"{at_half.rss:.1f} MiB at half time, {last.rss:.1f} MiB at the end "
        f"({end_rss:.1f} MiB once idle): growth {last.rss - at_start.rss:+.1f} MiB, "
        f"{last.rss - at_half.rss:+.1f} MiB over the second half; max "
        f"{max(s.rss for s in samples if s.at >= 0):.1f} MiB. Bench process (fake Discord "
        f"and driver) {last.bench_rss:.0f} MiB at the end.",
        f"Stamps: {sum(m.added for m in minutes.values()):,} added and "
        f"{sum(m.removed for m in minutes.values()):,} taken back; at the end the fake holds "
        f"{len(in_fake):,} stamp reactions, {len(endorsing):,} of them on answers (the rest on "
        "replies to a question with no answer yet, which endorse nothing), and the database "
        f"{len(in_db):,} stamp rows: {'identical' if stamps_equal else 'DIFFERENT'}. The "
        f"database tracks {len(tracked):,} answer messages "
        f"({driver.kinds['answer']:,} answers sent); {open_rows:,} unanswered questions hold "
        f"{askings:,} askings.",
        f"Bot exit code after SIGTERM: {code}; errors logged: {len(bot.errors) if bot else 0}. "
        + ("PASS" if not problems else "FAIL: " + "; ".join(problems)),
    ]
    if heap is not None:
        heap.load()
    return rows, summary, not problems, heap.report() if heap is not None else []


def minute_row(m: int, minute: Minute, samples: list[Sample]) -> list[str]:
    window = [s for s in samples if m * 60 <= s.at <= (m + 1) * 60 + 1e-6]
    first, last = (window[0], window[-1]) if window else (None, None)
    cpu = (
        f"{100 * (last.cpu - first.cpu) / (last.at - first.at):.0f}"
        if first and last and last.at > first.at
        else "-"
    )
    lat = minute.latencies
    return [
        str(m + 1),
        f"{minute.sent:,}",
        f"{len(lat):,}",
        str(minute.missing)
        + (f" + {minute.undelivered:,} undelivered" if minute.undelivered else ""),
        f"+{minute.added:,} / -{minute.removed:,}"
        + (f" ({minute.stamps_stuck:,} stuck)" if minute.stamps_stuck else ""),
        f"{len(lat) / 60:.1f}",
        f"{median(lat):.1f}" if lat else "-",
        f"{percentile(lat, 99):.1f}" if lat else "-",
        cpu,
        f"{last.rss:.1f}" if last else "-",
        f"{last.load:.1f}" if last else "-",
        f"{minute.lag:.2f}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=DEFAULTS["minutes"])
    parser.add_argument("--rate", type=float, default=DEFAULTS["rate"], help="questions/s")
    parser.add_argument("--stamps", type=float, default=DEFAULTS["stamps"], help="reactions/s")
    parser.add_argument("--new-share", type=float, default=0.4, help="share of new questions")
    parser.add_argument("--real-share", type=float, default=0.2, help="share of real questions")
    parser.add_argument("--remove-share", type=float, default=0.25, help="stamps taken back")
    parser.add_argument("--warmup", type=float, default=DEFAULTS["warmup"], help="seconds")
    parser.add_argument("--sample", type=float, default=DEFAULTS["sample"], help="RSS every s")
    parser.add_argument("--timeout", type=float, default=10.0, help="s before a reply is missing")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument(
        "--give-up",
        type=float,
        default=60.0,
        help="s of mostly unanswered questions after which the run stops and reports",
    )
    parser.add_argument(
        "--heap", action="store_true", help="census of the bot's heap at start, half, end"
    )
    parser.add_argument(
        "--heap-frames",
        type=int,
        default=0,
        help="with --heap: also trace allocations from half time, keeping this many frames",
    )
    parser.add_argument("--bot-log", help="write everything the bot logs to this file")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.minutes != int(args.minutes) or args.minutes < 1:
        parser.error("--minutes must be a whole number of minutes")
    if 60 % args.sample or args.warmup % args.sample:
        parser.error("--sample must divide 60 and --warmup")
    if args.rate * 2 * USER_COOLDOWN > AUTHORS:
        parser.error(
            f"at most {AUTHORS / (2 * USER_COOLDOWN):.0f} questions/s: the members "
            "would ask again within the user cooldown"
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stampy-soak-") as tmp:
        rows, summary, ok, heap = asyncio.run(soak(args, Path(tmp)))
    command = "python bench/soak.py"
    for key, default in DEFAULTS.items():
        if getattr(args, key) != default:
            command += f" --{key} {getattr(args, key):g}"
    if args.heap:
        command += " --heap" + (f" --heap-frames {args.heap_frames}" if args.heap_frames else "")
    header = [
        "minute",
        "questions sent",
        "replied",
        "missing",
        "stamps +/-",
        "replies/s",
        "p50 ms",
        "p99 ms",
        "bot CPU %",
        "bot RSS MiB",
        "load avg",
        "driver lag s",
    ]
    body = "\n".join(
        [
            "## Soak (bot process through the fake Discord, steady load)"
            + ((", heap traced" if args.heap_frames > 0 else ", heap census") if args.heap else ""),
            "",
            f"Machine: {machine()}",
            f"Command: `{command}` ({time.perf_counter() - started:.0f} s)",
            "",
            table(header, rows),
            "",
            *[f"- {line}" for line in summary],
            "",
            *(heap + [""] if heap else []),
            f"`python -m bot run` in its own process against `tests/fakediscord/` served by "
            f"the benchmark process on 127.0.0.1, shipped knowledge base, default cooldowns "
            f'and stamp settings. Open loop: {args.rate:g} questions/s ("stampy, <question>" '
            f"from {AUTHORS:,} members in {CHANNELS} channels: {100 * args.new_share:.0f}% new "
            f"questions spliced from two real ones, {100 * args.real_share:.0f}% real YouTube "
            f"questions, the rest knowledge-base phrasings) and {args.stamps:g} stamp "
            f"reactions/s on the bot's answers ({100 * args.remove_share:.0f}% taking one back). "
            "Rows: traffic scheduled in that minute; latency: fake dispatches MESSAGE_CREATE "
            "-> fake receives the reply POST; bot CPU % of one core; RSS: VmRSS at the end of "
            f"the minute (sampled every {args.sample:g} s); load avg: the machine's 1-minute "
            "load average then (2 cores, shared); driver lag: the most this process sent a "
            "question behind its schedule in that minute (the fake and the driver share one "
            "event loop). Missing: no reply within the timeout; undelivered: the fake could not "
            "even hand the question over (the bot was not reading its gateway socket). If for "
            f"{args.give_up:g} s most questions go unanswered the run stops and says so rather "
            "than pile more load on a bot that is behind. At the end the bot is stopped with "
            "SIGTERM and its database read: its stamps must be exactly the fake's.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("soak_heap" if args.heap and args.heap_frames > 0 else "soak", body)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
