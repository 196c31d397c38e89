"""``python -m bot run`` as a child process against a fake Discord served by the test.

For the tests that need a real process: signals (clean shutdown) and SIGKILL (crash safety).
The child's output is collected as it comes; waits poll for a condition with a generous
deadline (two noisy cores) and fail at once if the child has exited.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fakediscord import FakeDiscord

from bot.discord.run import API_BASE_ENV, GATEWAY_ENV

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "subprocess-token-51c7e0aa93"
WAIT = 30.0  # seconds: generous, the machine is small and busy


def write_config(tmp_path: Path, db: Path, *, home_guild: int | None = None) -> Path:
    """A config: the seed answers, ``db``, no cooldowns, quick stamp embeds and reputation."""
    config = tmp_path / "stampy.toml"
    lines = [
        "[knowledge]",
        f"answers_dir = {str(ROOT / 'answers')!r}",
        "[database]",
        f"path = {str(db)!r}",
        "[discord]",
        "user_cooldown_seconds = 0.0",
        "channel_cooldown_seconds = 0.0",
    ]
    if home_guild is not None:
        lines.append(f"home_guilds = [{home_guild}]")
    lines += ["[stamps]", "embed_update_seconds = 0.05", "reputation_delay_seconds = 0.05"]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


class BotProcess:
    """A ``python -m bot --config CONFIG run`` child whose output is collected as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.err: list[str] = []
        self.out: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(proc.stdout, self.out)),
            asyncio.create_task(self._read(proc.stderr, self.err)),
        ]

    @classmethod
    async def start(
        cls, fake: FakeDiscord, config: Path, cwd: Path, args: Iterable[str] = ()
    ) -> BotProcess:
        """Start ``stampy --config CONFIG run ARGS``."""
        env = {k: v for k, v in os.environ.items() if k != "STAMPY_CONFIG"}
        env.update(
            {"DISCORD_TOKEN": TOKEN, API_BASE_ENV: fake.api_base, GATEWAY_ENV: fake.gateway_url}
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "run",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(cwd),
        )
        return cls(proc)

    @staticmethod
    async def _read(stream: asyncio.StreamReader, into: list[str]) -> None:
        async for line in stream:
            into.append(line.decode("utf-8", "replace"))

    @property
    def output(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def lines(self, text: str) -> list[str]:
        return [line for line in self.err if text in line]

    async def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        """Poll ``condition`` until truthy; fail if the child exits or time runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = condition()
            if result:
                return result
            if self.proc.returncode is not None or loop.time() > deadline:
                raise AssertionError(f"{what}: not seen; output so far:\n{self.output}")
            await asyncio.sleep(0.02)

    async def wait_for_line(self, text: str, timeout: float = WAIT) -> None:
        await self.wait_for(lambda: self.lines(text), f"a log line with {text!r}", timeout)

    async def finish(self, timeout: float = WAIT) -> int:
        """Wait for the child to exit (killing it after ``timeout``); its exit code."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            await asyncio.gather(*self._readers)
            raise AssertionError(f"the bot did not exit; output:\n{self.output}") from None
        await asyncio.gather(*self._readers)
        return code

    async def kill(self) -> None:
        """Make sure the child is gone (teardown)."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.finish()


def query(db: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the bot's database from the test (a separate connection; WAL lets it read)."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, tuple(params)).fetchall()
    finally:
        conn.close()


def integrity(db: Path) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` of the database: ["ok"] if sound."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        found += [repr(row) for row in conn.execute("PRAGMA foreign_key_check")]
        return found
    finally:
        conn.close()
