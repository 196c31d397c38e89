"""The in-memory model: users, roles, channels, members, guilds, messages and reactions."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fakediscord._common import Perm, RestError, Snowflakes, iso, snowflake_time

log = logging.getLogger("fakediscord")

# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": True,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Channel:
    id: int
    name: str
    type: int = 0  # 0 text, 1 DM
    guild_id: int | None = None
    position: int = 0
    recipient_id: int | None = None  # DMs: the user the bot talks with
    overwrites: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> message, in order

    def payload(self, model: Model) -> dict[str, Any]:
        last = str(next(reversed(self.messages))) if self.messages else None
        if self.type == 1:
            assert self.recipient_id is not None
            recipient = model.users[self.recipient_id].payload()
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": last,
                "flags": 0,
                "recipients": [recipient],
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "topic": None,
            "nsfw": False,
            "last_message_id": last,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "permission_overwrites": self.overwrites,
            "flags": 0,
        }


@dataclass
class Member:
    user_id: int
    roles: list[int] = field(default_factory=list)  # without @everyone, as Discord sends them
    nick: str | None = None
    joined_at: str = field(default_factory=iso)

    def payload(self, model: Model, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = model.users[self.user_id].payload()
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]


@dataclass
class Reactions:
    """Who reacted with which emoji on one message (emoji key -> user ids, in order)."""

    by_emoji: dict[str, list[int]] = field(default_factory=dict)
    emoji: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {"id", "name"}


class Model:
    """The in-memory state of the fake Discord: who exists, what was said, what is registered."""

    def __init__(self, ids: Snowflakes, bot_name: str) -> None:
        self.ids = ids
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.message_channel: dict[int, int] = {}  # message id -> channel id
        self.ephemeral: dict[int, dict[str, Any]] = {}  # ephemeral messages, never in history
        self.deleted: list[dict[str, Any]] = []
        # (channel id, author id, nonce) -> message id, for ``enforce_nonce``
        self.nonces: dict[tuple[int, int, str], int] = {}
        self.reactions: dict[int, Reactions] = {}  # message id -> reactions
        # (guild id or None) -> command name/type key -> stored command
        self.commands: dict[int | None, dict[tuple[str, int], dict[str, Any]]] = {}
        self.bot = self.add_user(bot_name, bot=True)
        self.application_id = ids.next()

    # -- building -----------------------------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False) -> User:
        user = User(self.ids.next(), username, bot=bot, global_name=username.title())
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        owner_id: int,
        *,
        everyone_perms: int = Perm.EVERYONE_DEFAULT,
        shard: tuple[int, int] | None = None,
    ):
        """A guild; ``shard`` (shard id, shard count) picks an id that shard owns."""
        guild_id = self.ids.next() if shard is None else self.ids.next_in_shard(*shard)
        guild = Guild(guild_id, name, owner_id)
        guild.roles[guild.id] = Role(guild.id, "@everyone", everyone_perms)
        self.guilds[guild.id] = guild
        self.add_member(guild.id, owner_id)
        self.add_member(guild.id, self.bot.id)
        return guild

    def add_role(self, guild_id: int, name: str, permissions: int) -> Role:
        guild = self.guilds[guild_id]
        role = Role(self.ids.next(), name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def add_channel(self, guild_id: int, name: str, *, type: int = 0) -> Channel:
        guild = self.guilds[guild_id]
        channel = Channel(self.ids.next(), name, type, guild_id, position=len(guild.channel_ids))
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_member(self, guild_id: int, user_id: int, roles: Iterable[int] = ()) -> Member:
        member = Member(user_id, list(roles))
        self.guilds[guild_id].members[user_id] = member
        return member

    def dm_channel(self, user_id: int) -> Channel:
        """The bot's DM channel with ``user_id``, created on first use."""
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient_id == user_id:
                return channel
        channel = Channel(self.ids.next(), "", type=1, recipient_id=user_id)
        self.channels[channel.id] = channel
        return channel

    # -- lookups ------------------------------------------------------------------------------

    def channel(self, channel_id: int | str) -> Channel:
        try:
            return self.channels[int(channel_id)]
        except (KeyError, ValueError):
            raise RestError(404, "Unknown Channel", 10003) from None

    def message(self, channel_id: int | str, message_id: int | str) -> dict[str, Any]:
        try:
            return self.channel(channel_id).messages[int(message_id)]
        except (KeyError, ValueError):
            raise RestError(404, "Unknown Message", 10008) from None

    def find_message(self, message_id: int) -> dict[str, Any] | None:
        """A stored message by id, in any channel, ephemeral ones included."""
        if message_id in self.ephemeral:
            return self.ephemeral[message_id]
        channel_id = self.message_channel.get(message_id)
        if channel_id is None:
            return None
        return self.channels[channel_id].messages.get(message_id)

    def member_payload(self, guild_id: int, user_id: int, **extra: Any) -> dict[str, Any]:
        return {**self.guilds[guild_id].members[user_id].payload(self), **extra}

    # -- permissions --------------------------------------------------------------------------

    def base_permissions(self, guild_id: int, user_id: int) -> int:
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return Perm.ALL
        member = guild.members.get(user_id)
        perms = guild.everyone.permissions
        for role_id in member.roles if member else ():
            perms |= guild.roles[role_id].permissions
        return Perm.ALL if perms & Perm.ADMINISTRATOR else perms

    def permissions_in(self, channel: Channel, user_id: int) -> int:
        """Discord's permission algorithm: base, then @everyone, role and member overwrites."""
        if channel.guild_id is None:
            return Perm.EVERYONE_DEFAULT
        perms = self.base_permissions(channel.guild_id, user_id)
        if perms & Perm.ADMINISTRATOR or perms == Perm.ALL:
            return perms
        member = self.guilds[channel.guild_id].members.get(user_id)
        roles = set(member.roles) if member else set()
        by_id = {int(o["id"]): o for o in channel.overwrites}
        allow = deny = 0  # role overwrites are combined, then applied after @everyone's
        for rid in roles:
            if rid in by_id:
                allow |= int(by_id[rid]["allow"])
                deny |= int(by_id[rid]["deny"])
        everyone = by_id.get(channel.guild_id)
        if everyone:
            perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
        perms = (perms & ~deny) | allow
        own = by_id.get(user_id)
        if own:
            perms = (perms & ~int(own["deny"])) | int(own["allow"])
        return perms

    def require(self, channel: Channel, user_id: int, needed: int) -> None:
        if self.permissions_in(channel, user_id) & needed != needed:
            raise RestError(403, "Missing Permissions", 50013)

    # -- messages -----------------------------------------------------------------------------

    def new_message(
        self,
        channel: Channel,
        author: User,
        body: Mapping[str, Any],
        *,
        type: int = 0,
        extra: Mapping[str, Any] | None = None,
        store: bool = True,
    ) -> dict[str, Any]:
        """Build (and store unless ephemeral) a REST-shaped message from a send-message body."""
        message_id = self.ids.next()
        msg: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "type": type,
            "author": author.payload(),
            "content": body.get("content") or "",
            "timestamp": iso(snowflake_time(message_id)),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": list(body.get("attachments_out", [])),
            "embeds": list(body.get("embeds") or []),
            "components": list(body.get("components") or []),
            "pinned": False,
            "flags": int(body.get("flags") or 0),
        }
        if channel.guild_id is not None:
            msg["guild_id"] = str(channel.guild_id)
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if body.get("message_reference"):
            self._attach_reference(msg, channel, body["message_reference"])
        msg.update(extra or {})
        self.compute_mentions(msg, body.get("allowed_mentions"))
        if store:
            channel.messages[message_id] = msg
            self.message_channel[message_id] = channel.id
        else:
            self.ephemeral[message_id] = msg
        return msg

    def _attach_reference(self, msg: dict[str, Any], channel: Channel, ref: Mapping[str, Any]):
        ref_channel = int(ref.get("channel_id") or channel.id)
        ref_id = int(ref["message_id"])
        referenced = self.channels.get(ref_channel, channel).messages.get(ref_id)
        if referenced is None and ref.get("fail_if_not_exists", True):
            raise RestError(400, "Invalid Form Body: Unknown message", 50035)
        msg["message_reference"] = {
            "type": int(ref.get("type", 0)),
            "message_id": str(ref_id),
            "channel_id": str(ref_channel),
        }
        if channel.guild_id is not None:
            msg["message_reference"]["guild_id"] = str(channel.guild_id)
        if referenced is not None:
            msg["referenced_message"] = {
                k: v for k, v in referenced.items() if k != "referenced_message"
            }
            if msg["type"] == 0:
                msg["type"] = 19  # REPLY

    def compute_mentions(self, msg: dict[str, Any], allowed: Mapping[str, Any] | None) -> None:
        """Fill ``mentions``/``mention_roles``/``mention_everyone`` the way ``allowed_mentions``
        permits (no ``allowed_mentions`` = everything in the content, plus the replied user)."""
        content = msg["content"]
        everything = {"users", "roles", "everyone"}
        parse = set(allowed.get("parse", [])) if allowed is not None else everything
        allowed_users = {int(u) for u in (allowed or {}).get("users", [])}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles", [])}
        replied_user = allowed is None or bool(allowed.get("replied_user", False))
        user_ids: list[int] = []
        for match in re.finditer(r"<@!?(\d+)>", content):
            uid = int(match.group(1))
            if uid in self.users and ("users" in parse or uid in allowed_users):
                user_ids.append(uid)
        referenced = msg.get("referenced_message")
        if referenced and replied_user:
            user_ids.append(int(referenced["author"]["id"]))
        msg["mentions"] = [self.users[u].payload() for u in dict.fromkeys(user_ids)]
        msg["mention_roles"] = [
            m
            for m in dict.fromkeys(re.findall(r"<@&(\d+)>", content))
            if "roles" in parse or int(m) in allowed_roles
        ]
        everyone = re.search(r"@(everyone|here)", content) is not None
        msg["mention_everyone"] = "everyone" in parse and everyone

    def edit_message(self, msg: dict[str, Any], body: Mapping[str, Any]) -> None:
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                msg[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "attachments_out" in body:
            msg["attachments"] = list(body["attachments_out"])
        msg["edited_timestamp"] = iso()
        self.compute_mentions(msg, body.get("allowed_mentions"))

    def delete_message(self, channel: Channel, message_id: int) -> dict[str, Any]:
        msg = channel.messages.pop(message_id, None) or self.ephemeral.pop(message_id, None)
        if msg is None:
            raise RestError(404, "Unknown Message", 10008)
        self.message_channel.pop(message_id, None)
        self.deleted.append(msg)
        return msg

    def gateway_message(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The MESSAGE_CREATE/UPDATE shape: adds ``member`` to the author and the mentions."""
        data = dict(msg)
        guild = self.guilds.get(int(msg["guild_id"])) if "guild_id" in msg else None
        if guild is not None:
            author = guild.members.get(int(msg["author"]["id"]))
            if author is not None and "webhook_id" not in msg:
                data["member"] = author.payload(self, with_user=False)
            data["mentions"] = [
                {**u, "member": guild.members[int(u["id"])].payload(self, with_user=False)}
                if int(u["id"]) in guild.members
                else u
                for u in msg["mentions"]
            ]
        return data

    # -- reactions ----------------------------------------------------------------------------

    @staticmethod
    def emoji_key(name: str, emoji_id: int | None) -> str:
        return f"{name}:{emoji_id}" if emoji_id else name

    @staticmethod
    def parse_emoji(path_part: str) -> tuple[str, int | None]:
        """``👍`` or ``name:id`` (``a:name:id``, ``<:name:id>`` accepted) -> (name, id)."""
        text = path_part.strip("<>")
        if text.startswith("a:"):
            text = text[2:]
        name, _, emoji_id = text.rpartition(":")
        if name and emoji_id.isdigit():
            return name, int(emoji_id)
        return path_part, None

    def react(self, msg: dict[str, Any], name: str, emoji_id: int | None, user_id: int, add: bool):
        """Add or remove one user's reaction; returns False if nothing changed."""
        reactions = self.reactions.setdefault(int(msg["id"]), Reactions())
        key = self.emoji_key(name, emoji_id)
        users = reactions.by_emoji.setdefault(key, [])
        reactions.emoji.setdefault(key, {"id": str(emoji_id) if emoji_id else None, "name": name})
        changed = (user_id not in users) if add else (user_id in users)
        if changed:
            users.append(user_id) if add else users.remove(user_id)
        if not users:
            del reactions.by_emoji[key]
        msg["reactions"] = [
            {
                "emoji": reactions.emoji[k],
                "count": len(u),
                "count_details": {"burst": 0, "normal": len(u)},
                "me": self.bot.id in u,
                "me_burst": False,
                "burst_colors": [],
            }
            for k, u in reactions.by_emoji.items()
        ]
        if not msg["reactions"]:
            del msg["reactions"]
        return changed

    def reaction_payload(self, msg: dict[str, Any], name: str, emoji_id: int | None, user_id: int):
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "emoji": {"id": str(emoji_id) if emoji_id else None, "name": name},
            "type": 0,
            "burst": False,
            "burst_colors": [],
            "message_author_id": msg["author"]["id"],
        }
        if "guild_id" in msg:
            data["guild_id"] = msg["guild_id"]
        return data

    # -- application commands -----------------------------------------------------------------

    def set_commands(self, guild_id: int | None, body: list[dict[str, Any]]) -> list[dict]:
        """Bulk overwrite, keeping ids of commands whose (name, type) did not change."""
        old = self.commands.get(guild_id, {})
        new: dict[tuple[str, int], dict[str, Any]] = {}
        for raw in body:
            cmd = self.validate_command(raw)
            key = (cmd["name"], cmd["type"])
            if key in new:
                raise RestError(400, f"Invalid Form Body: duplicate command {key}", 50035)
            cmd["id"] = old[key]["id"] if key in old else str(self.ids.next())
            cmd["application_id"] = str(self.application_id)
            cmd["version"] = str(self.ids.next())
            if guild_id is not None:
                cmd["guild_id"] = str(guild_id)
            new[key] = cmd
        self.commands[guild_id] = new
        return list(new.values())

    @staticmethod
    def validate_command(raw: Mapping[str, Any]) -> dict[str, Any]:
        ctype = int(raw.get("type", 1))
        name = raw.get("name", "")
        description = raw.get("description", "")
        valid = re.fullmatch(r"[-_\w]{1,32}", name) and name == name.lower()
        if not (valid if ctype == 1 else 1 <= len(name) <= 32):
            raise RestError(400, f"Invalid Form Body: bad command name {name!r}", 50035)
        if ctype == 1 and not 1 <= len(description) <= 100:
            raise RestError(400, f"Invalid Form Body: bad description for {name!r}", 50035)
        if len(raw.get("options") or []) > 25:
            raise RestError(400, f"Invalid Form Body: too many options in {name!r}", 50035)
        perms = raw.get("default_member_permissions")
        return {
            **raw,
            "name": name,
            "description": description if ctype == 1 else "",
            "type": ctype,
            "options": list(raw.get("options") or []),
            "default_member_permissions": None if perms is None else str(perms),
            "dm_permission": raw.get("dm_permission", True) is not False,
            "nsfw": bool(raw.get("nsfw", False)),
        }

    def find_command(self, guild_id: int | None, name: str, ctype: int) -> dict[str, Any] | None:
        """The command a user in ``guild_id`` would see (guild commands shadow global ones)."""
        for scope in (guild_id, None) if guild_id is not None else (None,):
            cmd = self.commands.get(scope, {}).get((name, ctype))
            if cmd is not None:
                return cmd
        return None
