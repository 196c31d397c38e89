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
from bot.browse import TagPage
from bot.knowledge.matcher import Decision
from bot.knowledge.model import Answer, Question, Tag
from bot.service import Reply
from bot.web.markup import author_name, discord_text, render_markdown, web_link

__all__ = ["AnswerView", "Home", "QuestionView", "Views"]

#: Most-stamped answers on the home page.
TOP_ANSWERS = 8
#: Longest part of an address matched for "did you mean" (characters).
MAX_ADDRESS_WORDS = 200
#: Seconds the home page's aggregates (tags, most stamped), a tag's page and a page of
#: /unanswered are reused before recomputing (stamps reorder them; a change to the knowledge
#: base shows at once).
HOME_SECONDS = 1.0
#: Tag pages and pages of /unanswered kept at most.
MAX_PAGES_KEPT = 1000


@dataclass(frozen=True)
class AnswerView:
    """One answer as shown: safe HTML, the author's name (never an id), its stamps."""

    answer: Answer
    html: str
    author: str | None
    stamps: int
    source: str | None  # an http(s) address, else None (not shown)
    text: str  # the Markdown, mentions written out

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.answer.id,
            "canonical": self.answer.canonical,
            "text": self.text,
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
        self._pages: dict[tuple[str, object], tuple[float, int, Any]] = {}

    # -- questions ------------------------------------------------------------------------------

    def names(self) -> dict[int, str]:
        """Members' display names as captured when they changed the knowledge base."""
        curator = self.app.curator
        return curator.display_names() if curator is not None else {}

    def answer_view(self, answer: Answer) -> AnswerView:
        names = self.names()
        return AnswerView(
            answer,
            str(render_markdown(answer.text, names)),
            author_name(answer.author, names),
            self.service.stamp_count(answer),
            web_link(answer.source),
            discord_text(answer.text, names),
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
        """Questions close to ``words`` (a mistyped address): the matcher's best candidates
        that share a word with it. Not a question asked: nothing is counted or recorded."""
        text = words.replace("-", " ").replace("_", " ").strip()[:MAX_ADDRESS_WORDS]
        if not text:
            return []
        found: list[Question] = []
        for candidate in self.app.knowledge.matcher.match(text, k=limit).candidates:
            question = self.service.question(candidate.question_id)
            if question is not None and candidate.shares_content and question not in found:
                found.append(question)
        return found[:limit]

    # -- tags -----------------------------------------------------------------------------------

    def tags(self) -> list[tuple[Tag, int]]:
        return self.service.tags()

    def close_tags(self, name: str, limit: int = 3) -> list[str]:
        """Tag names that look like ``name`` (for a tag page that does not exist)."""
        names = [tag.name for tag, _count in self.service.tags()]
        return difflib.get_close_matches(name.lower(), names, n=limit, cutoff=0.5)

    # -- pages reused for a moment ---------------------------------------------------------------

    def tag_page(self, name: str) -> TagPage | None:
        """The service's page of tag ``name`` (reused for :data:`HOME_SECONDS`)."""
        return self._kept(("tag", name.strip().lower()), lambda: self.service.tag_page(name))

    async def unanswered(self, limit: int, offset: int) -> list[tuple[Question, int]]:
        """Known questions without an answer, most asked first (reused for
        :data:`HOME_SECONDS`: reading the ask counts is a database read)."""
        key = ("unanswered", (limit, offset))
        kept = self._fresh(key)
        if kept is not None:
            return kept
        rows = await self.service.unanswered_canonical(None, limit=limit, offset=offset)
        self._keep(key, rows)
        return rows

    def _kept(self, key: tuple[str, object], make: Callable[[], Any]) -> Any:
        kept = self._fresh(key)
        if kept is None:
            kept = make()
            self._keep(key, kept)
        return kept

    def _fresh(self, key: tuple[str, object]) -> Any:
        found = self._pages.get(key)
        if found is None:
            return None
        made, generation, value = found
        if generation != self.app.knowledge.version or self._clock() - made >= HOME_SECONDS:
            return None
        return value

    def _keep(self, key: tuple[str, object], value: Any) -> None:
        if len(self._pages) >= MAX_PAGES_KEPT:
            self._pages.clear()
        self._pages[key] = (self._clock(), self.app.knowledge.version, value)

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
