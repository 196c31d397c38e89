"""The database schema, as an ordered list of numbered migrations.

:class:`~bot.store.db.Store` applies, in order, every migration whose number is above the
database's ``PRAGMA user_version`` and records each one's number there (the single source of
truth for the schema version). Each migration runs in its own transaction, so a failing one
leaves the database at the previous version.

To change the schema, **append** a migration numbered one more than the last; never edit or
renumber one that has shipped (databases in the wild already ran it). Rules for the SQL:

* no transaction control (``BEGIN``/``COMMIT``/``SAVEPOINT``): the runner wraps it;
* foreign keys are *off* while migrations run, so the usual SQLite recipe for changing a table
  (create the new table, copy, drop the old, rename) works; ``PRAGMA foreign_key_check`` runs
  before the commit and a violation fails the migration;
* timestamps are ISO-8601 UTC text (see :func:`bot.store.db.to_db_time`).
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    """One schema step: ``number`` (1, 2, ...), a short ``description`` and its ``sql``."""

    number: int
    description: str
    sql: str


_INITIAL = """
-- Questions the bot could not answer, folded so that one row stands for a question however
-- often (and however it is typed) it is asked.
CREATE TABLE unanswered (
    id               INTEGER PRIMARY KEY,
    text             TEXT    NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    normalized       TEXT    NOT NULL,
    norm_len         INTEGER NOT NULL CHECK (norm_len >= 0),
    count            INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
    first_asker_id   INTEGER,
    first_channel_id INTEGER,
    guild_id         INTEGER,
    first_asked_at   TEXT    NOT NULL,
    last_asked_at    TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'dismissed', 'answered'))
);
-- Exact lookup of a normalised question among the open rows.
CREATE INDEX unanswered_status_normalized ON unanswered (status, normalized);
-- Fuzzy candidates: open rows of about the same normalised length.
CREATE INDEX unanswered_status_norm_len ON unanswered (status, norm_len);
-- Listing: most asked first, then most recent.
CREATE INDEX unanswered_status_rank ON unanswered (status, count DESC, last_asked_at DESC);

-- Alternate phrasings of a known question, proposed when an asker picks a "did you mean"
-- choice. They are stored for review, never applied automatically.
CREATE TABLE proposed_phrasings (
    id               INTEGER PRIMARY KEY,
    question_id      TEXT    NOT NULL CHECK (length(question_id) >= 1),
    text             TEXT    NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    normalized       TEXT    NOT NULL,
    proposer_id      INTEGER,
    channel_id       INTEGER,
    proposed_at      TEXT    NOT NULL,
    last_proposed_at TEXT    NOT NULL,
    count            INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
    status           TEXT    NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'approved', 'rejected'))
);
CREATE INDEX proposed_phrasings_lookup
    ON proposed_phrasings (status, question_id, normalized);
CREATE INDEX proposed_phrasings_rank
    ON proposed_phrasings (status, count DESC, last_proposed_at DESC);
"""

#: Every migration, in order. Numbers must run 1..N without gaps (a test checks this).
MIGRATIONS: list[Migration] = [
    Migration(1, "unanswered questions and proposed phrasings", _INITIAL),
]
