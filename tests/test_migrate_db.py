"""``stampy migrate-db``: a community's SQLite database copied whole, verified, to another one
(a PostgreSQL database, or another SQLite file: the ``database`` fixture runs both)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from databases import independent_rows

from bot.cli import main
from bot.config import StampSettings
from bot.stamps import StampBook
from bot.store import ProposedPhrasings, StampRecords, Store, UnansweredQuestions
from bot.store.stamps import StampOp
from bot.store.transfer import TABLES
from bot.store.versions import QuestionVersions

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
BIG = 2**62 + 12345  # snowflakes use 63 bits
ANSWERED = 9001


def author(question_id: str, answer_id: str) -> int | None:
    return 77 if answer_id == "a-1" else None


async def fill(path: Path) -> None:
    """A community's database: every kind of row, big ids, awkward text."""
    async with await Store.open(path) as store:
        unanswered = UnansweredQuestions(store)
        for i, text in enumerate(["Why is the sky blue?", "What's a 🦜 'parrot'?", "x" * 2000]):
            await unanswered.record(text, asker_id=BIG + i, channel_id=1, guild_id=2, at=T0)
        await unanswered.record("why is the sky blue", asker_id=3, channel_id=1, guild_id=2)
        await unanswered.set_status(3, "dismissed")
        proposals = ProposedPhrasings(store)
        await proposals.propose("q", "sky colour?", proposer_id=BIG, channel_id=1, at=T0)
        await proposals.set_status(1, "approved")
        await proposals.propose("q", "blue sky why", proposer_id=5, channel_id=1, at=T0)
        versions = QuestionVersions(store)
        await versions.append(
            "q", state="set", content='{"text": "Why?"}', member_name="Mod", action="added"
        )
        await versions.append("q", state="removed", content=None, member_name="Mod", action="rm")
        book = StampBook(store, StampSettings(), answer_author=author, bot_user_id=1)
        await book.start()
        await book.record_answer(
            ANSWERED, channel_id=1, guild_id=2, question_id="q", answer_id="a-1", at=T0
        )
        await book.apply_many(
            [StampOp(ANSWERED, 100 + i, "stamp", add=True, channel_id=1) for i in range(30)]
            + [StampOp(555, BIG, "goldstamp", add=True, channel_id=1, author_id=BIG + 1)]
        )
        await book.note_owner(2, 77)
        await book.close()


async def snapshot(location: str) -> dict[str, list[tuple]]:
    return {
        table.name: await independent_rows(
            location,
            f"SELECT {', '.join(table.columns)} FROM {table.name} ORDER BY {', '.join(table.key)}",
        )
        for table in TABLES
    }


async def migrate(source: str, target: str) -> int:
    return await asyncio.to_thread(main, ["migrate-db", "--from", source, "--to", target])


async def test_everything_is_copied_verified_and_the_copy_carries_on(
    tmp_path: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old.db"
    await fill(source)
    code = await migrate(f"sqlite:///{source}", database)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every table has the same rows and checksum on both sides" in out
    assert "stamps" in out and "      31        31" in out  # rows in the source and the copy
    assert await snapshot(database) == await snapshot(str(source))

    async with await Store.open(database) as store:  # the copy works as the original did
        book = StampBook(store, StampSettings(), answer_author=author, bot_user_id=1)
        await book.start()
        assert book.count("a-1") == 30 and book.roots == {77}
        await book.close()
        new = await UnansweredQuestions(store).record(
            "A new question?", asker_id=1, channel_id=1, guild_id=1, at=T0 + timedelta(days=1)
        )
        assert new.id == 4  # ids continue after the copied ones
        again = await UnansweredQuestions(store).record(
            "why is the sky blue??", asker_id=1, channel_id=1, guild_id=1
        )
        assert (again.id, again.count) == (1, 3)  # repeats still fold into copied rows
        assert (await QuestionVersions(store).get("q", 2)).state == "removed"
        version = await QuestionVersions(store).append(
            "q", state="shipped", content=None, member_name="Mod", action="back"
        )
        assert version.version == 3 and version.id == 3
        assert await StampRecords(store).count() == 31


async def test_a_database_that_holds_rows_is_not_written(
    tmp_path: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old.db"
    await fill(source)
    async with await Store.open(database) as store:
        await UnansweredQuestions(store).record("Mine?", asker_id=1, channel_id=1, guild_id=1)
    before = await snapshot(database)
    assert await migrate(f"sqlite:///{source}", database) == 1
    err = capsys.readouterr().err
    assert "already holds rows (1 in unanswered)" in err and "nothing was changed" in err
    assert await snapshot(database) == before


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("mysql://x/y", "sqlite:///b.db", "unknown kind of database 'mysql'"),
        ("sqlite:///", "sqlite:///b.db", "names no file"),
        ("sqlite:///absent.db", "sqlite:///b.db", "no database at absent.db"),
        ("sqlite:///a.db", "sqlite:///a.db", "name the same database"),
    ],
)
async def test_bad_arguments_are_refused_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str,
    target: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.db").touch()
    assert await migrate(source, target) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "b.db").exists()
