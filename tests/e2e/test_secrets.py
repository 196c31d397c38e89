"""The token never leaks, and no reply pings anyone: ``stampy run`` as a real process.

The process runs with every logger at DEBUG (discord.py's gateway and HTTP logs included),
answers questions (hostile ones among them), takes a stamp and a slash command and shuts
down. Its whole output is then searched for the token and each of its dot-separated parts.
Every message the bot sent through the fake Discord carries ``allowed_mentions`` with
nothing allowed, and the fake (which resolves mentions as Discord does) found none.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from fakediscord import FakeDiscord

from bot.discord.run import API_BASE_ENV, GATEWAY_ENV

ROOT = Path(__file__).resolve().parents[2]
# Shaped like a real bot token: base64 of an id, a base64 timestamp, an HMAC.
TOKEN = ".".join(
    [
        base64.b64encode(b"1187654321098765432").decode().rstrip("="),
        "GkX9aQ",
        "s3cr3tHmacPartThatMustNeverBeLogged_x9Q",
    ]
)


def secrets_of(token: str) -> list[str]:
    """The token, its parts and the forms it could be logged in."""
    parts = [part for part in token.split(".") if len(part) >= 6]
    encoded = base64.b64encode(token.encode()).decode()
    return [token, f"Bot {token}", encoded, *parts]


def config(tmp_path: Path) -> Path:
    path = tmp_path / "stampy.toml"
    path.write_text(
        "[knowledge]\n"
        f"answers_dir = {str(ROOT / 'answers')!r}\n"
        "[database]\n"
        f"path = {str(tmp_path / 'run.db')!r}\n"
        "[discord]\n"
        "user_cooldown_seconds = 0.0\n"
        "channel_cooldown_seconds = 0.0\n"
        "[stamps]\n"
        "embed_update_seconds = 0.0\n",
        encoding="utf-8",
    )
    return path


async def start(fake: FakeDiscord, tmp_path: Path, token: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "STAMPY_CONFIG"}
    env.update({"DISCORD_TOKEN": token, API_BASE_ENV: fake.api_base, GATEWAY_ENV: fake.gateway_url})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config(tmp_path)),
        "run",
        "--log-level",
        "debug",  # every logger, discord.py's gateway and HTTP logs included
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(tmp_path),
    )


class Output:
    """Collects a child's stdout and stderr as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.chunks: list[str] = []
        self.readers = [
            asyncio.create_task(self._read(proc.stdout)),
            asyncio.create_task(self._read(proc.stderr)),
        ]

    async def _read(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.chunks.append(line.decode("utf-8", "replace"))

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    async def wait_for(self, needle: str, timeout: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while needle not in self.text:
            if self.proc.returncode is not None or loop.time() > deadline:
                raise AssertionError(f"no {needle!r} in the output:\n{self.text[-5000:]}")
            await asyncio.sleep(0.02)

    async def finish(self, timeout: float = 20.0) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.gather(*self.readers)
        return code


def sent_bodies(fake: FakeDiscord) -> list[tuple[str, dict[str, Any]]]:
    """Every message body the bot sent or edited: channel messages, interaction responses
    (their ``data``) and followups."""
    bodies = []
    for request in fake.requests:
        body = request.json
        if not isinstance(body, dict):
            continue
        if request.path.startswith("/interactions/"):
            body = body.get("data") or {}
            if "choices" in body or "custom_id" in body:  # autocomplete, modal
                continue
        if request.method in ("POST", "PATCH") and ("content" in body or "embeds" in body):
            bodies.append((f"{request.method} {request.route}", body))
    return bodies


def assert_pings_nobody(fake: FakeDiscord) -> None:
    bodies = sent_bodies(fake)
    routes = {where for where, _ in bodies}
    assert "POST /channels/{channel_id}/messages" in routes, routes  # answers, replies
    assert any(route.startswith("PATCH /channels/") for route in routes), routes  # stamp edit
    assert any("/interactions/" in route for route in routes), routes  # slash commands
    for where, body in bodies:
        allowed = body.get("allowed_mentions")
        assert allowed is not None, f"{where} sent without allowed_mentions: {body}"
        assert allowed.get("parse") == [], (where, allowed)
        assert not allowed.get("users") and not allowed.get("roles"), (where, allowed)
        assert not allowed.get("replied_user"), (where, allowed)
    for message in fake.bot_messages():
        assert message["mentions"] == [] and message["mention_roles"] == []
        assert message["mention_everyone"] is False


async def test_a_full_run_at_debug_level_never_logs_the_token(tmp_path: Path) -> None:
    async with FakeDiscord(token=TOKEN) as fake:
        proc = await start(fake, tmp_path, TOKEN)
        output = Output(proc)
        try:
            await output.wait_for("Stampy ready as")
            channel = fake.channel.id
            hostile = (
                f"stampy, @everyone @here <@{fake.owner.id}> <@&{fake.mod_role.id}> what is AGI?"
            )
            posted = await fake.post_message(channel, fake.member.id, hostile)
            answer = await fake.wait_for_message(
                channel,
                timeout=10,
                predicate=lambda m: (
                    (m.get("message_reference") or {}).get("message_id") == posted["id"]
                ),
            )
            assert answer["embeds"][0]["title"] == "What is AGI?"
            # Messages full of mentions that get the "Hi! Ask me" and "no answer" replies.
            for text in (f"<@{fake.bot.id}> @everyone 🙂", "stampy, <@&1> zzqx @here?"):
                await fake.post_message(channel, fake.member.id, text)
            await fake.wait_for_message(channel, timeout=10, count=3)

            # A stamp: the embed is edited to show it.
            edits = len(fake.requests)
            await fake.add_reaction(channel, int(answer["id"]), fake.member.id, "🏅")
            await fake.wait_for_request(
                "PATCH", "/channels/{c}/messages/{m}", since=edits, timeout=10
            )

            # Slash commands: the leaderboard, and a moderator's /answer show.
            top = await fake.run_command(fake.guild.id, channel, fake.member.id, "stamps top")
            assert (await top.response(timeout=10)).ephemeral
            show = await fake.run_command(
                fake.guild.id, channel, fake.moderator.id, "answer show", {"question": "AGI"}
            )
            await show.response(timeout=10)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        code = await output.finish()
        assert not fake.errors, fake.errors[0]
        assert_pings_nobody(fake)
        # The token goes to Discord only where it must: the Authorization header and IDENTIFY.
        for request in fake.requests:
            assert TOKEN not in json.dumps(request.json), request.path
        identify = next(frame for frame in fake.gateway.received if frame["op"] == 2)
        assert identify["d"]["token"] in (TOKEN, f"Bot {TOKEN}")

    text = output.text
    assert code == 0, text[-5000:]
    assert " DEBUG discord." in text, "discord.py's DEBUG logs were not on"
    assert "Stampy stopped" in text and "Traceback" not in text
    for secret in secrets_of(TOKEN):
        assert secret not in text, f"{secret!r} is in the logs"
    # Nor in the database the run left.
    with sqlite3.connect(tmp_path / "run.db") as db:
        dump = "\n".join(db.iterdump())
    assert "🏅" in dump  # the stamp was stored
    assert not any(secret in dump for secret in secrets_of(TOKEN))


async def test_a_rejected_token_is_not_echoed_even_at_debug_level(tmp_path: Path) -> None:
    wrong = ".".join(
        [base64.b64encode(b"1099999999999999999").decode().rstrip("="), "GzZzZz", "W" * 38]
    )
    async with FakeDiscord(token=TOKEN) as fake:
        output = Output(await start(fake, tmp_path, wrong))
        code = await output.finish()
    assert code == 2, output.text
    assert "stampy: Discord rejected the token in DISCORD_TOKEN" in output.text
    assert "Traceback" not in output.text
    for secret in secrets_of(wrong):
        assert secret not in output.text, f"{secret!r} is in the output"
