"""Constants, permission and intent bits, errors, JSON answers, rate limits, snowflakes."""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

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
