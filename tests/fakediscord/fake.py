"""FakeDiscord itself: lifecycle, recording, waiting, and driving the bot as a person would."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from fakediscord._common import (
    API_PREFIX,
    BODY_KEY,
    FILES_KEY,
    MODAL_FILL_SECONDS,
    FakeDiscordError,
    Intent,
    Perm,
    RateLimits,
    RestError,
    Snowflakes,
    error_response,
    iso,
    json_response,
)
from fakediscord.gateway import Gateway
from fakediscord.interactions import FakeInteraction, InteractionCallback
from fakediscord.model import Channel, Guild, Member, Model, Reactions, Role, User
from fakediscord.recording import Delay, Fault, RecordedRequest
from fakediscord.rest import RestApi

log = logging.getLogger("fakediscord")

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

    def add_members(self, count: int, prefix: str, guild_id: int | None = None) -> list[int]:
        """``count`` new users named ``prefix0``, ``prefix1``... made members of ``guild_id``
        (the default guild if None); their ids, in that order."""
        guild = self.guild.id if guild_id is None else guild_id
        ids = []
        for number in range(count):
            user = self.add_user(f"{prefix}{number}")
            self.add_member(guild, user.id)
            ids.append(user.id)
        return ids

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
        if request.transport is not None:
            rec.peer = request.transport.get_extra_info("peername")
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
