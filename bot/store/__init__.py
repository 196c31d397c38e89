"""The database: :class:`Store` owns the connection(s); record modules work through it.

A SQLite file by default (:mod:`bot.store.sqlite`), or a PostgreSQL database that several
processes share (:mod:`bot.store.postgres`), chosen by what :meth:`Store.open` is given.
Typical use::

    async with await Store.open(settings.database.location) as store:
        unanswered = UnansweredQuestions(store)
        await unanswered.record(text, asker_id=..., channel_id=..., guild_id=...)

This package never imports discord.
"""

from bot.store.db import MAX_TEXT_CHARS, NewerDatabaseError, Store, StoreError
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.proposals import PROPOSAL_STATUSES, ProposedPhrasing, ProposedPhrasings
from bot.store.stamps import AnswerMessage, StampRecords
from bot.store.unanswered import UNANSWERED_STATUSES, UnansweredQuestion, UnansweredQuestions

__all__ = [
    "MAX_TEXT_CHARS",
    "MIGRATIONS",
    "PROPOSAL_STATUSES",
    "UNANSWERED_STATUSES",
    "AnswerMessage",
    "Migration",
    "NewerDatabaseError",
    "ProposedPhrasing",
    "ProposedPhrasings",
    "Store",
    "StampRecords",
    "StoreError",
    "UnansweredQuestion",
    "UnansweredQuestions",
]
