"""Fit the models Stampy ships, on the FAQ benchmark's whole dev split.

* ``bench/calibration/eval-dev.json``: one model per track (what ``stampy eval --model`` reads
  to score another split with exactly what shipped);
* ``answers/matching-model.json``: the stampy track's model (aisafety.info questions, most of
  them without an answer: the traffic closest to the shipped knowledge base's);
* ``bot/knowledge/default-model.json``: one model fitted on all three tracks together, for a
  knowledge base without a model file of its own.

Each holds both tiers: the model on words alone, and nested under ``semantic`` the model with
the semantic tier's cosine (so this needs ``stampy[semantic]``).

Run: python bench/calibration/fit_shipped.py [KB.yaml QUERIES.jsonl]   (default: ../shared/eval)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from dataclasses import replace  # noqa: E402

from bot.evaluation import Benchmark, load_benchmark_kb, load_queries, save_models  # noqa: E402
from bot.knowledge import semantic  # noqa: E402
from bot.knowledge.abstain import (  # noqa: E402
    FEATURES,
    SEMANTIC_FEATURES,
    AbstentionModel,
    features,
    fit,
)
from bot.knowledge.matcher import Matcher  # noqa: E402
from bot.knowledge.rerank import SEMANTIC_RANK_FEATURES, fit_ranker  # noqa: E402

SHARED_EVAL = ROOT.parent / "shared" / "eval"


def pooled(bench: Benchmark, names: tuple[str, ...]) -> AbstentionModel:
    """One model over every track's queries (with a re-ranker for the semantic tier, as
    :meth:`Benchmark.fit` fits per track)."""
    ranker = None
    if bench.semantic:
        ranker = fit_ranker(
            [s.ranked for s in bench.searched],
            [s.query.expected_ids for s in bench.searched],
            SEMANTIC_RANK_FEATURES,
        )
    lists = [(s, ranker.rerank(s.ranked) if ranker else list(s.ranked)) for s in bench.searched]
    decided = [
        (s, ranked)
        for s, ranked in lists
        if ranked and (ranked[0].shares_content or bench.semantic)
    ]
    model = fit(
        [features(ranked, names, ranker) for _, ranked in decided],
        [ranked[0].question_id in s.query.expected_ids for s, ranked in decided],
        fitted_on="dev split, all three tracks",
        names=names,
    )
    return replace(model, ranker=ranker)


def main(argv: list[str]) -> int:
    kb = argv[0] if argv else str(SHARED_EVAL / "kb.yaml")
    queries = argv[1] if len(argv) > 1 else str(SHARED_EVAL / "queries-dev.jsonl")
    tracks, labelled = load_benchmark_kb(kb), load_queries(queries)
    reason = semantic.unavailable()
    if reason is not None:
        print(f"fit_shipped: {reason} (the shipped files carry both tiers)", file=sys.stderr)
        return 2
    factory = semantic.index_factory(HERE.parent / "out" / "vectors.npz")
    lexical = Benchmark(tracks, labelled, Matcher)
    with_tier = Benchmark(tracks, labelled, lambda: Matcher(semantic=factory()))
    words, meaning = lexical.fit(), with_tier.fit()
    models = {track: replace(words[track], semantic=meaning[track]) for track in words}
    save_models(models, HERE / "eval-dev.json")
    stampy = replace(
        models["stampy"], fitted_on="dev split, stampy track (aisafety.info questions)"
    )
    stampy.save(ROOT / "answers" / "matching-model.json")
    default = replace(pooled(lexical, FEATURES), semantic=pooled(with_tier, SEMANTIC_FEATURES))
    default.save(ROOT / "bot" / "knowledge" / "default-model.json")
    for name, model in [*models.items(), ("all tracks", default)]:
        print(f"{name}: {model.examples} questions, answerable share {model.answerable_share:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
