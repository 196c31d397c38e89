"""Serving the site: on its own (``stampy web``) or beside the bot (``stampy run``).

:func:`running_site` listens on ``[web] host`` and ``port`` for as long as its block runs;
with ``refresh`` it also keeps the app in step with the database (:mod:`bot.web.refresh`),
which a process of its own needs and the bot's process does not (it makes the changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from aiohttp import web

from bot.app import App
from bot.web.refresh import Refresher
from bot.web.site import build_site

__all__ = ["ListenError", "running_site", "serve_web"]

log = logging.getLogger(__name__)


class ListenError(Exception):
    """The site cannot listen where it was told (the port is taken, the address unknown)."""


@contextlib.asynccontextmanager
async def running_site(
    app: App,
    *,
    gateway: Callable[[], bool] | None = None,
    refresh: bool = False,
    host: str | None = None,
    port: int | None = None,
) -> AsyncIterator[str]:
    """Serve the site over ``app`` while the block runs; yields its address.

    ``host`` and ``port`` default to ``[web]``'s (port 0: any free port). Raises
    :class:`ListenError` when it cannot listen there (the port is taken, say).
    """
    settings = app.settings.web
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    runner = web.AppRunner(build_site(app, gateway=gateway), access_log=None)
    await runner.setup()
    refresher = Refresher(app, settings.refresh_seconds) if refresh else None
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=2.0)
        try:
            await site.start()
        except OSError as error:
            reason = error.strerror or str(error)
            raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
        bound = runner.addresses[0]
        address = f"http://{'[' + bound[0] + ']' if ':' in bound[0] else bound[0]}:{bound[1]}"
        if refresher is not None:
            await refresher.start()
        log.info("web site at %s", address)
        yield address
    finally:
        if refresher is not None:
            await refresher.close()
        await runner.cleanup()


async def serve_web(open_app: Callable[[], AbstractAsyncContextManager[App]]) -> None:
    """``stampy web``: open the app, serve the site until SIGTERM or SIGINT, close."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    caught = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not on this platform / thread
            continue
        caught.append(sig)
    try:
        async with open_app() as app, running_site(app, refresh=True):
            await stop.wait()
        log.info("web site stopped")
    finally:
        for sig in caught:
            loop.remove_signal_handler(sig)
