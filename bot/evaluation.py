"""The FAQ-matching benchmark: read its files, run the matcher per track, score the replies.

Format (see the benchmark's README): a YAML knowledge base with ``entries`` (``id``, ``track``,
``question``, ``alternate_phrasings``) and JSON-lines queries (``query``, ``track``,
``expected_ids``; an empty list or null ``expected_id`` means the KB has no answer). Each track is
evaluated against its own entries only.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from bot.knowledge.abstain import (
    FEATURES,
    SEMANTIC_FEATURES,
    AbstentionModel,
    ModelError,
    features,
    fit,
)
from bot.knowledge.matcher import Candidate, Decision, Matcher, MatchResult
from bot.knowledge.rerank import RANK_FEATURES, SEMANTIC_RANK_FEATURES, fit_ranker

#: Format of a file holding one abstention model per benchmark track.
MODEL_SET_FORMAT = "stampy-abstention-tracks/1"


class BenchmarkError(Exception):
    """The benchmark files are missing or not in the expected format."""


@dataclass(frozen=True)
class BenchmarkEntry:
    """One knowledge-base entry of a track."""

    id: str
    track: str
    phrasings: tuple[str, ...]
    answer: str = ""


@dataclass(frozen=True)
class BenchmarkQuery:
    """One labelled query; ``expected_ids`` is empty when the KB has no answer."""

    query: str
    track: str
    expected_ids: tuple[str, ...]


@dataclass(frozen=True)
class Prediction:
    """The matcher's output for one query."""

    query: BenchmarkQuery
    result: MatchResult
    # Ids to pad the candidate list with (score 0) when fewer questions share a word.
    fallback: tuple[str, ...] = ()
    # Every ranked candidate, whatever the decision kept (r@3 is measured on these).
    ranked: tuple[Candidate, ...] = ()

    @property
    def answer(self) -> str | None:
        """The id the bot would really reply with (a suggestion is no reply)."""
        if self.result.decision is Decision.ANSWER and self.result.best:
            return self.result.best.question_id
        return None

    def to_json(self, candidates: int = 3) -> dict:
        """The line written to the predictions file (at least ``candidates`` candidates)."""
        listed = [
            {"id": c.question_id, "score": round(c.score, 4)}
            for c in (self.ranked or self.result.candidates)[:candidates]
        ]
        seen = {c["id"] for c in listed}
        for entry_id in self.fallback:
            if len(listed) >= candidates:
                break
            if entry_id not in seen:
                listed.append({"id": entry_id, "score": 0.0})
        return {
            "query": self.query.query,
            "track": self.query.track,
            "candidates": listed,
            "answer": self.answer,
            "decision": self.result.decision.value,
            "probability": round(self.result.probability, 4),
        }


@dataclass(frozen=True)
class TrackScore:
    """The benchmark's metrics for one track (definitions in its README)."""

    track: str
    positives: int
    nulls: int
    acc1: float
    r3: float
    acr: float
    wpos: float
    far: float
    net: float

    HEADER = ("track", "pos", "null", "acc@1", "r@3", "answered-correct", "wrong", "far", "net")

    def row(self) -> tuple[str, ...]:
        """The values in ``HEADER`` order, formatted."""
        return (
            self.track,
            str(self.positives),
            str(self.nulls),
            *(f"{v:.3f}" for v in (self.acc1, self.r3, self.acr, self.wpos, self.far, self.net)),
        )


def load_benchmark_kb(path: str | Path) -> dict[str, list[BenchmarkEntry]]:
    """Entries of the benchmark knowledge base, grouped by track."""
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise BenchmarkError(f"{path}: cannot read the knowledge base: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise BenchmarkError(f"{path}: expected a mapping with a list under 'entries'")
    tracks: dict[str, list[BenchmarkEntry]] = {}
    for number, raw in enumerate(data["entries"], 1):
        try:
            phrasings = (str(raw["question"]), *map(str, raw.get("alternate_phrasings") or ()))
            answer = str(raw.get("answer") or "")
            entry = BenchmarkEntry(str(raw["id"]), str(raw["track"]), phrasings, answer)
        except (KeyError, TypeError) as error:
            raise BenchmarkError(f"{path}: entry {number} lacks {error}") from error
        tracks.setdefault(entry.track, []).append(entry)
    return tracks


def load_queries(path: str | Path) -> list[BenchmarkQuery]:
    """The labelled queries, in file order."""
    queries = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise BenchmarkError(f"{path}: cannot read the queries: {error}") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            expected = raw.get("expected_ids")
            if expected is None:
                expected = [raw["expected_id"]] if raw.get("expected_id") else []
            queries.append(BenchmarkQuery(str(raw["query"]), str(raw["track"]), tuple(expected)))
        except (ValueError, KeyError, TypeError) as error:
            raise BenchmarkError(f"{path}:{number}: not a benchmark query: {error}") from error
    return queries


@dataclass(frozen=True)
class Searched:
    """One query's ranked candidates from its track's matcher (before any decision)."""

    query: BenchmarkQuery
    ranked: tuple[Candidate, ...]

    @property
    def top_right(self) -> bool:
        """Whether the top candidate is an acceptable answer."""
        return bool(self.ranked) and self.ranked[0].question_id in self.query.expected_ids

    @property
    def decided_by_model(self) -> bool:
        """Whether the abstention model has a say (a candidate sharing a content word)."""
        return bool(self.ranked) and self.ranked[0].shares_content


class Benchmark:
    """The benchmark's tracks indexed once, and every query searched once.

    Deciding is cheap and searching is not, so models fitted on different folds decide on
    the same searches.
    """

    def __init__(
        self,
        tracks: Mapping[str, Sequence[BenchmarkEntry]],
        queries: Sequence[BenchmarkQuery],
        make_matcher: Callable[[], Matcher],
        k: int | None = None,
    ) -> None:
        self.matchers: dict[str, Matcher] = {}
        self.fallbacks: dict[str, tuple[str, ...]] = {}
        for track, entries in tracks.items():
            matcher = make_matcher()
            for entry in entries:
                matcher.upsert(entry.id, entry.phrasings, entry.answer)
            self.matchers[track] = matcher
            self.fallbacks[track] = tuple(entry.id for entry in entries[:5])
        self.searched: list[Searched] = []
        for query in queries:
            matcher = self.matchers.get(query.track)
            if matcher is None:
                raise BenchmarkError(f"query track {query.track!r} has no entries in the KB")
            # As many candidates as a re-ranker orders when the bot matches.
            count = k if k is not None else max(5, matcher.tuning.rerank_pool)
            self.searched.append(Searched(query, tuple(matcher.search(query.query, k=count))))

    @property
    def semantic(self) -> bool:
        """Whether the matchers have the semantic tier."""
        return any(m.semantic is not None for m in self.matchers.values())

    @property
    def tracks(self) -> list[str]:
        """Tracks in order of first appearance among the queries."""
        return list(dict.fromkeys(s.query.track for s in self.searched))

    def predict(
        self,
        models: Mapping[str, AbstentionModel] | None = None,
        indices: Iterable[int] | None = None,
    ) -> list[Prediction]:
        """Decisions for the queries at ``indices`` (default all), with a model per track
        (default: each matcher's own)."""
        chosen = range(len(self.searched)) if indices is None else indices
        predictions = []
        for index in chosen:
            item = self.searched[index]
            track = item.query.track
            model = models.get(track) if models else None
            matcher = self.matchers[track]
            ranker = matcher.model_for(model).ranker
            ranked = tuple(ranker.rerank(item.ranked)) if ranker else item.ranked
            result = matcher.decide(item.query.query, ranked, model)
            predictions.append(Prediction(item.query, result, self.fallbacks[track], ranked))
        return predictions

    def fit(
        self, indices: Iterable[int] | None = None, l2: float = 1.0, rerank: bool | None = None
    ) -> dict[str, AbstentionModel]:
        """A model per track, fitted on the queries at ``indices`` (default all): first the
        re-ranker, then the abstention model on the candidates in the re-ranker's order.

        ``rerank`` defaults to the semantic tier only: there the cosines to the phrasings and
        to the answer are evidence the blended score weighs the same for every knowledge
        base; on words alone the candidates' features all come from the word overlap the
        score already weighs, and a re-ranker of them did not rank better out of fold.
        """
        if rerank is None:
            rerank = self.semantic
        chosen = list(range(len(self.searched)) if indices is None else indices)
        by_track: dict[str, list[Searched]] = {}
        for index in chosen:
            item = self.searched[index]
            by_track.setdefault(item.query.track, []).append(item)
        names = SEMANTIC_FEATURES if self.semantic else FEATURES
        rank_names = SEMANTIC_RANK_FEATURES if self.semantic else RANK_FEATURES
        models = {}
        for track, items in by_track.items():
            ranker = None
            if rerank:
                ranker = fit_ranker(
                    [item.ranked for item in items],
                    [item.query.expected_ids for item in items],
                    rank_names,
                    l2=l2,
                )
            rows: list[list[float]] = []
            labels: list[bool] = []
            for item in items:
                ranked = ranker.rerank(item.ranked) if ranker else item.ranked
                values = features(ranked, names, ranker)
                if values is None or not (ranked[0].shares_content or self.semantic):
                    continue
                rows.append(values)
                labels.append(ranked[0].question_id in item.query.expected_ids)
            if not rows:
                continue
            try:
                model = fit(rows, labels, l2=l2, fitted_on=track, names=names)
            except ValueError as error:
                raise BenchmarkError(f"track {track!r}: cannot fit a model: {error}") from error
            models[track] = replace(model, ranker=ranker)
        return models

    def folds(self, count: int, seed: int = 0) -> list[int]:
        """A fold number per query: per track, answerable and null queries dealt out evenly.

        Each track's deal depends on its own queries only (not on which other tracks are
        scored with it), so ``stampy eval --track`` gives a track the figures of a full run.
        """
        fold = [0] * len(self.searched)
        groups: dict[tuple[str, bool], list[int]] = {}
        for index, item in enumerate(self.searched):
            groups.setdefault((item.query.track, bool(item.query.expected_ids)), []).append(index)
        for (track, answerable), members in groups.items():
            rng = random.Random(f"{seed}:{track}:{answerable}")
            rng.shuffle(members)
            offset = rng.randrange(count)
            for position, index in enumerate(members):
                fold[index] = (position + offset) % count
        return fold

    def cross_validate(self, count: int = 5, seed: int = 0, l2: float = 1.0) -> list[Prediction]:
        """Out-of-fold predictions: each fold decided by models fitted on the others."""
        if count < 2:
            raise BenchmarkError("--folds needs at least 2 folds")
        fold = self.folds(count, seed)
        out: dict[int, Prediction] = {}
        for k in range(count):
            held = [i for i, f in enumerate(fold) if f == k]
            models = self.fit((i for i, f in enumerate(fold) if f != k), l2=l2)
            out.update(zip(held, self.predict(models, held), strict=True))
        return [out[i] for i in range(len(self.searched))]


def fit_both_tiers(
    tracks: Mapping[str, Sequence[BenchmarkEntry]],
    queries: Sequence[BenchmarkQuery],
    make_matcher: Callable[[], Matcher],
    make_semantic: Callable[[], Matcher] | None,
) -> dict[str, AbstentionModel]:
    """A model per track on the words alone, each with its semantic-tier model nested when
    ``make_semantic`` makes matchers with the tier."""
    models = Benchmark(tracks, queries, make_matcher).fit()
    if make_semantic is not None:
        semantic = Benchmark(tracks, queries, make_semantic).fit()
        models = {
            track: replace(model, semantic=semantic.get(track)) for track, model in models.items()
        }
    return models


def run_benchmark(
    tracks: dict[str, list[BenchmarkEntry]],
    queries: Sequence[BenchmarkQuery],
    make_matcher: Callable[[], Matcher],
    models: Mapping[str, AbstentionModel] | None = None,
) -> list[Prediction]:
    """Match every query against its own track's entries; predictions in input order."""
    return Benchmark(tracks, queries, make_matcher).predict(models)


def save_models(models: Mapping[str, AbstentionModel], path: str | Path) -> None:
    """Write one model per track into one reviewable JSON file."""
    data = {
        "format": MODEL_SET_FORMAT,
        "tracks": {track: model.to_json() for track, model in models.items()},
    }
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def load_models(path: str | Path) -> dict[str, AbstentionModel] | AbstentionModel:
    """A per-track model file (from ``save_models``) or a single model for every track."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BenchmarkError(f"{path}: cannot read the model: {error}") from error
    try:
        if isinstance(data, dict) and data.get("format") == MODEL_SET_FORMAT:
            tracks = data.get("tracks")
            if not isinstance(tracks, dict):
                raise ModelError(f"{path}: 'tracks' must map track names to models")
            return {
                str(track): AbstentionModel.from_json(model, f"{path}: track {track}")
                for track, model in tracks.items()
            }
        return AbstentionModel.from_json(data, str(path))
    except ModelError as error:
        raise BenchmarkError(str(error)) from error


def score(predictions: Iterable[Prediction]) -> list[TrackScore]:
    """Per-track metrics, tracks in order of first appearance."""
    by_track: dict[str, list[Prediction]] = {}
    for prediction in predictions:
        by_track.setdefault(prediction.query.track, []).append(prediction)
    scores = []
    for track, items in by_track.items():
        positives = [p for p in items if p.query.expected_ids]
        nulls = [p for p in items if not p.query.expected_ids]
        top1 = top3 = correct = wrong = 0
        for p in positives:
            ids = [c.question_id for c in (p.ranked or p.result.candidates)]
            top1 += bool(ids) and ids[0] in p.query.expected_ids
            top3 += any(i in p.query.expected_ids for i in ids[:3])
            if p.answer is not None:
                if p.answer in p.query.expected_ids:
                    correct += 1
                else:
                    wrong += 1
        false = sum(p.answer is not None for p in nulls)
        n_pos = max(len(positives), 1)
        scores.append(
            TrackScore(
                track=track,
                positives=len(positives),
                nulls=len(nulls),
                acc1=top1 / n_pos,
                r3=top3 / n_pos,
                acr=correct / n_pos,
                wpos=wrong / n_pos,
                far=false / max(len(nulls), 1),
                net=(correct - wrong - false) / max(len(items), 1),
            )
        )
    return scores


Interval = tuple[float, float]


def bootstrap(
    predictions: Iterable[Prediction], resamples: int = 2000, seed: int = 0
) -> dict[str, dict[str, Interval]]:
    """95% bootstrap intervals of ``net`` and ``far`` per track (queries resampled)."""
    by_track: dict[str, list[Prediction]] = {}
    for prediction in predictions:
        by_track.setdefault(prediction.query.track, []).append(prediction)
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Interval]] = {}
    for track, items in by_track.items():
        gain = np.array([_gain(p) for p in items], dtype=np.float64)
        null = np.array([not p.query.expected_ids for p in items])
        answered = np.array([p.answer is not None for p in items])
        picks = rng.integers(0, len(items), size=(resamples, len(items)))
        nets = gain[picks].mean(axis=1)
        nulls = null[picks].sum(axis=1)
        fars = (answered[picks] & null[picks]).sum(axis=1) / np.maximum(nulls, 1)
        out[track] = {
            "net": (float(np.percentile(nets, 2.5)), float(np.percentile(nets, 97.5))),
            "far": (float(np.percentile(fars, 2.5)), float(np.percentile(fars, 97.5))),
        }
    return out


def _gain(prediction: Prediction) -> int:
    """+1 for a right reply, -1 for a wrong reply or a reply to a null query, else 0."""
    if prediction.answer is None:
        return 0
    return 1 if prediction.answer in prediction.query.expected_ids else -1


def format_table(
    scores: Sequence[TrackScore], intervals: Mapping[str, Mapping[str, Interval]] | None = None
) -> str:
    """A Markdown table of track scores (with the net's 95% interval when given)."""
    header = TrackScore.HEADER + (("net 95% interval",) if intervals else ())
    rows = [header]
    for s in scores:
        row = s.row()
        if intervals:
            low, high = intervals[s.track]["net"]
            row = (*row, f"{low:.3f} to {high:.3f}")
        rows.append(row)
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(header))
    return "\n".join(lines)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
