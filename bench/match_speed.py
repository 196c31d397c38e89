"""Search latency and memory of the matcher at 1k, 10k and 100k questions.

Knowledge bases are built from the 1,817 real questions in the benchmark folder: each synthetic
question splices the start of one real question onto the end of another, and its 3 alternate
phrasings are further splices and word drops of the same pair, so vocabulary and lengths are
those of real traffic. Queries are the real questions themselves, a third of them with a typo.
The baseline is rapidfuzz ``process.extractOne`` (default scorer) over all phrasings, timed in
the same run on a sample of the same queries.

With ``stampy[semantic]`` installed the semantic tier is timed in the same run, at the sizes
in ``--semantic-sizes`` (default 1k and 10k: encoding 400,000 phrasings for 100k would take
most of an hour on one core); its phrasing vectors are cached in bench/out/, so a second run
encodes only the queries.

The compact index is checked against the matcher it replaced (``tests/reference_matcher.py``,
lists of tuples and of postings) at ``--compare-size``: both are built on the same knowledge
base and must rank every query alike (the same questions and phrasings, scores within 1e-9);
the reference's build time and memory are shown beside.

Run: python bench/match_speed.py [--sizes 1000,10000,100000] [--semantic-sizes 1000,10000]
     [--queries 1000] [--compare-size 10000] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time

from _common import HERE, SHARED_EVAL, machine, median, percentile, rss_mib, table, write_section
from rapidfuzz import process

from bot.knowledge import semantic
from bot.knowledge.matcher import Matcher


def real_questions() -> list[str]:
    path = SHARED_EVAL / "youtube-questions.jsonl"
    return [json.loads(line)["query"] for line in path.read_text().splitlines() if line.strip()]


def splice(rng: random.Random, a: str, b: str) -> str:
    wa, wb = a.split(), b.split()
    cut_a = rng.randint(max(1, len(wa) // 3), max(1, len(wa) - 1))
    cut_b = rng.randint(0, max(0, len(wb) // 2))
    return " ".join(wa[:cut_a] + wb[cut_b:])[:250]


def drop_words(rng: random.Random, text: str) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() > 0.2] or words[:1]
    return " ".join(kept)


def typo(rng: random.Random, text: str) -> str:
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) > 4]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    words[i] = w[:j] + w[j + 1 :]  # drop a letter
    return " ".join(words)


def build_kb(rng: random.Random, real: list[str], size: int) -> dict[str, list[str]]:
    kb = {}
    for n in range(size):
        a, b, c = rng.sample(real, 3)
        main = splice(rng, a, b)
        kb[f"q{n}"] = [main, splice(rng, a, c), drop_words(rng, main), splice(rng, b, a)]
    return kb


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1000)
    return out


def build(make, kb: dict[str, list[str]]):
    """A matcher from ``make()`` indexing ``kb`` one question at a time; its build seconds and
    the growth of resident memory (MiB)."""
    gc.collect()
    before = rss_mib()
    started = time.perf_counter()
    matcher = make()
    for qid, phrasings in kb.items():
        matcher.upsert(qid, phrasings)
    build_s = time.perf_counter() - started
    gc.collect()
    return matcher, build_s, rss_mib() - before


def compare(real: list[str], size: int, queries: list[str]) -> str:
    """Build the compact index and the reference on one knowledge base; rank every query with
    both. A sentence saying so, or SystemExit at the first difference."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from reference_matcher import Matcher as Reference

    kb = build_kb(random.Random(size), real, size)
    reference, reference_s, _ = build(Reference, kb)
    reference_rankings = [reference.search(q, k=8) for q in queries]
    del reference
    ours, ours_s, _ = build(Matcher, kb)
    for query, expected in zip(queries, reference_rankings, strict=True):
        got = ours.search(query, k=8)  # (the benchmark's questions have no answer text)
        same = [(c.question_id, c.phrasing) for c in got] == [
            (c.question_id, c.phrasing) for c in expected
        ] and all(
            abs(getattr(a, f) - getattr(b, f)) <= 1e-9
            for a, b in zip(got, expected, strict=True)
            for f in ("score", "lexical", "fuzzy", "query_coverage", "phrasing_coverage")
        )
        if not same:
            raise SystemExit(f"rankings differ for {query!r}:\n{got}\n{expected}")
    line = (
        f"Rankings identical on {len(queries)} queries at {size:,} questions (top 8: the same "
        "questions and phrasings, scores within 1e-9) between this index and the one it "
        f"replaced (`tests/reference_matcher.py`), which took {reference_s:.1f} s to build "
        f"in the same run (this one: {ours_s:.1f} s)."
    )
    print(line, flush=True)
    return line


def measure(
    seed: int, real: list[str], size: int, queries: list[str], baseline_queries: int
) -> list[str]:
    """One table row: build a knowledge base of ``size`` questions and time both matchers."""
    kb = build_kb(random.Random(seed), real, size)
    matcher, build_s, memory = build(Matcher, kb)
    for query in queries[:20]:  # warm caches (posting arrays) as a running bot would have
        matcher.match(f"{query} please")  # (other texts than those timed: match() keeps results)
    ours = timed(matcher.match, queries)
    everything = [p for ps in kb.values() for p in ps]
    base = timed(lambda q: process.extractOne(q, everything), queries[:baseline_queries])
    # Incremental update: replace one question and ask again, as a moderator edit would.
    update = timed(lambda n: matcher.upsert(f"q{n}", kb[f"q{n}"][::-1]), range(200))
    row = [
        f"{size:,}",
        f"{len(everything):,}",
        f"{median(ours):.2f}",
        f"{percentile(ours, 99):.2f}",
        f"{median(base):.1f}",
        f"{percentile(base, 99):.1f}",
        f"{median(base) / median(ours):.0f}x",
        f"{median(update):.3f}",
        f"{build_s:.1f}",
        f"{memory:.0f}",
    ]
    print(row, flush=True)
    return row


def measure_semantic(
    make_index, real: list[str], size: int, queries: list[str], seed: int
) -> list[str]:
    """One row for the semantic tier on the same knowledge base as the lexical row."""
    kb = build_kb(random.Random(seed), real, size)
    index = make_index()
    started = time.perf_counter()
    matcher = Matcher(semantic=index)
    for qid, phrasings in kb.items():
        matcher.upsert(qid, phrasings)
    build_s = time.perf_counter() - started
    index.save()
    for query in queries[:20]:  # (other texts than those timed: match() keeps results)
        matcher.match(f"{query} please")
    encode = timed(index.encode, queries)
    # How often a match reads every vector (the words' candidates can make it pointless).
    scans = 0
    nearest = index.nearest

    def counted(*args, **kwargs):
        nonlocal scans
        scans += 1
        return nearest(*args, **kwargs)

    index.nearest = counted
    ours = timed(matcher.match, queries)
    index.nearest = nearest
    vectors = [index.encode(q) for q in queries]
    scan = timed(lambda v: index.nearest(v, 5), vectors)
    agree = sum(
        [q for q, _, _ in index.nearest(v, 5)] == [q for q, _, _ in index.nearest(v, 5, exact=True)]
        for v in vectors
    )
    exact_scan = timed(lambda v: index.nearest(v, 5, exact=True), vectors)
    update = timed(lambda n: matcher.upsert(f"q{n}", [*kb[f"q{n}"], f"new wording {n}"]), range(50))
    row = [
        f"{size:,}",
        f"{sum(len(p) for p in kb.values()):,}",
        f"{median(ours):.2f}",
        f"{percentile(ours, 99):.2f}",
        f"{median(encode):.2f} / {percentile(encode, 99):.2f}",
        f"{median(scan):.2f}",
        f"{median(exact_scan):.2f}",
        f"{agree / len(vectors):.1%}",
        f"{scans / len(queries):.0%}",
        f"{median(update):.2f}",
        f"{build_s:.0f}",
    ]
    print(row, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--semantic-sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--baseline-queries", type=int, default=50)
    parser.add_argument("--compare-size", type=int, default=10_000)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10k and 100k only, 300 queries (10 for the baseline), no semantic tier",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.semantic_sizes, args.queries = "10000,100000", "", 300
        args.baseline_queries = 10
    load_before = os.getloadavg()[0]
    rng = random.Random(1817)
    real = real_questions()
    queries = [typo(rng, q) if i % 3 == 0 else q for i, q in enumerate(rng.sample(real, len(real)))]
    queries = (queries * (args.queries // len(queries) + 1))[: args.queries]
    # The same knowledge base per size for both tiers (its seed is the size).
    rows = [
        measure(int(size), real, int(size), queries, args.baseline_queries)
        for size in args.sizes.split(",")
    ]
    compared = compare(real, args.compare_size, queries) if args.compare_size else ""
    reason = semantic.unavailable()
    semantic_rows = []
    if reason is None and args.semantic_sizes:
        for size in args.semantic_sizes.split(","):
            # A vector cache per size: saving keeps only the vectors indexed, so one file
            # shared by the sizes would lose each size's vectors to the next.
            make_index = semantic.index_factory(HERE / "out" / f"speed-vectors-{int(size)}.npz")
            semantic_rows.append(measure_semantic(make_index, real, int(size), queries, int(size)))
    header = [
        "questions",
        "phrasings",
        "match p50 ms",
        "match p99 ms",
        "extractOne p50 ms",
        "extractOne p99 ms",
        "speed-up (p50)",
        "upsert p50 ms",
        "build s",
        "index MiB",
    ]
    body = "\n".join(
        [
            "## Match speed",
            "",
            f"Machine: {machine()}",
            f"Command: `python bench/match_speed.py --sizes {args.sizes} --semantic-sizes "
            f"'{args.semantic_sizes}' --queries {args.queries} --compare-size "
            f"{args.compare_size}`; 1-minute load average {load_before:.2f} at the start, "
            f"{os.getloadavg()[0]:.2f} at the end",
            "",
            "### Lexical tier",
            "",
            table(header, rows),
            "",
            "### Semantic tier",
            "",
            table(
                [
                    "questions",
                    "phrasings",
                    "match p50 ms",
                    "match p99 ms",
                    "query encode p50 / p99 ms",
                    "whole-KB scan p50 ms",
                    "exact scan p50 ms",
                    "same top 5 as exact",
                    "matches that scan",
                    "add a phrasing p50 ms",
                    "build s (encoding)",
                ],
                semantic_rows,
            )
            if semantic_rows
            else f"Not measured: {reason or 'no --semantic-sizes'}.",
            "",
            "Semantic `match` = encoding the query on one thread, the word search, the cosine "
            "to the word candidates, the closest questions over the whole knowledge base, and "
            "the decision. `whole-KB scan`: that last search alone, skipped (`matches that "
            "scan`) when the word candidates already outscore what a cosine alone could "
            "reach; up to "
            f"{semantic.EXACT_ROWS:,} phrasings it computes every cosine, beyond it scans "
            f"the vectors' {semantic.PROJECTION} main directions and computes the exact "
            f"cosine of the {semantic.SHORTLIST:,} best rows; `exact scan` computes every "
            "cosine, and `same top 5 as exact` is how often both name the same five "
            "questions in the same order (same queries, same run). "
            "`add a phrasing` upserts a question with one new phrasing (only it is "
            "encoded). `build s` encodes every phrasing once; its vectors are then cached.",
            "",
            f"`match` = search (k=5) plus the decision, over {args.queries} real questions "
            f"(a third with a dropped letter; {len(set(queries)):,} different texts, and "
            "`match` keeps its last results only for a text asked again); the baseline is "
            "rapidfuzz `process.extractOne` "
            "with its default scorer over every phrasing, on the first "
            f"{args.baseline_queries} of the same queries, in the same run. `upsert` replaces "
            "one question's phrasings in the live index. `index MiB` is the growth of "
            "resident memory while building.",
            "",
            compared,
        ]
    )
    print(body)
    if not args.no_write:
        write_section("match_speed", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
