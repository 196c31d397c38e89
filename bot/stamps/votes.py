"""Votes between people as arrays, and reputation scores read through them (numpy only).

:class:`VoteTable` keeps every (voter, votee) pair's summed stamp weight in three parallel
arrays, one stamp at a time, so :mod:`bot.stamps.reputation` solves straight from them;
:class:`Reputation` is the result, an array of scores read through the table's codes. Neither
imports scipy, so holding votes costs no solver at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np

__all__ = ["Reputation", "VoteTable"]

Votes = Mapping[tuple[int, int], float]


class _Column:
    """A numpy array that grows by doubling: amortised O(1) appends, views without copies."""

    def __init__(self, dtype: type, capacity: int = 1024) -> None:
        self._data = np.zeros(capacity, dtype=dtype)
        self.size = 0

    def append(self, value: float) -> int:
        if self.size == self._data.size:
            grown = np.zeros(2 * self._data.size, dtype=self._data.dtype)
            grown[: self.size] = self._data
            self._data = grown
        self._data[self.size] = value
        self.size += 1
        return self.size - 1

    def extend(self, values: np.ndarray) -> None:
        needed = self.size + values.size
        if needed > self._data.size:
            grown = np.zeros(max(needed, 2 * self._data.size), dtype=self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : needed] = values
        self.size = needed

    def view(self) -> np.ndarray:
        return self._data[: self.size]


class VoteTable:
    """The votes between people as arrays, kept in step one stamp at a time.

    Each person gets a code (0, 1, 2, ... in order of appearance) and each (voter, votee) pair
    a slot in three parallel arrays: voter code, votee code and summed weight. Reputation is
    solved straight from those arrays (:func:`table_reputation`): no dict of a million pairs is
    walked, and no id is looked up again. A pair whose weight falls to 0 keeps its slot (and
    counts for nothing), so codes and slots never move.

    The solve wants the pairs grouped by votee (the rows of a sparse matrix):
    :meth:`sorted_slots` gives that order, kept from one call to the next and merged with the
    pairs added since, so only a table's first solve sorts all of its pairs; a table made by
    :meth:`from_arrays` is laid out in that order to begin with.
    """

    def __init__(self) -> None:
        self._codes: dict[int, int] = {}  # person -> code
        self._people = _Column(np.int64)  # code -> person
        self._slots: dict[int, int] = {}  # voter code << 32 | votee code -> slot
        self._voters = _Column(np.int32)
        self._votees = _Column(np.int32)
        self._weights = _Column(np.float64)
        # the first ``covered`` slots in (votee, voter) order; None: that is their order already
        self._sorted: tuple[int, np.ndarray | None] = (0, None)

    @classmethod
    def from_votes(cls, votes: Votes) -> VoteTable:
        """A table holding ``votes`` (``(voter, votee) -> weight``)."""
        table = cls()
        for (voter, votee), weight in votes.items():
            table.add(voter, votee, weight)
        return table

    @classmethod
    def from_arrays(cls, voters: np.ndarray, votees: np.ndarray, weights: np.ndarray) -> VoteTable:
        """A table of the votes ``voters[i] -> votees[i]`` weighing ``weights[i]``, each pair
        once (bulk loading, vectorised). The pairs get their slots in (votee, voter) order, the
        order the solve reads them in."""
        voters, votees = np.asarray(voters, np.int64), np.asarray(votees, np.int64)
        weights = np.asarray(weights, np.float64)
        people, inverse = np.unique(np.concatenate((voters, votees)), return_inverse=True)
        codes = inverse.astype(np.int64)
        keys = codes[voters.size :] << 32 | codes[: voters.size]  # votee first: the sort order
        order = np.argsort(keys)
        keys = keys[order]
        if keys.size > 1 and not np.all(keys[1:] != keys[:-1]):
            raise ValueError("a (voter, votee) pair is given twice")
        voter_codes, votee_codes = keys & 0xFFFFFFFF, keys >> 32
        table = cls()
        table._people.extend(people)
        table._codes = dict(zip(people.tolist(), range(people.size), strict=True))
        table._slots = dict(
            zip((voter_codes << 32 | votee_codes).tolist(), range(keys.size), strict=True)
        )
        table._voters.extend(voter_codes)
        table._votees.extend(votee_codes)
        table._weights.extend(weights[order])
        table._sorted = (keys.size, None)
        return table

    def __len__(self) -> int:
        """How many pairs have a positive weight."""
        return int(np.count_nonzero(self._weights.view() > 0))

    @property
    def people(self) -> int:
        """How many people have a code."""
        return self._people.size

    def code(self, person: int) -> int:
        """``person``'s code, given now if they have none."""
        code = self._codes.get(person)
        if code is None:
            code = self._codes[person] = self._people.append(person)
        return code

    def add(self, voter: int, votee: int, weight: float) -> None:
        """Add ``weight`` (negative: take it back) to the votes of ``voter`` for ``votee``."""
        key = self.code(voter) << 32 | self.code(votee)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = self._weights.append(0.0)
            self._voters.append(key >> 32)
            self._votees.append(key & 0xFFFFFFFF)
        self._weights.view()[slot] += weight

    def weight(self, voter: int, votee: int) -> float:
        """What ``voter`` gave ``votee`` in all (0 if nothing)."""
        codes = self._codes
        if voter not in codes or votee not in codes:
            return 0.0
        slot = self._slots.get(codes[voter] << 32 | codes[votee])
        return 0.0 if slot is None else float(self._weights.view()[slot])

    def to_dict(self) -> dict[tuple[int, int], float]:
        """``(voter, votee) -> weight`` of every pair with a positive weight."""
        people, voters, votees, weights = self.arrays()
        kept = np.flatnonzero(weights > 0)
        return dict(
            zip(
                zip(people[voters[kept]].tolist(), people[votees[kept]].tolist(), strict=True),
                weights[kept].tolist(),
                strict=True,
            )
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(people, voters, votees, weights)``: the id of each code, and each pair's voter
        code, votee code and weight. The weights are a copy (they change in place); the rest
        never change once written, so they are views, safe to read in another thread while
        this table grows."""
        return (
            self._people.view(),
            self._voters.view(),
            self._votees.view(),
            self._weights.view().copy(),
        )

    def sorted_slots(self, count: int) -> np.ndarray | None:
        """The first ``count`` slots in order of votee code, then voter code (the pairs are
        distinct, so the order is strict); None if that is their order already.

        Only reads slots below ``count``, which never change, so it may run in another thread
        while this table grows (as the solve does). The order is kept: the next call sorts only
        the slots added since and merges them in.
        """
        covered, order = self._sorted
        if count <= covered:
            return None if order is None else order[order < count] if count < covered else order
        voters = self._voters.view()[:count]
        votees = self._votees.view()[:count]
        new = np.arange(covered, count, dtype=np.int64)
        new_keys = votees[covered:].astype(np.int64) << 32 | voters[covered:]
        arranged = np.argsort(new_keys)
        new, new_keys = new[arranged], new_keys[arranged]
        if order is None:
            old_keys = votees[:covered].astype(np.int64) << 32 | voters[:covered]
        else:
            old_keys = votees[order].astype(np.int64) << 32 | voters[order]
        at = np.searchsorted(old_keys, new_keys)
        if order is None and at[0] == covered and np.all(arranged[1:] > arranged[:-1]):
            merged: np.ndarray | None = None  # appended in order: still in order
        else:
            old = np.arange(covered, dtype=np.int64) if order is None else order
            merged = np.insert(old, at, new)
        if count > self._sorted[0]:
            self._sorted = (count, merged)
        return merged

    def codes(self) -> Mapping[int, int]:
        """Person -> code of everyone with a code now (people added later are not in it)."""
        return _CodesUpTo(self._codes, self._people.size)

    def codes_of(self, people: Iterable[int]) -> dict[int, int]:
        """The codes of those of ``people`` who have one."""
        return {person: self._codes[person] for person in people if person in self._codes}


class Reputation(Mapping[int, float]):
    """Everyone's score as an array, read through the vote table's codes.

    A read-only ``person -> score`` mapping of every person, so a dict of a million entries is
    never built; :meth:`top` ranks without sorting everyone.
    """

    def __init__(
        self,
        codes: Mapping[int, int],
        people: np.ndarray,
        scores: np.ndarray,
    ) -> None:
        self._codes = codes  # person -> position, for the people of the table
        self._people = people  # position -> person
        self._scores = scores
        # Roots the table did not know come after its people.
        self._extra = {
            person: len(codes) + i for i, person in enumerate(people[len(codes) :].tolist())
        }

    @classmethod
    def of(cls, scores: Mapping[int, float]) -> Reputation:
        """The scores in a plain mapping (as read back from the database)."""
        people = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        return cls({person: i for i, person in enumerate(people.tolist())}, people, values)

    def _position(self, person: object) -> int | None:
        position = self._codes.get(person)  # type: ignore[call-overload]
        return self._extra.get(person) if position is None else position  # type: ignore[call-overload]

    def __getitem__(self, person: int) -> float:
        position = self._position(person)
        if position is None:
            raise KeyError(person)
        return float(self._scores[position])

    def get(self, person: int, default: float = 0.0) -> float:  # type: ignore[override]
        position = self._position(person)
        return default if position is None else float(self._scores[position])

    def __contains__(self, person: object) -> bool:
        return self._position(person) is not None

    def __iter__(self) -> Iterator[int]:
        return iter(self._people.tolist())

    def __len__(self) -> int:
        return int(self._people.size)

    def items(self) -> list[tuple[int, float]]:  # type: ignore[override]
        """``(person, score)`` of everyone, from the arrays in one go."""
        return list(zip(self._people.tolist(), self._scores.tolist(), strict=True))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(people, scores)``, read-only views."""
        people, scores = self._people.view(), self._scores.view()
        people.flags.writeable = scores.flags.writeable = False
        return people, scores

    def max(self) -> float:
        """The highest score (0 with nobody)."""
        return float(self._scores.max()) if self._scores.size else 0.0

    def top(self, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` people with the highest positive scores, best first (ties: lower id
        first)."""
        positive = np.flatnonzero(self._scores > 0)
        if limit <= 0 or not positive.size:
            return []
        if positive.size > limit:
            # everyone scoring at least the limit-th best, so ties at the cut all compete
            scores = self._scores[positive]
            cut = np.partition(scores, positive.size - limit)[positive.size - limit]
            positive = positive[scores >= cut]
        order = np.lexsort((self._people[positive], -self._scores[positive]))[:limit]
        chosen = positive[order]
        return list(zip(self._people[chosen].tolist(), self._scores[chosen].tolist(), strict=True))


class _CodesUpTo(Mapping[int, int]):
    """A table's codes as they were: those below ``limit`` (people added later are not in
    it; codes never change, so no copy is needed)."""

    def __init__(self, codes: Mapping[int, int], limit: int) -> None:
        self._codes = codes
        self._limit = limit

    def get(self, person: object, default: int | None = None) -> int | None:  # type: ignore[override]
        code = self._codes.get(person)  # type: ignore[call-overload]
        return code if code is not None and code < self._limit else default

    def __getitem__(self, person: int) -> int:
        code = self.get(person)
        if code is None:
            raise KeyError(person)
        return code

    def __iter__(self) -> Iterator[int]:
        raise TypeError("not iterable")

    def __len__(self) -> int:
        return self._limit
