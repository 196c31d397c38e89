"""Evidence from the answer text: how much of a query the answer of a question speaks of.

People often ask with the words of the answer rather than of the question ("coronavirus is
from where" for "What caused COVID-19?", whose answer tells where it came from). The answer
is a weak signal (it holds many words, most of them beside the point), so it is kept apart
from the phrasings' index: it ranks nothing by itself, it is one more feature of a candidate
(``answer_coverage``) that the fitted models of :mod:`bot.knowledge.abstain` and
:mod:`bot.knowledge.rerank` weigh per knowledge base.

The words of each answer are stemmed like the phrasings' and weighed by how rare they are
among the answers (so "https" or "covid" in every answer count for little).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import numpy as np

from bot.knowledge.text import normal_words

#: Words of an answer that are indexed (the beginning of a long answer says what it is about).
MAX_ANSWER_WORDS = 400


class AnswerIndex:
    """The stemmed words of each question's answer, kept in step with the knowledge base."""

    def __init__(
        self,
        stem: Callable[[str], str],
        stopwords: Collection[str],
        stopword_weight: float = 0.5,
    ) -> None:
        self._stem = stem
        self._stopwords = stopwords
        self._stopword_weight = stopword_weight
        self._term_ids: dict[str, int] = {}
        self._df: list[int] = []
        self._by_question: dict[str, np.ndarray] = {}  # sorted term ids of its answer
        self._texts: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_question)

    def text(self, question_id: str) -> str:
        """The answer text indexed for ``question_id`` ("" when it has none)."""
        return self._texts.get(question_id, "")

    def upsert(self, question_id: str, text: str) -> None:
        """Index ``text`` as the answer of ``question_id`` ("" removes it)."""
        if self._texts.get(question_id, "") == text:  # (the same, or none before and after)
            return
        self.remove(question_id)
        words = normal_words(text)[:MAX_ANSWER_WORDS]
        if not words:
            return
        # Each distinct word stemmed once (an answer repeats its words); new terms are
        # numbered in the order of their first word, as before.
        terms = sorted({self._term_id(self._stem(word)) for word in dict.fromkeys(words)})
        for term in terms:
            self._df[term] += 1
        self._by_question[question_id] = np.asarray(terms, dtype=np.int64)
        self._texts[question_id] = text

    def remove(self, question_id: str) -> None:
        """Forget the answer of ``question_id`` (no-op when it has none)."""
        terms = self._by_question.pop(question_id, None)
        self._texts.pop(question_id, None)
        if terms is not None:
            for term in terms.tolist():
                self._df[term] -= 1

    def _term_id(self, stem: str) -> int:
        term = self._term_ids.get(stem)
        if term is None:
            term = len(self._df)
            self._term_ids[stem] = term
            self._df.append(0)
        return term

    def export(self) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
        """The index as plain values, for a snapshot: the stem of each term id, the questions
        with an answer, and each one's sorted term ids (concatenated, with offsets)."""
        questions = list(self._by_question)
        rows = [self._by_question[question] for question in questions]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(row) for row in rows], out=offsets[1:])
        terms = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        return list(self._term_ids), questions, offsets, terms

    def restore(
        self,
        stems: list[str],
        questions: list[str],
        offsets: np.ndarray,
        terms: np.ndarray,
        texts: list[str],
    ) -> None:
        """Replace the index with what :meth:`export` gave, the answers being ``texts``
        (without normalising or stemming them again)."""
        self._term_ids = {stem: term for term, stem in enumerate(stems)}
        self._df = np.bincount(terms, minlength=len(stems)).tolist()
        bounds = offsets.tolist()
        self._by_question = {
            question: terms[bounds[i] : bounds[i + 1]] for i, question in enumerate(questions)
        }
        self._texts = dict(zip(questions, texts, strict=True))

    def query(self, normal: str) -> tuple[np.ndarray, np.ndarray, float]:
        """A normalised query as (term ids, weights, total weight): its words known to some
        answer, weighed by rarity among the answers (stopwords reduced); unknown words
        count in the total only."""
        count = max(len(self._by_question), 1)
        found: dict[int, float] = {}
        total = 0.0
        for word in dict.fromkeys(normal.split()):
            term = self._term_ids.get(self._stem(word), -1)
            df = self._df[term] if term >= 0 else 0
            weight = math.log1p((count - df + 0.5) / (df + 0.5))
            if word in self._stopwords:
                weight *= self._stopword_weight
            total += weight
            if df > 0:
                found[term] = max(found.get(term, 0.0), weight)
        terms = np.fromiter(found, dtype=np.int64, count=len(found))
        weights = np.fromiter(found.values(), dtype=np.float64, count=len(found))
        return terms, weights, total

    def coverage(self, query: tuple[np.ndarray, np.ndarray, float], question_id: str) -> float:
        """The share of the query's weight in words the question's answer holds (0 without
        an answer)."""
        terms, weights, total = query
        answer = self._by_question.get(question_id)
        if answer is None or total <= 0 or not len(terms):
            return 0.0
        at = np.searchsorted(answer, terms)
        held = answer[np.minimum(at, len(answer) - 1)] == terms
        return float(weights[held].sum() / total)
