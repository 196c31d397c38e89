"""``stampy run`` as a real process against the fake Discord: start, answer, stop, no leaks."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from botproc import BotProcess
from fakediscord import FakeDiscord

from bot.cli import main
from bot.discord.run import API_BASE_ENV, GATEWAY_ENV

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "subprocess-token-9d41c0b7e3a2"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "stampy.toml"
    config.write_text(
        "[knowledge]\n"
        f"answers_dir = {str(ROOT / 'answers')!r}\n"
        "[database]\n"
        f"path = {str(tmp_path / 'run.db')!r}\n",
        encoding="utf-8",
    )
    return config


def _env(fake: FakeDiscord, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STAMPY_CONFIG"}
    env.update({"DISCORD_TOKEN": token, API_BASE_ENV: fake.api_base, GATEWAY_ENV: fake.gateway_url})
    return env


async def _start(fake: FakeDiscord, tmp_path: Path, token: str) -> BotProcess:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(_config(tmp_path)),
        "run",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(fake, token),
        cwd=str(tmp_path),
    )
    return BotProcess(proc)


async def test_stampy_run_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord(token=TOKEN) as fake:
        child = await _start(fake, tmp_path, TOKEN)
        try:
            await child.wait_for_line("Stampy ready as")
            posted = await fake.post_message(
                fake.channel.id, fake.member.id, "stampy, where can I learn about interpretability?"
            )
            reply = await fake.wait_for_message(fake.channel.id, timeout=10)
            assert reply["message_reference"]["message_id"] == posted["id"]
            assert reply["embeds"][0]["title"] == "Where can I learn about interpretability?"
            assert reply["embeds"][0]["description"].startswith("Interpretability is a young field")
        finally:
            if child.proc.returncode is None:
                child.proc.send_signal(signal.SIGTERM)
        code = await child.finish()
        assert not fake.errors, fake.errors[0]

    output = child.output
    assert code == 0, output
    ready = [line for line in child.err if "Stampy ready as" in line]
    assert len(ready) == 1 and ready[0].rstrip().endswith(
        "Stampy ready as Stampy in 1 guild(s): Test Guild"
    ), output
    assert "Traceback" not in output
    assert TOKEN not in output
    assert (tmp_path / "run.db").exists()
    identify = next(f for f in fake.gateway.received if f["op"] == 2)
    assert identify["d"]["intents"] == (1 << 0) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 15)


async def test_stampy_run_with_a_bad_token_exits_2_without_traceback(tmp_path: Path) -> None:
    wrong = "wrong-token-4b7aa1"
    async with FakeDiscord(token=TOKEN) as fake:
        child = await _start(fake, tmp_path, wrong)
        code = await child.finish()
    assert code == 2, child.output
    messages = [line for line in child.err if line.startswith("stampy:")]
    assert len(messages) == 1 and "rejected the token" in messages[0], child.output
    assert "Traceback" not in child.output
    assert wrong not in child.output


def test_stampy_run_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("STAMPY_CONFIG", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stampy: DISCORD_TOKEN is not set") and err.count("\n") == 1
