"""The matcher: ranking, typo tolerance, abstention and incremental updates."""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import pytest
from snowballstemmer.english_stemmer import EnglishStemmer

from bot.knowledge.matcher import Decision, Matcher, name_words
from bot.knowledge.text import normalize, tokenize

QUESTIONS = {
    "learn-interp": [
        "Where can I learn about interpretability?",
        "What are good resources for learning interpretability?",
        "interpretability reading list",
    ],
    "what-interp": [
        "What is interpretability and what approaches are there?",
        "What does interpretability mean?",
    ],
    "modularity": ["What is neural network modularity?", "Are neural networks modular?"],
    "circuits": ["How can we interpret what all the neurons mean?", "What are circuits?"],
    "supervisor": [
        "Couldn't we have a human supervisor approve every decision the AI makes?",
        "Why not just have humans approve every action?",
    ],
    "gen-vis": ["What does generative visualization look like in reinforcement learning?"],
    "alignment": ["What is AI alignment?", "What does alignment mean?"],
    "instrumental": ["What is instrumental convergence?"],
    "off-switch": ["Why can't we just turn the AI off?", "Can't we just unplug it?"],
    "russian": ["Что такое интерпретируемость?"],
}


@pytest.fixture
def matcher() -> Matcher:
    built = Matcher()
    for question_id, phrasings in QUESTIONS.items():
        built.upsert(question_id, phrasings)
    return built


def answered(matcher: Matcher, text: str) -> str | None:
    result = matcher.match(text)
    if result.decision is Decision.ANSWER:
        return result.best.question_id
    return None


def test_exact_question_is_answered_with_full_score(matcher: Matcher) -> None:
    result = matcher.match("Where can I learn about interpretability?")
    assert result.decision is Decision.ANSWER
    assert result.best.question_id == "learn-interp"
    assert result.best.score == pytest.approx(1.0)
    assert result.best.phrasing == "Where can I learn about interpretability?"


def test_typos_are_tolerated(matcher: Matcher) -> None:
    assert answered(matcher, "wher can i lern about interpretabilty") == "learn-interp"
    assert answered(matcher, "what is instrumentel convergance") == "instrumental"


def test_a_word_is_not_corrected_into_a_stopword() -> None:
    matcher = Matcher()
    matcher.upsert("learn", ["Where can I learn about AI safety?", "I dont know where to start"])
    matcher.upsert("agi", ["What is AGI?"])
    # "donate" is one edit from "dont", but it is what the message is about: it stays an
    # unknown word, the heaviest one, missing from every question (the deciding model reads
    # that; as "dont", at a stopword's weight, it looked all but found).
    best = matcher.search("how do I donate to AI safety?")[0]
    assert best.question_id == "learn" and best.missing_query == 1.0 and best.unknown_share > 0
    # Misspelt words are still corrected (at a discount), stopwords among them.
    for query in ("where can I lern about AI safety?", "wher can I lern about AI safety?"):
        corrected = matcher.search(query)[0]
        assert corrected.question_id == "learn" and corrected.missing_query < 0.25


def test_rewording_and_word_forms(matcher: Matcher) -> None:
    assert answered(matcher, "how do I learn interpretability") == "learn-interp"
    assert answered(matcher, "explain modularity of neural networks") == "modularity"


def test_alternate_phrasing_matches_and_is_reported(matcher: Matcher) -> None:
    result = matcher.match("can't we just unplug it")
    assert result.decision is Decision.ANSWER
    assert result.best.question_id == "off-switch"
    assert result.best.phrasing == "Can't we just unplug it?"


def test_unrelated_question_gets_no_answer(matcher: Matcher) -> None:
    result = matcher.match("What is the capital of France?")
    assert result.decision is Decision.NONE
    assert answered(matcher, "how do I bake sourdough bread") is None


def test_ambiguous_question_suggests_instead_of_guessing(matcher: Matcher) -> None:
    result = matcher.match("interpretability")
    assert result.decision is Decision.SUGGEST
    ids = [c.question_id for c in result.candidates]
    assert {"learn-interp", "what-interp"} <= set(ids)
    assert len(result.candidates) <= 3


@pytest.mark.parametrize("text", ["", "   ", "?!?", "\u200b\u200f"])
def test_empty_input_is_no_match(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)
    assert result.decision is Decision.NONE
    assert result.candidates == ()


def test_very_long_input_is_handled_and_not_answered(matcher: Matcher) -> None:
    text = "interpretability " + "lorem ipsum dolor sit amet " * 400
    assert len(text) > 10_000
    result = matcher.match(text)
    assert result.decision is not Decision.ANSWER
    assert all(0.0 <= c.score <= 1.0 for c in result.candidates)


def test_non_latin_text(matcher: Matcher) -> None:
    assert answered(matcher, "что такое интерпретируемость") == "russian"
    assert matcher.match("这是什么").decision is Decision.NONE


def test_scores_are_bounded_and_ranked(matcher: Matcher) -> None:
    for query in ["neural networks", "approve decisions", "what is alignment", "AI"]:
        scores = [c.score for c in matcher.search(query, k=10)]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_score_does_not_grow_with_query_length(matcher: Matcher) -> None:
    short = matcher.search("What is AI alignment?")[0]
    padded = matcher.search("What is AI alignment? " + "I wonder about pancakes and weather " * 5)
    assert padded[0].question_id == "alignment"
    assert padded[0].score < short.score


def test_upsert_updates_index_without_rebuild(matcher: Matcher) -> None:
    assert answered(matcher, "what is a mesa optimizer") is None
    matcher.upsert("mesa", ["What is a mesa-optimizer?"])
    assert answered(matcher, "what is a mesa optimizer") == "mesa"
    matcher.upsert("mesa", ["What is inner alignment?"])
    assert answered(matcher, "what is a mesa optimizer") is None
    assert answered(matcher, "what is inner alignment") == "mesa"


def test_the_same_text_ranked_again_ranks_as_the_first_time(matcher: Matcher) -> None:
    # A reply ranks the question asked, then its related questions rank the question's own
    # text: often the same text, whose scored pool is reused while the index is unchanged.
    text = "What does interpretability mean?"
    fresh = Matcher()
    for question_id, phrasings in QUESTIONS.items():
        fresh.upsert(question_id, phrasings)
    assert matcher.ranking(text, 5) == fresh.ranking(text, 5)
    assert matcher.search(text, 5) == fresh.search(text, 5)  # after a ranking: features too
    assert matcher.ranking(text, 40) == fresh.ranking(text, 40)
    matcher.upsert("meaning", ["What does interpretability mean?"])
    matcher.remove("what-interp")
    assert [c.question_id for c in matcher.search(text, 2)][0] == "meaning"
    assert "what-interp" not in dict(matcher.ranking(text, 40))


def test_remove_drops_a_question(matcher: Matcher) -> None:
    matcher.remove("instrumental")
    assert "instrumental" not in matcher
    assert all(c.question_id != "instrumental" for c in matcher.search("instrumental convergence"))
    matcher.remove("does-not-exist")  # no error


def test_many_updates_keep_results_right() -> None:
    built = Matcher()
    for round_ in range(3):
        for n in range(1500):
            built.upsert(f"q{n}", [f"question number {n} about topic{n} round{round_}"])
    assert len(built) == 1500
    assert built.phrasing_count == 1500
    result = built.match("question about topic77 round2")
    assert result.best.question_id == "q77"


def test_a_small_cache_of_normalised_texts_ranks_as_a_large_one() -> None:
    # The normalised texts compared character by character are kept up to a bound, then
    # forgotten and read again: reading them with the cache full and emptied mid-search
    # must give the same candidates, phrasings and scores.
    def build(cache: int) -> Matcher:
        built = Matcher()
        built.NORMAL_CACHE = cache
        for n in range(300):
            built.upsert(
                f"q{n}",
                [f"How does topic{n % 40} relate to thing{n} and idea{n % 7}?", f"thing{n} idea"],
            )
        return built

    small, large = build(8), build(1 << 16)
    for text in ["how does topic3 relate to idea2", "thing17 idea", "topic5 thing45"]:
        assert small.search(text, 10) == large.search(text, 10)
        assert small.ranking(text, 40) == large.ranking(text, 40)
        assert len(small._normals) <= 8


def test_reason_is_given_for_every_decision(matcher: Matcher) -> None:
    for text in ["what is AI alignment", "interpretability", "capital of France"]:
        assert matcher.match(text).reason


def test_normalize_folds_case_punctuation_and_invisible_marks() -> None:
    assert normalize("What’s  Interpreta\u200bbility?!") == "what interpretability"
    assert normalize("OpenAI's plan") == "openai plan"
    assert tokenize("Don't PANIC") == ["dont", "panic"]
    assert name_words("What is OpenAI's plan for GPT?") == {"openai", "gpt"}


def test_only_common_words_shared_is_no_match(matcher: Matcher) -> None:
    result = matcher.match("how do I bake bread")
    assert result.decision is Decision.NONE
    assert "common words" in result.reason


def test_short_words_are_not_corrected_into_other_words(matcher: Matcher) -> None:
    # "bread" is one letter from "read" but is a real word: no match, not a guess.
    assert matcher.match("bread").decision is Decision.NONE


def test_compound_typed_as_two_words() -> None:
    built = Matcher()
    built.upsert("strike", ["How do I use strikethrough in markdown?"])
    built.upsert("bold", ["How do I make text bold in markdown?"])
    assert built.search("strike through text in markdown")[0].question_id == "strike"


def test_other_phrasings_of_a_question_lend_their_words() -> None:
    built = Matcher()
    built.upsert("export", ["Export Gmail messages to files", "back up my mail as text"])
    built.upsert("forward", ["Forward many Gmail messages at once", "send several mails on"])
    assert built.search("export my gmail mail as text")[0].question_id == "export"


def test_the_frame_of_a_request_does_not_outweigh_its_topic_in_a_small_knowledge_base() -> None:
    from dataclasses import replace

    from bot.knowledge.matcher import MatcherTuning

    def ranked(query: str, tuning: MatcherTuning) -> list[str]:
        matcher = Matcher(tuning=tuning)
        matcher.upsert(
            "learn-interp",
            [
                "Where can I learn about interpretability?",
                "interpretability reading list",
                "How do I learn mechanistic interpretability?",
            ],
        )
        matcher.upsert("reward-hacking", ["What is reward hacking?", "specification gaming"])
        topics = "alignment mesa timelines convergence switch superposition induction sparse"
        for n, topic in enumerate(topics.split() * 5):  # 40 more questions
            second = f"what did the model learn about {topic} {n}" if n % 3 == 0 else topic
            matcher.upsert(f"q{n}", [f"What is {topic} {n}?", second])
        return [c.question_id for c in matcher.search(query)]

    # "where", "can", "I" and "about" are stopwords, but here only one phrasing of 85 has
    # "where" and "can": by this knowledge base's counts they are as rare as "reward".
    query = "where can I learn about reward hacking?"
    assert ranked(query, MatcherTuning())[0] == "reward-hacking"
    assert ranked("where can I learn about interpretability?", MatcherTuning())[0] == "learn-interp"
    # Weighed by the knowledge base's counts alone, the frame wins.
    alone = replace(MatcherTuning(), stopword_share=0.0)
    assert ranked(query, alone)[0] == "learn-interp"


def test_a_question_word_that_sets_the_kind_of_answer_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.knowledge.matcher as matcher_module

    def ranked(query: str) -> list[str]:
        matcher = Matcher()
        matcher.upsert("what-virus", ["What is a coronavirus?"])
        matcher.upsert("spread", ["How does the virus spread?"])
        matcher.upsert("symptoms", ["What are the symptoms of the virus?"])
        matcher.upsert("masks", ["Should I wear a mask?"])
        return [c.question_id for c in matcher.search(query)]

    # "how" asks for a way: the question asking how wins over the one sharing the rare
    # word "coronavirus" but asking what.
    assert ranked("how coronavirus is spread")[0] == "spread"
    # Weighed like any other stopword, "how" would not have decided it.
    monkeypatch.setattr(matcher_module, "INTENT_WORDS", frozenset())
    assert ranked("how coronavirus is spread")[0] == "what-virus"


def test_the_compiled_stemmer_stems_as_snowballs_own_english_stemmer() -> None:
    # The index stems through PyStemmer (compiled, when installed) for speed; its stems must
    # be the ones the pure-Python Snowball stemmer gives, or rankings would change with it.
    answers = Path(__file__).resolve().parent.parent / "answers"
    words = set()
    for path in answers.glob("*.yaml"):
        words.update(re.findall(r"[a-z0-9]+", path.read_text(encoding="utf-8").lower()))
    endings = ("", "s", "es", "ed", "ing", "ly", "ness", "ational", "ization", "fulness", "ies")
    forms = sorted({word + ending for word in words for ending in endings})
    assert len(forms) > 10_000
    stem = Matcher()._stem
    plain = EnglishStemmer().stemWord
    assert [stem(word) for word in forms] == [plain(word) for word in forms]


def test_a_question_asked_again_gets_the_same_result_until_the_index_changes(
    matcher: Matcher,
) -> None:
    asked = "Why can't we just turn the AI off?"
    first = matcher.match(asked)
    assert first.decision is Decision.ANSWER and first.best.question_id == "off-switch"
    assert matcher.match(asked) == first
    # Nor once the thresholds that decide have changed (a new confidence dial).
    usual = matcher.thresholds
    matcher.thresholds = dataclasses.replace(usual, confidence=1.0)
    assert matcher.match(asked).decision is not Decision.ANSWER
    matcher.thresholds = usual
    assert matcher.match(asked) == first
    # An edit is answered from at once: the kept result is not reused.
    matcher.remove("off-switch")
    matcher.upsert("kill-switch", ["Why can't we just turn the AI off?"])
    again = matcher.match(asked)
    assert again.best is not None and again.best.question_id == "kill-switch"
    matcher.upsert("kill-switch", ["Could we switch a rogue model off?"])
    assert matcher.match(asked).best != again.best  # no longer the same phrasing, same score
    # Kept for so many texts at most, the least recently asked forgotten first.
    for n in range(matcher.MATCH_CACHE + 10):
        matcher.match(f"what is alignment number {n}")
    assert len(matcher._matched) == matcher.MATCH_CACHE


def test_the_k_best_questions_are_found_when_a_later_phrasing_scores_more() -> None:
    # Phrasings are read best word score first and the search stops once no unread one can
    # beat the k-th best question; a question whose later phrasing scores more must count
    # once, or that bar rises too soon and the k best come back short or wrong.
    rng = random.Random(5)
    words = [f"w{n}" for n in range(40)]
    matcher = Matcher()
    for q in range(300):
        matcher.upsert(f"q{q}", [" ".join(rng.sample(words, rng.randint(2, 6))) for _ in range(4)])
    for _ in range(200):
        query = " ".join(rng.sample(words, rng.randint(2, 5)))
        for k in (3, 10, 40):
            found = matcher.search(query, k, evidence=False)
            every = matcher.search(query, 10**6, evidence=False)[:k]
            assert [(c.question_id, c.score) for c in found] == [
                (c.question_id, c.score) for c in every
            ], (query, k)
