"""Tests for bot.curation: every change, its history and revert, refusals that write nothing,
the overlay across restarts, reload, and the unanswered queue. Real SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.curation import (
    Curator,
    Moderator,
    Refused,
    make_id,
    split_lines,
    split_tags,
)
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Decision, Matcher
from bot.knowledge.model import Question
from bot.service import Service
from bot.store import ProposedPhrasings, Store, StoreError, UnansweredQuestions
from bot.store.versions import QuestionVersions

ROOT = Path(__file__).resolve().parents[1]
MOD = Moderator("Mod", 1001, 42)
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
QUESTION = "What is a paperclip maximizer?"
ANSWER = "A thought experiment about an AI that turns everything into paperclips."


class Clock:
    """A clock that moves a minute per reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    target = tmp_path / "answers"
    shutil.copytree(ROOT / "answers", target)
    return target


async def make_curator(answers: Path, store: Store) -> Curator:
    knowledge = KnowledgeBase(Matcher(), load_directory(answers).questions)
    curator = Curator(knowledge, store, answers, clock=Clock())
    await curator.start()
    return curator


@pytest.fixture
async def curator(answers: Path, store: Store) -> Curator:
    return await make_curator(answers, store)


def ask(curator: Curator, text: str) -> Question | None:
    reply = Service(curator.knowledge).ask(text)
    return reply.question if reply.decision is Decision.ANSWER else None


async def state(curator: Curator) -> tuple[Any, ...]:
    """Everything a refused change must leave alone."""
    conn = curator.store.connection
    counts = []
    for table in ("question_versions", "unanswered", "proposed_phrasings"):
        rows = await conn.execute_fetchall(f"SELECT count(*), group_concat(id) FROM {table}")
        counts.append(tuple(list(rows)[0]))
    statuses = await conn.execute_fetchall("SELECT status FROM unanswered ORDER BY id")
    kb = curator.knowledge
    return (
        tuple(counts),
        tuple(row[0] for row in statuses),
        tuple(kb),
        kb.matcher.phrasing_count,
        [c.question_id for c in kb.matcher.search("what is alignment", k=5)],
    )


async def added(curator: Curator, **fields: Any) -> str:
    change = await curator.add_question(MOD, QUESTION, answer=ANSWER, **fields)
    return change.question_id


# -- text helpers --------------------------------------------------------------------------------


def test_ids_are_made_from_words_and_never_taken():
    taken = {"what-is-ai", "what-is-ai-2"}
    assert make_id("What is AI?", taken.__contains__) == "what-is-ai-3"
    assert make_id("What's Stampy's  deal", lambda _: False) == "what-stampy-deal"
    assert make_id("¿Qué es la alineación?", lambda _: False) == "que-es-la-alineacion"
    assert make_id("人工知能とは", lambda _: False) == "question"
    long = make_id("word " * 40, lambda _: False)
    assert len(long) <= 48 and not long.endswith("-")


def test_phrasings_split_by_line_and_tags_by_comma():
    assert split_lines(" one \r\n\n two\n") == ["one", "two"]
    assert split_tags("Alignment, basics\nalignment,, machine learning") == [
        "alignment",
        "basics",
        "machine learning",
    ]


# -- each change, with history and revert --------------------------------------------------------


async def test_added_question_is_answered_at_once_and_recorded(curator: Curator):
    assert ask(curator, "what is a paperclip maximiser") is None
    change = await curator.add_question(
        MOD,
        QUESTION,
        answer=ANSWER,
        alternate_phrasings=["paperclip maximiser", "the paperclip AI"],
        tags=["Thought-Experiments"],
        canonical=True,
    )
    assert change.question_id == "what-is-a-paperclip-maximizer" and change.version == 1
    question = ask(curator, "what is a paperclip maximiser")
    assert question is not None and question.id == change.question_id
    [answer] = question.answers
    assert answer.id == "what-is-a-paperclip-maximizer-1"
    assert answer.canonical and answer.author == "<@1001>" and answer.text == ANSWER
    assert question.tags == ("thought-experiments",)
    [entry] = await curator.history(change.question_id)
    assert (entry.version, entry.member_name, entry.member_id) == (1, "Mod", 1001)
    assert entry.at == T0 + timedelta(minutes=1) and entry.current
    assert entry.action == "added the question with an answer"


async def test_every_change_is_a_version_and_revert_goes_back(curator: Curator):
    qid = await added(curator)
    await curator.edit_question(MOD, qid, text="What's the paperclip maximizer?")
    await curator.add_alias(MOD, qid, "clippy")
    await curator.add_tag(MOD, qid, "Fun")
    answer_id = curator.knowledge.get(qid).answers[0].id
    await curator.set_canonical(MOD, qid, answer_id, True)
    second = await curator.add_answer(MOD, qid, "Another answer.", author="Jane")
    await curator.remove_alias(MOD, qid, "CLIPPY!")
    await curator.remove_tag(MOD, qid, "fun")
    await curator.remove(MOD, qid, second.after.answers[-1].id)
    await curator.edit_question(
        MOD, qid, answer_id=answer_id, answer_text="Edited answer.", canonical=False
    )
    history = await curator.history(qid)
    assert [e.version for e in history] == list(range(10, 0, -1))
    assert [e.action for e in reversed(history)] == [
        "added the question with an answer",
        "edited question text",
        "added the alternate phrasing “clippy”",
        "added the tag 'fun'",
        f"marked answer {answer_id!r} as canonical",
        "added answer 'what-is-a-paperclip-maximizer-2'",
        "removed the alternate phrasing “clippy”",
        "removed the tag 'fun'",
        "removed answer 'what-is-a-paperclip-maximizer-2'",
        f"edited answer {answer_id!r}",
    ]
    now = curator.knowledge.get(qid)
    assert now.text == "What's the paperclip maximizer?" and now.answers[0].text == "Edited answer."

    change = await curator.revert(MOD, qid, 4)  # after the tag was added
    assert change.version == 11 and change.action == "reverted to version 4"
    now = curator.knowledge.get(qid)
    assert now.tags == ("fun",) and now.alternate_phrasings == ("clippy",)
    assert now.answers[0].text == ANSWER and ask(curator, "clippy").id == qid

    await curator.remove(MOD, qid)
    assert curator.knowledge.get(qid) is None and ask(curator, QUESTION) is None
    await curator.revert(MOD, qid, 11)  # a removed question comes back
    assert ask(curator, QUESTION).id == qid


async def test_shipped_questions_have_version_zero(curator: Curator):
    shipped = curator.knowledge.get("what-is-agi")
    await curator.add_alias(MOD, "what-is-agi", "agi?? what")
    await curator.remove(MOD, "what-is-agi")
    history = await curator.history("what-is-agi")
    assert [(e.version, e.state, e.current) for e in history] == [
        (2, "removed", True),
        (1, "set", False),
        (0, "shipped", False),
    ]
    assert history[-1].action == "as shipped in ai-safety-basics.yaml"
    await curator.revert(MOD, "what-is-agi", 0)
    assert curator.knowledge.get("what-is-agi") == shipped
    assert (await curator.history("what-is-agi"))[0].state == "shipped"


async def test_new_answer_ids_never_reuse_a_removed_ones(curator: Curator):
    qid = await added(curator)
    first = curator.knowledge.get(qid).answers[0].id
    await curator.remove(MOD, qid, first)
    change = await curator.add_answer(MOD, qid, "A new answer.")
    assert change.after.answers[0].id != first


async def test_save_as_answer_credits_the_author(curator: Curator):
    change = await curator.save_as_answer(
        MOD, "  It is a thought experiment.  ", author="<@77>", new_question=QUESTION
    )
    assert change.after.answers[0].author == "<@77>"
    assert change.after.answers[0].text == "It is a thought experiment."
    # typing the wording of an existing question adds to it instead of a duplicate
    again = await curator.save_as_answer(
        MOD, "Second answer.", author="<@78>", new_question="what is a PAPERCLIP maximizer"
    )
    assert again.question_id == change.question_id and len(again.after.answers) == 2
    third = await curator.save_as_answer(MOD, "On AGI.", author="<@79>", question="what-is-agi")
    assert third.after.answers[-1].author == "<@79>"


# -- refusals ------------------------------------------------------------------------------------


REFUSALS = [
    ("empty question", lambda c: c.add_question(MOD, "   "), "the question is empty"),
    (
        "empty answer",
        lambda c: c.add_answer(MOD, "what-is-agi", "\n \n"),
        "the answer is empty",
    ),
    (
        "10,000-character answer",
        lambda c: c.add_question(MOD, QUESTION, answer="x" * 10_000),
        "answer text is too long (10000 characters; at most 4000)",
    ),
    (
        "10,000-character question",
        lambda c: c.add_question(MOD, "x" * 10_000),
        "question is too long (10000 characters; at most 256)",
    ),
    (
        "duplicate phrasing",
        lambda c: c.add_question(MOD, "what is AI alignment"),
        "phrasing 'what is AI alignment' is also used by question 'what-is-ai-alignment'",
    ),
    (
        "duplicate alias",
        lambda c: c.add_alias(MOD, "what-is-agi", "What is the alignment problem?"),
        "is also used by question 'what-is-ai-alignment'",
    ),
    (
        "tag with spaces",
        lambda c: c.add_tag(MOD, "what-is-agi", "machine learning"),
        "(e.g. 'machine-learning')",
    ),
    ("tag with markdown", lambda c: c.add_tag(MOD, "what-is-agi", "**x**"), "tag '**x**'"),
    ("existing tag", lambda c: c.add_tag(MOD, "what-is-agi", "AGI"), "already has the tag"),
    (
        "unknown question",
        lambda c: c.add_alias(MOD, "no-such-question", "hello"),
        "no question with the id 'no-such-question'",
    ),
    (
        "unknown answer",
        lambda c: c.set_canonical(MOD, "what-is-agi", "nope", True),
        "has no answer 'nope' (its answers: 'what-is-agi-canonical')",
    ),
    (
        "already canonical",
        lambda c: c.set_canonical(MOD, "what-is-agi", "what-is-agi-canonical", True),
        "is already canonical",
    ),
    ("unknown version", lambda c: c.revert(MOD, "what-is-agi", 3), "has no version 3"),
    ("same version", lambda c: c.revert(MOD, "what-is-agi", 0), "already matches version 0"),
    ("unknown history", lambda c: c.history("never-was"), "no question with the id"),
    ("unknown unanswered", lambda c: c.dismiss_unanswered(MOD, 99), "no unanswered question #99"),
    ("unknown proposal", lambda c: c.approve_proposal(MOD, 5), "no proposed phrasing #5"),
    (
        "question text as alias",
        lambda c: c.remove_alias(MOD, "what-is-agi", "What is AGI?"),
        "the question's own text",
    ),
    (
        "no change",
        lambda c: c.edit_question(MOD, "what-is-agi", text="What is AGI?"),
        "nothing to change",
    ),
    (
        "empty phrasing",
        lambda c: c.add_alias(MOD, "what-is-agi", " ?! "),
        "has no letters or digits",
    ),
    (
        "multi-line phrasing",
        lambda c: c.add_alias(MOD, "what-is-agi", "one\ntwo"),
        "must be a single line",
    ),
]


@pytest.mark.parametrize(("case", "action", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refused_changes_say_why_and_write_nothing(
    curator: Curator, case: str, action: Any, reason: str
):
    before = await state(curator)
    with pytest.raises(Refused) as refused:
        await action(curator)
    assert reason in refused.value.reason
    assert await state(curator) == before


async def test_sql_looking_text_is_stored_literally(answers: Path, store: Store):
    curator = await make_curator(answers, store)
    sql = "Robert'); DROP TABLE question_versions;-- what is it"
    change = await curator.add_question(MOD, sql, answer="'; DELETE FROM unanswered; --")
    again = await make_curator(answers, store)  # read back from the database
    question = again.knowledge.get(change.question_id)
    assert question.text == sql and question.answers[0].text == "'; DELETE FROM unanswered; --"
    assert await QuestionVersions(store).count() == 1


async def test_a_refused_step_in_the_transaction_rolls_back_the_version(
    curator: Curator, monkeypatch: pytest.MonkeyPatch
):
    item = await UnansweredQuestions(curator.store).record(
        "how do tardigrades survive in space", asker_id=1, channel_id=2, guild_id=3
    )

    async def broken(self: Any, id: int, status: str) -> bool:
        raise StoreError("disk on fire")

    monkeypatch.setattr(UnansweredQuestions, "set_status", broken)
    before = await state(curator)
    with pytest.raises(StoreError):
        await curator.answer_unanswered(MOD, item.id, "How do tardigrades survive in space?")
    assert await state(curator) == before


async def test_concurrent_changes_cannot_both_take_a_phrasing(curator: Curator):
    results = await asyncio.gather(
        curator.add_question(MOD, "What is a paperclip maximizer?"),
        curator.add_question(MOD, "what is a paperclip-maximizer"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Refused) for r in results) == 1


async def test_a_form_opened_before_someone_elses_change_is_refused(curator: Curator):
    shown = curator.knowledge.get("what-is-agi")
    await curator.add_alias(MOD, "what-is-agi", "artificial general intelligence meaning")
    with pytest.raises(Refused, match="changed by someone else"):
        await curator.edit_question(MOD, "what-is-agi", text="What's AGI?", expected=shown)


# -- the overlay across restarts and reloads -----------------------------------------------------


async def test_changes_are_applied_again_after_a_restart(answers: Path, store: Store):
    curator = await make_curator(answers, store)
    qid = await added(curator)
    await curator.add_alias(MOD, "what-is-agi", "agi explained simply")
    await curator.remove(MOD, "instrumental-convergence")
    restarted = await make_curator(answers, store)
    assert ask(restarted, "what is a paperclip maximizer").id == qid
    assert "agi explained simply" in restarted.knowledge.get("what-is-agi").phrasings
    assert restarted.knowledge.get("instrumental-convergence") is None
    assert len(restarted.knowledge) == len(curator.knowledge)
    assert [e.version for e in await restarted.history(qid)] == [1]
    # a new question after the restart does not take a removed question's id
    await curator.remove(MOD, qid)
    again = await make_curator(answers, store)
    change = await again.add_question(MOD, QUESTION)
    assert change.question_id == f"{qid}-2"


async def test_reload_with_a_broken_file_reports_file_line_and_changes_nothing(
    answers: Path, curator: Curator
):
    qid = await added(curator)
    path = answers / "ai-safety-basics.yaml"
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("    tags: [basics, agi]", "    tags: [basics, a g i]"), "utf-8")
    line = good.splitlines().index("    tags: [basics, agi]") + 1
    before = await state(curator)
    report = await curator.reload()
    assert not report.ok
    assert [(Path(e.path).name, e.line) for e in report.errors] == [("ai-safety-basics.yaml", line)]
    assert await state(curator) == before
    assert ask(curator, "what is a paperclip maximizer").id == qid

    path.write_text(
        good.replace("question: What is AGI?", "question: What exactly is AGI?"), "utf-8"
    )
    report = await curator.reload()
    assert report.ok and report.diff.changed == ("what-is-agi",) and not report.diff.added
    assert curator.knowledge.get("what-is-agi").text == "What exactly is AGI?"
    assert ask(curator, "what is a paperclip maximizer").id == qid  # the overlay stays


async def test_stored_changes_that_clash_with_new_files_are_skipped(answers: Path, store: Store):
    curator = await make_curator(answers, store)
    qid = await added(curator)
    path = answers / "ai-safety-basics.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("      - define alignment in AI\n", f"      - {QUESTION}\n"), "utf-8"
    )
    restarted = await make_curator(answers, store)
    assert restarted.knowledge.get(qid) is None
    assert (
        len(restarted.skipped) == 1
        and "is also used by 'what-is-ai-alignment'" in (restarted.skipped[0])
    )


# -- the unanswered queue and proposals ----------------------------------------------------------


async def test_answering_merging_and_dismissing_unanswered_questions(curator: Curator):
    queue = UnansweredQuestions(curator.store)
    first = await queue.record("how do tardigrades survive", asker_id=1, channel_id=2, guild_id=3)
    second = await queue.record("why is the sky blue", asker_id=1, channel_id=2, guild_id=3)
    third = await queue.record("who made the stapler", asker_id=1, channel_id=2, guild_id=3)

    change = await curator.answer_unanswered(
        MOD, first.id, "How do tardigrades survive?", answer="By drying out."
    )
    assert (await queue.get(first.id)).status == "answered"
    assert "answering unanswered question" in change.action
    with pytest.raises(Refused, match="already answered"):
        await curator.answer_unanswered(MOD, first.id, "How do tardigrades live?")

    await curator.merge_unanswered(MOD, second.id, "what-is-agi")
    assert "why is the sky blue" in curator.knowledge.get("what-is-agi").alternate_phrasings
    assert (await queue.get(second.id)).status == "answered"

    await curator.dismiss_unanswered(MOD, third.id)
    assert (await queue.get(third.id)).status == "dismissed"
    assert await curator.unanswered.count() == 0


async def test_a_merge_that_would_duplicate_a_phrasing_is_refused(curator: Curator):
    queue = UnansweredQuestions(curator.store)
    item = await queue.record("what is ai alignment", asker_id=1, channel_id=2, guild_id=3)
    before = await state(curator)
    with pytest.raises(Refused, match="also used by question 'what-is-ai-alignment'"):
        await curator.merge_unanswered(MOD, item.id, "what-is-agi")
    assert await state(curator) == before


async def test_proposals_are_approved_or_rejected(curator: Curator):
    proposals = ProposedPhrasings(curator.store)
    good = await proposals.propose("what-is-agi", "agi meaning", proposer_id=1, channel_id=2)
    bad = await proposals.propose("what-is-agi", "lol", proposer_id=1, channel_id=2)
    await curator.approve_proposal(MOD, good.id)
    assert "agi meaning" in curator.knowledge.get("what-is-agi").alternate_phrasings
    await curator.reject_proposal(MOD, bad.id)
    assert (await proposals.get(good.id)).status == "approved"
    assert (await proposals.get(bad.id)).status == "rejected"
    assert "lol" not in curator.knowledge.get("what-is-agi").phrasings


# -- autocomplete ------------------------------------------------------------------------------


async def test_question_choices_are_ranked_and_bounded(curator: Curator):
    assert len(curator.question_choices("", 25)) == 25  # the seed questions, in file order
    assert curator.question_choices("wher can i lern about interpretabilty")[0].id == (
        "learn-interpretability"
    )
    assert curator.question_choices("what-is-agi")[0].id == "what-is-agi"  # an id
    assert len(curator.question_choices("what", 5)) == 5
    assert curator.question_choices("zzzzqqq") == []
