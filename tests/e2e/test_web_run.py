"""``stampy web`` and ``stampy run`` with ``[web] with_bot`` as real processes: health,
metrics, JSON logs, a taken port, clean stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from botproc import BotProcess
from fakediscord import FakeDiscord

from bot.discord.run import API_BASE_ENV, GATEWAY_ENV

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "web-run-token-51c2d9e0a7f3"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(tmp_path: Path, port: int, *, with_bot: bool) -> Path:
    config = tmp_path / "stampy.toml"
    config.write_text(
        "[knowledge]\n"
        f"answers_dir = {str(ROOT / 'answers')!r}\n"
        "[database]\n"
        f"path = {str(tmp_path / 'web.db')!r}\n"
        "[web]\n"
        f"port = {port}\n"
        f"with_bot = {'true' if with_bot else 'false'}\n",
        encoding="utf-8",
    )
    return config


async def _spawn(config: Path, tmp_path: Path, *args: str, env: dict[str, str]) -> BotProcess:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(tmp_path),
    )
    return BotProcess(proc)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STAMPY_CONFIG", "DISCORD_TOKEN")}
    env.update(extra)
    return env


async def _get_json(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_stampy_web_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(tmp_path, port, with_bot=False)
    child = await _spawn(config, tmp_path, "web", "--log-format", "json", env=_env())
    try:
        await child.wait_for_line("web site at")
        status, health = await _get_json(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and health["status"] == "ok"
        assert "gateway" not in health["checks"]
        # A second site on the same port cannot start: one line, status 2.
        second = await _spawn(config, tmp_path, "web", env=_env())
        assert await second.finish() == 2
        assert f"stampy: cannot listen on 127.0.0.1:{port}" in second.output
        assert "Traceback" not in second.output
    finally:
        if child.proc.returncode is None:
            child.proc.send_signal(signal.SIGTERM)
    assert await child.finish() == 0, child.output
    records = [json.loads(line) for line in child.err if line.strip()]
    assert any(r["message"].startswith("web site at") for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


async def test_stampy_run_with_the_web_site_reports_the_gateway(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(tmp_path, port, with_bot=True)
    async with FakeDiscord(token=TOKEN) as fake:
        env = _env(
            DISCORD_TOKEN=TOKEN, **{API_BASE_ENV: fake.api_base, GATEWAY_ENV: fake.gateway_url}
        )
        child = await _spawn(config, tmp_path, "run", "--log-level", "warning", env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):  # until the gateway is ready
                try:
                    status, health = await _get_json(base + "/healthz")
                    if status == 200:
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            assert status == 200 and health["checks"]["gateway"] == {"ok": True}, health
            await fake.post_message(fake.channel.id, fake.member.id, "stampy, what is stampy?")
            await fake.wait_for_message(fake.channel.id, timeout=10)
            async with aiohttp.ClientSession() as session, session.get(base + "/metrics") as got:
                metrics = await got.text()
            assert 'stampy_questions_total{decision="answer"} 1.0' in metrics
        finally:
            if child.proc.returncode is None:
                child.proc.send_signal(signal.SIGTERM)
        assert await child.finish() == 0, child.output
    assert "INFO" not in child.output  # --log-level warning
    assert "Traceback" not in child.output
