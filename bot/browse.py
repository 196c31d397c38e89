"""Browsing the knowledge base as a wiki: tag pages, the tag list, related questions and the
nearest answered questions to one that has no answer.

Plain functions over the live :class:`~bot.knowledge.base.KnowledgeBase`; the
:class:`~bot.service.Service` exposes them to the front ends (``/tag``, ``/tags``, the
"Related" buttons, the console's ``:tags``, ``:tag`` and ``:related``, the web pages).
Internal tags, and questions whose every tag is internal, are never shown to members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.knowledge.base import KnowledgeBase
from bot.knowledge.model import Question, Tag

__all__ = ["TagPage", "nearest_answered", "related", "tag_counts", "tag_page"]


@dataclass(frozen=True)
class TagPage:
    """A tag's page: its record and its questions in three sections, as on Stampy's Wiki.

    ``canonical``: questions with a canonical answer; ``non_canonical``: questions with
    answers, none of them canonical; ``unanswered``: questions with no answer yet. Each
    section is ordered by the stamps of the question's answers (most first), then as stored.
    """

    tag: Tag
    canonical: tuple[Question, ...]
    non_canonical: tuple[Question, ...]
    unanswered: tuple[Question, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        """Every question of the page, section by section."""
        return (*self.canonical, *self.non_canonical, *self.unanswered)


def tag_counts(knowledge: KnowledgeBase, *, internal: bool = False) -> list[tuple[Tag, int]]:
    """Every tag with how many questions carry it, sorted by name; internal tags only when
    ``internal``."""
    return [
        (tag, knowledge.tagged_count(tag.name))
        for tag in knowledge.tags()
        if internal or not tag.internal
    ]


def tag_page(
    knowledge: KnowledgeBase,
    name: str,
    *,
    internal: bool = False,
    stamps: Callable[[Question], float] | None = None,
) -> TagPage | None:
    """The page of tag ``name`` (case-insensitive); None for an unknown tag, and for an
    internal one unless ``internal``. ``stamps`` scores a question for the order within a
    section (none: as stored)."""
    tag = knowledge.tag(name)
    if tag is None or (tag.internal and not internal):
        return None
    questions = knowledge.tagged(tag.name)
    if stamps is not None:
        scores = {question.id: stamps(question) for question in questions}
        questions.sort(key=lambda question: -scores[question.id])
    return TagPage(
        tag,
        tuple(q for q in questions if q.canonical),
        tuple(q for q in questions if q.answers and not q.canonical),
        tuple(q for q in questions if not q.answers),
    )


def related(knowledge: KnowledgeBase, question_id: str, limit: int = 3) -> tuple[Question, ...]:
    """Questions related to ``question_id``: the ones it lists under ``related:`` (in that
    order); when it lists none, the answered questions nearest to it, by the number of tags
    shared, then by the matcher's score of its text. Never the question itself, never a
    question whose every tag is internal. Empty for an unknown id."""
    question = knowledge.get(question_id)
    if question is None or limit <= 0:
        return ()
    if question.related:
        listed = (knowledge.get(other) for other in question.related)
        return tuple(_visible(knowledge, listed, question.id))[:limit]
    return _nearest(knowledge, question.text, question.id, set(question.tags), limit)


def nearest_answered(
    knowledge: KnowledgeBase, question: Question, text: str | None = None, limit: int = 3
) -> tuple[Question, ...]:
    """The answered questions nearest to ``question`` (which has none): by tags shared,
    then by the matcher's score of ``text`` (what the member typed) or the question's own."""
    return _nearest(knowledge, text or question.text, question.id, set(question.tags), limit)


def _visible(
    knowledge: KnowledgeBase, questions: Iterable[Question | None], own_id: str
) -> Iterable[Question]:
    seen = {own_id}
    for other in questions:
        if other is None or other.id in seen or knowledge.internal_only(other):
            continue
        seen.add(other.id)
        yield other


def _nearest(
    knowledge: KnowledgeBase, text: str, own_id: str, tags: set[str], limit: int
) -> tuple[Question, ...]:
    """The best ``limit`` answered, visible questions by (tags shared with ``tags``, the
    matcher's score of ``text``, stored order).

    The questions sharing a tag come from the knowledge base's tag index, grouped by how
    many tags they share and in stored order (:meth:`KnowledgeBase.sharing`, kept until the
    knowledge base changes, each group worked out when first read), most tags first. Within
    a group, the questions the matcher ranks for ``text`` come first, by score: only their
    phrasings are scored (:meth:`~bot.knowledge.matcher.Matcher.scores_among`), not every
    candidate of the text, so a group that the text's candidates miss costs no scoring. The
    rest of the group is read in stored order only as far as needed. Questions sharing no
    tag come last, by score (with no tags, they are all there is)."""
    if limit <= 0:
        return ()
    shared = knowledge.sharing(frozenset(tags)) if tags else None
    matcher, place = knowledge.matcher, knowledge.position
    found: list[Question] = []

    def take(question_id: str) -> bool:
        """Add the question if it may be offered; True once there are enough."""
        other = knowledge.get(question_id)
        if other is not None and other.answers and not knowledge.internal_only(other):
            found.append(other)
        return len(found) == limit

    for count in range(shared.most if shared else 0, 0, -1):
        carries = shared.carries(count)
        scores = matcher.scores_among(text, lambda i, held=carries: i != own_id and held(i))
        for question_id in sorted(scores, key=lambda i: (-scores[i], place(i))):
            if take(question_id):
                return tuple(found)
        for question_id in shared.group(count):  # the rest, in stored order
            if question_id == own_id or question_id in scores:
                continue
            if take(question_id):
                return tuple(found)
    scores = matcher.scores_among(
        text, lambda i: (shared is None or shared.count(i) == 0) and i != own_id
    )
    for question_id in sorted(scores, key=lambda i: (-scores[i], place(i))):
        if take(question_id):
            break
    return tuple(found)
