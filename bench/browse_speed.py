"""What browsing costs per reply and per command, at 1k, 10k and 100k questions.

Every answer the bot sends offers "Related" buttons, so ``Service.related`` runs once per
answer, beside ``Service.ask``; ``/tag`` builds a tag page and ``/ask``'s autocomplete ranks
questions on every keystroke. The knowledge base is synthetic (no data needed): questions of
six words from a 5,000-word vocabulary, two or three tags each out of 200 drawn with a
Zipf-like skew (a few tags are on a large share of the questions, as "alignment" is), two
thirds of them answered. Rows, each the median of ``--samples`` questions (ms):

- ``related, scan``: the nearest questions found by reading every question (the first
  version; re-implemented here as the reference, measured in the same run);
- ``related, tag index``: :func:`bot.browse.related` (questions sharing a tag read from the
  knowledge base's tag index);
- ``related, kept``: :meth:`Service.related` asked again (kept until the knowledge base
  changes);
- ``ask``: :meth:`Service.ask` on the question's own text, for scale;
- ``tag page``: :meth:`Service.tag_page` of the question's first tag;
- ``autocomplete``: :meth:`Service.question_choices` on the question's first two words.

Run: python bench/browse_speed.py [--sizes 1000 10000 100000] [--samples 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, median, table, write_section  # noqa: E402

from bot import browse  # noqa: E402
from bot.knowledge.base import KnowledgeBase  # noqa: E402
from bot.knowledge.matcher import Matcher  # noqa: E402
from bot.knowledge.model import Answer, Question, Tag  # noqa: E402
from bot.service import Service  # noqa: E402

TAGS = 200
VOCABULARY = 5000


def knowledge(size: int, seed: int = 1) -> KnowledgeBase:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = sorted(
        {"".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(VOCABULARY)}
    )
    weights = [1 / (rank + 1) for rank in range(TAGS)]
    names = [f"topic-{n}" for n in range(TAGS)]
    questions = []
    for number in range(size):
        tags: set[str] = set()
        while len(tags) < rng.randint(2, 3):
            tags.add(rng.choices(names, weights)[0])
        answers = (Answer(id=f"a{number}", text="An answer."),) if number % 3 else ()
        text = " ".join(rng.sample(vocabulary, 6)).capitalize() + "?"
        questions.append(Question(f"q{number}", text, tags=tuple(sorted(tags)), answers=answers))
    return KnowledgeBase(Matcher(), questions, [Tag(name) for name in names])


def related_by_scan(kb: KnowledgeBase, question_id: str, limit: int = 3) -> tuple[Question, ...]:
    """The first version of related questions: every question read, for the tags shared, and
    every candidate of the question's text scored."""
    question = kb.get(question_id)
    assert question is not None
    tags = set(question.tags)
    found = kb.matcher.search(question.text, k=len(kb))
    scores = {c.question_id: c.score for c in found if c.score > 0}
    ranked = []
    for order, other in enumerate(kb):
        if other.id == question.id or not other.answers or kb.internal_only(other):
            continue
        shared = len(tags.intersection(other.tags))
        score = scores.get(other.id)
        if shared or score is not None:
            ranked.append((-shared, -(score or 0.0), order, other))
    ranked.sort(key=lambda item: item[:3])
    return tuple(item[3] for item in ranked[:limit])


def timed(run: Callable[[Question], object], questions: list[Question]) -> float:
    """The median time of ``run`` over ``questions``, in ms (after one untimed pass over a
    few of them, so that no row pays for warming the matcher up)."""
    for question in questions[:10]:
        run(question)
    times = []
    for question in questions:
        start = time.perf_counter()
        run(question)
        times.append((time.perf_counter() - start) * 1000)
    return median(times)


def measure(size: int, samples: int) -> dict[str, float]:
    """Every row's median at one knowledge-base size."""
    started = time.perf_counter()
    kb = knowledge(size)
    service = Service(kb)
    print(f"{size} questions built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    sample = random.Random(2).sample(list(kb), min(samples, size))
    for question in sample[:5]:  # the same answer both ways
        assert browse.related(kb, question.id) == related_by_scan(kb, question.id)
    row = {
        "related, scan": timed(lambda q: related_by_scan(kb, q.id), sample),
        "related, tag index": timed(lambda q: browse.related(kb, q.id), sample),
    }
    for question in sample:
        service.related(question.id)
    row["related, kept"] = timed(lambda q: service.related(q.id), sample)
    row["ask"] = timed(lambda q: service.ask(q.text), sample)
    row["tag page"] = timed(lambda q: service.tag_page(q.tags[0]), sample)
    row["autocomplete"] = timed(
        lambda q: service.question_choices(" ".join(q.text.split()[:2]), 25), sample
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    columns = {size: measure(size, args.samples) for size in args.sizes}

    names = list(next(iter(columns.values())))
    header = ["ms (median)", *(f"{size:,} questions" for size in columns)]
    rows: list[list[object]] = [
        [name, *(f"{columns[size][name]:.3f}" for size in columns)] for name in names
    ]
    rows.append(
        [
            "scan / tag index",
            *(
                f"{columns[s]['related, scan'] / columns[s]['related, tag index']:.1f}×"
                for s in columns
            ),
        ]
    )
    result = table(header, rows)
    print(result)
    body = (
        "## Browsing (related questions, tag pages, autocomplete)\n\n"
        f"{machine()}. `python bench/browse_speed.py --sizes {' '.join(map(str, args.sizes))} "
        f"--samples {args.samples}`: synthetic questions with skewed tags (see the script), "
        f"medians over {args.samples} questions, the scan re-implemented and measured in the "
        "same run.\n\n" + result
    )
    write_section("browse-speed", body)


if __name__ == "__main__":
    main()
