"""The REST API under /api/v10 that discord.py calls."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from fakediscord._common import NONCE_WINDOW, Perm, RestError, snowflake_time, uploaded
from fakediscord.interactions import FakeInteraction, InteractionCallback
from fakediscord.model import Guild, Reactions

if TYPE_CHECKING:
    from fakediscord.fake import FakeDiscord

log = logging.getLogger("fakediscord")

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
