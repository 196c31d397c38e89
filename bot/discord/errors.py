"""One error path for the Discord front end (after python-discord's error handler): every
failure of a slash command, a button, a menu or a form ends here, is mapped to one message
for the person, and, when it is a bug rather than a refusal, is logged with its context.

- :class:`~bot.curation.Refused` (also from a transformer): the reason, nothing changed;
- not a moderator / no home guild / not a home guild: who may, and where;
- any other failed check: "you can't use that here";
- anything else: an apology (the log has the traceback and what was being done).

:func:`respond` is the one way to answer an interaction ephemerally: a first response, or a
follow-up when the interaction was already answered (or deferred); :func:`edit_in_place` the
one way to answer a click by editing its message. Both let go of a view of stateless buttons
once it is sent (:func:`release`).
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.curation import Refused
from bot.discord.bot import StampyBot
from bot.discord.checks import NoHomeGuilds, NotHomeGuild, NotModerator, NotWriter
from bot.discord.render import shorten
from bot.discord.strings import TEXT

__all__ = ["edit_in_place", "message_for", "on_app_command_error", "release", "report", "respond"]

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


async def respond(
    interaction: discord.Interaction[StampyBot],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    embeds: list[discord.Embed] | None = None,
    view: discord.ui.View | None = None,
    ephemeral: bool = True,
) -> None:
    """Answer ``interaction`` (a follow-up if it was answered already), pinging nobody."""
    kwargs: dict[str, Any] = {"ephemeral": ephemeral, "allowed_mentions": NO_MENTIONS}
    if embed is not None:
        kwargs["embed"] = embed
    if embeds:
        kwargs["embeds"] = embeds
    if view is not None:
        kwargs["view"] = view
    try:
        if interaction.response.is_done():
            await interaction.followup.send(content, **kwargs)
        else:
            await interaction.response.send_message(content, **kwargs)
    finally:
        if view is not None:
            release(view)


async def edit_in_place(
    interaction: discord.Interaction[StampyBot],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """Answer a click by editing the clicked message (a page turned): ``content`` and
    ``embed`` when given, the buttons always (None: none); pinging nobody, the view let go
    once sent."""
    kwargs: dict[str, Any] = {"view": view, "allowed_mentions": NO_MENTIONS}
    if content is not None:
        kwargs["content"] = content
    if embed is not None:
        kwargs["embed"] = embed
    try:
        await interaction.response.edit_message(**kwargs)
    finally:
        if view is not None:
            release(view)


def release(view: discord.ui.View) -> None:
    """Let go of a view once its message is sent (or could not be), if every item of it is a
    dynamic item: those are answered through their templates, never through this object.

    A view and its items refer to each other, so without this each reply's view is freed only
    by a full pass of the garbage collector, and under load those views were most of what
    such a pass freed (20-65 ms pauses every few seconds, each delaying every reply queued
    behind it). Emptied, it is freed as soon as the last reference goes. A view with an item
    that has its own callback (a confirmation, a form's button) is left as it is: discord.py
    keeps it to answer that item."""
    if all(isinstance(item, discord.ui.DynamicItem) for item in view.children):
        view.clear_items()


def refusal(refused: Refused) -> str:
    """The reply to a refused change: the reason, and that nothing was changed."""
    return TEXT["mod_refused"].format(reason=shorten(refused.reason, 1800))


def _cause(error: BaseException) -> BaseException:
    """The error a command or transformer raised, unwrapped from discord.py's wrappers."""
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        inner = error.__cause__ if isinstance(error, app_commands.TransformerError) else None
        inner = getattr(error, "original", None) or inner
        if inner is None:
            break
        error = inner
    return error


def message_for(error: BaseException) -> str | None:
    """What to tell the person for ``error``; None when it is a bug (apologise and log)."""
    error = _cause(error)
    if isinstance(error, Refused):
        return refusal(error)
    if isinstance(error, NotModerator):
        return TEXT["mod_not_moderator"]
    if isinstance(error, NotWriter):
        return TEXT["mod_not_writer"]
    if isinstance(error, NoHomeGuilds):
        return TEXT["mod_no_home"]
    if isinstance(error, NotHomeGuild):
        return TEXT["mod_not_home"]
    if isinstance(error, app_commands.CheckFailure):
        return TEXT["command_refused"]
    return None


async def report(
    interaction: discord.Interaction[StampyBot],
    error: BaseException,
    what: str,
    *,
    apology: str = TEXT["command_apology"],
) -> None:
    """Tell the person what went wrong with ``what`` (a command, a button, a form); log bugs
    with their context. Never raises."""
    message = message_for(error)
    if message is None:
        interaction.client.report_error(
            f"{what} used by user {interaction.user.id} in channel {interaction.channel_id}",
            _cause(error),
        )
        message = apology
    try:
        await respond(interaction, message)
    except discord.HTTPException:
        log.warning("could not tell the user that %s failed", what, exc_info=True)


async def on_app_command_error(
    interaction: discord.Interaction[StampyBot], error: app_commands.AppCommandError
) -> None:
    """The command tree's error handler: every slash and menu command's failures."""
    command = interaction.command.qualified_name if interaction.command else "?"
    await report(interaction, error, f"running command {command!r}")
