"""The websocket gateway: HELLO, IDENTIFY/READY, heartbeats, dispatch, RESUME and replays."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from fakediscord._common import Intent

if TYPE_CHECKING:
    from fakediscord.fake import FakeDiscord

log = logging.getLogger("fakediscord")

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
