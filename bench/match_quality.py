"""Match quality on the FAQ benchmark's dev split, per track, beside the reference methods.

Every figure is out of fold: the queries of each track are dealt into 5 folds, the abstention
model is fitted on 4 and decides the 5th, and the five left-out folds together give the
figures, with a 95% bootstrap interval of the net. Nothing is fitted on the queries it scores.
How the queries are dealt into folds moves a track's net by a point or two, so the net is also
given as the mean (and range) over ``DEALS`` different deals.

Run: python bench/match_quality.py [KB.yaml QUERIES.jsonl]   (default: ../shared/eval)
Prints a table and writes it to bench/RESULTS.md.
"""

from __future__ import annotations

import sys
import time

from _common import HERE, SHARED_EVAL, machine, table, write_section

from bot.config import load_settings
from bot.evaluation import Benchmark, bootstrap, load_benchmark_kb, load_queries, score
from bot.knowledge import semantic
from bot.knowledge.matcher import Matcher

# The benchmark README's reference rows (top-1 accuracy, whole benchmark, no abstention).
REFERENCE = {
    "rapidfuzz WRatio": {"stampy": 0.59, "stackfaq": 0.05, "covidfaq": 0.18},
    "rapidfuzz token_set_ratio": {"stampy": 0.74, "stackfaq": 0.68, "covidfaq": 0.40},
    "difflib ratio": {"stampy": 0.63, "stackfaq": 0.55, "covidfaq": 0.43},
    "BM25": {"stampy": 0.78, "stackfaq": 0.74, "covidfaq": 0.55},
    "all-MiniLM-L6-v2": {"stampy": 0.74, "stackfaq": 0.97, "covidfaq": 0.58},
}


FOLDS = 5
DEALS = 10  # fold deals (seeds 0 .. DEALS - 1) the mean net is taken over


def reference_net(acc1: float, positives: int, nulls: int) -> float:
    """Net of a method that always answers: right on acc1 of positives, wrong otherwise."""
    right = acc1 * positives
    return (right - (positives - right) - nulls) / (positives + nulls)


def _spread(nets: list[float]) -> str:
    """Mean and range of a track's net over the fold deals."""
    return f"{sum(nets) / len(nets):.3f} ({min(nets):.3f} to {max(nets):.3f})"


def main(argv: list[str]) -> int:
    kb_path = argv[0] if argv else str(SHARED_EVAL / "kb.yaml")
    queries_path = argv[1] if len(argv) > 1 else str(SHARED_EVAL / "queries-dev.jsonl")
    thresholds = load_settings(env={}).matching
    tracks = load_benchmark_kb(kb_path)
    queries = load_queries(queries_path)
    tiers: dict[str, tuple[float, list]] = {}
    dealt: dict[str, dict[str, list[float]]] = {}
    makers = {"lexical": lambda: Matcher(thresholds)}
    reason = semantic.unavailable()
    if reason is None:
        factory = semantic.index_factory(HERE / "out" / "vectors.npz")
        makers["semantic"] = lambda: Matcher(thresholds, semantic=factory())
    for tier, make in makers.items():
        started = time.perf_counter()
        bench = Benchmark(tracks, queries, make)
        per_query_ms = (time.perf_counter() - started) * 1000 / len(queries)
        tiers[tier] = (per_query_ms, bench.cross_validate(FOLDS))
        nets: dict[str, list[float]] = {}
        for seed in range(DEALS):
            for row in score(bench.cross_validate(FOLDS, seed=seed)):
                nets.setdefault(row.track, []).append(row.net)
        dealt[tier] = nets
    sections = [
        f"Machine: {machine()}",
        "Command: `python bench/match_quality.py` (the same figures as "
        f"`stampy eval KB QUERIES --folds {FOLDS}`, and with `--semantic`)",
        "",
    ]
    if reason is not None:
        sections += [f"Semantic tier not measured: {reason}.", ""]
    scored = {tier: score(predictions) for tier, (_, predictions) in tiers.items()}
    intervals = {tier: bootstrap(predictions) for tier, (_, predictions) in tiers.items()}
    for position, result in enumerate(scored["lexical"]):
        rows = []
        for tier in tiers:
            mine = scored[tier][position]
            low, high = intervals[tier][mine.track]["net"]
            far_low, far_high = intervals[tier][mine.track]["far"]
            rows.append(
                [
                    f"**stampy, {tier} (out of fold)**",
                    *mine.row()[3:],
                    f"{low:.3f} to {high:.3f}",
                    f"{far_low:.3f} to {far_high:.3f}",
                    _spread(dealt[tier][mine.track]),
                ]
            )
        for name, accs in REFERENCE.items():
            acc = accs[result.track]
            net = reference_net(acc, result.positives, result.nulls)
            rows.append([name, f"{acc:.2f}", "", "", "", "1.000", f"{net:.3f}", "", "", ""])
        sections.append(
            f"### {result.track} ({result.positives} positive, {result.nulls} null queries)\n"
        )
        sections.append(
            table(
                [
                    "method",
                    "acc@1",
                    "r@3",
                    "answered-correct",
                    "wrong",
                    "far",
                    "net",
                    "net 95% interval",
                    "far 95% interval",
                    f"net over {DEALS} fold deals",
                ],
                rows,
            )
        )
        sections.append("")
    sections.append(
        "Mean time per query (index build and search): "
        + ", ".join(f"{tier} {ms:.2f} ms" for tier, (ms, _) in tiers.items())
        + ". Reference rows "
        "are the benchmark README's top-1 accuracies; they never abstain, so their `far` is 1 "
        "and their `net` follows from acc@1 (every positive answered, right or wrong, and "
        "every null answered). The other columns are from fold deal 0; the last gives the "
        f"net's mean and range over fold deals 0 to {DEALS - 1}."
    )
    body = "## Match quality (dev split)\n\n" + "\n".join(sections)
    print(body)
    write_section("match_quality", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
