"""What operators watch: counters and a latency histogram in Prometheus' format.

One :class:`Metrics` is built per :class:`~bot.app.App` and passed to what it counts (the
service, the stamp book, the curator, the Discord bot); each holds its own
:class:`~prometheus_client.CollectorRegistry`, so two apps in one process (the tests) never
share or clash. ``/metrics`` on the web front end serves :meth:`Metrics.exposition`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics"]

#: The content type of :meth:`Metrics.exposition` (Prometheus' text format).
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Reply latency buckets, in seconds: matching takes about a millisecond at 10k questions.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """The counters of one application (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.questions = Counter(
            "stampy_questions",
            "Questions asked, by the decision taken (answer, suggest, none, small_talk)",
            ["decision"],
            registry=self.registry,
        )
        self.reply_seconds = Histogram(
            "stampy_reply_seconds",
            "Time to decide a reply to one question (matching and ranking), in seconds",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stamps = Counter(
            "stampy_stamps_recorded",
            "Stamp changes written to the database, by kind (added, removed)",
            ["change"],
            registry=self.registry,
        )
        self.moderation = Counter(
            "stampy_moderation_changes",
            "Versions of questions moderators stored (edits, removals, reverts, imports)",
            registry=self.registry,
        )
        self.database_errors = Counter(
            "stampy_database_errors",
            "Database operations that failed, by kind (busy, readonly, full, io, error...)",
            ["kind"],
            registry=self.registry,
        )
        self.gateway_reconnects = Counter(
            "stampy_gateway_reconnects",
            "Times the Discord gateway connection was opened again after the first",
            registry=self.registry,
        )
        # Pre-create the labelled series operators alert on, so they read 0, not absent.
        for decision in ("answer", "suggest", "none", "small_talk"):
            self.questions.labels(decision)
        for change in ("added", "removed"):
            self.stamps.labels(change)

    def question(self, decision: str, seconds: float) -> None:
        """One question decided as ``decision`` in ``seconds``."""
        self.questions.labels(decision).inc()
        self.reply_seconds.observe(seconds)

    def stamp(self, added: bool) -> None:
        """One stamp added or removed in the database."""
        self.stamps.labels("added" if added else "removed").inc()

    def moderation_change(self) -> None:
        """One moderator's change stored."""
        self.moderation.inc()

    def database_error(self, kind: str) -> None:
        """One failed database operation (``kind``: :attr:`bot.store.StoreError.kind`)."""
        self.database_errors.labels(kind).inc()

    def gateway_reconnect(self) -> None:
        """The Discord gateway connected again."""
        self.gateway_reconnects.inc()

    def exposition(self) -> bytes:
        """Every metric, in Prometheus' text format (:data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
