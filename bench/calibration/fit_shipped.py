"""Fit the models Stampy ships, on the FAQ benchmark's whole dev split.

* ``bench/calibration/eval-dev.json``: one model per track (what ``stampy eval --model`` reads
  to score another split with exactly what shipped);
* ``answers/matching-model.json``: the stampy track's model (aisafety.info questions, most of
  them without an answer: the traffic closest to the shipped knowledge base's);
* ``bot/knowledge/default-model.json``: one model fitted on all three tracks together, for a
  knowledge base without a model file of its own.

Run: python bench/calibration/fit_shipped.py [KB.yaml QUERIES.jsonl]   (default: ../shared/eval)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluation import Benchmark, load_benchmark_kb, load_queries, save_models  # noqa: E402
from bot.knowledge.abstain import features, fit  # noqa: E402
from bot.knowledge.matcher import Matcher  # noqa: E402

SHARED_EVAL = ROOT.parent / "shared" / "eval"


def main(argv: list[str]) -> int:
    kb = argv[0] if argv else str(SHARED_EVAL / "kb.yaml")
    queries = argv[1] if len(argv) > 1 else str(SHARED_EVAL / "queries-dev.jsonl")
    bench = Benchmark(load_benchmark_kb(kb), load_queries(queries), Matcher)
    models = bench.fit()
    save_models(models, HERE / "eval-dev.json")
    stampy = models["stampy"]
    stampy = type(stampy)(
        **{**stampy.__dict__, "fitted_on": "dev split, stampy track (aisafety.info questions)"}
    )
    stampy.save(ROOT / "answers" / "matching-model.json")
    decided = [s for s in bench.searched if s.decided_by_model]
    pooled = fit(
        [features(s.ranked) for s in decided],
        [s.top_right for s in decided],
        fitted_on="dev split, all three tracks",
    )
    pooled.save(ROOT / "bot" / "knowledge" / "default-model.json")
    for name, model in [*models.items(), ("all tracks", pooled)]:
        print(f"{name}: {model.examples} questions, answerable share {model.answerable_share:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
