"""Installs the Discord front end's cogs on a :class:`~bot.discord.bot.StampyBot`.

The one place that knows every cog: the bot class imports none of them, so there is no
cycle between the bot and what it runs. The command tree's errors go to
:mod:`bot.discord.errors`.
"""

from __future__ import annotations

from bot.discord import browsing, moderation
from bot.discord.asking import Asking
from bot.discord.bot import StampyBot
from bot.discord.errors import on_app_command_error
from bot.discord.stamp_reactions import StampReactions

__all__ = ["install"]


async def install(bot: StampyBot) -> None:
    """Add every cog: asking, members' commands, moderation (with a database) and stamps."""
    bot.tree.on_error = on_app_command_error  # type: ignore[method-assign]
    await bot.add_cog(Asking(bot))
    await browsing.setup(bot)
    await moderation.setup(bot)
    await bot.add_cog(StampReactions(bot))  # without a database, /stamps says so
