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

A file may also (or only) declare tag records under ``tags``::

    tags:
      - name: interpretability
        description: |
          Understanding what happens inside a trained model. (markdown)
        link: https://example.org/interpretability     # optional
        main_question: what-is-interpretability        # optional: the question explaining it
        internal: false                                # optional: hidden from members

The files are composed into YAML nodes (never constructed into Python objects) and the nodes
are walked by hand, so every error carries a line number and no YAML tag can run code.
Anchors and aliases are refused outright, which also defeats "billion laughs" alias bombs.

A file with any error is rejected whole; the other files still load. The rules themselves
(what an id, a phrasing, a tag may be; which duplicates are refused) are in
:mod:`bot.knowledge.rules`, shared with :func:`~bot.knowledge.rules.validate_question`, which
checks questions built in code (for instance, moderators' edits from Discord).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.knowledge.hints import explain
from bot.knowledge.model import Answer, Origin, Question, Tag
from bot.knowledge.rules import (
    MAX_ANSWER_LENGTH,
    MAX_AUTHOR_LENGTH,
    MAX_ID_LENGTH,
    MAX_PHRASING_LENGTH,
    MAX_RELATED,
    MAX_SOURCE_LENGTH,
    MAX_TAG_LENGTH,
    Record,
    Seen,
    at,
    check_answer_text,
    check_author,
    check_description,
    check_id,
    check_link,
    check_phrasing,
    check_related,
    check_source,
    check_tag,
    duplicates,
    quote,
    validate_question,
)

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

__all__ = [
    "MAX_ANSWER_LENGTH",
    "MAX_AUTHOR_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_PHRASING_LENGTH",
    "MAX_SOURCE_LENGTH",
    "MAX_TAG_LENGTH",
    "LoadError",
    "LoadResult",
    "load_directory",
    "load_file",
    "parse_tags",
    "parse_text",
    "validate_question",
]

MAX_FILE_BYTES = 1024 * 1024
# The schema nests five levels deep; anything much deeper is a mistake or an attack (libyaml's
# composer recurses, so very deep nesting must never reach it).
MAX_DEPTH = 32
# Past this many errors in one file the rest are summarised in a single line.
MAX_ERRORS_PER_FILE = 100

# Control characters but tab and line break (only reachable through YAML escapes like "\e").

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

_TOP_KEYS = ("topic", "questions", "tags")
_TAG_KEYS = ("name", "description", "link", "main_question", "internal")
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
                problems.append((line, f"the YAML tag {quote(shown)} is not supported"))
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
        return f"{quote(node.value)}, read as {_kind(node)}; put it in quotes if you mean text"
    return _kind(node)


class _Walker:
    """Walks one file's node tree, collecting records of its questions and the problems."""

    def __init__(self, path: str, refused: set[tuple[int, int]]) -> None:
        self.path = path
        self.problems: list[tuple[int, str]] = []
        self.refused = refused
        self.visited: set[int] = set()
        self.tags: list[Tag] = []  # the file's tag records without errors

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
                self.error(key, f"duplicate key {quote(name)} in {what} (first at line {first})")
                continue
            key_lines[name] = mark.line + 1
            if key.tag != _STR or name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.error(
                    key,
                    f"unknown key {quote(name)} in {what}{hint}; "
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
            shown = f"{_kind(node)} ({quote(node.value)})"
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

    def document(self, root: yaml.Node | None) -> list[Record]:
        """Records of every question in the file."""
        if root is None:
            self.problems.append((1, "the file is empty; expected a 'questions' list"))
            return []
        if not self.enter(root):
            return []
        values = self.mapping(root, _TOP_KEYS, (), "the top level")
        if values is None:
            return []
        if "questions" not in values and "tags" not in values:
            self.error(root, "the top level is missing the required key 'questions'")
        if "topic" in values:
            self.string(values["topic"], "'topic'")
        records: list[Record] = []
        if "questions" in values:
            for item in self.sequence(values["questions"], "'questions'"):
                record = self.question(item)
                if record is not None:
                    records.append(record)
        if "tags" in values:
            names: dict[str, int] = {}
            for item in self.sequence(values["tags"], "'tags'"):
                tag = self.tag_record(item)
                if tag is None:
                    continue
                line = item.start_mark.line + 1
                if tag.name in names:
                    first = names[tag.name]
                    message = f"tag {tag.name!r} is declared twice (first at line {first})"
                    self.problems.append((line, message))
                    continue
                names[tag.name] = line
                self.tags.append(tag)
        return records

    def tag_record(self, node: yaml.Node) -> Tag | None:
        if not self.enter(node):
            return None
        before = len(self.problems)
        values = self.mapping(node, _TAG_KEYS, ("name",), "a tag")
        if values is None:
            return None
        name = self.checked(values, "name", check_tag)
        description = self.checked(values, "description", check_description)
        link = self.checked(values, "link", check_link)
        main = self.checked(values, "main_question", lambda s: check_id(s, "main question id"))
        internal = False
        if "internal" in values:
            internal = bool(self.boolean(values["internal"], "'internal'"))
        if len(self.problems) != before or name is None:
            return None
        return Tag(
            name=name[0].lower(),
            description=description[0] if description else None,
            link=link[0] if link else None,
            main_question=main[0] if main else None,
            internal=internal,
            origin=Origin(self.path, node.start_mark.line + 1),
        )

    def question(self, node: yaml.Node) -> Record | None:
        if not self.enter(node):
            return None
        before = len(self.problems)
        record = Record(line=node.start_mark.line + 1)
        values = self.mapping(node, _QUESTION_KEYS, ("id", "question"), "a question")
        if values is None:
            return None
        question_id = self.checked(values, "id", lambda s: check_id(s, "question id"))
        if question_id is not None:
            record.id, record.id_line = question_id
        text = self.checked(values, "question", lambda s: check_phrasing(s, "question"))
        if text is not None:
            record.phrasings.append(text)
        alternates: list[str] = []
        if "alternate_phrasings" in values:
            for item in self.sequence(values["alternate_phrasings"], "'alternate_phrasings'"):
                phrasing = self.string(item, "an alternate phrasing")
                if phrasing is None:
                    continue
                problem = check_phrasing(phrasing, "alternate phrasing")
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
                problem = check_tag(tag)
                if problem is not None:
                    self.error(item, problem)
                    continue
                tags.setdefault(tag.lower(), None)
        related: dict[str, None] = {}
        if "related" in values:
            own_id = question_id[0] if question_id is not None else None
            for item in self.sequence(values["related"], "'related'"):
                other = self.string(item, "a related question id")
                if other is None:
                    continue
                problem = check_related(other, own_id, related)
                if problem is None and len(related) >= MAX_RELATED:
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

    def answer(self, node: yaml.Node, record: Record) -> Answer | None:
        if not self.enter(node):
            return None
        before = len(self.problems)
        values = self.mapping(node, _ANSWER_KEYS, ("id", "text"), "an answer")
        if values is None:
            return None
        answer_id = self.checked(values, "id", lambda s: check_id(s, "answer id"))
        if answer_id is not None:
            record.answer_ids.append(answer_id)
        canonical = False
        if "canonical" in values:
            canonical = bool(self.boolean(values["canonical"], "'canonical'"))
        author = self.checked(values, "author", check_author)
        source = self.checked(values, "source", check_source)
        text = self.checked(values, "text", check_answer_text)
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


def _parse(text: str, path: str) -> tuple[list[Record], list[Tag], list[tuple[int, str]]]:
    """Records of the questions in ``text``, its tag records and the problems found (no
    cross-file checks)."""
    problem = _check_raw_text(text)
    if problem is not None:
        return [], [], [(1, problem)]
    if text.startswith("\ufeff"):
        text = text[1:]
    problems, refused, fatal = _scan(text)
    if fatal:
        return [], [], problems
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return [], [], [*problems, _yaml_error(exc, text)]
    walker = _Walker(path, refused)
    records = walker.document(root)
    return records, walker.tags, problems + walker.problems


def _finish(path: str, problems: Iterable[tuple[int | None, str]]) -> list[LoadError]:
    """``problems`` as errors in line order, at most ``MAX_ERRORS_PER_FILE`` plus a summary."""
    ordered = sorted(((line or 1, message) for line, message in problems), key=lambda p: p[0])
    errors = [LoadError(path, line, message) for line, message in ordered[:MAX_ERRORS_PER_FILE]]
    if len(ordered) > MAX_ERRORS_PER_FILE:
        more = len(ordered) - MAX_ERRORS_PER_FILE
        line = ordered[MAX_ERRORS_PER_FILE][0]
        errors.append(LoadError(path, line, f"... and {more} more errors in this file"))
    return errors


@dataclass
class _File:
    """What one file holds: its questions and tag records (none if it has any error), its
    errors, and the ids, phrasings and tag names it would add."""

    questions: list[Question]
    tags: list[Tag]
    errors: list[LoadError]
    new: Seen


def _check_file(text: str | None, problems: list[tuple[int, str]], path: str, seen: Seen) -> _File:
    records: list[Record] = []
    tags: list[Tag] = []
    if text is not None:
        records, tags, found = _parse(text, path)
        problems = problems + found
    new = Seen()
    all_problems: list[tuple[int | None, str]] = list(problems)
    for record in records:
        all_problems += duplicates(record, path, seen, new)
    for tag in tags:
        line = tag.origin.line if tag.origin else None
        if tag.name in seen.tags:
            where = seen.tags[tag.name]
            all_problems.append((line, f"tag {tag.name!r} is already declared{at(where)}"))
        else:
            new.tags[tag.name] = tag.origin
    errors = _finish(path, all_problems)
    if errors:
        return _File([], [], errors, new)
    questions = [record.question for record in records if record.question is not None]
    return _File(questions, tags, errors, new)


def _references(questions: list[Question], tags: Iterable[Tag]) -> list[LoadError]:
    """Errors for related ids and main questions that name none of ``questions``."""
    known = {question.id for question in questions}
    errors = []
    for question in questions:
        for other in question.related:
            if other not in known and question.origin is not None:
                message = (
                    f"question {question.id!r} lists {other!r} as related, but there is no "
                    "question with that id"
                )
                errors.append(LoadError(question.origin.path, question.origin.line, message))
    for tag in tags:
        if tag.main_question is not None and tag.main_question not in known and tag.origin:
            message = f"the main question {tag.main_question!r} of tag {tag.name!r} does not exist"
            errors.append(LoadError(tag.origin.path, tag.origin.line, message))
    return errors


def parse_tags(text: str, path: str) -> tuple[list[Tag], list[LoadError]]:
    """The tag records of one file's text (no cross-file checks), or none and the errors."""
    checked = _check_file(text, [], path, Seen())
    return checked.tags, checked.errors


def parse_text(text: str, path: str) -> tuple[list[Question], list[LoadError]]:
    """Parse one file's text (no cross-file checks).

    ``path`` is only used in origins and messages. Returns the questions, or no questions
    and the errors in line order if anything is wrong (a file is accepted or rejected whole).
    """
    checked = _check_file(text, [], path, Seen())
    return checked.questions, checked.errors


def load_file(path: str | Path) -> tuple[list[Question], list[LoadError]]:
    """Read and parse one file (no cross-file checks); see :func:`parse_text`."""
    text, problems = _read(path)
    checked = _check_file(text, problems, str(path), Seen())
    return checked.questions, checked.errors


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

    seen = Seen()
    accepted: dict[str, _File] = {}
    errors: list[LoadError] = []
    files: list[str] = []
    rejected: list[str] = []
    for name in names:
        path = str(base / name)
        files.append(path)
        text, problems = _read(base / name)
        checked = _check_file(text, problems, path, seen)
        if checked.errors:
            errors += checked.errors
            rejected.append(path)
        else:
            seen.update(checked.new)
            accepted[path] = checked
    # Related ids and main questions may name a question of any file: checked once all are
    # in, and only when every file loaded (they may name a question of a broken file, which
    # is reported already; one broken file must not take the others with it).
    found = (
        []
        if errors
        else _references(
            [q for f in accepted.values() for q in f.questions],
            [t for f in accepted.values() for t in f.tags],
        )
    )
    for path in sorted({error.path for error in found}):
        errors += sorted((e for e in found if e.path == path), key=lambda e: e.line)
        rejected.append(path)
        del accepted[path]
    errors.sort(key=lambda e: files.index(e.path) if e.path in files else -1)
    return LoadResult(
        tuple(q for f in accepted.values() for q in f.questions),
        tuple(errors),
        tuple(files),
        tuple(p for p in files if p in rejected),
        tuple(t for f in accepted.values() for t in f.tags),
    )
