"""The knowledge base's tag index agrees with a scan of its questions, whatever the edits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Question

TAGS = ("alpha", "beta", "gamma", "delta")
IDS = tuple(f"q{n}" for n in range(8))

_edits = st.lists(
    st.tuples(
        st.sampled_from(("upsert", "remove")),
        st.sampled_from(IDS),
        st.lists(st.sampled_from(TAGS), max_size=3, unique=True),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_edits)
def test_the_tag_index_agrees_with_a_scan(edits: list[tuple[str, str, list[str]]]) -> None:
    kb = KnowledgeBase(Matcher())
    generation = kb.generation
    for action, question_id, tags in edits:
        if action == "upsert":
            kb.upsert(Question(question_id, f"What is {question_id}?", tags=tuple(tags)))
            assert kb.generation > generation
        else:
            kb.remove(question_id)
        generation = kb.generation
    stored = list(kb)
    for name in TAGS:
        scan = [q for q in stored if name in q.tags]
        assert kb.tagged(name) == scan
        assert kb.count_tagged(name) == len(scan)
        assert (kb.tag(name) is not None) == bool(scan)
    assert [t.name for t in kb.tags()] == sorted({n for q in stored for n in q.tags})
    assert kb.in_stored_order([q.id for q in reversed(stored)] + ["nope"]) == stored


def test_a_question_keeps_its_place_when_edited() -> None:
    kb = KnowledgeBase(
        Matcher(),
        [Question(f"q{n}", f"What is thing number {n}?", tags=("t",)) for n in range(3)],
    )
    kb.upsert(Question("q0", "What is thing number zero?", tags=("t", "u")))
    assert [q.id for q in kb.tagged("t")] == ["q0", "q1", "q2"]
    assert [q.id for q in kb.tagged("u")] == ["q0"]
    kb.upsert(Question("q0", "What is thing number zero?", tags=("u",)))
    assert [q.id for q in kb.tagged("t")] == ["q1", "q2"]
