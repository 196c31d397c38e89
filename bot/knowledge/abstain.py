"""The abstention model: how likely is it that the top candidate is the question asked?

A logistic regression over a handful of features of the match (scores, coverages both ways,
the heaviest word missing on either side, unknown words, length, the margin over the next
question). Its coefficients are a small JSON file that lives beside the knowledge base, so
they can be reviewed like the answers; ``stampy calibrate`` fits them from labelled questions.

Answering a question whose top candidate is right with probability ``p`` gains ``p`` and costs
``1 - p`` on average, so with a calibrated model the bot should answer exactly when
``p >= 0.5``; that is the default confidence. A knowledge base whose traffic holds fewer
answerable questions than the data the model was fitted on shifts the intercept by the
difference in log-odds (``answerable_share``), which is how a community without labels yet
adapts the shipped model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.knowledge.rerank import RANK_FEATURES, SEMANTIC_RANK_FEATURES, Ranker, RankerError


class Candidate(Protocol):
    """What the model reads of a ranked candidate (:class:`bot.knowledge.matcher.Candidate`;
    a protocol, so that this module and the matcher do not import each other)."""

    score: float
    lexical: float
    fuzzy: float
    query_coverage: float
    phrasing_coverage: float
    missing_query: float
    missing_phrasing: float
    unknown_share: float
    content_words: int
    shares_content: bool
    answer_coverage: float
    answer_cosine: float


#: Feature names in the order of the model's coefficients.
FEATURES: tuple[str, ...] = (
    "score",
    "lexical",
    "fuzzy",
    "query_coverage",
    "phrasing_coverage",
    "margin",
    "second_score",
    "missing_query",
    "missing_phrasing",
    "unknown_share",
    "log_content_words",
    "shares_content",
)
#: With the semantic tier: the same, plus the evidence from the top question's answer (the
#: share of the query its words hold; the query's cosine to it and its lead over the other
#: candidates'), the top question's cosine and its lead in cosine, and the share of the
#: re-ranker's probability the top question holds. (On words alone the answer's words did
#: not help the decision out of fold, and cost the stampy track false answers.)
SEMANTIC_FEATURES: tuple[str, ...] = (
    *FEATURES,
    "answer_coverage",
    "cosine",
    "cosine_margin",
    "answer_cosine",
    "answer_cosine_margin",
    "rank_share",
)
#: Features added after model files were first written: a file without them still loads
#: (its model does without them).
LATER_FEATURES = frozenset(
    {"answer_coverage", "answer_cosine", "answer_cosine_margin", "rank_share"}
)

MODEL_FORMAT = "stampy-abstention/1"
#: The name of the model file beside a knowledge base (in the answers directory).
MODEL_FILENAME = "matching-model.json"


class ModelError(Exception):
    """A model file that cannot be read or is not a model."""


def features(
    candidates: Sequence[Candidate], names: Sequence[str] = FEATURES, ranker: Ranker | None = None
) -> list[float] | None:
    """The feature vector (``names``, in order) of a ranked candidate list (ordered by
    ``ranker`` when the model has one); None when empty."""
    if not candidates:
        return None
    best = candidates[0]
    second = candidates[1].score if len(candidates) > 1 else 0.0
    other_cosine = max((c.cosine for c in candidates[1:]), default=0.0)
    other_coverage = max((c.answer_coverage for c in candidates[1:]), default=0.0)
    other_answer = max((c.answer_cosine for c in candidates[1:]), default=0.0)
    values = {
        "score": best.score,
        "lexical": best.lexical,
        "fuzzy": best.fuzzy,
        "query_coverage": best.query_coverage,
        "phrasing_coverage": best.phrasing_coverage,
        "margin": best.score - second,
        "second_score": second,
        "missing_query": best.missing_query,
        "missing_phrasing": best.missing_phrasing,
        "unknown_share": best.unknown_share,
        "log_content_words": math.log1p(best.content_words),
        "shares_content": 1.0 if best.shares_content else 0.0,
        "cosine": best.cosine,
        "cosine_margin": best.cosine - other_cosine,
        "answer_coverage": best.answer_coverage,
        "answer_cosine": best.answer_cosine,
        "answer_margin": best.answer_coverage - other_coverage,
        "answer_cosine_margin": best.answer_cosine - other_answer,
        "rank_share": _rank_share(candidates, ranker) if "rank_share" in names else 0.0,
    }
    return [values[name] for name in names]


def _rank_share(candidates: Sequence[Candidate], ranker: Ranker | None) -> float:
    """The re-ranker's probability that the first candidate is the right one among them
    (1 without a re-ranker: the feature then says nothing)."""
    if ranker is None or len(candidates) < 2:
        return 1.0
    utility = ranker.utilities(candidates)
    p = np.exp(utility - utility.max())
    return float(p[0] / p.sum())


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class AbstentionModel:
    """A fitted logistic regression of "the top candidate is right" on match features.

    ``mean`` and ``scale`` standardise the features; ``answerable_share`` is the share of
    queries in the fitting data whose top candidate was right (the prior the intercept holds).
    """

    coefficients: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    answerable_share: float
    fitted_on: str = ""
    examples: int = 0
    names: tuple[str, ...] = field(default=FEATURES)
    #: The model used with the semantic tier (features ``SEMANTIC_FEATURES``), if fitted.
    semantic: AbstentionModel | None = None
    #: Re-orders the candidates before the decision (:mod:`bot.knowledge.rerank`), if fitted.
    ranker: Ranker | None = None

    @property
    def reads_answer_words(self) -> bool:
        """Whether deciding reads how much of the query the answers' words hold (the
        ``answer_coverage`` of the candidates, which a search then has to work out)."""
        read = {*self.names, *(self.ranker.names if self.ranker is not None else ())}
        return not read.isdisjoint({"answer_coverage", "answer_margin"})

    def probability(self, candidates: Sequence[Candidate], prior: float | None = None) -> float:
        """Probability that ``candidates[0]`` is the question asked (0 with no candidate).

        ``prior``, when given, is the share of answerable traffic expected where the model is
        used; the intercept moves by the log-odds between it and the fitted share.
        """
        values = features(candidates, self.names, self.ranker)
        if values is None or not (candidates[0].shares_content or candidates[0].cosine):
            return 0.0
        return float(self.probabilities(np.asarray([values]), prior)[0])

    def probabilities(self, matrix: np.ndarray, prior: float | None = None) -> np.ndarray:
        """Probabilities for rows of features (in ``FEATURES`` order)."""
        z = (matrix - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coefficients) + self.intercept
        if prior is not None:
            logits = logits + _logit(prior) - _logit(self.answerable_share)
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -40, 40)))

    def to_json(self) -> dict:
        """The model as the reviewable JSON document written by ``stampy calibrate``."""
        data = self._document()
        if self.semantic is not None:
            data["semantic"] = self.semantic._document()
        return data

    def _document(self) -> dict:
        data = {
            "format": MODEL_FORMAT,
            "fitted_on": self.fitted_on,
            "examples": self.examples,
            "answerable_share": round(self.answerable_share, 6),
            "intercept": round(self.intercept, 6),
            "features": {
                name: {
                    "coefficient": round(c, 6),
                    "mean": round(m, 6),
                    "scale": round(s, 6),
                }
                for name, c, m, s in zip(
                    self.names, self.coefficients, self.mean, self.scale, strict=True
                )
            },
        }
        if self.ranker is not None:
            data["ranker"] = self.ranker.to_json()
        return data

    @classmethod
    def from_json(
        cls, data: object, where: str = "model", names: tuple[str, ...] | None = None
    ) -> AbstentionModel:
        """A model from its JSON document; ModelError naming what is wrong otherwise."""
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ModelError(f"{where}: not a Stampy matching model (format {MODEL_FORMAT!r})")
        semantic = None
        if data.get("semantic") is not None:
            nested = data["semantic"]
            if isinstance(nested, dict):
                nested = {**nested, "format": MODEL_FORMAT}
            semantic = cls.from_json(nested, f"{where}: semantic", SEMANTIC_FEATURES)
        return cls._parse(data, where, names or FEATURES, semantic)

    @classmethod
    def _parse(
        cls,
        data: dict,
        where: str,
        names: tuple[str, ...],
        semantic: AbstentionModel | None,
    ) -> AbstentionModel:
        try:
            table = data["features"]
            missing = sorted(set(names) - set(table or ()) - LATER_FEATURES)
            extra = sorted(set(table or ()) - set(names))
            if not isinstance(table, dict) or missing or extra:
                raise ModelError(
                    f"{where}: features must be exactly {', '.join(names)} "
                    f"(missing: {', '.join(missing) or 'none'}; unknown: "
                    f"{', '.join(extra) or 'none'})"
                )
            names = tuple(n for n in names if n in table)
            coefficients = tuple(float(table[n]["coefficient"]) for n in names)
            mean = tuple(float(table[n]["mean"]) for n in names)
            scale = tuple(float(table[n]["scale"]) for n in names)
            share = float(data["answerable_share"])
            intercept = float(data["intercept"])
            ranker = None
            if data.get("ranker") is not None:
                known = SEMANTIC_RANK_FEATURES if "cosine" in names else RANK_FEATURES
                ranker = Ranker.from_json(data["ranker"], f"{where}: ranker", known)
        except RankerError as error:
            raise ModelError(str(error)) from error
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(f"{where}: malformed model: {error}") from error
        numbers = (*coefficients, *mean, *scale, share, intercept)
        if not all(math.isfinite(v) for v in numbers) or min(scale) <= 0:
            raise ModelError(f"{where}: coefficients must be finite and scales positive")
        if not 0 < share < 1:
            raise ModelError(f"{where}: answerable_share must be between 0 and 1")
        return cls(
            coefficients,
            intercept,
            mean,
            scale,
            share,
            str(data.get("fitted_on", "")),
            int(data.get("examples", 0) or 0),
            names,
            semantic,
            ranker,
        )

    def save(self, path: str | Path) -> None:
        """Write the model as indented JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> AbstentionModel:
        """Read a model file; ModelError with the path when it cannot be used."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelError(f"{path}: cannot read the model: {error}") from error
        return cls.from_json(data, str(path))


def fit(
    rows: Sequence[Sequence[float]],
    labels: Sequence[bool],
    *,
    l2: float = 1.0,
    fitted_on: str = "",
    names: Sequence[str] = FEATURES,
) -> AbstentionModel:
    """Fit the model by L2-penalised maximum likelihood on standardised features.

    ``l2`` is the penalty on the coefficients (not the intercept), in units of examples: with
    few labelled questions it keeps the fit from chasing them.
    """
    x = np.asarray(rows, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError("need one feature row per label, and at least one")
    if x.shape[1] != len(names):
        raise ValueError(f"rows have {x.shape[1]} features, names {len(names)}")
    positives = float(y.sum())
    if positives == 0 or positives == len(y):
        raise ValueError("need both right and wrong top candidates to fit")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    n, d = z.shape
    prior = positives / n

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        logits = z @ w[:d] + w[d]
        # log(1 + e^t) - y t, computed stably
        value = np.logaddexp(0.0, logits) - y * logits
        p = 1.0 / (1.0 + np.exp(-logits))
        grad = np.empty(d + 1)
        grad[:d] = z.T @ (p - y) + l2 * w[:d]
        grad[d] = float(np.sum(p - y))
        return float(value.sum() + 0.5 * l2 * w[:d] @ w[:d]), grad

    start = np.zeros(d + 1)
    start[d] = _logit(prior)
    from scipy.optimize import minimize  # a second of imports, needed only to fit a model

    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    w = result.x
    return AbstentionModel(
        tuple(float(v) for v in w[:d]),
        float(w[d]),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        prior,
        fitted_on,
        n,
        tuple(names),
    )


def model_path(configured: str, answers_dir: str | Path) -> Path | None:
    """The model file a knowledge base uses: the configured one, else the one beside the
    answers if there is one, else None (the built-in model)."""
    if configured:
        return Path(configured)
    beside = Path(answers_dir) / MODEL_FILENAME
    return beside if beside.is_file() else None


def load_model(configured: str, answers_dir: str | Path) -> AbstentionModel:
    """The model for the knowledge base in ``answers_dir`` (see :func:`model_path`)."""
    path = model_path(configured, answers_dir)
    return default_model() if path is None else AbstentionModel.load(path)


def default_model() -> AbstentionModel:
    """The model shipped with Stampy, for a knowledge base without a model file of its own."""
    text = resources.files("bot.knowledge").joinpath("default-model.json").read_text("utf-8")
    return AbstentionModel.from_json(json.loads(text), "built-in model")
