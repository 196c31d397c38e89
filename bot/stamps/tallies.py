"""The stamps in memory: who stamped which answer with what, the vote weights between people,
and each person's stamps given and received. Loaded once at start and kept in step with every
committed change, so ranking and ``/stamps`` never touch the database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.stamps.votes import VoteTable
from bot.store.stamps import StampChange

__all__ = ["Tallies", "UserStamps"]


@dataclass(frozen=True)
class UserStamps:
    """One person's stamps: their reputation as "stamps they are worth" (the original's
    number: score times all stamp weight given), the stamps credited to them and given by
    them (weighted, and by emoji)."""

    user_id: int
    score: float
    received: int
    given: int
    received_by_emoji: dict[str, int] = field(default_factory=dict)
    given_by_emoji: dict[str, int] = field(default_factory=dict)


def _count(tallies: dict[int, dict[str, int]], person: int, emoji: str, step: int) -> None:
    """Add ``step`` to ``tallies[person][emoji]``, dropping entries that reach 0."""
    mine = tallies.setdefault(person, {})
    left = mine.get(emoji, 0) + step
    if left > 0:
        mine[emoji] = left
    else:
        mine.pop(emoji, None)
        if not mine:
            del tallies[person]


class Tallies:
    """Per-answer stamps, votes between people and per-person counts, for emoji ``weights``."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.weights = weights
        # answer -> (stamper, emoji) -> on how many messages showing the answer
        self.answers: dict[str, dict[tuple[int, str], int]] = {}
        # (stamper, credited person) -> summed weight, as arrays; and all of it together
        self.votes = VoteTable()
        self.total = 0.0
        # person -> emoji -> stamps given / credited to them
        self.given: dict[int, dict[str, int]] = {}
        self.received: dict[int, dict[str, int]] = {}

    def load(
        self,
        answer_stamps: Iterable[tuple[str, int, str, int]],
        tallies: Iterable[tuple[int, int | None, str, int]],
    ) -> None:
        """Fill from the store's rows: (answer, voter, emoji, messages) and
        (voter, votee or None, emoji, stamps)."""
        for answer_id, voter, emoji, messages in answer_stamps:
            self.answers.setdefault(answer_id, {})[(voter, emoji)] = messages
        for voter, votee, emoji, stamps in tallies:
            _count(self.given, voter, emoji, stamps)
            if votee is None:
                continue
            _count(self.received, votee, emoji, stamps)
            weight = self.weights.get(emoji, 0) * stamps
            if weight:
                self.votes.add(voter, votee, weight)
                self.total += weight

    def absorb(self, change: StampChange) -> bool:
        """Keep in step with a committed change; True if the votes between people changed."""
        row, step = change.row, 1 if change.added else -1
        if row.answer_id is not None:
            stamps = self.answers.setdefault(row.answer_id, {})
            key = (row.voter_id, row.emoji)
            left = stamps.get(key, 0) + step
            if left > 0:
                stamps[key] = left
            else:
                stamps.pop(key, None)
                if not stamps:
                    del self.answers[row.answer_id]
        _count(self.given, row.voter_id, row.emoji, step)
        if row.votee_id is not None:
            _count(self.received, row.votee_id, row.emoji, step)
        weight = self.weights.get(row.emoji, 0)
        if row.votee_id is None or not weight:
            return False
        self.total += step * weight
        self.votes.add(row.voter_id, row.votee_id, step * weight)
        return True

    def count(self, answer_id: str) -> int:
        """An answer's stamp count: the summed weights of its stamps."""
        stamps = self.answers.get(answer_id)
        if not stamps:
            return 0
        return sum(self.weights.get(emoji, 0) for _, emoji in stamps)

    def score(self, answer_id: str, reputation: Mapping[int, float], top: float) -> float:
        """An answer's stamps, each weighted by ``1 + reputation(giver) / top``."""
        stamps = self.answers.get(answer_id)
        if not stamps:
            return 0.0
        top = top or 1.0
        return sum(
            self.weights.get(emoji, 0) * (1.0 + reputation.get(voter, 0.0) / top)
            for voter, emoji in stamps
        )

    def stamped_answers(self) -> dict[str, int]:
        """Stamp count of every stamped answer."""
        return {answer_id: self.count(answer_id) for answer_id in self.answers}

    def user(self, user_id: int, score: float) -> UserStamps:
        """``user_id``'s stamps received and given, with ``score`` as their reputation."""
        received = dict(self.received.get(user_id, {}))
        given = dict(self.given.get(user_id, {}))
        return UserStamps(
            user_id=user_id,
            score=score,
            received=sum(self.weights.get(e, 0) * n for e, n in received.items()),
            given=sum(self.weights.get(e, 0) * n for e, n in given.items()),
            received_by_emoji=received,
            given_by_emoji=given,
        )
