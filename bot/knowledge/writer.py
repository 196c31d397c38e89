"""Write questions as knowledge-base YAML, in a stable, diff-friendly layout.

The layout follows the shipped files: ``topic`` then ``questions``; each question's keys in
the loader's order (``id``, ``question``, ``alternate_phrasings``, ``tags``, ``related``,
``answers``), always all of them (empty lists as ``[]``) but ``related`` (only when a
question lists some), tags and related ids as one-line lists, each answer's keys in
order (``id``, ``canonical``, then ``author`` and ``source`` when set, then ``text``) with
the text as a literal block (``|``), and a blank line between questions. Nothing depends on
dictionary order, time or the machine, so the same questions always give the same bytes,
and what is written loads back (with :func:`bot.knowledge.loader.parse_text`) as the same
questions.

:func:`file_text` writes a file that already exists (an export over the answers files)
by editing it: an unchanged file keeps its bytes, a changed one keeps its comments and layout.

:func:`question_to_data` / :func:`question_from_data` are also the JSON form of a question
stored in the database (:mod:`bot.store.versions`).
"""

from __future__ import annotations

import difflib
import io
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RoundTripError
from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString

from bot.knowledge.loader import _Loader, load_directory, parse_tags, parse_text
from bot.knowledge.model import Answer, Question, Tag

__all__ = [
    "dump_file",
    "file_text",
    "question_from_data",
    "question_to_data",
    "read_topics",
    "tag_from_data",
    "tag_to_data",
    "write_files",
]

# A question starts a new item of the top-level ``questions`` list: "  - id: ...".
_QUESTION_START = re.compile(r"^  - id: ", re.MULTILINE)
# A tag record starts a new item of the top-level ``tags`` list: "  - name: ...".
_TAG_START = re.compile(r"^  - name: ", re.MULTILINE)


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
    data: dict[str, Any] = {
        "id": question.id,
        "question": question.text,
        "alternate_phrasings": list(question.alternate_phrasings),
        "tags": list(question.tags),
    }
    if question.related:
        data["related"] = list(question.related)
    data["answers"] = answers
    return data


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
            related=tuple(data.get("related", ())),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stored question: {exc!r}") from None


def tag_to_data(tag: Tag) -> dict[str, Any]:
    """The tag record as plain data in the tags file's key order (unset keys left out)."""
    data: dict[str, Any] = {"name": tag.name}
    if tag.description is not None:
        data["description"] = tag.description
    if tag.link is not None:
        data["link"] = tag.link
    if tag.main_question is not None:
        data["main_question"] = tag.main_question
    if tag.internal:
        data["internal"] = True
    return data


def tag_from_data(data: Mapping[str, Any]) -> Tag:
    """The tag written by :func:`tag_to_data` (not validated). ValueError if malformed."""
    try:
        return Tag(
            name=data["name"],
            description=data.get("description"),
            link=data.get("link"),
            main_question=data.get("main_question"),
            internal=bool(data.get("internal", False)),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stored tag: {exc!r}") from None


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
    if "related" in data:
        data["related"] = _FlowList(data["related"])
    for item in data["answers"]:
        item["text"] = _Block(item["text"])
    return data


def _tag_file_data(tag: Tag) -> dict[str, Any]:
    data = tag_to_data(tag)
    if "description" in data:
        data["description"] = _Block(data["description"])
    return data


def dump_file(topic: str | None, questions: Sequence[Question], tags: Sequence[Tag] = ()) -> str:
    """The text of one knowledge-base file holding ``questions`` in the given order (and the
    tag records ``tags``; a file of tags alone has no ``questions`` key)."""
    document: dict[str, Any] = {}
    if topic is not None:
        document["topic"] = topic
    if questions or not tags:
        document["questions"] = [_file_data(question) for question in questions]
    if tags:
        document["tags"] = [_tag_file_data(tag) for tag in tags]
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
    for pattern in (_QUESTION_START, _TAG_START):
        starts = [match.start() for match in pattern.finditer(text)]
        for start in reversed(starts[1:]):
            text = text[:start] + "\n" + text[start:]
    return text


# --------------------------------------------------------------------------------------------
# Editing an existing file: only what changed, comments and layout kept


def file_text(
    topic: str | None,
    questions: Sequence[Question],
    current: str | None,
    tags: Sequence[Tag] = (),
) -> str:
    """The text of a knowledge-base file holding ``questions`` and the tag records ``tags``,
    given the file's ``current`` text (None for a new file).

    A file whose questions and topic are unchanged keeps its text exactly; a changed one is
    edited in place with a round-trip YAML parser (ruamel.yaml), so that comments, quoting,
    blank lines and the order of keys stay, and a diff shows the edits and nothing else. A
    new file, or one the editor cannot read back as exactly ``questions``, is written whole
    by :func:`dump_file`.
    """
    tags = list(tags)
    if current is None:
        return dump_file(topic, questions, tags)
    present, errors = parse_text(current, "current.yaml")
    present_tags, _ = parse_tags(current, "current.yaml")
    same_tags = present_tags == tags
    if not errors and present == list(questions) and same_tags and _topic_in(current) == topic:
        return current
    if not errors:
        try:
            edited = _edit(
                current,
                topic,
                questions,
                {q.id: q for q in present},
                tags,
                {t.name: t for t in present_tags},
            )
        except (RoundTripError, ValueError, TypeError, KeyError, AttributeError):
            edited = None
        if edited is not None:
            loaded, problems = parse_text(edited, "edited.yaml")
            loaded_tags, _ = parse_tags(edited, "edited.yaml")
            if (
                not problems
                and loaded == list(questions)
                and loaded_tags == tags
                and _topic_in(edited) == topic
            ):
                return edited
    return dump_file(topic, questions, tags)


def _round_trip() -> YAML:
    """A ruamel.yaml parser and writer set to the files' layout (see the module docstring)."""
    parser = YAML(typ="rt")
    parser.preserve_quotes = True
    parser.width = 1_000_000
    parser.indent(mapping=2, sequence=4, offset=2)
    return parser


def _edit(
    text: str,
    topic: str | None,
    questions: Sequence[Question],
    present: dict[str, Question],
    tags: Sequence[Tag] = (),
    present_tags: dict[str, Tag] | None = None,
) -> str:
    """``text`` with its topic, questions and tag records changed to ``topic``,
    ``questions`` and ``tags``."""
    parser = _round_trip()
    document = parser.load(text)
    if not isinstance(document, CommentedMap):
        raise ValueError("not a mapping")
    if topic is None:
        document.pop("topic", None)
    elif document.get("topic") != topic:
        _set_key(document, "topic", _scalar(topic), ("topic",))
    items = document.get("questions")
    if items is not None or questions:
        if not isinstance(items, CommentedSeq):
            raise ValueError("no questions list")
        by_id = {question.id: question for question in questions}
        _edit_list(
            items,
            [node["id"] for node in items],
            [question.id for question in questions],
            lambda question_id: _question_node(by_id[question_id]),
        )
        for node in items:
            question = by_id[node["id"]]
            before = present.get(question.id)
            if before is not None and before != question:
                _edit_question(node, before, question)
    _edit_tags(document, tags, present_tags or {})
    out = io.StringIO()
    parser.dump(document, out)
    return out.getvalue()


_TOP_ORDER = ("topic", "questions", "tags")
_TAG_ORDER = ("name", "description", "link", "main_question", "internal")


def _edit_tags(document: CommentedMap, tags: Sequence[Tag], present: dict[str, Tag]) -> None:
    """Make the ``tags`` list of ``document`` hold ``tags``: kept records edited key by key."""
    items = document.get("tags")
    if items is None and not tags:
        return
    if not isinstance(items, CommentedSeq):
        if items is not None:
            raise ValueError("tags is not a list")
        items = CommentedSeq()
        _set_key(document, "tags", items, _TOP_ORDER)
    by_name = {tag.name: tag for tag in tags}
    _edit_list(
        items,
        [str(node["name"]).lower() for node in items],
        [tag.name for tag in tags],
        lambda name: _tag_node(by_name[name]),
    )
    for node in items:
        tag = by_name[str(node["name"]).lower()]
        before = present.get(tag.name)
        if before is not None and before != tag:
            _edit_tag(node, tag)
    if not items:
        items.fa.set_flow_style()


def _edit_tag(node: CommentedMap, tag: Tag) -> None:
    for key, value in tag_to_data(tag).items():
        if key == "name":
            continue
        if key == "description":
            if str(node.get(key, "")).strip() != value:
                _set_key(node, key, _block(value), _TAG_ORDER)
        elif node.get(key) != value:
            _set_key(node, key, value if isinstance(value, bool) else _scalar(value), _TAG_ORDER)
    present = tag_to_data(tag)
    for key in _TAG_ORDER[1:]:
        if key not in present and key in node:
            del node[key]


def _tag_node(tag: Tag) -> CommentedMap:
    node = CommentedMap()
    for key, value in tag_to_data(tag).items():
        if key == "description":
            node[key] = _block(value)
        elif isinstance(value, bool):
            node[key] = value
        else:
            node[key] = _scalar(value)
    return node


def _edit_list(
    items: CommentedSeq, old: list[Any], new: list[Any], make: Callable[[Any], Any]
) -> None:
    """Turn ``items`` (whose keys are ``old``) into the items of keys ``new``: the items of
    kept keys stay as they are (with their comments), others are removed or made."""
    if old == new:
        return
    # What follows the last item (the blank line before the next question) stays at the end.
    tail = _take_trailing(items[-1]) if items else None
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
        if op == "equal":
            continue
        for index in range(i2 - 1, i1 - 1, -1):
            del items[index]
        for offset, key in enumerate(new[j1:j2]):
            items.insert(i1 + offset, make(key))
    if items and items.fa.flow_style():
        items.fa.set_block_style()  # "answers: []" that gets an answer
    if tail is not None and items:
        _put_trailing(items[-1], tail)


def _last_key(node: Any) -> tuple[CommentedMap, Any] | None:
    """The mapping and key that end ``node`` in the text, where ruamel.yaml keeps the
    comments and blank lines that follow it (None if a list of plain values ends it)."""
    while isinstance(node, CommentedMap) and node:
        key = list(node)[-1]
        value = node[key]
        if isinstance(value, CommentedMap) and value:
            node = value
        elif isinstance(value, CommentedSeq) and value and not value.fa.flow_style():
            node = value[-1]
        else:
            return node, key
    return None


def _take_trailing(node: Any) -> Any:
    found = _last_key(node)
    if found is None:
        return None
    mapping, key = found
    slots = mapping.ca.items.get(key)
    if not slots or len(slots) < 3 or slots[2] is None:
        return None
    token, slots[2] = slots[2], None
    return token


def _put_trailing(node: Any, token: Any) -> None:
    found = _last_key(node)
    if found is None:
        return
    mapping, key = found
    slots = mapping.ca.items.setdefault(key, [None, None, None, None])
    if slots[2] is None:
        slots[2] = token


def _edit_question(node: CommentedMap, before: Question, after: Question) -> None:
    """Change the keys of ``node`` that differ between ``before`` and ``after``."""
    if before.text != after.text:
        node["question"] = _scalar(after.text)
    if before.alternate_phrasings != after.alternate_phrasings:
        _edit_strings(node, "alternate_phrasings", after.alternate_phrasings, flow=False)
    if before.tags != after.tags:
        _edit_strings(node, "tags", after.tags, flow=True)
    if before.related != after.related:
        if after.related:
            _edit_strings(node, "related", after.related, flow=True)
        else:
            node.pop("related", None)
    if before.answers != after.answers:
        answers = node.get("answers")
        if not isinstance(answers, CommentedSeq):
            answers = CommentedSeq()
            _set_key(node, "answers", answers, _QUESTION_ORDER)
        old = {answer.id: answer for answer in before.answers}
        new = {answer.id: answer for answer in after.answers}
        _edit_list(
            answers,
            [item["id"] for item in answers],
            list(new),
            lambda answer_id: _answer_node(new[answer_id]),
        )
        for item in answers:
            answer = new[item["id"]]
            previous = old.get(answer.id)
            if previous is not None and previous != answer:
                _edit_answer(item, answer)


def _edit_strings(node: CommentedMap, key: str, values: Sequence[str], *, flow: bool) -> None:
    items = node.get(key)
    if not isinstance(items, CommentedSeq):
        items = CommentedSeq()
        if flow:
            items.fa.set_flow_style()
        _set_key(node, key, items, _QUESTION_ORDER)
    was_flow = items.fa.flow_style()
    _edit_list(items, list(items), list(values), _scalar)
    if was_flow or (flow and not items):
        items.fa.set_flow_style()


def _edit_answer(node: CommentedMap, answer: Answer) -> None:
    if node.get("canonical", False) != answer.canonical:
        _set_key(node, "canonical", answer.canonical, _ANSWER_ORDER)
    for key in ("author", "source"):
        value = getattr(answer, key)
        if value is None:
            node.pop(key, None)
        elif str(node.get(key, "")).strip() != value:
            _set_key(node, key, _scalar(value), _ANSWER_ORDER)
    if str(node.get("text", "")).strip() != answer.text:
        _set_key(node, "text", _block(answer.text), _ANSWER_ORDER)


_QUESTION_ORDER = ("id", "question", "alternate_phrasings", "tags", "related", "answers")
_ANSWER_ORDER = ("id", "canonical", "author", "source", "text")


def _set_key(node: CommentedMap, key: str, value: Any, order: tuple[str, ...]) -> None:
    """Set ``node[key]``; a new key goes where the layout puts it among the keys present."""
    if key in node:
        node[key] = value
        return
    later = order[order.index(key) + 1 :]
    position = next((i for i, k in enumerate(node) if k in later), len(node))
    node.insert(position, key, value)


def _question_node(question: Question) -> CommentedMap:
    node = CommentedMap()
    node["id"] = question.id
    node["question"] = _scalar(question.text)
    node["alternate_phrasings"] = CommentedSeq(_scalar(p) for p in question.alternate_phrasings)
    tags = CommentedSeq(_scalar(tag) for tag in question.tags)
    tags.fa.set_flow_style()
    node["tags"] = tags
    if question.related:
        related = CommentedSeq(_scalar(other) for other in question.related)
        related.fa.set_flow_style()
        node["related"] = related
    answers = CommentedSeq(_answer_node(answer) for answer in question.answers)
    if not question.answers:
        answers.fa.set_flow_style()
    node["answers"] = answers
    if not question.alternate_phrasings:
        node["alternate_phrasings"].fa.set_flow_style()
    return node


def _answer_node(answer: Answer) -> CommentedMap:
    node = CommentedMap()
    node["id"] = answer.id
    node["canonical"] = bool(answer.canonical)
    if answer.author is not None:
        node["author"] = _scalar(answer.author)
    if answer.source is not None:
        node["source"] = _scalar(answer.source)
    node["text"] = _block(answer.text)
    return node


def _scalar(value: str) -> str:
    """``value``, quoted when the files' YAML 1.1 reader would take it for something other
    than text (``yes``, ``1.5``, ``null``); ruamel.yaml quotes what YAML syntax needs."""
    resolved = _Loader.resolve(_Loader, yaml.ScalarNode, value, (True, False))
    if resolved != "tag:yaml.org,2002:str" or value != value.strip():
        return SingleQuotedScalarString(value)
    return value


def _block(text: str) -> str:
    """Answer text as a literal block (``|``), as :func:`dump_file` writes it."""
    return LiteralScalarString(text + "\n")


def _topic_in(text: str) -> str | None:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "topic" and isinstance(value, yaml.ScalarNode):
                return value.value.strip()
    return None


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
    """Write ``(name, text)`` pairs into ``directory`` (created if need be); the paths of the
    files written.

    A file that already holds exactly the text is left alone (not even its time changes).
    Each other file is written to a temporary file first and renamed over the old one, so a
    reader never sees half a file; it keeps the old file's permissions, and a new file gets
    the usual ones (0666 less the umask).
    """
    base = Path(directory)
    base.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files:
        target = base / name
        data = text.encode("utf-8")
        try:
            if target.read_bytes() == data:
                continue
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=base)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask
