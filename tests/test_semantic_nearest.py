"""The semantic tier's search over the whole knowledge base, which needs no model: vectors
are given, not encoded, so these run without ``stampy[semantic]``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from bot.knowledge import matcher as matcher_module
from bot.knowledge import semantic
from bot.knowledge.matcher import Matcher


class _Given:
    """Stands in for the encoder: each text's vector was decided beforehand."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.encoded = 0
        self.model_id = "given vectors"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        return np.stack([self.vectors[t] for t in texts])


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _index(vectors: np.ndarray, per_question: int) -> semantic.SemanticIndex:
    texts = {f"phrasing {i}": v for i, v in enumerate(vectors)}
    index = semantic.SemanticIndex(_Given(texts))  # type: ignore[arg-type]
    names = list(texts)
    for q in range(0, len(names), per_question):
        index.upsert(f"q{q // per_question}", names[q : q + per_question])
    return index


def test_a_large_index_finds_what_reading_every_vector_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Vectors in a space of fewer dimensions than the first scan keeps: its shortlist must
    # hold the exact answer, so both searches agree question for question.
    rng = np.random.default_rng(7)
    basis = rng.standard_normal((40, semantic.DIMENSIONS))
    vectors = _unit(rng.standard_normal((3000, 40)) @ basis)
    queries = _unit(rng.standard_normal((50, 40)) @ basis)
    exact = _index(vectors, 3)
    monkeypatch.setattr(semantic, "EXACT_ROWS", 1000)
    monkeypatch.setattr(semantic, "SHORTLIST", 64)
    shortlisted = _index(vectors, 3)
    for query in queries:
        found = shortlisted.nearest(query, 5)
        assert shortlisted._reduced is not None  # the first scan was used
        monkeypatch.setattr(semantic, "EXACT_ROWS", 10**9)
        expected = exact.nearest(query, 5)
        monkeypatch.setattr(semantic, "EXACT_ROWS", 1000)
        assert [q for q, _, _ in found] == [q for q, _, _ in expected]
        assert np.allclose([c for _, c, _ in found], [c for _, c, _ in expected], atol=1e-5)


def test_nearest_names_k_questions_even_when_one_has_many_close_phrasings() -> None:
    rng = np.random.default_rng(3)
    query = _unit(rng.standard_normal(semantic.DIMENSIONS))
    close = _unit(query + 0.05 * rng.standard_normal((30, semantic.DIMENSIONS)))
    far = _unit(rng.standard_normal((20, semantic.DIMENSIONS)))
    index = _index(np.concatenate([close, far]), 30)  # q0: 30 close phrasings; q1: the rest
    index.upsert("q2", ["phrasing 31"])  # one more question, far away
    found = [question for question, _, _ in index.nearest(query, 3)]
    assert found[0] == "q0"
    assert sorted(found) == ["q0", "q1", "q2"]


def test_strong_word_candidates_skip_the_scan_and_rank_as_it_would() -> None:
    rng = np.random.default_rng(11)
    query = "how do I descale a kettle"
    meaning = _unit(rng.standard_normal(semantic.DIMENSIONS))
    texts = [f"{query} {tail}" for tail in ("quickly", "at home", "safely", "with vinegar", "fast")]
    vectors = {
        **{t: _unit(meaning + 0.06 * rng.standard_normal(semantic.DIMENSIONS)) for t in texts},
        "removing limescale": meaning,  # the same meaning, no shared word
        query: meaning,
        "getting rid of mineral deposits": meaning,
    }
    encoder = _Given(vectors)
    index = semantic.SemanticIndex(encoder)  # type: ignore[arg-type]
    scans = []
    nearest = index.nearest
    index.nearest = lambda *args, **kw: scans.append(args) or nearest(*args, **kw)  # type: ignore[method-assign]
    matcher = Matcher(semantic=index)
    for n, text in enumerate(texts):
        matcher.upsert(f"kettle{n}", [text])
    matcher.upsert("limescale", ["removing limescale"])

    # Five questions share the query's words: no question found by meaning alone can outrank
    # the fifth, so the vectors are not all read, and the ranking is the one the scan gives.
    skipped = matcher.search(query, 5)
    assert scans == []
    assert all(c.score > matcher.tuning.semantic_weight for c in skipped)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matcher_module, "COSINE_BOUND", float("inf"))  # always scan
        matcher._last_scored = None
        scanned = matcher.search(query, 5)
    assert len(scans) == 1
    assert [(c.question_id, c.score) for c in skipped] == [
        (c.question_id, c.score) for c in scanned
    ]

    # Six asked for: the question sharing no word could be sixth, so the vectors are read.
    assert matcher.search(query, 6)[-1].question_id == "limescale"
    # No shared word at all: the scan finds the question by meaning.
    assert matcher.search("getting rid of mineral deposits", 5)[0].question_id == "limescale"
    assert len(scans) == 3
