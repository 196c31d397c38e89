"""The YAML loader: values and origins, every kind of error with its line, and hostile files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.knowledge.loader import (
    LoadError,
    LoadResult,
    load_directory,
    load_file,
    parse_text,
    validate_question,
)
from bot.knowledge.model import Answer, Origin, Question

VALID = """\
topic: Interpretability
questions:
  - id: learn-interpretability
    question: "  Where can I learn about interpretability?  "
    alternate_phrasings:
      - What are good resources for learning interpretability?
    tags: [Interpretability, resources, INTERPRETABILITY]
    answers:
      - id: learn-interpretability-molnar
        canonical: true
        author: Jane Doe
        source: https://example.org/page
        text: |
          Christoph Molnar's book is a good start.

              indented code stays
      - id: learn-interpretability-other
        text: Another answer.
  - id: unanswered
    question: Why is the sky blue?
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(text: str, name: str = "t.yaml") -> list[LoadError]:
    questions, errors = parse_text(text, name)
    assert errors, "expected the text to be rejected"
    assert questions == [], "a file with errors must contribute no questions"
    assert [e.line for e in errors] == sorted(e.line for e in errors), "errors in line order"
    return errors


def lines_with(errors: list[LoadError], fragment: str) -> list[int]:
    """Lines of the errors whose message contains ``fragment``."""
    return [e.line for e in errors if fragment in e.message]


def question_yaml(**fields: str) -> str:
    """A one-question file; ``fields`` replace lines of the question (values are raw YAML)."""
    base = {"id": "q1", "question": "What is a question?"}
    base.update(fields)
    body = "".join(f"    {key}: {value}\n" for key, value in base.items())
    return "questions:\n  - " + body[4:]


def answer_yaml(**fields: str) -> str:
    """A one-question, one-answer file; the answer starts on line 5."""
    base = {"id": "a1", "text": "An answer."}
    base.update(fields)
    body = "".join(f"        {key}: {value}\n" for key, value in base.items())
    return "questions:\n  - id: q1\n    question: What?\n    answers:\n      - " + body[8:]


# Valid files ---------------------------------------------------------------------------------


def test_valid_file_loads_values_and_origins(tmp_path: Path) -> None:
    write(tmp_path, "interp.yaml", VALID)
    result = load_directory(tmp_path)

    assert result.ok and result.errors == ()
    path = str(tmp_path / "interp.yaml")
    assert result.files == (path,) and result.rejected_files == ()
    first, second = result.questions
    assert first.id == "learn-interpretability"
    assert first.text == "Where can I learn about interpretability?"  # stripped
    assert first.alternate_phrasings == ("What are good resources for learning interpretability?",)
    assert first.tags == ("interpretability", "resources")  # lowercased, de-duplicated
    assert first.origin == Origin(path, 3)
    molnar, other = first.answers
    assert molnar == Answer(
        id="learn-interpretability-molnar",
        text="Christoph Molnar's book is a good start.\n\n    indented code stays",
        canonical=True,
        author="Jane Doe",
        source="https://example.org/page",
    )
    assert molnar.origin == Origin(path, 9)
    assert other.canonical is False and other.author is None and other.source is None
    assert other.origin == Origin(path, 17)
    assert first.ranked_answers()[0] is molnar


def test_question_without_answers_loads() -> None:
    questions, errors = parse_text(question_yaml(), "t.yaml")
    assert errors == []
    assert questions == [Question(id="q1", text="What is a question?")]
    assert questions[0].origin == Origin("t.yaml", 2)
    questions, errors = parse_text(question_yaml(answers="[]", tags="[]"), "t.yaml")
    assert errors == [] and questions[0].answers == () and questions[0].tags == ()


def test_directory_reads_yaml_and_yml_sorted_and_skips_others(tmp_path: Path) -> None:
    write(tmp_path, "b.yml", question_yaml(id="from-b", question="B?"))
    write(tmp_path, "a.yaml", question_yaml(id="from-a", question="A?"))
    write(tmp_path, "notes.txt", "not: [yaml")
    write(tmp_path, ".hidden.yaml", "broken: [")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "c.yaml", question_yaml(id="from-c", question="C?"))

    result = load_directory(str(tmp_path))
    assert result.ok
    assert [q.id for q in result.questions] == ["from-a", "from-b"]
    assert result.files == (str(tmp_path / "a.yaml"), str(tmp_path / "b.yml"))


def test_load_file_and_error_str(tmp_path: Path) -> None:
    path = write(tmp_path, "one.yaml", question_yaml(tags="[ok, 'not ok']"))
    questions, errors = load_file(path)
    assert questions == []
    assert [(e.path, e.line) for e in errors] == [(str(path), 4)]
    assert str(errors[0]) == f"{path}:4: {errors[0].message}"
    questions, errors = load_file(write(tmp_path, "two.yaml", question_yaml()))
    assert errors == [] and questions[0].origin == Origin(str(tmp_path / "two.yaml"), 2)


def test_missing_directory() -> None:
    result = load_directory("/no/such/answers")
    assert not result.ok
    assert result.questions == () and result.files == ()
    (error,) = result.errors
    assert error.path == "/no/such/answers" and "does not exist" in error.message


# Errors with their lines ---------------------------------------------------------------------


def test_yaml_syntax_error_line() -> None:
    text = "questions:\n  - id: q1\n    question: [unclosed\n  - id: q2\n"
    (error,) = errors_of(text, "syntax.yaml")
    assert error.path == "syntax.yaml" and error.line == 3  # where the '[' is left open
    assert error.message.startswith("invalid YAML")


def test_bad_indentation_is_a_syntax_error() -> None:
    (error,) = errors_of("questions:\n  - id: q1\n   question: x\n")
    assert error.line == 3 and "invalid YAML" in error.message


def test_several_documents_are_refused() -> None:
    (error,) = errors_of("questions: []\n---\nquestions: []\n")
    assert error.line == 2 and "single document" in error.message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "empty"),
        ("[1, 2]\n", 1, "top level must be a mapping"),
        ("topic: x\n", 1, "missing the required key 'questions'"),
        ("questions: {id: q1}\n", 1, "'questions' must be a list"),
        ("questions:\n  - just a string\n", 2, "must be a mapping with 'id' and 'question'"),
    ],
)
def test_top_level_shape(text: str, line: int, fragment: str) -> None:
    errors = errors_of(text)
    assert lines_with(errors, fragment) == [line], errors


def test_missing_required_fields_point_at_the_mapping() -> None:
    text = (
        "questions:\n"
        "  - id: q1\n"  # 2: no 'question'
        "    tags: [a]\n"
        "    answers:\n"
        "      - id: a1\n"  # 5: no 'text'
        "        author: Me\n"
        "  - question: No id?\n"  # 7: no 'id'
    )
    errors = errors_of(text)
    assert [(e.line, e.message) for e in errors] == [
        (2, "a question is missing the required key 'question'"),
        (5, "an answer is missing the required key 'text'"),
        (7, "a question is missing the required key 'id'"),
    ]


def test_unknown_keys_are_named_with_the_allowed_ones() -> None:
    text = "topics: x\nquestions:\n  - id: q1\n    question: Q?\n    qestion: typo\n"
    text += "    answers:\n      - id: a1\n        text: T\n        canonicall: true\n"
    errors = errors_of(text)
    assert [e.line for e in errors] == [1, 5, 9]
    assert "unknown key 'topics'" in errors[0].message
    assert "allowed keys: topic, questions" in errors[0].message
    assert "'qestion'" in errors[1].message and "did you mean 'question'?" in errors[1].message
    assert "alternate_phrasings" in errors[1].message
    assert "'canonicall'" in errors[2].message and "author, source, text" in errors[2].message


def test_duplicate_keys_are_detected() -> None:
    text = question_yaml() + "    id: q2\n"
    (error,) = errors_of(text)
    assert error.line == 4
    assert "duplicate key 'id'" in error.message and "line 2" in error.message
    text = answer_yaml(text="One", author="Me") + "        text: Two\n"
    assert lines_with(errors_of(text), "duplicate key 'text'") == [8]


@pytest.mark.parametrize(
    ("fields", "line", "fragment"),
    [
        ({"question": "123"}, 3, "'question' must be a string, not '123', read as a number"),
        ({"question": "yes"}, 3, "read as a true/false value"),
        ({"question": "2024-01-01"}, 3, "read as a date"),
        ({"question": "~"}, 3, "'question' must be a string, not empty (null)"),
        ({"question": "[a, b]"}, 3, "'question' must be a string, not a list"),
        ({"id": "42"}, 2, "'id' must be a string"),
        ({"tags": "interpretability"}, 4, "'tags' must be a list"),
        ({"tags": "[12]"}, 4, "a tag must be a string, not '12', read as a number"),
        ({"alternate_phrasings": "[{a: b}]"}, 4, "an alternate phrasing must be a string"),
        ({"answers": "{id: a1}"}, 4, "'answers' must be a list"),
        ({"answers": "[text]"}, 4, "an answer must be a mapping"),
    ],
)
def test_wrong_types_in_a_question(fields: dict[str, str], line: int, fragment: str) -> None:
    errors = errors_of(question_yaml(**fields))
    assert lines_with(errors, fragment) == [line], errors


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"canonical": '"true"'}, "'canonical' must be true or false, not a string ('true')"),
        ({"canonical": "1"}, "'canonical' must be true or false, not a number ('1')"),
        ({"canonical": "~"}, "'canonical' must be true or false, not empty (null)"),
        ({"author": "~"}, "'author' must be a string, not empty (null)"),
        ({"author": ""}, "'author' must be a string, not empty (null)"),
        ({"source": "[https://x.org]"}, "'source' must be a string, not a list"),
        ({"text": "3.5"}, "'text' must be a string, not '3.5', read as a number"),
    ],
)
def test_wrong_types_in_an_answer(fields: dict[str, str], fragment: str) -> None:
    text = answer_yaml(**fields)
    line = 5 + ["id", "text", *fields].index(next(iter(fields)))
    assert lines_with(errors_of(text), fragment) == [line]


def test_yaml_booleans_are_accepted_for_canonical() -> None:
    questions, errors = parse_text(answer_yaml(canonical="yes"), "t.yaml")
    assert errors == [] and questions[0].answers[0].canonical is True
    questions, errors = parse_text(answer_yaml(canonical="False"), "t.yaml")
    assert errors == [] and questions[0].answers[0].canonical is False


def test_quoted_numbers_are_strings() -> None:
    questions, errors = parse_text(question_yaml(tags="['2024', !!str 42]"), "t.yaml")
    assert errors == [] and questions[0].tags == ("2024", "42")


@pytest.mark.parametrize(
    "bad_id",
    ["Learn", "learn_it", "-learn", "learn it", "a" * 65, "ünï", "''"],
)
def test_bad_question_ids(bad_id: str) -> None:
    errors = errors_of(question_yaml(id=bad_id))
    assert len(errors) == 1 and errors[0].line == 2
    assert errors[0].message.startswith("question id ")
    assert "lowercase letters" in errors[0].message
    shown = bad_id.strip("'")
    assert repr(shown)[:40] in errors[0].message


def test_bad_answer_id_and_longest_valid_id() -> None:
    errors = errors_of(answer_yaml(id="Answer_1"))
    assert [(e.line, e.message[:27]) for e in errors] == [(5, "answer id 'Answer_1' is not")]
    questions, errors = parse_text(question_yaml(id="a" * 64), "t.yaml")
    assert errors == [] and questions[0].id == "a" * 64


def test_duplicate_question_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", question_yaml(id="same", question="First?"))
    write(tmp_path, "b.yaml", "topic: B\n" + question_yaml(id="same", question="Second?"))
    result = load_directory(tmp_path)

    assert [q.text for q in result.questions] == ["First?"]
    assert result.rejected_files == (str(tmp_path / "b.yaml"),)
    (error,) = result.errors
    assert (error.path, error.line) == (str(tmp_path / "b.yaml"), 3)
    assert f"question id 'same' is already used at {tmp_path / 'a.yaml'}:2" == error.message


def test_duplicate_question_id_in_one_file() -> None:
    text = question_yaml(id="same", question="One?") + "  - id: same\n    question: Two?\n"
    (error,) = errors_of(text, "one.yaml")
    assert error.line == 4 and "already used at one.yaml:2" in error.message


def test_duplicate_answer_ids(tmp_path: Path) -> None:
    text = answer_yaml(id="ans") + "      - id: ans\n        text: Again.\n"
    (error,) = errors_of(text, "f.yaml")
    assert error.line == 7
    assert error.message == "answer id 'ans' is already used by question 'q1' at f.yaml:5"

    write(tmp_path, "1.yaml", answer_yaml(id="shared"))
    later = answer_yaml(id="shared").replace("q1", "q2").replace("What?", "Who?")
    write(tmp_path, "2.yaml", later)
    result = load_directory(tmp_path)
    assert [q.id for q in result.questions] == ["q1"]
    (error,) = result.errors
    assert (error.path, error.line) == (str(tmp_path / "2.yaml"), 5)
    assert f"by question 'q1' at {tmp_path / '1.yaml'}:5" in error.message


def test_same_phrasing_in_two_files_differing_in_case_and_punctuation(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", question_yaml(id="x", question="What is AI alignment?"))
    other = "questions:\n  - id: y\n    question: Another?\n"
    other += "    alternate_phrasings:\n      - first\n      - '  WHAT is ai -- ALIGNMENT!! '\n"
    write(tmp_path, "b.yaml", other)
    result = load_directory(tmp_path)

    assert [q.id for q in result.questions] == ["x"]
    (error,) = result.errors
    assert (error.path, error.line) == (str(tmp_path / "b.yaml"), 6)
    assert error.message.endswith(f"also used by question 'x' at {tmp_path / 'a.yaml'}:3")


def test_same_phrasing_twice_on_one_question_and_on_two_in_one_file() -> None:
    text = question_yaml(question="How?", alternate_phrasings="['Why?', how]")
    errors = errors_of(text)
    assert [e.line for e in errors] == [4]
    assert "repeats an earlier phrasing of this question (line 3)" in errors[0].message

    text = question_yaml(question="How?") + "  - id: q2\n    question: HOW!\n"
    (error,) = errors_of(text, "f.yaml")
    assert error.line == 5 and error.message.endswith("also used by question 'q1' at f.yaml:3")


def test_empty_and_blank_texts() -> None:
    assert lines_with(errors_of(answer_yaml(text="'   '")), "answer text is empty") == [6]
    assert lines_with(errors_of(answer_yaml(text="|\n\n")), "answer text is empty") == [6]
    assert lines_with(errors_of(question_yaml(question="''")), "question is empty") == [3]
    errors = errors_of(question_yaml(alternate_phrasings="['', '?!']"))
    assert lines_with(errors, "alternate phrasing is empty") == [4]
    assert lines_with(errors, "has no letters or digits") == [4]
    assert lines_with(errors_of(answer_yaml(author="' '")), "author is empty") == [7]


def test_multiline_question_is_refused() -> None:
    text = "questions:\n  - id: q1\n    question: |\n      Line one\n      Line two\n"
    (error,) = errors_of(text)
    assert error.line == 3 and "must be a single line" in error.message
    folded = "questions:\n  - id: q1\n    question: >\n      Folded onto\n      one line\n"
    questions, errors = parse_text(folded, "t.yaml")
    assert errors == [] and questions[0].text == "Folded onto one line"


def test_length_limits() -> None:
    assert parse_text(question_yaml(question="q" * 256), "t.yaml")[1] == []
    errors = errors_of(question_yaml(question="q" * 257))
    assert lines_with(errors, "question is too long (257 characters; at most 256)") == [3]
    errors = errors_of(question_yaml(alternate_phrasings=f"[{'p' * 300}]"))
    assert lines_with(errors, "alternate phrasing is too long (300") == [4]

    assert parse_text(answer_yaml(text="t" * 4000), "t.yaml")[1] == []
    errors = errors_of(answer_yaml(text="t" * 4001))
    assert lines_with(errors, "answer text is too long (4001 characters; at most 4000)") == [6]
    errors = errors_of(answer_yaml(author="a" * 101))
    assert lines_with(errors, "author is too long (101") == [7]
    errors = errors_of(answer_yaml(source="https://x.org/" + "p" * 490))
    assert lines_with(errors, "source is too long (504") == [7]


def test_long_values_are_truncated_in_messages() -> None:
    huge = ("Bad Tag " * 1250).strip()  # 9,999 characters
    (error,) = errors_of(question_yaml(tags=f"['{huge}']"))
    assert error.line == 4 and len(error.message) < 400
    assert "(9999 characters)" in error.message


@pytest.mark.parametrize("tag", ["ai safety", "**bold**", "#tag", "-x", "t" * 33, "snake_case"])
def test_bad_tags(tag: str) -> None:
    (error,) = errors_of(question_yaml(tags=f"[ok, {tag!r}]".replace('"', "'")))
    assert error.line == 4 and "hyphens" in error.message
    assert repr(tag)[:40] in error.message


def test_bad_tag_suggests_a_hyphenated_form() -> None:
    (error,) = errors_of(question_yaml(tags="['AI Safety']"))
    assert "'ai-safety'" in error.message


@pytest.mark.parametrize(
    "source", ["ftp://example.org", "example.org/page", "https://", "'https://x.org/a b'"]
)
def test_bad_source_links(source: str) -> None:
    (error,) = errors_of(answer_yaml(source=source))
    assert error.line == 7 and error.message.startswith("source ")


def test_good_source_link_is_kept() -> None:
    questions, errors = parse_text(answer_yaml(source="' http://x.org/p?q=1 '"), "t.yaml")
    assert errors == [] and questions[0].answers[0].source == "http://x.org/p?q=1"


def test_all_errors_are_reported_in_line_order() -> None:
    text = (
        "questions:\n"
        "  - id: Bad\n"  # 2
        "    question: Fine?\n"
        "    tags: [good, 'no good']\n"  # 4
        "    answers:\n"
        "      - id: a1\n"
        "        text: ''\n"  # 7
        "        source: nowhere\n"  # 8
        "  - id: q2\n"
        "    question: 7\n"  # 10
    )
    errors = errors_of(text)
    assert [e.line for e in errors] == [2, 4, 7, 8, 10]


# Hostile files -------------------------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
questions: [*i, *i]
"""


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    write(tmp_path, "bomb.yaml", BILLION_LAUGHS)
    write(tmp_path, "good.yaml", question_yaml())
    started = time.perf_counter()
    result = load_directory(tmp_path)
    assert time.perf_counter() - started < 2
    assert [q.id for q in result.questions] == ["q1"]
    assert result.rejected_files == (str(tmp_path / "bomb.yaml"),)
    anchors = [e for e in result.errors if "anchors and aliases are not supported" in e.message]
    assert {e.line for e in anchors} == set(range(1, 11))
    assert len(result.errors) < 200


def test_anchor_and_alias_inside_a_question() -> None:
    text = question_yaml(question="&q Same?", alternate_phrasings="[*q]")
    errors = errors_of(text)
    assert lines_with(errors, "YAML anchors and aliases are not supported") == [3, 4]
    assert "&q" in errors[0].message and "*q" in errors[1].message


def test_recursive_alias_does_not_hang() -> None:
    errors = errors_of("questions: &q [*q]\n")
    assert lines_with(errors, "anchors and aliases") == [1, 1]


def test_python_object_tag_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = question_yaml() + f"  - !!python/object/apply:os.system ['touch {marker}']\n"
    path = write(tmp_path, "evil.yaml", text)
    questions, errors = load_file(path)
    assert questions == [] and not marker.exists()
    (error,) = errors
    assert error.line == 4
    assert "'!!python/object/apply:os.system' is not supported" in error.message


def test_custom_and_nonstandard_tags_are_refused() -> None:
    errors = errors_of(question_yaml(question="!custom Hello?", tags="!!set {a: null}"))
    assert [(e.line, e.message) for e in errors] == [
        (3, "the YAML tag '!custom' is not supported"),
        (4, "the YAML tag '!!set' is not supported"),
    ]


def test_merge_keys_are_refused() -> None:
    errors = errors_of("questions:\n  - id: q1\n    <<: {question: 'Q?'}\n")
    assert lines_with(errors, "merge keys") == [3]


def test_deep_nesting_is_refused() -> None:
    errors = errors_of("questions: " + "[" * 100 + "]" * 100 + "\n")
    assert [e.line for e in errors] == [1]


def test_nul_byte(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_bytes(question_yaml().encode() + b"# \x00\n")
    questions, errors = load_file(path)
    assert questions == []
    assert [(e.path, e.line) for e in errors] == [(str(path), 1)]
    assert "NUL byte (line 4)" in errors[0].message
    assert "NUL byte" in errors_of("questions: []\n\x00")[0].message


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(question_yaml(question="Qu'est-ce que l'\xe9t\xe9 ?").encode("latin-1"))
    questions, errors = load_file(path)
    assert questions == []
    (error,) = errors
    assert (error.path, error.line) == (str(path), 1)
    assert "not valid UTF-8" in error.message and "0xe9 on line 3" in error.message


def test_utf8_with_bom_and_non_latin_text(tmp_path: Path) -> None:
    path = tmp_path / "ru.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + question_yaml(question="Что такое ИИ?").encode())
    questions, errors = load_file(path)
    assert errors == [] and questions[0].text == "Что такое ИИ?"


def test_control_character_is_a_yaml_error() -> None:
    (error,) = errors_of("questions:\n  - id: q1\n    question: bell\x07\n")
    assert error.line == 3 and "U+0007" in error.message


def test_file_larger_than_one_mib(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("questions: []\n" + "#" * (1024 * 1024) + "\n")
    questions, errors = load_file(path)
    assert questions == [] and [e.line for e in errors] == [1]
    assert "larger than" in errors[0].message


# Whole-file rejection --------------------------------------------------------------------------


def test_broken_file_is_rejected_whole_while_others_load(tmp_path: Path) -> None:
    good = question_yaml(id="good", question="Good?")
    broken = question_yaml(id="fine", question="Fine?")
    broken += "  - id: broken\n    question: Broken?\n    tags: ['has space']\n"
    write(tmp_path, "a-broken.yaml", broken)
    write(tmp_path, "b-good.yaml", good)
    result = load_directory(tmp_path)

    assert isinstance(result, LoadResult) and not result.ok
    assert [q.id for q in result.questions] == ["good"]  # not 'fine' from the broken file
    assert result.files == (str(tmp_path / "a-broken.yaml"), str(tmp_path / "b-good.yaml"))
    assert result.rejected_files == (str(tmp_path / "a-broken.yaml"),)
    assert [(e.path, e.line) for e in result.errors] == [(str(tmp_path / "a-broken.yaml"), 6)]


def test_rejected_file_does_not_claim_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", question_yaml(id="shared", question="Q?", tags="['bad tag']"))
    write(tmp_path, "b.yaml", question_yaml(id="shared", question="Q?"))
    result = load_directory(tmp_path)
    assert [q.id for q in result.questions] == ["shared"]
    assert result.rejected_files == (str(tmp_path / "a.yaml"),)
    assert result.questions[0].origin == Origin(str(tmp_path / "b.yaml"), 2)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_parse_text_never_raises(text: str) -> None:
    questions, errors = parse_text("questions:\n  - id: q1\n    question: " + text, "f.yaml")
    assert bool(questions) != bool(errors)
    assert all(e.path == "f.yaml" and e.line >= 1 for e in errors)


# Line breaks (including NEL and U+2028) would be folded by YAML itself, so not round-trip.
_ONE_LINE = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(_ONE_LINE, min_size=1, max_size=80), min_size=1, max_size=4),
    st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True), max_size=3),
)
def test_dumped_questions_round_trip_or_are_rejected(phrasings: list[str], tags: list[str]) -> None:
    data = {"questions": [{"id": "q", "question": phrasings[0], "tags": tags}]}
    data["questions"][0]["alternate_phrasings"] = phrasings[1:]
    questions, errors = parse_text(yaml.safe_dump(data, allow_unicode=True), "f.yaml")
    if errors:
        return
    (question,) = questions
    assert question.phrasings == tuple(p.strip() for p in phrasings)
    assert question.tags == tuple(dict.fromkeys(tags))


# validate_question ---------------------------------------------------------------------------


EXISTING = {
    "alignment": Question(
        id="alignment",
        text="What is AI alignment?",
        alternate_phrasings=("What does alignment mean?",),
        answers=(Answer(id="alignment-short", text="Making AI do what we want."),),
    )
}


def test_validate_question_accepts_a_good_question_and_its_own_edit() -> None:
    new = Question(id="off-switch", text="Can't we just turn it off?", tags=("corrigibility",))
    assert validate_question(new, EXISTING) == []
    edited = Question(id="alignment", text="What is AI alignment?", tags=("basics",))
    assert validate_question(edited, EXISTING) == []


def test_validate_question_catches_duplicate_phrasing() -> None:
    new = Question(id="other", text="Why not?", alternate_phrasings=("what does ALIGNMENT mean",))
    assert validate_question(new, EXISTING) == [
        "phrasing 'what does ALIGNMENT mean' is also used by question 'alignment'"
    ]
    twice = Question(id="other", text="Why not?", alternate_phrasings=("why not",))
    (problem,) = validate_question(twice, EXISTING)
    assert "repeats an earlier phrasing of this question" in problem


def test_validate_question_catches_bad_tags() -> None:
    new = Question(id="other", text="Why?", tags=("ai safety", "Caps", "dup", "dup"))
    problems = validate_question(new, EXISTING)
    assert len(problems) == 3
    assert "tag 'ai safety' is not valid" in problems[0] and "'ai-safety'" in problems[0]
    assert problems[1] == "tag 'Caps' must be lowercase"
    assert problems[2] == "tag 'dup' is listed twice"


def test_validate_question_field_rules_and_answer_ids() -> None:
    new = Question(
        id="Bad Id",
        text="x" * 300,
        answers=(
            Answer(id="alignment-short", text="Mine."),
            Answer(id="fine", text=" ", author="", source="www.example.org"),
        ),
    )
    problems = validate_question(new, EXISTING)
    assert problems[0].startswith("question id 'Bad Id' is not valid")
    assert "question is too long (300 characters; at most 256)" in problems
    assert "answer text is empty" in problems and "author is empty" in problems
    assert any(p.startswith("source 'www.example.org' must be a link") for p in problems)
    assert "answer id 'alignment-short' is already used by question 'alignment'" in problems
    assert not any(":" in p.split(" ")[0] for p in problems)  # no file:line prefixes


@pytest.mark.parametrize(
    ("tag", "hint", "spaces"),
    [
        ("'#training'", "(e.g. 'training')", False),
        ("'machine learning'", "'machine-learning'", True),
    ],
)
def test_tag_hint_mentions_spaces_only_when_there_are_some(
    tag: str, hint: str, spaces: bool
) -> None:
    (error,) = errors_of(question_yaml(tags=f"[{tag}]"))
    assert hint in error.message
    assert ("instead of spaces" in error.message) is spaces


def test_a_missing_directory_is_reported_without_a_line_number(tmp_path: Path) -> None:
    (error,) = load_directory(tmp_path / "nope").errors
    assert str(error) == f"{tmp_path / 'nope'}: the directory does not exist"


# The most common YAML mistakes: a hint, at the line of the mistake ---------------------------


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        (  # a colon inside a question
            "questions:\n  - id: q1\n    question: Stampy: what is it?\n",
            3,
            'put the value in quotes: question: "Stampy: what is it?"',
        ),
        (  # ... and inside an answer
            "questions:\n  - id: q1\n    question: Why?\n    answers:\n      - id: a1\n"
            "        text: See: the docs\n",
            6,
            'text: "See: the docs"',
        ),
        (  # a list item dedented to the question's level: YAML trips on the next line
            "questions:\n  - id: q1\n    question: What is it?\n    alternate_phrasings:\n"
            "      - what is that\n  - what is this\n    answers: []\n",
            6,
            "indented 2 spaces; with 6, as on line 5",
        ),
        (  # a list item dedented by two
            "questions:\n  - id: q1\n    question: What is it?\n    tags:\n      - a\n    - b\n",
            6,
            "indented 4 spaces; with 6, as on line 5",
        ),
        (  # a key indented one space too far
            "questions:\n  - id: q1\n    question: What is it?\n     tags: [a]\n",
            4,
            "indented 5 spaces; with 4, as on line 3",
        ),
        (  # a quote never closed: where it was opened, not the end of the file
            'questions:\n  - id: q1\n    question: "What is it?\n    tags: []\n  - id: q2\n'
            "    question: Who?\n",
            3,
            "the quote opened on this line is never closed",
        ),
        (  # a '#' starting a comment inside a flow list
            "questions:\n  - id: q1\n    question: What is C#?\n    tags: [#csharp]\n",
            4,
            "starts a comment",
        ),
        (  # a tab
            "questions:\n  - id: q1\n\tquestion: What is it?\n",
            3,
            "YAML indents with spaces only",
        ),
    ],
)
def test_common_yaml_mistakes_get_a_hint_at_their_line(text: str, line: int, hint: str) -> None:
    (error,) = errors_of(text)
    assert error.line == line
    assert error.message.startswith("invalid YAML: ")
    assert hint in error.message
    assert "the parser says: " in error.message  # its own words stay, for those who know them


def test_text_with_a_colon_read_as_a_mapping_gets_the_hint_too() -> None:
    text = question_yaml(alternate_phrasings="\n      - note: this is it")
    (error,) = errors_of(text)
    assert error.line == 5
    assert "must be a string, not a mapping; if it is text with ': ' in it" in error.message


def test_hints_do_not_guess_when_no_fix_is_found() -> None:
    (error,) = errors_of("questions:\n  - id: q1\n    question: ok\n  ]]]\n")
    assert error.message.startswith("invalid YAML: ")
    assert "indented" not in error.message and "quotes" not in error.message
