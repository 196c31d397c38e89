"""The FAQ-matching benchmark: read its files, run the matcher per track, score the replies.

Format (see the benchmark's README): a YAML knowledge base with ``entries`` (``id``, ``track``,
``question``, ``alternate_phrasings``) and JSON-lines queries (``query``, ``track``,
``expected_ids``; an empty list or null ``expected_id`` means the KB has no answer). Each track is
evaluated against its own entries only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.knowledge.matcher import Decision, Matcher, MatchResult


class BenchmarkError(Exception):
    """The benchmark files are missing or not in the expected format."""


@dataclass(frozen=True)
class BenchmarkEntry:
    """One knowledge-base entry of a track."""

    id: str
    track: str
    phrasings: tuple[str, ...]


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
            for c in self.result.candidates[:candidates]
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
            entry = BenchmarkEntry(str(raw["id"]), str(raw["track"]), phrasings)
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


def run_benchmark(
    tracks: dict[str, list[BenchmarkEntry]],
    queries: Sequence[BenchmarkQuery],
    make_matcher: Callable[[], Matcher],
) -> list[Prediction]:
    """Match every query against its own track's entries; predictions in input order."""
    matchers: dict[str, Matcher] = {}
    fallbacks: dict[str, tuple[str, ...]] = {}
    for track, entries in tracks.items():
        matcher = make_matcher()
        for entry in entries:
            matcher.upsert(entry.id, entry.phrasings)
        matchers[track] = matcher
        fallbacks[track] = tuple(entry.id for entry in entries[:5])
    predictions = []
    for query in queries:
        matcher = matchers.get(query.track)
        if matcher is None:
            raise BenchmarkError(f"query track {query.track!r} has no entries in the KB")
        result = matcher.match(query.query, k=5)
        predictions.append(Prediction(query, result, fallbacks[query.track]))
    return predictions


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
            ids = [c.question_id for c in p.result.candidates]
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


def format_table(scores: Sequence[TrackScore]) -> str:
    """A Markdown table of track scores."""
    rows = [TrackScore.HEADER, *(s.row() for s in scores)]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(TrackScore.HEADER))
    return "\n".join(lines)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
