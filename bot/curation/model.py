"""The values of curation: who changes the knowledge base, what a change did, what reload and
import report, and the text rules for what moderators type (cleaning, splitting, ids).

Nothing here touches the store or the live knowledge base.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.knowledge.loader import LoadError
from bot.knowledge.model import Question, Tag
from bot.knowledge.rules import MAX_ID_LENGTH
from bot.knowledge.text import normalize
from bot.store.db import BUSY, CORRUPT, FULL, IO, READ_ONLY

#: The file that questions added on Discord are exported to, and its topic.
DEFAULT_FILE = "discord.yaml"
DEFAULT_TOPIC = "Added on Discord"
#: The file that tag records added on Discord (or imported from elsewhere) are exported to.
TAGS_FILE = "tags.yaml"
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
class TagChange:
    """A change to a tag record: the record before and after (None: none) and its version."""

    name: str
    version: int
    action: str
    before: Tag | None
    after: Tag | None


@dataclass(frozen=True)
class TagHistoryEntry:
    """One version of a tag record (version 0: as in the YAML files)."""

    version: int
    state: str
    tag: Tag | None
    member_name: str | None
    member_id: int | None
    at: datetime | None
    action: str
    current: bool


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
    """What ``stampy import`` did (or, with ``dry_run``, would do): with ``errors`` or
    ``dry_run`` nothing was written.

    ``kept`` lists the questions the directory does not hold that were left in place
    (imported without pruning); ``plan`` is what the import set out to change.
    """

    errors: tuple[LoadError, ...]
    diff: KnowledgeDiff
    versions: int  # version rows written
    plan: KnowledgeDiff = KnowledgeDiff()
    kept: tuple[str, ...] = ()
    dry_run: bool = False

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


def quote(text: str, limit: int = 80) -> str:
    """``text`` in quotes for a message, shortened."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return f"“{line}”"


def derived_topic(name: str) -> str:
    """A topic for a file that has none recorded: "ethics-and-policy.yaml" -> "Ethics and
    policy"."""
    if name == DEFAULT_FILE:
        return DEFAULT_TOPIC
    words = re.split(r"[-_\s]+", Path(name).stem)
    text = " ".join(word for word in words if word)
    return text[:1].upper() + text[1:] if text else DEFAULT_TOPIC
