"""Plain values of the knowledge base: questions, their phrasings and answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Origin:
    """Where a value was read from, for error messages (``file:line``)."""

    path: str
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Answer:
    """One answer to a question. Canonical answers are shown first."""

    id: str
    text: str
    canonical: bool = False
    author: str | None = None
    source: str | None = None  # a link to where the answer comes from
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Question:
    """A stored question with its alternate phrasings, tags and answers.

    A question may have no answers yet (an "unanswered canonical question").
    """

    id: str
    text: str
    alternate_phrasings: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    answers: tuple[Answer, ...] = ()
    origin: Origin | None = field(default=None, compare=False)

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question text followed by its alternate phrasings."""
        return (self.text, *self.alternate_phrasings)

    def ranked_answers(self) -> tuple[Answer, ...]:
        """Answers with canonical ones first, otherwise in stored order."""
        return tuple(sorted(self.answers, key=lambda a: not a.canonical))
