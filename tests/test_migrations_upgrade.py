"""A database written by the version before stamps upgrades in place, with nothing lost.

``tests/data/stampy-schema1.db`` was written by that version's own code (schema 1; see
``tests/data/make_stampy_schema1.py``); the other tests build a schema-1 file with this
version's first migration only, which is what that version shipped.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.config import StampSettings
from bot.stamps import StampBook
from bot.store import MIGRATIONS, NewerDatabaseError, ProposedPhrasings, Store, UnansweredQuestions
from bot.store.db import from_db_time
from bot.store.stamps import StampOp

FIXTURE = Path(__file__).resolve().parent / "data" / "stampy-schema1.db"
LATEST = MIGRATIONS[-1].number
QUESTIONS = (
    "Why do cats purr?",
    "How tall is Mount Everest?",
    "Who invented the telephone?",
    "What does RLHF stand for?",
    "When was the printing press built?",
    "Is a tomato a fruit?",
    "Where do penguins live?",
)


def dump(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "stampy.db"
    shutil.copyfile(FIXTURE, path)
    return path


async def test_the_previous_versions_file_upgrades_in_place(old_file: Path):
    assert user_version(old_file) == 1
    unanswered, proposals = dump(old_file, "unanswered"), dump(old_file, "proposed_phrasings")
    assert len(unanswered) == 3 and len(proposals) == 2

    async with await Store.open(old_file) as store:
        assert store.schema_version == LATEST
        listed = await UnansweredQuestions(store).list()
        assert [(q.text, q.count) for q in listed] == [
            ("What is the capital of France?", 2),
            ("Ünïcode question 🙂 with émojis?", 1),
        ]
        assert [p.text for p in await ProposedPhrasings(store).list(status="approved")] == [
            "alignment in a nutshell"
        ]
        # old rows still work as before: a repeat folds into the old question
        again = await UnansweredQuestions(store).record(
            "What is the capital of France", asker_id=1, channel_id=2, guild_id=3
        )
        assert again.id == listed[0].id and again.count == 3

    assert user_version(old_file) == LATEST
    assert {"answer_messages", "stamps", "stamp_roots"} <= tables(old_file)
    assert dump(old_file, "proposed_phrasings") == proposals  # every old row, unchanged
    after = dump(old_file, "unanswered")
    assert after[1:] == unanswered[1:] and after[0][:3] == unanswered[0][:3]


async def test_stamps_work_on_an_upgraded_file(old_file: Path):
    async with await Store.open(old_file) as store:
        book = StampBook(store, StampSettings(), bot_user_id=1)
        await book.start()
        await book.record_answer(10, channel_id=2, guild_id=3, question_id="q", answer_id="a")
        change = await book.apply(StampOp(10, 7, "goldstamp", add=True))
        assert change is not None and book.count("a") == 5
        await book.close()
    async with await Store.open(old_file) as store:
        book = StampBook(store, StampSettings(), bot_user_id=1)
        await book.start()
        assert book.count("a") == 5
        await book.close()


def write_rows(path: Path, unanswered: list[tuple], proposals: list[tuple]) -> None:
    """Rows as the version of that schema wrote them (its own SQL, not this version's)."""
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO unanswered (text, normalized, norm_len, count, first_asker_id,"
            " first_channel_id, guild_id, first_asked_at, last_asked_at, status)"
            " VALUES (?, ?, ?, ?, ?, 1, 2, ?, ?, ?)",
            unanswered,
        )
        conn.executemany(
            "INSERT INTO proposed_phrasings (question_id, text, normalized, proposer_id,"
            " channel_id, proposed_at, last_proposed_at, count, status)"
            " VALUES (?, ?, ?, 1, 1, ?, ?, ?, ?)",
            proposals,
        )


T = "2026-11-01T12:00:00.000000+00:00"
LATER = "2026-11-02T12:00:00.000000+00:00"


async def test_a_file_of_the_first_migration_upgrades_with_every_row(tmp_path: Path):
    path = tmp_path / "stampy.db"
    async with await Store.open(path, migrations=MIGRATIONS[:1]):
        pass
    write_rows(
        path,
        [(text, text.lower(), len(text), 1, i, T, T, "open") for i, text in enumerate(QUESTIONS)],
        [("q", "a proposal", "a proposal", T, T, 1, "open")],
    )
    before = (dump(path, "unanswered"), dump(path, "proposed_phrasings"))
    async with await Store.open(path) as store:
        assert store.schema_version == LATEST
        assert await UnansweredQuestions(store).count() == len(QUESTIONS)
    assert (dump(path, "unanswered"), dump(path, "proposed_phrasings")) == before


async def test_open_duplicates_are_folded_when_repeats_become_one_statement(tmp_path: Path):
    """Migration 5 makes the text of open rows unique; duplicates a reopened row could have
    left are folded into the oldest (counts added, the latest time kept), closed rows stay."""
    path = tmp_path / "stampy.db"
    async with await Store.open(path, migrations=MIGRATIONS[:4]):
        pass
    write_rows(
        path,
        [
            ("What is AGI?", "what is agi", 11, 2, 1, T, T, "open"),
            ("what is AGI", "what is agi", 11, 3, 2, T, LATER, "open"),
            ("What is AGI", "what is agi", 11, 7, 3, T, T, "dismissed"),
        ],
        [
            ("q", "AGI?", "agi", T, T, 1, "open"),
            ("q", "agi", "agi", T, LATER, 4, "open"),
            ("other", "agi", "agi", T, T, 1, "open"),
        ],
    )
    async with await Store.open(path) as store:
        questions = UnansweredQuestions(store)
        [row] = await questions.list()
        assert (row.id, row.count, row.first_asker_id) == (1, 5, 1)
        assert row.last_asked_at == from_db_time(LATER)
        assert await questions.count("dismissed") == 1
        again = await questions.record("what is AGI??", asker_id=9, channel_id=1, guild_id=1)
        assert (again.id, again.count) == (1, 6)
        proposals = ProposedPhrasings(store)
        assert sorted((p.question_id, p.count) for p in await proposals.list()) == [
            ("other", 1),
            ("q", 5),
        ]


async def test_the_previous_version_refuses_the_upgraded_file(old_file: Path):
    async with await Store.open(old_file):
        pass
    with pytest.raises(NewerDatabaseError):
        await Store.open(old_file, migrations=MIGRATIONS[:1])
    assert user_version(old_file) == LATEST  # left alone
