"""A small fake Discord that the *unmodified* discord.py client can log in to, on loopback.

It serves REST under ``/api/v10`` and a JSON websocket gateway, keeps an in-memory model
(guilds, roles, channels, members, messages, reactions, application commands, interactions)
and lets a test drive it: post messages, react, run slash commands, click buttons, submit
modals, drop the gateway socket, inject 429/500 answers. See ``/work/shared/docs/fake-discord.md``.

Typical use::

    async with FakeDiscord() as fake:
        with fake.patch_client():
            task = asyncio.create_task(client.start("token"))
            fake.watch_task(task)
            await fake.wait_ready()
            await fake.post_message(fake.channel.id, fake.member.id, "hello")
            req = await fake.wait_for_request("POST", "/channels/{id}/messages")

A bot in another process points itself at ``fake.api_base`` / ``fake.gateway_url`` by setting
``discord.http.Route.BASE`` and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` before
``client.start()``.

Ids are ints in this module's Python API and snowflake strings in every JSON payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

log = logging.getLogger("fakediscord")

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000
NONCE_WINDOW = 300.0  # seconds during which ``enforce_nonce`` finds an earlier message
JSON_HEADERS = {"Content-Type": "application/json"}
#: The least time between the bot opening a modal and the user submitting it.
MODAL_FILL_SECONDS = 0.25
BODY_KEY = web.RequestKey("fake_discord_body", object)  # the parsed JSON (or payload_json)
FILES_KEY = web.RequestKey("fake_discord_files", list)  # uploaded files as attachment objects


class Intent:
    """Gateway intent bits the fake filters dispatches by."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    MESSAGE_CONTENT = 1 << 15


class Perm:
    """Permission bits used by the fake (same values as Discord's)."""

    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    ALL = (1 << 51) - 1
    EVERYONE_DEFAULT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | EMBED_LINKS
        | ATTACH_FILES
        | USE_EXTERNAL_EMOJIS
        | USE_APPLICATION_COMMANDS
    )


class FakeDiscordError(Exception):
    """A test asked the fake for something Discord would not allow, or a wait failed."""


class RestError(Exception):
    """Raised inside REST handlers; turned into a Discord-style JSON error answer."""

    def __init__(self, status: int, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None):
    """A response whose Content-Type is exactly ``application/json`` (no charset)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, headers={**JSON_HEADERS, **(headers or {})})


@dataclass
class RateLimits:
    """Per-route buckets that answer with Discord's ``X-RateLimit-*`` headers.

    Each bucket (a route template with its major parameter: the channel, guild or webhook)
    allows ``limit`` requests per ``window`` seconds; the one over it gets a 429 with
    ``retry_after``. Without headers discord.py assumes a limit of one request at a time per
    bucket, so a bench that wants to see the bot's own limits gives a generous window.
    """

    limit: int
    window: float
    _buckets: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    _MAJOR = re.compile(r"^/(channels|guilds|webhooks)/(\d+)")

    def take(self, method: str, template: str | None, path: str) -> tuple[dict[str, str], bool]:
        """Count one request; returns its headers and whether it is over the limit."""
        major = self._MAJOR.match(path)
        key = (f"{method} {template or path}", major.group(2) if major else "")
        now = time.time()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket[0]:
            bucket = self._buckets[key] = [now + self.window, 0.0]
        bucket[1] += 1
        over = bucket[1] > self.limit
        reset_after = max(bucket[0] - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - int(bucket[1]), 0)),
            "X-RateLimit-Reset": f"{bucket[0]:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": uuid.uuid5(uuid.NAMESPACE_URL, key[0]).hex,
        }
        return headers, over


def uploaded(request: web.Request) -> list[dict[str, Any]]:
    """Attachment objects for the files uploaded with a multipart request."""
    return request.get(FILES_KEY, [])


def error_response(status: int, message: str, code: int = 0) -> web.Response:
    return json_response({"message": message, "code": code}, status=status)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/channels/{id}/messages`` -> regex; each ``{...}`` matches one path segment."""
    parts = re.split(r"(\{[^}]*\})", pattern)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex + "$")


def path_matches(pattern: str, path: str) -> bool:
    return compile_pattern(pattern).match(path) is not None


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat()


def snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


class Snowflakes:
    """Increasing, unique snowflakes whose timestamp is the current wall clock."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(self._last + 1, now)
        return self._last

    def next_in_shard(self, shard_id: int, shard_count: int) -> int:
        """The next snowflake of a guild that shard ``shard_id`` of ``shard_count`` owns
        (``(id >> 22) % shard_count``): the timestamp moves on by up to ``shard_count - 1``
        milliseconds."""
        candidate = self.next()
        millis = candidate >> 22
        if millis % shard_count != shard_id:
            millis += (shard_id - millis) % shard_count
            candidate = millis << 22
        self._last = candidate
        return candidate


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


# --------------------------------------------------------------------------------------------
# Recording, faults
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One HTTP request the client made (path is relative to ``/api/v10``, decoded)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    time: float
    route: str | None = None  # the matched template, e.g. "/channels/{channel_id}/messages"
    status: int | None = None  # set once answered
    response: Any = None
    files: list[dict[str, Any]] = field(default_factory=list)
    effect: int | None = None  # a fault with ``after``: what the request did before failing

    def matches(self, method: str | None, pattern: str) -> bool:
        return (method in (None, "*") or method.upper() == self.method) and path_matches(
            pattern, self.path
        )


@dataclass
class Fault:
    """A canned failure for the next ``count`` matching requests."""

    method: str
    pattern: str
    status: int
    retry_after: float
    count: int
    is_global: bool = False
    body: Any = None
    after: bool = False  # answer with the failure only after the request took effect

    def response(self) -> web.Response:
        if self.status == 429:
            data = self.body or {
                "message": "You are being rate limited.",
                "retry_after": self.retry_after,
                "global": self.is_global,
            }
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(self.retry_after))),
                "X-RateLimit-Scope": "global" if self.is_global else "user",
            }
            if self.is_global:
                headers["X-RateLimit-Global"] = "true"
            return json_response(data, 429, headers)
        data = self.body or {"message": f"{self.status}: fault injected by the test", "code": 0}
        return json_response(data, self.status)


@dataclass
class Delay:
    method: str
    pattern: str
    seconds: float
    count: int | None  # None = forever


# --------------------------------------------------------------------------------------------
# Interactions
# --------------------------------------------------------------------------------------------


@dataclass
class InteractionCallback:
    """What the bot answered on ``POST /interactions/{id}/{token}/callback``."""

    type: int  # 4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete, 9 modal
    data: dict[str, Any]
    message: dict[str, Any] | None  # the message created/updated by types 4, 5, 7

    @property
    def content(self) -> str | None:
        return (self.message or self.data).get("content")

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & 64)


class FakeInteraction:
    """An interaction the fake dispatched (or refused); await its response from here."""

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any], refused: str | None = None):
        self.fake = fake
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        self.channel_id = int(payload["channel_id"])
        user = payload["member"]["user"] if "member" in payload else payload["user"]
        self.user_id = int(user["id"])
        self.refused = refused
        self.created = time.monotonic()
        self.callback: InteractionCallback | None = None
        self.answered: float | None = None  # time.monotonic() of the callback
        self.original: dict[str, Any] | None = None  # the @original message (live dict)
        self.original_deleted = False
        self.followups: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"<FakeInteraction id={self.id} type={self.type} refused={self.refused!r}>"

    @property
    def dispatched(self) -> bool:
        return self.refused is None

    async def response(self, timeout: float = 2.0) -> InteractionCallback:
        """Wait for the bot's callback (raises if the fake refused the interaction)."""
        if self.refused is not None:
            raise FakeDiscordError(f"interaction was refused by the fake: {self.refused}")
        await self.fake.wait_until(lambda: self.callback, timeout, f"a response to {self!r}")
        assert self.callback is not None
        return self.callback

    async def wait_followups(self, count: int = 1, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` followup messages were sent; returns them all."""
        await self.fake.wait_until(
            lambda: len(self.followups) >= count, timeout, f"{count} followups to {self!r}"
        )
        return self.followups

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices, once answered with type 8."""
        if self.callback and self.callback.type == 8:
            return self.callback.data.get("choices", [])
        return None

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (``custom_id``, ``title``, ``components``), if any."""
        if self.callback and self.callback.type == 9:
            return self.callback.data
        return None


# --------------------------------------------------------------------------------------------
# Gateway
# --------------------------------------------------------------------------------------------


class GatewayConnection:
    """One websocket; frames are sent one at a time, in order.

    With a ``gateway.latency`` each frame leaves that many seconds after it was sent
    (``send`` returns at once): frames still in flight when the socket closes are lost,
    and a RESUME replays the dispatches among them.
    """

    def __init__(self, ws: web.WebSocketResponse, url: str, gateway: Gateway | None = None):
        self.ws = ws
        self.url = url
        self.gateway = gateway
        self.session: GatewaySession | None = None
        self._lock = asyncio.Lock()
        self._in_flight: deque[tuple[float, Mapping[str, Any]]] = deque()
        self._sender: asyncio.Task[None] | None = None

    async def send(self, frame: Mapping[str, Any]) -> bool:
        if self.ws.closed:
            return False
        latency = self.gateway.latency if self.gateway is not None else 0.0
        if latency > 0 or self._in_flight:
            loop = asyncio.get_running_loop()
            self._in_flight.append((loop.time() + latency, frame))
            if self._sender is None or self._sender.done():
                self._sender = loop.create_task(self._send_in_flight())
                if self.gateway is not None:
                    self.gateway._tasks.add(self._sender)
                    self._sender.add_done_callback(self.gateway._tasks.discard)
            return True
        return await self._send_now(frame)

    async def _send_in_flight(self) -> None:
        loop = asyncio.get_running_loop()
        while self._in_flight:
            due, frame = self._in_flight[0]
            await asyncio.sleep(max(0.0, due - loop.time()))
            self._in_flight.popleft()
            if not await self._send_now(frame):
                self._in_flight.clear()  # the socket closed: lost in flight

    def abort_in_flight(self) -> None:
        """The socket is gone: frames still in flight are lost."""
        self._in_flight.clear()
        if self._sender is not None:
            self._sender.cancel()

    async def _send_now(self, frame: Mapping[str, Any]) -> bool:
        if self.ws.closed:
            return False
        async with self._lock:
            try:
                await self.ws.send_str(json.dumps(frame, separators=(",", ":")))
            except (ConnectionError, RuntimeError):
                return False
        return True


class GatewaySession:
    """An identified session: its sequence numbers and every dispatch sent, for RESUME."""

    def __init__(self, session_id: str, identify: dict[str, Any]) -> None:
        self.id = session_id
        self.identify = identify
        self.intents: int = int(identify.get("intents", (1 << 22) - 1))
        self.shard: tuple[int, int] | None = (
            tuple(identify["shard"]) if identify.get("shard") else None  # type: ignore[assignment]
        )
        self.seq = 0
        self.log: list[dict[str, Any]] = []
        self.conn: GatewayConnection | None = None
        self.ended = False
        self.lock = asyncio.Lock()

    async def dispatch(self, event: str, data: Any, *, send: bool = True) -> dict[str, Any]:
        """Give the event the next seq, log it, and send it if a socket is attached."""
        async with self.lock:
            return await self._dispatch_locked(event, data, send=send)

    async def _dispatch_locked(self, event: str, data: Any, *, send: bool) -> dict[str, Any]:
        self.seq += 1
        frame = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.log.append(frame)
        if send and self.conn is not None and not await self.conn.send(frame):
            self.conn = None
        return frame


class Gateway:
    """The websocket side: HELLO, heartbeats, IDENTIFY/READY, RESUME/replay, op 7/9."""

    def __init__(self, fake: FakeDiscord, heartbeat_interval_ms: int) -> None:
        self.fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.received: list[dict[str, Any]] = []  # every frame the client sent
        self.replayed: list[dict[str, Any]] = []  # dispatches re-sent after a RESUME
        self.ready_count = 0
        self.resume_count = 0
        self.lose_next = False
        self.latency = 0.0  # seconds each frame takes to reach the client (see GatewayConnection)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if not s.ended]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request.path_qs, self)
        self.connections.append(conn)
        await conn.send(
            {
                "op": 10,
                "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                "s": None,
                "t": None,
            }
        )
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                self.received.append({**frame, "time": time.monotonic(), "url": conn.url})
                try:
                    await self._on_frame(conn, frame)
                except Exception:
                    self.fake.record_error(f"gateway op {frame.get('op')}")
                self.fake.notify()
        finally:
            conn.abort_in_flight()
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if ws.close_code in (1000, 1001):  # a clean close ends the session on Discord
                    session.ended = True
            self.fake.notify()
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, data)
        elif op == 6:
            await self._resume(conn, data)
        elif op == 8:
            await self._request_members(conn, data)

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        fake = self.fake
        if not fake.token_ok(data.get("token")):
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = GatewaySession(uuid.uuid4().hex, data)
        self.sessions[session.id] = session
        async with session.lock:
            session.conn = conn
            conn.session = session
            guilds = [g for g in fake.model.guilds.values() if self._in_shard(session, g.id)]
            ready: dict[str, Any] = {
                "v": 10,
                "user": {**fake.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": fake.resume_gateway_url,
                "application": {"id": str(fake.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
            }
            if session.shard is not None:
                ready["shard"] = list(session.shard)
            await session._dispatch_locked("READY", ready, send=True)
            for guild in guilds:
                await session._dispatch_locked("GUILD_CREATE", fake.guild_create(guild), send=True)
        self.ready_count += 1

    @staticmethod
    def _in_shard(session: GatewaySession, guild_id: int) -> bool:
        if session.shard is None:
            return True
        shard_id, count = session.shard
        return (guild_id >> 22) % count == shard_id

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or session.ended or not self.fake.token_ok(data.get("token")):
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        async with session.lock:
            old = session.conn
            session.conn = conn
            conn.session = session
            if old is not None and old is not conn:
                old.session = None
                self._spawn(old.ws.close(code=4000))
            after = int(data.get("seq") or 0)
            for frame in [f for f in session.log if f["s"] > after]:
                self.replayed.append(frame)
                await conn.send(frame)
            await session._dispatch_locked("RESUMED", {}, send=True)
        self.resume_count += 1

    async def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        model = self.fake.model
        guild = model.guilds.get(int(data["guild_id"]))
        if guild is None or conn.session is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = (data.get("query") or "").lower()
        members = [
            m.payload(model)
            for m in guild.members.values()
            if (not wanted or m.user_id in wanted)
            and model.users[m.user_id].username.lower().startswith(query)
        ]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": data.get("nonce"),
        }
        await conn.session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: dict[str, Any], intent: int | None) -> None:
        """Dispatch to every live session that should get it: with ``intent``, and of the shard
        owning the event's guild (shard 0 for direct messages). Logged for replay even while
        disconnected."""
        guild_id = self._guild_of(event, data)
        for session in self.live_sessions:
            if intent is not None and not session.intents & intent:
                continue
            if session.shard is not None and (
                session.shard[0] != 0 if guild_id is None else not self._in_shard(session, guild_id)
            ):
                continue
            payload = self._filter_content(session, event, data)
            if self.lose_next:
                self.lose_next = False
                await session.dispatch(event, payload, send=False)
                await self.drop(4000, sessions=[session], wait=False)
            else:
                await session.dispatch(event, payload)
        self.fake.notify()

    @staticmethod
    def _guild_of(event: str, data: Any) -> int | None:
        """The guild an event belongs to (None: a direct message or no guild)."""
        if not isinstance(data, dict):
            return None
        if data.get("guild_id"):
            return int(data["guild_id"])
        if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") and data.get("id"):
            return int(data["id"])
        return None

    def _filter_content(self, session: GatewaySession, event: str, data: dict[str, Any]):
        """Without the message-content intent Discord blanks content, embeds and so on, except
        in DMs, in messages mentioning the bot and in the bot's own messages."""
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            return data
        if session.intents & Intent.MESSAGE_CONTENT:
            return data
        bot_id = str(self.fake.bot.id)
        if "guild_id" not in data or data.get("author", {}).get("id") == bot_id:
            return data
        if any(u["id"] == bot_id for u in data.get("mentions", [])):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def drop(
        self, code: int, *, sessions: list[GatewaySession] | None = None, wait: bool = True
    ) -> None:
        """Close the sockets of ``sessions`` (default: all). Sessions stay resumable unless the
        code is 1000/1001; events dispatched meanwhile are logged and replayed on RESUME."""
        closing = []
        for session in sessions if sessions is not None else self.live_sessions:
            conn, session.conn = session.conn, None
            if conn is not None:
                conn.session = None
                closing.append(conn.ws.close(code=code))
            if code in (1000, 1001):
                session.ended = True
        if wait:
            await asyncio.gather(*closing)
        else:
            for coro in closing:
                self._spawn(coro)

    async def send_op(self, op: int, d: Any) -> None:
        for session in self.live_sessions:
            if session.conn is not None:
                await session.conn.send({"op": op, "d": d, "s": None, "t": None})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close(code=1001)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


# --------------------------------------------------------------------------------------------
# REST
# --------------------------------------------------------------------------------------------


class RestApi:
    """The REST routes under ``/api/v10``. Handlers take the parsed body from the request."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.model = fake.model

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        m = "/channels/{channel_id}/messages/{message_id}"
        webhook = "/webhooks/{app_id}/{token}"
        return [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/channels/{channel_id}/messages", self.history),
            ("POST", "/channels/{channel_id}/messages", self.send_message),
            ("GET", m, self.get_message),
            ("PATCH", m, self.edit_message),
            ("DELETE", m, self.delete_message),
            ("GET", m + "/reactions/{emoji}", self.reaction_users),
            ("PUT", m + "/reactions/{emoji}/@me", self.add_reaction),
            ("DELETE", m + "/reactions/{emoji}/{user_id}", self.remove_reaction),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("GET", "/applications/{app_id}/commands", self.get_commands),
            ("PUT", "/applications/{app_id}/commands", self.put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.callback),
            ("POST", webhook, self.followup),
            ("GET", webhook + "/messages/{message_id}", self.get_webhook_message),
            ("PATCH", webhook + "/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", webhook + "/messages/{message_id}", self.delete_webhook_message),
        ]

    @staticmethod
    def _with_files(
        request: web.Request, body: dict[str, Any], current: Iterable[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        """``body`` plus ``attachments_out``: the current attachments it keeps (listed by id
        in ``attachments``) and the files uploaded with it."""
        if "attachments" not in body and not uploaded(request):
            return body
        keep = {str(a.get("id")) for a in body.get("attachments") or []}
        kept = [a for a in current if a["id"] in keep]
        return {**body, "attachments_out": kept + uploaded(request)}

    # -- identity -----------------------------------------------------------------------------

    async def get_me(self, request: web.Request, body: Any) -> Any:
        return {**self.fake.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0}

    async def get_user(self, request: web.Request, body: Any) -> Any:
        user = self.model.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise RestError(404, "Unknown User", 10013)
        return user.payload()

    async def get_application(self, request: web.Request, body: Any) -> Any:
        fake = self.fake
        owner = getattr(fake, "owner", fake.bot).payload()
        return {
            "id": str(fake.application_id),
            "name": fake.bot.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "bot": fake.bot.payload(),
            "summary": "",
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
        }

    async def get_gateway(self, request: web.Request, body: Any) -> Any:
        return {"url": self.fake.gateway_url}

    async def get_gateway_bot(self, request: web.Request, body: Any) -> Any:
        return {
            "url": self.fake.gateway_url,
            "shards": self.fake.shard_count,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    # -- channels, messages -------------------------------------------------------------------

    async def create_dm(self, request: web.Request, body: Any) -> Any:
        user_id = int(body["recipient_id"])
        if user_id not in self.model.users:
            raise RestError(400, "Invalid Recipient(s)", 50033)
        return self.model.dm_channel(user_id).payload(self.model)

    async def get_channel(self, request: web.Request, body: Any) -> Any:
        return self.model.channel(request.match_info["channel_id"]).payload(self.model)

    async def typing(self, request: web.Request, body: Any) -> Any:
        self.model.channel(request.match_info["channel_id"])
        return None

    async def history(self, request: web.Request, body: Any) -> Any:
        channel = self.model.channel(request.match_info["channel_id"])
        self.model.require(channel, self.fake.bot.id, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        q = request.query
        limit = max(1, min(100, int(q.get("limit", 50))))
        ids = sorted(channel.messages)  # oldest first
        if "around" in q:
            around = int(q["around"])
            older = [i for i in ids if i < around][-(limit // 2) :] if limit > 1 else []
            newer = [i for i in ids if i >= around][: limit - len(older)]
            chosen = older + newer
        elif "after" in q:
            chosen = [i for i in ids if i > int(q["after"])][:limit]
        else:
            before = int(q.get("before", 1 << 63))
            chosen = [i for i in ids if i < before][-limit:]
        return [channel.messages[i] for i in sorted(chosen, reverse=True)]  # newest first

    async def send_message(self, request: web.Request, body: Any) -> Any:
        channel = self.model.channel(request.match_info["channel_id"])
        if channel.guild_id is not None:
            self.model.require(channel, self.fake.bot.id, Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
        body = self._with_files(request, body)
        parts = ("content", "embeds", "components", "attachments_out", "sticker_ids", "poll")
        if not any(body.get(part) for part in parts):
            raise RestError(400, "Cannot send an empty message", 50006)
        if len(body.get("content") or "") > 2000:
            raise RestError(400, "Invalid Form Body: content longer than 2000", 50035)
        # Discord: with ``enforce_nonce`` a nonce already used by the same author in the last
        # few minutes returns that message and creates none (discord.py always sends one, so
        # a retried POST whose first attempt was stored does not post twice).
        nonce = body.get("nonce")
        key = (channel.id, self.fake.bot.id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self.model.nonces.get(key)
            if (
                earlier is not None
                and earlier in channel.messages
                and time.time() - snowflake_time(earlier) < NONCE_WINDOW
            ):
                return channel.messages[earlier]
        msg = self.model.new_message(channel, self.fake.bot, body)
        if nonce is not None:
            self.model.nonces[key] = int(msg["id"])
        await self.fake.echo("MESSAGE_CREATE", msg)
        return msg

    async def get_message(self, request: web.Request, body: Any) -> Any:
        info = request.match_info
        return self.model.message(info["channel_id"], info["message_id"])

    async def edit_message(self, request: web.Request, body: Any) -> Any:
        msg = self.model.message(request.match_info["channel_id"], request.match_info["message_id"])
        if msg["author"]["id"] != str(self.fake.bot.id):
            raise RestError(403, "Cannot edit a message authored by another user", 50005)
        self.model.edit_message(msg, self._with_files(request, body, msg["attachments"]))
        await self.fake.echo("MESSAGE_UPDATE", msg)
        return msg

    async def delete_message(self, request: web.Request, body: Any) -> Any:
        channel = self.model.channel(request.match_info["channel_id"])
        msg = self.model.message(channel.id, request.match_info["message_id"])
        if msg["author"]["id"] != str(self.fake.bot.id):
            self.model.require(channel, self.fake.bot.id, Perm.MANAGE_MESSAGES)
        self.model.delete_message(channel, int(msg["id"]))
        await self.fake.echo_delete(msg)
        return None

    async def reaction_users(self, request: web.Request, body: Any) -> Any:
        msg = self.model.message(request.match_info["channel_id"], request.match_info["message_id"])
        name, emoji_id = self.model.parse_emoji(request.match_info["emoji"])
        reactions = self.model.reactions.get(int(msg["id"]), Reactions())
        users = sorted(reactions.by_emoji.get(self.model.emoji_key(name, emoji_id), []))
        if "after" in request.query:
            users = [u for u in users if u > int(request.query["after"])]
        limit = max(1, min(100, int(request.query.get("limit", 25))))
        return [self.model.users[u].payload() for u in users[:limit]]

    async def add_reaction(self, request: web.Request, body: Any) -> Any:
        channel = self.model.channel(request.match_info["channel_id"])
        msg = self.model.message(channel.id, request.match_info["message_id"])
        needed = Perm.ADD_REACTIONS | Perm.READ_MESSAGE_HISTORY
        self.model.require(channel, self.fake.bot.id, needed)
        name, emoji_id = self.model.parse_emoji(request.match_info["emoji"])
        await self.fake.apply_reaction(msg, self.fake.bot.id, name, emoji_id, add=True)
        return None

    async def remove_reaction(self, request: web.Request, body: Any) -> Any:
        channel = self.model.channel(request.match_info["channel_id"])
        msg = self.model.message(channel.id, request.match_info["message_id"])
        who = request.match_info["user_id"]
        user_id = self.fake.bot.id if who == "@me" else int(who)
        if user_id != self.fake.bot.id:
            self.model.require(channel, self.fake.bot.id, Perm.MANAGE_MESSAGES)
        name, emoji_id = self.model.parse_emoji(request.match_info["emoji"])
        await self.fake.apply_reaction(msg, user_id, name, emoji_id, add=False)
        return None

    # -- guilds -------------------------------------------------------------------------------

    def _guild(self, request: web.Request) -> Guild:
        guild = self.model.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise RestError(404, "Unknown Guild", 10004)
        return guild

    async def get_guild(self, request: web.Request, body: Any) -> Any:
        data = self.fake.guild_create(self._guild(request))
        for key in ("channels", "members", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return data

    async def get_guild_channels(self, request: web.Request, body: Any) -> Any:
        guild = self._guild(request)
        return [self.model.channels[c].payload(self.model) for c in guild.channel_ids]

    async def get_roles(self, request: web.Request, body: Any) -> Any:
        return [r.payload() for r in self._guild(request).roles.values()]

    async def get_member(self, request: web.Request, body: Any) -> Any:
        guild = self._guild(request)
        user_id = int(request.match_info["user_id"])
        if user_id not in guild.members:
            raise RestError(404, "Unknown Member", 10007)
        return self.model.member_payload(guild.id, user_id)

    # -- application commands -----------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        if int(request.match_info["app_id"]) != self.fake.application_id:
            raise RestError(403, "Missing Access", 50001)
        guild_id = request.match_info.get("guild_id")
        if guild_id is not None and int(guild_id) not in self.model.guilds:
            raise RestError(403, "Missing Access", 50001)
        return int(guild_id) if guild_id is not None else None

    async def get_commands(self, request: web.Request, body: Any) -> Any:
        return list(self.model.commands.get(self._scope(request), {}).values())

    async def put_commands(self, request: web.Request, body: Any) -> Any:
        if not isinstance(body, list):
            raise RestError(400, "Invalid Form Body: expected a list of commands", 50035)
        return self.model.set_commands(self._scope(request), body)

    # -- interactions -------------------------------------------------------------------------

    def _interaction_by_token(self, request: web.Request) -> FakeInteraction:
        inter = self.fake.interactions_by_token.get(request.match_info["token"])
        if inter is None or int(request.match_info["app_id"]) != self.fake.application_id:
            raise RestError(404, "Unknown Webhook", 10015)
        if inter.callback is None:
            raise RestError(404, "Unknown Webhook", 10015)  # not acknowledged yet
        return inter

    async def callback(self, request: web.Request, body: Any) -> Any:
        fake, model = self.fake, self.model
        inter = fake.interactions_by_token.get(request.match_info["token"])
        if inter is None or inter.id != int(request.match_info["interaction_id"]):
            raise RestError(404, "Unknown interaction", 10062)
        if inter.callback is not None:
            raise RestError(400, "Interaction has already been acknowledged.", 40060)
        if time.monotonic() - inter.created > fake.interaction_ack_timeout:
            raise RestError(404, "Unknown interaction", 10062)
        rtype, data = int(body["type"]), dict(body.get("data") or {})
        data = self._with_files(request, data)
        channel = model.channel(inter.channel_id)
        flags = int(data.get("flags") or 0)
        message: dict[str, Any] | None = None
        if rtype in (4, 5):
            data_type = inter.payload.get("data", {}).get("type", 1)
            mtype = {1: 20, 2: 23, 3: 23}.get(data_type, 20) if inter.type == 2 else 0
            body_in = {**data, "flags": flags | (128 if rtype == 5 else 0)}
            message = model.new_message(
                channel,
                fake.bot,
                body_in,
                type=mtype,
                store=not flags & 64,
                extra=fake.interaction_message_extra(inter),
            )
            inter.original = message
        elif rtype in (6, 7):
            if "message" not in inter.payload:
                raise RestError(400, "Interaction has no message to update", 50035)
            message = model.find_message(int(inter.payload["message"]["id"]))
            if message is None:
                raise RestError(404, "Unknown Message", 10008)
            inter.original = message
            if rtype == 7:
                model.edit_message(message, data)
            else:
                message = None
        elif rtype not in (8, 9):
            raise RestError(400, f"Invalid interaction response type {rtype}", 50035)
        data.pop("attachments_out", None)
        inter.callback = InteractionCallback(rtype, data, message)
        inter.answered = time.monotonic()
        if message is not None and not int(message["flags"]) & 64:
            await fake.echo("MESSAGE_UPDATE" if rtype == 7 else "MESSAGE_CREATE", message)
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(inter.id),
                "type": inter.type,
                "response_message_loading": rtype == 5,
                "response_message_ephemeral": bool(flags & 64),
            },
            "resource": {"type": rtype},
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"]["message"] = message
        return answer

    async def followup(self, request: web.Request, body: Any) -> Any:
        inter = self._interaction_by_token(request)
        body = self._with_files(request, body)
        channel = self.model.channel(inter.channel_id)
        flags = int(body.get("flags") or 0)
        msg = self.model.new_message(
            channel,
            self.fake.bot,
            body,
            store=not flags & 64,
            extra=self.fake.interaction_message_extra(inter),
        )
        inter.followups.append(msg)
        if not flags & 64:
            await self.fake.echo("MESSAGE_CREATE", msg)
        return msg

    def _webhook_message(self, request: web.Request) -> tuple[FakeInteraction, dict[str, Any]]:
        inter = self._interaction_by_token(request)
        mid = request.match_info["message_id"]
        if mid == "@original":
            if inter.original is None or inter.original_deleted:
                raise RestError(404, "Unknown Message", 10008)
            return inter, inter.original
        msg = self.model.find_message(int(mid))
        if msg is None or not any(msg is m for m in [inter.original, *inter.followups]):
            raise RestError(404, "Unknown Message", 10008)
        return inter, msg

    async def get_webhook_message(self, request: web.Request, body: Any) -> Any:
        return self._webhook_message(request)[1]

    async def edit_webhook_message(self, request: web.Request, body: Any) -> Any:
        _, msg = self._webhook_message(request)
        body = self._with_files(request, body, msg["attachments"])
        if int(msg["flags"]) & 128:  # a deferred "thinking" message gets its content now
            body = {**body, "flags": int(body.get("flags") or msg["flags"]) & ~128}
        self.model.edit_message(msg, body)
        if not int(msg["flags"]) & 64:
            await self.fake.echo("MESSAGE_UPDATE", msg)
        return msg

    async def delete_webhook_message(self, request: web.Request, body: Any) -> Any:
        inter, msg = self._webhook_message(request)
        if msg is inter.original:
            inter.original_deleted = True
        channel = self.model.channel(msg["channel_id"])
        self.model.delete_message(channel, int(msg["id"]))
        if not int(msg["flags"]) & 64:
            await self.fake.echo_delete(msg)
        return None


# --------------------------------------------------------------------------------------------
# The fake itself: lifecycle, recording, waiting, driving
# --------------------------------------------------------------------------------------------


class FakeDiscord:
    """A fake Discord on 127.0.0.1 (ephemeral port), started in the running event loop.

    With ``default_world`` it holds one guild (``fake.guild``) owned by ``fake.owner``, a
    ``#general`` channel (``fake.channel``) and ``#other`` (``fake.other_channel``), a plain
    member ``fake.member``, a moderator ``fake.moderator`` (role ``fake.mod_role``: Manage
    Messages + Manage Server) and the bot (``fake.bot``) with role ``fake.bot_role``.
    """

    def __init__(
        self,
        *,
        bot_name: str = "Stampy",
        token: str | None = None,
        default_world: bool = True,
        enforce_default_permissions: bool = True,
        echo_bot_events: bool = True,
        interaction_ack_timeout: float = 3.0,
        heartbeat_interval_ms: int = 41250,
        rate_limits: RateLimits | None = None,
        shard_count: int = 1,
    ) -> None:
        """``token``: if set, other tokens get 401 / close 4004. ``enforce_default_permissions``:
        refuse commands Discord would not offer the member: lacking the command's
        ``default_member_permissions``, or outside its ``contexts`` (guild/DM).
        ``echo_bot_events``: dispatch MESSAGE_CREATE/UPDATE/DELETE and reactions for the bot's
        own REST actions back to it, as Discord does. ``interaction_ack_timeout``: callbacks
        later than this answer 404 Unknown interaction (Discord: 3 s). ``rate_limits``: send
        ``X-RateLimit-*`` headers and 429 requests over them (None: no headers, no limits).
        ``shard_count``: what ``/gateway/bot`` recommends; a sharded session gets the events
        of the guilds its shard owns (``(guild_id >> 22) % shard_count``) and, shard 0, the
        direct messages, as on Discord."""
        self.ids = Snowflakes()
        self.model = Model(self.ids, bot_name)
        self.token = token
        self.enforce_default_permissions = enforce_default_permissions
        self.echo_bot_events = echo_bot_events
        self.interaction_ack_timeout = interaction_ack_timeout
        self.rate_limits = rate_limits
        self.shard_count = shard_count
        self.gateway = Gateway(self, heartbeat_interval_ms)
        self.rest = RestApi(self)
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # exceptions inside the fake itself: always a bug
        self.interactions: list[FakeInteraction] = []
        self.interactions_by_token: dict[str, FakeInteraction] = {}
        self.refusals: list[FakeInteraction] = []
        self.port: int | None = None
        self._faults: list[Fault] = []
        self._delays: list[Delay] = []
        self._watched: list[asyncio.Task[Any]] = []
        self._changed: asyncio.Future[None] | None = None
        self._runner: web.AppRunner | None = None
        self._patches: list[_ClientPatch] = []
        # The default world (attributes absent without it):
        self.owner: User
        self.member: User
        self.moderator: User
        self.guild: Guild
        self.mod_role: Role
        self.bot_role: Role
        self.channel: Channel
        self.other_channel: Channel
        if default_world:
            self._build_default_world()

    def _build_default_world(self) -> None:
        model = self.model
        self.owner = model.add_user("owner")
        self.member = model.add_user("alice")
        self.moderator = model.add_user("mod")
        self.guild = model.add_guild("Test Guild", self.owner.id)
        self.mod_role = model.add_role(
            self.guild.id, "Moderator", Perm.MANAGE_MESSAGES | Perm.MANAGE_GUILD
        )
        self.bot_role = model.add_role(self.guild.id, self.bot.username, Perm.MANAGE_MESSAGES)
        self.guild.members[self.bot.id].roles.append(self.bot_role.id)
        model.add_member(self.guild.id, self.member.id)
        model.add_member(self.guild.id, self.moderator.id, [self.mod_role.id])
        self.channel = model.add_channel(self.guild.id, "general")
        self.other_channel = model.add_channel(self.guild.id, "other")

    # -- model shortcuts ----------------------------------------------------------------------

    @property
    def bot(self) -> User:
        return self.model.bot

    @property
    def application_id(self) -> int:
        return self.model.application_id

    def add_user(self, username: str, *, bot: bool = False) -> User:
        return self.model.add_user(username, bot=bot)

    def add_guild(
        self,
        name: str,
        owner_id: int,
        *,
        everyone_perms: int = Perm.EVERYONE_DEFAULT,
        shard: int | None = None,
    ):
        """A guild; ``shard``: one whose id shard ``shard`` of :attr:`shard_count` owns."""
        where = None if shard is None else (shard, self.shard_count)
        return self.model.add_guild(name, owner_id, everyone_perms=everyone_perms, shard=where)

    def add_role(self, guild_id: int, name: str, permissions: int) -> Role:
        return self.model.add_role(guild_id, name, permissions)

    def add_channel(self, guild_id: int, name: str, *, type: int = 0) -> Channel:
        return self.model.add_channel(guild_id, name, type=type)

    def add_member(self, guild_id: int, user_id: int, roles: Iterable[int] = ()) -> Member:
        return self.model.add_member(guild_id, user_id, roles)

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        """The stored messages of a channel, oldest first (ephemeral ones are not here)."""
        return list(self.model.channel(channel_id).messages.values())

    def bot_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Every non-ephemeral message the bot sent (in ``channel_id`` if given), oldest first."""
        channels = [self.model.channel(channel_id)] if channel_id else self.model.channels.values()
        found = [
            m
            for c in channels
            for m in c.messages.values()
            if m["author"]["id"] == str(self.bot.id)
        ]
        return sorted(found, key=lambda m: int(m["id"]))

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Registered commands: global ones, or those of ``guild_id``."""
        return list(self.model.commands.get(guild_id, {}).values())

    def reaction_users(self, message_id: int, emoji: str, emoji_id: int | None = None) -> list[int]:
        reactions = self.model.reactions.get(message_id, Reactions())
        return list(reactions.by_emoji.get(self.model.emoji_key(emoji, emoji_id), []))

    def guild_create(self, guild: Guild) -> dict[str, Any]:
        """The GUILD_CREATE payload for ``guild`` (includes the bot's own member)."""
        model = self.model
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "preferred_locale": "en-US",
            "features": [],
            "max_members": 500000,
            "max_video_channel_users": 25,
            "joined_at": guild.members[self.bot.id].joined_at
            if self.bot.id in guild.members
            else iso(),
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "roles": [r.payload() for r in guild.roles.values()],
            "channels": [model.channels[c].payload(model) for c in guild.channel_ids],
            "members": [m.payload(model) for m in guild.members.values()],
            "threads": [],
            "emojis": [],
            "stickers": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        """Serve on 127.0.0.1 with an ephemeral port, in the running event loop."""
        self._changed = asyncio.get_running_loop().create_future()
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        for method, path, handler in self.rest.routes():
            app.router.add_route(method, API_PREFIX + path, self._wrap(handler))
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._unknown_route)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway-resume", self.gateway.handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Restore patches, close sockets, stop serving. Close the client first, or it will
        keep trying to reconnect."""
        for patch in reversed(self._patches):
            patch.restore()
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Value for ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (as a ``yarl.URL``)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """Sent as READY's ``resume_gateway_url``; a distinct path so tests can tell."""
        return f"ws://127.0.0.1:{self.port}/gateway-resume"

    def patch_client(self) -> _ClientPatch:
        """Point discord.py (this process) at the fake now; restored when the returned context
        manager exits, or at ``close()``. Use as ``with fake.patch_client(): ...`` or plainly."""
        patch = _ClientPatch(self.api_base, self.gateway_url)
        self._patches.append(patch)
        return patch

    def token_ok(self, token: str | None) -> bool:
        if self.token is None:
            return True
        return (token or "").removeprefix("Bot ") == self.token

    # -- recording ----------------------------------------------------------------------------

    def _wrap(self, handler: Callable[..., Any]) -> Callable[[web.Request], Any]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                body = request.get(BODY_KEY)
                result = await handler(request, {} if body is None else body)
            except RestError as exc:
                return error_response(exc.status, exc.message, exc.code)
            if result is None:
                return web.Response(status=204)
            return json_response(result)

        return wrapped

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        log.warning("fake discord: unhandled route %s %s", request.method, request.path)
        return error_response(
            404,
            f"404: Not Found (fake has no route {request.method} "
            f"{request.path.removeprefix(API_PREFIX)})",
        )

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        route = request.match_info.route.resource
        template = route.canonical.removeprefix(API_PREFIX) if route is not None else None
        rec = RecordedRequest(
            request.method,
            path,
            dict(request.query),
            None,
            dict(request.headers),
            time.monotonic(),
            None if template == "/{tail}" else template,
        )
        self.requests.append(rec)
        try:
            rec.json, rec.files = await self._read_body(request)
        except Exception:  # a body the fake cannot read is a bug in the client or the fake
            self.record_error(f"reading body of {request.method} {path}")
            rec.status = 400
            return error_response(400, "fake discord could not parse the body", 50109)
        request[BODY_KEY] = rec.json
        request[FILES_KEY] = [self._attachment(f) for f in rec.files]
        if not path.startswith(("/interactions/", "/webhooks/")) and not self.token_ok(
            request.headers.get("Authorization")
        ):
            response: web.StreamResponse = error_response(401, "401: Unauthorized")
        elif self.rate_limits is not None:
            headers, over = self.rate_limits.take(request.method, rec.route, path)
            if over:
                retry = float(headers["X-RateLimit-Reset-After"])
                response = json_response(
                    {
                        "message": "You are being rate limited.",
                        "retry_after": retry,
                        "global": False,
                    },
                    status=429,
                    headers={**headers, "Retry-After": str(retry), "X-RateLimit-Scope": "user"},
                )
            else:
                response = await self._answer(request, rec, handler)
                response.headers.update(headers)
        else:
            response = await self._answer(request, rec, handler)
        rec.status = response.status
        if isinstance(response, web.Response) and response.body and response.status != 204:
            with contextlib.suppress(ValueError, TypeError):
                rec.response = json.loads(response.body)  # type: ignore[arg-type]
        self.notify()
        return response

    async def _answer(self, request: web.Request, rec: RecordedRequest, handler: Any):
        delay = self._take(self._delays, rec)
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        fault = self._take(self._faults, rec)
        if fault is not None and not fault.after:
            return fault.response()
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            self.record_error(f"handling {rec.method} {rec.path}")
            return error_response(400, "fake discord crashed handling this; see fake.errors")
        if fault is not None:  # the request took effect (stored, dispatched); the answer fails
            rec.effect = response.status
            return fault.response()
        return response

    @staticmethod
    def _take(rules: list[Any], rec: RecordedRequest) -> Any:
        for rule in rules:
            if rec.matches(rule.method, rule.pattern):
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        rules.remove(rule)
                return rule
        return None

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        if not request.body_exists:
            return None, []
        if request.content_type == "multipart/form-data":
            form = await request.post()
            files = []
            body = None
            for name, value in form.items():
                if name == "payload_json":
                    body = json.loads(value if isinstance(value, str) else value.file.read())
                elif isinstance(value, web.FileField):
                    data = value.file.read()
                    files.append(
                        {
                            "field": name,
                            "filename": value.filename,
                            "content_type": value.content_type,
                            "size": len(data),
                            "data": data,
                        }
                    )
            return body or {}, files
        text = await request.text()
        return (json.loads(text) if text else None), []

    def _attachment(self, file: dict[str, Any]) -> dict[str, Any]:
        aid = self.ids.next()
        url = f"https://cdn.fake/attachments/{aid}/{file['filename']}"
        return {
            "id": str(aid),
            "filename": file["filename"],
            "size": file["size"],
            "url": url,
            "proxy_url": url,
            "content_type": file["content_type"],
        }

    def record_error(self, what: str) -> None:
        text = f"{what}:\n{traceback.format_exc()}"
        log.error("fake discord error while %s", text)
        self.errors.append(text)
        self.notify()

    def requests_to(self, method: str | None, pattern: str) -> list[RecordedRequest]:
        """Recorded requests matching ``method`` (None/"*" = any) and a path ``pattern`` in
        which each ``{...}`` matches one segment, e.g. ``/channels/{id}/messages``."""
        return [r for r in self.requests if r.matches(method, pattern)]

    def unhandled_requests(self) -> list[RecordedRequest]:
        """Requests that hit no route of the fake (answered 404)."""
        return [r for r in self.requests if r.route is None]

    # -- faults -------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        pattern: str,
        status: int = 429,
        *,
        retry_after: float = 0.05,
        count: int = 1,
        is_global: bool = False,
        body: Any = None,
        after: bool = False,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` (429 comes with the
        ``Via`` header and JSON ``retry_after`` that discord.py needs to retry; ``is_global``
        makes it a global 429). By default the request does nothing, as when Discord fails
        it; with ``after`` it takes effect first (a message is stored and dispatched) and
        only the answer fails, as when a 5xx comes from a proxy after Discord did the work:
        ``RecordedRequest.effect`` then holds the status the handler answered."""
        fault = Fault(method.upper(), pattern, status, retry_after, count, is_global, body, after)
        self._faults.append(fault)
        return fault

    def delay(self, method: str, pattern: str, seconds: float, count: int | None = None) -> Delay:
        """Answer matching requests only after ``seconds`` (``count`` times; None = always)."""
        rule = Delay(method.upper(), pattern, seconds, count)
        self._delays.append(rule)
        return rule

    # -- waiting ------------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every ``wait_until``; called on each state change."""
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
            self._changed = self._changed.get_loop().create_future()

    def watch_task(self, task: asyncio.Task[Any]) -> None:
        """Make every wait fail at once (with its exception) if ``task`` ends."""
        self._watched.append(task)
        task.add_done_callback(lambda _: self.notify())

    def _check_health(self) -> None:
        if self.errors:
            raise FakeDiscordError("the fake itself failed:\n" + self.errors[0])
        for task in self._watched:
            if task.done():
                exc = None if task.cancelled() else task.exception()
                raise FakeDiscordError(f"watched task {task.get_name()} ended: {exc!r}") from exc

    async def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 2.0, what: str = "condition"
    ) -> Any:
        """Wait (event-driven) until ``predicate()`` is truthy; returns its value."""
        if self._changed is None:
            raise FakeDiscordError("start() the fake first")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._check_health()
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}\n" + self.describe_recent()
                )
            await asyncio.wait([self._changed], timeout=remaining)

    def describe_recent(self, n: int = 12) -> str:
        lines = [f"  {r.method} {r.path} -> {r.status}" for r in self.requests[-n:]]
        missing = [f"  {r.method} {r.path}" for r in self.unhandled_requests()]
        text = "recent requests:\n" + ("\n".join(lines) or "  (none)")
        if missing:
            text += "\nrequests with no route in the fake:\n" + "\n".join(missing)
        return text

    async def wait_for_request(
        self,
        method: str | None,
        pattern: str,
        *,
        timeout: float = 5.0,
        count: int = 1,
        since: int = 0,
        status: int | None = None,
    ) -> RecordedRequest:
        """Wait until ``count`` matching requests (among ``requests[since:]``, answered with
        ``status`` if given, else with anything, faults included) were answered; returns the
        ``count``-th. ``since=len(fake.requests)`` ignores earlier ones."""

        def found() -> RecordedRequest | None:
            done = [
                r
                for r in self.requests[since:]
                if r.status
                and (status is None or r.status == status)
                and r.matches(method, pattern)
            ]
            return done[count - 1] if len(done) >= count else None

        return await self.wait_until(found, timeout, f"{count}x {method} {pattern}")

    async def wait_for_message(
        self,
        channel_id: int | None = None,
        *,
        timeout: float = 2.0,
        count: int = 1,
        predicate: Callable[[dict], bool] | None = None,
    ) -> dict[str, Any]:
        """Wait until the bot has sent ``count`` messages (in ``channel_id``, matching
        ``predicate``); returns the ``count``-th."""

        def found() -> dict[str, Any] | None:
            msgs = [m for m in self.bot_messages(channel_id) if predicate is None or predicate(m)]
            return msgs[count - 1] if len(msgs) >= count else None

        return await self.wait_until(found, timeout, f"{count} bot message(s) in {channel_id}")

    async def wait_ready(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until the client identified and got READY + GUILD_CREATEs ``count`` times."""
        await self.wait_until(lambda: self.gateway.ready_count >= count, timeout, "READY")

    async def wait_resumed(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` RESUMEs in total have been answered (replay + RESUMED)."""
        await self.wait_until(lambda: self.gateway.resume_count >= count, timeout, "RESUMED")

    # -- gateway control ----------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int | None = None):
        """Send a raw dispatch to every live session (only those with ``intent``, if given)."""
        await self.gateway.dispatch(event, data, intent)

    async def drop_socket(self, code: int = 4000) -> None:
        """Close the client's socket(s); events dispatched until it RESUMEs are replayed then."""
        await self.gateway.drop(code)

    def lose_next_dispatch(self) -> None:
        """The next dispatch is logged (it gets a seq) but never sent, and the socket is then
        dropped with 4000: the client must RESUME and receive it by replay."""
        self.gateway.lose_next = True

    def delay_gateway(self, seconds: float) -> None:
        """Every gateway frame from now on reaches the client ``seconds`` later, in order
        (0 turns it off); frames in flight when a socket closes are lost and replayed on
        RESUME like any missed dispatch."""
        self.gateway.latency = seconds

    async def send_reconnect(self) -> None:
        """op 7: the client closes and RESUMEs."""
        await self.gateway.send_op(7, None)

    async def send_invalid_session(self, resumable: bool = False) -> None:
        """op 9; with ``resumable=False`` the session ends and the client IDENTIFYs anew."""
        sessions = self.gateway.live_sessions
        await self.gateway.send_op(9, resumable)
        if not resumable:
            for session in sessions:
                session.ended = True

    # -- echoing the bot's own actions --------------------------------------------------------

    @staticmethod
    def _message_intent(msg: Mapping[str, Any], *, reaction: bool = False) -> int:
        if "guild_id" in msg:
            return Intent.GUILD_MESSAGE_REACTIONS if reaction else Intent.GUILD_MESSAGES
        return Intent.DIRECT_MESSAGE_REACTIONS if reaction else Intent.DIRECT_MESSAGES

    async def echo(self, event: str, msg: dict[str, Any]) -> None:
        if self.echo_bot_events:
            await self.dispatch(
                event, self.model.gateway_message(msg), intent=self._message_intent(msg)
            )

    async def echo_delete(self, msg: dict[str, Any]) -> None:
        if self.echo_bot_events:
            data = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if "guild_id" in msg:
                data["guild_id"] = msg["guild_id"]
            await self.dispatch("MESSAGE_DELETE", data, intent=self._message_intent(msg))

    async def apply_reaction(
        self, msg: dict[str, Any], user_id: int, name: str, emoji_id: int | None, *, add: bool
    ) -> None:
        """Update stored reactions and dispatch MESSAGE_REACTION_ADD/_REMOVE if it changed."""
        if not self.model.react(msg, name, emoji_id, user_id, add):
            return
        if user_id == self.bot.id and not self.echo_bot_events:
            return
        data = self.model.reaction_payload(msg, name, emoji_id, user_id)
        if add and "guild_id" in msg:
            data["member"] = self.model.member_payload(int(msg["guild_id"]), user_id)
        event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
        await self.dispatch(event, data, intent=self._message_intent(msg, reaction=True))

    # -- driving: messages and reactions ------------------------------------------------------

    async def post_message(
        self,
        channel_id: int,
        author_id: int,
        content: str,
        *,
        mentions: Iterable[int] = (),
        embeds: list[dict] | None = None,
        reply_to: int | None = None,
        guild_id: int | None = None,
    ) -> dict[str, Any]:
        """A user posts in a guild channel: stores the message and dispatches MESSAGE_CREATE
        (with ``member``). ``<@id>`` in the content and ``mentions`` fill ``mentions``."""
        channel = self.model.channel(channel_id)
        guild_id = guild_id or channel.guild_id
        if guild_id is not None and author_id not in self.model.guilds[guild_id].members:
            raise FakeDiscordError(f"user {author_id} is not a member of guild {guild_id}")
        body: dict[str, Any] = {"content": content, "embeds": embeds or []}
        if reply_to is not None:
            body["message_reference"] = {"message_id": reply_to, "channel_id": channel.id}
        msg = self.model.new_message(channel, self.model.users[author_id], body)
        extra = [
            self.model.users[u].payload()
            for u in mentions
            if str(u) not in {m["id"] for m in msg["mentions"]}
        ]
        msg["mentions"] += extra
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        await self.dispatch(
            "MESSAGE_CREATE", self.model.gateway_message(msg), intent=self._message_intent(msg)
        )
        return msg

    async def send_dm(self, user_id: int, content: str) -> dict[str, Any]:
        """A user DMs the bot: MESSAGE_CREATE in the DM channel, without ``guild_id``."""
        channel = self.model.dm_channel(user_id)
        msg = self.model.new_message(channel, self.model.users[user_id], {"content": content})
        await self.dispatch("MESSAGE_CREATE", msg, intent=Intent.DIRECT_MESSAGES)
        return msg

    async def edit_user_message(self, channel_id: int, message_id: int, content: str) -> dict:
        """A user edits their message: MESSAGE_UPDATE with the whole new message."""
        msg = self.model.message(channel_id, message_id)
        self.model.edit_message(msg, {"content": content})
        await self.dispatch(
            "MESSAGE_UPDATE", self.model.gateway_message(msg), intent=self._message_intent(msg)
        )
        return msg

    async def add_reaction(
        self,
        channel_id: int,
        message_id: int,
        user_id: int,
        emoji_name: str,
        emoji_id: int | None = None,
    ) -> None:
        """A user reacts (MESSAGE_REACTION_ADD with ``member``, ``type``, ``burst``)."""
        msg = self.model.message(channel_id, message_id)
        await self.apply_reaction(msg, user_id, emoji_name, emoji_id, add=True)

    async def remove_reaction(
        self,
        channel_id: int,
        message_id: int,
        user_id: int,
        emoji_name: str,
        emoji_id: int | None = None,
    ) -> None:
        """A user removes their reaction (MESSAGE_REACTION_REMOVE)."""
        msg = self.model.message(channel_id, message_id)
        await self.apply_reaction(msg, user_id, emoji_name, emoji_id, add=False)

    # -- driving: interactions ----------------------------------------------------------------

    def interaction_message_extra(self, inter: FakeInteraction) -> dict[str, Any]:
        """Fields Discord adds to messages created by an interaction response/followup."""
        user = self.model.users[inter.user_id].payload()
        meta: dict[str, Any] = {
            "id": str(inter.id),
            "type": inter.type,
            "user": user,
            "authorizing_integration_owners": {},
        }
        if inter.type == 2:
            meta["name"] = inter.payload["data"]["name"]
        if "message" in inter.payload:
            meta["interacted_message_id"] = inter.payload["message"]["id"]
        return {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": meta,
        }

    def _interaction(
        self,
        itype: int,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        data: dict[str, Any],
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        model = self.model
        channel = model.channel(channel_id)
        iid = self.ids.next()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": f"fake-interaction-token-{iid}-{uuid.uuid4().hex[:8]}",
            "version": 1,
            "attachment_size_limit": 26214400,
            "channel_id": str(channel.id),
            "channel": channel.payload(model),
            "data": data,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "app_permissions": str(model.permissions_in(channel, self.bot.id)),
            "context": 0 if guild_id else 1,
        }
        if guild_id is not None:
            if user_id not in model.guilds[guild_id].members:
                raise FakeDiscordError(f"user {user_id} is not a member of guild {guild_id}")
            perms = model.permissions_in(channel, user_id)
            payload["guild_id"] = str(guild_id)
            payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = model.member_payload(guild_id, user_id, permissions=str(perms))
            payload["authorizing_integration_owners"] = {"0": str(guild_id)}
        else:
            payload["user"] = model.users[user_id].payload()
            payload["authorizing_integration_owners"] = {"1": str(user_id)}
        if message is not None:
            payload["message"] = message
        return payload

    async def _send_interaction(self, payload: dict[str, Any]) -> FakeInteraction:
        inter = FakeInteraction(self, payload)
        self.interactions.append(inter)
        self.interactions_by_token[inter.token] = inter
        await self.dispatch("INTERACTION_CREATE", payload)
        return inter

    def _refusal(self, command: dict[str, Any], guild_id: int | None, user_id: int) -> str | None:
        """Why Discord would not let this user run ``command`` (None: allowed): not available
        in this context (``contexts``/``dm_permission``) or ``default_member_permissions``."""
        contexts = command.get("contexts") or [0, 1, 2]
        if guild_id is None:
            if command.get("dm_permission") is False or 1 not in contexts:
                return f"{command['name']!r} is not available in DMs"
            return None
        if 0 not in contexts:
            return f"{command['name']!r} is not available in guilds"
        required = command.get("default_member_permissions")
        if required is None:
            return None
        perms = self.model.base_permissions(guild_id, user_id)
        if perms & Perm.ADMINISTRATOR or perms == Perm.ALL:
            return None
        if int(required) == 0 or perms & int(required) != int(required):
            return (
                f"member {user_id} lacks default_member_permissions={required} "
                f"for {command['name']!r} (has {perms})"
            )
        return None

    def _command_data(
        self, guild_id: int | None, name: str, ctype: int, registered_only: bool
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        command = self.model.find_command(guild_id, name, ctype)
        if command is None and registered_only:
            names = sorted(
                {
                    c["name"]
                    for s in (guild_id, None)
                    for c in self.model.commands.get(s, {}).values()
                }
            )
            raise FakeDiscordError(
                f"command {name!r} (type {ctype}) is not registered for "
                f"guild {guild_id}; registered: {names}"
            )
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.ids.next()),
            "name": name,
            "type": ctype,
        }
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return data, command

    async def _app_command(
        self,
        itype: int,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | list[dict] | None,
        focused: str | None,
        registered_only: bool,
    ) -> FakeInteraction:
        top, *path = name.split()
        data, command = self._command_data(guild_id, top, 1, registered_only)
        schema = command["options"] if command else None
        nest: list[tuple[str, int]] = []
        for segment in path:
            sub = _find_option(schema, segment) if schema is not None else None
            if schema is not None and (sub is None or sub.get("type") not in (1, 2)):
                raise FakeDiscordError(f"{segment!r} is not a subcommand of {name!r}")
            nest.append((segment, sub["type"] if sub else (1 if segment == path[-1] else 2)))
            schema = sub.get("options", []) if sub else None
        built, resolved = self._build_options(guild_id, schema, options, focused, name)
        for segment, otype in reversed(nest):
            built = [{"name": segment, "type": otype, "options": built}]
        data["options"] = built
        if resolved:
            data["resolved"] = resolved
        return await self._maybe_refuse(itype, guild_id, channel_id, user_id, data, command)

    async def _maybe_refuse(
        self,
        itype: int,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        data: dict[str, Any],
        command: dict[str, Any] | None,
    ) -> FakeInteraction:
        payload = self._interaction(itype, guild_id, channel_id, user_id, data)
        reason = self._refusal(command, guild_id, user_id) if command else None
        if reason is not None and self.enforce_default_permissions:
            inter = FakeInteraction(self, payload, refused=reason)
            self.refusals.append(inter)
            self.notify()
            return inter
        return await self._send_interaction(payload)

    def _build_options(
        self,
        guild_id: int | None,
        schema: list[dict] | None,
        given: Mapping[str, Any] | list[dict] | None,
        focused: str | None,
        name: str,
    ) -> tuple[list[dict], dict[str, Any]]:
        """Turn ``{"name": value}`` into Discord's option list (types from the registered
        schema) plus ``resolved`` for users, channels and roles."""
        if isinstance(given, list):
            return given, {}
        given = dict(given or {})
        resolved: dict[str, dict[str, Any]] = {}
        built = []
        for opt_name, value in given.items():
            spec = _find_option(schema, opt_name) if schema is not None else None
            if schema is not None and spec is None:
                raise FakeDiscordError(f"{name!r} has no option {opt_name!r}")
            otype = spec["type"] if spec else _infer_option_type(value)
            is_focused = opt_name == focused
            if spec and spec.get("choices") and not is_focused:
                allowed = [c["value"] for c in spec["choices"]]
                if value not in allowed:
                    raise FakeDiscordError(f"{value!r} is not a choice of {opt_name!r}: {allowed}")
            option: dict[str, Any] = {
                "name": opt_name,
                "type": otype,
                "value": _option_value(otype, value, is_focused),
            }
            if is_focused:
                option["focused"] = True
            built.append(option)
            if otype in (6, 7, 8, 9) and not is_focused:
                self._resolve(resolved, guild_id, otype, int(value))
        for spec in schema or []:
            if spec.get("required") and spec["name"] not in given and spec["type"] not in (1, 2):
                raise FakeDiscordError(f"{name!r} needs option {spec['name']!r}")
        return built, resolved

    def _resolve(
        self, resolved: dict[str, dict[str, Any]], guild_id: int | None, otype: int, snowflake: int
    ) -> None:
        model, key = self.model, str(snowflake)
        guild = model.guilds.get(guild_id) if guild_id else None
        if otype in (6, 9) and snowflake in model.users:
            resolved.setdefault("users", {})[key] = model.users[snowflake].payload()
            if guild and snowflake in guild.members:
                member = guild.members[snowflake].payload(model, with_user=False)
                perms = model.base_permissions(guild.id, snowflake)
                resolved.setdefault("members", {})[key] = {**member, "permissions": str(perms)}
        elif otype in (8, 9) and guild and snowflake in guild.roles:
            resolved.setdefault("roles", {})[key] = guild.roles[snowflake].payload()
        elif otype == 7 and snowflake in model.channels:
            channel = model.channels[snowflake]
            perms = model.permissions_in(channel, self.bot.id)
            resolved.setdefault("channels", {})[key] = {
                **channel.payload(model),
                "permissions": str(perms),
            }
        else:
            raise FakeDiscordError(f"cannot resolve {snowflake} as option type {otype}")

    async def run_command(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any] | list[dict] | None = None,
        *,
        registered_only: bool = True,
    ) -> FakeInteraction:
        """A user runs a slash command. ``name`` may be a path ("faq add"); ``options`` is
        ``{"name": value}`` (typed from the registered command) or a raw Discord option list.
        Refused (not dispatched; see ``.refused``) when the member lacks the command's
        ``default_member_permissions``, unless ``enforce_default_permissions`` is False."""
        return await self._app_command(
            2, guild_id, channel_id, user_id, name, options, None, registered_only
        )

    async def autocomplete(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        registered_only: bool = True,
    ) -> FakeInteraction:
        """A user types into option ``focused`` (its partial value in ``options``): type 4."""
        return await self._app_command(
            4, guild_id, channel_id, user_id, name, options, focused, registered_only
        )

    async def context_menu(
        self,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        name: str,
        *,
        target_message: dict[str, Any] | int | None = None,
        target_user_id: int | None = None,
        registered_only: bool = True,
    ) -> FakeInteraction:
        """A message command (data.type 3, ``target_message``) or user command (data.type 2,
        ``target_user_id``) with ``target_id`` and ``resolved``."""
        if target_message is not None:
            msg = self._lookup_message(target_message)
            data, command = self._command_data(guild_id, name, 3, registered_only)
            data["target_id"] = msg["id"]
            data["resolved"] = {"messages": {msg["id"]: msg}}
        elif target_user_id is not None:
            data, command = self._command_data(guild_id, name, 2, registered_only)
            data["target_id"] = str(target_user_id)
            data["resolved"] = {}
            self._resolve(data["resolved"], guild_id, 6, target_user_id)
        else:
            raise FakeDiscordError("context_menu needs target_message or target_user_id")
        return await self._maybe_refuse(2, guild_id, channel_id, user_id, data, command)

    def _lookup_message(self, message: dict[str, Any] | int) -> dict[str, Any]:
        message_id = int(message["id"]) if isinstance(message, dict) else int(message)
        msg = self.model.find_message(message_id)
        if msg is None:
            raise FakeDiscordError(f"no stored message {message_id}")
        return msg

    async def click_button(
        self,
        message: dict[str, Any] | int,
        custom_id: str,
        user_id: int,
    ) -> FakeInteraction:
        """A user clicks a component of a stored message (type 3 with the ``message``)."""
        return await self._component(message, custom_id, user_id, None)

    async def select(
        self, message: dict[str, Any] | int, custom_id: str, values: list[str], user_id: int
    ) -> FakeInteraction:
        """A user picks ``values`` in a select menu of a stored message."""
        return await self._component(message, custom_id, user_id, values)

    async def _component(
        self, message: dict[str, Any] | int, custom_id: str, user_id: int, values: list[str] | None
    ) -> FakeInteraction:
        msg = self._lookup_message(message)
        component = next(
            (c for c in _walk(msg.get("components", [])) if c.get("custom_id") == custom_id), None
        )
        if component is None:
            ids = [c.get("custom_id") for c in _walk(msg.get("components", []))]
            raise FakeDiscordError(f"message {msg['id']} has no component {custom_id!r}: {ids}")
        if component.get("disabled"):
            raise FakeDiscordError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = values
        guild_id = int(msg["guild_id"]) if "guild_id" in msg else None
        payload = self._interaction(3, guild_id, int(msg["channel_id"]), user_id, data, msg)
        return await self._send_interaction(payload)

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, Any],
        user_id: int | None = None,
        *,
        opened_by: FakeInteraction | None = None,
    ) -> FakeInteraction:
        """A user submits the modal ``custom_id`` the bot opened (type 5). ``values`` maps each
        input's custom_id to a string (text input) or a list (select). Guild, channel, user
        and message default to those of the interaction that opened the modal."""
        if opened_by is None:
            opened_by = next(
                (
                    i
                    for i in reversed(self.interactions)
                    if i.modal and i.modal.get("custom_id") == custom_id
                ),
                None,
            )
        if opened_by is None or opened_by.modal is None:
            raise FakeDiscordError(f"the bot has not opened a modal {custom_id!r}")
        layout = opened_by.modal.get("components", [])
        inputs = {c["custom_id"]: c for c in _walk(layout) if "custom_id" in c}
        unknown = set(values) - set(inputs)
        if unknown:
            raise FakeDiscordError(f"modal {custom_id!r} has no inputs {sorted(unknown)}")
        data = {"custom_id": custom_id, "components": _modal_answers(layout, values)}
        if opened_by.answered is not None:
            # A person sees the form only once the bot has its callback's response (discord.py
            # listens for the submit from then on) and takes a moment to fill it in.
            wait = opened_by.answered + MODAL_FILL_SECONDS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        payload = self._interaction(
            5,
            opened_by.guild_id,
            opened_by.channel_id,
            user_id or opened_by.user_id,
            data,
            opened_by.payload.get("message"),
        )
        return await self._send_interaction(payload)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


class _ClientPatch:
    """Points this process's discord.py at the fake; ``restore()`` undoes it (idempotent)."""

    def __init__(self, api_base: str, gateway_url: str) -> None:
        self._saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = api_base  # type: ignore[misc]
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        self._active = True

    def restore(self) -> None:
        if self._active:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved  # type: ignore[misc]
            self._active = False

    def __enter__(self) -> _ClientPatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


def _walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component in a (nested) component tree."""
    for comp in components:
        yield comp
        yield from _walk(comp.get("components", []))
        if "component" in comp:
            yield from _walk([comp["component"]])
        if "accessory" in comp:
            yield from _walk([comp["accessory"]])


def _modal_answers(layout: list[dict[str, Any]], values: Mapping[str, Any]) -> list[dict]:
    """Mirror the modal's layout (action rows / labels) with the submitted values."""
    answers: list[dict[str, Any]] = []
    for comp in layout:
        if comp["type"] == 1:
            answers.append({"type": 1, "components": _modal_answers(comp["components"], values)})
        elif comp["type"] == 18:
            inner = _modal_answers([comp["component"]], values)
            if inner:
                answers.append({"type": 18, "id": comp.get("id"), "component": inner[0]})
        elif "custom_id" in comp:
            value = values.get(comp["custom_id"], [] if comp["type"] not in (4, 21, 23) else "")
            key = "values" if isinstance(value, list) else "value"
            answers.append({"type": comp["type"], "custom_id": comp["custom_id"], key: value})
    return answers


def _find_option(schema: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    return next((o for o in schema or [] if o.get("name") == name), None)


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def _option_value(otype: int, value: Any, focused: bool) -> Any:
    if focused:
        return str(value)
    if otype in (6, 7, 8, 9, 11):
        return str(int(value))
    if otype == 4:
        return int(value)
    if otype == 10:
        return float(value)
    if otype == 5:
        return bool(value)
    return str(value)


__all__ = [
    "FakeDiscord",
    "FakeDiscordError",
    "FakeInteraction",
    "InteractionCallback",
    "Intent",
    "Perm",
    "RecordedRequest",
]
