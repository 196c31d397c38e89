"""Who may do what on Discord: one moderator rule, used by the moderators' commands and by
stamps (a moderator is a root of trust for reputation), and the home-guild rule for changes.

A moderator is a member with Manage Messages (in the channel, where there is one; Administrator
implies it) or with a role named in ``[discord] moderator_roles``, compared ignoring case as
the configuration documents. :func:`moderators_only` is a check and its default permissions
in one (after RoboDanny's ``hybrid_permissions_check``): Discord hides the command from
others, and the bot checks again, since discord.py does not enforce default permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import discord
from discord import app_commands

from bot.discord.bot import StampyBot

__all__ = [
    "MODERATOR_PERMISSIONS",
    "NoHomeGuilds",
    "NotHomeGuild",
    "NotModerator",
    "NotWriter",
    "check_writer",
    "check_writes_here",
    "check_changes_here",
    "interaction_is_writer",
    "is_moderator",
    "member_is_moderator",
    "moderators_only",
]

#: What Discord requires by default to see the moderators' commands.
MODERATOR_PERMISSIONS = discord.Permissions(manage_messages=True)

T = TypeVar("T")


class NotModerator(app_commands.CheckFailure):
    """The member is not a moderator."""


class NotWriter(app_commands.CheckFailure):
    """The member is neither a moderator nor a writer."""


class NoHomeGuilds(app_commands.CheckFailure):
    """No home guild is configured: nobody may change the knowledge base from Discord."""


class NotHomeGuild(app_commands.CheckFailure):
    """Changes are allowed only in the home guilds, and this is not one."""


def is_moderator(
    member: discord.abc.User | None,
    permissions: discord.Permissions,
    moderator_roles: Iterable[str],
) -> bool:
    """Manage Messages in ``permissions``, or a role whose name is in ``moderator_roles``
    (ignoring case)."""
    if member is None:
        return False
    if permissions.manage_messages:
        return True
    wanted = {name.casefold() for name in moderator_roles}
    roles = getattr(member, "roles", ())
    return bool(wanted) and any(role.name.casefold() in wanted for role in roles)


def member_is_moderator(
    member: discord.Member, channel_id: int | None, moderator_roles: Iterable[str]
) -> bool:
    """:func:`is_moderator` for a member seen outside a command (a reaction): their
    permissions in the channel when it is known, else in the guild."""
    channel = member.guild.get_channel_or_thread(channel_id) if channel_id else None
    permissions = (
        channel.permissions_for(member) if channel is not None else member.guild_permissions
    )
    return is_moderator(member, permissions, moderator_roles)


def interaction_is_moderator(interaction: discord.Interaction[StampyBot]) -> bool:
    """Whether the member using a command or component is a moderator (never in DMs)."""
    if interaction.guild_id is None:
        return False
    roles = interaction.client.settings.discord.moderator_roles
    return is_moderator(interaction.user, interaction.permissions, roles)


def check_moderator(interaction: discord.Interaction[StampyBot]) -> bool:
    """:func:`interaction_is_moderator`, raising :class:`NotModerator` when not."""
    if not interaction_is_moderator(interaction):
        raise NotModerator()
    return True


def interaction_is_writer(interaction: discord.Interaction[StampyBot]) -> bool:
    """A moderator, or a member with a role named in ``[discord] writer_roles`` (ignoring
    case): who may list and answer the known questions nobody has answered."""
    if interaction_is_moderator(interaction):
        return True
    wanted = {name.casefold() for name in interaction.client.settings.discord.writer_roles}
    roles = getattr(interaction.user, "roles", ())
    return bool(wanted) and any(role.name.casefold() in wanted for role in roles)


def check_writer(interaction: discord.Interaction[StampyBot]) -> bool:
    """:func:`interaction_is_writer`, raising :class:`NotWriter` when not."""
    if not interaction_is_writer(interaction):
        raise NotWriter()
    return True


def check_writes_here(interaction: discord.Interaction[StampyBot]) -> bool:
    """A writer (or moderator) may answer here: in a home guild."""
    check_writer(interaction)
    return _check_home(interaction)


def check_changes_here(interaction: discord.Interaction[StampyBot]) -> bool:
    """A change to the shared knowledge base may be made here: a moderator, in a home guild."""
    check_moderator(interaction)
    return _check_home(interaction)


def _check_home(interaction: discord.Interaction[StampyBot]) -> bool:
    home = interaction.client.settings.discord.home_guilds
    if not home:
        raise NoHomeGuilds()
    if interaction.guild_id not in home:
        raise NotHomeGuild()
    return True


def moderators_only(*, change: bool = False) -> Callable[[T], T]:
    """Default permissions of Manage Messages and the moderator check (and with ``change``,
    the home-guild check), in one decorator."""

    def decorator(func: T) -> T:
        func = app_commands.default_permissions(manage_messages=True)(func)
        func = app_commands.guild_only()(func)
        return app_commands.check(check_changes_here if change else check_moderator)(func)

    return decorator
