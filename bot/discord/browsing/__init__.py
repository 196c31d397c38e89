"""Members' commands, as a package (in the shape of :mod:`bot.discord.moderation`):

- :mod:`._cog`: ``/ask``, ``/tag``, ``/tags`` and ``/help``, thin: one service call each;
- :mod:`.transformers`: the question asked and the tag, each with its autocomplete;
- :mod:`.views`: the tag page (embed, question buttons, page buttons), the tag list and help.

:func:`setup` adds the cog; it needs no database (without one nothing is recorded).
"""

from __future__ import annotations

from bot.discord.bot import StampyBot
from bot.discord.browsing._cog import Browsing

__all__ = ["Browsing", "setup"]


async def setup(bot: StampyBot) -> None:
    """Add the members' commands."""
    await bot.add_cog(Browsing(bot))
