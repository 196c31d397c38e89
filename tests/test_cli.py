"""The terminal front end: ``stampy ask``, ``check``, ``eval`` and the console, on real files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.config import Settings
from bot.console import Console
from bot.knowledge.matcher import Decision

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "answers"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("STAMPY_CONFIG", raising=False)
    monkeypatch.chdir(ROOT)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_prints_the_seed_answer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "where can I learn about interpretability?")
    assert code == 0
    assert out.startswith("Where can I learn about interpretability?")
    assert "[canonical answer" in out
    assert "christophm.github.io/interpretable-ml-book" in out


def test_ask_survives_typos(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "wher can i lern about interpretabilty")
    assert code == 0
    assert out.startswith("Where can I learn about interpretability?")


def test_ask_unrelated_question_has_no_answer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "what", "is", "the", "capital", "of", "France?")
    assert code == 0
    assert "I don't know the answer to that yet" in out


def test_ask_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "--json", "what is neural network modularity")
    data = json.loads(out)
    assert code == 0
    assert data["decision"] == "answer"
    assert data["question"]["id"] == "neural-network-modularity"
    assert data["answers"][0]["canonical"] is True
    assert data["candidates"][0]["id"] == "neural-network-modularity"
    assert 0 < data["score"] <= 1


def test_ask_json_no_match(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "ask", "--json", "how do I bake sourdough bread")
    data = json.loads(out)
    assert data["decision"] == "none"
    assert data["question"] is None and data["answers"] == []


def test_canonical_answer_comes_first() -> None:
    service = App.offline(Settings()).service
    reply = service.ask("Where can I learn about interpretability?")
    assert reply.decision is Decision.ANSWER
    assert len(reply.answers) >= 2
    assert reply.answers[0].canonical
    assert not reply.answers[-1].canonical


def test_check_valid_directory(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert "3 of 3 file(s) valid" in out
    assert "questions" in out and "phrasings" in out and "answers" in out and "tags" in out


def test_check_reports_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.yaml").write_text(
        "questions:\n  - id: ok\n    question: Is this fine?\n", encoding="utf-8"
    )
    (tmp_path / "bad.yaml").write_text(
        "questions:\n  - id: Bad Id\n    question: Broken?\n", encoding="utf-8"
    )
    code, out, _ = run(capsys, "check", str(tmp_path))
    assert code == 1
    assert f"{tmp_path / 'bad.yaml'}:2:" in out
    assert "1 of 2 file(s) valid; 1 questions" in out


def test_config_error_is_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[matching]\nanswer_treshold = 0.5\n", encoding="utf-8")
    code, out, err = run(capsys, "--config", str(config), "ask", "hi")
    assert code == 2
    assert "unknown key 'matching.answer_treshold'" in err
    assert "Traceback" not in err


def test_config_selects_answers_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = tmp_path / "kb"
    answers.mkdir()
    (answers / "t.yaml").write_text(
        "questions:\n  - id: tea\n    question: How do I brew green tea?\n    answers:\n"
        "      - id: tea-1\n        canonical: true\n        text: Use water at 80 degrees.\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.toml"
    config.write_text(f'[knowledge]\nanswers_dir = "{answers}"\n', encoding="utf-8")
    code, out, _ = run(capsys, "--config", str(config), "ask", "how to brew green tea")
    assert code == 0
    assert "Use water at 80 degrees." in out


def test_broken_file_is_left_out_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.yaml").write_text(
        "questions:\n  - id: tea\n    question: How do I brew green tea?\n    answers:\n"
        "      - id: tea-1\n        text: Use water at 80 degrees.\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text("questions: [", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[knowledge]\nanswers_dir = "{tmp_path}"\n', encoding="utf-8")
    code, out, err = run(capsys, "--config", str(config), "ask", "how to brew green tea")
    assert code == 0
    assert "Use water at 80 degrees." in out
    assert "b.yaml:2: invalid YAML" in err and "left out 1 file" in err


def test_no_command_without_token_starts_console(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("what is AI alignment?\n"))
    code, out, _ = run(capsys)
    assert code == 0
    assert out.startswith("Stampy console:")
    assert "What is AI alignment?" in out


def test_run_without_token_says_how_to_set_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "run")
    assert code == 2
    assert "DISCORD_TOKEN" in err


def test_sigterm_while_loading_stops_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIGTERM before the bot connects (a large knowledge base still loading) ends the
    command with status 0 and no traceback, and leaves SIGTERM's handler as it was."""
    import os
    import signal
    import time

    import bot.cli

    def slow_load(settings: Settings) -> object:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # interrupted by the handler
        raise AssertionError("SIGTERM did not interrupt the loading")

    def never_serve(*args: object) -> None:
        raise AssertionError("serve() must not start after SIGTERM")

    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    monkeypatch.setattr(bot.cli, "_knowledge", slow_load)
    monkeypatch.setattr("bot.discord.run.serve", never_serve)
    before = signal.getsignal(signal.SIGTERM)
    code = main(["run"])
    assert code == 0
    assert signal.getsignal(signal.SIGTERM) == before
    assert "Traceback" not in capsys.readouterr().err


def _console(lines: list[str]) -> str:
    service = App.offline(Settings()).service
    output = io.StringIO()
    feed = iter(lines)

    def read(_prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    assert Console(service, output, read).run() == 0
    return output.getvalue()


def test_console_why_and_alternatives() -> None:
    out = _console(["how can we interpret what all the neurons mean", ":why", ":alts"])
    assert "How can we interpret what all the neurons mean?" in out
    assert "Matched 'How can we interpret what all the neurons mean?'" in out
    assert "Candidates for" in out
    assert "1. 1.00" in out


def test_console_suggests_when_unsure_and_shows_by_id() -> None:
    out = _console(["human approval", ":show neural-network-modularity", ":show nope"])
    assert "Did you mean:" in out
    assert "[neural-network-modularity]" in out
    assert "There is no question with the id 'nope'." in out


def test_console_commands_before_a_question_and_unknown_ones() -> None:
    out = _console([":why", ":frobnicate", ":stats", ":quit", "never read"])
    assert "Ask a question first." in out
    assert "Unknown command ':frobnicate'" in out
    assert "23 questions" in out


def test_eval_writes_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text(
        "entries:\n"
        "  - {id: 'a:1', track: a, question: How do I reset my password?}\n"
        "  - {id: 'a:2', track: a, question: How do I delete my account?,"
        " alternate_phrasings: [remove my account]}\n"
        "  - {id: 'a:3', track: a, question: Where is the billing page?}\n"
        "  - {id: 'a:4', track: a, question: Can I change my username?}\n"
        "  - {id: 'b:1', track: b, question: How do I reset my password?}\n",
        encoding="utf-8",
    )
    queries = tmp_path / "q.jsonl"
    lines = [
        {"query": "reset password", "track": "a", "expected_ids": ["a:1"]},
        {"query": "please remove my account", "track": "a", "expected_ids": ["a:2"]},
        {"query": "what is the weather", "track": "a", "expected_id": None},
        {"query": "how do I reset my password?", "track": "b", "expected_ids": ["b:1"]},
    ]
    queries.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    out_path = tmp_path / "pred.jsonl"
    code, out, _ = run(capsys, "eval", str(kb), str(queries), "--predictions", str(out_path))
    assert code == 0
    predictions = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [p["query"] for p in predictions] == [line["query"] for line in lines]
    assert all(len(p["candidates"]) >= 3 for p in predictions if p["track"] == "a")
    assert predictions[1]["answer"] == "a:2"
    assert predictions[2]["answer"] is None
    # Tracks never mix: track b only knows its own entry.
    assert {c["id"] for c in predictions[3]["candidates"]} == {"b:1"}
    assert "| a | 2 | 1 |" in out and "| b | 1 | 0 |" in out


def test_eval_bad_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "kb.yaml"
    bad.write_text("nothing: here\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", str(bad), str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert "entries" in err
