"""Moderation from Discord, as a package (after python-discord's ``exts/<area>/<feature>/``):

- :mod:`._cog`: the commands, thin: checks, transformed arguments, one curator call;
- :mod:`.transformers`: questions, answers, phrasings, tags and queue items as arguments,
  each with its autocomplete;
- :mod:`.views`: the forms, buttons, pages and the texts of results.

:func:`setup` adds the cog to a bot whose :class:`~bot.app.App` has a database.
"""

from __future__ import annotations

from bot.discord.bot import StampyBot
from bot.discord.errors import refusal
from bot.discord.moderation._cog import Moderation, moderator_of

__all__ = ["Moderation", "moderator_of", "refusal", "setup"]


async def setup(bot: StampyBot) -> None:
    """Add the moderators' commands (nothing without a database to store changes in)."""
    if bot.curator is not None:
        await bot.add_cog(Moderation(bot, bot.curator))
