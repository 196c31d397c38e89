"""Browsing the knowledge base as a wiki: tag pages, the tag list, related questions and the
nearest answered questions to one that has no answer.

Plain functions over the live :class:`~bot.knowledge.base.KnowledgeBase`; the
:class:`~bot.service.Service` exposes them to the front ends (``/tag``, ``/tags``, the
"Related" buttons, the console's ``:tags``, ``:tag`` and ``:related``, the web pages).
Internal tags, and questions whose every tag is internal, are never shown to members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.knowledge.base import KnowledgeBase
from bot.knowledge.model import Question, Tag

__all__ = ["TagPage", "nearest_answered", "related", "tag_counts", "tag_page"]

#: How many of the matcher's best candidates are looked at for related questions.
RELATED_POOL = 40


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
    matcher's score of ``text``), then stored order (the matcher's order without tags).

    The questions sharing a tag come from the knowledge base's tag index, grouped by how
    many tags they share and in stored order (:meth:`KnowledgeBase.sharing`, kept until the
    knowledge base changes); within a group the matched ones come first and the rest are read
    in stored order only as far as needed, so that a tag on half of 100,000 questions costs
    little, and nothing once its group is known. When the groups read first hold none of the
    questions the matcher could rank, the scores are not worked out at all
    (:func:`_by_tags_alone`)."""
    if limit <= 0:
        return ()
    counts, groups = knowledge.sharing(frozenset(tags)) if tags else ({}, {})
    if groups:
        found = _by_tags_alone(knowledge, text, own_id, counts, groups, limit)
        if found is not None:
            return found
    scores = dict(knowledge.matcher.ranking(text, RELATED_POOL))
    scores.pop(own_id, None)
    if tags:
        place = knowledge.position
    else:
        order = {question_id: n for n, question_id in enumerate(scores)}
        place = order.__getitem__
    found: list[Question] = []

    def take(question_id: str) -> bool:
        """Add the question if it may be offered; True once there are enough."""
        other = knowledge.get(question_id)
        if other is not None and other.answers and not knowledge.internal_only(other):
            found.append(other)
        return len(found) == limit

    for count in sorted(groups, reverse=True):
        scored = [i for i, score in scores.items() if score > 0.0 and counts.get(i) == count]
        for question_id in sorted(scored, key=lambda i: (-scores[i], place(i))):
            if take(question_id):
                return tuple(found)
        for question_id in groups[count]:  # the rest, in stored order
            if question_id == own_id or scores.get(question_id, 0.0) > 0.0:
                continue
            if take(question_id):
                return tuple(found)
    unshared = [i for i in scores if i not in counts and i in knowledge]
    for question_id in sorted(unshared, key=lambda i: (-scores[i], place(i))):
        if take(question_id):
            break
    return tuple(found)


def _by_tags_alone(
    knowledge: KnowledgeBase,
    text: str,
    own_id: str,
    counts: Mapping[str, int],
    groups: Mapping[int, Sequence[str]],
    limit: int,
) -> tuple[Question, ...] | None:
    """:func:`_nearest`'s result when the matcher's scores cannot change it, found without
    them; None when they can.

    The groups of questions sharing tags are read most tags first, each group's matched
    questions first; a group none of whose questions the matcher could rank for ``text``
    (:meth:`~bot.knowledge.matcher.Matcher.ranked_questions`, its pool: no scoring) is read
    in stored order alone. When the first such groups hold enough questions, that is the
    result: the scores, most of the work, are not needed."""
    ranked = knowledge.matcher.ranked_questions(text)
    if ranked is None:
        return None
    matched = {counts[i] for i in ranked if i != own_id and i in counts}
    found: list[Question] = []
    for count in sorted(groups, reverse=True):
        if count in matched:
            return None
        for question_id in groups[count]:
            other = knowledge.get(question_id) if question_id != own_id else None
            if other is not None and other.answers and not knowledge.internal_only(other):
                found.append(other)
                if len(found) == limit:
                    return tuple(found)
    return None
