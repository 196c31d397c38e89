"""Clean shutdown of ``stampy run`` (a real process) on SIGTERM and SIGINT, also mid start-up.

A signal must: close the gateway first (the fake sees the client close its websocket with
1000), then write every stamp event the bot had accepted (here they wait in memory because
the test holds the database's write lock, so they can only be written during the
shutdown), log "Stampy stopped" and exit 0.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from botproc import TOKEN, BotProcess, integrity, query, write_config
from fakediscord import FakeDiscord, GatewayConnection

STAMP = ("stamp", 710_000_000_000_000_001)  # custom :stamp: (weight 1)
GOLD = ("goldstamp", 710_000_000_000_000_002)  # custom :goldstamp: (weight 5)
MEDAL = ("🏅", None)  # the unicode fallback (weight 1)
EMOJIS = (STAMP, GOLD, MEDAL)
QUESTIONS = (
    "stampy, where can I learn about interpretability?",
    "stampy, what is AI alignment?",
)


async def ask(fake: FakeDiscord, text: str) -> dict[str, Any]:
    """A member asks; the bot's reply to it (the fake's copy, kept up to date)."""
    posted = await fake.post_message(fake.channel.id, fake.member.id, text)
    return await fake.wait_for_message(
        fake.channel.id,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
        timeout=30,
    )


def stamps_in_fake(fake: FakeDiscord, message_ids: list[int]) -> set[tuple[int, int, str]]:
    """(message, user, emoji) of every stamp reaction the fake holds on these messages."""
    return {
        (message_id, user, name)
        for message_id in message_ids
        for name, emoji_id in EMOJIS
        for user in fake.reaction_users(message_id, name, emoji_id)
        if user != fake.bot.id
    }


def stamps_in_db(db: Path) -> set[tuple[int, int, str]]:
    return {(m, v, e) for m, v, e in query(db, "SELECT message_id, voter_id, emoji FROM stamps")}


def gateway_of(fake: FakeDiscord) -> GatewayConnection:
    [conn] = [c for c in fake.gateway.connections if c.session is not None]
    return conn


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_closes_the_gateway_then_writes_every_queued_stamp(
    tmp_path: Path, sig: signal.Signals
) -> None:
    db = tmp_path / "stampy.db"
    async with FakeDiscord(token=TOKEN) as fake:
        stampers = [fake.add_user(f"stamper{i}") for i in range(5)]
        for user in stampers:
            fake.add_member(fake.guild.id, user.id)
        child = await BotProcess.start(fake, write_config(tmp_path, db), tmp_path)
        try:
            await child.wait_for_line("Stampy ready as")
            answer = await ask(fake, QUESTIONS[0])
            answer_id = int(answer["id"])
            await child.wait_for(
                lambda: query(
                    db, "SELECT 1 FROM answer_messages WHERE message_id = ?", [answer_id]
                ),
                "the answer message stored",
            )
            # Hold the write lock: from now on the bot can only keep stamp events in memory.
            lock = sqlite3.connect(db, timeout=10, isolation_level=None)
            try:
                lock.execute("BEGIN IMMEDIATE")
                sent = 0
                for i, user in enumerate(stampers):
                    for name, emoji_id in EMOJIS:
                        await fake.add_reaction(fake.channel.id, answer_id, user.id, name, emoji_id)
                        sent += 1
                    if i % 2:  # and some taken back again
                        name, emoji_id = EMOJIS[i % 3]
                        await fake.remove_reaction(
                            fake.channel.id, answer_id, user.id, name, emoji_id
                        )
                        sent += 1
                # Discord delivers in order: the reply to a later question shows that the bot
                # has read (accepted) every reaction event sent before it.
                await ask(fake, QUESTIONS[1])
                assert stamps_in_db(db) == set()  # all of them wait in the bot's memory

                child.proc.send_signal(sig)
                conn = gateway_of(fake)
                await child.wait_for(lambda: conn.ws.closed, "the gateway closed by the bot")
                assert conn.ws.close_code == 1000, child.output  # closed by the client
                assert conn.session is None or conn.session.ended
                assert stamps_in_db(db) == set()  # the gateway closed before the flush
            finally:
                lock.rollback()
                lock.close()
            code = await child.finish()
        finally:
            await child.kill()
        expected = stamps_in_fake(fake, [answer_id])
        assert not fake.errors, fake.errors[0]

    output = child.output
    assert code == 0, output
    assert sent == 17 and len(expected) == 13
    assert stamps_in_db(db) == expected, output
    assert child.lines(f"{signal.Signals(sig).name} received: stopping"), output
    assert child.err[-1].rstrip().endswith("Stampy stopped"), output
    assert "Traceback" not in output and " ERROR " not in output, output
    assert "not recorded" not in output and "lost" not in output, output
    assert integrity(db) == ["ok"]


async def test_sigterm_while_logging_in_exits_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "stampy.db"
    async with FakeDiscord(token=TOKEN) as fake:
        fake.delay("GET", "/users/@me", 120)  # login hangs: the bot is not ready yet
        child = await BotProcess.start(fake, write_config(tmp_path, db), tmp_path)
        try:
            await child.wait_for(lambda: fake.requests_to("GET", "/users/@me"), "the login")
            child.proc.send_signal(signal.SIGTERM)
            code = await child.finish()
        finally:
            await child.kill()
        assert not fake.gateway.connections  # it never connected
    output = child.output
    assert code == 0, output
    assert child.err[-1].rstrip().endswith("Stampy stopped"), output
    assert "Traceback" not in output and " ERROR " not in output, output
    assert "Stampy ready" not in output
    assert integrity(db) == ["ok"]


async def test_sigterm_before_ready_closes_the_gateway_and_exits_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "stampy.db"
    async with FakeDiscord(token=TOKEN) as fake:
        # READY never comes: the IDENTIFY is answered only after the test ends.
        gateway = fake.gateway
        held_back: list[asyncio.Future[None]] = []

        async def held(conn: GatewayConnection, data: dict[str, Any]) -> None:
            held_back.append(asyncio.get_running_loop().create_future())  # never answered

        gateway._identify = held  # type: ignore[method-assign]
        child = await BotProcess.start(fake, write_config(tmp_path, db), tmp_path)
        try:
            await child.wait_for(
                lambda: any(f["op"] == 2 for f in gateway.received), "the IDENTIFY"
            )
            [conn] = gateway.connections
            child.proc.send_signal(signal.SIGTERM)
            code = await child.finish()
        finally:
            await child.kill()
        assert held_back and not held_back[0].done()  # no READY was ever sent
        assert conn.ws.close_code == 1000, child.output
        assert not fake.errors, fake.errors[0]
    output = child.output
    assert code == 0, output
    assert child.err[-1].rstrip().endswith("Stampy stopped"), output
    assert "Traceback" not in output and " ERROR " not in output, output
    assert "Stampy ready" not in output
    assert integrity(db) == ["ok"]
