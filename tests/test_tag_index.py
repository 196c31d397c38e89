"""The knowledge base's tag index: a tag's questions without a scan, in stored order, kept in
step with every change; related questions kept until the knowledge base changes."""

from __future__ import annotations

import random
from dataclasses import replace

from bot.knowledge.base import KnowledgeBase
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
