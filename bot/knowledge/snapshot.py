"""A snapshot of the loaded knowledge base, so a start whose files did not change is quick.

Loading 10,000 questions means parsing and validating megabytes of YAML and normalising and
stemming every phrasing into the index: seconds of CPU at every start of the bot and every
``stampy ask``. After a full load, :func:`load_indexed` writes what it produced (the accepted
questions, the errors of the rejected files and the built index) to one file; the next start
reads that file instead, if and only if it was made from the same bytes of the same files by the
same code.

The file is keyed by a SHA-256 over: the snapshot format, the source code of the modules that
parse, validate, normalise and index (so a snapshot from another version of Stampy is never
used), the Unicode and Snowball versions, and the name and SHA-256 of every knowledge-base file.
Any change, a file edited, added, removed or renamed, falls back to the full validated load,
which rewrites the snapshot. Moderators' edits stored in the database are not part of it: they
are read from the database and applied on top at every start (as after a full load), so an edit
is never served stale and never invalidates the snapshot.

Nothing in a snapshot is trusted. It holds no code and no pickles: a JSON header, then a JSON
body and raw integer arrays (read with ``numpy.frombuffer``), covered by a SHA-256 recorded in
the header. A file that is missing, truncated, damaged, of another format or version, or for
other files is ignored (the full load runs), and writing one that cannot be written (a read-only
directory, a full disk) only costs the next start its speed. ``stampy check`` never uses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import snowballstemmer.basestemmer as snowballstemmer_base
import snowballstemmer.english_stemmer as snowballstemmer_english
import yaml

from bot.knowledge import answers, base, loader, matcher, model, text
from bot.knowledge.base import answer_text
from bot.knowledge.loader import MAX_FILE_BYTES, LoadError, LoadResult
from bot.knowledge.matcher import IndexState, Matcher
from bot.knowledge.model import Answer, Origin, Question, Tag

__all__ = [
    "FORMAT",
    "Loaded",
    "load_indexed",
    "read_snapshot",
    "snapshot_key",
    "snapshot_path",
    "write_snapshot",
]

log = logging.getLogger(__name__)

#: Bumped whenever the layout of the file changes.
FORMAT = 3
MAGIC = b"STAMPY-KNOWLEDGE-SNAPSHOT\n"
_LENGTH_BYTES = 8
_ARRAYS = (
    "word_terms",
    "word_offsets",
    "word_seq",
    "term_offsets",
    "term_ids",
    "posting_offsets",
    "posting_ids",
    "answer_offsets",
    "answer_terms",
)
#: The integer types an array may be stored as (ids take two bytes while they fit).
_DTYPES = {"<u2": np.dtype("<u2"), "<i4": np.dtype("<i4"), "<i8": np.dtype("<i8")}


@dataclass(frozen=True)
class Loaded:
    """What loading found: the files' result, the matcher indexing its questions, and whether
    it came from the snapshot (``from_snapshot``) or a full load."""

    result: LoadResult
    matcher: Matcher
    from_snapshot: bool


# --------------------------------------------------------------------------------------------
# The key


def _code_fingerprint() -> bytes:
    """SHA-256 of the source of every module whose behaviour the snapshot captures."""
    digest = hashlib.sha256()
    for module in (answers, base, loader, matcher, model, text):
        source = Path(module.__file__ or "").read_bytes()
        digest.update(len(source).to_bytes(8, "little") + source)
    digest.update(Path(__file__).read_bytes())
    # The stemmer's own code and the YAML parser's version (read from the modules, not from
    # importlib.metadata, whose import alone costs a good share of a start).
    for module in (snowballstemmer_english, snowballstemmer_base):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(f"pyyaml={yaml.__version__};".encode())
    digest.update(unicodedata.unidata_version.encode())
    return digest.digest()


def _list_files(directory: Path) -> list[str] | None:
    """The file names :func:`~bot.knowledge.loader.load_directory` reads, or None if the
    directory cannot be listed (then there is no snapshot either)."""
    try:
        return sorted(
            entry.name
            for entry in directory.iterdir()
            if entry.suffix in (".yaml", ".yml")
            and not entry.name.startswith(".")
            and entry.is_file()
        )
    except OSError:
        return None


def snapshot_key(directory: str | Path) -> str | None:
    """The key of the knowledge base in ``directory`` as it is now; None if it cannot be read
    (then the full load runs and reports why)."""
    base = Path(directory)
    names = _list_files(base)
    if names is None:
        return None
    digest = hashlib.sha256(f"stampy knowledge snapshot {FORMAT}\n".encode())
    digest.update(_code_fingerprint())
    digest.update(os.path.abspath(base).encode())  # origins name the files by this path
    digest.update(str(directory).encode())
    for name in names:
        try:
            with open(base / name, "rb") as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except OSError:
            return None
        digest.update(f"\n{name}\n{len(data)}\n".encode())
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Encoding


def _encode(result: LoadResult, index: IndexState) -> tuple[bytes, list[np.ndarray]]:
    paths: dict[str, int] = {}

    def path_id(origin: Origin | None) -> list[Any]:
        if origin is None:
            return [None, None]
        return [paths.setdefault(origin.path, len(paths)), origin.line]

    questions = [
        [
            q.id,
            q.text,
            list(q.alternate_phrasings),
            list(q.tags),
            [
                [a.id, a.text, a.canonical, a.author, a.source, *path_id(a.origin)]
                for a in q.answers
            ],
            *path_id(q.origin),
        ]
        for q in result.questions
    ]
    body = {
        "questions": questions,
        "errors": [[e.path, e.line, e.message] for e in result.errors],
        "files": list(result.files),
        "rejected_files": list(result.rejected_files),
        "tags": [
            [t.name, t.description, t.link, t.main_question, t.internal, *path_id(t.origin)]
            for t in result.tags
        ],
        "stems": index.stems,
        "words": index.words,
        "owners": index.owners,
        "texts": index.texts,
        "answer_stems": index.answer_stems,
        "answer_questions": index.answer_questions,
    }
    body["paths"] = list(paths)
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    arrays = []
    for name in _ARRAYS:
        array = getattr(index, name)
        arrays.append(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")))
    return encoded, arrays


def _decode(body: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[LoadResult, IndexState]:
    paths: list[str] = body["paths"]

    def origin(path: int | None, line: int | None) -> Origin | None:
        return None if path is None or line is None else Origin(paths[path], line)

    questions = tuple(
        Question(
            id=qid,
            text=qtext,
            alternate_phrasings=tuple(alternates),
            tags=tuple(tags),
            answers=tuple(
                Answer(
                    id=aid,
                    text=atext,
                    canonical=canonical,
                    author=author,
                    source=source,
                    origin=origin(apath, aline),
                )
                for aid, atext, canonical, author, source, apath, aline in answers
            ),
            origin=origin(qpath, qline),
        )
        for qid, qtext, alternates, tags, answers, qpath, qline in body["questions"]
    )
    texts = {question.id: answer_text(question) for question in questions}
    result = LoadResult(
        questions,
        tuple(LoadError(path, line, message) for path, line, message in body["errors"]),
        tuple(body["files"]),
        tuple(body["rejected_files"]),
        tuple(
            Tag(
                name=name,
                description=description,
                link=link,
                main_question=main_question,
                internal=internal,
                origin=origin(tpath, tline),
            )
            for name, description, link, main_question, internal, tpath, tline in body["tags"]
        ),
    )
    index = IndexState(
        stems=body["stems"],
        words=body["words"],
        word_terms=arrays["word_terms"],
        owners=body["owners"],
        texts=body["texts"],
        word_offsets=arrays["word_offsets"],
        word_seq=arrays["word_seq"],
        term_offsets=arrays["term_offsets"],
        term_ids=arrays["term_ids"],
        posting_offsets=arrays["posting_offsets"],
        posting_ids=arrays["posting_ids"],
        # The answers' texts are the questions' (not stored twice).
        answer_stems=body["answer_stems"],
        answer_questions=body["answer_questions"],
        answer_offsets=arrays["answer_offsets"],
        answer_terms=arrays["answer_terms"],
        answer_texts=[texts.get(question, "") for question in body["answer_questions"]],
    )
    _check_index(index, {q.id for q in questions})
    return result, index


def _check_index(index: IndexState, question_ids: set[str]) -> None:
    """ValueError unless ``index`` is internally consistent and indexes ``question_ids``."""
    count = len(index.owners)
    if len(index.texts) != count:
        raise ValueError("phrasing tables of different lengths")
    if len(index.words) != index.word_terms.size or len(set(index.stems)) != len(index.stems):
        raise ValueError("vocabulary tables disagree")
    if len(set(index.words)) != len(index.words):
        raise ValueError("a word is listed twice")
    for offsets, ids, bound in (
        (index.word_offsets, index.word_seq, len(index.words)),
        (index.term_offsets, index.term_ids, len(index.stems)),
    ):
        if offsets.size != count + 1 or offsets.dtype != np.int64:
            raise ValueError("phrasing tables of different lengths")
        if offsets[0] != 0 or offsets[-1] != ids.size or np.any(np.diff(offsets) < 0):
            raise ValueError("offsets out of order")
        if ids.size and (ids.min() < 0 or ids.max() >= bound):
            raise ValueError("id out of range")
    terms = index.word_terms
    if terms.size and (terms.min() < 0 or terms.max() >= len(index.stems)):
        raise ValueError("term id out of range")
    postings = index.posting_offsets
    if postings.size != len(index.stems) + 1 or postings[0] != 0 or postings.dtype != np.int64:
        raise ValueError("posting offsets of the wrong length")
    if postings[-1] != index.posting_ids.size or np.any(np.diff(postings) < 0):
        raise ValueError("posting offsets out of order")
    posting_ids = index.posting_ids
    if posting_ids.dtype != np.int32:
        raise ValueError("postings of the wrong type")
    if posting_ids.size and (posting_ids.min() < 0 or posting_ids.max() >= count):
        raise ValueError("posting out of range")
    if set(index.owners) != question_ids:
        raise ValueError("the index and the questions disagree")
    _check_answers(index, question_ids)


def _check_answers(index: IndexState, question_ids: set[str]) -> None:
    """ValueError unless the answers' index is consistent: known questions, each with an
    answer, and each one's term ids in range and in increasing order."""
    questions, offsets, terms = index.answer_questions, index.answer_offsets, index.answer_terms
    if len(set(questions)) != len(questions) or not set(questions) <= question_ids:
        raise ValueError("the answers' index names other questions")
    if not all(index.answer_texts) or len(set(index.answer_stems)) != len(index.answer_stems):
        raise ValueError("the answers' index disagrees with the answers")
    if offsets.size != len(questions) + 1 or offsets.dtype != np.int64 or offsets[0] != 0:
        raise ValueError("answer offsets of the wrong length")
    if offsets[-1] != terms.size or np.any(np.diff(offsets) <= 0):
        raise ValueError("answer offsets out of order")
    if terms.size and (terms.min() < 0 or terms.max() >= len(index.answer_stems)):
        raise ValueError("answer term out of range")
    rising = np.diff(terms) > 0
    rising[offsets[1:-1] - 1] = True  # a new answer may start lower
    if not rising.all():
        raise ValueError("answer terms out of order")


# --------------------------------------------------------------------------------------------
# Files


def write_snapshot(path: str | Path, key: str, result: LoadResult, index: IndexState) -> None:
    """Write the snapshot atomically (a temporary file renamed over ``path``).

    OSError if it cannot be written.
    """
    body, arrays = _encode(result, index)
    sections = [["body", "", len(body)]] + [
        [name, array.dtype.str, array.nbytes] for name, array in zip(_ARRAYS, arrays, strict=True)
    ]
    digest = hashlib.sha256(body)
    for array in arrays:
        digest.update(array.tobytes())
    header = json.dumps(
        {"format": FORMAT, "key": key, "sections": sections, "sha256": digest.hexdigest()}
    ).encode()
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(MAGIC + len(header).to_bytes(_LENGTH_BYTES, "little") + header + body)
            for array in arrays:
                stream.write(array.tobytes())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_snapshot(path: str | Path, key: str) -> tuple[LoadResult, IndexState] | None:
    """The snapshot at ``path`` if it is whole, of this format and made for ``key``; else
    None (the reason is logged at debug level)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        log.debug("no knowledge snapshot at %s: %s", path, error)
        return None
    try:
        return _parse(data, key)
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as error:
        log.info("ignoring the knowledge snapshot %s: %s", path, error)
        return None


def _parse(data: bytes, key: str) -> tuple[LoadResult, IndexState]:
    if not data.startswith(MAGIC):
        raise ValueError("not a knowledge snapshot")
    at = len(MAGIC)
    length = int.from_bytes(data[at : at + _LENGTH_BYTES], "little")
    at += _LENGTH_BYTES
    if length > len(data) - at:
        raise ValueError("truncated header")
    header = json.loads(data[at : at + length])
    at += length
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"format {header.get('format')!r}, expected {FORMAT}")
    if header.get("key") != key:
        raise ValueError("made from other files or by another version of Stampy")
    sections = header["sections"]
    names = [name for name, _, _ in sections]
    if names != ["body", *_ARRAYS]:
        raise ValueError("unexpected sections")
    sizes = [int(size) for _, _, size in sections]
    if any(size < 0 for size in sizes) or at + sum(sizes) != len(data):
        raise ValueError("truncated or padded")
    payload = memoryview(data)[at:]
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise ValueError("checksum mismatch (damaged)")
    body_size = sizes[0]
    # Decoded as plain UTF-8 first: json.loads on bytes decodes with "surrogatepass", which is
    # twice as slow on megabytes of text.
    body = json.loads(str(payload[:body_size], "utf-8"))
    arrays: dict[str, np.ndarray] = {}
    offset = body_size
    for (name, dtype_name, size), _ in zip(sections[1:], _ARRAYS, strict=True):
        dtype = _DTYPES[dtype_name]
        if size % dtype.itemsize:
            raise ValueError(f"{name}: not whole integers")
        # Copied (a few milliseconds) so that the file's bytes are not kept alive, and in
        # the machine's byte order.
        array = np.frombuffer(payload, dtype=dtype, count=size // dtype.itemsize, offset=offset)
        arrays[name] = array.astype(dtype.newbyteorder("="))
        offset += size
    return _decode(body, arrays)


# --------------------------------------------------------------------------------------------
# Loading


def load_indexed(
    directory: str | Path, new_matcher: Callable[[], Matcher], snapshot: str | Path | None
) -> Loaded:
    """Load the knowledge base in ``directory`` into a matcher from ``new_matcher()``.

    With a ``snapshot`` path, a valid snapshot for the files as they are now is used instead of
    parsing them, and a full load writes one. With None, always the full load.
    """
    key = snapshot_key(directory) if snapshot is not None else None
    if snapshot is not None and key is not None:
        found = read_snapshot(snapshot, key)
        if found is not None:
            result, index = found
            index_matcher = new_matcher()
            index_matcher.restore_index(index)
            return Loaded(result, index_matcher, True)
    result = loader.load_directory(directory)
    index_matcher = new_matcher()
    for question in result.questions:
        index_matcher.upsert(question.id, question.phrasings, answer_text(question))
    if snapshot is not None and key is not None:
        # The files may have changed while they were read: the snapshot is keyed by what
        # was read only if the key is still the same afterwards.
        if snapshot_key(directory) == key:
            try:
                write_snapshot(snapshot, key, result, index_matcher.export_index())
            except OSError as error:
                log.warning("could not write the knowledge snapshot %s: %s", snapshot, error)
    return Loaded(result, index_matcher, False)


def snapshot_path(database: str) -> str | None:
    """Where the snapshot of a bot using ``database`` lives: beside it, or nowhere for an
    in-memory database."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    if "://" in database:  # a server database (PostgreSQL): no file to sit beside
        return None
    return f"{database}.knowledge-snapshot"
