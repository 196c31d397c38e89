"""Reputation scores: hand-computed graphs, agreement with the dense reference, edge cases."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stamps.reputation import (
    _index_votes,
    _solve,
    compute_reputation,
    dense_reputation,
    prepare_reputation,
    table_reputation,
)
from bot.stamps.votes import VoteTable

G = 0.99
A, B, C, D, X, Y = 1, 2, 3, 4, 5, 6


def assert_scores(actual: dict[int, float], expected: dict[int, float], tol: float = 1e-9) -> None:
    assert set(actual) == set(expected)
    for person, score in expected.items():
        assert actual[person] == pytest.approx(score, abs=tol), person


def both(votes, roots, damping=G):
    """The sparse result, after checking that the dense reference agrees with it."""
    sparse = compute_reputation(votes, roots, damping)
    assert_scores(dense_reputation(votes, roots, damping), sparse)
    return sparse


def random_votes(
    seed: int, people: int, per_person: float, ids=None
) -> dict[tuple[int, int], float]:
    """Random stamps, with self-votes, cycles, gold stamps (5) and a few non-positive weights."""
    rng = np.random.default_rng(seed)
    ids = np.arange(people) if ids is None else ids
    count = int(people * per_person)
    voters, votees = rng.integers(0, people, count), rng.integers(0, people, count)
    weights = rng.choice([1.0, 1.0, 2.0, 3.0, 5.0, 0.0, -1.0], count)
    return {
        (int(ids[a]), int(ids[b])): float(w)
        for a, b, w in zip(voters, votees, weights, strict=True)
    }


# --- closed forms -----------------------------------------------------------------------------


def test_a_root_alone_gets_the_damped_root_vote():
    assert both({}, [A]) == {A: pytest.approx(G)}


def test_votes_split_in_proportion():
    # root -> A; A stamps B twice and C once; B and C vote for nobody
    scores = both({(A, B): 2.0, (A, C): 1.0}, [A])
    assert_scores(scores, {A: G, B: G * G * 2 / 3, C: G * G / 3}, tol=1e-12)


def test_two_roots_share_the_root_score():
    # the root votes once for each of A and B; B splits 3:1 between C and D; A votes C
    scores = both({(A, C): 1.0, (B, C): 3.0, (B, D): 1.0}, [A, B])
    half = G / 2
    expected = {A: half, B: half, C: G * half + G * half * 3 / 4, D: G * half / 4}
    assert_scores(scores, expected, tol=1e-12)


def test_chain_of_trust_decays():
    scores = both({(A, B): 1.0, (B, C): 1.0, (C, D): 1.0}, [A])
    assert_scores(scores, {A: G, B: G**2, C: G**3, D: G**4}, tol=1e-12)


def test_two_person_cycle_is_finite():
    # a = G + G b, b = G a
    scores = both({(A, B): 1.0, (B, A): 1.0}, [A])
    assert_scores(scores, {A: G / (1 - G * G), B: G * G / (1 - G * G)})
    assert all(math.isfinite(score) for score in scores.values())


def test_a_voter_passes_on_only_a_damped_share_of_their_score():
    # A gets votes from B and C, who are both trusted; A votes back for B
    scores = both({(B, A): 1.0, (C, A): 1.0, (A, B): 1.0}, [B, C])
    # a = G b + G c, b = G/2 + G a, c = G/2
    c = G / 2
    a = (G * G / 2 + G * c) / (1 - G * G)
    assert_scores(scores, {A: a, B: G / 2 + G * a, C: c}, tol=1e-12)


@pytest.mark.parametrize("size", [7, 500])
def test_ring_closed_form(size):
    # everyone stamps the next person round a ring; person 0 is the root: s_i = G^(i+1)/(1-G^n)
    votes = {(i, (i + 1) % size): 1.0 for i in range(size)}
    scores = compute_reputation(votes, [0])
    expected = {i: G ** (i + 1) / (1 - G**size) for i in range(size)}
    assert_scores(scores, expected)


def test_people_who_vote_for_nobody_keep_their_share_out_of_circulation():
    # B votes for nobody: nothing flows on from B (no PageRank-style redistribution)
    scores = both({(A, B): 1.0, (C, D): 1.0}, [A])
    assert scores == {A: pytest.approx(G), B: pytest.approx(G * G), C: 0.0, D: 0.0}


# --- cleaning and edge cases ------------------------------------------------------------------


def test_self_votes_are_ignored_like_the_original():
    # a self-vote neither adds to A's score nor dilutes A's vote for B
    scores = both({(A, A): 5.0, (A, B): 1.0}, [A])
    assert_scores(scores, {A: G, B: G * G}, tol=1e-12)


def test_a_self_loop_only_person():
    assert both({(A, A): 3.0}, [A]) == {A: pytest.approx(G)}
    assert both({(A, A): 3.0}, []) == {A: 0.0}


def test_people_unreachable_from_the_roots_score_exactly_zero():
    votes = {(A, B): 1.0, (X, Y): 10.0, (Y, X): 10.0, (X, A): 1.0}
    scores = both(votes, [A])
    assert scores[X] == 0.0 and scores[Y] == 0.0  # exactly, not just small
    assert_scores(scores, {A: G, B: G * G, X: 0.0, Y: 0.0}, tol=1e-12)


def test_empty_graph():
    assert compute_reputation({}, []) == {}
    assert dense_reputation({}, []) == {}
    assert both({}, [A, B]) == {A: pytest.approx(G / 2), B: pytest.approx(G / 2)}


def test_no_roots_means_everyone_scores_zero():
    votes = random_votes(1, 40, 3)
    scores = both(votes, [])
    assert set(scores) == {person for pair in votes for person in pair}
    assert set(scores.values()) == {0.0}


def test_duplicate_roots_count_once():
    votes = {(A, C): 1.0, (B, C): 1.0, (C, D): 1.0}
    assert both(votes, [A, A, B, A]) == both(votes, [A, B])


def test_non_positive_and_non_finite_weights_are_ignored():
    votes = {
        (A, B): 1.0,
        (A, C): 0.0,
        (A, D): -2.0,
        (A, X): math.nan,
        (A, Y): math.inf,
    }
    scores = both(votes, [A])
    assert_scores(scores, {A: G, B: G * G, C: 0.0, D: 0.0, X: 0.0, Y: 0.0}, tol=1e-12)


def test_snowflake_and_huge_ids_are_only_keys():
    small = random_votes(2, 60, 4)
    roots = [0, 5]
    reference = compute_reputation(small, roots)
    for offset in (10**18, -(10**18), 2**70):  # snowflakes, negative, and beyond 64 bits
        shifted = {(a + offset, b + offset): w for (a, b), w in small.items()}
        scores = compute_reputation(shifted, [r + offset for r in roots])
        assert_scores(scores, {person + offset: s for person, s in reference.items()}, tol=1e-12)


def test_any_mapping_is_accepted():
    votes = {(A, B): 2.0, (A, C): 1.0}
    assert compute_reputation(types.MappingProxyType(votes), iter([A])) == compute_reputation(
        votes, [A]
    )


def test_damping_is_validated_and_used():
    votes = random_votes(3, 50, 3)
    both(votes, [0, 1], damping=0.5)
    assert set(both(votes, [0], damping=0.0).values()) == {0.0}
    for bad in (1.0, 1.5, -0.1, math.nan):
        with pytest.raises(ValueError):
            compute_reputation(votes, [0], damping=bad)
        with pytest.raises(ValueError):
            dense_reputation(votes, [0], damping=bad)


# --- agreement with the dense reference -------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "people", "per_person"),
    [(0, 50, 1.0), (1, 120, 2.5), (2, 200, 4.0), (3, 300, 10.0), (4, 300, 0.8), (5, 77, 6.0)],
)
def test_sparse_matches_dense_on_random_graphs(seed, people, per_person):
    rng = np.random.default_rng(100 + seed)
    ids = rng.integers(10**17, 10**18, people)  # snowflake-sized
    votes = random_votes(seed, people, per_person, ids)
    roots = [int(person) for person in rng.choice(ids, 5)]  # may repeat
    scores = both(votes, roots)
    assert min(scores.values()) >= 0.0
    assert sum(scores.values()) <= G / (1 - G) + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    votes=st.dictionaries(
        st.tuples(st.integers(0, 9), st.integers(0, 9)),
        st.sampled_from([1.0, 2.0, 5.0, 0.5, 0.0, -1.0]),
        max_size=40,
    ),
    roots=st.lists(st.integers(0, 12), max_size=4),
    damping=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
)
def test_sparse_matches_dense_on_any_small_graph(votes, roots, damping):
    scores = both(votes, roots, damping)
    assert set(scores) == {person for pair in votes for person in pair} | set(roots)
    assert all(score >= 0.0 for score in scores.values())


def test_the_fixed_point_fallback_agrees_with_the_dense_reference():
    votes = random_votes(7, 150, 3)
    ids, root_codes, src, dst, weight = _index_votes(votes, [0, 1, 2])
    forced = _solve(len(ids), root_codes, src, dst, weight, G, max_products=2)
    assert_scores(dict(zip(ids, forced.tolist(), strict=True)), dense_reputation(votes, [0, 1, 2]))


def test_a_large_random_graph_finishes_and_solves_the_equations():
    people, per_person = 20_000, 10
    rng = np.random.default_rng(11)
    voters = rng.integers(0, people, people * per_person)
    votees = rng.integers(0, people, people * per_person)
    weights = rng.choice([1.0, 5.0], people * per_person)
    votes = {(int(a), int(b)): float(w) for a, b, w in zip(voters, votees, weights, strict=True)}
    roots = [0, 1, 2, 3, 4]
    scores = compute_reputation(votes, roots)

    # check score(i) = root share + sum_j G * w(j -> i) / W(j) * score(j) independently
    src = np.array([a for a, b in votes if a != b])
    dst = np.array([b for a, b in votes if a != b])
    w = np.array([v for (a, b), v in votes.items() if a != b])
    s = np.array([scores.get(i, 0.0) for i in range(people)])
    handed_out = np.bincount(src, weights=w, minlength=people)
    expected = np.zeros(people)
    np.add.at(expected, dst, G * w / handed_out[src] * s[src])
    expected[roots] += G / len(roots)
    assert np.max(np.abs(expected - s)) < 1e-9
    assert min(scores.values()) >= 0.0


# --- from the vote table ----------------------------------------------------------------------


def table_of(events: list[tuple[int, int, float]]) -> VoteTable:
    table = VoteTable()
    for voter, votee, weight in events:
        table.add(voter, votee, weight)
    return table


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_vote_table_solves_like_the_dense_reference(seed):
    rng = np.random.default_rng(seed)
    ids = 10**17 + rng.choice(9 * 10**17, size=300, replace=False)
    # stamps given and taken back one at a time, as the bot sees them
    events = [
        (int(ids[a]), int(ids[b]), float(w))
        for a, b, w in zip(
            rng.integers(0, 300, 3000),
            rng.integers(0, 300, 3000),
            rng.choice([1.0, 1.0, 5.0, -1.0], 3000),
            strict=True,
        )
    ]
    table = table_of(events)
    votes: dict[tuple[int, int], float] = {}
    for voter, votee, weight in events:
        votes[(voter, votee)] = votes.get((voter, votee), 0.0) + weight
    assert table.to_dict() == {pair: w for pair, w in votes.items() if w > 0}
    roots = [int(ids[0]), int(ids[1]), 42]  # 42 gave and got nothing: a root all the same
    scores = table_reputation(table, roots)
    assert_scores(dict(scores.items()), dense_reputation(votes, roots))
    assert scores.get(42) == pytest.approx(G / 3, abs=1e-12)
    assert scores.get(7) == 0.0 and 7 not in scores
    ranked = sorted(dense_reputation(votes, roots).items(), key=lambda p: (-p[1], p[0]))
    assert [p for p, _ in scores.top(10)] == [p for p, _ in ranked[:10]]
    assert scores.max() == pytest.approx(ranked[0][1], abs=1e-9)


def test_votes_given_after_the_solve_was_prepared_are_not_in_it():
    table = table_of([(A, B, 1.0), (B, C, 1.0)])
    solve = prepare_reputation(table, [A])
    table.add(A, B, -1.0)  # taken back, and a newcomer, while the solve waits for a thread
    table.add(A, D, 5.0)
    before = solve()
    assert_scores(dict(before.items()), dense_reputation({(A, B): 1.0, (B, C): 1.0}, [A]))
    assert D not in before and before.get(D) == 0.0
    after = table_reputation(table, [A])
    assert_scores(dict(after.items()), dense_reputation({(A, D): 5.0, (B, C): 1.0}, [A]))


def test_an_empty_table_and_no_roots():
    assert len(table_reputation(VoteTable(), [])) == 0
    assert table_reputation(VoteTable(), []).top(3) == []
    scores = table_reputation(table_of([(A, B, 1.0)]), [])
    assert dict(scores.items()) == {A: 0.0, B: 0.0} and scores.top(3) == []


def test_a_table_solved_again_as_it_grows_solves_like_the_dense_reference():
    # Each solve reuses the order of the pairs the last one sorted, merging in the new pairs:
    # newcomers, new pairs between known people, and pairs taken back to nothing.
    rng = np.random.default_rng(21)
    ids = [int(person) for person in 10**17 + rng.choice(9 * 10**17, size=120, replace=False)]
    roots = ids[:3]
    table, votes = VoteTable(), {}
    for people in (40, 40, 80, 120, 120):
        for a, b, w in zip(
            rng.integers(0, people, 150),
            rng.integers(0, people, 150),
            rng.choice([1.0, 5.0, -1.0], 150),
            strict=True,
        ):
            table.add(ids[a], ids[b], float(w))
            votes[(ids[a], ids[b])] = votes.get((ids[a], ids[b]), 0.0) + float(w)
        scores = table_reputation(table, roots)
        assert_scores(dict(scores.items()), dense_reputation(votes, roots))


def test_a_table_loaded_in_bulk_solves_like_one_built_vote_by_vote():
    rng = np.random.default_rng(5)
    votes = random_votes(5, 200, 4.0, rng.integers(10**17, 10**18, 200))
    roots = [next(iter(votes))[0]]
    pairs = list(votes)
    loaded = VoteTable.from_arrays(
        np.array([a for a, _ in pairs]),
        np.array([b for _, b in pairs]),
        np.array(list(votes.values())),
    )
    assert loaded.to_dict() == {pair: w for pair, w in votes.items() if w > 0}
    assert_scores(dict(table_reputation(loaded, roots).items()), dense_reputation(votes, roots))
    loaded.add(pairs[0][1], 7, 2.0)  # a newcomer after the bulk load
    votes[(pairs[0][1], 7)] = 2.0
    assert_scores(dict(table_reputation(loaded, roots).items()), dense_reputation(votes, roots))
    with pytest.raises(ValueError, match="twice"):
        VoteTable.from_arrays(np.array([1, 1]), np.array([2, 2]), np.array([1.0, 1.0]))


def test_a_solve_prepared_before_a_later_one_ran_still_sees_only_its_votes():
    table = table_of([(B, C, 1.0), (A, B, 1.0)])
    solve = prepare_reputation(table, [A])
    table.add(A, D, 5.0)
    table.add(A, C, 1.0)
    after = table_reputation(table, [A])  # sorts all four pairs first
    before = solve()
    assert_scores(dict(before.items()), dense_reputation({(A, B): 1.0, (B, C): 1.0}, [A]))
    expected = dense_reputation({(A, B): 1.0, (B, C): 1.0, (A, D): 5.0, (A, C): 1.0}, [A])
    assert_scores(dict(after.items()), expected)
