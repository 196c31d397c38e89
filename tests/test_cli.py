"""The terminal front end: ``stampy ask``, ``check``, ``eval`` and the console, on real files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.config import Settings
from bot.console import Console
from bot.knowledge.loader import load_directory
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
    assert "4 of 4 file(s) valid" in out
    assert "questions" in out and "phrasings" in out and "answers" in out and "tags" in out


def test_check_warns_about_unused_and_undeclared_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "check")
    assert code == 0 and "tag '" not in out  # every shipped tag is declared and used
    (tmp_path / "kb.yaml").write_text(
        "questions:\n  - id: ok\n    question: Is this fine?\n    tags: [fine, loose]\n"
        "tags:\n  - name: fine\n  - name: lonely\n    description: Nobody uses me.\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "check", str(tmp_path))
    assert code == 0  # warnings, not errors
    kb = tmp_path / "kb.yaml"
    assert f"warning: {kb}:7: tag 'lonely' is declared but no question uses it" in out
    assert f"warning: {kb}:2: tag 'loose' is used by 1 question (first 'ok')" in out
    assert "'fine'" not in out


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
    assert f"{len(load_directory(ANSWERS).questions)} questions" in out


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


# --------------------------------------------------------------------------- the first hour


def _kb(folder: Path) -> Path:
    """A one-question knowledge base in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.yaml").write_text(
        "questions:\n  - id: tea\n    question: How do I brew green tea?\n    answers:\n"
        "      - id: tea-1\n        canonical: true\n        text: Use water at 80 degrees.\n",
        encoding="utf-8",
    )
    return folder


@pytest.mark.parametrize("argv", [["ask", "what is AGI?"], ["console"], ["run"], []])
def test_no_knowledge_base_stops_every_command_that_needs_one(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run from another folder, nothing is answered from an empty knowledge base: one line
    says where it looked and how to point it elsewhere, exit 2."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("what is AGI?\n"))
    if argv == ["run"]:
        monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
        monkeypatch.setattr("bot.discord.run.serve", _never_serve)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"no knowledge base: {tmp_path / 'answers'} does not exist" in err
    assert "--config" in err


def _never_serve(*args: object) -> None:
    raise AssertionError("the bot must not go live without a knowledge base")


def test_empty_or_broken_knowledge_base_stops_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "README.md").write_text("not a topic\n", encoding="utf-8")
    code, out, err = run(capsys, "ask", "what is AGI?")
    assert (code, out) == (2, "")
    assert "holds no .yaml files" in err
    (tmp_path / "answers" / "a.yaml").write_text("questions: [\n", encoding="utf-8")
    code, out, err = run(capsys, "ask", "what is AGI?")
    assert (code, out) == (2, "")
    assert "a.yaml:2: invalid YAML" in err
    assert "no question in" in err and "1 of 1 file(s) with errors" in err


def test_relative_answers_dir_is_taken_from_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _kb(tmp_path / "deploy" / "kb")
    config = tmp_path / "deploy" / "stampy.toml"
    config.write_text('[knowledge]\nanswers_dir = "kb"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "--config", str(config), "ask", "how to brew green tea")
    assert code == 0
    assert "Use water at 80 degrees." in out
    # A wrong one says which setting in which file to fix.
    config.write_text('[knowledge]\nanswers_dir = "nope"\n', encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config), "ask", "tea")
    assert code == 2
    assert str(tmp_path / "deploy" / "nope") in err and f"answers_dir in {config}" in err


@pytest.mark.parametrize("command", ["ask", "check", "console", "export", "import", "stamps"])
def test_config_is_accepted_after_the_command_and_shown_in_its_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "--config PATH" in capsys.readouterr().out


def test_config_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = _kb(tmp_path / "kb")
    config = tmp_path / "c.toml"
    config.write_text(f"[knowledge]\nanswers_dir = {str(kb)!r}\n", encoding="utf-8")
    code, out, _ = run(capsys, "ask", "how to brew green tea", "--config", str(config))
    assert code == 0 and "Use water at 80 degrees." in out
    code, out, _ = run(capsys, "check", "--config", str(config))
    assert code == 0 and "1 of 1 file(s) valid" in out
    # Given twice, the one after the command wins.
    code, out, _ = run(
        capsys, "--config", "/nonexistent.toml", "ask", "brew green tea", "--config", str(config)
    )
    assert code == 0 and "Use water at 80 degrees." in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"stampy {version('stampy')}\n"


def _closed_pipe_run(argv: list[str], stdin: str = "") -> subprocess.CompletedProcess[bytes]:
    """Run ``stampy ARGV`` with its output going to a pipe nobody reads any more (as
    ``stampy ... | head -1`` once head has left)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "bot", *argv],
            cwd=ROOT,
            input=stdin.encode(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [(["ask", "--json", "what is AI alignment?"], ""), (["console"], ":quit\n"), (["check"], "")],
)
def test_output_closed_early_is_not_a_traceback(argv: list[str], stdin: str) -> None:
    done = _closed_pipe_run(argv, stdin)
    assert done.stderr.decode() == ""
    assert done.returncode == 141


def test_eval_with_an_unwritable_predictions_file_stops_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "kb.yaml"
    kb.write_text("entries:\n  - {id: 'a:1', track: a, question: Reset my password?}\n")
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"query": "reset password", "track": "a", "expected_ids": ["a:1"]}\n')
    for target in (tmp_path / "missing" / "p.jsonl", tmp_path):
        code, out, err = run(capsys, "eval", str(kb), str(queries), "--predictions", str(target))
        assert code == 2
        assert out == ""  # no table: nothing was computed
        assert err.startswith(f"stampy: cannot write the predictions to {target}: ")
        assert err.count("\n") == 1
    assert not (tmp_path / "missing").exists()


def test_export_and_import_agree_with_stamps_on_a_damaged_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "stampy.db"
    database.write_bytes(b"this is not a database, it was overwritten" * 100)
    config = tmp_path / "c.toml"
    config.write_text(
        f"[knowledge]\nanswers_dir = {str(ANSWERS)!r}\n[database]\npath = {str(database)!r}\n"
    )
    codes = {}
    for argv in (["stamps"], ["export", str(tmp_path / "out")], ["import", str(ANSWERS)]):
        codes[argv[0]], _, err = run(capsys, "--config", str(config), *argv)
        assert "not a SQLite database" in err and "Traceback" not in err
    assert codes == {"stamps": 2, "export": 2, "import": 2}


def test_check_of_a_missing_or_empty_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "check", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"stampy: {tmp_path} holds no .yaml files: nothing to check\n"
    code, out, err = run(capsys, "check", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert err == f"stampy: {tmp_path / 'nope'} does not exist\n"  # not "nope:0: ..."


def test_check_help_names_the_default_folder(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "answers_dir" in out and "default: config" not in out


def test_console_help_lists_the_colon_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["console", "--help"])
    out = capsys.readouterr().out
    for command in (":why", ":alts", ":show ID", ":stats", ":quit"):
        assert command in out


@pytest.mark.parametrize("top", ["0", "-3", "ten"])
def test_stamps_top_must_be_a_positive_number(top: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["stamps", "--top", top])
    assert info.value.code == 2
    assert "argument --top:" in capsys.readouterr().err


def test_ask_json_says_whether_a_known_question_is_answered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "ask", "--json", "What is polysemanticity?")
    data = json.loads(out)
    assert data["decision"] == "answer" and data["answers"] == []
    assert data["answered"] is False
    _, out, _ = run(capsys, "ask", "--json", "what is neural network modularity")
    assert json.loads(out)["answered"] is True


def test_console_picks_a_did_you_mean_choice_by_number() -> None:
    out = _console(["human approval", "1", "9", ":show", "2+2"])
    assert "Did you mean:" in out
    choice = next(line for line in out.splitlines() if line.startswith("  1. "))
    first = choice.removeprefix("  1. ").rsplit("  [", 1)[0]  # "  1. Text  [id]"
    after = out.split(choice, 1)[1]
    assert f"\n{first}" in after  # the chosen question's answer, not a new question "1"
    assert "[canonical answer" in after
    assert "Pick a number from 1 to" in out
    assert "Usage: :show ID" in out
    assert "There is no question with the id ''" not in out


def test_console_has_line_editing_and_history() -> None:
    """In a terminal, the Up arrow brings back the last line (readline), rather than
    typing ``^[[A``."""
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=ROOT,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(secondary)
    try:
        seen = _read_until(primary, b"stampy> ")
        os.write(primary, b"what is AI alignment\r")
        seen += _read_until(primary, b"stampy> ")
        os.write(primary, b"\x1b[A\r")  # Up, Enter: the same question again
        seen += _read_until(primary, b"stampy> ")
        os.write(primary, b"\x04")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    text = seen.decode("utf-8", "replace")
    assert "^[[A" not in text
    assert text.count("AI alignment is the problem") == 2 or text.count("[canonical answer") == 2


def _read_until(fd: int, marker: bytes, timeout: float = 60.0) -> bytes:
    import select
    import time

    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_ctrl_c_is_a_status_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("bot.service.Service.ask", interrupted)
    code, _, err = run(capsys, "ask", "what is AGI?")
    assert code == 130
    assert "Traceback" not in err
