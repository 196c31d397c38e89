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

The package is split along the fake's own sections: ``_common`` (constants, errors, rate
limits), ``model``, ``recording`` (requests and faults), ``interactions``, ``gateway``, ``rest``
and ``fake`` (:class:`FakeDiscord`).
"""

from __future__ import annotations

from fakediscord._common import (
    API_PREFIX,
    BODY_KEY,
    DISCORD_EPOCH_MS,
    FILES_KEY,
    JSON_HEADERS,
    MODAL_FILL_SECONDS,
    NONCE_WINDOW,
    FakeDiscordError,
    Intent,
    Perm,
    RateLimits,
    RestError,
    Snowflakes,
    compile_pattern,
    error_response,
    iso,
    json_response,
    path_matches,
    snowflake_time,
    uploaded,
)
from fakediscord.fake import FakeDiscord
from fakediscord.gateway import Gateway, GatewayConnection, GatewaySession
from fakediscord.interactions import FakeInteraction, InteractionCallback
from fakediscord.model import Channel, Guild, Member, Model, Reactions, Role, User
from fakediscord.recording import Delay, Fault, RecordedRequest
from fakediscord.rest import RestApi

__all__ = [
    "API_PREFIX",
    "BODY_KEY",
    "Channel",
    "DISCORD_EPOCH_MS",
    "Delay",
    "FILES_KEY",
    "FakeDiscord",
    "FakeDiscordError",
    "FakeInteraction",
    "Fault",
    "Gateway",
    "GatewayConnection",
    "GatewaySession",
    "Guild",
    "Intent",
    "InteractionCallback",
    "JSON_HEADERS",
    "MODAL_FILL_SECONDS",
    "Member",
    "Model",
    "NONCE_WINDOW",
    "Perm",
    "RateLimits",
    "Reactions",
    "RecordedRequest",
    "RestApi",
    "RestError",
    "Role",
    "Snowflakes",
    "User",
    "compile_pattern",
    "error_response",
    "iso",
    "json_response",
    "path_matches",
    "snowflake_time",
    "uploaded",
]
