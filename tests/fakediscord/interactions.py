"""Interactions the fake sends and the callbacks the bot answers them with."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fakediscord._common import FakeDiscordError

if TYPE_CHECKING:
    from fakediscord.fake import FakeDiscord

log = logging.getLogger("fakediscord")

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
