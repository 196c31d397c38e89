"""Curating the knowledge base: moderators' changes over the shipped files, their history,
the review queues, reload, export and import.

- :mod:`~bot.curation.model`: the values (moderator, change, history entry, reports) and the
  text rules
- :mod:`~bot.curation.overlay`: the YAML files and the stored versions composed into the live
  knowledge base
- :mod:`~bot.curation.transfer`: export to and import from a directory of YAML files
- :mod:`~bot.curation.queues`: one review queue over the store's rows (unanswered questions,
  proposals)
- :mod:`~bot.curation.changes`: :class:`Curator`: every change, history and revert, the queues'
  work

Nothing here imports discord.
"""

from bot.curation.changes import Curator
from bot.curation.model import (
    DEFAULT_FILE,
    Change,
    HistoryEntry,
    ImportReport,
    KnowledgeDiff,
    Moderator,
    Refused,
    ReloadReport,
    TagChange,
    TagHistoryEntry,
    author_mention,
    clean_text,
    make_id,
    split_lines,
    split_tags,
)
from bot.curation.queues import ReviewQueue

__all__ = [
    "DEFAULT_FILE",
    "Change",
    "Curator",
    "HistoryEntry",
    "ImportReport",
    "KnowledgeDiff",
    "Moderator",
    "Refused",
    "ReloadReport",
    "ReviewQueue",
    "TagChange",
    "TagHistoryEntry",
    "author_mention",
    "clean_text",
    "make_id",
    "split_lines",
    "split_tags",
]
