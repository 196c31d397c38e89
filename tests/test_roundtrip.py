"""The YAML round trip: export -> import -> export gives identical bytes, and what is written
loads back as the same questions and passes ``stampy check``."""

from __future__ import annotations

import difflib
import os
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.curation import Curator, Moderator, Refused
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import load_directory, parse_text, validate_question
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Answer, Question
from bot.knowledge.writer import dump_file, file_text
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]
MOD = Moderator("Mod", 1001, 42)
MULTILINE = """Two paragraphs, a list and code:

- first: with a colon
- "quoted" and 'single' and #hash

```python
print("hi")  # indented
```

Unicode: ½ — “curly” 日本語 🚀 and trailing spaces{spaces}
done.""".format(spaces="   ")


async def curator_on(answers: Path, database: Path) -> tuple[Curator, Store]:
    store = await Store.open(database)
    loaded = load_directory(answers)
    knowledge = KnowledgeBase(Matcher(), loaded.questions, loaded.tags)
    curator = Curator(knowledge, store, answers)
    await curator.start()
    return curator, store


def read(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    target = tmp_path / "answers"
    shutil.copytree(ROOT / "answers", target)
    return target


async def edit_on_discord(curator: Curator) -> None:
    """Edits of every kind: new questions (unicode, multi-line, no answers), changed and
    removed shipped ones."""
    await curator.add_question(
        MOD,
        "¿Qué es la alineación de la IA? 🤖",
        answer=MULTILINE,
        alternate_phrasings=["alineación IA", "yes"],  # "yes" must stay a string in YAML
        tags=["espanol", "basics"],
        canonical=True,
    )
    await curator.add_question(MOD, "Is there a question nobody answered: yet?")
    await curator.add_question(MOD, "123", answer="null", source="https://example.org/a%20b")
    await curator.add_alias(MOD, "what-is-agi", "AGI — what's that?")
    await curator.add_answer(
        MOD, "what-is-agi", "A second answer:\n\n  indented line", author="Jane"
    )
    await curator.remove(MOD, "instrumental-convergence")
    await curator.remove(MOD, "what-is-interpretability", "what-is-interpretability-short")


async def test_export_import_export_is_byte_identical(answers: Path, tmp_path: Path):
    first, store = await curator_on(answers, tmp_path / "a.db")
    await edit_on_discord(first)
    one = tmp_path / "one"
    first.export(one)
    await store.close()

    # into a fresh database on the same shipped files
    second, store = await curator_on(answers, tmp_path / "b.db")
    report = await second.import_directory(one)
    assert report.ok and report.versions == 7  # 3 added, 2 changed, 1 removed, and the tag
    # 'instrumental-convergence', whose main question was the one removed
    assert list(second.knowledge) == list(first.knowledge)
    two = tmp_path / "two"
    second.export(two)
    assert read(two) == read(one)

    # and again into the same database: nothing to do, same bytes
    again = await second.import_directory(two)
    assert again.ok and again.versions == 0 and not again.diff
    three = tmp_path / "three"
    second.export(three)
    assert read(three) == read(one)
    await store.close()

    # what was written loads as the same questions and passes `stampy check`
    loaded = load_directory(one)
    assert loaded.ok and {q.id: q for q in loaded.questions} == {q.id: q for q in first.knowledge}
    assert main(["check", str(one)]) == 0
    discord = (one / "discord.yaml").read_text(encoding="utf-8")
    assert discord.startswith("topic: Added on Discord\nquestions:\n  - id: que-es-la-alineacion")
    assert "🤖" in discord and "answers: []" in discord and "- 'yes'" in discord


async def test_unchanged_knowledge_exports_in_the_shipped_layout(answers: Path, tmp_path: Path):
    curator, store = await curator_on(answers, tmp_path / "a.db")
    out = tmp_path / "out"
    curator.export(out)
    await store.close()
    assert sorted(read(out)) == sorted(p.name for p in answers.glob("*.yaml"))
    # Nothing was edited: every file is the shipped one, byte for byte, comments included.
    assert read(out) == {p.name: p.read_bytes() for p in sorted(answers.glob("*.yaml"))}


async def test_export_over_the_answers_leaves_unchanged_files_alone(answers: Path, tmp_path: Path):
    """`stampy export answers` with nothing edited changes nothing: not a byte, not a
    mode, not even a file's time."""
    for path in answers.glob("*.yaml"):
        path.chmod(0o644)
    before = {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
        for p in answers.glob("*.yaml")
    }
    curator, store = await curator_on(answers, tmp_path / "a.db")
    assert curator.export(answers) == []
    await store.close()
    after = {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
        for p in answers.glob("*.yaml")
    }
    assert after == before


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"
    ]


async def test_export_of_edits_changes_only_the_edited_lines(answers: Path, tmp_path: Path):
    """The diff of an export is the moderators' edits and nothing else: comments, quoting
    and layout of the rest of a changed file stay, and so does its mode."""
    path = answers / "interpretability.yaml"
    path.chmod(0o640)
    shipped = path.read_text(encoding="utf-8")
    assert "  # Unanswered canonical questions" in shipped  # a comment the export must keep
    curator, store = await curator_on(answers, tmp_path / "a.db")
    await curator.add_alias(MOD, "neural-network-modularity", "are networks modular")
    await curator.add_tag(MOD, "neural-network-modularity", "structure")
    await curator.remove(MOD, "what-is-interpretability", "what-is-interpretability-short")
    curator.export(answers)
    await store.close()

    exported = path.read_text(encoding="utf-8")
    changed = changed_lines(shipped, exported)
    removed = [line for line in changed if line.startswith("- ")]
    added = [line for line in changed if line.startswith("+ ")]
    tags = next(line for line in removed if line.startswith("-     tags: ["))
    assert added == [
        "+       - are networks modular",
        "+ " + tags[2:-1] + ", structure]",
    ]
    # the removed answer's lines and the old tags line, nothing else (no blank line either)
    answer = [line for line in removed if line != tags]
    assert answer[0] == "-       - id: what-is-interpretability-short"
    lines = shipped.splitlines()
    start = lines.index("      - id: what-is-interpretability-short")
    assert answer == ["- " + line for line in lines[start : start + 7]]
    assert lines[start + 7] == ""  # the blank line before the next question stays
    assert "  # Unanswered canonical questions" in exported
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    # untouched files are untouched
    assert (answers / "about-stampy.yaml").read_bytes() == (
        ROOT / "answers" / "about-stampy.yaml"
    ).read_bytes()
    loaded = load_directory(answers)
    assert loaded.ok and {q.id: q for q in loaded.questions} == {q.id: q for q in curator.knowledge}


async def test_a_new_file_gets_the_usual_permissions(answers: Path, tmp_path: Path):
    curator, store = await curator_on(answers, tmp_path / "a.db")
    await curator.add_question(MOD, "Is a new file readable by the web server?", answer="Yes.")
    curator.export(answers)
    await store.close()
    umask = os.umask(0o022)
    os.umask(umask)
    mode = stat.S_IMODE((answers / "discord.yaml").stat().st_mode)
    assert mode == 0o666 & ~umask  # not mkstemp's 0600


async def test_import_of_the_shipped_files_clears_the_overlay(answers: Path, tmp_path: Path):
    curator, store = await curator_on(answers, tmp_path / "a.db")
    shipped = {q.id: q for q in curator.knowledge}
    await edit_on_discord(curator)
    report = await curator.import_directory(answers)
    assert report.ok and {q.id: q for q in curator.knowledge} == shipped
    assert (await curator.history("what-is-agi"))[0].state == "shipped"
    await store.close()


async def test_import_of_a_broken_directory_writes_nothing(answers: Path, tmp_path: Path):
    curator, store = await curator_on(answers, tmp_path / "a.db")
    broken = tmp_path / "broken"
    shutil.copytree(answers, broken)
    path = broken / "about-stampy.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("id: what-is-stampy", "id: X Y"))
    before = list(curator.knowledge)
    report = await curator.import_directory(broken)
    assert not report.ok and report.errors[0].path.endswith("about-stampy.yaml")
    assert report.errors[0].line == 3 and report.versions == 0
    assert list(curator.knowledge) == before
    await store.close()


async def test_export_refuses_to_mix_with_other_yaml_files(answers: Path, tmp_path: Path):
    curator, store = await curator_on(answers, tmp_path / "a.db")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stray.yaml").write_text("questions: []\n")
    with pytest.raises(Refused, match=r"stray\.yaml"):
        curator.export(out)
    assert [p.name for p in out.iterdir()] == ["stray.yaml"]
    await store.close()


def test_cli_export_and_import(answers: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    config = tmp_path / "stampy.toml"
    config.write_text(
        f"[knowledge]\nanswers_dir = {str(answers)!r}\n"
        f"[database]\npath = {str(tmp_path / 'cli.db')!r}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["--config", str(config), "export", str(out)]) == 0
    assert main(["--config", str(config), "import", str(out)]) == 0
    assert "0 added, 0 changed, 0 removed" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["--config", str(config), "export", str(again)]) == 0
    assert read(again) == read(out)
    assert main(["--config", str(config), "import", str(tmp_path / "missing")]) == 2


_TEXT = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Co", "Cn"),
        exclude_characters="\x00\r\x85\u2028\u2029\ufeff",
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_TEXT,
    answer=st.lists(_TEXT, min_size=1, max_size=4).map("\n".join),
    author=st.one_of(st.none(), _TEXT),
)
def test_any_valid_question_survives_the_yaml_writer(text: str, answer: str, author: str | None):
    question = Question(
        id="q",
        text=text.strip(),
        answers=(
            Answer(
                id="q-1",
                text=answer.strip(),
                author=author.strip() if author else None,
            ),
        ),
    )
    if validate_question(question, {}):
        return  # not a question the bot would ever store
    loaded, errors = parse_text(dump_file("Topic", [question]), "x.yaml")
    assert not errors, errors
    assert loaded == [question]


_SHIPPED = (ROOT / "answers" / "interpretability.yaml").read_text(encoding="utf-8")
_SHIPPED_QUESTIONS = parse_text(_SHIPPED, "interpretability.yaml")[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keep=st.lists(
        st.booleans(), min_size=len(_SHIPPED_QUESTIONS), max_size=len(_SHIPPED_QUESTIONS)
    ),
    text=_TEXT,
    alias=_TEXT,
    answer=_TEXT,
)
def test_any_edit_of_a_file_reads_back_as_the_edited_questions(
    keep: list[bool], text: str, alias: str, answer: str
):
    """Whatever is changed (questions removed, a text, a phrasing, an answer), the edited
    file reads back as exactly the new questions."""
    questions = [q for q, kept in zip(_SHIPPED_QUESTIONS, keep, strict=True) if kept]
    if questions:
        first = questions[0]
        questions[0] = Question(
            id=first.id,
            text=text.strip() or first.text,
            alternate_phrasings=(*first.alternate_phrasings, alias.strip()),
            tags=first.tags,
            answers=(*first.answers, Answer(id=first.id + "-new", text=answer.strip() or "x")),
        )
        if validate_question(questions[0], {q.id: q for q in questions}):
            return  # not a question the bot would ever store
    written = file_text("Interpretability", questions, _SHIPPED)
    loaded, errors = parse_text(written, "x.yaml")
    assert not errors, errors
    assert loaded == questions


def _config(answers: Path, tmp_path: Path) -> Path:
    config = tmp_path / "stampy.toml"
    config.write_text(
        f"[knowledge]\nanswers_dir = {str(answers)!r}\n"
        f"[database]\npath = {str(tmp_path / 'cli.db')!r}\n",
        encoding="utf-8",
    )
    return config


def _served(config: Path, capsys: pytest.CaptureFixture) -> str:
    assert main(["--config", str(config), "ask", "what is AGI?"]) == 0
    return capsys.readouterr().out


def test_import_of_an_empty_folder_is_an_error_and_removes_nothing(
    answers: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    config = _config(answers, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not YAML\n")
    assert main(["--config", str(config), "import", str(empty)]) == 2
    assert "holds no .yaml files: nothing to import" in capsys.readouterr().err
    assert _served(config, capsys).startswith("What is AGI?")


def test_import_removes_questions_only_with_prune_and_shows_its_plan(
    answers: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    config = _config(answers, tmp_path)
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(answers / "about-stampy.yaml", part)
    shipped = load_directory(answers)
    others = len(shipped.questions) - len(load_directory(part).questions)
    # No --prune: the questions part/ does not hold are kept, and the plan says so.
    assert main(["--config", str(config), "import", str(part)]) == 0
    out = capsys.readouterr().out
    assert "0 added, 0 changed, 0 removed" in out
    assert f"kept {others} question(s)" in out and "agi-timelines" in out and "--prune" in out
    assert _served(config, capsys).startswith("What is AGI?")
    # --dry-run shows what --prune would remove and changes nothing.
    assert main(["--config", str(config), "import", str(part), "--prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"would import {part}: 0 added, 0 changed, {others} removed")
    assert "  removed: " in out and "dry run: nothing was changed" in out
    assert _served(config, capsys).startswith("What is AGI?")
    # --prune (or --yes) removes them.
    assert main(["--config", str(config), "import", str(part), "--yes"]) == 0
    assert f"{others} removed" in capsys.readouterr().out
    assert "I don't know" in _served(config, capsys)
    # and importing the full folder again brings them back, listed as added
    assert main(["--config", str(config), "import", str(answers), "--dry-run"]) == 0
    assert f"{others} added, 0 changed, 0 removed" in capsys.readouterr().out
    assert main(["--config", str(config), "import", str(answers)]) == 0
    # those questions and the tag records of answers/tags.yaml, which part/ did not hold
    assert f"{others + len(shipped.tags)} change(s) recorded" in capsys.readouterr().out
    assert _served(config, capsys).startswith("What is AGI?")
