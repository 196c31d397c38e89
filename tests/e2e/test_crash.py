"""Crash safety: ``stampy run`` (a real process) killed with SIGKILL in the middle of a burst
of stamp reactions and moderators' edits, then restarted on the same database.

What must hold after the crash and the restart's reconciling:

* the database passes ``PRAGMA integrity_check``;
* the stamps stored are exactly the stamp reactions the fake Discord holds on the answer
  messages (each once), and the stamp book's counts are the weights of those reactions:
  the events the bot had committed, the ones it lost in flight and the ones sent while it
  was down all end up counted exactly once;
* every moderator edit is wholly there or wholly absent: each acknowledged edit is stored,
  at most the one in flight besides; versions run 1..n without gaps, and version k holds
  exactly the first k edits; a question added with phrasings, tags and an answer has all
  of them or is absent.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
from contextlib import suppress
from pathlib import Path
from typing import Any

from botproc import TOKEN, BotProcess, integrity, query, write_config
from fakediscord import FakeDiscord, FakeInteraction

from bot.config import StampSettings
from bot.stamps import StampBook
from bot.store import Store

STAMP = ("stamp", 710_000_000_000_000_001)
GOLD = ("goldstamp", 710_000_000_000_000_002)
MEDAL = ("🏅", None)
EMOJIS = (STAMP, GOLD, MEDAL)
WEIGHTS = {"stamp": 1, "goldstamp": 5, "🏅": 1}
QUESTIONS = (
    "stampy, where can I learn about interpretability?",
    "stampy, what is AI alignment?",
    "stampy, what is AGI?",
)
EVENTS = 240  # stamp reactions (adds and removes) sent in all
KILL_AT = 160  # the bot is killed once this many have been sent (more are still in flight)
EDIT_EVERY = 20  # a moderator's edit must have been acknowledged every this many events
ALIASED = "what-is-agi"  # gets alternate phrasings
TAGGED = "learn-interpretability"  # gets tags
WAIT = 30.0
MODAL_TRIES = 5
MODAL_ANSWER_SECONDS = 4.0  # Discord's 3 s to answer, and some


def alias(i: int) -> str:
    return f"zebra lantern drill {i}"


def tag(i: int) -> str:
    return f"crash-tag-{i}"


def added(i: int) -> dict[str, str]:
    return {
        "question": f"What does crash drill number {i} check?",
        "phrasings": f"crash drill {i} purpose\nwhy run crash drill {i}",
        "tags": f"drills, drill-{i}",
        "answer": f"Crash drill {i} checks that an edit is stored whole or not at all.",
    }


class Moderator:
    """Makes edits one after the other, each waiting for the bot's "Done", until stopped."""

    def __init__(self, fake: FakeDiscord, db: Path) -> None:
        self.fake = fake
        self.db = db
        self.sent: dict[str, int] = {"alias": 0, "tag": 0, "add": 0}
        self.acked: dict[str, int] = {"alias": 0, "tag": 0, "add": 0}
        self.done = 0
        self.changed = asyncio.Event()

    async def command(self, name: str, options: dict[str, Any] | None = None) -> FakeInteraction:
        fake = self.fake
        return await fake.run_command(
            fake.guild.id, fake.channel.id, fake.moderator.id, name, options or {}
        )

    async def said(self, inter: FakeInteraction, timeout: float = WAIT) -> str:
        response = await inter.response(timeout=timeout)
        if response.type == 5:  # deferred
            return (await inter.wait_followups(timeout=WAIT))[-1]["content"]
        return response.content or ""

    async def add(self, fields: dict[str, str]) -> str:
        """/answer add, then submit the modal. discord.py registers a modal only once the
        HTTP response to opening it has arrived: a submit that overtakes it (the test is
        much faster than a person typing) is ignored, and a person would submit again. So
        does this, when the first submit got no answer and stored nothing."""
        for _ in range(MODAL_TRIES):
            opened = await self.command("answer add")
            await opened.response(timeout=WAIT)
            assert opened.modal is not None, opened.callback
            submitted = await self.fake.submit_modal(
                opened.modal["custom_id"], fields, opened_by=opened
            )
            try:
                return await self.said(submitted, timeout=MODAL_ANSWER_SECONDS)
            except TimeoutError:
                stored = query(
                    self.db,
                    "SELECT 1 FROM question_versions WHERE content LIKE ?",
                    [f"%{fields['question']}%"],
                )
                if stored:  # answered too late on a loaded machine: stored all the same
                    return "Done: (stored; the answer came too late)"
        raise AssertionError(f"no answer to {MODAL_TRIES} modal submits")

    async def run(self) -> None:
        kinds = ("alias", "tag", "add")
        for n in range(10_000):
            kind = kinds[n % 3]
            i = self.sent[kind]
            self.sent[kind] += 1
            if kind == "alias":
                options = {"question": ALIASED, "phrasing": alias(i)}
                text = await self.said(await self.command("answer alias add", options))
            elif kind == "tag":
                options = {"question": TAGGED, "tag": tag(i)}
                text = await self.said(await self.command("answer tag add", options))
            else:
                text = await self.add(added(i))
            assert text.startswith("Done:"), text
            self.acked[kind] += 1
            self.done += 1
            self.changed.set()

    async def wait_done(self, editing: asyncio.Task[None], count: int) -> None:
        """Wait until ``count`` edits are acknowledged (re-raising what stopped ``editing``)."""
        while self.done < count:
            self.changed.clear()
            changed = asyncio.ensure_future(self.changed.wait())
            await asyncio.wait({changed, editing}, timeout=WAIT, return_when="FIRST_COMPLETED")
            changed.cancel()
            if editing.done():
                editing.result()
                raise AssertionError("the moderator stopped")
            if not changed.done():
                raise TimeoutError(f"only {self.done} of {count} edits acknowledged")


def versions(db: Path, question_id: str) -> list[tuple[int, str, dict[str, Any]]]:
    rows = query(
        db,
        "SELECT version, state, content FROM question_versions WHERE question_id = ? "
        "ORDER BY version",
        [question_id],
    )
    return [(v, s, json.loads(c)) for v, s, c in rows]


def check_edits(db: Path, moderator: Moderator) -> dict[str, int]:
    """Each edit wholly there or wholly absent; what was stored of each kind."""
    stored: dict[str, int] = {}
    for kind, question_id, key, name in (
        ("alias", ALIASED, "alternate_phrasings", alias),
        ("tag", TAGGED, "tags", tag),
    ):
        rows = versions(db, question_id)
        n = len(rows)
        assert [v for v, _, _ in rows] == list(range(1, n + 1)), rows  # no gaps
        # acknowledged ones are all there, at most the one in flight besides
        assert moderator.acked[kind] <= n <= moderator.sent[kind], (kind, n, moderator.acked)
        assert n >= moderator.acked[kind] and n <= moderator.acked[kind] + 1
        for k, (_, state, content) in enumerate(rows, 1):
            assert state == "set"
            ours = [item for item in content[key] if item.startswith(name(0)[:-1])]
            assert ours == [name(j) for j in range(k)], (k, content[key])
        stored[kind] = n
    rows = query(db, "SELECT question_id, version, state, content FROM question_versions")
    adds = [json.loads(c) for q, _, _, c in rows if q not in (ALIASED, TAGGED)]
    texts = {content["question"]: content for content in adds}
    assert len(texts) == len(adds)  # each added once
    for i in range(moderator.sent["add"]):
        fields = added(i)
        content = texts.get(fields["question"])
        if content is None:
            assert i >= moderator.acked["add"], f"acknowledged question {i} is missing"
            continue
        assert content["alternate_phrasings"] == fields["phrasings"].split("\n")
        assert content["tags"] == [t.strip() for t in fields["tags"].split(",")]
        [answer] = content["answers"]
        assert answer["text"] == fields["answer"]
    assert len(adds) in (moderator.acked["add"], moderator.acked["add"] + 1)
    assert len(adds) <= moderator.sent["add"]
    stored["add"] = len(adds)
    return stored


async def test_sigkill_mid_burst_loses_nothing_and_counts_every_stamp_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "stampy.db"
    rng = random.Random(20240611)
    async with FakeDiscord(token=TOKEN) as fake:
        config = write_config(tmp_path, db, home_guild=fake.guild.id)
        stampers = [fake.add_user(f"stamper{i}") for i in range(6)]
        for user in stampers:
            fake.add_member(fake.guild.id, user.id)
        first = await BotProcess.start(fake, config, tmp_path)
        second: BotProcess | None = None
        moderator = Moderator(fake, db)
        editing: asyncio.Task[None] | None = None
        try:
            await first.wait_for_line("Stampy ready as")
            answers = []
            for text in QUESTIONS:
                posted = await fake.post_message(fake.channel.id, fake.member.id, text)
                reply = await fake.wait_for_message(
                    fake.channel.id,
                    predicate=lambda m, p=posted: (
                        (m.get("message_reference") or {}).get("message_id") == p["id"]
                    ),
                    timeout=WAIT,
                )
                answers.append(int(reply["id"]))
            await first.wait_for(
                lambda: len(query(db, "SELECT 1 FROM answer_messages")) == len(answers),
                "the answer messages stored",
            )

            editing = asyncio.create_task(moderator.run(), name="moderator")
            for n in range(EVENTS):
                if n < KILL_AT and n % EDIT_EVERY == 0:
                    # edits are spread over the burst: one more must be done by now
                    await moderator.wait_done(editing, n // EDIT_EVERY)
                if n == KILL_AT:
                    first.proc.send_signal(signal.SIGKILL)
                message_id = rng.choice(answers)
                user = rng.choice(stampers)
                name, emoji_id = rng.choice(EMOJIS)
                present = user.id in fake.reaction_users(message_id, name, emoji_id)
                if present:
                    await fake.remove_reaction(fake.channel.id, message_id, user.id, name, emoji_id)
                else:
                    await fake.add_reaction(fake.channel.id, message_id, user.id, name, emoji_id)
            assert await first.finish() == -signal.SIGKILL
            editing.cancel()
            with suppress(asyncio.CancelledError, TimeoutError):
                await editing
            assert moderator.done >= KILL_AT // EDIT_EVERY - 1
            assert "Traceback" not in first.output, first.output

            # The crashed database: sound, and every edit whole or absent.
            assert integrity(db) == ["ok"]
            stored = check_edits(db, moderator)

            # Restart on it: start-up reconciles the stamps with what Discord shows.
            second = await BotProcess.start(fake, config, tmp_path)
            await second.wait_for_line("Stampy ready as")
            await second.wait_for_line(f"reconciled {len(answers)} answer messages")
            # It serves what was stored: a question added before the crash is answered.
            asked = added(0)["question"]
            posted = await fake.post_message(fake.channel.id, fake.member.id, f"stampy, {asked}")
            reply = await fake.wait_for_message(
                fake.channel.id,
                predicate=lambda m: (
                    (m.get("message_reference") or {}).get("message_id") == posted["id"]
                ),
                timeout=WAIT,
            )
            assert reply["embeds"][0]["title"] == asked
            second.proc.send_signal(signal.SIGTERM)
            assert await second.finish() == 0, second.output
        finally:
            if editing is not None:
                editing.cancel()
            await first.kill()
            if second is not None:
                await second.kill()
        held = {
            (message_id, user, name)
            for message_id in answers
            for name, emoji_id in EMOJIS
            for user in fake.reaction_users(message_id, name, emoji_id)
        }
        assert not fake.errors, fake.errors[0]

    output = second.output
    assert "Traceback" not in output and " ERROR " not in output, output
    assert integrity(db) == ["ok"]
    assert check_edits(db, moderator) == stored  # the restart changed no edit

    rows = query(db, "SELECT message_id, voter_id, emoji FROM stamps")
    assert len(rows) == len(set(rows))
    assert set(rows) == held and len(held) > 20

    # The stamp book's counts, loaded from the database, are the weights of what Discord holds.
    shows = dict(query(db, "SELECT message_id, answer_id FROM answer_messages"))
    expected: dict[str, int] = {}
    for message_id, _user, name in held:
        expected[shows[message_id]] = expected.get(shows[message_id], 0) + WEIGHTS[name]
    store = await Store.open(str(db))
    try:
        book = StampBook(store, StampSettings())
        await book.start()
        try:
            assert book.stamped_answers() == expected
        finally:
            await book.close()
    finally:
        await store.close()
