"""Property-based tests: hostile or random input never raises out of the core."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.knowledge.loader import parse_text
from bot.knowledge.matcher import Decision, Matcher
from bot.knowledge.text import normalize, tokenize

# Text that mixes what people (and attackers) type: letters of several scripts, digits,
# punctuation, markdown, mentions, zero-width and bidirectional marks, emoji, NUL bytes.
PIECES = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        list("*_~`|>#[]()@<>&!?.,'\"\\\n\t ")
        + ["\u200b", "\u200f", "\u202e", "\ufeff", "\x00", "🙂", "👍🏽", "é", "ß", "İ"]
        + ["@everyone", "@here", "<@123>", "<@&456>", "<#789>", "discord.gg/abc"]
        + ["interpretability", "neurons", "what is", "How can "]
    ),
)
HOSTILE = st.lists(PIECES, max_size=120).map("".join)

PHRASINGS = [
    "Where can I learn about interpretability?",
    "What is neural network modularity?",
    "How can we interpret what all the neurons mean?",
    "Couldn't we have a human approve every decision?",
    "Что такое интерпретируемость?",
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    built = Matcher()
    for number, phrasing in enumerate(PHRASINGS):
        built.upsert(f"q{number}", [phrasing])
    return built


@given(HOSTILE)
def test_normalize_is_idempotent_and_clean(text: str) -> None:
    normal = normalize(text)
    assert normalize(normal) == normal
    assert normal == normal.strip()
    assert "  " not in normal
    assert "\u200b" not in normal and "\x00" not in normal
    assert tokenize(text) == (normal.split() if normal else [])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(HOSTILE, st.integers(min_value=0, max_value=10))
def test_matcher_never_raises_and_scores_stay_in_range(matcher: Matcher, text: str, k: int) -> None:
    candidates = matcher.search(text, k=k)
    assert len(candidates) <= k
    assert all(0.0 <= c.score <= 1.0 + 1e-9 for c in candidates)
    result = matcher.match(text)
    assert result.decision in set(Decision)
    assert result.reason


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(HOSTILE, min_size=1, max_size=4))
def test_matcher_indexes_any_phrasing(matcher: Matcher, phrasings: list[str]) -> None:
    matcher.upsert("random", phrasings)
    for phrasing in phrasings:
        matcher.search(phrasing)
    matcher.remove("random")
    assert "random" not in matcher


@settings(max_examples=200)
@given(HOSTILE)
def test_loader_never_raises_on_any_text(text: str) -> None:
    questions, errors = parse_text(text, "random.yaml")
    assert not (questions and errors)
    for error in errors:
        assert error.path == "random.yaml"
        assert error.line >= 0
        assert str(error).startswith("random.yaml:")


YAML_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), HOSTILE
)
YAML_VALUES = st.recursive(
    YAML_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "questions",
                    "id",
                    "question",
                    "answers",
                    "text",
                    "tags",
                    "canonical",
                    "alternate_phrasings",
                    "author",
                    "source",
                    "topic",
                    "other",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(YAML_VALUES)
def test_loader_never_raises_on_any_structure(value: object) -> None:
    import yaml

    text = yaml.safe_dump({"questions": [value]} if not isinstance(value, dict) else value)
    questions, errors = parse_text(text, "structure.yaml")
    assert not (questions and errors)  # a file with an error contributes nothing
    assert all(str(error).startswith("structure.yaml:") for error in errors)
