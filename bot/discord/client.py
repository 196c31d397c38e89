"""The Discord bot object and its lifecycle: intents, cogs, buttons, command sync, shutdown.

Everything the bot needs is passed to :class:`StampyBot` (settings, service, store); there is
no module-level state. :func:`serve` runs it until it is closed or the process is told to stop.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.discord.asking import Asking
from bot.discord.moderation import setup_moderation
from bot.discord.render import TEXT
from bot.discord.stamps import Stamps
from bot.discord.views import DYNAMIC_ITEMS
from bot.service import Service
from bot.store import Store

log = logging.getLogger(__name__)

#: For testing against a fake Discord only: the REST base, e.g. http://127.0.0.1:8080/api/v10
API_BASE_ENV = "STAMPY_DISCORD_API_BASE"
#: For testing against a fake Discord only: the gateway URL, e.g. ws://127.0.0.1:8080/gateway
GATEWAY_ENV = "STAMPY_DISCORD_GATEWAY"

# Names listed in the ready line; a bot in hundreds of guilds logs a count for the rest.
_READY_NAMES = 20


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


class StampyBot(commands.Bot):
    """The bot: answers questions through ``service``; ``store`` is the open database.

    ``fast_start`` (for a fake Discord) waits only briefly for guilds before ``on_ready``
    and does not sleep before re-IDENTIFYing.
    """

    def __init__(
        self,
        settings: Settings,
        service: Service,
        store: Store | None = None,
        *,
        fast_start: bool = False,
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
        )
        self.settings = settings
        self.service = service
        self.store = store
        self.fast_start = fast_start
        self.ready_once = asyncio.Event()
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        """Add the cogs and the buttons that must work on messages sent before a restart."""
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        await self.add_cog(Asking(self, self.service, self.settings.discord))
        await setup_moderation(self)  # applies stored edits; /answer, /unanswered, /stampy
        await self.add_cog(Stamps(self))
        # The knowledge base and its index live as long as the process: moved out of the
        # collector's generations, full collections no longer walk them (80-180 ms pauses
        # were measured with 10k questions).
        gc.freeze()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every IDENTIFY but the first; not against a fake."""
        if not self.fast_start:
            await super().before_identify_hook(shard_id, initial=initial)

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
        log.info("Stampy ready as %s in %d guild(s): %s", self.user, len(names), listed)
        self.ready_once.set()

    async def sync_commands(self) -> None:
        """Register the application commands: global ones, and those of each home guild."""
        try:
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

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """A slash command failed: log it (a failed check is not an error) and tell the user."""
        if isinstance(error, app_commands.CheckFailure):
            message = TEXT["command_refused"]
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            self.report_error(f"running command {command!r}", error)
            message = TEXT["command_apology"]
        none = discord.AllowedMentions.none()
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True, allowed_mentions=none)
            else:
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=none
                )
        except discord.HTTPException:
            log.warning("could not tell the user that a command failed", exc_info=True)


async def serve(settings: Settings, service: Service, token: str, endpoints: Endpoints) -> None:
    """Open the store, run the bot until it is closed or sent SIGTERM/SIGINT, close the store.

    Raises what connecting raises (e.g. :class:`discord.LoginFailure` for a bad token) and
    :class:`bot.store.StoreError` if the database cannot be opened.
    """
    endpoints.apply()
    store = await Store.open(settings.database.path)
    try:
        bot = StampyBot(settings, service.with_store(store), store, fast_start=endpoints.custom)
        loop = asyncio.get_running_loop()
        stopping: list[asyncio.Task[None]] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, lambda: stopping.append(loop.create_task(bot.close())))
            except (NotImplementedError, RuntimeError):  # not on this platform / thread
                pass
        try:
            async with bot:
                await bot.start(token)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError):
                    pass
            if stopping:
                await asyncio.gather(*stopping, return_exceptions=True)
        log.info("Stampy stopped")
    finally:
        await store.close()
