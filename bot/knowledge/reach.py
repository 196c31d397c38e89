"""Reachability: does asking a stored phrasing word for word get its own question's answer?

A phrasing that does not (another question's phrasing is too close, or it is made of words
that say little) is dead weight, or worse, a trap; ``stampy check`` warns about each one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.knowledge.matcher import Decision, Matcher
from bot.knowledge.model import Question
from bot.knowledge.smalltalk import small_talk


@dataclass(frozen=True)
class Unreachable:
    """A phrasing that, asked as it is stored, does not get its question's answer."""

    question_id: str
    phrasing: str
    outcome: str  # what happens instead, in words

    def __str__(self) -> str:
        return f"{self.question_id}: asking “{self.phrasing}” {self.outcome}"


def unreachable_phrasings(matcher: Matcher, questions: Iterable[Question]) -> list[Unreachable]:
    """Every phrasing of ``questions`` that, asked word for word, is not answered with its
    own question (``matcher`` must index them)."""
    found = []
    for question in questions:
        for phrasing in question.phrasings:
            if small_talk(phrasing) is not None:
                found.append(Unreachable(question.id, phrasing, "is taken as small talk"))
                continue
            result = matcher.match(phrasing)
            best = result.best
            if result.decision is Decision.ANSWER and best and best.question_id == question.id:
                continue
            if result.decision is Decision.ANSWER and best:
                outcome = f"is answered with {best.question_id}"
            elif result.decision is Decision.SUGGEST:
                outcome = "gets a “did you mean” instead of an answer"
            else:
                outcome = f"gets no answer ({result.reason})"
            found.append(Unreachable(question.id, phrasing, outcome))
    return found
