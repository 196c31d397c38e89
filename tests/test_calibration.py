"""Honest figures and the fitted abstention: out-of-fold evaluation, model files, calibration.

The benchmark here is made up in code (the real one is only for bench/): two tracks of
questions about made-up things, rephrased questions that have an answer, and questions about
things the knowledge base does not hold.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from bot.calibration import Example, labelled_rows, read_feedback, read_store
from bot.cli import main
from bot.curation import Curator, Moderator
from bot.evaluation import Benchmark, Prediction, load_benchmark_kb, load_queries, score
from bot.knowledge.abstain import AbstentionModel, ModelError, default_model, fit
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory
from bot.knowledge.matcher import Decision, Matcher, MatchResult
from bot.knowledge.model import Question
from bot.store import ProposedPhrasings, Store, UnansweredQuestions

ROOT = Path(__file__).resolve().parent.parent

THINGS = (
    "kettle toaster lantern compass violin saddle anchor kayak hammock telescope "
    "bicycle umbrella backpack harmonica trumpet chessboard microscope parachute "
    "snowboard typewriter accordion wheelbarrow aquarium treadmill"
).split()
UNKNOWN = (
    "volcano glacier pyramid cathedral lighthouse windmill canyon meadow orchard "
    "vineyard harbour fortress monastery savanna tundra lagoon"
).split()
ASKS = [
    ("How do I clean a {t}?", ["cleaning my {t}", "best way to wash the {t}"]),
    ("Where can I buy a {t}?", ["shop that sells a {t}", "purchase {t} online"]),
]
REPHRASE = [
    "how should i clean my {t} properly",
    "what's the way to wash a {t}",
    "where do people buy {t}s",
    "any store selling a {t}",
]
NULLS = ["how do I clean a {u}", "where can I buy a {u}", "{u} history", "is a {u} dangerous"]


def write_benchmark(directory: Path, seed: int = 7) -> tuple[Path, Path]:
    """A two-track benchmark (KB YAML, queries JSONL) in ``directory``."""
    rng = random.Random(seed)
    entries, lines = [], []
    for track, things in (("home", THINGS[:12]), ("music", THINGS[12:])):
        for n, thing in enumerate(things):
            for k, (question, alternates) in enumerate(ASKS):
                entries.append(
                    {
                        "id": f"{track}:{n}-{k}",
                        "track": track,
                        "question": question.format(t=thing),
                        "alternate_phrasings": [a.format(t=thing) for a in alternates],
                    }
                )
            for k, text in enumerate(REPHRASE):
                lines.append(
                    {
                        "query": text.format(t=thing),
                        "track": track,
                        "expected_ids": [f"{track}:{n}-{k // 2}"],
                    }
                )
        for word in rng.sample(UNKNOWN, 8):
            lines.append(
                {"query": rng.choice(NULLS).format(u=word), "track": track, "expected_ids": []}
            )
    kb = directory / "kb.yaml"
    kb.write_text(json.dumps({"entries": entries}), encoding="utf-8")  # JSON is YAML
    queries = directory / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return kb, queries


@pytest.fixture
def benchmark_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_benchmark(tmp_path)


@pytest.fixture
def bench(benchmark_files: tuple[Path, Path]) -> Benchmark:
    kb, queries = benchmark_files
    return Benchmark(load_benchmark_kb(kb), load_queries(queries), Matcher)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- figures


def test_folds_split_every_track_and_kind_evenly(bench: Benchmark) -> None:
    fold = bench.folds(5, seed=3)
    assert fold == bench.folds(5, seed=3)  # the same split every run
    for track in bench.tracks:
        for answerable in (True, False):
            members = [
                f
                for f, s in zip(fold, bench.searched, strict=True)
                if s.query.track == track and bool(s.query.expected_ids) == answerable
            ]
            counts = [members.count(k) for k in range(5)]
            assert max(counts) - min(counts) <= 1, (track, answerable, counts)


def test_out_of_fold_never_decides_with_a_model_that_saw_the_query(
    bench: Benchmark, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted_on: list[set[int]] = []
    decided: list[set[int]] = []
    real_fit, real_predict = bench.fit, bench.predict

    def recording_fit(indices=None, l2=1.0):
        indices = list(indices)
        fitted_on.append(set(indices))
        return real_fit(indices, l2=l2)

    def recording_predict(models=None, indices=None):
        indices = list(indices)
        decided.append(set(indices))
        return real_predict(models, indices)

    monkeypatch.setattr(bench, "fit", recording_fit)
    monkeypatch.setattr(bench, "predict", recording_predict)
    predictions = bench.cross_validate(5)
    assert len(predictions) == len(bench.searched)
    assert [p.query for p in predictions] == [s.query for s in bench.searched]
    assert len(fitted_on) == len(decided) == 5
    for train, test in zip(fitted_on, decided, strict=True):
        assert not train & test
        assert len(train | test) == len(bench.searched)


def test_r3_counts_every_ranked_candidate_not_only_the_ones_offered(bench: Benchmark) -> None:
    item = next(s for s in bench.searched if len(s.ranked) >= 3 and s.query.expected_ids)
    right = item.ranked[2].question_id
    query = type(item.query)(item.query.query, item.query.track, (right,))
    # A "did you mean" that offered only the first choice: the right one ranked third.
    result = MatchResult(query.query, Decision.SUGGEST, item.ranked[:1], 0.1, "unsure")
    (row,) = score([Prediction(query, result, (), item.ranked)])
    assert row.r3 == 1.0
    assert row.acc1 == 0.0


def test_eval_folds_prints_out_of_fold_figures_with_intervals(
    benchmark_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    kb, queries = benchmark_files
    code, out, _ = run(capsys, "eval", str(kb), str(queries), "--folds", "4")
    assert code == 0
    assert "net 95% interval" in out
    assert "out of fold" in out
    assert "| home | 48 | 8 |" in out and "| music | 48 | 8 |" in out
    for line in out.splitlines()[2:4]:
        low, high = (float(v) for v in line.split("|")[-2].split(" to "))
        net = float(line.split("|")[-3])
        assert low <= net <= high


def test_eval_scores_only_the_tracks_asked_for(
    benchmark_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    kb, queries = benchmark_files
    code, out, _ = run(capsys, "eval", str(kb), str(queries), "--folds", "4", "--track", "music")
    assert code == 0
    assert "| music | 48 | 8 |" in out and "| home |" not in out
    code, out, err = run(capsys, "eval", str(kb), str(queries), "--track", "jazz")
    assert code == 2 and "no track 'jazz'" in err and "home, music" in err
    assert "Traceback" not in err and not out


def test_calibrated_file_scores_another_split_exactly_as_fitted(
    tmp_path: Path, benchmark_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    kb, queries = benchmark_files
    model_path = tmp_path / "models.json"
    code, out, _ = run(
        capsys, "calibrate", "--benchmark", str(kb), str(queries), "--out", str(model_path)
    )
    assert code == 0 and "wrote" in out
    saved = json.loads(model_path.read_text())
    assert set(saved["tracks"]) == {"home", "music"}
    # Another split of the same tracks, scored with the file and nothing fitted on it.
    (tmp_path / "other").mkdir()
    _, other_queries = write_benchmark(tmp_path / "other", seed=99)
    code, out, _ = run(capsys, "eval", str(kb), str(other_queries), "--model", str(model_path))
    assert code == 0
    bench = Benchmark(load_benchmark_kb(kb), load_queries(other_queries), Matcher)
    models = {
        track: AbstentionModel.from_json(data, track) for track, data in saved["tracks"].items()
    }
    expected = score(bench.predict(models))
    for row in expected:
        assert f"| {row.track} |" in out
        assert f"{row.net:.3f}" in out.split(f"| {row.track} |")[1].splitlines()[0]


def test_eval_model_file_errors_are_clear(
    tmp_path: Path, benchmark_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    kb, queries = benchmark_files
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"format": "something else"}', encoding="utf-8")
    code, _, err = run(capsys, "eval", str(kb), str(queries), "--model", str(garbage))
    assert code == 2 and "not a Stampy matching model" in err and "Traceback" not in err
    one_track = tmp_path / "one.json"
    one_track.write_text(
        json.dumps(
            {"format": "stampy-abstention-tracks/1", "tracks": {"home": default_model().to_json()}}
        ),
        encoding="utf-8",
    )
    code, _, err = run(capsys, "eval", str(kb), str(queries), "--model", str(one_track))
    assert code == 2 and "no model for track(s) music" in err
    code, _, err = run(
        capsys, "eval", str(kb), str(queries), "--model", str(one_track), "--folds", "5"
    )
    assert code == 2 and "leave out --model" in err


# --------------------------------------------------------------------------- the model


def test_model_file_round_trips_and_bad_files_are_named(tmp_path: Path) -> None:
    model = default_model()
    path = tmp_path / "m.json"
    model.save(path)
    assert AbstentionModel.load(path) == model
    data = json.loads(path.read_text())
    del data["features"]["margin"]
    path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="missing: margin"):
        AbstentionModel.load(path)
    path.write_text("{not json")
    with pytest.raises(ModelError, match="cannot read"):
        AbstentionModel.load(path)


def test_a_lower_answerable_share_makes_the_bot_quieter() -> None:
    matcher = Matcher()
    matcher.upsert("kettle", ["How do I descale a kettle?"])
    matcher.upsert("toaster", ["Why does my toaster burn bread?"])
    ranked = matcher.search("descaling kettle with vinegar")
    model = matcher.model
    assert (
        model.probability(ranked, 0.05)
        < model.probability(ranked)
        < model.probability(ranked, 0.95)
    )


def test_fit_learns_which_side_is_right() -> None:
    rng = random.Random(1)
    rows, labels = [], []
    for _ in range(2000):
        x = rng.random()
        rows.append([x, rng.random()])
        labels.append(rng.random() < x)  # the first feature predicts, the second is noise
    model = fit(rows, labels, l2=1.0, names=("signal", "noise"))
    assert model.coefficients[0] > 1.0
    assert abs(model.coefficients[1]) < 0.3


# --------------------------------------------------------------------------- calibrate


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    target = tmp_path / "answers"
    shutil.copytree(ROOT / "answers", target)
    (target / "matching-model.json").unlink()
    return target


def config_for(tmp_path: Path, answers: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[knowledge]\nanswers_dir = "{answers}"\n[database]\npath = "{tmp_path / "s.db"}"\n',
        encoding="utf-8",
    )
    return path


FEEDBACK = [
    ("how can I start learning interpretability", "learn-interpretability", True),
    ("reading list for mech interp", "learn-interpretability", True),
    ("explain what interpretability is", "what-is-interpretability", True),
    ("why can't we just switch the AI off", "why-not-turn-it-off", True),
    ("what are induction heads in transformers", "what-are-induction-heads", True),
    ("what is AI alignment about", "what-is-ai-alignment", True),
    ("recommend a good pizza place", "learn-interpretability", False),
    ("is interpretability a kind of pizza", "what-is-interpretability", False),
    ("when will the bubble burst for AI stocks", "what-is-agi", False),
    ("stamp collecting tips for beginners", "stamp-of-approval", False),
]


def write_feedback(path: Path) -> Path:
    path.write_text(
        "\n".join(json.dumps({"query": q, "question": i, "right": r}) for q, i, r in FEEDBACK)
        + "\n",
        encoding="utf-8",
    )
    return path


def test_calibrate_from_a_feedback_log_writes_the_model_the_bot_then_uses(
    tmp_path: Path, answers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, answers)
    log = write_feedback(tmp_path / "feedback.jsonl")
    known = {q.id for q in load_directory(answers).questions}
    assert {i for _, i, _ in FEEDBACK} <= known
    code, out, err = run(capsys, "--config", str(config), "calibrate", "--feedback", str(log))
    assert code == 0, err
    written = answers / "matching-model.json"
    assert f"wrote {written}" in out
    model = AbstentionModel.load(written)
    assert model.examples >= 8  # a wrong answer is a lesson only when it is the top one
    assert "labelled questions" in model.fitted_on
    # The bot now decides with it: a labelled right one is answered, a wrong one is not.
    code, out, _ = run(capsys, "--config", str(config), "ask", "--json", FEEDBACK[0][0])
    reply = json.loads(out)
    assert reply["decision"] == "answer" and reply["question"]["id"] == FEEDBACK[0][1]
    code, out, _ = run(capsys, "--config", str(config), "ask", "--json", FEEDBACK[6][0])
    assert json.loads(out)["decision"] != "answer"


def test_feedback_that_is_not_feedback_is_refused_and_nothing_written(
    tmp_path: Path, answers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, answers)
    log = tmp_path / "feedback.jsonl"
    log.write_text('{"query": "hi", "question": "x", "right": "yes"}\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config), "calibrate", "--feedback", str(log))
    assert code == 2
    assert f"{log}:1" in err and "true or false" in err and "Traceback" not in err
    assert not (answers / "matching-model.json").exists()
    code, _, err = run(capsys, "--config", str(config), "calibrate")
    assert code == 2 and "nothing to calibrate from" in err
    assert read_feedback(write_feedback(tmp_path / "ok.jsonl"))[6].wrong == "learn-interpretability"


def test_a_reported_answer_teaches_only_when_it_is_the_top_candidate(answers: Path) -> None:
    knowledge = KnowledgeBase(Matcher(), load_directory(answers).questions)
    top = knowledge.matcher.search("where can I learn interpretability")[0].question_id
    rows, labels = labelled_rows(
        knowledge,
        [
            Example("where can I learn interpretability", wrong=top),
            Example("where can I learn interpretability", wrong="what-is-agi"),
        ],
    )
    assert labels == [False]


async def test_picks_and_merges_on_discord_are_right_examples(
    tmp_path: Path, answers: Path
) -> None:
    async with await Store.open(tmp_path / "s.db") as store:
        knowledge = KnowledgeBase(Matcher(), load_directory(answers).questions)
        curator = Curator(knowledge, store, answers)
        await curator.start()
        await ProposedPhrasings(store).propose(
            "learn-interpretability", "intro material on interp", proposer_id=5, channel_id=6
        )
        item = await UnansweredQuestions(store).record(
            "how would one start with interpretability research",
            asker_id=5,
            channel_id=6,
            guild_id=7,
        )
        await curator.merge_unanswered(
            Moderator("Mod", 1001, 42), item.id, "learn-interpretability"
        )
        examples = await read_store(store)
    assert {(e.query, e.right) for e in examples} == {
        ("intro material on interp", ("learn-interpretability",)),
        ("how would one start with interpretability research", ("learn-interpretability",)),
    }
    # The merged wording is now a phrasing of the question; calibration matches it as the bot
    # saw it before the merge, not as an exact hit.
    question = knowledge.get("learn-interpretability")
    assert isinstance(question, Question)
    assert "how would one start with interpretability research" in question.phrasings
    rows, labels = labelled_rows(knowledge, examples[1:])
    assert rows and rows[0][0] < 0.99  # the score feature: not a perfect match
