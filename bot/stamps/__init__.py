"""Stamps of approval: ranking, the in-memory tallies, the batched writer, the book that ties
them to the store, reconciliation with what a chat platform shows, and reputation.

- :mod:`~bot.stamps.ranking`: answers canonical first then by stamps; near-tied questions by
  stamps
- :mod:`~bot.stamps.tallies`: who stamped what, votes between people, counts per person
- :mod:`~bot.stamps.writer`: group commit: a queue written in batches, retried while the
  database refuses
- :mod:`~bot.stamps.book`: :class:`StampBook`: events in, totals and reputation out
- :mod:`~bot.stamps.reconcile`: re-reading recent answer messages after a restart or new session
- :mod:`~bot.stamps.reputation`: the sparse reputation solver

Nothing here imports discord; importing the package does not import scipy.
"""

from bot.stamps.book import Reconciled, StampBook, StampBookClosed
from bot.stamps.ranking import AnswerScores, author_user_id, break_ties, rank_answers
from bot.stamps.tallies import UserStamps
from bot.store.stamps import StampOp

__all__ = [
    "AnswerScores",
    "Reconciled",
    "StampBook",
    "StampBookClosed",
    "StampOp",
    "UserStamps",
    "author_user_id",
    "break_ties",
    "rank_answers",
]
