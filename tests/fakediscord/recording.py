"""What the fake records (every request) and the faults a test can inject."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakediscord._common import json_response, path_matches

log = logging.getLogger("fakediscord")

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
    peer: Any = None  # the client's address and port: which connection carried it

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
