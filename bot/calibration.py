"""``stampy calibrate``: fit the abstention model from what is known to be right or wrong.

Three sources of labelled questions, any mix of them:

* labelled questions in the benchmark's format (JSON lines with ``query`` and
  ``expected_ids``, an empty list meaning the knowledge base has no answer), whose ids are
  questions of the knowledge base being calibrated;
* a feedback log (JSON lines): ``{"query": "...", "question": "some-id", "right": true}``
  says that ``some-id`` is the right question for the query (``false``: it is a wrong one,
  e.g. a reported answer);
* the database the bot keeps on Discord: every "did you mean" pick (a proposed phrasing, unless
  a moderator rejected it) and every unanswered question a moderator merged into a question
  says which question was meant.

Each labelled question is matched against the knowledge base as it stands, with the labelled
wording itself left out of the index when it has since become one of the question's phrasings
(a merge or an approved pick makes it one): the model must learn from the match the bot saw,
not from an exact hit. A question whose top candidate is the labelled one is a right example;
a question with no answer, or whose top candidate is another question than the right one, or
is the one reported wrong, is a wrong example.

With ``--benchmark KB QUERIES`` it fits one model per track of the benchmark instead (the file
``stampy eval --model`` reads).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from bot.app import App, Database, load_knowledge
from bot.knowledge.abstain import (
    FEATURES,
    MODEL_FILENAME,
    SEMANTIC_FEATURES,
    AbstentionModel,
    features,
    fit,
)
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Candidate, Matcher
from bot.knowledge.rerank import SEMANTIC_RANK_FEATURES, Ranker, fit_ranker
from bot.knowledge.text import normalize
from bot.store import Store, StoreError

#: The action a merge writes into a question's history (see ``Curator.merge_unanswered``).
_MERGED = re.compile(r"^merged unanswered question #(\d+) ")


class CalibrationError(Exception):
    """Labelled questions that cannot be read, or too few to fit a model."""


@dataclass(frozen=True)
class Example:
    """A question and what is known about it.

    ``right`` holds the acceptable question ids (empty: the knowledge base has no answer);
    ``wrong`` a question id known to be a wrong answer.
    """

    query: str
    right: tuple[str, ...] = ()
    wrong: str | None = None
    source: str = ""


def read_labelled(path: str | Path) -> list[Example]:
    """Labelled questions in the benchmark's JSON-lines format."""
    examples = []
    for number, raw in _json_lines(path):
        try:
            query = str(raw["query"])
            expected = raw.get("expected_ids")
            if expected is None:
                expected = [raw["expected_id"]] if raw.get("expected_id") else []
            if not isinstance(expected, list):
                raise TypeError("'expected_ids' must be a list")
            examples.append(Example(query, tuple(map(str, expected)), source=f"{path}:{number}"))
        except (KeyError, TypeError) as error:
            raise CalibrationError(f"{path}:{number}: not a labelled question: {error}") from error
    return examples


def read_feedback(path: str | Path) -> list[Example]:
    """A feedback log: ``{"query": ..., "question": ID, "right": true|false}`` per line."""
    examples = []
    for number, raw in _json_lines(path):
        query, question, right = raw.get("query"), raw.get("question"), raw.get("right")
        if not isinstance(query, str) or not isinstance(question, str):
            raise CalibrationError(f'{path}:{number}: needs "query" and "question" as strings')
        if not isinstance(right, bool):
            raise CalibrationError(f'{path}:{number}: "right" must be true or false')
        where = f"{path}:{number}"
        examples.append(
            Example(query, (question,), source=where)
            if right
            else Example(query, wrong=question, source=where)
        )
    return examples


def _json_lines(path: str | Path) -> Iterable[tuple[int, dict]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CalibrationError(f"{path}: cannot read: {error}") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as error:
            raise CalibrationError(f"{path}:{number}: not JSON: {error}") from error
        if not isinstance(raw, dict):
            raise CalibrationError(f"{path}:{number}: expected a JSON object")
        yield number, raw


async def read_store(store: Store) -> list[Example]:
    """What the bot learned on Discord: "did you mean" picks and merged questions."""
    examples = []
    async with store.read() as conn:
        picks = await conn.execute_fetchall(
            "SELECT id, question_id, text FROM proposed_phrasings WHERE status <> 'rejected'"
        )
        for proposal_id, question_id, text in picks:
            examples.append(Example(text, (question_id,), source=f"pick #{proposal_id}"))
        merges = await conn.execute_fetchall(
            "SELECT question_id, action FROM question_versions "
            "WHERE action LIKE 'merged unanswered question #%'"
        )
        for question_id, action in merges:
            found = _MERGED.match(action)
            if found is None:
                continue
            rows = list(
                await conn.execute_fetchall(
                    "SELECT text FROM unanswered WHERE id = ?", (int(found.group(1)),)
                )
            )
            if rows:
                examples.append(Example(rows[0][0], (question_id,), source=f"merge: {action[:40]}"))
    return examples


def labelled_rows(
    knowledge: KnowledgeBase,
    examples: Sequence[Example],
    names: Sequence[str] = FEATURES,
    ranker: Ranker | None = None,
    searched: Sequence[list[Candidate]] | None = None,
) -> tuple[list[list[float]], list[bool]]:
    """Feature rows and labels ("the top candidate is right") for the model, the candidates
    in ``ranker``'s order when given (``searched``: each example's candidates, if already
    searched with :func:`searched_candidates`)."""
    if searched is None:
        searched = searched_candidates(knowledge, examples)
    rows: list[list[float]] = []
    labels: list[bool] = []
    for example, found in zip(examples, searched, strict=True):
        ranked = ranker.rerank(found) if ranker is not None else found
        values = features(ranked, names, ranker)
        semantic = "cosine" in names
        if values is None or not (ranked[0].shares_content or semantic):
            continue  # the model is not asked about these: nothing to learn
        top = ranked[0].question_id
        if example.wrong is not None:
            if top != example.wrong:
                continue  # only that one is known to be wrong: the rest is unknown
            label = False
        else:
            label = top in example.right
        rows.append(values)
        labels.append(label)
    return rows, labels


def searched_candidates(
    knowledge: KnowledgeBase, examples: Sequence[Example]
) -> list[list[Candidate]]:
    """Each example's candidates, as many as a re-ranker orders, in the matcher's order."""
    matcher = knowledge.matcher
    return [_search_without(knowledge, matcher, example) for example in examples]


def _search_without(
    knowledge: KnowledgeBase, matcher: Matcher, example: Example
) -> list[Candidate]:
    """Search with the example's own wording removed from its question's phrasings."""
    key = normalize(example.query)
    owners = [*example.right, *([example.wrong] if example.wrong else [])]
    changed = []
    for question_id in owners:
        question = knowledge.get(question_id)
        if question is None:
            continue
        kept = tuple(p for p in question.alternate_phrasings if normalize(p) != key)
        if len(kept) != len(question.alternate_phrasings):
            changed.append(question)
            matcher.upsert(question.id, replace(question, alternate_phrasings=kept).phrasings)
    try:
        return matcher.search(example.query, k=max(5, matcher.tuning.rerank_pool))
    finally:
        for question in changed:
            matcher.upsert(question.id, question.phrasings)


def fit_knowledge_base(
    knowledge: KnowledgeBase,
    examples: Sequence[Example],
    *,
    l2: float = 1.0,
    name: str = "",
    names: Sequence[str] = FEATURES,
) -> AbstentionModel:
    """The abstention model for ``knowledge``, fitted on ``examples``; with the semantic
    tier's features, first a re-ranker (:mod:`bot.knowledge.rerank`) from the examples whose
    right question is known, when there are enough of them."""
    searched = searched_candidates(knowledge, examples)
    ranker = None
    if "cosine" in names:
        known = [
            (found, ex.right) for found, ex in zip(searched, examples, strict=True) if ex.right
        ]
        ranker = fit_ranker(
            [found for found, _ in known], [right for _, right in known], SEMANTIC_RANK_FEATURES
        )
    rows, labels = labelled_rows(knowledge, examples, names, ranker, searched)
    right = sum(labels)
    if right < 2 or len(labels) - right < 2:
        raise CalibrationError(
            f"need at least 2 questions answered right and 2 answered wrong or with no answer "
            f"to fit a model; the labelled questions give {right} and {len(labels) - right}"
        )
    model = fit(
        rows, labels, l2=l2, fitted_on=name or f"{len(examples)} labelled questions", names=names
    )
    return replace(model, ranker=ranker)


def _semantic_factory(settings):
    from bot.knowledge import semantic

    reason = semantic.unavailable()
    if reason is not None:
        raise CalibrationError(f"[matching] semantic is on, but {reason}")
    return semantic.index_factory(settings.matching.semantic_cache)


def replace_semantic(settings, on: bool):
    """``settings`` with the semantic tier switched on or off."""
    return replace(settings, matching=replace(settings.matching, semantic=on))


def run_calibrate(
    settings,
    *,
    labelled: Sequence[str] = (),
    feedback: Sequence[str] = (),
    database: bool = False,
    benchmark: tuple[str, str] | None = None,
    out_path: str | None = None,
    out: TextIO,
    err: TextIO,
) -> int:
    """``stampy calibrate``; the exit status."""
    from bot.evaluation import (
        BenchmarkError,
        fit_both_tiers,
        load_benchmark_kb,
        load_queries,
        save_models,
    )

    if benchmark is not None:
        if not out_path:
            print("stampy: --benchmark needs --out FILE", file=err)
            return 2
        try:
            make_semantic = None
            if settings.matching.semantic:
                factory = _semantic_factory(settings)
                make_semantic = lambda: Matcher(settings.matching, semantic=factory())  # noqa: E731
            models = fit_both_tiers(
                load_benchmark_kb(benchmark[0]),
                load_queries(benchmark[1]),
                lambda: Matcher(settings.matching),
                make_semantic,
            )
        except (BenchmarkError, CalibrationError) as error:
            print(f"stampy: {error}", file=err)
            return 2
        save_models(models, out_path)
        for track, model in models.items():
            tiers = " (both tiers)" if model.semantic else ""
            print(f"{track}: fitted on {model.examples} questions{tiers}", file=out)
        print(f"wrote {out_path}", file=out)
        return 0
    if not (labelled or feedback or database):
        print(
            "stampy: nothing to calibrate from: give --labelled FILE, --feedback FILE, "
            "--database or --benchmark KB QUERIES",
            file=err,
        )
        return 2
    try:
        examples: list[Example] = []
        for path in labelled:
            examples += read_labelled(path)
        for path in feedback:
            examples += read_feedback(path)
        if database:
            examples += _read_database(settings)
        knowledge, _ = load_knowledge(replace_semantic(settings, False))
        model = fit_knowledge_base(knowledge, examples)
        if settings.matching.semantic:
            _semantic_factory(settings)  # says why not, if the tier is missing
            with_tier, _ = load_knowledge(settings)
            semantic = fit_knowledge_base(with_tier, examples, names=SEMANTIC_FEATURES)
            model = replace(model, semantic=semantic)
    except (CalibrationError, StoreError) as error:
        print(f"stampy: {error}", file=err)
        return 2
    target = Path(out_path or Path(settings.knowledge.answers_dir) / MODEL_FILENAME)
    try:
        model.save(target)
    except OSError as error:
        print(f"stampy: cannot write {target}: {error}", file=err)
        return 2
    right = round(model.answerable_share * model.examples)
    print(
        f"fitted on {model.examples} of {len(examples)} labelled questions "
        f"({right} with the right question on top); wrote {target}",
        file=out,
    )
    return 0


def _read_database(settings) -> list[Example]:
    database = settings.database
    if not database.url and not os.path.exists(database.path):
        raise CalibrationError(f"no database at {database.path}")

    async def read() -> list[Example]:
        async with App.open(settings, database=Database.EXISTING, curate=False) as app:
            assert app.store is not None
            return await read_store(app.store)

    return asyncio.run(read())
