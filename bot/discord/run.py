"""Running the bot: where Discord is, signals, and the order of start and stop.

:func:`serve` runs a :class:`~bot.discord.bot.StampyBot` on an open :class:`~bot.app.App`
until it is closed or the process gets SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import discord
import discord.gateway
import discord.http
import yarl

from bot.app import App
from bot.discord.bot import Shards, StampyBot
from bot.discord.install import install

log = logging.getLogger(__name__)

#: For testing against a fake Discord only: the REST base, e.g. http://127.0.0.1:8080/api/v10
API_BASE_ENV = "STAMPY_DISCORD_API_BASE"
#: For testing against a fake Discord only: the gateway URL, e.g. ws://127.0.0.1:8080/gateway
GATEWAY_ENV = "STAMPY_DISCORD_GATEWAY"

#: On a signal during start-up, how long a gateway connection being opened may take to end.
STOP_GATEWAY_SECONDS = 5.0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows, which it does not
    support), else None: asyncio's own. The bot spends much of each message in the loop's
    socket and callback machinery, which uvloop runs in C."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@dataclass(frozen=True)
class Endpoints:
    """Where Discord is. Both None (the default) means the real Discord.

    Set through :data:`API_BASE_ENV` and :data:`GATEWAY_ENV`, which exist to run the bot
    against a fake Discord in tests and benchmarks; a bot pointed there also skips the
    waits meant to pace reconnects to the real service.
    """

    api_base: str | None = None
    gateway: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Endpoints:
        """Read the two testing variables (empty counts as unset)."""
        return cls(
            (env.get(API_BASE_ENV) or "").strip() or None,
            (env.get(GATEWAY_ENV) or "").strip() or None,
        )

    @property
    def custom(self) -> bool:
        """Whether either endpoint points somewhere other than Discord."""
        return self.api_base is not None or self.gateway is not None

    def apply(self) -> None:
        """Point discord.py at these endpoints (process-wide; call before connecting)."""
        if self.api_base is not None:
            discord.http.Route.BASE = self.api_base  # type: ignore[misc]
        if self.gateway is not None:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway)


async def serve(
    open_app: Callable[[], AbstractAsyncContextManager[App]],
    token: str,
    endpoints: Endpoints,
    *,
    site: Callable[[App, StampyBot], AbstractAsyncContextManager[object]] | None = None,
    shards: Shards | None = None,
) -> None:
    """Open the app (``open_app()``), run the bot on it until it is closed or sent
    SIGTERM/SIGINT, close the app (queued stamps are written then). ``site(app, bot)``,
    when given, is entered around the bot's run (the web site served by the same process).

    A signal at any point, start-up included, stops the bot cleanly (:meth:`StampyBot.close`:
    the gateway is closed, queued stamp events are written) and this returns normally.
    Raises what connecting raises (e.g. :class:`discord.LoginFailure` for a bad token) unless
    a signal came first, and :class:`bot.store.StoreError` if the database cannot be opened.
    ``shards``: the shards this process runs (default: all).
    """
    endpoints.apply()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = _catch_signals(loop, stop)
    try:
        async with open_app() as app:
            bot = StampyBot(app, install, fast_start=endpoints.custom, shards=shards)
            async with site(app, bot) if site is not None else contextlib.nullcontext():
                await _run_until_stopped(bot, token, stop)
        log.info("Stampy stopped")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _catch_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[int]:
    """Make SIGTERM and SIGINT set ``stop``; the signals handled (none on some platforms)."""
    caught = []
    for sig in (signal.SIGTERM, signal.SIGINT):

        def received(sig: int = sig) -> None:
            if not stop.is_set():
                log.info("%s received: stopping", signal.Signals(sig).name)
            stop.set()

        try:
            loop.add_signal_handler(sig, received)
        except (NotImplementedError, RuntimeError):  # not on this platform / thread
            continue
        caught.append(sig)
    return caught


async def _run_until_stopped(bot: StampyBot, token: str, stop: asyncio.Event) -> None:
    """Run ``bot`` until it ends by itself (raising what ended it) or ``stop`` is set."""
    async with bot:
        if stop.is_set():
            return  # a signal while opening the store: never connect
        running = asyncio.create_task(bot.start(token), name="stampy-run")
        told = asyncio.create_task(stop.wait(), name="stampy-signal")
        try:
            await asyncio.wait({running, told}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            told.cancel()
        if not stop.is_set():
            await bot.close()
            running.result()  # what ended it, if it failed
            return
        await bot.close()
        # The gateway loop ends once it sees the bot closed; a connection that was still
        # being opened when stopping began is not waited for long.
        done, _ = await asyncio.wait({running}, timeout=STOP_GATEWAY_SECONDS)
        if not done:
            running.cancel()
        try:
            await running
        except (Exception, asyncio.CancelledError) as error:  # stopping anyway
            log.debug("the connection ended while stopping: %r", error)
        await bot.close_gateways()  # one opened while stopping
