"""Process start to first answer with a large knowledge base: full load against the snapshot.

A knowledge base of ``--size`` synthetic questions (built as in match_speed.py from the real
questions in the benchmark folder, written as YAML files of 400 questions, one canonical answer
each) is answered by ``python -m bot ask QUESTION`` in a fresh process, timed from the start of
the process to its exit with the answer printed. ``full`` removes the snapshot before each run
(every file parsed, validated and indexed; the run writes a new snapshot); ``snapshot`` keeps it
(nothing changed since). Wall time and the child's CPU time (user + system) are medians over
``--runs`` runs of each, interleaved. In-process, the full load is split into its parts:
reading and validating the YAML (``load_directory``) and building the index.

Run: python bench/startup.py [--size 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, median, table, write_section
from match_speed import build_kb, real_questions

from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Answer, Question
from bot.knowledge.text import normalize
from bot.knowledge.writer import dump_file

ROOT = Path(__file__).resolve().parent.parent
PER_FILE = 400
ANSWER = (
    "A synthetic answer for the start-up benchmark, about as long as a short real one. " * 4
).strip()


def write_kb(directory: Path, size: int) -> tuple[int, str]:
    """YAML files of ``size`` questions in ``directory``; the count and one question asked."""
    kb = build_kb(random.Random(5), real_questions(), size)
    seen: set[str] = set()
    questions = []
    for qid, phrasings in kb.items():
        kept = []
        for phrasing in phrasings:
            key = normalize(phrasing)
            if key and key not in seen:
                seen.add(key)
                kept.append(phrasing)
        if kept:
            questions.append(
                Question(
                    id=qid,
                    text=kept[0],
                    alternate_phrasings=tuple(kept[1:]),
                    tags=("synthetic",),
                    answers=(Answer(id=f"{qid}-answer", text=ANSWER, canonical=True),),
                )
            )
    directory.mkdir(parents=True)
    for start in range(0, len(questions), PER_FILE):
        name = f"topic-{start // PER_FILE:03d}.yaml"
        (directory / name).write_text(
            dump_file(f"Topic {start}", questions[start : start + PER_FILE])
        )
    return len(questions), questions[len(questions) // 2].text


def run_once(config: Path, question: str) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``stampy ask``, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "ask", question],
        capture_output=True,
        text=True,
        cwd=config.parent,
        # Byte code is cached as in an installed copy (pip compiles it at install): a
        # PYTHONDONTWRITEBYTECODE in the environment would time compiling the sources instead.
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("STAMPY_CONFIG", "DISCORD_TOKEN", "PYTHONDONTWRITEBYTECODE")
        },
        timeout=600,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"stampy ask failed ({done.returncode}):\n{done.stderr}")
    return wall, cpu, done.stdout


def parts(answers: Path) -> tuple[float, float]:
    """CPU seconds of the full load's parts, in this process: YAML and rules, then index."""
    started = time.process_time()
    result = load_directory(answers)
    loaded = time.process_time()
    matcher = Matcher()
    for question in result.questions:
        matcher.upsert(question.id, question.phrasings)
    return loaded - started, time.process_time() - loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="stampy-startup-") as tmp:
        work = Path(tmp)
        count, question = write_kb(work / "answers", args.size)
        size_mib = sum(p.stat().st_size for p in (work / "answers").iterdir()) / 2**20
        config = work / "stampy.toml"
        config.write_text('[knowledge]\nanswers_dir = "answers"\n[database]\npath = "bench.db"\n')
        snapshot = work / "bench.db.knowledge-snapshot"
        runs: dict[str, list[tuple[float, float]]] = {"full": [], "snapshot": []}
        outputs = set()
        run_once(config, question)  # warm the file cache; writes the snapshot
        for _ in range(args.runs):
            snapshot.unlink(missing_ok=True)
            wall, cpu, out = run_once(config, question)
            runs["full"].append((wall, cpu))
            outputs.add(out)
            assert snapshot.exists()
            wall, cpu, out = run_once(config, question)
            runs["snapshot"].append((wall, cpu))
            outputs.add(out)
        snapshot_mib = snapshot.stat().st_size / 2**20
        yaml_s, index_s = parts(work / "answers")
    load_after = os.getloadavg()[0]
    if len(outputs) != 1:
        raise SystemExit("the answers differ between a full load and the snapshot")
    full_wall = median([w for w, _ in runs["full"]])
    rows = []
    for kind, label in (("full", "full load (no snapshot)"), ("snapshot", "unchanged snapshot")):
        wall = median([w for w, _ in runs[kind]])
        cpu = median([c for _, c in runs[kind]])
        rows.append(
            [
                label,
                f"{count:,}",
                str(args.runs),
                f"{wall:.2f}",
                f"{cpu:.2f}",
                f"{full_wall / wall:.1f}x",
            ]
        )
    header = ["start", "questions", "runs", "wall s (median)", "CPU s (median)", "speed-up"]
    body = "\n".join(
        [
            "## Start-up: process start to first answer",
            "",
            f"Machine: {machine()}",
            f"Command: `python bench/startup.py --size {args.size} --runs {args.runs}`",
            "",
            table(header, rows),
            "",
            f"`python -m bot ask QUESTION` in a fresh process, with {count:,} synthetic "
            f"questions in {size_mib:.1f} MiB of YAML ({PER_FILE} questions a file, one answer "
            "each); timed from process start to exit with the answer printed, the same answer "
            "either way. `full` deletes the snapshot first (parse, validate, index; then write "
            f"the {snapshot_mib:.1f} MiB snapshot), `unchanged snapshot` reads it. The full "
            f"load's parts, CPU in one process: YAML and rules {yaml_s:.2f} s, index "
            f"{index_s:.2f} s. 1-minute load average {load_before:.2f} at the start, "
            f"{load_after:.2f} at the end (a shared machine: wall time includes waiting for a "
            "core; CPU time does not).",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("startup", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
