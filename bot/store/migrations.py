"""The SQLite database schema, as an ordered list of numbered migrations.

:class:`~bot.store.sqlite.SQLiteStore` applies, in order, every migration whose number is above the
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

The PostgreSQL schema (:mod:`bot.store.pg_migrations`) has the same numbers: a migration
added here gets its PostgreSQL twin there (a test checks they match).
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

_STAMPS = """
-- Every answer message the bot posted: which message shows which answer, so that stamps on
-- it are attributed after a restart too. answer_id is NULL for a known question that had no
-- answer yet.
CREATE TABLE answer_messages (
    message_id  INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL,
    guild_id    INTEGER,
    question_id TEXT    NOT NULL CHECK (length(question_id) >= 1),
    answer_id   TEXT,
    posted_at   TEXT    NOT NULL
);
-- Reconciling on start: the answer messages of the last N days.
CREATE INDEX answer_messages_posted_at ON answer_messages (posted_at);

-- The stamps present now, one row per (message, stamper, emoji): a replayed reaction finds
-- its row and changes nothing; removing the reaction deletes the row. emoji is the stamp's
-- configured name (weights come from the config, so changing a weight applies to old
-- stamps too). votee_id is who is credited (the message's author, or the author of the
-- answer an answer message shows), answer_id the answer endorsed.
CREATE TABLE stamps (
    message_id INTEGER NOT NULL,
    voter_id   INTEGER NOT NULL,
    emoji      TEXT    NOT NULL CHECK (length(emoji) BETWEEN 1 AND 64),
    votee_id   INTEGER CHECK (votee_id IS NULL OR votee_id <> voter_id),
    answer_id  TEXT,
    channel_id INTEGER,
    guild_id   INTEGER,
    stamped_at TEXT    NOT NULL,
    PRIMARY KEY (message_id, voter_id, emoji)
) WITHOUT ROWID;
-- No other index: every lookup is by message (the key's prefix); per-person and per-answer
-- totals are read once at start and kept in memory, so writes stay cheap.

-- Where trust comes from, as last seen on Discord: guild owners and moderators.
CREATE TABLE stamp_roots (
    guild_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    reason   TEXT    NOT NULL CHECK (reason IN ('owner', 'moderator')),
    seen_at  TEXT    NOT NULL,
    PRIMARY KEY (guild_id, user_id, reason)
) WITHOUT ROWID;
"""

_QUESTION_VERSIONS = """
-- Moderators' changes to knowledge-base questions (bot/store/versions.py). The row with the
-- highest version of a question is the overlay on the shipped YAML files: 'set' replaces or
-- adds the question (content is its JSON), 'removed' removes it, 'shipped' leaves the YAML
-- version in force. Older rows are the history. Rows are only ever appended.
CREATE TABLE question_versions (
    id          INTEGER PRIMARY KEY,
    question_id TEXT    NOT NULL CHECK (length(question_id) BETWEEN 1 AND 64),
    version     INTEGER NOT NULL CHECK (version >= 1),
    state       TEXT    NOT NULL CHECK (state IN ('set', 'removed', 'shipped')),
    content     TEXT    CHECK ((state = 'set') = (content IS NOT NULL)),
    -- The YAML file (a name in the answers directory) the question is exported to, and that
    -- file's topic, when they are not those of the shipped file.
    file        TEXT,
    topic       TEXT,
    member_id   INTEGER,
    member_name TEXT    NOT NULL CHECK (length(member_name) BETWEEN 1 AND 100),
    guild_id    INTEGER,
    created_at  TEXT    NOT NULL,
    action      TEXT    NOT NULL CHECK (length(action) BETWEEN 1 AND 500),
    UNIQUE (question_id, version)
);
"""

_UNANSWERED_RECENT = """
-- Folding a new unanswered question compares it with the most recently asked open rows of
-- about its length. With an index on the length the database found every row in the length
-- range and sorted them all by time, so each unanswered question cost more as the table grew
-- (25 ms at 20,000 rows). Walking this index newest first stops after the rows it needs.
CREATE INDEX unanswered_open_recent ON unanswered (status, last_asked_at DESC, id DESC, norm_len);
DROP INDEX unanswered_status_norm_len;
"""

_FOLD_IN_ONE_STATEMENT = """
-- Folding a repeat of an open unanswered question (or of an open proposal) is one statement,
-- INSERT ... ON CONFLICT DO UPDATE, so that two processes sharing a database cannot both add
-- a row for the same question: the normalised text is unique among open rows. Open
-- duplicates could only come from a row reopened by hand; they are folded into the oldest.
UPDATE unanswered SET
    count = (SELECT sum(d.count) FROM unanswered AS d
             WHERE d.status = 'open' AND d.normalized = unanswered.normalized),
    last_asked_at = (SELECT max(d.last_asked_at) FROM unanswered AS d
                     WHERE d.status = 'open' AND d.normalized = unanswered.normalized)
WHERE status = 'open' AND id = (SELECT min(d.id) FROM unanswered AS d
                                WHERE d.status = 'open' AND d.normalized = unanswered.normalized);
DELETE FROM unanswered WHERE status = 'open' AND id > (
    SELECT min(d.id) FROM unanswered AS d
    WHERE d.status = 'open' AND d.normalized = unanswered.normalized);
CREATE UNIQUE INDEX unanswered_open_normalized ON unanswered (normalized) WHERE status = 'open';
DROP INDEX unanswered_status_normalized;

UPDATE proposed_phrasings SET
    count = (SELECT sum(d.count) FROM proposed_phrasings AS d
             WHERE d.status = 'open' AND d.question_id = proposed_phrasings.question_id
             AND d.normalized = proposed_phrasings.normalized),
    last_proposed_at = (SELECT max(d.last_proposed_at) FROM proposed_phrasings AS d
                        WHERE d.status = 'open' AND d.question_id = proposed_phrasings.question_id
                        AND d.normalized = proposed_phrasings.normalized)
WHERE status = 'open' AND id = (
    SELECT min(d.id) FROM proposed_phrasings AS d
    WHERE d.status = 'open' AND d.question_id = proposed_phrasings.question_id
    AND d.normalized = proposed_phrasings.normalized);
DELETE FROM proposed_phrasings WHERE status = 'open' AND id > (
    SELECT min(d.id) FROM proposed_phrasings AS d
    WHERE d.status = 'open' AND d.question_id = proposed_phrasings.question_id
    AND d.normalized = proposed_phrasings.normalized);
CREATE UNIQUE INDEX proposed_phrasings_open
    ON proposed_phrasings (question_id, normalized) WHERE status = 'open';
DROP INDEX proposed_phrasings_lookup;
"""

_REPUTATION = """
-- Reputation as computed by the process that leads (several processes sharing a PostgreSQL
-- database compute it once and the others read it; one SQLite process keeps it too, so a
-- copy to PostgreSQL starts with it).
CREATE TABLE reputation (
    user_id INTEGER PRIMARY KEY,
    score   REAL    NOT NULL CHECK (score >= 0)
);
"""

_WIKI = """
-- How often members asked a known question that has no answer yet (the "unanswered
-- canonical questions" writers pick from, most asked first). One row per question.
CREATE TABLE known_asked (
    question_id    TEXT    PRIMARY KEY CHECK (length(question_id) BETWEEN 1 AND 64),
    count          INTEGER NOT NULL CHECK (count >= 1),
    first_asked_at TEXT    NOT NULL,
    last_asked_at  TEXT    NOT NULL
);

-- Problems members reported with an answer, for moderators to review.
CREATE TABLE reports (
    id            INTEGER PRIMARY KEY,
    question_id   TEXT    NOT NULL CHECK (length(question_id) BETWEEN 1 AND 64),
    answer_id     TEXT,
    reporter_id   INTEGER,
    reporter_name TEXT    NOT NULL CHECK (length(reporter_name) BETWEEN 1 AND 100),
    text          TEXT    NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
    channel_id    INTEGER,
    guild_id      INTEGER,
    message_id    INTEGER,
    reported_at   TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'resolved', 'dismissed'))
);
CREATE INDEX reports_status ON reports (status, id);
-- The rate limit: a member's recent reports.
CREATE INDEX reports_reporter ON reports (reporter_id, reported_at);

-- Non-canonical answers whose stamps passed the promotion share, proposed as canonical.
-- An answer is proposed once (whatever moderators decided, it is not proposed again).
CREATE TABLE promotions (
    id          INTEGER PRIMARY KEY,
    question_id TEXT    NOT NULL CHECK (length(question_id) BETWEEN 1 AND 64),
    answer_id   TEXT    NOT NULL UNIQUE CHECK (length(answer_id) BETWEEN 1 AND 64),
    score       REAL    NOT NULL,
    share       REAL    NOT NULL,
    stamps      INTEGER NOT NULL,
    proposed_at TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'approved', 'rejected'))
);
CREATE INDEX promotions_status ON promotions (status, id);

-- Moderators' changes to tag records, as question_versions is for questions: the latest row
-- of a tag is the overlay on the tags of the YAML files.
CREATE TABLE tag_versions (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 32),
    version     INTEGER NOT NULL CHECK (version >= 1),
    state       TEXT    NOT NULL CHECK (state IN ('set', 'removed', 'shipped')),
    content     TEXT    CHECK ((state = 'set') = (content IS NOT NULL)),
    member_id   INTEGER,
    member_name TEXT    NOT NULL CHECK (length(member_name) BETWEEN 1 AND 100),
    guild_id    INTEGER,
    created_at  TEXT    NOT NULL,
    action      TEXT    NOT NULL CHECK (length(action) BETWEEN 1 AND 500),
    UNIQUE (name, version)
);
"""

#: Every migration, in order. Numbers must run 1..N without gaps (a test checks this).
MIGRATIONS: list[Migration] = [
    Migration(1, "unanswered questions and proposed phrasings", _INITIAL),
    Migration(2, "stamps, answer messages and reputation roots", _STAMPS),
    Migration(3, "question versions: moderators' changes", _QUESTION_VERSIONS),
    Migration(4, "unanswered questions: an index of the recently asked", _UNANSWERED_RECENT),
    Migration(5, "open questions and proposals unique by text", _FOLD_IN_ONE_STATEMENT),
    Migration(6, "reputation computed once and shared", _REPUTATION),
    Migration(7, "the wiki: known questions asked, reports, promotions, tag versions", _WIKI),
]
