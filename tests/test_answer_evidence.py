"""Evidence from the answer text, and the fitted re-ranker that weighs it per knowledge base."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import MatchSettings
from bot.knowledge.abstain import AbstentionModel, ModelError, default_model
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Candidate, Decision, Matcher
from bot.knowledge.model import Answer, Question
from bot.knowledge.rerank import RANK_FEATURES, fit_ranker

ORIGIN = "Where did covid come from?"
ORIGIN_ANSWER = "It most likely passed to people from bats, through an animal market in Wuhan."
PETS = "Can covid make my pet sick?"
PETS_ANSWER = "Dogs and cats can catch it from their owners, but rarely fall ill."


def _matcher() -> Matcher:
    matcher = Matcher()
    matcher.upsert("origin", [ORIGIN], ORIGIN_ANSWER)
    matcher.upsert("pets", [PETS], PETS_ANSWER)
    matcher.upsert("spread", ["How does covid spread?"], "Mostly through droplets in the air.")
    return matcher


def _coverage(matcher: Matcher, query: str) -> dict[str, float]:
    return {c.question_id: c.answer_coverage for c in matcher.search(query)}


def test_a_query_in_the_answer_words_finds_evidence_in_that_answer() -> None:
    coverage = _coverage(_matcher(), "covid bats wuhan")
    assert coverage["origin"] > 0.4
    assert coverage["origin"] > coverage["pets"] and coverage["origin"] > coverage["spread"]


def test_the_answer_evidence_follows_edits_of_the_answer() -> None:
    matcher = _matcher()
    # A moderator rewrites the answer: the old words no longer count, the new ones do.
    matcher.upsert("origin", [ORIGIN], "Scientists still study where the virus first appeared.")
    assert _coverage(matcher, "covid bats wuhan")["origin"] == 0.0
    assert _coverage(matcher, "covid scientists study")["origin"] > 0.4
    # Editing only the phrasings keeps the answer; "" clears it; removing forgets it.
    matcher.upsert("origin", [ORIGIN, "covid origin"])
    assert _coverage(matcher, "covid scientists study")["origin"] > 0.4
    matcher.upsert("origin", [ORIGIN], "")
    assert _coverage(matcher, "covid scientists study")["origin"] == 0.0
    matcher.remove("pets")
    assert "pets" not in _coverage(matcher, "covid dogs cats")


def test_a_knowledge_base_indexes_the_answer_shown_first() -> None:
    question = Question(
        "origin",
        ORIGIN,
        answers=(Answer("a1", "Nobody knows."), Answer("a2", ORIGIN_ANSWER, canonical=True)),
    )
    knowledge = KnowledgeBase(Matcher(), [question, Question("pets", PETS)])
    assert _coverage(knowledge.matcher, "covid bats wuhan")["origin"] > 0.2
    # Restored from a snapshot (the index holds the phrasings only), the answers come back.
    restored = Matcher()
    restored.restore_index(knowledge.matcher.export_index())
    KnowledgeBase.indexed(restored, [question, Question("pets", PETS)])
    assert _coverage(restored, "covid bats wuhan")["origin"] > 0.2


def _candidate(question_id: str, score: float, answer_coverage: float) -> Candidate:
    return Candidate(
        question_id, score, question_id, score, score, score, score, True,
        answer_coverage=answer_coverage,
    )  # fmt: skip


def test_a_fitted_ranker_learns_what_the_answer_evidence_is_worth() -> None:
    # Queries where the right question scores a little lower on its phrasing's words but
    # holds the query's words in its answer: the re-ranker learns to put it first.
    lists = []
    for step in range(30):
        wrong = _candidate("wrong", 0.60 + step * 0.005, 0.1)
        right = _candidate("right", 0.55 + step * 0.005, 0.8)
        lists.append([wrong, right])
    ranker = fit_ranker(lists, [{"right"}] * 30, RANK_FEATURES)
    assert ranker is not None
    unseen = [_candidate("a", 0.62, 0.05), _candidate("b", 0.58, 0.9)]
    assert [c.question_id for c in ranker.rerank(unseen)] == ["b", "a"]
    # Where the score alone orders every list right, the matcher's order is kept.
    agree = [[_candidate("right", 0.7, 0.1), _candidate("wrong", 0.5, 0.8)]] * 30
    keeper = fit_ranker(agree, [{"right"}] * 30, RANK_FEATURES)
    assert keeper is not None
    assert [c.question_id for c in keeper.rerank(unseen)] == ["a", "b"]
    # Too few labelled lists: no re-ranker at all.
    assert fit_ranker(lists[:5], [{"right"}] * 5, RANK_FEATURES) is None


def test_the_ranker_travels_in_the_model_file_and_old_files_still_load(tmp_path: Path) -> None:
    lists = [[_candidate("wrong", 0.6, 0.1), _candidate("right", 0.55, 0.8)]] * 30
    ranker = fit_ranker(lists, [{"right"}] * 30, RANK_FEATURES)
    model = replace(default_model(), ranker=ranker)
    path = tmp_path / "m.json"
    model.save(path)
    loaded = AbstentionModel.load(path)
    assert loaded.ranker is not None and ranker is not None
    assert loaded.ranker.names == ranker.names
    assert loaded.ranker.coefficients == pytest.approx(ranker.coefficients, abs=1e-5)
    # The decision uses it: the matcher answers in the re-ranker's order.
    matcher = Matcher(model=loaded)
    result = matcher.decide("q", [_candidate("a", 0.62, 0.05), _candidate("b", 0.58, 0.9)])
    assert result.candidates[0].question_id == "b"
    # Answering it says why a lower-scoring question came first.
    eager = Matcher(MatchSettings(confidence=0.01), model=loaded)
    answered = eager.decide("q", [_candidate("a", 0.62, 0.05), _candidate("b", 0.58, 0.9)])
    assert answered.decision is Decision.ANSWER and answered.best.question_id == "b"
    assert "put first by the fitted re-ranker" in answered.reason
    # A model file written before the answer evidence existed loads and does without it.
    data = json.loads(path.read_text())
    for name in ("answer_coverage", "answer_cosine", "answer_cosine_margin", "rank_share"):
        del data["semantic"]["features"][name]
    del data["ranker"]
    path.write_text(json.dumps(data))
    old = AbstentionModel.load(path)
    assert old.semantic is not None and "answer_cosine" not in old.semantic.names
    assert old.ranker is None
    data["ranker"] = {"features": {"colour": {"coefficient": 1, "mean": 0, "scale": 1}}}
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="unknown features: colour"):
        AbstentionModel.load(path)


def test_a_match_looks_up_the_answers_words_only_for_a_model_that_reads_them() -> None:
    query = "did it come from bats at an animal market"
    words_only = _matcher()  # the built-in word-tier model does not read them
    assert not words_only.model.reads_answer_words
    plain = words_only.match(query)
    assert all(c.answer_coverage == 0.0 for c in plain.candidates)
    full = words_only.decide(query, words_only.search(query, k=10))
    assert (plain.decision, plain.best) == (full.decision, replace(full.best, answer_coverage=0.0))
    # A model whose re-ranker weighs them gets them.
    lists = [[_candidate("wrong", 0.6, 0.1), _candidate("right", 0.55, 0.8)]] * 30
    ranker = fit_ranker(lists, [{"right"}] * 30, RANK_FEATURES)
    reader = _matcher()
    reader.model = replace(default_model(), ranker=ranker)
    assert reader.model.reads_answer_words
    coverage = {c.question_id: c.answer_coverage for c in reader.match(query).candidates}
    assert coverage["origin"] > 0.3 > coverage.get("pets", 0.0)
