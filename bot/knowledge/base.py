"""The live knowledge base: questions by id, kept in step with the matcher's index, and the
tag records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Question, Tag

_NO_IDS: frozenset[str] = frozenset()
#: Sets of tags whose sharing questions are kept (see KnowledgeBase.sharing).
SHARING_CACHE = 256


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


def answer_text(question: Question) -> str:
    """The answer text the matcher indexes for ``question``: the one shown first ("" when it
    has none)."""
    answers = question.ranked_answers()
    return answers[0].text if answers else ""


class Sharing:
    """The questions that carry any of a set of tags, grouped by how many of them they carry
    (for the related questions of a question with those tags: most shared first).

    Worked out group by group, as read, never for every question at once: a question carrying
    ``n`` of ``most`` tags carries one of any ``most - n + 1`` of them, so the group of ``n``
    is found among the questions of the ``most - n + 1`` rarest tags. The group of all of
    them (read first) comes from the rarest tag alone, so a tag on half the questions costs
    nothing until the groups above it run out. Valid for the version of the knowledge base
    it was made from."""

    def __init__(self, knowledge: KnowledgeBase, tags: frozenset[str]) -> None:
        self._knowledge = knowledge
        self._tags = tags
        #: The tags some question carries, rarest first.
        self._rarest = sorted(
            (name for name in tags if knowledge.tagged_count(name)), key=knowledge.tagged_count
        )
        self._groups: dict[int, list[str]] = {}
        self._all: AbstractSet[str] | None = None

    @property
    def most(self) -> int:
        """The most of the tags a question can carry (tags no question carries left out)."""
        return len(self._rarest)

    def count(self, question_id: str) -> int:
        """How many of the tags question ``question_id`` carries (0: none, or no such
        question)."""
        question = self._knowledge.get(question_id)
        return 0 if question is None else len(self._tags.intersection(question.tags))

    def group(self, count: int) -> Sequence[str]:
        """The ids of the questions that carry exactly ``count`` of the tags (1 to
        :attr:`most`), in stored order (read it, never change it)."""
        found = self._groups.get(count)
        if found is None:
            if count == self.most:
                found = list(self._carrying_all())
            else:
                tagged = self._knowledge.tagged_ids
                some = self._rarest[: max(0, self.most - count + 1)]
                candidates = set().union(*(tagged(name) for name in some))
                found = [i for i in candidates if self.count(i) == count]
            found.sort(key=self._knowledge.position)
            self._groups[count] = found
        return found

    def carries(self, count: int) -> Callable[[str], bool]:
        """Whether a question carries exactly ``count`` of the tags, as a test cheap to ask
        again and again: for the group of all of them (read first) a look-up in the set of
        the questions carrying every tag (an intersection of the tag index's sets), not a
        count of the question's tags; for the others, :meth:`count`, so that no common tag's
        questions are read for a group below the first."""
        if count == self.most:
            return self._carrying_all().__contains__
        return lambda question_id: self.count(question_id) == count

    def _carrying_all(self) -> AbstractSet[str]:
        """The ids of the questions that carry every tag some question carries (kept)."""
        if self._all is None:
            tagged = self._knowledge.tagged_ids
            if not self._rarest:
                self._all = frozenset()
            else:
                first, *rest = (tagged(name) for name in self._rarest)
                self._all = frozenset(first.intersection(*rest))
        return self._all


class KnowledgeBase:
    """Questions by id. Every change goes through here so the index never drifts."""

    def __init__(
        self, matcher: Matcher, questions: Iterable[Question] = (), tags: Iterable[Tag] = ()
    ) -> None:
        self.matcher = matcher
        self._questions: dict[str, Question] = {}
        self._tags: dict[str, Tag] = {}
        # Ids of the questions carrying each tag, and each question's place in the stored
        # order (as a dict keeps it: a replaced question keeps its place), so that a tag's
        # questions are found without a scan of every question (a tag page, related ones).
        self._by_tag: dict[str, set[str]] = {}
        self._position: dict[str, int] = {}
        self._next_position = 0
        #: Goes up with every change (a question or a tag record), so that what is worked
        #: out from the questions can be kept until they change (related questions).
        self.version = 0
        self._sharing: dict[frozenset[str], Sharing] = {}
        self._sharing_version = -1
        for question in questions:
            self.upsert(question)
        for tag in tags:
            self.upsert_tag(tag)

    @classmethod
    def indexed(
        cls, matcher: Matcher, questions: Iterable[Question], tags: Iterable[Tag] = ()
    ) -> KnowledgeBase:
        """A knowledge base on a matcher that already indexes exactly ``questions`` (restored
        from a snapshot), without indexing them again."""
        knowledge = cls(matcher)
        for question in questions:
            knowledge._keep(question)
            matcher.set_answer(question.id, answer_text(question))
        for tag in tags:
            knowledge.upsert_tag(tag)
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
        self._keep(question)
        self.matcher.upsert(question.id, question.phrasings, answer_text(question))

    def _keep(self, question: Question) -> None:
        """Add or replace a question everywhere but in the matcher's index."""
        old = self._questions.get(question.id)
        if old is None:
            self._position[question.id] = self._next_position
            self._next_position += 1
        else:
            self._untag(old)
        self.version += 1
        self._questions[question.id] = question
        for name in question.tags:
            self._by_tag.setdefault(name, set()).add(question.id)

    def remove(self, question_id: str) -> Question | None:
        """Remove a question; returns what was removed."""
        question = self._questions.pop(question_id, None)
        if question is not None:
            self.version += 1
            self._untag(question)
            del self._position[question_id]
            self.matcher.remove(question_id)
        return question

    def _untag(self, question: Question) -> None:
        for name in question.tags:
            ids = self._by_tag.get(name)
            if ids is not None:
                ids.discard(question.id)
                if not ids:
                    del self._by_tag[name]

    def in_stored_order(self, question_ids: Iterable[str]) -> list[Question]:
        """The stored questions among ``question_ids``, in stored order (unknown ids left
        out)."""
        known = {i for i in question_ids if i in self._questions}
        return [self._questions[i] for i in sorted(known, key=self._position.__getitem__)]

    # -- tags -----------------------------------------------------------------------------------

    def declared_tags(self) -> list[Tag]:
        """The tag records declared (in the files or by moderators), sorted by name."""
        return [self._tags[name] for name in sorted(self._tags)]

    def tags(self) -> list[Tag]:
        """Every tag, sorted by name: the declared ones, and ``Tag(name)`` for a tag that
        questions use but nobody declared."""
        found = dict(self._tags)
        for name in self._by_tag:
            if name not in found:
                found[name] = Tag(name)
        return [found[name] for name in sorted(found)]

    def tag(self, name: str) -> Tag | None:
        """The tag with this name (case-insensitive): its record, ``Tag(name)`` when
        questions use it undeclared, None when nothing has it."""
        key = (name or "").strip().lower()
        if key in self._tags:
            return self._tags[key]
        if key and key in self._by_tag:
            return Tag(key)
        return None

    def is_declared(self, name: str) -> bool:
        """Whether a record of this tag exists (not only questions using it)."""
        return name in self._tags

    def upsert_tag(self, tag: Tag) -> None:
        """Add or replace a tag record (its name is stored lowercase)."""
        if tag.name != tag.name.lower():
            raise ValueError(f"tag names are stored lowercase, got {tag.name!r}")
        self.version += 1
        self._tags[tag.name] = tag

    def remove_tag(self, name: str) -> Tag | None:
        """Remove a tag record (questions keep using the name); returns what was removed."""
        self.version += 1
        return self._tags.pop(name, None)

    def tagged(self, name: str) -> list[Question]:
        """The questions that carry tag ``name``, in stored order."""
        return self.in_stored_order(self._by_tag.get(name, ()))

    def tagged_ids(self, name: str) -> AbstractSet[str]:
        """The ids of the questions that carry tag ``name``: the index itself, not a copy
        (read it, never change it; it changes with the knowledge base)."""
        return self._by_tag.get(name, _NO_IDS)

    def sharing(self, tags: frozenset[str]) -> Sharing:
        """The questions that carry any of ``tags``, by how many of them they carry (see
        :class:`Sharing`). Kept until the knowledge base changes, with the groups worked out
        so far: the questions of one answer's tags are asked for again and again."""
        if self._sharing_version != self.version:
            self._sharing = {}
            self._sharing_version = self.version
        found = self._sharing.get(tags)
        if found is None:
            if len(self._sharing) >= SHARING_CACHE:
                self._sharing.clear()
            found = self._sharing[tags] = Sharing(self, tags)
        return found

    def position(self, question_id: str) -> int:
        """Where a stored question is in the stored order (a smaller number: earlier)."""
        return self._position[question_id]

    def tagged_count(self, name: str) -> int:
        """How many questions carry tag ``name``."""
        return len(self._by_tag.get(name, ()))

    def internal_only(self, question: Question) -> bool:
        """Whether every tag of ``question`` is internal (hidden from members); False for an
        untagged question."""
        if not question.tags:
            return False
        return all(
            (tag := self._tags.get(name)) is not None and tag.internal for name in question.tags
        )

    def tag_warnings(self) -> list[str]:
        """What ``stampy check`` warns about tags (not errors): tag records no question uses,
        and tags questions use that no record declares, each with where it is."""
        used: dict[str, list[Question]] = {}
        for question in self._questions.values():
            for name in question.tags:
                used.setdefault(name, []).append(question)
        warnings = []
        for tag in self.declared_tags():
            if tag.name not in used:
                where = f"{tag.origin}: " if tag.origin else ""
                warnings.append(f"{where}tag {tag.name!r} is declared but no question uses it")
        for name in sorted(set(used) - set(self._tags)):
            first = used[name][0]
            where = f"{first.origin}: " if first.origin else ""
            count = len(used[name])
            warnings.append(
                f"{where}tag {name!r} is used by {count} question{'s' if count != 1 else ''} "
                f"(first {first.id!r}) but declared in no 'tags' list, so its page has no "
                "description"
            )
        return warnings

    def summary(self) -> Summary:
        """Counts of questions, phrasings, answers and tags."""
        questions = list(self._questions.values())
        return Summary(
            questions=len(questions),
            phrasings=sum(len(q.phrasings) for q in questions),
            answers=sum(len(q.answers) for q in questions),
            unanswered=sum(not q.answers for q in questions),
            tags=len({tag for q in questions for tag in q.tags} | set(self._tags)),
        )
