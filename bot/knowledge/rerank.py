"""A fitted re-ranker: which of the top candidates is the question asked?

The matcher's score is one hand-built blend (words, characters, and with the semantic tier
the cosine). Knowledge bases differ in what tells their questions apart: where queries are
keyword fragments, the answer's words and the answer's meaning say more than the phrasing's
wording. The re-ranker is a conditional logit over the top candidates of a query: each
candidate's utility is a linear function of its features (the score among them), and the
probability that it is the right one is the softmax of the utilities over the list. It is
fitted per knowledge base with the abstention model (:mod:`bot.knowledge.abstain`), on the
same labelled questions, and stored in the same model file.

Only the features other than the score are penalised, so with little evidence the
re-ranker keeps the matcher's own order.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

#: Per-candidate features of the word tier, in the order of the coefficients.
RANK_FEATURES: tuple[str, ...] = (
    "score",
    "lexical",
    "fuzzy",
    "query_coverage",
    "phrasing_coverage",
    "missing_query",
    "missing_phrasing",
    "shared_rarity",
    "answer_coverage",
)
#: With the semantic tier: also the cosine to the closest phrasing and to the answer.
SEMANTIC_RANK_FEATURES: tuple[str, ...] = (*RANK_FEATURES, "cosine", "answer_cosine")
#: A re-ranker is fitted only from this many queries with a right candidate among several.
MIN_LISTS = 20
#: The penalty on the score's coefficient (the others get ``l2``): just enough to keep the
#: fit finite when the score alone orders every list right.
SCORE_L2 = 1e-3


class RankedCandidate(Protocol):
    """What the re-ranker reads of a candidate (:class:`bot.knowledge.matcher.Candidate`)."""

    question_id: str
    score: float


C = TypeVar("C", bound=RankedCandidate)


class RankerError(Exception):
    """A re-ranker in a model file that cannot be used."""


def candidate_rows(candidates: Sequence[RankedCandidate], names: Sequence[str]) -> np.ndarray:
    """One row of features (``names``) per candidate."""
    return np.array(
        [[float(getattr(c, name)) for name in names] for c in candidates], dtype=np.float64
    ).reshape(len(candidates), len(names))


@dataclass(frozen=True)
class Ranker:
    """A fitted conditional logit over candidate features (standardised by mean/scale)."""

    names: tuple[str, ...]
    coefficients: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    lists: int = 0

    def utilities(self, candidates: Sequence[RankedCandidate]) -> np.ndarray:
        """Each candidate's utility (higher: more likely the question asked)."""
        z = (candidate_rows(candidates, self.names) - np.asarray(self.mean)) / np.asarray(
            self.scale
        )
        return z @ np.asarray(self.coefficients)

    def rerank(self, candidates: Sequence[C]) -> list[C]:
        """The candidates, most likely first (ties keep the matcher's order)."""
        if len(candidates) < 2:
            return list(candidates)
        utility = self.utilities(candidates)
        order = sorted(range(len(candidates)), key=lambda i: (-utility[i], i))
        return [candidates[i] for i in order]

    def to_json(self) -> dict:
        """The re-ranker as a reviewable JSON document (inside the model file)."""
        return {
            "lists": self.lists,
            "features": {
                name: {"coefficient": round(c, 6), "mean": round(m, 6), "scale": round(s, 6)}
                for name, c, m, s in zip(
                    self.names, self.coefficients, self.mean, self.scale, strict=True
                )
            },
        }

    @classmethod
    def from_json(cls, data: object, where: str, known: Collection[str]) -> Ranker:
        """A re-ranker from its JSON document; RankerError naming what is wrong otherwise."""
        try:
            table = data["features"]  # type: ignore[index]
            if not isinstance(table, dict) or not table:
                raise RankerError(f"{where}: 'features' must map feature names to numbers")
            unknown = sorted(set(table) - set(known))
            if unknown:
                raise RankerError(f"{where}: unknown features: {', '.join(unknown)}")
            names = tuple(table)
            coefficients = tuple(float(table[n]["coefficient"]) for n in names)
            mean = tuple(float(table[n]["mean"]) for n in names)
            scale = tuple(float(table[n]["scale"]) for n in names)
            lists = int(data.get("lists", 0) or 0)  # type: ignore[union-attr]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RankerError(f"{where}: malformed re-ranker: {error}") from error
        numbers = (*coefficients, *mean, *scale)
        if not all(math.isfinite(v) for v in numbers) or min(scale) <= 0:
            raise RankerError(f"{where}: coefficients must be finite and scales positive")
        return cls(names, coefficients, mean, scale, lists)


def fit_ranker(
    lists: Sequence[Sequence[RankedCandidate]],
    right: Sequence[Collection[str]],
    names: Sequence[str] = RANK_FEATURES,
    *,
    l2: float = 1.0,
    min_lists: int = MIN_LISTS,
) -> Ranker | None:
    """Fit the re-ranker on ranked candidate lists and the ids right for each.

    Only lists with a right candidate among at least two teach anything; with fewer than
    ``min_lists`` of them, None (keep the matcher's order).
    """
    data = [
        (candidate_rows(candidates, names), np.array([c.question_id in ok for c in candidates]))
        for candidates, ok in zip(lists, right, strict=True)
        if len(candidates) > 1 and any(c.question_id in ok for c in candidates)
    ]
    if len(data) < min_lists:
        return None
    stacked = np.concatenate([x for x, _ in data])
    mean = stacked.mean(axis=0)
    scale = stacked.std(axis=0)
    scale[scale < 1e-9] = 1.0
    # Pad every list to one length so the fit is a few array operations per step.
    width = max(len(x) for x, _ in data)
    d = len(names)
    z = np.zeros((len(data), width, d))
    valid = np.zeros((len(data), width), dtype=bool)
    good = np.zeros((len(data), width), dtype=bool)
    for row, (x, y) in enumerate(data):
        z[row, : len(x)] = (x - mean) / scale
        valid[row, : len(x)] = True
        good[row, : len(y)] = y
    penalty = np.full(d, l2)
    if "score" in names:
        penalty[list(names).index("score")] = SCORE_L2

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        utility = np.where(valid, z @ w, -np.inf)
        top = utility.max(axis=1, keepdims=True)
        p = np.exp(utility - top)
        p /= p.sum(axis=1, keepdims=True)
        right_mass = np.where(good, p, 0.0).sum(axis=1)
        # -log P(a right candidate), and its gradient: E_right[z] - E_all[z]
        value = -np.log(np.maximum(right_mass, 1e-300)).sum()
        q = np.where(good, p, 0.0) / np.maximum(right_mass, 1e-300)[:, None]
        grad = -np.einsum("lc,lcd->d", q - p, z)
        return float(value + 0.5 * (penalty * w) @ w), grad + penalty * w

    start = np.zeros(d)
    if "score" in names:
        start[list(names).index("score")] = 1.0
    from scipy.optimize import minimize  # a second of imports, needed only to fit

    w = minimize(loss, start, jac=True, method="L-BFGS-B").x
    return Ranker(
        tuple(names),
        tuple(float(v) for v in w),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        len(data),
    )
