"""The live knowledge base: questions by id, kept in step with the matcher's index."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Question


@dataclass(frozen=True)
class Summary:
    """Counts shown by ``stampy check`` and the console."""

    questions: int
    phrasings: int
    answers: int
    unanswered: int
    tags: int

    def __str__(self) -> str:
        return (
            f"{self.questions} questions, {self.phrasings} phrasings, {self.answers} answers "
            f"({self.unanswered} questions without an answer yet), {self.tags} tags"
        )


class KnowledgeBase:
    """Questions by id. Every change goes through here so the index never drifts."""

    def __init__(self, matcher: Matcher, questions: Iterable[Question] = ()) -> None:
        self.matcher = matcher
        self._questions: dict[str, Question] = {}
        for question in questions:
            self.upsert(question)

    @classmethod
    def indexed(cls, matcher: Matcher, questions: Iterable[Question]) -> KnowledgeBase:
        """A knowledge base on a matcher that already indexes exactly ``questions`` (restored
        from a snapshot), without indexing them again."""
        knowledge = cls(matcher)
        knowledge._questions = {question.id: question for question in questions}
        return knowledge

    def __len__(self) -> int:
        return len(self._questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self._questions.values())

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._questions

    def get(self, question_id: str) -> Question | None:
        """The question with this id, if stored."""
        return self._questions.get(question_id)

    def upsert(self, question: Question) -> None:
        """Add or replace a question and re-index only its phrasings."""
        self._questions[question.id] = question
        self.matcher.upsert(question.id, question.phrasings)

    def remove(self, question_id: str) -> Question | None:
        """Remove a question; returns what was removed."""
        question = self._questions.pop(question_id, None)
        if question is not None:
            self.matcher.remove(question_id)
        return question

    def summary(self) -> Summary:
        """Counts of questions, phrasings, answers and tags."""
        questions = list(self._questions.values())
        return Summary(
            questions=len(questions),
            phrasings=sum(len(q.phrasings) for q in questions),
            answers=sum(len(q.answers) for q in questions),
            unanswered=sum(not q.answers for q in questions),
            tags=len({tag for q in questions for tag in q.tags}),
        )
