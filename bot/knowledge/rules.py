"""The knowledge base's rules, apart from reading YAML: what ids, phrasings, answers, authors,
sources and tags may be, and which duplicates are refused.

The YAML loader (:mod:`bot.knowledge.loader`) applies them to every node it walks, with the
node's line; :func:`validate_question` applies the same rules to questions built in code
(moderators' edits from Discord). Each ``check_*`` returns a message, or None when the value
is fine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from bot.knowledge.model import Origin, Question, Tag
from bot.knowledge.text import normalize

MAX_ID_LENGTH = 64
MAX_PHRASING_LENGTH = 256  # Discord embed title limit
MAX_ANSWER_LENGTH = 4000
MAX_AUTHOR_LENGTH = 100
MAX_SOURCE_LENGTH = 500
MAX_TAG_LENGTH = 32
MAX_TAG_DESCRIPTION_LENGTH = 4096  # Discord's embed description limit
MAX_RELATED = 10
_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
_NOT_TAG_CHARS = re.compile(r"[^A-Za-z0-9]+")
_WHITESPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------------------------
# Per-field rules, shared by the YAML walk and validate_question. Each returns a message or None.


def quote(value: str) -> str:
    """``repr(value)``, shortened to about 60 characters so huge values cannot flood a message."""
    text = repr(value)
    if len(text) <= 60:
        return text
    return f"{text[:56]}...{text[0]} ({len(value)} characters)"


def check_id(value: str, what: str) -> str | None:
    if _ID_RE.fullmatch(value):
        return None
    return (
        f"{what} {quote(value)} is not valid: use 1 to {MAX_ID_LENGTH} lowercase letters (a-z), "
        "digits and hyphens, starting with a letter or digit"
    )


def check_text(value: str, what: str, limit: int, *, single_line: bool = False) -> str | None:
    if not value.strip():
        return f"{what} is empty"
    if len(value) > limit:
        return f"{what} is too long ({len(value)} characters; at most {limit})"
    if single_line and len(value.splitlines()) > 1:
        return f"{what} {quote(value)} must be a single line"
    control = _CONTROL.search(value)
    if control is not None:
        return (
            f"{what} {quote(value)} contains the control character "
            f"U+{ord(control.group()):04X}; remove it"
        )
    return None


def check_phrasing(value: str, what: str) -> str | None:
    problem = check_text(value, what, MAX_PHRASING_LENGTH, single_line=True)
    if problem is None and not normalize(value):
        problem = f"{what} {quote(value)} has no letters or digits"
    return problem


def check_answer_text(value: str) -> str | None:
    return check_text(value, "answer text", MAX_ANSWER_LENGTH)


def check_author(value: str) -> str | None:
    return check_text(value, "author", MAX_AUTHOR_LENGTH)


def check_source(value: str, what: str = "source") -> str | None:
    if len(value) > MAX_SOURCE_LENGTH:
        return f"{what} is too long ({len(value)} characters; at most {MAX_SOURCE_LENGTH})"
    lowered = value.lower()
    scheme = next((s for s in ("http://", "https://") if lowered.startswith(s)), None)
    if scheme is None or len(value) == len(scheme):
        return f"{what} {quote(value)} must be a link starting with http:// or https://"
    if _WHITESPACE.search(value):
        return f"{what} {quote(value)} must not contain spaces (encode them as %20)"
    return None


def check_link(value: str) -> str | None:
    return check_source(value, "link")


def check_description(value: str) -> str | None:
    return check_text(value, "tag description", MAX_TAG_DESCRIPTION_LENGTH)


def check_related(other: str, question_id: str | None, listed: object) -> str | None:
    """A related question id: valid, not the question's own, not listed before."""
    problem = check_id(other, "related question id")
    if problem is None and other == question_id:
        problem = f"question {other!r} lists itself as related"
    elif problem is None and other in listed:  # type: ignore[operator]
        problem = f"related question {other!r} is listed twice"
    return problem


def check_tag(value: str) -> str | None:
    if _TAG_RE.fullmatch(value):
        return None
    suggestion = _NOT_TAG_CHARS.sub("-", value).strip("-").lower()[:MAX_TAG_LENGTH].strip("-")
    example = f" (e.g. {suggestion!r})" if suggestion and suggestion != value else ""
    spaces = "; use hyphens instead of spaces" if _WHITESPACE.search(value) else ""
    return (
        f"tag {quote(value)} is not valid: use 1 to {MAX_TAG_LENGTH} letters, digits and "
        f"hyphens{example}, starting with a letter or digit{spaces}"
    )


# --------------------------------------------------------------------------------------------
# Duplicate ids and phrasings (within a question, a file, a directory, or against `existing`)


@dataclass
class Record:
    """The identifying parts of one question, with the lines they came from (None: in code)."""

    line: int | None
    id: str | None = None
    id_line: int | None = None
    phrasings: list[tuple[str, int | None]] = field(default_factory=list)
    answer_ids: list[tuple[str, int | None]] = field(default_factory=list)
    related: list[tuple[str, int | None]] = field(default_factory=list)
    question: Question | None = None  # set only if the question itself had no errors


@dataclass
class Seen:
    """Ids and normalised phrasings already taken: the owning question id and where."""

    question_ids: dict[str, Origin | None] = field(default_factory=dict)
    answer_ids: dict[str, tuple[str | None, Origin | None]] = field(default_factory=dict)
    phrasings: dict[str, tuple[str | None, Origin | None]] = field(default_factory=dict)
    tags: dict[str, Origin | None] = field(default_factory=dict)  # declared tag records

    def update(self, other: Seen) -> None:
        self.question_ids.update(other.question_ids)
        self.answer_ids.update(other.answer_ids)
        self.phrasings.update(other.phrasings)
        self.tags.update(other.tags)


_T = TypeVar("_T")


def find_owner(key: str, *layers: dict[str, _T]) -> tuple[bool, _T | None]:
    for layer in layers:
        if key in layer:
            return True, layer[key]
    return False, None


def at(origin: Origin | None) -> str:
    return f" at {origin}" if origin is not None else ""


def owner(question_id: str | None) -> str:
    return f"question {question_id!r}" if question_id else "another question"


def duplicates(
    record: Record, path: str | None, seen: Seen, new: Seen
) -> list[tuple[int | None, str]]:
    """Conflicts of ``record`` with ``seen`` and ``new``; what is not a conflict goes to ``new``.

    ``path`` is the record's file, or None for a question built in code (no locations then).
    """

    def origin(line: int | None) -> Origin | None:
        return Origin(path, line) if path is not None and line is not None else None

    problems: list[tuple[int | None, str]] = []
    if record.id is not None:
        found, where = find_owner(record.id, seen.question_ids, new.question_ids)
        if found:
            problems.append(
                (record.id_line, f"question id {record.id!r} is already used{at(where)}")
            )
        else:
            new.question_ids[record.id] = origin(record.id_line)

    own: dict[str, int | None] = {}
    for text, line in record.phrasings:
        key = normalize(text)
        if key in own:
            earlier = f" (line {own[key]})" if own[key] is not None else ""
            message = f"phrasing {quote(text)} repeats an earlier phrasing of this question"
            problems.append((line, message + earlier))
            continue
        own[key] = line
        found, other = find_owner(key, seen.phrasings, new.phrasings)
        if found and other is not None:
            message = f"phrasing {quote(text)} is also used by {owner(other[0])}{at(other[1])}"
            problems.append((line, message))
        else:
            new.phrasings[key] = (record.id, origin(line))

    for answer_id, line in record.answer_ids:
        found, other = find_owner(answer_id, seen.answer_ids, new.answer_ids)
        if found and other is not None:
            message = f"answer id {answer_id!r} is already used by {owner(other[0])}{at(other[1])}"
            problems.append((line, message))
        else:
            new.answer_ids[answer_id] = (record.id, origin(line))
    return problems


# --------------------------------------------------------------------------------------------
# Questions built in code


def validate_question(question: Question, existing: Mapping[str, Question]) -> list[str]:
    """Problems of a question built in code, as plain messages (no file or line); [] if fine.

    Applies the loader's field rules (id format, lengths, tags, links) and checks that no
    phrasing or answer id is already used by another question in ``existing`` (questions by
    id; an entry with the same id as ``question`` is the version being replaced and ignored).
    Tags must be in stored form: valid, lowercased and listed once.
    """
    problems: list[str] = []

    def check(problem: str | None) -> None:
        if problem is not None:
            problems.append(problem)

    def is_text(value: object, label: str) -> bool:
        if isinstance(value, str):
            return True
        problems.append(f"{label} must be a string, not {type(value).__name__}")
        return False

    record = Record(line=None)
    if is_text(question.id, "question id"):
        check(check_id(question.id, "question id"))
        record.id = question.id
    for index, phrasing in enumerate(question.phrasings):
        label = "question" if index == 0 else "alternate phrasing"
        if is_text(phrasing, label):
            problem = check_phrasing(phrasing, label)
            check(problem)
            if problem is None:
                record.phrasings.append((phrasing, None))

    listed: set[str] = set()
    for tag in question.tags:
        if not is_text(tag, "a tag"):
            continue
        problem = check_tag(tag)
        if problem is None and tag != tag.lower():
            problem = f"tag {quote(tag)} must be lowercase"
        elif problem is None and tag in listed:
            problem = f"tag {quote(tag)} is listed twice"
        check(problem)
        listed.add(tag)

    for answer in question.answers:
        if is_text(answer.id, "answer id"):
            check(check_id(answer.id, "answer id"))
            record.answer_ids.append((answer.id, None))
        if is_text(answer.text, f"text of answer {answer.id!r}"):
            check(check_answer_text(answer.text))
        if not isinstance(answer.canonical, bool):
            problems.append(f"canonical of answer {answer.id!r} must be true or false")
        if answer.author is not None and is_text(answer.author, "author"):
            check(check_author(answer.author))
        if answer.source is not None and is_text(answer.source, "source"):
            check(check_source(answer.source))

    if len(question.related) > MAX_RELATED:
        problems.append(f"at most {MAX_RELATED} related questions ({len(question.related)} listed)")
    related: set[str] = set()
    for other_id in question.related:
        if is_text(other_id, "a related question id"):
            check(check_related(other_id, question.id, related))
            related.add(other_id)

    others = Seen()
    for key, other in existing.items():
        if question.id in (key, other.id):
            continue
        for phrasing in other.phrasings:
            if isinstance(phrasing, str):
                others.phrasings.setdefault(normalize(phrasing), (other.id, None))
        for answer in other.answers:
            others.answer_ids.setdefault(answer.id, (other.id, None))
    problems += [message for _, message in duplicates(record, None, others, Seen())]
    return problems


def validate_tag(tag: Tag, questions: Mapping[str, Question] | None = None) -> list[str]:
    """Problems of a tag record built in code (a moderator's edit), as plain messages; [] if
    fine. The name must be a valid tag in stored (lowercase) form; the description within
    Discord's embed description limit; the link http(s); ``main_question`` the id of a
    question in ``questions`` (when given)."""
    if not isinstance(tag.name, str):
        return [f"a tag name must be a string, not {type(tag.name).__name__}"]
    problems: list[str] = []

    def check(problem: str | None) -> None:
        if problem is not None:
            problems.append(problem)

    problem = check_tag(tag.name)
    if problem is None and tag.name != tag.name.lower():
        problem = f"tag {quote(tag.name)} must be lowercase"
    check(problem)
    for value, rule, label in (
        (tag.description, check_description, "description"),
        (tag.link, check_link, "link"),
        (tag.main_question, lambda v: check_id(v, "main question id"), "main question"),
    ):
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"the {label} must be a string, not {type(value).__name__}")
            continue
        check(rule(value))
    main = tag.main_question
    if isinstance(main, str) and questions is not None and not problems and main not in questions:
        problems.append(f"the main question {main!r} does not exist")
    if not isinstance(tag.internal, bool):
        problems.append("internal must be true or false")
    return problems
