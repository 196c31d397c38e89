"""Load the knowledge base from YAML files, reporting every problem with its file and line.

Each ``*.yaml`` / ``*.yml`` file in the answers directory holds one topic::

    topic: Interpretability
    questions:
      - id: learn-interpretability
        question: Where can I learn about interpretability?
        alternate_phrasings: [What are good resources for learning interpretability?]
        tags: [interpretability, resources]
        answers:
          - id: learn-interpretability-molnar
            canonical: true
            author: Jane Doe
            source: https://example.org/page
            text: |
              Christoph Molnar's book ...

The files are composed into YAML nodes (never constructed into Python objects) and the nodes
are walked by hand, so every error carries a line number and no YAML tag can run code.
Anchors and aliases are refused outright, which also defeats "billion laughs" alias bombs.

A file with any error is rejected whole; the other files still load. The per-field rules
(``_check_*``) are shared with :func:`validate_question`, which checks questions built in
code (for instance, moderators' edits from Discord).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from bot.knowledge.hints import explain
from bot.knowledge.model import Answer, Origin, Question, Tag
from bot.knowledge.text import normalize

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

__all__ = [
    "LoadError",
    "LoadResult",
    "load_directory",
    "load_file",
    "parse_text",
    "validate_question",
    "validate_tag",
]

MAX_FILE_BYTES = 1024 * 1024
MAX_ID_LENGTH = 64
MAX_PHRASING_LENGTH = 256  # Discord embed title limit
MAX_ANSWER_LENGTH = 4000
MAX_AUTHOR_LENGTH = 100
MAX_SOURCE_LENGTH = 500
MAX_TAG_LENGTH = 32
MAX_TAG_DESCRIPTION_LENGTH = 4096  # Discord's embed description limit
MAX_RELATED = 10
# The schema nests five levels deep; anything much deeper is a mistake or an attack (libyaml's
# composer recurses, so very deep nesting must never reach it).
MAX_DEPTH = 32
# Past this many errors in one file the rest are summarised in a single line.
MAX_ERRORS_PER_FILE = 100

_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
_NOT_TAG_CHARS = re.compile(r"[^A-Za-z0-9]+")
_WHITESPACE = re.compile(r"\s")
# Control characters but tab and line break (only reachable through YAML escapes like "\e").
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_YAML = "tag:yaml.org,2002:"
_STR = _YAML + "str"
_INT = _YAML + "int"
_FLOAT = _YAML + "float"
_BOOL = _YAML + "bool"
_NULL = _YAML + "null"
_SEQ = _YAML + "seq"
_MAP = _YAML + "map"
_MERGE = _YAML + "merge"
# Tags that may be written explicitly; "!" is YAML's non-specific tag (resolved as usual).
_ALLOWED_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _SEQ, _MAP, "!"})
_TAG_KINDS = {
    _INT: "a number",
    _FLOAT: "a number",
    _BOOL: "a true/false value",
    _NULL: "empty (null)",
    _YAML + "timestamp": "a date",
}
# PyYAML's YAML 1.1 booleans (matched case-insensitively, as its constructor does).
_BOOL_VALUES = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}

_ANCHOR_MESSAGE = "YAML anchors and aliases are not supported"

_TOP_KEYS = ("topic", "questions")
_QUESTION_KEYS = ("id", "question", "alternate_phrasings", "tags", "related", "answers")
_ANSWER_KEYS = ("id", "canonical", "author", "source", "text")


# --------------------------------------------------------------------------------------------
# Public results


@dataclass(frozen=True)
class LoadError:
    """One problem found in a knowledge-base file, at a 1-based line (0: the whole path)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.line == 0:  # the directory or file as a whole: no line to point at
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class LoadResult:
    """What :func:`load_directory` found: questions of the accepted files and all errors."""

    questions: tuple[Question, ...]  # from accepted files, file order then document order
    errors: tuple[LoadError, ...]
    files: tuple[str, ...]  # every file examined
    rejected_files: tuple[str, ...]  # files that had errors (and contributed nothing)
    tags: tuple[Tag, ...] = ()  # tag records of the accepted files, in file order

    @property
    def ok(self) -> bool:
        """True when no errors were found."""
        return not self.errors


# --------------------------------------------------------------------------------------------
# Per-field rules, shared by the YAML walk and validate_question. Each returns a message or None.


def _quote(value: str) -> str:
    """``repr(value)``, shortened to about 60 characters so huge values cannot flood a message."""
    text = repr(value)
    if len(text) <= 60:
        return text
    return f"{text[:56]}...{text[0]} ({len(value)} characters)"


def _check_id(value: str, what: str) -> str | None:
    if _ID_RE.fullmatch(value):
        return None
    return (
        f"{what} {_quote(value)} is not valid: use 1 to {MAX_ID_LENGTH} lowercase letters (a-z), "
        "digits and hyphens, starting with a letter or digit"
    )


def _check_text(value: str, what: str, limit: int, *, single_line: bool = False) -> str | None:
    if not value.strip():
        return f"{what} is empty"
    if len(value) > limit:
        return f"{what} is too long ({len(value)} characters; at most {limit})"
    if single_line and len(value.splitlines()) > 1:
        return f"{what} {_quote(value)} must be a single line"
    control = _CONTROL.search(value)
    if control is not None:
        return (
            f"{what} {_quote(value)} contains the control character "
            f"U+{ord(control.group()):04X}; remove it"
        )
    return None


def _check_phrasing(value: str, what: str) -> str | None:
    problem = _check_text(value, what, MAX_PHRASING_LENGTH, single_line=True)
    if problem is None and not normalize(value):
        problem = f"{what} {_quote(value)} has no letters or digits"
    return problem


def _check_answer_text(value: str) -> str | None:
    return _check_text(value, "answer text", MAX_ANSWER_LENGTH)


def _check_author(value: str) -> str | None:
    return _check_text(value, "author", MAX_AUTHOR_LENGTH)


def _check_source(value: str, what: str = "source") -> str | None:
    if len(value) > MAX_SOURCE_LENGTH:
        return f"{what} is too long ({len(value)} characters; at most {MAX_SOURCE_LENGTH})"
    lowered = value.lower()
    scheme = next((s for s in ("http://", "https://") if lowered.startswith(s)), None)
    if scheme is None or len(value) == len(scheme):
        return f"{what} {_quote(value)} must be a link starting with http:// or https://"
    if _WHITESPACE.search(value):
        return f"{what} {_quote(value)} must not contain spaces (encode them as %20)"
    return None


def _check_link(value: str) -> str | None:
    return _check_source(value, "link")


def _check_description(value: str) -> str | None:
    return _check_text(value, "tag description", MAX_TAG_DESCRIPTION_LENGTH)


def _check_tag(value: str) -> str | None:
    if _TAG_RE.fullmatch(value):
        return None
    suggestion = _NOT_TAG_CHARS.sub("-", value).strip("-").lower()[:MAX_TAG_LENGTH].strip("-")
    example = f" (e.g. {suggestion!r})" if suggestion and suggestion != value else ""
    spaces = "; use hyphens instead of spaces" if _WHITESPACE.search(value) else ""
    return (
        f"tag {_quote(value)} is not valid: use 1 to {MAX_TAG_LENGTH} letters, digits and "
        f"hyphens{example}, starting with a letter or digit{spaces}"
    )


# --------------------------------------------------------------------------------------------
# Duplicate ids and phrasings (within a question, a file, a directory, or against `existing`)


@dataclass
class _Record:
    """The identifying parts of one question, with the lines they came from (None: in code)."""

    line: int | None
    id: str | None = None
    id_line: int | None = None
    phrasings: list[tuple[str, int | None]] = field(default_factory=list)
    answer_ids: list[tuple[str, int | None]] = field(default_factory=list)
    related: list[tuple[str, int | None]] = field(default_factory=list)
    question: Question | None = None  # set only if the question itself had no errors


@dataclass
class _Seen:
    """Ids and normalised phrasings already taken: the owning question id and where."""

    question_ids: dict[str, Origin | None] = field(default_factory=dict)
    answer_ids: dict[str, tuple[str | None, Origin | None]] = field(default_factory=dict)
    phrasings: dict[str, tuple[str | None, Origin | None]] = field(default_factory=dict)

    def update(self, other: _Seen) -> None:
        self.question_ids.update(other.question_ids)
        self.answer_ids.update(other.answer_ids)
        self.phrasings.update(other.phrasings)


_T = TypeVar("_T")


def _find(key: str, *layers: dict[str, _T]) -> tuple[bool, _T | None]:
    for layer in layers:
        if key in layer:
            return True, layer[key]
    return False, None


def _at(origin: Origin | None) -> str:
    return f" at {origin}" if origin is not None else ""


def _owner(question_id: str | None) -> str:
    return f"question {question_id!r}" if question_id else "another question"


def _duplicates(
    record: _Record, path: str | None, seen: _Seen, new: _Seen
) -> list[tuple[int | None, str]]:
    """Conflicts of ``record`` with ``seen`` and ``new``; what is not a conflict goes to ``new``.

    ``path`` is the record's file, or None for a question built in code (no locations then).
    """

    def origin(line: int | None) -> Origin | None:
        return Origin(path, line) if path is not None and line is not None else None

    problems: list[tuple[int | None, str]] = []
    if record.id is not None:
        found, where = _find(record.id, seen.question_ids, new.question_ids)
        if found:
            problems.append(
                (record.id_line, f"question id {record.id!r} is already used{_at(where)}")
            )
        else:
            new.question_ids[record.id] = origin(record.id_line)

    own: dict[str, int | None] = {}
    for text, line in record.phrasings:
        key = normalize(text)
        if key in own:
            earlier = f" (line {own[key]})" if own[key] is not None else ""
            message = f"phrasing {_quote(text)} repeats an earlier phrasing of this question"
            problems.append((line, message + earlier))
            continue
        own[key] = line
        found, other = _find(key, seen.phrasings, new.phrasings)
        if found and other is not None:
            message = f"phrasing {_quote(text)} is also used by {_owner(other[0])}{_at(other[1])}"
            problems.append((line, message))
        else:
            new.phrasings[key] = (record.id, origin(line))

    for answer_id, line in record.answer_ids:
        found, other = _find(answer_id, seen.answer_ids, new.answer_ids)
        if found and other is not None:
            message = (
                f"answer id {answer_id!r} is already used by {_owner(other[0])}{_at(other[1])}"
            )
            problems.append((line, message))
        else:
            new.answer_ids[answer_id] = (record.id, origin(line))
    return problems


# --------------------------------------------------------------------------------------------
# Reading and checking the raw text


def _read(path: str | Path) -> tuple[str | None, list[tuple[int, str]]]:
    """The file's text, or None and the reason it cannot be used (always reported at line 1)."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [(1, f"cannot read the file: {exc.strerror or exc}")]
    if len(data) > MAX_FILE_BYTES:
        return None, [(1, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")]
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        return None, [(1, f"the file contains a NUL byte (line {line}); is it a text file?")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line})"
        return None, [(1, message + "; save it as UTF-8")]
    return text, []


def _check_raw_text(text: str) -> str | None:
    """Why ``text`` cannot be a knowledge-base file at all, or None."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        return f"the text is not valid Unicode (lone surrogate on line {line})"
    if size > MAX_FILE_BYTES:
        return f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        return f"the file contains a NUL byte (line {line}); is it a text file?"
    return None


def _yaml_error(exc: yaml.YAMLError, text: str, hint: bool = True) -> tuple[int, str]:
    """Line and message for an error PyYAML raised; for the common mistakes (``hint``), what
    to change, at the line to change."""
    line, message = _parser_words(exc, text)
    if hint and isinstance(exc, yaml.MarkedYAMLError):
        found = explain(exc, text, _readability)
        if found is not None:
            words = message.removeprefix("invalid YAML: ")
            where = f" at line {line}" if found[0] != line else ""
            return found[0], f"invalid YAML: {found[1]} (the parser says: {words}{where})"
    return line, message


def _readability(text: str) -> tuple[int | None, list[int]]:
    """The line of ``text``'s first YAML error (None if none) and the lines of its other
    problems, to rank the fixes the hints try."""
    problems, refused, fatal = _scan(text, hint=False)
    if fatal:
        return (problems[-1][0] if problems else 1), [line for line, _ in problems]
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return _parser_words(exc, text)[0], [line for line, _ in problems]
    walker = _Walker("", refused)
    walker.document(root)
    return None, [line for line, _ in problems + walker.problems]


def _parser_words(exc: yaml.YAMLError, text: str) -> tuple[int, str]:
    """Line and message for an error PyYAML raised, in its own words."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        parts = []
        if exc.context:
            context_mark = exc.context_mark
            if context_mark is not None and context_mark.line + 1 != line:
                parts.append(f"{exc.context} (line {context_mark.line + 1})")
            else:
                parts.append(exc.context)
        if exc.problem:
            parts.append(exc.problem)
        return line, "invalid YAML: " + ", ".join(parts or ["syntax error"])
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        position = text.find(chr(exc.character))
        line = text.count("\n", 0, position) + 1 if position >= 0 else 1
        return line, f"invalid YAML: character U+{exc.character:04X} is not allowed"
    return 1, f"invalid YAML: {exc}"


def _scan(text: str, hint: bool = True) -> tuple[list[tuple[int, str]], set[tuple[int, int]], bool]:
    """Check the YAML event stream for anchors, aliases, odd tags and deep nesting.

    Returns the problems, the positions of nodes whose tag was refused (the walk skips them
    so they are not reported twice), and whether the text must not be composed at all.
    """
    problems: list[tuple[int, str]] = []
    refused: set[tuple[int, int]] = set()
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            mark = event.start_mark
            line = mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                problems.append((line, f"{_ANCHOR_MESSAGE} (alias *{event.anchor})"))
                continue
            if not isinstance(event, yaml.NodeEvent):
                if isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
                continue
            if event.anchor is not None:
                problems.append((line, f"{_ANCHOR_MESSAGE} (anchor &{event.anchor})"))
            tag = event.tag
            if tag is not None and tag not in _ALLOWED_TAGS:
                shown = "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag
                problems.append((line, f"the YAML tag {_quote(shown)} is not supported"))
                refused.add((mark.line, mark.column))
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    problems.append((line, f"lists and mappings nest deeper than {MAX_DEPTH}"))
                    return problems, refused, True
    except yaml.YAMLError as exc:
        problems.append(_yaml_error(exc, text, hint))
        return problems, refused, True
    return problems, refused, False


# --------------------------------------------------------------------------------------------
# Walking the composed nodes


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == _STR:
        return "a string"
    return _TAG_KINDS.get(node.tag, f"a value of type !!{node.tag.removeprefix(_YAML)}")


def _describe(node: yaml.Node) -> str:
    """``node`` for a type error: "a list", "empty (null)", "'123', read as a number"."""
    if isinstance(node, yaml.ScalarNode) and node.tag not in (_STR, _NULL):
        return f"{_quote(node.value)}, read as {_kind(node)}; put it in quotes if you mean text"
    return _kind(node)


class _Walker:
    """Walks one file's node tree, collecting records of its questions and the problems."""

    def __init__(self, path: str, refused: set[tuple[int, int]]) -> None:
        self.path = path
        self.problems: list[tuple[int, str]] = []
        self.refused = refused
        self.visited: set[int] = set()

    def error(self, node: yaml.Node, message: str) -> None:
        self.problems.append((node.start_mark.line + 1, message))

    def enter(self, node: yaml.Node) -> bool:
        """False for nodes already reported (refused tag) or already walked (via an alias)."""
        mark = node.start_mark
        if (mark.line, mark.column) in self.refused or id(node) in self.visited:
            return False
        self.visited.add(id(node))
        return True

    # Typed values --------------------------------------------------------------------------

    def mapping(
        self, node: yaml.Node, allowed: tuple[str, ...], required: tuple[str, ...], what: str
    ) -> dict[str, yaml.Node] | None:
        """The values of a mapping's allowed keys; unknown, duplicate and missing keys reported.

        The caller has entered ``node``; None if it is not a mapping (already reported).
        """
        if not (isinstance(node, yaml.MappingNode) and node.tag == _MAP):
            names = " and ".join(repr(key) for key in required)
            self.error(node, f"{what} must be a mapping with {names}, not {_kind(node)}")
            return None
        values: dict[str, yaml.Node] = {}
        key_lines: dict[str, int] = {}
        for key, value in node.value:
            mark = key.start_mark
            if (mark.line, mark.column) in self.refused:
                continue
            if not isinstance(key, yaml.ScalarNode):
                self.error(key, f"keys in {what} must be plain names, not {_kind(key)}")
                continue
            if key.tag == _MERGE:
                self.error(key, "YAML merge keys ('<<') are not supported")
                continue
            name = key.value
            if name in key_lines:
                first = key_lines[name]
                self.error(key, f"duplicate key {_quote(name)} in {what} (first at line {first})")
                continue
            key_lines[name] = mark.line + 1
            if key.tag != _STR or name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.error(
                    key,
                    f"unknown key {_quote(name)} in {what}{hint}; "
                    f"allowed keys: {', '.join(allowed)}",
                )
                continue
            values[name] = value
        for name in required:
            if name not in key_lines:
                self.error(node, f"{what} is missing the required key {name!r}")
        return values

    def string(self, node: yaml.Node, label: str) -> str | None:
        """The stripped text of a string scalar, or None (problem reported or skipped)."""
        if not self.enter(node):
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            return node.value.strip()
        hint = ""
        if isinstance(node, yaml.MappingNode) and len(node.value) == 1:
            # "- note: this is it": text with ': ' in it, read as a key and its value.
            hint = "; if it is text with ': ' in it, put the text in quotes"
        self.error(node, f"{label} must be a string, not {_describe(node)}{hint}")
        return None

    def checked(
        self,
        values: Mapping[str, yaml.Node],
        key: str,
        check: Callable[[str], str | None],
    ) -> tuple[str, int] | None:
        """``values[key]`` as a string passing ``check`` and its line, or None."""
        node = values.get(key)
        if node is None:
            return None
        text = self.string(node, repr(key))
        if text is None:
            return None
        problem = check(text)
        if problem is not None:
            self.error(node, problem)
            return None
        return text, node.start_mark.line + 1

    def boolean(self, node: yaml.Node, label: str) -> bool | None:
        """The value of a true/false scalar, or None (problem reported or skipped)."""
        if not self.enter(node):
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _BOOL:
            value = _BOOL_VALUES.get(node.value.lower())
            if value is not None:
                return value
        if isinstance(node, yaml.ScalarNode) and node.tag not in (_NULL, _BOOL):
            shown = f"{_kind(node)} ({_quote(node.value)})"
        else:
            shown = _kind(node)
        self.error(node, f"{label} must be true or false, not {shown}")
        return None

    def sequence(self, node: yaml.Node, label: str) -> list[yaml.Node]:
        """The items of a list (empty if it is not one: reported or skipped)."""
        if not self.enter(node):
            return []
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            return list(node.value)
        self.error(node, f"{label} must be a list (use [] for none), not {_describe(node)}")
        return []

    # The schema ----------------------------------------------------------------------------

    def document(self, root: yaml.Node | None) -> list[_Record]:
        """Records of every question in the file."""
        if root is None:
            self.problems.append((1, "the file is empty; expected a 'questions' list"))
            return []
        if not self.enter(root):
            return []
        values = self.mapping(root, _TOP_KEYS, ("questions",), "the top level")
        if values is None:
            return []
        if "topic" in values:
            self.string(values["topic"], "'topic'")
        records: list[_Record] = []
        if "questions" in values:
            for item in self.sequence(values["questions"], "'questions'"):
                record = self.question(item)
                if record is not None:
                    records.append(record)
        return records

    def question(self, node: yaml.Node) -> _Record | None:
        if not self.enter(node):
            return None
        before = len(self.problems)
        record = _Record(line=node.start_mark.line + 1)
        values = self.mapping(node, _QUESTION_KEYS, ("id", "question"), "a question")
        if values is None:
            return None
        question_id = self.checked(values, "id", lambda s: _check_id(s, "question id"))
        if question_id is not None:
            record.id, record.id_line = question_id
        text = self.checked(values, "question", lambda s: _check_phrasing(s, "question"))
        if text is not None:
            record.phrasings.append(text)
        alternates: list[str] = []
        if "alternate_phrasings" in values:
            for item in self.sequence(values["alternate_phrasings"], "'alternate_phrasings'"):
                phrasing = self.string(item, "an alternate phrasing")
                if phrasing is None:
                    continue
                problem = _check_phrasing(phrasing, "alternate phrasing")
                if problem is not None:
                    self.error(item, problem)
                    continue
                alternates.append(phrasing)
                record.phrasings.append((phrasing, item.start_mark.line + 1))
        tags: dict[str, None] = {}  # lowercased, first occurrence kept
        if "tags" in values:
            for item in self.sequence(values["tags"], "'tags'"):
                tag = self.string(item, "a tag")
                if tag is None:
                    continue
                problem = _check_tag(tag)
                if problem is not None:
                    self.error(item, problem)
                    continue
                tags.setdefault(tag.lower(), None)
        related: dict[str, None] = {}
        if "related" in values:
            for item in self.sequence(values["related"], "'related'"):
                other = self.string(item, "a related question id")
                if other is None:
                    continue
                problem = _check_id(other, "related question id")
                if problem is None and question_id is not None and other == question_id[0]:
                    problem = f"question {other!r} lists itself as related"
                elif problem is None and other in related:
                    problem = f"related question {other!r} is listed twice"
                elif problem is None and len(related) >= MAX_RELATED:
                    problem = f"at most {MAX_RELATED} related questions"
                if problem is not None:
                    self.error(item, problem)
                    continue
                related[other] = None
                record.related.append((other, item.start_mark.line + 1))
        answers: list[Answer] = []
        if "answers" in values:
            for item in self.sequence(values["answers"], "'answers'"):
                answer = self.answer(item, record)
                if answer is not None:
                    answers.append(answer)
        if len(self.problems) == before and question_id is not None and text is not None:
            record.question = Question(
                id=question_id[0],
                text=text[0],
                alternate_phrasings=tuple(alternates),
                tags=tuple(tags),
                answers=tuple(answers),
                origin=Origin(self.path, record.line),
                related=tuple(related),
            )
        return record

    def answer(self, node: yaml.Node, record: _Record) -> Answer | None:
        if not self.enter(node):
            return None
        before = len(self.problems)
        values = self.mapping(node, _ANSWER_KEYS, ("id", "text"), "an answer")
        if values is None:
            return None
        answer_id = self.checked(values, "id", lambda s: _check_id(s, "answer id"))
        if answer_id is not None:
            record.answer_ids.append(answer_id)
        canonical = False
        if "canonical" in values:
            canonical = bool(self.boolean(values["canonical"], "'canonical'"))
        author = self.checked(values, "author", _check_author)
        source = self.checked(values, "source", _check_source)
        text = self.checked(values, "text", _check_answer_text)
        if len(self.problems) != before or answer_id is None or text is None:
            return None
        return Answer(
            id=answer_id[0],
            text=text[0],
            canonical=canonical,
            author=author[0] if author else None,
            source=source[0] if source else None,
            origin=Origin(self.path, node.start_mark.line + 1),
        )


# --------------------------------------------------------------------------------------------
# Files and directories


def _parse(text: str, path: str) -> tuple[list[_Record], list[tuple[int, str]]]:
    """Records of the questions in ``text`` and the problems found (no cross-file checks)."""
    problem = _check_raw_text(text)
    if problem is not None:
        return [], [(1, problem)]
    if text.startswith("\ufeff"):
        text = text[1:]
    problems, refused, fatal = _scan(text)
    if fatal:
        return [], problems
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return [], [*problems, _yaml_error(exc, text)]
    walker = _Walker(path, refused)
    records = walker.document(root)
    return records, problems + walker.problems


def _finish(path: str, problems: Iterable[tuple[int | None, str]]) -> list[LoadError]:
    """``problems`` as errors in line order, at most ``MAX_ERRORS_PER_FILE`` plus a summary."""
    ordered = sorted(((line or 1, message) for line, message in problems), key=lambda p: p[0])
    errors = [LoadError(path, line, message) for line, message in ordered[:MAX_ERRORS_PER_FILE]]
    if len(ordered) > MAX_ERRORS_PER_FILE:
        more = len(ordered) - MAX_ERRORS_PER_FILE
        line = ordered[MAX_ERRORS_PER_FILE][0]
        errors.append(LoadError(path, line, f"... and {more} more errors in this file"))
    return errors


def _check_file(
    text: str | None, problems: list[tuple[int, str]], path: str, seen: _Seen
) -> tuple[list[Question], list[LoadError], _Seen]:
    """Questions (none if any error), errors, and the ids/phrasings the file would add."""
    records: list[_Record] = []
    if text is not None:
        records, found = _parse(text, path)
        problems = problems + found
    new = _Seen()
    all_problems: list[tuple[int | None, str]] = list(problems)
    for record in records:
        all_problems += _duplicates(record, path, seen, new)
    errors = _finish(path, all_problems)
    if errors:
        return [], errors, new
    questions = [record.question for record in records if record.question is not None]
    return questions, errors, new


def parse_text(text: str, path: str) -> tuple[list[Question], list[LoadError]]:
    """Parse one file's text (no cross-file checks).

    ``path`` is only used in origins and messages. Returns the questions, or no questions
    and the errors in line order if anything is wrong (a file is accepted or rejected whole).
    """
    questions, errors, _ = _check_file(text, [], path, _Seen())
    return questions, errors


def load_file(path: str | Path) -> tuple[list[Question], list[LoadError]]:
    """Read and parse one file (no cross-file checks); see :func:`parse_text`."""
    text, problems = _read(path)
    questions, errors, _ = _check_file(text, problems, str(path), _Seen())
    return questions, errors


def load_directory(directory: str | Path) -> LoadResult:
    """Load every *.yaml / *.yml file (sorted, non-recursive) applying cross-file checks.

    Hidden files (names starting with ".") are skipped. Files are processed in sorted order:
    when a later file reuses an id or phrasing of an earlier accepted file, the later file is
    rejected, with an error at its line naming the earlier location.
    """
    shown = str(directory)
    base = Path(directory)
    if not base.exists():
        return LoadResult((), (LoadError(shown, 0, "the directory does not exist"),), (), ())
    if not base.is_dir():
        return LoadResult((), (LoadError(shown, 0, "this is not a directory"),), (), ())
    try:
        names = sorted(
            entry.name
            for entry in base.iterdir()
            if entry.suffix in (".yaml", ".yml")
            and not entry.name.startswith(".")
            and entry.is_file()
        )
    except OSError as exc:
        message = f"cannot read the directory: {exc.strerror or exc}"
        return LoadResult((), (LoadError(shown, 0, message),), (), ())

    seen = _Seen()
    questions: list[Question] = []
    errors: list[LoadError] = []
    files: list[str] = []
    rejected: list[str] = []
    for name in names:
        path = str(base / name)
        files.append(path)
        text, problems = _read(base / name)
        found, file_errors, new = _check_file(text, problems, path, seen)
        if file_errors:
            errors += file_errors
            rejected.append(path)
        else:
            seen.update(new)
            questions += found
    return LoadResult(tuple(questions), tuple(errors), tuple(files), tuple(rejected))


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

    record = _Record(line=None)
    if is_text(question.id, "question id"):
        check(_check_id(question.id, "question id"))
        record.id = question.id
    for index, phrasing in enumerate(question.phrasings):
        label = "question" if index == 0 else "alternate phrasing"
        if is_text(phrasing, label):
            problem = _check_phrasing(phrasing, label)
            check(problem)
            if problem is None:
                record.phrasings.append((phrasing, None))

    listed: set[str] = set()
    for tag in question.tags:
        if not is_text(tag, "a tag"):
            continue
        problem = _check_tag(tag)
        if problem is None and tag != tag.lower():
            problem = f"tag {_quote(tag)} must be lowercase"
        elif problem is None and tag in listed:
            problem = f"tag {_quote(tag)} is listed twice"
        check(problem)
        listed.add(tag)

    for answer in question.answers:
        if is_text(answer.id, "answer id"):
            check(_check_id(answer.id, "answer id"))
            record.answer_ids.append((answer.id, None))
        if is_text(answer.text, f"text of answer {answer.id!r}"):
            check(_check_answer_text(answer.text))
        if not isinstance(answer.canonical, bool):
            problems.append(f"canonical of answer {answer.id!r} must be true or false")
        if answer.author is not None and is_text(answer.author, "author"):
            check(_check_author(answer.author))
        if answer.source is not None and is_text(answer.source, "source"):
            check(_check_source(answer.source))

    problems += _related_problems(question)

    others = _Seen()
    for key, other in existing.items():
        if question.id in (key, other.id):
            continue
        for phrasing in other.phrasings:
            if isinstance(phrasing, str):
                others.phrasings.setdefault(normalize(phrasing), (other.id, None))
        for answer in other.answers:
            others.answer_ids.setdefault(answer.id, (other.id, None))
    problems += [message for _, message in _duplicates(record, None, others, _Seen())]
    return problems


def _related_problems(question: Question) -> list[str]:
    """What is wrong with the ids a question lists as related (format, itself, repeats)."""
    problems: list[str] = []
    if len(question.related) > MAX_RELATED:
        problems.append(
            f"question {question.id!r} lists {len(question.related)} related questions; "
            f"at most {MAX_RELATED}"
        )
    listed: set[str] = set()
    for other in question.related:
        if not isinstance(other, str):
            problems.append(f"related question ids must be strings, not {type(other).__name__}")
            continue
        problem = _check_id(other, "related question id")
        if problem is None and other == question.id:
            problem = f"question {question.id!r} lists itself as related"
        elif problem is None and other in listed:
            problem = f"related question {other!r} is listed twice"
        if problem is not None:
            problems.append(problem)
        listed.add(other)
    return problems


def validate_tag(tag: Tag, questions: Mapping[str, Question] | None = None) -> list[str]:
    """Problems of a tag record built in code (a moderator's edit), as plain messages; [] if
    fine. The name must be a valid tag in stored (lowercase) form; the description within
    Discord's embed description limit; the link http(s); ``main_question`` the id of a
    question in ``questions`` (when given)."""
    problems: list[str] = []
    if not isinstance(tag.name, str):
        return [f"a tag name must be a string, not {type(tag.name).__name__}"]
    problem = _check_tag(tag.name)
    if problem is None and tag.name != tag.name.lower():
        problem = f"tag {_quote(tag.name)} must be lowercase"
    if problem is not None:
        problems.append(problem)
    if tag.description is not None:
        problem = _check_description(tag.description)
        if problem is not None:
            problems.append(problem)
    if tag.link is not None:
        problem = _check_link(tag.link)
        if problem is not None:
            problems.append(problem)
    if tag.main_question is not None:
        problem = _check_id(tag.main_question, "main question id")
        if problem is None and questions is not None and tag.main_question not in questions:
            problem = f"the main question {tag.main_question!r} does not exist"
        if problem is not None:
            problems.append(problem)
    if not isinstance(tag.internal, bool):
        problems.append("internal must be true or false")
    return problems
