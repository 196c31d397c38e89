"""Write questions as knowledge-base YAML, in a stable, diff-friendly layout.

The layout follows the shipped files: ``topic`` then ``questions``; each question's keys in
the loader's order (``id``, ``question``, ``alternate_phrasings``, ``tags``, ``answers``),
always all of them (empty lists as ``[]``), tags as a one-line list, each answer's keys in
order (``id``, ``canonical``, then ``author`` and ``source`` when set, then ``text``) with
the text as a literal block (``|``), and a blank line between questions. Nothing depends on
dictionary order, time or the machine, so the same questions always give the same bytes,
and what is written loads back (with :func:`bot.knowledge.loader.parse_text`) as the same
questions.

:func:`question_to_data` / :func:`question_from_data` are also the JSON form of a question
stored in the database (:mod:`bot.store.versions`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge.loader import _Loader, load_directory
from bot.knowledge.model import Answer, Question

__all__ = [
    "dump_file",
    "question_from_data",
    "question_to_data",
    "read_topics",
    "write_files",
]

# A question starts a new item of the top-level ``questions`` list: "  - id: ...".
_QUESTION_START = re.compile(r"^  - id: ", re.MULTILINE)


def question_to_data(question: Question) -> dict[str, Any]:
    """The question as plain data in the file layout's key order."""
    answers = []
    for answer in question.answers:
        item: dict[str, Any] = {"id": answer.id, "canonical": bool(answer.canonical)}
        if answer.author is not None:
            item["author"] = answer.author
        if answer.source is not None:
            item["source"] = answer.source
        item["text"] = answer.text
        answers.append(item)
    return {
        "id": question.id,
        "question": question.text,
        "alternate_phrasings": list(question.alternate_phrasings),
        "tags": list(question.tags),
        "answers": answers,
    }


def question_from_data(data: Mapping[str, Any]) -> Question:
    """The question written by :func:`question_to_data` (not validated: see the loader).

    Raises ValueError if ``data`` does not have the expected shape.
    """
    try:
        answers = tuple(
            Answer(
                id=item["id"],
                text=item["text"],
                canonical=bool(item.get("canonical", False)),
                author=item.get("author"),
                source=item.get("source"),
            )
            for item in data.get("answers", ())
        )
        return Question(
            id=data["id"],
            text=data["question"],
            alternate_phrasings=tuple(data.get("alternate_phrasings", ())),
            tags=tuple(data.get("tags", ())),
            answers=answers,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stored question: {exc!r}") from None


class _FlowList(list):  # type: ignore[type-arg]
    """A list written on one line: ``[a, b]``."""


class _Block(str):
    """A string written as a literal block (``|``) when YAML allows it."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """SafeDumper that indents list items under their key, as the shipped files do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_flow(dumper: yaml.SafeDumper, data: _FlowList) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_block(dumper: yaml.SafeDumper, data: _Block) -> yaml.Node:
    # The loader strips values, so the final newline that "|" keeps is not part of the text.
    # PyYAML falls back to a quoted style by itself where a block cannot hold the text.
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data) + "\n", style="|")


_Dumper.add_representer(_FlowList, _represent_flow)
_Dumper.add_representer(_Block, _represent_block)


def _file_data(question: Question) -> dict[str, Any]:
    data = question_to_data(question)
    data["tags"] = _FlowList(data["tags"])
    for item in data["answers"]:
        item["text"] = _Block(item["text"])
    return data


def dump_file(topic: str | None, questions: Sequence[Question]) -> str:
    """The text of one knowledge-base file holding ``questions`` in the given order."""
    document: dict[str, Any] = {}
    if topic is not None:
        document["topic"] = topic
    document["questions"] = [_file_data(question) for question in questions]
    text = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
        indent=2,
        line_break="\n",
    )
    # A blank line between questions, as in the shipped files (not inside any value: every
    # line of a value is indented deeper than a question's "  - ").
    starts = [match.start() for match in _QUESTION_START.finditer(text)]
    for start in reversed(starts[1:]):
        text = text[:start] + "\n" + text[start:]
    return text


def read_topics(directory: str | Path) -> dict[str, str | None]:
    """The ``topic`` of every file :func:`~bot.knowledge.loader.load_directory` accepts,
    by file name (None for a file without one)."""
    result = load_directory(directory)
    rejected = set(result.rejected_files)
    topics: dict[str, str | None] = {}
    for path in result.files:
        if path in rejected:
            continue
        topics[Path(path).name] = _topic_of(Path(path))
    return topics


def _topic_of(path: Path) -> str | None:
    """The topic of an accepted file (its YAML is known to be safe to compose)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "topic" and isinstance(value, yaml.ScalarNode):
            return value.value.strip()
    return None


def write_files(directory: str | Path, files: Iterable[tuple[str, str]]) -> list[Path]:
    """Write ``(name, text)`` pairs into ``directory`` (created if need be); the paths.

    Each file is written to a temporary file first and renamed over the old one, so a
    reader never sees half a file.
    """
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files:
        target = base / name
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=base)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(text)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
