"""Rendering for Discord: limits respected, and cuts never split a word or a link."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord.render import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    LABEL_LIMIT,
    TEXT,
    TITLE_LIMIT,
    answer_embed,
    embed_units,
    other_answers_embeds,
    shorten,
    stamps_text,
    suggestion_label,
    truncate,
    units,
    why_text,
)
from bot.knowledge.model import Answer, Question

LINK = re.compile(r"\[[^\[\]]*\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*\)")
NOTE = "…" + TEXT["truncated_note"]


def linky_text(chars: int, seed: int = 0) -> str:
    """Markdown with a link every few words and a paragraph now and then."""
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        n = len(words)
        if n % 5 == 4:
            words.append(f"[link number {n}](https://example.org/wiki/Thing_({n})?q={n})")
        elif n % 37 == 36:
            words.append("end.\n\n")
        else:
            words.append(rng.choice(["alignment", "stamp", "mesa", "optimizer", "a", "the"]))
    return " ".join(words)


def assert_clean_cut(original: str, result: str, note: str = NOTE) -> str:
    """``result`` is a start of ``original`` ending on a boundary, plus ``note``; returns it."""
    assert result.endswith(note)
    kept = result.removesuffix(note)
    assert kept and original.startswith(kept)
    assert original[len(kept)].isspace() or original[len(kept)] in ",;:-–—"
    assert kept.count("[") == len(LINK.findall(kept)), "a link was cut"
    return kept


# -- truncate ----------------------------------------------------------------------------------


def test_short_text_is_untouched() -> None:
    assert truncate("short [a](http://b)", 100) == "short [a](http://b)"


def test_10000_chars_with_links_fit_the_description_limit() -> None:
    text = linky_text(10_000)
    result = truncate(text, DESCRIPTION_LIMIT)
    assert units(result) <= DESCRIPTION_LIMIT
    kept = assert_clean_cut(text, result)
    assert len(kept) > DESCRIPTION_LIMIT // 2  # not absurdly short


@pytest.mark.parametrize("limit", [80, 150, 256, 1024, 2000, 4096])
@pytest.mark.parametrize("seed", range(5))
def test_cuts_never_split_words_or_links(limit: int, seed: int) -> None:
    text = linky_text(10_000, seed)
    result = truncate(text, limit)
    assert units(result) <= limit
    assert_clean_cut(text, result)


def test_prefers_paragraph_then_sentence_boundaries() -> None:
    paragraph = "First sentence here. " * 10
    text = paragraph + "\n\n" + "x " * 2000
    assert truncate(text, 400) == paragraph.rstrip() + NOTE
    sentences = "One sentence ends. " * 40
    kept = truncate(sentences, 300).removesuffix(NOTE)
    assert kept.endswith("ends.")


def test_a_link_straddling_the_limit_is_left_out_whole() -> None:
    text = "intro words " + "[a long link text](https://example.org/" + "p" * 300 + ") after"
    result = truncate(text, 200)
    assert result == "intro words" + NOTE


def test_inline_code_and_emphasis_are_not_cut() -> None:
    text = "see `some code span here` and **bold words in here** " * 50
    result = truncate(text, 500)
    kept = result.removesuffix(NOTE)
    assert kept.count("`") % 2 == 0 and kept.count("**") % 2 == 0


def test_open_code_fence_is_closed() -> None:
    text = "```python\n" + "print('hello world')\n" * 300 + "```"
    result = truncate(text, 1000)
    assert units(result) <= 1000
    assert result.removesuffix(NOTE).count("```") == 2


def test_one_enormous_word_is_cut_where_it_must_be() -> None:
    result = truncate("x" * 5000, 100)
    assert units(result) <= 100 and result.startswith("x") and result.endswith(NOTE)


def test_emoji_count_double_and_still_fit() -> None:
    text = "🙂 " * 3000
    result = truncate(text, 1000)
    assert units(result) <= 1000 and len(result) < 1000


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("ab []()\n.`*_ ") + ["https://x.y/z", "🙂", "[l](u)", "```"]),
        max_size=1500,
    ).map("".join),
    st.integers(min_value=1, max_value=2100),
)
def test_any_text_fits_any_limit(text: str, limit: int) -> None:
    assert units(truncate(text, limit)) <= limit
    assert units(shorten(text, limit)) <= limit


# -- labels, titles ------------------------------------------------------------------------------


def test_labels_are_at_most_80_and_end_on_a_word() -> None:
    long = "How do I tell whether " + "a really very long question " * 10 + "is answered?"
    label = suggestion_label(long)
    assert len(label) <= LABEL_LIMIT and label.endswith("…")
    assert long.startswith(label.removesuffix("…"))
    assert long[len(label) - 1] == " "
    assert suggestion_label("Short one?") == "Short one?"
    assert len(suggestion_label("y" * 200)) <= LABEL_LIMIT


def test_shorten_is_one_line() -> None:
    assert shorten("a\n\nb   c", 80) == "a b c"
    assert shorten(" \u2003a\u00a0\u00a0b\x1fc\t", 80) == "a b c"  # any kind of space


def test_a_label_keeps_inline_code_and_links_whole() -> None:
    words = "Why does the question mention "
    for construct in ("`some_code(x, y)`", "[a link](https://example.org/a)", "**bold words**"):
        text = words + "a" * (70 - len(words)) + " " + construct + " at the end?"
        label = suggestion_label(text)
        assert label == text[:70] + "…"  # not cut inside it, so left out whole
        start = words + "it " + construct + " then more words to reach the limit " * 3
        assert construct in suggestion_label(start)


# -- embeds ------------------------------------------------------------------------------------


def question(answer_text: str, **answer: object) -> Question:
    return Question(
        "q",
        "What is the question? " * 20,  # longer than a title may be
        tags=("alpha", "beta"),
        answers=(Answer("a", answer_text, canonical=True, **answer),),  # type: ignore[arg-type]
    )


def test_answer_embed_shape() -> None:
    q = Question(
        "learn",
        "Where can I learn?",
        tags=("resources",),
        answers=(Answer("a", "Read [this](https://x.org).", canonical=True, author="Jo"),),
    )
    embed = answer_embed(q, q.answers[0])
    assert embed.title == "Where can I learn?"
    assert embed.description == "Read [this](https://x.org)."
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {"Tags": "resources", "Stamps": "0 stamps", "Answer by": "Jo"}
    assert embed.footer.text == TEXT["footer"]
    assert stamps_text(1) == "1 stamp" and stamps_text(2) == "2 stamps"


def test_answer_embed_respects_every_limit_on_huge_input() -> None:
    q = question(linky_text(10_000), author="A" * 500, source="https://x.org/" + "s" * 3000)
    embed = answer_embed(q, q.answers[0])
    assert units(embed.title) <= TITLE_LIMIT
    assert units(embed.description) <= DESCRIPTION_LIMIT
    assert all(units(f.value) <= FIELD_VALUE_LIMIT for f in embed.fields)
    assert len(embed.fields) <= 25
    assert embed_units(embed) <= EMBED_TOTAL_LIMIT
    assert len(embed) <= EMBED_TOTAL_LIMIT  # discord.py's own count agrees
    assert_clean_cut(q.answers[0].text, embed.description)


def test_question_without_answers_says_so() -> None:
    q = Question("q", "Known?", answers=())
    assert answer_embed(q, None).description == TEXT["no_answer_yet"]


def test_question_without_answers_invites_no_stamp() -> None:
    """A stamp needs an answer to endorse: no "0 stamps", no "react with :stamp:"."""
    embed = answer_embed(Question("q", "Known?", tags=("basics",)), None)
    assert [f.name for f in embed.fields] == [TEXT["tags_field"]]
    assert embed.footer.text is None
    answered = answer_embed(
        Question("q", "Known?", answers=(Answer("a", "Yes."),)), Answer("a", "Yes.")
    )
    assert TEXT["stamps_field"] in [f.name for f in answered.fields]
    assert answered.footer.text == TEXT["footer"]


def test_other_answers_share_one_message() -> None:
    answers = [Answer(f"a{i}", linky_text(4000, i)) for i in range(12)]
    q = Question("q", "Q?", answers=tuple(answers))
    embeds = other_answers_embeds(q, answers)
    assert len(embeds) == 10
    assert sum(embed_units(e) for e in embeds) <= EMBED_TOTAL_LIMIT
    assert "2 more" in embeds[-1].footer.text
    for embed, answer in zip(embeds, answers, strict=False):
        assert_clean_cut(answer.text, embed.description)


def test_why_text() -> None:
    text = why_text("What is X?", 0.8712, "score 0.87 >= 0.42")
    assert "“What is X?”" in text and "0.87" in text and "score 0.87 >= 0.42" in text
    assert TEXT["why_picked"] in why_text("What is X?", 0.5, None, picked=True)
    assert "0.42" in why_text("What is X?", 0.5, None, threshold=0.42)
