"""The compact index ranks exactly as the index it replaced: same questions, same order, same
scores and features, through additions, edits, removals, merges, compaction and a snapshot."""

from __future__ import annotations

import random
import re
import unicodedata

import numpy as np
import pytest
from reference_matcher import Candidate as ReferenceCandidate
from reference_matcher import Matcher as ReferenceMatcher

from bot.knowledge.matcher import STOPWORDS, Matcher, _first_places, _sparse_tally
from bot.knowledge.text import normalize, tokenize

# The features the word search gives a candidate (scoring added since, such as evidence from
# the answers, is compared by its own tests).
FIELDS = [
    name
    for name in ReferenceCandidate.__dataclass_fields__
    if name not in ("question_id", "phrasing")
]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size)}
    return sorted(words)


def phrasing(rng: random.Random, words: list[str], stop: list[str]) -> str:
    chosen = [
        rng.choice(words[: rng.choice((40, 400, len(words)))]) for _ in range(rng.randint(2, 9))
    ]
    chosen += rng.sample(stop, rng.randint(0, 3))
    rng.shuffle(chosen)
    text = " ".join(chosen)
    return text.capitalize() + rng.choice(("?", "", "!", " ?"))


def query(rng: random.Random, kb: dict[str, list[str]], words: list[str], stop: list[str]) -> str:
    kind = rng.random()
    if kind < 0.5:  # a stored phrasing, a word dropped or misspelt
        parts = rng.choice(rng.choice(list(kb.values()))).split()
        if len(parts) > 2 and rng.random() < 0.5:
            parts.pop(rng.randrange(len(parts)))
        i = rng.randrange(len(parts))
        if len(parts[i]) > 5:
            j = rng.randrange(1, len(parts[i]) - 1)
            parts[i] = parts[i][:j] + parts[i][j + 1 :]
        return " ".join(parts)
    if kind < 0.8:
        return phrasing(rng, words, stop)
    return " ".join(rng.sample(stop, 3))  # common words only


def assert_same(ours: Matcher, reference: ReferenceMatcher, queries: list[str]) -> None:
    assert ours.phrasing_count == reference.phrasing_count and len(ours) == len(reference)
    for text in queries:
        got = ours._lexical_search(text, 8)
        expected = reference._lexical_search(text, 8)
        assert [(c.question_id, c.phrasing) for c in got] == [
            (c.question_id, c.phrasing) for c in expected
        ], text
        for a, b in zip(got, expected, strict=True):
            for name in FIELDS:
                assert getattr(a, name) == pytest.approx(getattr(b, name), abs=1e-9), (text, name)
        # The ranking alone (related questions) is the search's, scores and all.
        for k in (8, 40):
            ranked = [(c.question_id, c.score) for c in ours.search(text, k, evidence=False)]
            assert ours.ranking(text, k) == ranked, text


@pytest.mark.parametrize("seed", [1, 2])
def test_rankings_equal_the_reference_through_every_kind_of_update(seed: int) -> None:
    rng = random.Random(seed)
    words = vocabulary(rng, 700)
    stop = sorted(STOPWORDS)
    ours, reference = Matcher(), ReferenceMatcher()
    # Small buffers, so that a few thousand phrasings go through flushes, delta reads,
    # merges into the postings arrays and a compaction.
    ours.FLUSH_AT, ours.MERGE_MIN, ours.SEARCH_DELTA = 64, 512, 128
    kb: dict[str, list[str]] = {}

    def upsert(qid: str, phrasings: list[str]) -> None:
        kb[qid] = phrasings
        ours.upsert(qid, phrasings)
        reference.upsert(qid, phrasings)

    def remove(qid: str) -> None:
        kb.pop(qid, None)
        ours.remove(qid)
        reference.remove(qid)

    def check(count: int) -> None:
        assert_same(ours, reference, [query(rng, kb, words, stop) for _ in range(count)])

    for n in range(1200):
        upsert(f"q{n}", [phrasing(rng, words, stop) for _ in range(rng.randint(1, 4))])
        if n % 300 == 299:
            check(40)
    for n in rng.sample(range(1200), 200):  # moderators' edits, one at a time, asked between
        upsert(f"q{n}", [phrasing(rng, words, stop) for _ in range(rng.randint(1, 3))])
        if n % 5 == 0:
            check(1)
    upsert("q5", ["Zzzunique wordplay?", "", "zzzunique WORDPLAY"])  # duplicates, an empty one
    check(40)
    for n in rng.sample(range(1200), 1000):  # enough removed for a compaction
        remove(f"q{n}")
    remove("never-there")
    check(60)
    for n in range(1200, 1500):
        upsert(f"q{n}", [phrasing(rng, words, stop) for _ in range(rng.randint(1, 4))])
    check(60)
    # A snapshot holds live phrasings only (as it did): compared with the reference restored
    # from its own snapshot.
    restored = Matcher()
    restored.restore_index(ours.export_index())
    old = reference.export_index()
    reference = ReferenceMatcher()
    reference.restore_index(old)
    assert_same(restored, reference, [query(rng, kb, words, stop) for _ in range(60)])
    for n in range(1500, 1600):  # a restored index keeps taking updates
        phrasings = [phrasing(rng, words, stop) for _ in range(2)]
        restored.upsert(f"q{n}", phrasings)
        reference.upsert(f"q{n}", phrasings)
        kb[f"q{n}"] = phrasings
    assert_same(restored, reference, [query(rng, kb, words, stop) for _ in range(60)])


def test_a_vocabulary_past_two_byte_ids_still_ranks_the_same() -> None:
    rng = random.Random(3)
    ours, reference = Matcher(), ReferenceMatcher()
    ours.FLUSH_AT, ours.MERGE_MIN = 4096, 4096
    kb: dict[str, list[str]] = {}
    for n in range(14_000):  # five new words each: past 65,536 words and terms
        text = " ".join(f"w{n}x{k}" for k in range(5)) + f" common{n % 7}"
        kb[f"q{n}"] = [text]
        ours.upsert(f"q{n}", [text])
        reference.upsert(f"q{n}", [text])
        if n == 1000:
            assert ours.search("w10x1 w10x3")[0].question_id == "q10"
    queries = [f"w{n}x1 common{n % 7} w{n + 1}x2" for n in rng.sample(range(13_999), 30)]
    assert_same(ours, reference, queries)
    restored, again = Matcher(), ReferenceMatcher()
    restored.restore_index(ours.export_index())
    again.restore_index(reference.export_index())
    assert_same(restored, again, queries)


def test_normalising_gives_what_its_plain_definition_gives() -> None:
    # normalize() takes short cuts (ASCII by a table, apostrophe patterns only where there is
    # one, written to search fast); it must agree with the definition it speeds up.
    possessive = re.compile(r"(?<=\w)['\u2019\u02bc`]s\b")
    apostrophes = re.compile(r"(?<=\w)['\u2019\u02bc`](?=\w)")

    def plain(text: str) -> str:
        text = text.replace("\x1b[31m", " ")
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
            text = "".join(c for c in text if unicodedata.category(c) != "Cf")
        text = apostrophes.sub("", possessive.sub("", text.casefold()))
        return re.sub(r"[\W_]+", " ", text).strip()

    rng = random.Random(4)
    alphabet = (
        "abcsXYZ019 _'`\u2019\u02bc?!.,-\t\n\x1c\x85\u2028\u3000\xe9\xdf\u200b\u0130\xa0\ufb01"
    )
    # Apostrophes next to each other, to an "s" and to word ends, where one pass over ASCII
    # text must find what the two patterns find one after the other; and the letter U+02BC,
    # with which it would not.
    dense = "as'` _\u02bc"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert normalize(text) == plain(text), text
        assert tokenize(text) == plain(text).split()
        text = "".join(rng.choice(dense[: rng.choice((5, 7))]) for _ in range(rng.randint(0, 9)))
        assert normalize(text) == plain(text), text
    assert normalize("It's what\x1b[31mthey\u2019re   DOING_now") == "it what theyre doing now"
    assert normalize("a\u02bc\u02bcs a''s's x's'y") == "a\u02bc a s xy"


def test_first_places_of_keys_are_what_np_unique_gives() -> None:
    # How a flush finds each phrasing's distinct terms: packed into one sort, or (keys too
    # large to pack) by np.unique; both must give np.unique's first places.
    rng = np.random.default_rng(5)
    for bound in (1, 50, 70_000, 1 << 40, 1 << 62):
        keys = rng.integers(0, bound, rng.integers(1, 3000), dtype=np.int64)
        expected = np.sort(np.unique(keys, return_index=True)[1])
        assert np.array_equal(_first_places(keys, bound), expected)


def test_a_sparse_tally_of_postings_is_the_dense_one() -> None:
    # How a search sums the weights of the postings it read (runs of increasing phrasing ids,
    # one per word): by a sort when they are few, by a tally over every phrasing when many.
    # Both must give the same phrasings and the same sums, to the last bit.
    rng = np.random.default_rng(6)
    for _ in range(50):
        runs = [
            np.unique(rng.integers(0, 5000, rng.integers(0, 800))).astype(np.int32)
            for _ in range(rng.integers(1, 12))
        ]
        ids = np.concatenate(runs)
        if not len(ids):
            continue
        weights = np.concatenate([np.full(len(run), rng.random() * 3) for run in runs])
        dense = np.bincount(ids, weights=weights)
        unique, sums = _sparse_tally(ids, weights)
        assert np.array_equal(unique, np.flatnonzero(dense))
        assert np.array_equal(sums, dense[unique])


def test_a_misspelt_word_is_corrected_as_one_look_up_over_the_whole_vocabulary() -> None:
    # The matcher reads only the lengths that can reach the cutoff, nearest first; the word it
    # picks must be the one a single extractOne over every known word (the same first letter
    # for a short word) picks, ties going to the first known.
    from rapidfuzz import fuzz, process

    rng = random.Random(23)
    words = vocabulary(rng, 3000)
    rng.shuffle(words)  # word ids not in alphabetical order
    matcher = Matcher()
    for start in range(0, len(words), 6):
        matcher.upsert(f"q{start}", [" ".join(words[start : start + 6])])
    letters = "abcdefghijklmnopqrstuvwxyz"
    checked = corrected = 0
    for _ in range(1500):
        word = list(rng.choice(words))
        for _ in range(rng.randint(1, 3)):  # delete, insert or replace a letter
            at = rng.randrange(len(word))
            kind = rng.randrange(3)
            if kind == 0 and len(word) > 1:
                del word[at]
            elif kind == 1:
                word.insert(at, rng.choice(letters))
            else:
                word[at] = rng.choice(letters)
        typed = "".join(word)
        if typed in words or len(typed) < matcher.tuning.min_typo_length:
            continue
        known = [w for w in words if len(typed) > 5 or w[0] == typed[0]]
        expected = process.extractOne(
            typed, known, scorer=fuzz.ratio, score_cutoff=matcher.tuning.typo_cutoff
        )
        chosen = matcher._closest_spelling(
            typed,
            matcher._words_by_length
            if len(typed) > 5
            else matcher._words_by_initial.get(typed[0], {}),
        )
        assert (chosen is None) == (expected is None), typed
        if expected is not None:
            assert chosen == (expected[0], expected[1]), typed
            corrected += 1
        checked += 1
    assert checked > 1000 and corrected > 300


def test_of_two_corrections_scoring_the_same_at_different_lengths_the_first_known_wins() -> None:
    # "abcdefghi" is 80 from both; the shorter word is known first, the longer one is read first.
    for first, second in (("abcdef", "abcdefghzzz"), ("abcdefghzzz", "abcdef")):
        matcher = Matcher()
        matcher.upsert("q1", [f"{first} {second}"])
        assert matcher._closest_spelling("abcdefghi", matcher._words_by_length) == (first, 80.0)
