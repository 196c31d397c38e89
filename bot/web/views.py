"""What the pages and the API show, as plain values built from the :class:`~bot.service.Service`.

Handlers (:mod:`bot.web.pages`, :mod:`bot.web.api`) call these and render the result as
HTML or JSON; neither matches, ranks nor reads the database itself.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.app import App
from bot.knowledge.matcher import Decision
from bot.knowledge.model import Answer, Question, Tag
from bot.service import Reply
from bot.web.markup import author_name, discord_text, render_markdown, web_link

__all__ = ["AnswerView", "Home", "QuestionView", "Views"]

#: Most-stamped answers on the home page.
TOP_ANSWERS = 8
#: Seconds the home page's aggregates (tags, most stamped) are reused before recomputing.
HOME_SECONDS = 1.0


@dataclass(frozen=True)
class AnswerView:
    """One answer as shown: safe HTML, the author's name (never an id), its stamps."""

    answer: Answer
    html: str
    author: str | None
    stamps: int
    source: str | None  # an http(s) address, else None (not shown)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.answer.id,
            "canonical": self.answer.canonical,
            "text": discord_text(self.answer.text),
            "html": self.html,
            "author": self.author,
            "source": self.source,
            "stamps": self.stamps,
        }


@dataclass(frozen=True)
class QuestionView:
    """A question's page: answers canonical first, tags, related questions, phrasings."""

    question: Question
    answers: tuple[AnswerView, ...]
    related: tuple[Question, ...]


@dataclass(frozen=True)
class Home:
    """The home page's aggregates."""

    tags: list[tuple[Tag, int]]
    top: list[tuple[Question, AnswerView]]
    questions: int


class Views:
    """Builds what the site shows from ``app``'s service (see the module docstring)."""

    def __init__(self, app: App, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.service = app.service
        self._clock = clock
        self._home: tuple[float, Home] | None = None

    # -- questions ------------------------------------------------------------------------------

    def answer_view(self, answer: Answer) -> AnswerView:
        return AnswerView(
            answer,
            str(render_markdown(answer.text)),
            author_name(answer.author),
            self.service.stamp_count(answer),
            web_link(answer.source),
        )

    def question(self, question_id: str) -> QuestionView | None:
        question = self.service.question(question_id)
        if question is None:
            return None
        answers = tuple(self.answer_view(a) for a in self.service.ranked_answers(question))
        return QuestionView(question, answers, tuple(self.service.related(question.id)))

    def question_json(self, view: QuestionView, url: str) -> dict[str, Any]:
        question = view.question
        return {
            "id": question.id,
            "text": question.text,
            "url": url,
            "alternate_phrasings": list(question.alternate_phrasings),
            "tags": list(question.tags),
            "answered": bool(view.answers),
            "answers": [a.to_json() for a in view.answers],
            "related": [{"id": q.id, "text": q.text} for q in view.related],
        }

    # -- search ---------------------------------------------------------------------------------

    def search(self, query: str) -> Reply:
        """The bot's own decision on ``query`` (answer, did you mean, nothing), recording
        nothing."""
        return self.service.ask(query)

    def why(self, reply: Reply) -> str:
        """The reason for a decision, in words."""
        best = reply.match.best
        if reply.decision is Decision.ANSWER and best is not None:
            quoted = f"\u201c{best.phrasing}\u201d"
            return f"matched the phrasing {quoted} (score {best.score:.2f}): {reply.reason}"
        return reply.reason

    def search_json(self, reply: Reply, url: Callable[[str], str]) -> dict[str, Any]:
        question = reply.question
        return {
            "query": reply.query,
            "decision": reply.decision.value,
            "answered": reply.decision is Decision.ANSWER and bool(reply.answers),
            "why": self.why(reply),
            "question": None
            if question is None
            else {
                "id": question.id,
                "text": question.text,
                "url": url(question.id),
                "tags": list(question.tags),
            },
            "answers": [self.answer_view(a).to_json() for a in reply.answers],
            "suggestions": [
                {
                    "id": s.question.id,
                    "text": s.question.text,
                    "url": url(s.question.id),
                    "score": round(s.candidate.score, 4),
                }
                for s in reply.suggestions
            ],
            "small_talk": reply.small_talk,
        }

    def did_you_mean(self, words: str, limit: int = 3) -> list[Question]:
        """Questions close to ``words`` (a mistyped address): the bot's suggestions or
        answer, else the best candidates."""
        text = words.replace("-", " ").replace("_", " ").strip()
        if not text:
            return []
        reply = self.service.ask(text)
        if reply.question is not None:
            return [reply.question]
        found = [s.question for s in reply.suggestions]
        for candidate in reply.match.candidates:
            if len(found) >= limit:
                break
            question = self.service.question(candidate.question_id)
            if question is not None and question not in found and candidate.shares_content:
                found.append(question)
        return found[:limit]

    # -- tags -----------------------------------------------------------------------------------

    def tags(self) -> list[tuple[Tag, int]]:
        return self.service.tags()

    def close_tags(self, name: str, limit: int = 3) -> list[str]:
        """Tag names that look like ``name`` (for a tag page that does not exist)."""
        names = [tag.name for tag, _count in self.service.tags()]
        return difflib.get_close_matches(name.lower(), names, n=limit, cutoff=0.5)

    # -- home -----------------------------------------------------------------------------------

    def home(self) -> Home:
        """Tags with counts and the most-stamped answers (reused for :data:`HOME_SECONDS`)."""
        now = self._clock()
        if self._home is not None and now - self._home[0] < HOME_SECONDS:
            return self._home[1]
        home = Home(self.service.tags(), self._top_answers(), len(self.app.knowledge))
        self._home = (now, home)
        return home

    def _top_answers(self) -> list[tuple[Question, AnswerView]]:
        stamps = self.app.stamps
        if stamps is None:
            return []
        counts = stamps.tallies.stamped_answers()
        if not counts:
            return []
        owners: dict[str, tuple[Question, Answer]] = {}
        for question in self.app.knowledge:
            for answer in question.answers:
                if answer.id in counts:
                    owners[answer.id] = (question, answer)
        ranked = sorted(
            (answer_id for answer_id in counts if answer_id in owners and counts[answer_id] > 0),
            key=lambda answer_id: (-counts[answer_id], answer_id),
        )[:TOP_ANSWERS]
        return [(owners[a][0], self.answer_view(owners[a][1])) for a in ranked]
