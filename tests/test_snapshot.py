"""The knowledge snapshot: used only for the very files it was made from, by this version, whole;
anything else falls back to the full validated load, which writes a new one."""

from __future__ import annotations

import shutil
import sys
import unicodedata
from pathlib import Path

import pytest

from bot.app import App
from bot.config import DatabaseSettings, KnowledgeSettings, Settings
from bot.curation import Moderator
from bot.knowledge import loader
from bot.knowledge import snapshot as snapshots
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Matcher
from bot.knowledge.snapshot import load_indexed
from bot.knowledge.text import normalize

ROOT = Path(__file__).resolve().parents[1]
MOD = Moderator("Mod", 1001, 42)
QUERIES = [
    "what is interpretability",
    "wher can i lern about interpretabilty",
    "why would an AI seek power",
    "what is AGI?",
    "how do I get started in mech interp",
    "what is the capital of France?",
    "paperclip maximiser",
]


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    target = tmp_path / "answers"
    shutil.copytree(ROOT / "answers", target)
    return target


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return tmp_path / "stampy.db.knowledge-snapshot"


def rankings(matcher: Matcher) -> list[list[tuple[str, float, str, float]]]:
    # With how much of each query the question's answer holds: the answers' index is in the
    # snapshot too.
    return [
        [
            (c.question_id, round(c.score, 12), c.phrasing, round(c.answer_coverage, 12))
            for c in matcher.search(query, k=5)
        ]
        for query in QUERIES
    ]


def test_an_unchanged_start_uses_the_snapshot_and_answers_the_same(answers: Path, snapshot: Path):
    full = load_indexed(answers, Matcher, snapshot)
    assert not full.from_snapshot and snapshot.exists()
    again = load_indexed(answers, Matcher, snapshot)
    assert again.from_snapshot
    assert again.result == full.result  # questions, answers, errors and files alike
    assert [q.origin for q in again.result.questions] == [q.origin for q in full.result.questions]
    assert rankings(again.matcher) == rankings(full.matcher)
    assert any(c[3] > 0 for ranking in rankings(again.matcher) for c in ranking)
    assert len(again.matcher) == len(full.matcher)
    assert again.matcher.phrasing_count == full.matcher.phrasing_count


def test_a_restored_index_keeps_working_as_one_built_from_scratch(answers: Path, snapshot: Path):
    load_indexed(answers, Matcher, snapshot)
    restored = KnowledgeBase.indexed(
        load_indexed(answers, Matcher, snapshot).matcher, load_directory(answers).questions
    )
    built = KnowledgeBase(Matcher(), load_directory(answers).questions)
    for knowledge in (restored, built):
        question = knowledge.get("what-is-agi")
        knowledge.upsert(
            type(question)(
                id=question.id,
                text=question.text,
                alternate_phrasings=(*question.alternate_phrasings, "paperclip maximiser"),
            )
        )
        knowledge.remove("instrumental-convergence")
    assert rankings(restored.matcher) == rankings(built.matcher)


def test_an_edited_file_is_loaded_in_full_and_the_snapshot_rewritten(answers: Path, snapshot: Path):
    load_indexed(answers, Matcher, snapshot)
    path = answers / "ai-safety-basics.yaml"
    text = path.read_text()
    assert "question: What is AGI?\n" in text
    path.write_text(text.replace("question: What is AGI?\n", "question: What exactly is AGI?\n"))
    edited = load_indexed(answers, Matcher, snapshot)
    assert not edited.from_snapshot
    texts = {q.id: q.text for q in edited.result.questions}
    assert texts["what-is-agi"] == "What exactly is AGI?"
    again = load_indexed(answers, Matcher, snapshot)
    assert again.from_snapshot and again.result == edited.result


def test_a_new_removed_or_broken_file_is_loaded_in_full(answers: Path, snapshot: Path):
    load_indexed(answers, Matcher, snapshot)
    (answers / "zz-broken.yaml").write_text("questions:\n  - id: x\n    question: [1\n")
    broken = load_indexed(answers, Matcher, snapshot)
    assert not broken.from_snapshot
    assert [str(e.path) for e in broken.result.errors] == [str(answers / "zz-broken.yaml")]
    # the errors come back from the snapshot too, so every start reports them
    assert load_indexed(answers, Matcher, snapshot).result.errors == broken.result.errors
    (answers / "zz-broken.yaml").unlink()
    fixed = load_indexed(answers, Matcher, snapshot)
    assert not fixed.from_snapshot and fixed.result.ok


def test_a_truncated_or_damaged_snapshot_is_ignored_and_replaced(answers: Path, snapshot: Path):
    full = load_indexed(answers, Matcher, snapshot)
    whole = snapshot.read_bytes()
    damaged = bytearray(whole)
    damaged[-100] ^= 0x01  # one bit, inside an array: only the checksum can tell
    for bad in (whole[: len(whole) // 2], whole[:10], b"", bytes(damaged), whole + b"\0"):
        snapshot.write_bytes(bad)
        loaded = load_indexed(answers, Matcher, snapshot)
        assert not loaded.from_snapshot
        assert loaded.result == full.result and rankings(loaded.matcher) == rankings(full.matcher)
        assert snapshot.read_bytes() == whole  # rewritten by the full load


def test_a_snapshot_from_another_version_is_ignored(
    answers: Path, snapshot: Path, monkeypatch: pytest.MonkeyPatch
):
    with monkeypatch.context() as patch:  # an older Stampy: other code, other format
        patch.setattr(snapshots, "_code_fingerprint", lambda: b"another version")
        patch.setattr(snapshots, "FORMAT", 0)
        assert not load_indexed(answers, Matcher, snapshot).from_snapshot
        assert load_indexed(answers, Matcher, snapshot).from_snapshot
    assert not load_indexed(answers, Matcher, snapshot).from_snapshot
    with monkeypatch.context() as patch:  # same format, other code
        patch.setattr(snapshots, "_code_fingerprint", lambda: b"another version")
        assert not load_indexed(answers, Matcher, snapshot).from_snapshot
    assert not load_indexed(answers, Matcher, snapshot).from_snapshot
    assert load_indexed(answers, Matcher, snapshot).from_snapshot


def test_an_unwritable_snapshot_only_costs_speed(answers: Path, tmp_path: Path):
    missing = tmp_path / "no-such-directory" / "snapshot"
    loaded = load_indexed(answers, Matcher, missing)
    assert not loaded.from_snapshot and loaded.result.ok and not missing.exists()
    assert not load_indexed(answers, Matcher, None).from_snapshot


async def test_a_stored_edit_is_served_over_an_unchanged_snapshot(
    answers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    settings = Settings(
        knowledge=KnowledgeSettings(answers_dir=str(answers)),
        database=DatabaseSettings(path=str(tmp_path / "stampy.db")),
    )
    async with App.open(settings) as app:  # the full load writes the snapshot
        await app.curator.add_alias(MOD, "what-is-agi", "the paperclip question")
        await app.curator.remove(MOD, "instrumental-convergence")
    assert Path(f"{settings.database.path}.knowledge-snapshot").exists()

    def no_parsing(directory: object) -> None:
        raise AssertionError("the files were parsed again")

    monkeypatch.setattr(loader, "load_directory", no_parsing)
    async with App.open(settings) as app:  # the files from the snapshot, the edits on top
        assert "the paperclip question" in app.knowledge.get("what-is-agi").phrasings
        assert app.knowledge.get("instrumental-convergence") is None
        reply = app.service.ask("the paperclip question")
        assert reply.question is not None and reply.question.id == "what-is-agi"
        # and version 0 is still the file's question, not the edited one
        history = await app.curator.history("what-is-agi")
        assert [entry.version for entry in history] == [1, 0]


def test_every_format_character_is_ignored_when_matching():
    format_characters = [
        chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"
    ]
    assert len(format_characters) > 100
    for character in format_characters:
        assert normalize(f"inter{character}pretability is\u00e9") == "interpretability is\u00e9"
