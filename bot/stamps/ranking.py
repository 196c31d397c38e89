"""Ranking by stamps: answers canonical first then by stamp score, near-tied questions by
stamps, and which Discord user an answer's ``author`` names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from bot.knowledge.model import Answer

__all__ = ["AnswerScores", "author_user_id", "break_ties", "rank_answers"]

# An answer's author naming a Discord user: a mention, or a bare id (a snowflake's length, so
# that an author called "42" is not taken for a user).
_MENTION = re.compile(r"^\s*<@!?(\d{1,21})>\s*$|^\s*(\d{15,21})\s*$")

T = TypeVar("T")


class AnswerScores(Protocol):
    """What ranking needs from stamps: an answer's reputation-weighted score."""

    def score(self, answer_id: str) -> float:
        """The answer's reputation-weighted stamp score (0 without stamps)."""
        ...


def author_user_id(author: str | None) -> int | None:
    """The Discord user an answer's ``author`` names (``<@id>``, ``<@!id>`` or a bare id)."""
    if not author:
        return None
    match = _MENTION.match(author)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def rank_answers(
    answers: Iterable[Answer], score: Callable[[str], float] | None = None
) -> tuple[Answer, ...]:
    """Canonical answers first, then by stamp ``score`` (highest first), else stored order."""
    ordered = list(answers)
    if score is None:
        return tuple(sorted(ordered, key=lambda a: not a.canonical))
    scores = {answer.id: score(answer.id) for answer in ordered}
    return tuple(sorted(ordered, key=lambda a: (not a.canonical, -scores[a.id])))


def break_ties(
    items: Sequence[T],
    match_score: Callable[[T], float],
    stamp_score: Callable[[T], float],
    margin: float,
) -> list[T]:
    """``items`` (best match first) with those within ``margin`` of the best re-ordered by
    ``stamp_score`` (highest first; equal stamps keep match order); the rest stay behind."""
    if len(items) < 2:
        return list(items)
    best = match_score(items[0])
    tied = [item for item in items if best - match_score(item) <= margin]
    rest = [item for item in items if best - match_score(item) > margin]
    tied.sort(key=lambda item: -stamp_score(item))  # stable: match order among equals
    return tied + rest
