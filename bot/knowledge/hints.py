"""Hints for the YAML mistakes people make most, at the line of the mistake.

PyYAML reports where it got stuck, which is not always where the mistake is, in words about
its parser ("mapping values are not allowed here", "did not find expected key"). For the
common cases this module says what to change, on the line to change:

- a ``: `` inside a value (``question: Stampy: what is it?``): put the value in quotes;
- a line indented differently from its siblings (a list item dedented, so the next line is
  the one YAML trips over; a key indented one space too far): found by trying the
  indentations of the lines around it and keeping the one with which the file reads;
- a quote or bracket opened and never closed: the line where it was opened;
- a tab in the indentation; a ``#`` that starts a comment in the middle of a value.

:func:`explain` is given a function that says how well a candidate text reads, so that a
suggested fix is one that actually works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import yaml

__all__ = ["explain"]

#: At most this many candidate texts are tried for one error.
MAX_TRIES = 24
#: Lines before the error whose indentations are tried.
LOOK_BACK = 12
#: Fixes are tried (each a parse of the whole text) only in texts up to this size.
MAX_TRY_CHARS = 200_000

# "  - key: value" or "    key: value": the part up to the value, and the value.
_KEY_VALUE = re.compile(r"^(?P<head>\s*(?:-\s+)?[^\s:#'\"\[\]{}][^:#]*?:[ \t]+)(?P<value>.*)$")
_INDENT = re.compile(r"^( *)(- +)?")

#: How well a text reads: the line of its first YAML error (None if it has none) and the
#: lines of its other problems.
Score = Callable[[str], tuple[int | None, list[int]]]


def explain(exc: yaml.MarkedYAMLError, text: str, score: Score) -> tuple[int, str] | None:
    """A (line, hint) for ``exc`` raised on ``text``, or None when no common case fits."""
    lines = text.split("\n")
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return None
    line = mark.line  # 0-based here
    problem = exc.problem or ""
    context = exc.context or ""
    if "tab" in problem and 0 <= line < len(lines):
        row = _tab_line(lines, line)
        return row + 1, "a tab in the indentation: YAML indents with spaces only"
    if "quoted scalar" in context and exc.context_mark is not None:
        opened = exc.context_mark.line
        return opened + 1, (
            "the quote opened on this line is never closed; end the text with the same quote "
            '(and write a quote inside double-quoted text as \\")'
        )
    commented = _open_bracket_before_comment(lines, line)
    if commented is not None:
        return commented + 1, _COMMENT_HINT
    if ("flow sequence" in context or "flow mapping" in context) and exc.context_mark:
        opened = exc.context_mark.line
        bracket = "[" if "sequence" in context else "{"
        closing = "]" if bracket == "[" else "}"
        return opened + 1, (
            f"the '{bracket}' opened on this line is not closed with '{closing}' on it; "
            "close it, or put text with commas or brackets in quotes"
        )
    return _colon(lines, line, problem, score) or _indentation(lines, line, score)


_COMMENT_HINT = (
    "a '#' after a space or a bracket starts a comment, so the rest of the line is dropped; "
    "put the text in quotes"
)


def _tab_line(lines: list[str], line: int) -> int:
    for row in range(line, max(-1, line - LOOK_BACK), -1):
        if "\t" in lines[row][: len(lines[row]) - len(lines[row].lstrip())]:
            return row
    return line


def _open_bracket_before_comment(lines: list[str], line: int) -> int | None:
    """The line (0-based) at or above ``line`` where a '#' comments out the closing bracket of
    a '[' or '{' opened before it on that line, or None."""
    for row in range(min(line, len(lines) - 1), max(-1, line - LOOK_BACK), -1):
        mark = re.search(r"(^|[\s\[{,])#", lines[row])
        if mark is None or lines[row].lstrip().startswith("#"):
            continue
        before = lines[row][: mark.end()]
        if before.count("[") + before.count("{") > before.count("]") + before.count("}"):
            return row
    return None


def _colon(lines: list[str], line: int, problem: str, score: Score) -> tuple[int, str] | None:
    """``key: text: more`` on the error line: quoting the text makes the file read."""
    if "mapping values" not in problem or not 0 <= line < len(lines):
        return None
    match = _KEY_VALUE.match(lines[line])
    if match is None:
        return None
    value = match["value"].rstrip()
    if not value or value[0] in "'\"[{|>&*!" or not (": " in value or value.endswith(":")):
        return None
    quoted = json.dumps(value, ensure_ascii=False)
    candidate = lines[:line] + [match["head"] + quoted] + lines[line + 1 :]
    error_line, _ = score("\n".join(candidate))
    if error_line is not None and error_line <= line + 1:
        return None
    return line + 1, (
        "a ': ' inside a value makes YAML read a new key; put the value in quotes: "
        f"{match['head'].strip()} {_shorten(quoted)}"
    )


def _indentation(lines: list[str], line: int, score: Score) -> tuple[int, str] | None:
    """A line near the error whose indentation, changed to one of its neighbours', makes
    the file read with the fewest problems."""
    if not 0 <= line < len(lines):
        return None
    first = max(0, line - LOOK_BACK)
    users: dict[int, list[int]] = {}  # indentation -> the lines using it
    for row in range(first, min(len(lines), line + 2)):
        text = lines[row]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        spaces, dash = _INDENT.match(text).groups()  # type: ignore[union-attr]
        users.setdefault(len(spaces), []).append(row)
        if dash:
            users.setdefault(len(spaces) + len(dash), []).append(row)
    best: tuple[tuple[int, int, int], int, int, int] | None = None
    tries = 0
    for row in (line, line - 1, line - 2):
        if row < first or row >= len(lines) or not lines[row].strip():
            continue
        current = len(lines[row]) - len(lines[row].lstrip(" "))
        for indent in sorted(users, key=lambda indent: abs(indent - current)):
            others = [other for other in users[indent] if other != row]
            if indent == current or not others or tries >= MAX_TRIES:
                continue
            above = [other for other in others if other < row]
            like = above[-1] if above else others[0]  # the nearest line above, if any
            tries += 1
            candidate = list(lines)
            candidate[row] = " " * indent + lines[row].lstrip(" ")
            error_line, problems = score("\n".join(candidate))
            if error_line is not None:
                continue  # still not YAML
            if any(row <= at <= line + 2 for at in problems):
                continue  # YAML, but not a knowledge-base file around the change
            rank = (len(problems), abs(indent - current), line - row)
            if best is None or rank < best[0]:
                best = (rank, row, indent, like)
    if best is None:
        return None
    _, row, indent, like = best
    current = len(lines[row]) - len(lines[row].lstrip(" "))
    return row + 1, (
        f"this line is indented {current} space{'s' if current != 1 else ''}; "
        f"with {indent}, as on line {like + 1}, the file reads: items of one list, and keys "
        "of one mapping, must start in the same column"
    )


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 4] + '..."'
