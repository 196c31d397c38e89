"""The knowledge base's tag index: a tag's questions without a scan, in stored order, kept in
step with every change; related questions kept until the knowledge base changes."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bot import browse
from bot.knowledge.base import KnowledgeBase, Sharing
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Answer, Question, Tag
from bot.service import Service


def question(number: int, tags: tuple[str, ...], answered: bool = True) -> Question:
    answers = (Answer(id=f"a{number}", text="An answer."),) if answered else ()
    return Question(id=f"q{number}", text=f"Question number {number} about things?", tags=tags,
                    answers=answers)  # fmt: skip


def scanned(kb: KnowledgeBase, name: str) -> list[str]:
    """What the index must say: a scan of every question, in stored order."""
    return [q.id for q in kb if name in q.tags]


def test_the_index_follows_every_change_in_stored_order() -> None:
    rng = random.Random(7)
    names = ["a", "b", "c", "d"]
    kb = KnowledgeBase(Matcher(), [question(i, ("a",)) for i in range(5)])
    for step in range(400):
        number = rng.randrange(12)
        if rng.random() < 0.3:
            kb.remove(f"q{number}")
        else:
            tags = tuple(rng.sample(names, rng.randrange(3)))
            kb.upsert(question(number, tags))
        for name in names:
            assert [q.id for q in kb.tagged(name)] == scanned(kb, name), step
            assert kb.tagged_count(name) == len(scanned(kb, name))
            assert (kb.tag(name) is not None) == bool(scanned(kb, name))
        assert [t.name for t in kb.tags()] == sorted({t for q in kb for t in q.tags})


def test_the_groups_of_questions_sharing_tags_agree_with_a_count_of_each_questions_tags() -> None:
    rng = random.Random(11)
    names = ["a", "b", "c", "d", "e"]
    kb = KnowledgeBase(Matcher(), [question(i, ()) for i in range(30)])
    for step in range(150):
        number = rng.randrange(30)
        if rng.random() < 0.2:
            kb.remove(f"q{number}")
        else:
            kb.upsert(question(number, tuple(rng.sample(names, rng.randrange(4)))))
        tags = frozenset(rng.sample([*names, "nobody"], rng.randrange(1, 5)))
        shared = kb.sharing(tags)
        for n in range(1, shared.most + 1):
            by_count = [q.id for q in kb if len(tags & set(q.tags)) == n]
            assert list(shared.group(n)) == by_count, (step, n)
            carries = shared.carries(n)
            assert [q.id for q in kb if carries(q.id)] == by_count, (step, n)
            assert not carries("no-such-question")


def test_related_questions_are_kept_until_the_knowledge_base_changes() -> None:
    kb = KnowledgeBase(
        Matcher(),
        [question(1, ("x",)), question(2, ("x",)), question(3, ("y",))],
        [Tag("x"), Tag("y")],
    )
    service = Service(kb)
    first = service.related("q1")
    assert [q.id for q in first][:1] == ["q2"]  # the tag shared first, then the wording
    assert service.related("q1") is first  # worked out once
    kb.upsert(replace(kb.get("q1"), related=("q3",)))
    assert [q.id for q in service.related("q1")] == ["q3"]
    kb.upsert_tag(Tag("y", internal=True))  # q3 is now filed only under an internal tag
    assert [q.id for q in service.related("q1")] == []


def related_by_scan(kb: KnowledgeBase, question_id: str, limit: int) -> list[str]:
    """The definition: every question read, ranked by (tags shared, the matcher's score of
    the question's text, stored order); answered, visible ones only."""
    question = kb.get(question_id)
    assert question is not None
    ranked_all = kb.matcher.search(question.text, k=len(kb))
    scores = {c.question_id: c.score for c in ranked_all if c.score > 0}
    tags = set(question.tags)
    ranked = []
    for order, other in enumerate(kb):
        if other.id == question.id or not other.answers:
            continue
        if kb.internal_only(other):
            continue
        shared = len(tags.intersection(other.tags))
        if shared or other.id in scores:
            ranked.append((-shared, -scores.get(other.id, 0.0), order, other.id))
    return [item[3] for item in sorted(ranked)[:limit]]


def test_related_questions_are_those_a_read_of_every_question_finds() -> None:
    rng = random.Random(11)
    words = ["alpha", "beta", "gamma", "delta", "probe", "neuron", "reward", "goal", "agent"]
    names = ["a", "b", "c", "d", "e"]
    for trial in range(30):
        questions = []
        for number in range(rng.randrange(1, 60)):
            tags = tuple(rng.sample(names, rng.randrange(4)))
            text = " ".join(rng.sample(words, 3)) + f" {number}?"
            answers = (Answer(id=f"a{number}", text="x"),) if rng.random() < 0.6 else ()
            questions.append(Question(id=f"q{number}", text=text, tags=tags, answers=answers))
        tag_records = [Tag(name, internal=rng.random() < 0.2) for name in names]
        kb = KnowledgeBase(Matcher(), questions, tag_records)
        for _ in range(5):  # edits move questions in the stored order
            kb.remove(rng.choice(questions).id)
            kb.upsert(rng.choice(questions))
        for question in kb:
            for limit in (1, 3, 10):
                expected = related_by_scan(kb, question.id, limit)
                got = [q.id for q in browse.related(kb, question.id, limit)]
                assert got == expected, (trial, question.id, limit)


def test_related_questions_score_only_the_questions_of_the_group_read() -> None:
    # The questions sharing the most tags are read first: only those among the text's
    # candidates are scored, and a group with none of them costs no scoring at all. The
    # result is the definition's, which scores every candidate.
    rng = random.Random(12)
    words = [f"w{n}" for n in range(400)]
    questions = [
        Question(
            id=f"q{number}",
            text=" ".join(rng.sample(words, 5)) + "?",
            tags=("all", f"group-{number % 40}"),
            answers=(Answer(id=f"a{number}", text="x"),) if rng.random() < 0.8 else (),
        )
        for number in range(800)
    ]
    kb = KnowledgeBase(Matcher(), questions, [Tag("all"), Tag("group-3", internal=True)])
    scored: list[int] = []
    score = kb.matcher._score_phrasings

    def counted(normal, terms, pool):  # type: ignore[no-untyped-def]
        scored.append(len(pool))
        return score(normal, terms, pool)

    kb.matcher._score_phrasings = counted  # type: ignore[method-assign]
    sample = rng.sample(questions, 200)
    scorings = 0
    for question in sample:
        got = [q.id for q in browse.related(kb, question.id, 3)]
        by_related = scored[:]
        scored.clear()
        assert got == related_by_scan(kb, question.id, 3), question.id
        (everything,) = scored  # the definition's search scores every candidate
        scored.clear()
        assert all(size < everything for size in by_related), question.id
        scorings += len(by_related)
    assert 20 < scorings < 200  # some related questions needed no scoring at all


def test_a_tag_on_every_question_is_not_read_while_rarer_ones_fill_the_related(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every question carries "all"; each also one of 100 groups. The related questions of one
    # come from its group (both tags shared): finding them reads that group's questions, not
    # the 2,000 carrying "all", for each new set of tags as for the first.
    questions = [
        Question(
            id=f"q{number}",
            text=f"topic {number} question?",
            tags=("all", f"group-{number % 100}"),
            answers=(Answer(id=f"a{number}", text="x"),),
        )
        for number in range(2000)
    ]
    kb = KnowledgeBase(Matcher(), questions, [Tag("all")])
    counted = 0
    count = Sharing.count

    def counting(self: Sharing, question_id: str) -> int:
        nonlocal counted
        counted += 1
        return count(self, question_id)

    monkeypatch.setattr(Sharing, "count", counting)
    for number in (0, 1, 2, 57):
        got = [q.id for q in browse.related(kb, f"q{number}", 3)]
        assert [kb.get(i).tags[1] for i in got] == [f"group-{number}"] * 3  # type: ignore[union-attr]
    monkeypatch.undo()
    assert counted < 4 * (20 + 120)  # a group of 20, and the text's candidates at most
    for number in (0, 1, 2, 57):
        assert [q.id for q in browse.related(kb, f"q{number}", 3)] == related_by_scan(
            kb, f"q{number}", 3
        )
