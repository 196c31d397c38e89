"""Plain values of the knowledge base: questions, their phrasings and answers, and tags."""

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
    #: Ids of related questions, in the order shown (listed by writers; see
    #: :meth:`bot.service.Service.related` for the ones found when none are listed).
    related: tuple[str, ...] = ()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question text followed by its alternate phrasings."""
        return (self.text, *self.alternate_phrasings)

    @property
    def canonical(self) -> bool:
        """Whether the question has a canonical answer."""
        return any(answer.canonical for answer in self.answers)

    def ranked_answers(self) -> tuple[Answer, ...]:
        """Answers with canonical ones first, otherwise in stored order."""
        return tuple(sorted(self.answers, key=lambda a: not a.canonical))


@dataclass(frozen=True)
class Tag:
    """A tag as a record: what questions tagged with it are about.

    ``description`` is markdown (None: nobody has written one yet), ``link`` an http(s) page
    about it, ``main_question`` the id of the question that explains it, and ``internal``
    hides it (and questions tagged only with internal tags) from members. A tag that
    questions use but nobody declared is ``Tag(name)``.
    """

    name: str
    description: str | None = None
    link: str | None = None
    main_question: str | None = None
    internal: bool = False
    origin: Origin | None = field(default=None, compare=False)
