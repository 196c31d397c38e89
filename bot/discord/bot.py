"""The Discord bot object and its lifecycle: intents, command sync, shutdown.

:class:`StampyBot` is given the open :class:`~bot.app.App` (typed attributes for what cogs
use: settings, service, curator, stamps) and a function that installs the cogs
(:func:`bot.discord.install.install`); it imports no cog, so cogs and views can import it
for their types without a cycle. There is no module-level state. :mod:`bot.discord.run`
runs it until it is closed or the process is told to stop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord
import discord.gateway
from discord.ext import commands

from bot.app import App

log = logging.getLogger(__name__)

# Names listed in the ready line; a bot in hundreds of guilds logs a count for the rest.
_READY_NAMES = 20

#: Messages discord.py keeps in memory: none. The bot would only look there for the author of
#: a reacted message, which Discord's reaction events carry. A cache of the last 1,000 kept
#: each message (and the bot's own replies, with their embeds and buttons) alive long enough
#: to be promoted by the garbage collector, whose young collections then walked tens of
#: thousands of them under load (25-50 ms pauses at 300 questions/s).
MESSAGE_CACHE = None
#: New objects between two young garbage collections (Python's default is 700).
YOUNG_COLLECTION = 20_000
#: Connections to Discord's HTTP API at most. discord.py's own pool has no limit, and keeps
#: every connection it opened: each burst, or each time Discord answered slowly, left the bot
#: with as many open connections as requests were in flight then (87 after a 30-minute soak).
MAX_CONNECTIONS = 64

#: On stopping, how long the handlers already running may take to finish (seconds).
HANDLER_GRACE_SECONDS = 10.0
#: Names discord.py gives the tasks that run handlers: events, slash commands, buttons, modals.
_HANDLER_TASKS = (
    "discord.py: ",
    "CommandTree-invoker",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord-ui-dynamic-item-",
)


async def close_gateway(ws: discord.gateway.DiscordWebSocket | None) -> None:
    """Close the gateway websocket with 1000, so that Discord ends the session at once.

    discord.py's own close sends 4000 instead (resumable: Discord keeps the session and shows
    the bot online for a while): the task reading the socket wakes up first and closes it
    with 4000. The socket's close is made to send 1000 whoever calls it.
    """
    if ws is None or not ws.open:
        return
    socket = ws.socket
    close = socket.close

    async def close_cleanly(*, code: int = 1000, message: bytes = b"") -> bool:
        return await close(code=1000, message=message)

    socket.close = close_cleanly  # type: ignore[method-assign]
    try:
        await ws.close(code=1000)
    except Exception:  # an already broken socket: nothing more will come from it
        log.debug("closing the gateway failed", exc_info=True)


def intents() -> discord.Intents:
    """Only what the bot uses: guilds, guild and DM messages with content, guild reactions."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.guild_reactions = True
    wanted.dm_messages = True
    return wanted


@dataclass(frozen=True)
class Shards:
    """Which shards this process runs: ``ids`` of ``count`` (both None: all of them, as many
    as Discord recommends). Several processes each run some shards of one bot, sharing a
    PostgreSQL database; Discord sends each shard the events of the guilds it owns
    (``(guild_id >> 22) % count``), and direct messages to shard 0."""

    ids: tuple[int, ...] | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.ids is not None:
            if self.count is None:
                raise ValueError("--shard-ids needs --shard-count")
            if not self.ids or len(set(self.ids)) != len(self.ids):
                raise ValueError("--shard-ids must list different shard numbers")
        if self.count is not None and self.count < 1:
            raise ValueError(f"--shard-count must be at least 1, got {self.count}")
        outside = [i for i in self.ids or () if not 0 <= i < (self.count or 0)]
        if outside:
            raise ValueError(
                f"shard {outside[0]} does not exist: with --shard-count {self.count} the "
                f"shards are 0 to {(self.count or 0) - 1}"
            )

    @classmethod
    def parse(cls, ids: str | None, count: int | None) -> Shards:
        """From the command line: ``ids`` as ``"0,1"``. ValueError with a message."""
        numbers = None
        if ids is not None:
            try:
                numbers = tuple(int(part) for part in ids.split(","))
            except ValueError:
                raise ValueError(
                    f"--shard-ids must be shard numbers separated by commas, e.g. 0,1 (got {ids!r})"
                ) from None
        return cls(numbers, count)

    @property
    def syncs_commands(self) -> bool:
        """Whether this process registers the global application commands (the one running
        shard 0, so that exactly one does)."""
        return self.ids is None or 0 in self.ids

    def describe(self) -> str:
        if self.ids is None:
            return "all shards" if self.count is None else f"all {self.count} shards"
        listed = ", ".join(map(str, self.ids))
        return f"shard{'s' if len(self.ids) > 1 else ''} {listed} of {self.count}"


class StampyBot(commands.AutoShardedBot):
    """The bot on an open :class:`~bot.app.App`; ``install(bot)`` adds the cogs.

    ``fast_start`` (for a fake Discord) waits only briefly for guilds before ``on_ready``
    and does not sleep before re-IDENTIFYing. ``shards``: which shards this process runs
    (default: all, in this process).
    """

    def __init__(
        self,
        app: App,
        install: Callable[[StampyBot], Awaitable[None]],
        *,
        fast_start: bool = False,
        shards: Shards | None = None,
    ) -> None:
        # The bot has no voice features: skip discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05 if fast_start else 2.0,
            max_messages=MESSAGE_CACHE,
            shard_ids=None if shards is None or shards.ids is None else list(shards.ids),
            shard_count=None if shards is None else shards.count,
        )
        self.sharding = shards or Shards()
        self.app = app
        self.settings = app.settings
        self.service = app.service
        self.curator = app.curator
        self.stamps = app.stamps
        self._install = install
        self.fast_start = fast_start
        self.ready_once = asyncio.Event()
        self._connections = 0  # gateway connections opened; the ones after the first count
        # Stopping (see close): the task doing it, and a lock that setup_hook holds so that
        # the cogs are never removed while they are being added.
        self._stop_task: asyncio.Task[None] | None = None
        self._setup_lock = asyncio.Lock()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`close` has been called (the bot is stopping or stopped)."""
        return self._stop_task is not None

    def is_closed(self) -> bool:
        """Closed as soon as stopping begins: discord.py's gateway loop then ends instead of
        reconnecting when the bot closes the websocket itself (see :meth:`close`)."""
        return self.stopping or super().is_closed()

    async def close(self) -> None:
        """Stop without losing what was accepted; safe to call more than once, and at any
        point of start-up.

        In this order: close the gateway (code 1000: Discord ends the session and sends
        nothing more), let the event handlers already running finish (for at most
        :data:`HANDLER_GRACE_SECONDS`; the HTTP session stays open so that they can still
        reply), remove the cogs (the stamp book writes every queued event), then close the
        HTTP session. discord.py's own order removes the cogs while events still arrive.
        The stamp book writes every queued event when the :class:`~bot.app.App` closes.
        """
        if self._stop_task is None:
            caller = asyncio.current_task()  # maybe a handler: not waited for
            self._stop_task = asyncio.create_task(self._stop_in_order(caller), name="stampy-stop")
        await asyncio.shield(self._stop_task)
        # A login under way when stopping began may have opened a session since.
        await self.http.close()

    def owns(self, guild_id: int | None) -> bool:
        """Whether this process runs the shard that gets the events of ``guild_id`` (None: a
        direct message, which Discord sends to shard 0)."""
        ids, count = self.shard_ids, self.shard_count
        if ids is None or not count:
            return True
        return (0 if guild_id is None else (guild_id >> 22) % count) in ids

    def gateways(self) -> list[discord.gateway.DiscordWebSocket]:
        """The gateway websocket of each shard this process has connected."""
        return [self._get_websocket(shard_id=shard_id) for shard_id in self.shards]

    async def close_gateways(self) -> None:
        """Close every shard's gateway with 1000 (see :func:`close_gateway`)."""
        await asyncio.gather(*(close_gateway(ws) for ws in self.gateways()))

    async def _stop_in_order(self, caller: asyncio.Task[Any] | None) -> None:
        await self.close_gateways()
        await self._finish_handlers(HANDLER_GRACE_SECONDS, caller)
        async with self._setup_lock:  # a setup_hook under way finishes first
            await super().close()  # removes the cogs; then discord.py's close (HTTP too)

    async def _finish_handlers(self, timeout: float, caller: asyncio.Task[Any] | None) -> None:
        """Wait for the event, command, button and modal handlers discord.py is running."""
        skip = {asyncio.current_task(), caller}
        running = [
            task
            for task in asyncio.all_tasks()
            if task not in skip and not task.done() and task.get_name().startswith(_HANDLER_TASKS)
        ]
        if not running:
            return
        _done, late = await asyncio.wait(running, timeout=timeout)
        if late:
            log.warning("stopping: %d event handler(s) still running are abandoned", len(late))

    async def login(self, token: str) -> None:
        """Log in with a bounded connection pool (:data:`MAX_CONNECTIONS`), made afresh for
        each login: a closed client's pool cannot be reused."""
        self.http.connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
        await super().login(token)

    async def setup_hook(self) -> None:
        """Install the cogs (nothing if the bot is already stopping)."""
        async with self._setup_lock:
            if self.stopping:
                return
            await self._install(self)
        # The knowledge base and its index live as long as the process: moved out of the
        # collector's generations, full collections no longer walk them (80-180 ms pauses
        # were measured with 10k questions).
        gc.freeze()
        # With Python's default, a young collection every 700 new objects, whatever was in
        # flight at the time (messages being answered, their embeds and tasks) was promoted,
        # and under load full collections then walked tens of thousands of such objects every
        # few seconds (20-130 ms pauses, each delaying every reply queued behind it). Fewer
        # young collections let them die young.
        gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every IDENTIFY but the first; not against a fake."""
        if not self.fast_start:
            await super().before_identify_hook(shard_id, initial=initial)

    @property
    def gateway_connected(self) -> bool:
        """Whether the gateway connections (one per shard this process runs) are open and
        ready now (the health check)."""
        gateways = self.gateways()
        return (
            self.is_ready()
            and not self.is_closed()
            and bool(gateways)
            and all(ws is not None and ws.open for ws in gateways)
        )

    async def on_connect(self) -> None:
        """Count the gateway's connections after the first as reconnects (``/metrics``)."""
        self._connections += 1
        if self._connections > 1:
            self.app.metrics.gateway_reconnect()

    async def on_message(self, message: discord.Message) -> None:
        """No text commands: questions are handled by the Asking cog's listener."""

    async def on_ready(self) -> None:
        """Sync application commands and log the ready line, once per start."""
        if self.ready_once.is_set():
            return  # a new session after an invalid one: nothing to redo
        await self.sync_commands()
        names = [g.name.replace("\n", " ") for g in self.guilds]
        listed = ", ".join(names[:_READY_NAMES])
        if len(names) > _READY_NAMES:
            listed += f" and {len(names) - _READY_NAMES} more"
        shards = f" ({self.sharding.describe()})" if self.sharding.ids is not None else ""
        log.info("Stampy ready as %s in %d guild(s)%s: %s", self.user, len(names), shards, listed)
        if not self.settings.discord.home_guilds:
            ids = ", ".join(
                f"{g.id} ({g.name.replace(chr(10), ' ')})" for g in self.guilds[:_READY_NAMES]
            )
            log.warning(
                "no home_guilds set, so nobody can change the knowledge base from Discord; "
                "to allow it, set [discord] home_guilds to one of the guild ids: %s",
                ids or "none yet (invite the bot first)",
            )
        self.ready_once.set()

    async def sync_commands(self) -> None:
        """Register the application commands: global ones (by the process running shard 0
        only), and those of each home guild (by the process whose shards own it)."""
        try:
            if self.sharding.syncs_commands:
                await self.tree.sync()
            for guild_id in self.settings.discord.home_guilds:
                guild = discord.Object(guild_id)
                if self.get_guild(guild_id) is not None and self.tree.get_commands(guild=guild):
                    await self.tree.sync(guild=guild)
        except Exception as error:  # a failed sync must not stop the bot from answering
            self.report_error("syncing application commands", error)

    def report_error(self, context: str, error: BaseException) -> None:
        """Log a failure in one handler with what it was doing; the bot carries on."""
        log.error("error while %s", context, exc_info=error)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """An event handler raised: log it with the event's name (the bot carries on)."""
        error = sys.exc_info()[1]
        self.report_error(f"handling event {event_method}", error or RuntimeError("unknown"))
