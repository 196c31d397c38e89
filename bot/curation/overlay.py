"""The knowledge base as served: the shipped YAML files plus the database overlay of
moderators' changes.

The latest stored version of a question (:mod:`bot.store.versions`) replaces the YAML one,
removes it, or leaves it as shipped. :class:`Overlay` owns that composition: it applies the
stored versions at start and on reload (skipping, with a message, versions that now clash
with the files), keeps an index of which question owns each phrasing and answer id, looks
questions up for moderators, checks a changed question against the live knowledge base with
the loader's own rules, and writes one version in one transaction. The changes themselves
are in :mod:`bot.curation.changes`, export and import in :mod:`bot.curation.transfer`.

Changes are serialised by one lock, so two moderators cannot both pass validation with
clashing phrasings; a change is applied to the live knowledge base only once committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.curation.model import (
    DEFAULT_FILE,
    EDIT_WAIT_SECONDS,
    UNWRITABLE,
    Change,
    KnowledgeDiff,
    Moderator,
    Refused,
    ReloadReport,
    make_id,
    quote,
)
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.model import Answer, Question, Tag
from bot.knowledge.rules import MAX_ID_LENGTH, validate_question, validate_tag
from bot.knowledge.text import normalize
from bot.knowledge.writer import question_from_data, question_to_data, tag_from_data
from bot.metrics import Metrics
from bot.store import Store, StoreError
from bot.store.db import utc_now
from bot.store.tag_versions import TagVersion, TagVersions
from bot.store.versions import CHANGES_CHANNEL, QuestionVersion, QuestionVersions

__all__ = ["RELOAD", "Overlay"]

log = logging.getLogger(__name__)

#: The notification (on :data:`~bot.store.versions.CHANGES_CHANNEL`) that asks every
#: process to reload the YAML files.
RELOAD = "reload"


@dataclass(frozen=True)
class _Placement:
    """Where a question goes on export: a file, and a rank that orders it within the file."""

    file: str
    rank: tuple[int, int]


class Overlay:
    """The YAML files and the stored versions composed into the live knowledge base.

    ``knowledge`` is the live knowledge base the bot answers from, ``store`` the open
    database, ``answers_dir`` the shipped YAML files. Call :meth:`start` once before use: it
    applies the stored changes to ``knowledge`` (loaded from the files).
    """

    def __init__(
        self,
        knowledge: KnowledgeBase,
        store: Store,
        answers_dir: str | Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        edit_wait: float = EDIT_WAIT_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.metrics = metrics  # counts stored changes and database errors, when given
        self.answers_dir = Path(answers_dir)
        self.clock = clock
        self.edit_wait = edit_wait  # seconds a change waits for another program's lock
        self._versions = QuestionVersions(store)
        self._tag_versions = TagVersions(store)
        self._lock = asyncio.Lock()
        # Tag records: as in the YAML files, and the latest stored version of each.
        self._shipped_tags: dict[str, Tag] = {}
        self._tag_latest: dict[str, TagVersion] = {}
        # The YAML files as last loaded.
        self._shipped: dict[str, Question] = {}
        self._shipped_file: dict[str, str] = {}
        self._shipped_rank: dict[str, int] = {}
        # The overlay: the latest version of each question that has one.
        self._latest: dict[str, QuestionVersion] = {}
        self._first_row: dict[str, int] = {}
        # Every question and answer id ever stored, so a new one never takes over the
        # history (or the stamps) of a removed one.
        self._ever_questions: set[str] = set()
        self._ever_answers: set[str] = set()
        # Owners of normalised phrasings and answer ids in the live knowledge base.
        self._phrasing_owner: dict[str, str] = {}
        self._answer_owner: dict[str, str] = {}
        self.skipped: tuple[str, ...] = ()
        # The display name each member had when they last changed a question (from the
        # stored versions): how front ends name an answer's author without showing an id.
        self._names: dict[int, str] = {}

    # -- start, reload --------------------------------------------------------------------------

    async def start(self) -> ReloadReport:
        """Read the overlay and apply it to the live knowledge base, which holds what was
        loaded from the YAML files (those are what "shipped" means until :meth:`reload`)."""
        async with self._lock:
            rows = await self._versions.all()
            self._remember_rows(rows)
            self._set_shipped(list(self.knowledge))
            diff = self._rebuild()
            self._shipped_tags = {
                tag.name: tag for tag in _file_order(self.knowledge.declared_tags())
            }
            self._remember_tag_rows(await self._tag_versions.all())
            self._rebuild_tags()
        return ReloadReport((), diff, self.skipped)

    async def reload(self, *, announce: bool = True) -> ReloadReport:
        """Re-read the YAML files and the stored changes and apply them, without a restart.

        If any file has an error nothing changes (the old knowledge base keeps being
        served) and the errors are returned, each with its file and line. ``announce``: tell
        the other processes sharing the database to reload too (:mod:`bot.curation.feed`).
        """
        result = load_directory(self.answers_dir)
        if result.errors:
            return ReloadReport(result.errors, KnowledgeDiff(), self.skipped)
        async with self._lock:
            self._remember_rows(await self._versions.all())  # e.g. from ``stampy import``
            self._set_shipped(result.questions)
            diff = self._rebuild()
            self._shipped_tags = {tag.name: tag for tag in result.tags}
            self._remember_tag_rows(await self._tag_versions.all())
            self._rebuild_tags()
        if announce:
            try:
                await self.store.announce(CHANGES_CHANNEL, RELOAD)
            except StoreError as error:  # reloaded here; the others reload at their restart
                log.warning("reloaded, but could not tell the other processes: %s", error)
        return ReloadReport((), diff, self.skipped)

    async def catch_up(self, question_ids: Iterable[str] | None = None) -> KnowledgeDiff:
        """Apply the versions other processes stored since this one last looked: those of
        ``question_ids`` (named in a notification), or of every question whose latest
        stored version is newer than the one applied here (after listening (re)started,
        since notifications are not replayed). What changed in the live knowledge base."""
        async with self._lock:
            if question_ids is None:
                stale = [
                    row.question_id
                    for row in await self._versions.latest()
                    if row.version > self._applied_version(row.question_id)
                ]
            else:
                stale = list(question_ids)
            rows: list[QuestionVersion] = []
            for question_id in stale:
                rows += await self._versions.after(question_id, self._applied_version(question_id))
            if not rows:
                return KnowledgeDiff()
            self._remember_rows(rows)
            return self._rebuild()

    async def catch_up_tags(self) -> None:
        """Apply the tag versions other processes stored (tags are few: all are re-read)."""
        async with self._lock:
            self._remember_tag_rows(await self._tag_versions.all())
            self._rebuild_tags()

    def _remember_tag_rows(self, rows: Iterable[TagVersion]) -> None:
        for row in rows:
            self._tag_latest[row.name] = row

    def _overlay_tag(self, row: TagVersion) -> Tag:
        """The tag a "set" row holds; ValueError if it cannot be read or is invalid."""
        assert row.content is not None
        try:
            tag = tag_from_data(json.loads(row.content))
        except ValueError as exc:
            raise ValueError(f"cannot be read ({exc})") from None
        problems = validate_tag(tag) if tag.name == row.name else [f"holds tag {tag.name!r}"]
        if problems:
            raise ValueError("; ".join(problems))
        return tag

    def _rebuild_tags(self) -> None:
        """Compose the files' tag records and the stored versions into the live knowledge
        base (a version that cannot be read is skipped and logged)."""
        target = dict(self._shipped_tags)
        for name, row in sorted(self._tag_latest.items(), key=lambda item: item[1].id):
            if row.state == "removed":
                target.pop(name, None)
            elif row.state == "shipped":
                if name in self._shipped_tags:
                    target[name] = self._shipped_tags[name]
                else:
                    target.pop(name, None)
            else:
                try:
                    target[name] = self._overlay_tag(row)
                except ValueError as exc:
                    log.warning("version %d of tag %r not applied: %s", row.version, name, exc)
        for tag in self.knowledge.declared_tags():
            if tag.name not in target:
                self.knowledge.remove_tag(tag.name)
        for tag in target.values():
            self.knowledge.upsert_tag(tag)

    def display_names(self) -> dict[int, str]:
        """Members' display names as captured when they changed the knowledge base (their
        latest), by Discord id: an answer crediting ``<@id>`` is shown by this name."""
        return dict(self._names)

    def _applied_version(self, question_id: str) -> int:
        row = self._latest.get(question_id)
        return 0 if row is None else row.version

    @contextlib.asynccontextmanager
    async def _changing(self) -> AsyncIterator[None]:
        """The lock a change holds. A database that cannot be written (busy, read-only,
        full...) refuses the change: nothing is written, and nothing changes in memory
        either (a change is applied to the live knowledge base only once committed)."""
        async with self._lock:
            try:
                yield
            except StoreError as error:
                if self.metrics is not None:
                    self.metrics.database_error(error.kind)
                reason = UNWRITABLE.get(error.kind)
                if reason is None:
                    raise  # not the database's state but a bug: reported as such
                raise Refused(reason) from error

    def _remember_rows(self, rows: Iterable[QuestionVersion]) -> None:
        for row in rows:
            self._note_row(row)

    def _note_row(self, row: QuestionVersion) -> None:
        if row.member_id is not None and row.member_name:
            self._names[row.member_id] = row.member_name
        self._latest[row.question_id] = row
        self._first_row.setdefault(row.question_id, row.id)
        self._ever_questions.add(row.question_id)
        if row.content is not None:
            try:
                data = json.loads(row.content)
                self._ever_answers.update(str(item["id"]) for item in data.get("answers", ()))
            except (ValueError, TypeError, KeyError, AttributeError):
                pass  # reported when the version is applied

    def _set_shipped(self, questions: Sequence[Question]) -> None:
        self._shipped = {q.id: q for q in questions}
        self._shipped_file = {
            q.id: Path(q.origin.path).name if q.origin else DEFAULT_FILE for q in questions
        }
        self._shipped_rank = {q.id: index for index, q in enumerate(questions)}
        self._ever_questions.update(self._shipped)
        self._ever_answers.update(a.id for q in questions for a in q.answers)

    def _overlay_question(self, row: QuestionVersion) -> Question:
        """The question a "set" row holds; ValueError if it cannot be read or is invalid."""
        assert row.content is not None
        try:
            question = question_from_data(json.loads(row.content))
        except ValueError as exc:
            raise ValueError(f"cannot be read ({exc})") from None
        if question.id != row.question_id:
            raise ValueError(f"holds question id {question.id!r}")
        problems = validate_question(question, {})
        if problems:
            raise ValueError("; ".join(problems))
        return question

    def _rebuild(self) -> KnowledgeDiff:
        """Compose the YAML questions and the overlay and apply the result to the live
        knowledge base; overlay versions that clash with the files are skipped."""
        target: dict[str, Question] = dict(self._shipped)
        overlaid: set[str] = set()
        skipped: list[str] = []
        for question_id, row in sorted(self._latest.items(), key=lambda item: item[1].id):
            if row.state == "removed":
                target.pop(question_id, None)
            elif row.state == "set":
                try:
                    target[question_id] = self._overlay_question(row)
                    overlaid.add(question_id)
                except ValueError as exc:
                    skipped.append(f"version {row.version} of {question_id!r} {exc}")
        while True:
            clashing = _clashes(target, overlaid)
            if not clashing:
                break
            for question_id, message in clashing.items():
                row = self._latest[question_id]
                skipped.append(f"version {row.version} of {question_id!r}: {message}")
                overlaid.discard(question_id)
                if question_id in self._shipped:
                    target[question_id] = self._shipped[question_id]
                else:
                    target.pop(question_id)
        self.skipped = tuple(skipped)
        return self._sync(target)

    def _sync(self, target: dict[str, Question]) -> KnowledgeDiff:
        """Make the live knowledge base hold exactly ``target``; what changed."""
        kb = self.knowledge
        removed = sorted(qid for qid in [q.id for q in kb] if qid not in target)
        added: list[str] = []
        changed: list[str] = []
        for question_id in removed:
            kb.remove(question_id)
        for question in target.values():
            current = kb.get(question.id)
            if current is None:
                added.append(question.id)
                kb.upsert(question)
            elif current != question:
                changed.append(question.id)
                kb.upsert(question)
        self._phrasing_owner = {}
        self._answer_owner = {}
        for question in kb:
            self._index(question)
        return KnowledgeDiff(tuple(sorted(added)), tuple(sorted(changed)), tuple(removed))

    def _index(self, question: Question) -> None:
        for phrasing in question.phrasings:
            self._phrasing_owner.setdefault(normalize(phrasing), question.id)
        for answer in question.answers:
            self._answer_owner.setdefault(answer.id, question.id)

    def _unindex(self, question: Question) -> None:
        for phrasing in question.phrasings:
            key = normalize(phrasing)
            if self._phrasing_owner.get(key) == question.id:
                del self._phrasing_owner[key]
        for answer in question.answers:
            if self._answer_owner.get(answer.id) == question.id:
                del self._answer_owner[answer.id]

    # -- looking things up ----------------------------------------------------------------------

    def find(self, value: str) -> Question | None:
        """The live question ``value`` names: its id, or one of its phrasings (ignoring case
        and punctuation)."""
        value = (value or "").strip()
        question = self.knowledge.get(value)
        if question is not None:
            return question
        owner = self._phrasing_owner.get(normalize(value)) if value else None
        return self.knowledge.get(owner) if owner else None

    def require(self, value: str) -> Question:
        """:meth:`find`, or :class:`Refused` naming what was not found."""
        question = self.find(value)
        if question is None:
            shown = quote(value) if (value or "").strip() else "(empty)"
            raise Refused(
                f"there is no question with the id or wording {shown}; pick one from the list"
            )
        return question

    def known_id(self, value: str) -> str | None:
        """``value`` (or the id of the question it words) if a question with that id exists
        or ever existed; for history and revert, which also work on removed questions."""
        question = self.find(value)
        if question is not None:
            return question.id
        value = (value or "").strip()
        return value if value in self._ever_questions or value in self._shipped else None

    def question_choices(self, text: str, limit: int = 25) -> list[Question]:
        """Questions for autocomplete, best first: the id typed, the matcher's ranking of the
        text, then questions whose text or id contains it. No database access."""
        text = (text or "").strip()
        kb = self.knowledge
        if not text:
            return list(itertools.islice(kb, limit))
        found: dict[str, Question] = {}
        exact = self.find(text)
        if exact is not None:
            found[exact.id] = exact
        for candidate in kb.matcher.search(text, k=limit):
            question = kb.get(candidate.question_id)
            if question is not None and len(found) < limit:
                found.setdefault(question.id, question)
        if len(found) < limit:
            needle = text.casefold()
            for question in kb:
                if needle in question.text.casefold() or needle in question.id:
                    found.setdefault(question.id, question)
                    if len(found) >= limit:
                        break
        return list(found.values())[:limit]

    def history_ids(self) -> set[str]:
        """Ids of every question that has a history (for autocomplete of removed ones)."""
        return set(self._ever_questions)

    def _placement(self, question_id: str) -> _Placement:
        row = self._latest.get(question_id)
        file = row.file if row is not None and row.file else None
        file = file or self._shipped_file.get(question_id) or DEFAULT_FILE
        if question_id in self._shipped_rank:
            rank = (0, self._shipped_rank[question_id])
        else:
            rank = (1, self._first_row.get(question_id, 0))
        return _Placement(file, rank)

    # -- checking and writing -------------------------------------------------------------------

    def problems(self, question: Question) -> list[str]:
        """What is wrong with ``question`` as a replacement for (or addition to) the live
        knowledge base: the loader's rules, checked against the questions it could clash
        with."""
        existing: dict[str, Question] = {}
        owners = [self._phrasing_owner.get(normalize(p)) for p in question.phrasings]
        owners += [self._answer_owner.get(answer.id) for answer in question.answers]
        for owner in owners:
            if owner is not None and owner != question.id:
                other = self.knowledge.get(owner)
                if other is not None:
                    existing[owner] = other
        return validate_question(question, existing)

    def _check(self, question: Question) -> None:
        problems = self.problems(question)
        if problems:
            raise Refused("; ".join(problems))

    async def _write(
        self,
        moderator: Moderator,
        question_id: str,
        state: str,
        after: Question | None,
        action: str,
        *,
        also: Callable[[], Awaitable[None]] | None = None,
        file: str | None = None,
        topic: str | None = None,
    ) -> Change:
        """Write one version (and ``also``, in the same transaction) and apply it.

        The caller holds the lock and has checked ``after``.
        """
        before = self.knowledge.get(question_id)
        previous = self._latest.get(question_id)
        if file is None and previous is not None:  # a question keeps the file it was put in
            file, topic = previous.file, previous.topic
        content = None
        if state == "set":
            assert after is not None
            content = json.dumps(question_to_data(after), ensure_ascii=False)
        async with self.store.transaction(wait=self.edit_wait):
            row = await self._versions.append(
                question_id,
                state=state,
                content=content,
                member_id=moderator.id,
                member_name=moderator.name,
                guild_id=moderator.guild_id,
                file=file,
                topic=topic,
                action=action,
                at=self.clock(),
            )
            if also is not None:
                await also()
        self._note_row(row)
        self._apply(question_id, before, after)
        if self.metrics is not None:
            self.metrics.moderation_change()
        return Change(question_id, row.version, action, before, after)

    def _apply(self, question_id: str, before: Question | None, after: Question | None) -> None:
        if before is not None:
            self._unindex(before)
        if after is None:
            self.knowledge.remove(question_id)
        else:
            self.knowledge.upsert(after)
            self._index(after)
            self._ever_answers.update(answer.id for answer in after.answers)

    async def _replace(
        self,
        moderator: Moderator,
        before: Question,
        after: Question,
        action: str,
        *,
        also: Callable[[], Awaitable[None]] | None = None,
    ) -> Change:
        """Check and write a new version of an existing question (the caller holds the lock)."""
        if after == before:
            raise Refused(f"nothing to change: question {before.id!r} already looks like that")
        self._check(after)
        return await self._write(moderator, before.id, "set", after, action, also=also)

    def _live(self, question_id: str) -> Question:
        """The live question with this id (looked up again under the lock)."""
        question = self.knowledge.get(question_id)
        if question is None:
            raise Refused(f"there is no question with the id {question_id!r}")
        return question

    def _answer_id(self, question_id: str) -> str:
        """A new answer id for ``question_id``: "<question id>-<n>", never used before."""
        for number in itertools.count(1):
            suffix = f"-{number}"
            candidate = question_id[: MAX_ID_LENGTH - len(suffix)].rstrip("-") + suffix
            if candidate not in self._ever_answers and candidate not in self._answer_owner:
                return candidate
        raise AssertionError("unreachable")

    def _question_id(self, text: str) -> str:
        def taken(candidate: str) -> bool:
            return (
                candidate in self.knowledge
                or candidate in self._ever_questions
                or candidate in self._shipped
            )

        return make_id(text, taken)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def answer_of(question: Question, answer_id: str) -> Answer:
        """The answer of ``question`` with this id, or :class:`Refused` listing its answers."""
        wanted = (answer_id or "").strip()
        for answer in question.answers:
            if answer.id == wanted:
                return answer
        if not question.answers:
            raise Refused(f"question {question.id!r} has no answers")
        listed = ", ".join(repr(a.id) for a in question.answers)
        raise Refused(f"question {question.id!r} has no answer {wanted!r} (its answers: {listed})")


def _clashes(target: dict[str, Question], overlaid: set[str]) -> dict[str, str]:
    """Overlay questions in ``target`` that reuse a phrasing or answer id of another question
    (the other question wins if it is from the files), with what they reuse."""
    owner: dict[tuple[str, str], str] = {}
    clashing: dict[str, str] = {}
    ordered = sorted(target.values(), key=lambda q: q.id in overlaid)  # files' questions first
    for question in ordered:
        keys = [("phrasing", normalize(p)) for p in question.phrasings]
        keys += [("answer id", a.id) for a in question.answers]
        clash = next(
            ((k, owner[k]) for k in keys if owner.get(k, question.id) != question.id), None
        )
        if clash is not None and question.id in overlaid:
            (kind, value), other = clash
            clashing[question.id] = f"its {kind} {value!r} is also used by {other!r}"
            continue
        for key in keys:
            owner.setdefault(key, question.id)
    return clashing


def _file_order(tags: Iterable[Tag]) -> list[Tag]:
    """Tag records in the order of the files they were read from."""
    return sorted(
        tags, key=lambda tag: (tag.origin.path, tag.origin.line) if tag.origin else ("", 0)
    )
