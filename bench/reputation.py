"""Speed of the reputation ("stamps") solver at 10k, 100k and 1M people, against the dense solve.

Graphs are random and seeded: ``people`` snowflake-sized ids, ``10 * people`` stamps from a
uniformly random voter to a uniformly random votee (so cycles, and a few self-votes, which are
ignored), weighted 1 (stamp) or, one time in ten, 5 (gold stamp); repeated pairs merge as the
vote table does. Five people are the roots. ``compute_reputation`` (sparse, BiCGSTAB) is timed
from the votes mapping to the returned dict; at 1k and 5k people the dense reference
``dense_reputation`` (the original bot's ``numpy.linalg.solve`` formulation) runs on the same
graph in the same run, with the largest absolute difference between the two solvers' scores.

Run: python bench/reputation.py [--sizes 10000,100000,1000000] [--dense-sizes 1000,5000]
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np
from _common import machine, median, table, write_section

from bot.stamps.reputation import compute_reputation, dense_reputation, table_reputation
from bot.stamps.votes import VoteTable

VOTES_PER_PERSON = 10
ROOTS = 5
TARGETS = {100_000: 0.5, 1_000_000: 3.0}  # seconds, for the bot's path (the vote table)


def random_graph(people: int, seed: int) -> tuple[dict[tuple[int, int], float], list[int]]:
    """``(votes, roots)``: a seeded random stamp graph over snowflake-sized ids."""
    rng = np.random.default_rng(seed)
    ids = 10**17 + rng.choice(9 * 10**17, size=people, replace=False)
    count = VOTES_PER_PERSON * people
    voters = ids[rng.integers(0, people, count)].tolist()
    votees = ids[rng.integers(0, people, count)].tolist()
    weights = np.where(rng.random(count) < 0.1, 5.0, 1.0).tolist()
    votes: dict[tuple[int, int], float] = {}
    for pair, weight in zip(zip(voters, votees, strict=True), weights, strict=True):
        votes[pair] = votes.get(pair, 0.0) + weight
    return votes, ids[:ROOTS].tolist()


def timed(fn, runs: int) -> tuple[float, object]:
    """Median wall time over ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return median(times), result


def measure(people: int, runs: int, dense: bool, seed: int) -> list[str]:
    """One table row."""
    votes, roots = random_graph(people, seed)
    sparse_s, scores = timed(lambda: compute_reputation(votes, roots), runs)
    voters = np.fromiter((voter for voter, _ in votes), np.int64, len(votes))
    votees = np.fromiter((votee for _, votee in votes), np.int64, len(votes))
    weights = np.fromiter(votes.values(), np.float64, len(votes))
    started = time.perf_counter()
    table = VoteTable.from_arrays(voters, votees, weights)  # as the stamp book holds them
    load_s = time.perf_counter() - started
    del voters, votees, weights
    table_s, from_table = timed(lambda: table_reputation(table, roots), runs)
    agreement = max(abs(from_table.get(p) - s) for p, s in scores.items())
    dense_s = difference = "—"
    if dense:
        seconds, reference = timed(lambda: dense_reputation(votes, roots), runs)
        dense_s = f"{seconds:.3f}"
        difference = f"{max(abs(from_table.get(p) - reference[p]) for p in reference):.1e}"
    target = TARGETS.get(people)
    verdict = "—" if target is None else f"≤ {target:g} s: {'yes' if table_s <= target else 'NO'}"
    row = [
        f"{len(scores):,}",
        f"{len(votes):,}",
        str(runs),
        f"{table_s:.3f}",
        f"{load_s:.2f}",
        f"{sparse_s:.3f}",
        f"{sparse_s / table_s:.1f}x",
        f"{agreement:.1e}",
        dense_s,
        difference,
        verdict,
    ]
    print(row, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dense-sizes", default="1000,5000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    dense_sizes = [int(size) for size in args.dense_sizes.split(",") if size]
    sizes = [int(size) for size in args.sizes.split(",") if size]
    load_before = os.getloadavg()[0]
    rows = [measure(size, args.runs, True, args.seed) for size in dense_sizes]
    rows += [measure(size, args.runs, False, args.seed) for size in sizes]
    load_after = os.getloadavg()[0]
    header = [
        "people",
        "distinct votes",
        "runs",
        "table_reputation s (median)",
        "VoteTable.from_arrays s (once)",
        "compute_reputation s (median)",
        "speed-up",
        "max abs diff table vs dict",
        "dense_reputation s (median)",
        "max abs diff table vs dense",
        "target",
    ]
    body = "\n".join(
        [
            "## Reputation (stamps) solver",
            "",
            f"Machine: {machine()}",
            f"Command: `python bench/reputation.py --sizes {args.sizes} "
            f"--dense-sizes {args.dense_sizes} --runs {args.runs} --seed {args.seed}`",
            "",
            table(header, rows),
            "",
            f"Random graphs, {VOTES_PER_PERSON} stamps per person from a random voter to a random "
            f"votee (weight 1, or 5 one time in ten), snowflake-sized ids, {ROOTS} roots, damping "
            "0.99. `table_reputation` is what the bot runs: the votes as the stamp book holds "
            "them (a `VoteTable`: each pair's voter code, votee code and weight in arrays) in, "
            "a `Reputation` of score arrays out, timed end to end (copying the weights, the "
            "sparse CSR matrix and BiCGSTAB to a relative residual of 1e-12). The table keeps "
            "its pairs in votee order, the matrix's rows, so the matrix is built with no "
            "conversion: loading it in bulk (`VoteTable.from_arrays`, timed once beside) sorts "
            "them, and a table grown vote by vote sorts on its first solve and merges the new "
            "pairs in on later ones. "
            "`compute_reputation` is the same solve from a `(voter, votee) -> weight` dict to a "
            "dict, in the same run. `dense_reputation` is the original bot's dense "
            "`numpy.linalg.solve` formulation, O(n^3), on the same graphs in the same run; the "
            "`max abs diff` columns compare every person's score. "
            f"1-minute load average {load_before:.2f} at the start, {load_after:.2f} at the end "
            "(other work on the machine slows the 1M row most: it is memory-bound).",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("reputation", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
