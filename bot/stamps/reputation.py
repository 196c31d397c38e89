"""Reputation ("stamps") from the stamp reactions members give each other.

Formulation
-----------
This follows the scoring of the original Stampy bot (github.com/StampyAI/stampy,
``modules/stampcollection.py``, ``StampsModule.calculate_stamps`` and ``update_vote``, with the
vote table helpers in ``utilities/utilities.py``), re-derived here rather than copied:

* Every stamp a member gives another member's message is a vote of some weight (the original
  counts a ``stamp`` as 1 and a ``goldstamp`` as 5; removing a reaction subtracts it again). All
  of one person's votes for another add up to a single weight ``w(j -> i)``, and ``W(j)`` is the
  total weight person ``j`` has handed out.
* A virtual root person (the original's "god", user id 0, at index 0 of its matrix) holds a score
  of exactly 1 and votes once for each trusted person. In the original that is a single vote for
  the server owner, written into the vote table whenever the votes are reset; here the trusted
  people are the ``roots`` argument, and the root gives each of them one vote.
* Every person passes on a damped share of their own score to the people they voted for, in
  proportion to their votes; a person's score is everything they receive::

      score(i) = sum over voters j of  damping * w(j -> i) / W(j) * score(j)

  with ``damping`` = 0.99 (the original's ``gamma``; it was 1.0 until October 2022). The root's
  own votes are damped too, so with ``k`` roots each root receives ``damping / k`` from it.
* People who vote for nobody pass nothing on: their share simply leaves the system (it is not
  spread over everyone as PageRank does with dangling nodes). People no chain of votes from a root
  reaches score exactly 0, whatever they gave each other.
* Votes for yourself do nothing: the original drops them before they are recorded (its
  ``update_vote`` returns early when the voter is the author), so they count neither as a vote
  received nor in the voter's total ``W``. The same holds for votes for the bot itself, which is
  up to the caller.
* The original displays ``score * (total weight of all member votes)`` as "stamps" (its
  ``get_user_stamps``); multiply by that total to show the same number.

Written as a linear system this is ``(I - damping * P^T) s = b`` where ``P[j, i] = w(j -> i) /
W(j)`` and ``b`` is ``damping / k`` on each root. The original builds it as one dense matrix (row
``to``, column ``from``, diagonal -1, the root's row fixed to ``score(root) = 1``) and calls
``numpy.linalg.solve``: O(n^3) time and O(n^2) memory. It can also fail with "Singular matrix":
with damping 1.0 (before October 2022) any group whose members all vote, and only for each
other, makes the matrix singular; and since the stored weights are net counts, a pair with a
negative net weight (a stamp removed that the table never saw added) gives shares above 1 or
below 0, which can make it singular or badly conditioned and scores negative, at any damping.

Here the same system is built as a scipy sparse (CSR) matrix, ``votes^T @ diag(damping / W)``:
the matrix holds the weights as they are and every product scales the vector by ``damping / W``
first. From a vote table the pairs come grouped by votee already (:meth:`VoteTable.sorted_slots`),
so they are the matrix's rows with no conversion. It is solved iteratively with
BiCGSTAB, a Krylov method (starting from zero, so unreachable people stay exactly 0); about 35
sparse matrix-vector products reach a relative residual of 1e-12 on random graphs. Every column
of ``damping * P^T`` sums to at most ``damping`` < 1, so the system always has a unique
non-negative solution and the plain fixed-point iteration ``s <- b + damping * P^T s`` contracts by
``damping`` per step in the 1-norm (about 2,750 steps for 1e-12 at 0.99): that iteration, capped,
is the fallback when BiCGSTAB breaks down or stalls, as it does on long rings or chains of votes.

Differences from the original, on purpose: non-positive and non-finite weights are ignored (the
original would use a negative net weight as it is); ``damping`` must be in [0, 1); ``roots`` is
an argument instead of a hard-coded owner id; duplicate roots count once.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter

import numpy as np
import scipy.sparse as sp

from bot.stamps.votes import Reputation, VoteTable

__all__ = [
    "DEFAULT_DAMPING",
    "compute_reputation",
    "dense_reputation",
    "prepare_reputation",
    "table_reputation",
]

DEFAULT_DAMPING = 0.99
"""The original's ``gamma``: the share of a person's score passed on through their votes."""

_RTOL = 1e-12  # residual tolerance relative to the right-hand side
_KRYLOV_MAX_PRODUCTS = 400  # matrix-vector products before falling back to the fixed point
_FIXED_POINT_MAX_ITER = 20_000
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio (Fibonacci hashing)
_CHUNK = 1 << 18

_log = logging.getLogger(__name__)

Votes = Mapping[tuple[int, int], float]


def compute_reputation(
    votes: Votes,
    roots: Iterable[int],
    damping: float = DEFAULT_DAMPING,
) -> dict[int, float]:
    """Every person's reputation score, solved sparsely (see the module docstring).

    Args:
        votes: ``(voter, votee) -> total weight`` the voter gave the votee. Self-votes and
            non-positive or non-finite weights are ignored. Ids may be any ints (Discord
            snowflakes included); they are only used as keys.
        roots: the trusted people trust flows from (guild owner, moderators); duplicates count
            once. With no roots everyone scores 0.
        damping: share of a score passed on through votes, in [0, 1).

    Returns:
        ``person -> score`` for every person appearing in ``votes`` or ``roots``: non-negative,
        summing to at most ``damping / (1 - damping)``; people no chain of votes from a root
        reaches get exactly 0.0.

    Runs in about O(votes) time and memory plus a few dozen sparse matrix-vector products.
    """
    _check_damping(damping)
    ids, root_codes, src, dst, weight = _index_votes(votes, roots)
    if not ids:
        return {}
    scores = _solve(len(ids), root_codes, src, dst, weight, damping)
    return dict(zip(ids, scores.tolist(), strict=True))


def dense_reputation(
    votes: Votes,
    roots: Iterable[int],
    damping: float = DEFAULT_DAMPING,
) -> dict[int, float]:
    """Reference implementation: the original's dense matrix and ``numpy.linalg.solve``.

    Same inputs, cleaning and result as :func:`compute_reputation`. The matrix has the original's
    layout: index 0 is the root ("god"), people follow in increasing id order; entry ``[to,
    from]`` holds ``damping * w(from -> to) / W(from)``, the root's votes included; the diagonal
    is -1 except ``[0, 0] = 1``, and the right-hand side is 1 at index 0, 0 elsewhere.

    O(n^3) time and O(n^2) memory: for tests and benchmarks only, not for real servers.
    """
    _check_damping(damping)
    root_ids = list(dict.fromkeys(roots))
    people = sorted({person for pair in votes for person in pair}.union(root_ids))
    index = {person: position + 1 for position, person in enumerate(people)}
    kept = {
        (voter, votee): float(weight)
        for (voter, votee), weight in votes.items()
        if voter != votee and math.isfinite(weight) and weight > 0
    }
    given: dict[int, float] = {}
    for (voter, _), weight in kept.items():
        given[voter] = given.get(voter, 0.0) + weight
    size = len(people) + 1
    matrix = np.zeros((size, size))
    for (voter, votee), weight in kept.items():
        matrix[index[votee], index[voter]] = damping * weight / given[voter]
    for root in root_ids:
        matrix[index[root], 0] = damping / len(root_ids)
    matrix[np.arange(1, size), np.arange(1, size)] = -1.0
    matrix[0, 0] = 1.0
    rhs = np.zeros(size)
    rhs[0] = 1.0  # the root holds a score of 1
    solution = np.linalg.solve(matrix, rhs)
    return {person: float(solution[index[person]]) + 0.0 for person in people}  # no -0.0


def _check_damping(damping: float) -> None:
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must be in [0, 1), got {damping!r}")


# --- building the graph -----------------------------------------------------------------------


def _index_votes(
    votes: Votes, roots: Iterable[int]
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """People in a dense index, and the votes as (voter code, votee code, weight) arrays.

    Ignored votes (self-votes, non-positive or non-finite weights) keep their place with weight 0.
    """
    root_ids = list(dict.fromkeys(roots))
    count = len(votes)
    weight = np.fromiter(votes.values(), dtype=np.float64, count=count)
    index_type = np.int32 if len(root_ids) + 2 * count < 2**31 else np.int64
    src, dst = np.empty(count, dtype=index_type), np.empty(count, dtype=index_type)
    try:
        table = _IdTable(expected=min(len(root_ids) + 2 * count, 1 << 16))  # grows as needed
        root_codes = table.encode(np.array(root_ids, dtype=np.int64))
        # Stream the ids through the table a chunk at a time: no 20-million-id array is ever
        # allocated, and each chunk is still in cache when it is looked up.
        ends = itertools.chain.from_iterable(votes)
        for start in range(0, count, _CHUNK // 2):
            size = min(_CHUNK // 2, count - start)
            chunk = np.fromiter(itertools.islice(ends, 2 * size), dtype=np.int64, count=2 * size)
            codes = table.encode(chunk)
            src[start : start + size] = codes[0::2]
            dst[start : start + size] = codes[1::2]
        ids: list[int] = table.keys().tolist()
    except OverflowError:  # ids beyond 64 bits: a plain dict is slower but takes any int
        position = {person: code for code, person in enumerate(root_ids)}
        root_codes = np.arange(len(root_ids))
        for column, people in ((src, map(itemgetter(0), votes)), (dst, map(itemgetter(1), votes))):
            column[:] = [position.setdefault(person, len(position)) for person in people]
        ids = list(position)
    ignored = (src == dst) | ~(weight > 0) | ~np.isfinite(weight)
    if ignored.any():
        weight[ignored] = 0.0  # zero rather than filter out: no copies of the big arrays
    return ids, root_codes, src, dst, weight


class _IdTable:
    """Open-addressing (linear probing) hash table from int64 ids to codes 0, 1, 2, ...

    Sorting (``numpy.unique(return_inverse=True)``) or a Python dict take seconds for the 20
    million ids of a million-person graph; this vectorised table takes a fraction of that. Each
    slot holds an id and its code side by side, so a lookup touches one cache line.
    """

    _SLOT = np.dtype([("key", np.int64), ("code", np.int64)])

    def __init__(self, expected: int) -> None:
        self.count = 0
        self._parts: list[np.ndarray] = []
        self._allocate(max(10, math.ceil(math.log2(max(1, 4 * expected)))))

    def _allocate(self, bits: int) -> None:
        self._mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self._table = np.zeros(1 << bits, dtype=self._SLOT)
        self._table["code"] = -1  # an empty slot

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        hashed = keys.view(np.uint64) * _HASH_MULTIPLIER  # wraps modulo 2^64
        hashed >>= self._shift
        return hashed.view(np.int64)

    def keys(self) -> np.ndarray:
        """The ids in code order."""
        return np.concatenate(self._parts) if self._parts else np.empty(0, dtype=np.int64)

    def encode(self, ids: np.ndarray) -> np.ndarray:
        """The code of each id (int64 array), adding the ids not seen yet."""
        codes = np.empty(ids.size, dtype=np.int64)
        for start in range(0, ids.size, _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found = self.lookup(chunk)
            missing = np.flatnonzero(found < 0)
            if missing.size:
                absent = chunk[missing]
                new = np.sort(absent)
                new = new[np.concatenate(([True], new[1:] != new[:-1]))]
                found[missing] = self.add(new) + np.searchsorted(new, absent)
            codes[start : start + chunk.size] = found
        return codes

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The code of each key, or -1 where it is absent."""
        slots = self._slots(keys)
        entries = self._table[slots]
        found = entries["code"].copy()
        pending = np.flatnonzero((found >= 0) & (entries["key"] != keys))
        while pending.size:
            probe = (slots[pending] + 1) & self._mask
            slots[pending] = probe
            entries = self._table[probe]
            found[pending] = entries["code"]
            pending = pending[(entries["code"] >= 0) & (entries["key"] != keys[pending])]
        return found

    def add(self, keys: np.ndarray) -> int:
        """Insert distinct, absent keys; returns the code given to the first of them."""
        first = self.count
        self.count += keys.size
        self._parts.append(keys)
        if 4 * self.count > self._mask + 1:  # keep the load at most 1/4: short probe runs
            self._allocate(math.ceil(math.log2(8 * self.count)))
            self._insert(self.keys(), np.arange(self.count, dtype=np.int64))
        else:
            self._insert(keys, np.arange(first, self.count, dtype=np.int64))
        return first

    def _insert(self, keys: np.ndarray, codes: np.ndarray) -> None:
        table_keys, table_codes = self._table["key"], self._table["code"]
        slots = self._slots(keys)
        pending = np.arange(keys.size)
        while pending.size:
            slot = slots[pending]
            free = table_codes[slot] < 0
            candidates, target = pending[free], slot[free]
            table_codes[target] = codes[candidates]  # one write per slot survives
            won = table_codes[target] == codes[candidates]
            table_keys[target[won]] = keys[candidates[won]]
            pending = np.concatenate((pending[~free], candidates[~won]))
            slots[pending] = (slots[pending] + 1) & self._mask


# --- solving ----------------------------------------------------------------------------------


def _solve(
    size: int,
    root_codes: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    damping: float,
    *,
    grouped: bool = False,
    max_products: int = _KRYLOV_MAX_PRODUCTS,
) -> np.ndarray:
    """Solve ``(I - damping * P^T) s = b`` for the indexed graph; returns ``s``.

    ``weight`` becomes the matrix's entries (not copied). ``grouped``: the votes are
    distinct and sorted by ``dst``, then ``src`` (as a vote table gives them), so they are the
    sparse matrix's rows as they stand and need no conversion, sorting or summing.
    """
    rhs = np.zeros(size)
    if root_codes.size:
        rhs[root_codes] = damping / root_codes.size
    if damping == 0.0 or not root_codes.size or not np.any(weight):
        return rhs
    scale = np.bincount(src, weights=weight, minlength=size)  # W(j), what each person gave
    np.divide(damping, scale, out=scale, where=scale > 0)  # W = 0 only if all weights are 0
    # damping * P^T = votes^T @ diag(damping / W): the matrix holds the weights as they are
    # and each product scales the vector (n multiplications rather than one per vote)
    if grouped:
        indptr = np.zeros(size + 1, dtype=src.dtype if src.size < 2**31 else np.int64)
        np.cumsum(np.bincount(dst, minlength=size), out=indptr[1:])
        votes = sp.csr_array((weight, src, indptr), shape=(size, size))
        votes.has_sorted_indices = True
    else:
        votes = sp.csr_array((weight, (dst, src)), shape=(size, size))
    scaled = np.empty(size)

    def passed(vector: np.ndarray) -> np.ndarray:  # damping * P^T @ vector
        return votes @ np.multiply(vector, scale, out=scaled)

    def matvec(vector: np.ndarray) -> np.ndarray:
        result = passed(vector)
        np.subtract(vector, result, out=result)
        return result

    initial = _norm(rhs)
    scores = _bicgstab(matvec, rhs, target=_RTOL * initial, max_products=max_products)
    residual = _norm(rhs - matvec(scores))
    if not residual <= _RTOL * initial:  # also catches NaN
        if not residual < initial:  # no better than the start (diverged, or NaN): start over
            scores = rhs.copy()
        scores, converged = _fixed_point(passed, rhs, scores)
        if not converged:
            _log.warning("reputation scores did not reach the tolerance; using the last iterate")
    np.maximum(scores, 0.0, out=scores)  # the exact solution is non-negative
    return scores


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # einsum rather than BLAS: single-threaded, so it never waits on a busy second core
    return float(np.einsum("i,i->", a, b))


def _norm(a: np.ndarray) -> float:
    return math.sqrt(_dot(a, a))


def _bicgstab(
    matvec: Callable[[np.ndarray], np.ndarray],
    rhs: np.ndarray,
    *,
    target: float,
    max_products: int,
) -> np.ndarray:
    """BiCGSTAB from zero until the residual's 2-norm is at most ``target``; returns the iterate.

    Written out rather than taken from scipy, whose version uses the initial residual as the
    shadow vector: our right-hand side is non-zero on the few roots only, so that shadow soon
    becomes orthogonal to the residual and the method breaks down (measured on random graphs).
    A fixed pseudo-random positive shadow vector avoids that. The caller checks the result.
    """
    size = rhs.size
    solution = np.zeros(size)
    residual = rhs.copy()
    shadow = np.random.default_rng(0x5EED).random(size)
    direction = np.zeros(size)
    product = np.zeros(size)  # A @ direction
    scratch = np.empty(size)
    rho = alpha = omega = 1.0
    for _ in range(max_products // 2):
        rho_next = _dot(shadow, residual)
        if rho_next == 0.0 or not math.isfinite(rho_next):
            break  # breakdown: the caller falls back
        beta = (rho_next / rho) * (alpha / omega)
        rho = rho_next
        direction -= np.multiply(product, omega, out=scratch)
        direction *= beta
        direction += residual
        product = matvec(direction)
        projection = _dot(shadow, product)
        if projection == 0.0 or not math.isfinite(projection):
            break
        alpha = rho / projection
        solution += np.multiply(direction, alpha, out=scratch)
        residual -= np.multiply(product, alpha, out=scratch)  # now the half-step residual
        if _norm(residual) <= target:
            break
        corrected = matvec(residual)
        energy = _dot(corrected, corrected)
        omega = _dot(corrected, residual) / energy if energy > 0.0 else 0.0
        if omega == 0.0 or not math.isfinite(omega):
            break
        solution += np.multiply(residual, omega, out=scratch)
        residual -= np.multiply(corrected, omega, out=scratch)
        if _norm(residual) <= target:
            break
    return solution


def _fixed_point(
    passed: Callable[[np.ndarray], np.ndarray], rhs: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Iterate ``s <- rhs + passed @ s`` from ``start``; returns ``(s, converged)``.

    The map is a contraction by ``damping`` in the 1-norm, so from ``rhs`` it reaches the
    tolerance in about ``log(1e-12) / log(damping)`` steps (2,750 at 0.99).
    """
    target = _RTOL * np.abs(rhs).sum()
    scores = start
    for _ in range(_FIXED_POINT_MAX_ITER):
        updated = passed(scores)
        updated += rhs
        change = float(np.abs(updated - scores).sum())  # = ||rhs - A scores||_1
        scores = updated
        if change <= target:
            return scores, True
    return scores, False


# --- from the vote table ----------------------------------------------------------------------


def table_reputation(
    table: VoteTable, roots: Iterable[int], damping: float = DEFAULT_DAMPING
) -> Reputation:
    """Every person's reputation from the votes in ``table`` (see the module docstring).

    Same scores as :func:`compute_reputation` on ``table.to_dict()``, with no per-vote Python
    work: the arrays go straight into the sparse solve. Call it from the thread that changes
    ``table`` (it copies what can change) and solve in another if need be: see
    :func:`prepare_reputation`.
    """
    return prepare_reputation(table, roots, damping)()


def prepare_reputation(
    table: VoteTable, roots: Iterable[int], damping: float = DEFAULT_DAMPING
) -> Callable[[], Reputation]:
    """Take what :func:`table_reputation` needs from ``table`` now (a copy of the weights);
    the returned function solves, and may run in a worker thread while the table changes."""
    _check_damping(damping)
    root_ids = list(dict.fromkeys(roots))
    known = table.codes_of(root_ids)
    people, voters, votees, weights = table.arrays()
    codes = table.codes()
    extra = [person for person in root_ids if person not in known]

    def solve() -> Reputation:
        size = people.size + len(extra)
        all_people = np.concatenate((people, np.array(extra, dtype=np.int64))) if extra else people
        if not size:
            return Reputation.of({})
        root_codes = np.array([known.get(person, -1) for person in root_ids], dtype=np.int64)
        root_codes[root_codes < 0] = people.size + np.arange(len(extra))
        order = table.sorted_slots(weights.size)  # the pairs grouped by votee: the matrix rows
        src, dst, share = (
            (voters, votees, weights)
            if order is None
            else (voters[order], votees[order], weights[order])
        )
        ignored = (src == dst) | ~(share > 0) | ~np.isfinite(share)
        if ignored.any():
            share[ignored] = 0.0
        scores = _solve(size, root_codes, src, dst, share, damping, grouped=True)
        return Reputation(codes, all_people, scores)

    return solve
