"""Questions per second and reply latency of ``stampy run`` through the fake Discord.

The bot runs in its own process (``python -m bot run``), pointed with ``STAMPY_DISCORD_API_BASE``
and ``STAMPY_DISCORD_GATEWAY`` at the fake Discord of ``tests/fakediscord/``, which this
process serves on 127.0.0.1 (no other network). Traffic is "stampy, <question>" from 1,000
distinct members: phrasings of the knowledge base's own questions (so the bot answers) and,
for a fifth of the messages, real YouTube questions from the benchmark folder (so some get
"did you mean" or "no answer", which also writes the question to the SQLite store).

Latency is the time from the fake dispatching MESSAGE_CREATE (just before ``post_message``,
which builds and writes the frame) to the fake receiving the bot's
``POST /channels/{id}/messages`` whose ``message_reference.message_id`` is that message. Every
message gets exactly one reply; a message without one within ``--timeout`` s is "missing".

For each knowledge base (the shipped ``answers/``, and a synthetic one of ``--size`` questions
built like match_speed's from the real questions, each with 3 alternate phrasings, no two
phrasings equal after normalisation, and one answer, written to a temporary directory as YAML
files of 500 questions, as the loader refuses files over 1 MiB, and checked with ``python -m
bot check``) and each channel count (1 and 10), after a warm-up:

- **closed loop**: ``--inflight`` messages outstanding at any time, ``--messages`` in all;
  replies/s = replies / wall time (the most the bot sustains), with latency under that load;
- **open loop**: messages sent at a fixed ``--rate`` per second (the target), ``--open-messages``
  in all; latency at that load.

The bench's config file sets both cooldowns to 0: the per-channel cooldown would otherwise
drop repeats of the same question in a channel within 1 s, which random traffic drawn from
the 184 shipped phrasings cannot avoid at hundreds of messages per second. With ``--orjson
both`` every configuration runs twice, with discord.py using orjson (if installed) and with
it hidden from the bot process.

To compare two commits on a machine whose speed changes from minute to minute, ``--bot-path
DIR`` runs the bot of the checkout in DIR against this driver, fake and traffic (nothing is
written); runs of the two checkouts alternated in one window are then comparable. Every run
names the bot's commit.

Run: python bench/discord_throughput.py [--size 10000] [--messages 2000] [--inflight 32] [--quick]
     [--bot-path DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import importlib.util
import itertools
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml
from _common import machine, median, percentile, table, write_section
from match_speed import drop_words, real_questions, splice

from bot.discord.run import API_BASE_ENV, GATEWAY_ENV
from bot.knowledge.loader import load_directory
from bot.knowledge.text import normalize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fakediscord import FakeDiscord, RateLimits  # noqa: E402

TOKEN = "bench-token-5f0c2a9e"
AUTHORS = 1000
REAL_SHARE = 0.2  # share of messages that are real YouTube questions
PER_FILE = 500  # questions per synthetic YAML file (the loader refuses files over 1 MiB)
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# Knowledge bases
# --------------------------------------------------------------------------------------------


def _candidates(rng: random.Random, real: list[str]) -> Iterator[str]:
    """Phrasings for one synthetic question, as in match_speed.build_kb, then more splices."""
    a, b, c = rng.sample(real, 3)
    main = splice(rng, a, b)
    yield main
    yield splice(rng, a, c)
    yield drop_words(rng, main)
    yield splice(rng, b, a)
    while True:  # another start on a's end (a's own start may fill all 250 characters)
        yield splice(rng, rng.choice(real), a)


def write_synthetic_kb(directory: Path, rng: random.Random, real: list[str], size: int) -> int:
    """Write ``size`` questions (1 text + 3 alternate phrasings, 1 answer each) as YAML files of
    ``PER_FILE`` questions. Phrasings whose normalised form is taken are replaced by new
    splices, so the loader's duplicate check never rejects a file. Returns the phrasing count."""
    seen: set[str] = set()
    total = 0
    for first in range(0, size, PER_FILE):
        questions = []
        for n in range(first, min(size, first + PER_FILE)):
            phrasings: list[str] = []
            for text in _candidates(rng, real):
                key = normalize(text)
                if key and key not in seen and len(text) <= 256:
                    seen.add(key)
                    phrasings.append(text)
                    if len(phrasings) == 4:
                        break
            total += len(phrasings)
            questions.append(
                {
                    "id": f"synthetic-{n}",
                    "question": phrasings[0],
                    "alternate_phrasings": phrasings[1:],
                    "tags": ["synthetic", f"group-{n % 50}"],
                    "answers": [
                        {
                            "id": f"synthetic-{n}-answer",
                            "canonical": True,
                            "author": "bench",
                            "text": f"Synthetic answer number {n}. It restates the question "
                            f"({phrasings[0]}) so each answer differs, and is about as long "
                            "as a short real answer: a few sentences of plain Markdown, "
                            "with **some emphasis** and a [link](https://example.org/).",
                        }
                    ],
                }
            )
        doc = {"topic": f"Synthetic {first // PER_FILE}", "questions": questions}
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text = yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True, width=1000)
        (directory / f"synthetic-{first // PER_FILE:02d}.yaml").write_text(text, "utf-8")
    return total


def check_kb(directory: Path, expected: int | None) -> tuple[int, list[str]]:
    """``python -m bot check DIR`` must pass (and find ``expected`` questions); returns the
    question count and every phrasing, as the loader reads them."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check", str(directory)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    found = re.search(r"(\d+) questions, (\d+) phrasings", done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"stampy check {directory} failed:\n{done.stdout}{done.stderr}")
    questions = int(found.group(1))
    if expected is not None and questions != expected:
        raise SystemExit(f"stampy check found {questions} questions, expected {expected}")
    result = load_directory(directory)
    phrasings = [p for q in result.questions for p in q.phrasings]
    if result.errors or len(result.questions) != questions:
        raise SystemExit(f"loader disagrees with stampy check on {directory}")
    print(done.stdout.strip().splitlines()[-1], flush=True)
    return questions, phrasings


# --------------------------------------------------------------------------------------------
# The bot process
# --------------------------------------------------------------------------------------------


class BotProcess:
    """``python -m bot run`` as a child, its stderr drained (last lines kept)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.errors: list[str] = []
        self.ready = asyncio.Event()
        self.log: TextIO | None = None  # every line the bot writes, if set
        assert proc.stderr is not None and proc.stdout is not None
        self._readers = [
            asyncio.create_task(self._read(proc.stderr)),
            asyncio.create_task(self._read(proc.stdout)),
        ]

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if self.log is not None:
                self.log.write(line)
            if "Stampy ready as" in line:
                self.ready.set()
            if " ERROR " in line or "Traceback" in line or "warning:" in line:
                self.errors.append(line.rstrip())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> tuple[float, float]:
        """User + system CPU time so far of the bot process (all its threads) and of its main
        thread (the event loop)."""
        times = []
        for stat in (f"/proc/{self.pid}/stat", f"/proc/{self.pid}/task/{self.pid}/stat"):
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            times.append((int(fields[11]) + int(fields[12])) / CLK_TCK)
        return times[0], times[1]

    async def settle(self, limit: float = 60.0) -> float:
        """Wait until the bot is idle (under 5% of a core for 0.5 s); the seconds waited."""
        started = time.perf_counter()
        last = self.cpu_seconds()[0]
        while time.perf_counter() - started < limit:
            await asyncio.sleep(0.5)
            now = self.cpu_seconds()[0]
            if now - last < 0.025:
                break
            last = now
        return time.perf_counter() - started - 0.5

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def wait_ready(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            raise SystemExit("the bot did not get ready:\n" + "".join(self.lines)) from None

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        return self.proc.returncode if self.proc.returncode is not None else -1


def bot_env(
    fake: FakeDiscord, orjson: bool, shim: Path, bot_path: Path | None = None
) -> dict[str, str]:
    """The bot process's environment: the fake's addresses, orjson hidden if not ``orjson``,
    and the bot's code from the checkout ``bot_path`` if given (this one's otherwise)."""
    env = {k: v for k, v in os.environ.items() if k != "STAMPY_CONFIG"}
    env.update({"DISCORD_TOKEN": TOKEN, API_BASE_ENV: fake.api_base, GATEWAY_ENV: fake.gateway_url})
    if bot_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(bot_path), env.get("PYTHONPATH")]))
    if not orjson:  # an orjson module that is "not found": discord.py falls back to json
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
    return env


def commit_of(checkout: Path) -> str:
    """The short commit of ``checkout`` ("+ changes" if its tracked files differ from it)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(checkout), "diff", "--quiet", "HEAD", "--", "bot"], timeout=30
        ).returncode
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return head + (" + changes" if dirty else "")


def bot_has_orjson(env: dict[str, str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", "import discord.utils as u; print(u.HAS_ORJSON)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    return done.stdout.strip() == "True"


def write_config(
    directory: Path, answers: Path, *, cooldowns: bool = False, extra: str = ""
) -> Path:
    """The bot's config file: ``answers``, a database in ``directory``, both cooldowns 0
    (unless ``cooldowns``: the defaults), then the TOML in ``extra``."""
    config = directory / "stampy.toml"
    config.write_text(
        "[knowledge]\n"
        f"answers_dir = {str(answers)!r}\n"
        "[database]\n"
        f"path = {str(directory / 'bench.db')!r}\n"
        "[discord]\n"
        + ("" if cooldowns else "user_cooldown_seconds = 0\nchannel_cooldown_seconds = 0\n")
        + extra,
        encoding="utf-8",
    )
    return config


# --------------------------------------------------------------------------------------------
# Driving traffic
# --------------------------------------------------------------------------------------------


@dataclass
class Phase:
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # ms, of answered messages
    missing: int = 0
    wall: float = 0.0
    bot_cpu: float = 0.0
    bot_main_cpu: float = 0.0
    drain: float = 0.0  # seconds the bot stayed busy after the last reply
    fake_cpu: float = 0.0
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    by_kind: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))

    def add(self, result: tuple[float, str] | None) -> None:
        if result is None:
            self.missing += 1
        else:
            self.latencies.append(result[0])
            self.by_kind[result[1]].append(result[0])

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


class Driver:
    """Posts messages through the fake and waits for the bot's reply to each."""

    def __init__(self, fake: FakeDiscord, timeout: float) -> None:
        self.fake = fake
        self.timeout = timeout
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.early: dict[int, float] = {}  # replies seen before post_message returned
        self.replied: set[int] = set()
        self.kind_of: dict[int, str] = {}
        self.duplicates = 0
        self.kinds: collections.Counter[str] = collections.Counter()
        # Called with (asked message id, reply body, reply message) for each first reply.
        self.on_reply: Callable[[int, dict, dict], None] | None = None
        send_message = fake.rest.send_message

        async def hooked(request, body):  # replaces the route handler (before fake.start())
            received = time.perf_counter()
            result = await send_message(request, body)
            ref = (body or {}).get("message_reference") or {}
            if ref.get("message_id") is not None:
                asked = int(ref["message_id"])
                if self._on_reply(asked, received, body) and self.on_reply is not None:
                    self.on_reply(asked, body, result)
            return result

        fake.rest.send_message = hooked  # type: ignore[method-assign]

    def _on_reply(self, message_id: int, received: float, body: dict) -> bool:
        """Note a reply to ``message_id``; False if it already had one."""
        if message_id in self.replied:
            self.duplicates += 1
            return False
        self.replied.add(message_id)
        kind = "answer" if body.get("embeds") else "suggest" if body.get("components") else "none"
        self.kinds[kind] += 1
        self.kind_of[message_id] = kind
        future = self.waiting.pop(message_id, None)
        if future is not None and not future.done():
            future.set_result(received)
        else:
            self.early[message_id] = received
        return True

    async def ask(self, channel_id: int, author_id: int, text: str) -> tuple[float, str] | None:
        """Post ``text``; the reply latency in ms and the kind of reply (answer, suggest,
        none), or None if no reply came in time (or the fake could not even deliver it)."""
        posted = await self.post(channel_id, author_id, text)
        return None if posted is None else await self.reply(*posted)

    async def post(self, channel_id: int, author_id: int, text: str) -> tuple[int, float] | None:
        """Post ``text``: its message id and when it was sent; None if the fake could not hand
        it to the bot within the timeout (its gateway socket is full: the bot is not reading)."""
        sent = time.perf_counter()
        try:
            msg = await asyncio.wait_for(
                self.fake.post_message(channel_id, author_id, text), self.timeout
            )
        except TimeoutError:
            return None
        return int(msg["id"]), sent

    async def reply(self, message_id: int, sent: float) -> tuple[float, str] | None:
        """Wait for the reply to a posted message: the latency in ms and the kind of reply,
        or None if none came within the timeout."""
        received = self.early.pop(message_id, None)
        if received is None:
            future = asyncio.get_running_loop().create_future()
            self.waiting[message_id] = future
            try:
                received = await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                self.waiting.pop(message_id, None)
                return None
        return (received - sent) * 1000, self.kind_of.pop(message_id)


class Traffic:
    """Endless (channel, author, "stampy, question") triples."""

    def __init__(
        self,
        rng: random.Random,
        phrasings: list[str],
        real: list[str],
        channels: list[int],
        authors: list[int],
    ) -> None:
        self.rng = rng
        self.phrasings = phrasings
        self.real = real
        self.channels = channels
        self.authors = itertools.cycle(authors)
        self.count = 0

    def __next__(self) -> tuple[int, int, str]:
        pool = self.real if self.rng.random() < REAL_SHARE else self.phrasings
        channel = self.channels[self.count % len(self.channels)]
        self.count += 1
        return channel, next(self.authors), f"stampy, {self.rng.choice(pool)}"


def quiet_collector() -> None:
    """Keep the benchmark's own garbage collector from pausing the fake mid-measurement: the
    fake keeps every message and request, and full collections over them took tens of ms,
    counted as the bot's latency. What exists now is moved out of the collector's sight."""
    gc.collect()
    gc.freeze()


async def closed_loop(
    driver: Driver, bot: BotProcess, traffic: Traffic, count: int, inflight: int
) -> Phase:
    phase = Phase()
    driver.kinds.clear()
    quiet_collector()

    async def worker() -> None:
        while phase.sent < count:
            phase.sent += 1
            phase.add(await driver.ask(*next(traffic)))

    (cpu_bot, cpu_main), cpu_fake = bot.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    phase.wall = time.perf_counter() - started
    phase.fake_cpu = time.process_time() - cpu_fake
    cpu_bot_now, cpu_main_now = bot.cpu_seconds()
    phase.bot_cpu, phase.bot_main_cpu = cpu_bot_now - cpu_bot, cpu_main_now - cpu_main
    phase.drain = await bot.settle()
    phase.kinds = collections.Counter(driver.kinds)
    return phase


async def open_loop(
    driver: Driver, bot: BotProcess, traffic: Traffic, count: int, rate: float
) -> Phase:
    phase = Phase()
    driver.kinds.clear()
    quiet_collector()
    (cpu_bot, cpu_main), cpu_fake = bot.cpu_seconds(), time.process_time()
    started = time.perf_counter()
    tasks = []
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(driver.ask(*next(traffic))))
        phase.sent += 1
    send_wall = time.perf_counter() - started
    for result in await asyncio.gather(*tasks):
        phase.add(result)
    phase.wall = time.perf_counter() - started
    phase.fake_cpu = time.process_time() - cpu_fake
    cpu_bot_now, cpu_main_now = bot.cpu_seconds()
    phase.bot_cpu, phase.bot_main_cpu = cpu_bot_now - cpu_bot, cpu_main_now - cpu_main
    phase.drain = await bot.settle()
    phase.kinds = collections.Counter(driver.kinds)
    if send_wall > 1.05 * count / rate:
        print(f"  note: sending took {send_wall:.2f} s instead of {count / rate:.2f} s", flush=True)
    return phase


# --------------------------------------------------------------------------------------------
# One bot process: both channel counts
# --------------------------------------------------------------------------------------------


async def run_bot(
    args: argparse.Namespace,
    label: str,
    answers: Path,
    phrasings: list[str],
    real: list[str],
    orjson: bool,
    workdir: Path,
    shim: Path,
) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(f"{label}-{orjson}")
    limits = RateLimits(args.rate_limit, 1.0) if args.rate_limit else None
    fake = FakeDiscord(token=TOKEN, rate_limits=limits)
    driver = Driver(fake, args.timeout)
    guild = fake.guild
    channels = [fake.add_channel(guild.id, f"bench-{i}").id for i in range(10)]
    authors = fake.add_members(AUTHORS, "asker")
    await fake.start()
    rows: list[list[str]] = []
    kind_rows: list[list[str]] = []
    bot: BotProcess | None = None
    try:
        env = bot_env(fake, orjson, shim, args.bot_path)
        if bot_has_orjson(env) != orjson:
            raise SystemExit(f"could not {'enable' if orjson else 'disable'} orjson in the bot")
        rundir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(write_config(rundir, answers)),
            "run",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(rundir),
        )
        bot = BotProcess(proc)
        started = time.perf_counter()
        await bot.wait_ready(args.start_timeout)
        print(
            f"{label}, orjson {'on' if orjson else 'off'}: bot pid {bot.pid} ready in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for n_channels in (1, 10):
            traffic = Traffic(rng, phrasings, real, channels[:n_channels], authors)
            warm = await closed_loop(driver, bot, traffic, args.warmup, args.inflight)
            profiler = start_profiler(args, bot, label, n_channels, orjson)
            closed = await closed_loop(driver, bot, traffic, args.messages, args.inflight)
            await stop_profiler(profiler)
            opened = await open_loop(driver, bot, traffic, args.open_messages, args.rate)
            kinds = closed.kinds + opened.kinds
            total = sum(kinds.values()) or 1
            row = [
                label,
                str(n_channels),
                "yes" if orjson else "no",
                f"{closed.sent:,}",
                f"{closed.rate:.0f}",
                f"{median(closed.latencies):.1f}",
                f"{percentile(closed.latencies, 99):.1f}",
                str(closed.missing + warm.missing),
                f"{median(opened.latencies):.1f}",
                f"{percentile(opened.latencies, 99):.1f}",
                str(opened.missing),
                f"{closed.drain:.1f}",
                f"{100 * closed.bot_cpu / closed.wall:.0f} "
                f"({100 * closed.bot_main_cpu / closed.wall:.0f})",
                f"{100 * closed.fake_cpu / closed.wall:.0f}",
                "/".join(f"{100 * kinds[k] / total:.0f}" for k in ("answer", "suggest", "none")),
            ]
            print("  " + " | ".join(row), flush=True)
            rows.append(row)
            kind_row = row[:3]
            for phase in (closed, opened):
                for kind in ("answer", "suggest", "none"):
                    values = phase.by_kind.get(kind)
                    kind_row.append(
                        f"{median(values):.1f} / {percentile(values, 99):.1f}" if values else "-"
                    )
            print("  by kind: " + " | ".join(kind_row[3:]), flush=True)
            kind_rows.append(kind_row)
        print(f"  bot RSS at the end: {bot.rss_mib():.0f} MiB", flush=True)
    finally:
        code = await bot.stop() if bot is not None else 0
        await fake.close()
    problems = []
    if code != 0:
        problems.append(f"the bot exited with {code}")
    if bot is not None and bot.errors:
        problems.append("the bot logged errors:\n" + "\n".join(bot.errors[:10]))
    if fake.errors:
        problems.append("the fake failed:\n" + fake.errors[0])
    if driver.duplicates or driver.early:
        problems.append(f"{driver.duplicates} duplicate and {len(driver.early)} late replies")
    if problems:
        raise SystemExit("\n".join(problems))
    return rows, kind_rows


def start_profiler(
    args: argparse.Namespace, bot: BotProcess, label: str, channels: int, orjson: bool
) -> subprocess.Popen[bytes] | None:
    """py-spy on the bot during the closed loop, if ``--profile DIR`` (collapsed stacks)."""
    if not args.profile:
        return None
    out = Path(args.profile) / (
        f"{re.sub(r'[^a-z0-9]+', '-', label.lower())}-{channels}ch-"
        f"{'orjson' if orjson else 'json'}.txt"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ["py-spy", "record", "--pid", str(bot.pid), "--format", "raw", "--rate", "250"]
    command += ["--nonblocking", "--threads", "--output", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let it attach
    return proc


async def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.to_thread(proc.wait, 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> tuple[list[list[str]], list[list[str]]]:
    real = real_questions()
    try:
        import orjson  # noqa: F401

        available = True
    except ImportError:
        available = False
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.orjson]
    if True in modes and not available:
        print("orjson is not installed: running without it only", flush=True)
        modes = [False]
    rows: list[list[str]] = []
    kind_rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="stampy-throughput-") as tmp:
        workdir = Path(tmp)
        shim = workdir / "no-orjson"
        shim.mkdir()
        (shim / "orjson.py").write_text('raise ModuleNotFoundError("hidden by the benchmark")\n')
        kbs = [("shipped", ROOT / "answers", None)]
        if args.only != "shipped":
            synthetic = workdir / "kb"
            synthetic.mkdir()
            started = time.perf_counter()
            count = write_synthetic_kb(synthetic, random.Random(1817), real, args.size)
            took = time.perf_counter() - started
            print(f"wrote {args.size:,} questions, {count:,} phrasings in {took:.1f} s", flush=True)
            kbs.append(("synthetic", synthetic, args.size))
        checked = []
        for name, directory, expected in kbs:
            if args.only and name != args.only:
                continue
            questions, phrasings = check_kb(directory, expected)
            checked.append((f"{name} ({questions:,})", directory, phrasings))
        for label, directory, phrasings in checked:
            for orjson in modes:
                more, more_kinds = await run_bot(
                    args, label, directory, phrasings, real, orjson, workdir, shim
                )
                rows += more
                kind_rows += more_kinds
    return rows, kind_rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000, help="synthetic KB questions")
    parser.add_argument("--messages", type=int, default=2000, help="closed-loop messages")
    parser.add_argument("--inflight", type=int, default=32, help="closed-loop concurrency")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rate", type=float, default=300.0, help="open-loop messages/s")
    parser.add_argument("--open-messages", type=int, default=1500)
    parser.add_argument("--orjson", choices=["both", "on", "off"], default="both")
    parser.add_argument("--timeout", type=float, default=10.0, help="s before a reply is missing")
    parser.add_argument("--start-timeout", type=float, default=120.0)
    parser.add_argument("--only", choices=["shipped", "synthetic"], help="one knowledge base")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the bot in each closed loop")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=10_000,
        metavar="N",
        help="requests per second per route bucket the fake announces in X-RateLimit "
        "headers (0: no headers, and discord.py sends one request per bucket at a time)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the synthetic knowledge base only, orjson as installed, 1,000 closed-loop and "
        "900 open-loop messages",
    )
    parser.add_argument(
        "--bot-path",
        type=Path,
        metavar="DIR",
        help="run the bot from the checkout in DIR (another commit), against this driver and "
        "fake: two commits compared in the same window of a noisy machine; implies --no-write",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.bot_path is not None:
        if not (args.bot_path / "bot" / "__main__.py").is_file():
            parser.error(f"--bot-path {args.bot_path}: no bot/__main__.py there")
        args.bot_path = args.bot_path.resolve()
        args.no_write = True
    if args.quick:
        args.only, args.messages, args.open_messages = "synthetic", 1000, 900
        args.orjson = "on" if importlib.util.find_spec("orjson") else "off"
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows, kind_rows = asyncio.run(run(args))
    load_after = os.getloadavg()[0]
    header = [
        "knowledge base (questions)",
        "channels",
        "orjson",
        "messages",
        "replies/s",
        "p50 ms",
        "p99 ms",
        "missing",
        f"p50 ms @{args.rate:.0f}/s",
        f"p99 ms @{args.rate:.0f}/s",
        f"missing @{args.rate:.0f}/s",
        "drain s",
        "bot CPU % (main thread)",
        "fake CPU %",
        "answer/suggest/none %",
    ]
    kind_header = ["knowledge base (questions)", "channels", "orjson"]
    kind_header += [f"{kind} (closed loop)" for kind in ("answer", "suggest", "none")]
    kind_header += [f"{kind} @{args.rate:.0f}/s" for kind in ("answer", "suggest", "none")]
    command = shlex.join(["python", "bench/discord_throughput.py", *sys.argv[1:]])
    body = "\n".join(
        [
            "## Discord throughput (bot process through the fake Discord)",
            "",
            f"Machine: {machine()}",
            f"Command: `{command}` ({time.perf_counter() - started:.0f} s); 1-minute load "
            f"average {load_before:.2f} at the start, {load_after:.2f} at the end",
            f"Bot: commit {commit_of(args.bot_path or ROOT)}"
            + (f" (`--bot-path {args.bot_path}`)" if args.bot_path else ""),
            "",
            table(header, rows),
            "",
            f"`python -m bot run` in its own process against `tests/fakediscord/` served by "
            f"the benchmark process on 127.0.0.1 (both on this machine). Messages are "
            f'"stampy, <question>" from {AUTHORS:,} members: a KB phrasing, or (one in '
            f"{round(1 / REAL_SHARE)}) a real YouTube question. Latency: fake dispatches "
            "MESSAGE_CREATE -> fake receives the POST replying to it. "
            f"replies/s, p50, p99 and missing: closed loop, {args.inflight} messages in flight, "
            f"{args.messages:,} messages after a warm-up of {args.warmup} (missing includes "
            f"the warm-up); at that load latency is mostly queueing (Little's law: "
            f"{args.inflight} / replies/s). `@{args.rate:.0f}/s`: open loop, "
            f"{args.open_messages:,} messages sent at {args.rate:.0f}/s. drain: seconds the "
            "bot stayed busy after the closed loop's last reply. CPU % is of one core during "
            "the closed loop (bot: all its threads, in brackets its event-loop thread; fake: "
            "the benchmark process). answer/suggest/none: share of replies with an answer, a "
            "did-you-mean, or no answer. Cooldowns are set to 0 in the benchmark's config "
            "file. orjson no: discord.py's JSON in the bot with the standard library (orjson "
            "hidden from the bot process). "
            + (
                f"The fake announces {args.rate_limit:,} requests/s per route bucket in "
                "X-RateLimit headers (Discord's real limit on sending to one channel is about "
                "5 per 5 s; without headers discord.py keeps one request per bucket in flight)."
                if args.rate_limit
                else "The fake sends no X-RateLimit headers: discord.py keeps one request per "
                "route bucket (per channel) in flight."
            ),
            "",
            "Latency p50 / p99 ms by kind of reply:",
            "",
            table(kind_header, kind_rows),
        ]
    )
    print(body)
    if not args.no_write:
        write_section("discord_throughput", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
