"""Curating the knowledge base: moderators' changes, their history, reload, export and import.

The knowledge base is the shipped YAML files (``answers/``) plus a database overlay of
moderators' changes (:mod:`bot.store.versions`): the latest stored version of a question
replaces the YAML one, removes it, or leaves it as shipped. :class:`Curator` owns that
overlay. Each change:

1. builds the new :class:`~bot.knowledge.model.Question`;
2. checks it with :func:`~bot.knowledge.loader.validate_question` against the live knowledge
   base, the same rules the YAML loader applies (ids, lengths within Discord's limits,
   tags, links, no phrasing or answer id used twice);
3. writes one transaction: the new version row, with who and when and what, plus whatever
   goes with it (an unanswered question marked answered, a proposal approved);
4. applies it to the live knowledge base, whose matcher updates in place.

A refused change raises :class:`Refused` with the exact reason and leaves the database and
the knowledge base as they were. Changes are serialised by a lock, so two moderators cannot
both pass validation with clashing phrasings.

This module imports nothing from discord: the Discord cogs and the command line call it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import (
    MAX_ID_LENGTH,
    LoadError,
    load_directory,
    validate_question,
)
from bot.knowledge.model import Answer, Question
from bot.knowledge.text import normalize
from bot.knowledge.writer import (
    dump_file,
    question_from_data,
    question_to_data,
    read_topics,
    write_files,
)
from bot.store import (
    ProposedPhrasing,
    ProposedPhrasings,
    Store,
    StoreError,
    UnansweredQuestion,
    UnansweredQuestions,
)
from bot.store.db import BUSY, CORRUPT, FULL, IO, READ_ONLY, utc_now
from bot.store.versions import QuestionVersion, QuestionVersions

__all__ = [
    "DEFAULT_FILE",
    "Change",
    "Curator",
    "HistoryEntry",
    "ImportReport",
    "KnowledgeDiff",
    "Moderator",
    "Refused",
    "ReloadReport",
    "author_mention",
    "clean_text",
    "make_id",
    "split_lines",
    "split_tags",
]

#: The file that questions added on Discord are exported to, and its topic.
DEFAULT_FILE = "discord.yaml"
DEFAULT_TOPIC = "Added on Discord"
#: Question ids made from a question's words are at most this long (before a "-2" suffix).
SLUG_LENGTH = 48
#: Who ``stampy import`` records as having made the change.
IMPORT_MODERATOR_NAME = "stampy import"
#: Seconds a change waits for another program's database lock before it is refused (SQLite
#: retries with growing pauses meanwhile); short enough to answer within Discord's 3 s.
EDIT_WAIT_SECONDS = 1.5
#: Why a change was refused when the database could not be written, by kind of fault.
UNWRITABLE = {
    BUSY: "the database is busy (another program is writing to it), try again in a moment",
    READ_ONLY: "the database is read-only, so changes cannot be saved; the bot's operator "
    "must fix that (the log says more)",
    FULL: "the disk is full, so changes cannot be saved; the bot's operator must free some "
    "space (the log says more)",
    IO: "the database could not be written (a disk error); the log says more",
    CORRUPT: "the database file is damaged; the log says more",
}

_SLUG_WORD = re.compile(r"[a-z0-9]+")
_TAG_SEPARATORS = re.compile(r"[,\n]")
# Control characters other than tab and line break (NUL, escape sequences that recolour a
# terminal, DEL, C1): invisible on Discord, and not allowed raw in YAML.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Refused(Exception):
    """A change was refused; ``reason`` says exactly why. Nothing was written."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Moderator:
    """Who makes a change: a member (Discord id, display name, guild) or a command-line user."""

    name: str
    id: int | None = None
    guild_id: int | None = None

    @property
    def credit(self) -> str:
        """How answers this moderator writes name their author: a Discord mention
        (``<@id>``, which is how stamps find whom to credit), else the name."""
        return author_mention(self.id) if self.id is not None else self.name


def author_mention(user_id: int) -> str:
    """An answer's ``author`` naming a Discord user, so that stamps on it credit them."""
    return f"<@{int(user_id)}>"


@dataclass(frozen=True)
class Change:
    """A change that was made: the question before and after (None: absent) and its version."""

    question_id: str
    version: int
    action: str
    before: Question | None
    after: Question | None


@dataclass(frozen=True)
class HistoryEntry:
    """One version of a question. Version 0 is the one in the YAML files (no member, no time).

    ``state`` is "set" (``question`` holds it), "removed", or "shipped" (the YAML version,
    also in ``question`` when the files hold the question).
    """

    version: int
    state: str
    question: Question | None
    member_name: str | None
    member_id: int | None
    at: datetime | None
    action: str
    current: bool


@dataclass(frozen=True)
class KnowledgeDiff:
    """Which questions a reload or import added, changed and removed (ids, sorted)."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def __str__(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"


@dataclass(frozen=True)
class ReloadReport:
    """What reloading the YAML files did. With ``errors`` nothing changed.

    ``skipped`` lists stored versions that could not be applied because they now clash with
    the files (the YAML version is served instead), as messages.
    """

    errors: tuple[LoadError, ...]
    diff: KnowledgeDiff
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the files loaded without errors (and the changes were applied)."""
        return not self.errors


@dataclass(frozen=True)
class ImportReport:
    """What ``stampy import`` did: with ``errors`` nothing was written."""

    errors: tuple[LoadError, ...]
    diff: KnowledgeDiff
    versions: int  # version rows written

    @property
    def ok(self) -> bool:
        """True when the directory loaded without errors (and was imported)."""
        return not self.errors


# --------------------------------------------------------------------------------------------
# Text from moderators


def clean_text(text: str | None) -> str:
    """Text typed by a moderator, ready to check and store: line breaks as ``\\n``, NUL
    and other control characters (but tabs) dropped, always encodable, stripped. Never
    shortened (too long is refused)."""
    if text is None:
        return ""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def split_lines(text: str | None) -> list[str]:
    """One alternate phrasing per line: stripped, blank lines left out."""
    return [line.strip() for line in clean_text(text).split("\n") if line.strip()]


def split_tags(text: str | None) -> list[str]:
    """Tags separated by commas or line breaks, stripped and lowercased, each listed once.

    Spaces do not separate tags, so "machine learning" stays one (invalid) tag and is
    refused with a suggestion instead of silently becoming two.
    """
    tags: dict[str, None] = {}
    for part in _TAG_SEPARATORS.split(clean_text(text)):
        if part.strip():
            tags.setdefault(part.strip().lower(), None)
    return list(tags)


def make_id(text: str, taken: Callable[[str], bool], *, limit: int = SLUG_LENGTH) -> str:
    """A valid id made from the words of ``text`` ("What is X?" -> "what-is-x"), unused.

    Words are folded to ASCII; the id stops at a word boundary within ``limit`` characters;
    "-2", "-3", ... is added while ``taken(id)`` is true. Text without usable letters gives
    "question".
    """
    ascii_text = unicodedata.normalize("NFKD", normalize(text)).encode("ascii", "ignore")
    words = _SLUG_WORD.findall(ascii_text.decode("ascii"))
    slug = ""
    for word in words:
        longer = f"{slug}-{word}" if slug else word
        if len(longer) > limit:
            break
        slug = longer
    if not slug:
        slug = words[0][:limit] if words else "question"
    return unique_id(slug, taken)


def unique_id(base: str, taken: Callable[[str], bool]) -> str:
    """``base``, or ``base-2``, ``base-3``, ... whichever is first not ``taken``."""
    if not taken(base):
        return base
    for number in itertools.count(2):
        suffix = f"-{number}"
        candidate = base[: MAX_ID_LENGTH - len(suffix)].rstrip("-") + suffix
        if not taken(candidate):
            return candidate
    raise AssertionError("unreachable")


def _quote(text: str, limit: int = 80) -> str:
    """``text`` in quotes for a message, shortened."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return f"“{line}”"


def _derived_topic(name: str) -> str:
    """A topic for a file that has none recorded: "ethics-and-policy.yaml" -> "Ethics and
    policy"."""
    if name == DEFAULT_FILE:
        return DEFAULT_TOPIC
    words = re.split(r"[-_\s]+", Path(name).stem)
    text = " ".join(word for word in words if word)
    return text[:1].upper() + text[1:] if text else DEFAULT_TOPIC


# --------------------------------------------------------------------------------------------
# The curator


@dataclass(frozen=True)
class _Placement:
    """Where a question goes on export: a file, and a rank that orders it within the file."""

    file: str
    rank: tuple[int, int]


class Curator:
    """Every change to the shared knowledge base goes through here (see the module docstring).

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
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.answers_dir = Path(answers_dir)
        self.clock = clock
        self.edit_wait = edit_wait  # seconds a change waits for another program's lock
        self._versions = QuestionVersions(store)
        self._unanswered = UnansweredQuestions(store, wait=edit_wait)
        self._proposals = ProposedPhrasings(store, wait=edit_wait)
        self._lock = asyncio.Lock()
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

    # -- start, reload --------------------------------------------------------------------------

    async def start(self) -> ReloadReport:
        """Read the overlay and apply it to the live knowledge base, which holds what was
        loaded from the YAML files (those are what "shipped" means until :meth:`reload`)."""
        async with self._lock:
            rows = await self._versions.all()
            self._remember_rows(rows)
            self._set_shipped(list(self.knowledge))
            diff = self._rebuild()
        return ReloadReport((), diff, self.skipped)

    async def reload(self) -> ReloadReport:
        """Re-read the YAML files and the stored changes and apply them, without a restart.

        If any file has an error nothing changes (the old knowledge base keeps being
        served) and the errors are returned, each with its file and line.
        """
        result = load_directory(self.answers_dir)
        if result.errors:
            return ReloadReport(result.errors, KnowledgeDiff(), self.skipped)
        async with self._lock:
            self._remember_rows(await self._versions.all())  # e.g. from ``stampy import``
            self._set_shipped(result.questions)
            diff = self._rebuild()
        return ReloadReport((), diff, self.skipped)

    @contextlib.asynccontextmanager
    async def _changing(self) -> AsyncIterator[None]:
        """The lock a change holds. A database that cannot be written (busy, read-only,
        full...) refuses the change: nothing is written, and nothing changes in memory
        either (a change is applied to the live knowledge base only once committed)."""
        async with self._lock:
            try:
                yield
            except StoreError as error:
                reason = UNWRITABLE.get(error.kind)
                if reason is None:
                    raise  # not the database's state but a bug: reported as such
                raise Refused(reason) from error

    def _remember_rows(self, rows: Iterable[QuestionVersion]) -> None:
        for row in rows:
            self._note_row(row)

    def _note_row(self, row: QuestionVersion) -> None:
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
            shown = _quote(value) if (value or "").strip() else "(empty)"
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

    # -- changes ------------------------------------------------------------------------------

    async def add_question(
        self,
        moderator: Moderator,
        text: str,
        *,
        answer: str | None = None,
        alternate_phrasings: Sequence[str] = (),
        tags: Sequence[str] = (),
        canonical: bool = False,
        author: str | None = None,
        source: str | None = None,
        unanswered_id: int | None = None,
    ) -> Change:
        """Add a new question (with one answer if ``answer`` has text).

        ``author`` defaults to the moderator's name. With ``unanswered_id`` the unanswered
        question it answers is marked answered in the same transaction.
        """
        text = clean_text(text)
        answer_text = clean_text(answer)
        async with self._changing():
            if not text:
                raise Refused("the question is empty")
            question_id = self._question_id(text)
            answers: tuple[Answer, ...] = ()
            if answer_text:
                answers = (
                    Answer(
                        id=self._answer_id(question_id),
                        text=answer_text,
                        canonical=canonical,
                        author=clean_text(author) or moderator.credit,
                        source=clean_text(source) or None,
                    ),
                )
            elif canonical:
                raise Refused("only an answer can be canonical, and the answer is empty")
            question = Question(
                id=question_id,
                text=text,
                alternate_phrasings=tuple(clean_text(p) for p in alternate_phrasings),
                tags=tuple(clean_text(t).lower() for t in tags),
                answers=answers,
            )
            also = await self._close_unanswered(unanswered_id)
            self._check(question)
            action = "added the question" + (" with an answer" if answers else "")
            if unanswered_id is not None:
                action += f" (answering unanswered question #{unanswered_id})"
            return await self._write(moderator, question_id, "set", question, action, also=also)

    async def edit_question(
        self,
        moderator: Moderator,
        question_id: str,
        *,
        text: str | None = None,
        alternate_phrasings: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        answer_id: str | None = None,
        answer_text: str | None = None,
        canonical: bool | None = None,
        expected: Question | None = None,
    ) -> Change:
        """Change a question's text, phrasings and tags, and the text (and canonical flag) of
        one answer. Arguments left as None keep their value. ``answer_text`` without
        ``answer_id`` adds an answer (if it has text). With ``expected`` (the question as the
        form showed it), refused if someone changed the question meanwhile."""
        async with self._changing():
            before = self._live(question_id)
            if expected is not None and expected != before:
                raise Refused(
                    f"question {question_id!r} was changed by someone else while the form was "
                    "open; open it again to see the current version"
                )
            after = before
            what: list[str] = []
            if text is not None and clean_text(text) != before.text:
                after = replace(after, text=clean_text(text))
                what.append("question text")
            if alternate_phrasings is not None:
                phrasings = tuple(clean_text(p) for p in alternate_phrasings)
                if phrasings != before.alternate_phrasings:
                    after = replace(after, alternate_phrasings=phrasings)
                    what.append("alternate phrasings")
            if tags is not None:
                new_tags = tuple(clean_text(t).lower() for t in tags)
                if new_tags != before.tags:
                    after = replace(after, tags=new_tags)
                    what.append("tags")
            if answer_id is not None:
                answer = self.answer_of(before, answer_id)
                changed = answer
                if answer_text is not None:
                    changed = replace(changed, text=clean_text(answer_text))
                if canonical is not None:
                    changed = replace(changed, canonical=canonical)
                if changed != answer:
                    after = replace(
                        after,
                        answers=tuple(changed if a.id == answer.id else a for a in after.answers),
                    )
                    what.append(f"answer {answer.id!r}")
            elif clean_text(answer_text):
                new = Answer(
                    id=self._answer_id(before.id),
                    text=clean_text(answer_text),
                    canonical=bool(canonical),
                    author=moderator.credit,
                )
                after = replace(after, answers=(*after.answers, new))
                what.append(f"new answer {new.id!r}")
            action = "edited " + (", ".join(what) if what else "nothing")
            return await self._replace(moderator, before, after, action)

    async def add_answer(
        self,
        moderator: Moderator,
        question_id: str,
        text: str,
        *,
        author: str | None = None,
        canonical: bool = False,
        source: str | None = None,
        action: str | None = None,
    ) -> Change:
        """Add an answer to an existing question; ``author`` defaults to the moderator."""
        async with self._changing():
            before = self._live(question_id)
            body = clean_text(text)
            if not body:
                raise Refused("the answer is empty")
            answer = Answer(
                id=self._answer_id(before.id),
                text=body,
                canonical=canonical,
                author=clean_text(author) or moderator.credit,
                source=clean_text(source) or None,
            )
            after = replace(before, answers=(*before.answers, answer))
            return await self._replace(
                moderator, before, after, action or f"added answer {answer.id!r}"
            )

    async def add_alias(self, moderator: Moderator, question_id: str, phrasing: str) -> Change:
        """Add an alternate phrasing."""
        async with self._changing():
            before = self._live(question_id)
            wording = clean_text(phrasing)
            after = replace(before, alternate_phrasings=(*before.alternate_phrasings, wording))
            return await self._replace(
                moderator, before, after, f"added the alternate phrasing {_quote(wording)}"
            )

    async def remove_alias(self, moderator: Moderator, question_id: str, phrasing: str) -> Change:
        """Remove an alternate phrasing (matched ignoring case and punctuation)."""
        async with self._changing():
            before = self._live(question_id)
            key = normalize(clean_text(phrasing))
            kept = tuple(p for p in before.alternate_phrasings if normalize(p) != key)
            if len(kept) == len(before.alternate_phrasings):
                if key and key == normalize(before.text):
                    raise Refused(
                        "that is the question's own text, not an alternate phrasing; "
                        "change it with /answer edit"
                    )
                raise Refused(
                    f"question {before.id!r} has no alternate phrasing {_quote(phrasing)}"
                )
            removed = next(p for p in before.alternate_phrasings if normalize(p) == key)
            after = replace(before, alternate_phrasings=kept)
            return await self._replace(
                moderator, before, after, f"removed the alternate phrasing {_quote(removed)}"
            )

    async def add_tag(self, moderator: Moderator, question_id: str, tag: str) -> Change:
        """Add a tag (stored lowercase)."""
        async with self._changing():
            before = self._live(question_id)
            value = clean_text(tag).lower()
            if value in before.tags:
                raise Refused(f"question {before.id!r} already has the tag {value!r}")
            after = replace(before, tags=(*before.tags, value))
            return await self._replace(moderator, before, after, f"added the tag {value!r}")

    async def remove_tag(self, moderator: Moderator, question_id: str, tag: str) -> Change:
        """Remove a tag."""
        async with self._changing():
            before = self._live(question_id)
            value = clean_text(tag).lower()
            if value not in before.tags:
                raise Refused(f"question {before.id!r} has no tag {_quote(tag)}")
            after = replace(before, tags=tuple(t for t in before.tags if t != value))
            return await self._replace(moderator, before, after, f"removed the tag {value!r}")

    async def set_canonical(
        self, moderator: Moderator, question_id: str, answer_id: str, canonical: bool
    ) -> Change:
        """Mark one answer canonical (shown first) or not."""
        async with self._changing():
            before = self._live(question_id)
            answer = self.answer_of(before, answer_id)
            if answer.canonical == canonical:
                state = "already canonical" if canonical else "already not canonical"
                raise Refused(f"answer {answer.id!r} is {state}")
            changed = replace(answer, canonical=canonical)
            after = replace(
                before, answers=tuple(changed if a.id == answer.id else a for a in before.answers)
            )
            verb = "marked" if canonical else "unmarked"
            return await self._replace(
                moderator, before, after, f"{verb} answer {answer.id!r} as canonical"
            )

    async def remove(
        self, moderator: Moderator, question_id: str, answer_id: str | None = None
    ) -> Change:
        """Remove a whole question, or one of its answers."""
        async with self._changing():
            before = self._live(question_id)
            if answer_id is None:
                return await self._write(
                    moderator, before.id, "removed", None, "removed the question"
                )
            answer = self.answer_of(before, answer_id)
            after = replace(before, answers=tuple(a for a in before.answers if a.id != answer.id))
            return await self._replace(moderator, before, after, f"removed answer {answer.id!r}")

    async def save_as_answer(
        self,
        moderator: Moderator,
        text: str,
        *,
        author: str,
        question: str | None = None,
        new_question: str | None = None,
        source: str | None = None,
    ) -> Change:
        """Save a message as an answer credited to its ``author``: to the existing question
        ``question`` names (id or wording), or to a new question worded ``new_question``."""
        body = clean_text(text)
        if not body:
            raise Refused("the message has no text to save as an answer")
        if question and clean_text(question):
            target = self.require(clean_text(question))
            return await self.add_answer(
                moderator,
                target.id,
                body,
                author=author,
                source=source,
                action=f"saved a message by {clean_text(author) or 'unknown'} as an answer",
            )
        if new_question and clean_text(new_question):
            existing = self.find(clean_text(new_question))
            if existing is not None:  # typed an existing question's wording: add to it
                return await self.save_as_answer(
                    moderator, body, author=author, question=existing.id, source=source
                )
            return await self.add_question(
                moderator, new_question, answer=body, author=author, source=source
            )
        raise Refused("choose an existing question or type a new one")

    async def revert(self, moderator: Moderator, question_id: str, version: int) -> Change:
        """Make ``version`` of the question current again, as a new version.

        Version 0 is the YAML files' version. Reverting to a removal removes the question.
        """
        async with self._changing():
            latest = self._latest.get(question_id)
            if version == 0:
                if question_id not in self._shipped:
                    raise Refused(
                        f"question {question_id!r} has no version 0: it is not in the YAML files"
                    )
                state, after = "shipped", self._shipped[question_id]
            else:
                row = await self._versions.get(question_id, version)
                if row is None:
                    first = 0 if question_id in self._shipped else 1
                    newest = latest.version if latest is not None else 0
                    known = f" (versions {first} to {newest})" if newest >= first else ""
                    raise Refused(f"question {question_id!r} has no version {version}{known}")
                state = row.state
                if state == "set":
                    try:
                        after = self._overlay_question(row)
                    except ValueError as exc:
                        raise Refused(f"version {version} {exc}") from None
                elif state == "shipped":
                    after = self._shipped.get(question_id)
                    if after is None:
                        state = "removed"
                else:
                    after = None
            before = self.knowledge.get(question_id)
            if after == before:
                raise Refused(
                    f"question {question_id!r} already matches version {version}; nothing to do"
                )
            if after is not None:
                self._check(after)
            return await self._write(
                moderator, question_id, state, after, f"reverted to version {version}"
            )

    async def history(self, question_id: str, limit: int = 25) -> list[HistoryEntry]:
        """The versions of a question, newest first, ending with version 0 (the YAML files'
        version) when the files hold it. Refused for an id that never existed."""
        rows = await self._versions.history(question_id, limit=limit)
        if not rows and question_id not in self._shipped:
            raise Refused(f"there is no question with the id {question_id!r}")
        latest = self._latest.get(question_id)
        entries = []
        for row in rows:
            question: Question | None = None
            if row.state == "set" and row.content is not None:
                try:
                    question = question_from_data(json.loads(row.content))
                except ValueError:
                    question = None
            elif row.state == "shipped":
                question = self._shipped.get(question_id)
            entries.append(
                HistoryEntry(
                    row.version,
                    row.state,
                    question,
                    row.member_name,
                    row.member_id,
                    row.created_at,
                    row.action,
                    current=latest is not None and latest.version == row.version,
                )
            )
        if question_id in self._shipped and len(rows) < limit:
            entries.append(
                HistoryEntry(
                    0,
                    "shipped",
                    self._shipped[question_id],
                    None,
                    None,
                    None,
                    f"as shipped in {self._shipped_file[question_id]}",
                    current=latest is None,
                )
            )
        return entries

    # -- the unanswered queue and proposed phrasings ----------------------------------------

    async def _close_unanswered(
        self, unanswered_id: int | None
    ) -> Callable[[], Awaitable[None]] | None:
        """Check that an open unanswered question exists; the step that marks it answered."""
        if unanswered_id is None:
            return None
        await self.unanswered_item(unanswered_id)

        async def close() -> None:
            await self._unanswered.set_status(unanswered_id, "answered")

        return close

    async def unanswered(self, *, limit: int = 10, offset: int = 0) -> list[UnansweredQuestion]:
        """Open unanswered questions, the most asked first."""
        return await self._unanswered.list(limit=limit, offset=offset)

    async def unanswered_count(self) -> int:
        """How many unanswered questions are open."""
        return await self._unanswered.count()

    async def unanswered_item(self, unanswered_id: int) -> UnansweredQuestion:
        """An open unanswered question, or :class:`Refused`."""
        item = await self._unanswered.get(unanswered_id)
        if item is None:
            raise Refused(f"there is no unanswered question #{unanswered_id}")
        if item.status != "open":
            raise Refused(f"unanswered question #{unanswered_id} is already {item.status}")
        return item

    async def answer_unanswered(
        self,
        moderator: Moderator,
        unanswered_id: int,
        text: str,
        **fields: object,
    ) -> Change:
        """Add a question answering an unanswered one (marked answered in the same
        transaction); ``fields`` as for :meth:`add_question`."""
        return await self.add_question(
            moderator,
            text,
            unanswered_id=unanswered_id,
            **fields,  # type: ignore[arg-type]
        )

    async def merge_unanswered(
        self, moderator: Moderator, unanswered_id: int, question_id: str
    ) -> Change:
        """Fold an unanswered question into an existing one as an alternate phrasing."""
        async with self._changing():
            item = await self.unanswered_item(unanswered_id)
            before = self._live(question_id)
            wording = clean_text(item.text)
            after = replace(before, alternate_phrasings=(*before.alternate_phrasings, wording))
            also = await self._close_unanswered(unanswered_id)
            return await self._replace(
                moderator,
                before,
                after,
                f"merged unanswered question #{unanswered_id} {_quote(wording)} "
                "as an alternate phrasing",
                also=also,
            )

    async def dismiss_unanswered(
        self, moderator: Moderator, unanswered_id: int
    ) -> UnansweredQuestion:
        """Dismiss an unanswered question (no change to the knowledge base)."""
        async with self._changing():
            item = await self.unanswered_item(unanswered_id)
            await self._unanswered.set_status(item.id, "dismissed")
            return replace(item, status="dismissed")

    async def proposals(self, *, limit: int = 10, offset: int = 0) -> list[ProposedPhrasing]:
        """Open proposed phrasings, the most often proposed first."""
        return await self._proposals.list(limit=limit, offset=offset)

    async def proposal_count(self) -> int:
        """How many proposed phrasings are open."""
        return await self._proposals.count()

    async def proposal(self, proposal_id: int) -> ProposedPhrasing:
        """An open proposal, or :class:`Refused`."""
        proposal = await self._proposals.get(proposal_id)
        if proposal is None:
            raise Refused(f"there is no proposed phrasing #{proposal_id}")
        if proposal.status != "open":
            raise Refused(f"proposed phrasing #{proposal_id} is already {proposal.status}")
        return proposal

    async def approve_proposal(self, moderator: Moderator, proposal_id: int) -> Change:
        """Add a proposed phrasing to its question (and mark it approved, in one transaction)."""
        async with self._changing():
            proposal = await self.proposal(proposal_id)
            before = self._live(proposal.question_id)
            wording = clean_text(proposal.text)
            after = replace(before, alternate_phrasings=(*before.alternate_phrasings, wording))

            async def approve() -> None:
                await self._proposals.set_status(proposal_id, "approved")

            return await self._replace(
                moderator,
                before,
                after,
                f"approved proposed phrasing #{proposal_id} {_quote(wording)}",
                also=approve,
            )

    async def reject_proposal(self, moderator: Moderator, proposal_id: int) -> ProposedPhrasing:
        """Reject a proposed phrasing (no change to the knowledge base)."""
        async with self._changing():
            proposal = await self.proposal(proposal_id)
            await self._proposals.set_status(proposal.id, "rejected")
            return replace(proposal, status="rejected")

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

    # -- export and import --------------------------------------------------------------------

    def export_files(self) -> list[tuple[str, str]]:
        """The whole live knowledge base as ``(file name, YAML text)``, sorted by name.

        Every file of the answers directory is written (empty if all its questions were
        removed); a question stays in the file it came from, in its place; questions added
        on Discord go to :data:`DEFAULT_FILE` in the order they were added.
        """
        shipped_topics = read_topics(self.answers_dir)
        groups: dict[str, list[tuple[tuple[int, int], Question]]] = {
            name: [] for name in shipped_topics
        }
        for question in self.knowledge:
            place = self._placement(question.id)
            groups.setdefault(place.file, []).append((place.rank, question))
        files = []
        for name in sorted(groups):
            ranked = sorted(groups[name], key=lambda item: (item[0], item[1].id))
            questions = [question for _, question in ranked]
            if name in shipped_topics:
                topic = shipped_topics[name]
            else:
                topic = next(
                    (
                        row.topic
                        for question in questions
                        if (row := self._latest.get(question.id)) is not None and row.topic
                    ),
                    None,
                ) or _derived_topic(name)
            files.append((name, dump_file(topic, questions)))
        return files

    def export(self, directory: str | Path) -> list[Path]:
        """Write :meth:`export_files` into ``directory``; the paths written.

        Refused (nothing written) when ``directory`` already holds YAML files that would not
        be overwritten, since they would be read with the export on import.
        """
        files = self.export_files()
        base = Path(directory)
        if base.exists() and not base.is_dir():
            raise Refused(f"{base} is not a directory")
        names = {name for name, _ in files}
        if base.is_dir():
            stray = sorted(
                entry.name
                for entry in base.iterdir()
                if entry.suffix in (".yaml", ".yml")
                and not entry.name.startswith(".")
                and entry.name not in names
            )
            if stray:
                raise Refused(
                    f"{base} holds YAML files that are not part of the knowledge base "
                    f"({', '.join(stray)}); remove them or export to another directory"
                )
        return write_files(base, files)

    async def import_directory(
        self, directory: str | Path, moderator: Moderator | None = None
    ) -> ImportReport:
        """Make the knowledge base hold exactly the questions of ``directory``'s YAML files.

        For each question that differs from what is served, a version is written (recording
        its file and topic, so the next export puts it back in place); a question that is
        exactly as shipped returns to its YAML version; questions not in the directory are
        removed. All in one transaction. A directory with any error imports nothing.
        """
        moderator = moderator or Moderator(IMPORT_MODERATOR_NAME)
        result = load_directory(directory)
        if result.errors:
            return ImportReport(result.errors, KnowledgeDiff(), 0)
        topics = read_topics(directory)
        shipped_files = set(read_topics(self.answers_dir))
        shown = Path(directory).name or str(directory)
        async with self._lock:
            plan: list[tuple[str, str, Question | None, str | None, str | None]] = []
            incoming = set()
            for question in result.questions:
                name = Path(question.origin.path).name if question.origin else DEFAULT_FILE
                incoming.add(question.id)
                plan_item = self._import_step(question, name, topics.get(name), shipped_files)
                if plan_item is not None:
                    plan.append(plan_item)
            for question in list(self.knowledge):
                if question.id not in incoming:
                    plan.append((question.id, "removed", None, None, None))
            if plan:
                rows = []
                async with self.store.transaction():
                    for question_id, state, question, file, topic in plan:
                        content = None
                        if question is not None and state == "set":
                            content = json.dumps(question_to_data(question), ensure_ascii=False)
                        rows.append(
                            await self._versions.append(
                                question_id,
                                state=state,
                                content=content,
                                member_id=moderator.id,
                                member_name=moderator.name,
                                guild_id=moderator.guild_id,
                                file=file,
                                topic=topic,
                                action=f"imported from {shown}",
                                at=self.clock(),
                            )
                        )
                for row in rows:
                    self._note_row(row)
            diff = self._rebuild()
        return ImportReport((), diff, len(plan))

    def _import_step(
        self, question: Question, name: str, topic: str | None, shipped_files: set[str]
    ) -> tuple[str, str, Question | None, str | None, str | None] | None:
        """The version to write for an imported question, or None if it is as served."""
        question_id = question.id
        question = replace(question, origin=None)
        row = self._latest.get(question_id)
        shipped = self._shipped.get(question_id)
        if shipped is not None and shipped == question and self._shipped_file[question_id] == name:
            if row is not None and row.state != "shipped":
                return (question_id, "shipped", None, None, None)
            return None
        if name in shipped_files:  # the file's topic is the shipped file's
            same_topic = True
        else:
            recorded = row.topic if row is not None else None
            same_topic = (recorded or _derived_topic(name)) == (topic or _derived_topic(name))
        current = self.knowledge.get(question_id)
        if current == question and self._placement(question_id).file == name and same_topic:
            return None
        return (question_id, "set", question, name, topic)


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
