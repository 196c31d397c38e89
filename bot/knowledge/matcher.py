"""Question matching: an incremental index over every phrasing, ranked candidates, a decision.

The score of a candidate phrasing combines two signals, each in [0, 1]:

* ``lexical``: how much of the query's informative words the phrasing covers and how much of
  the phrasing's informative words the query covers (an F-measure of IDF-weighted overlap of
  stemmed words; misspelt words are mapped to the nearest known word at a discount). Being a
  ratio, it does not grow with the length of the query, unlike a raw BM25 score.
* ``fuzzy``: rapidfuzz's normalised Indel similarity of the two normalised strings, which
  rewards near-identical wording and survives typos the word level misses.

``score = lexical_weight * lexical + (1 - lexical_weight) * fuzzy`` so a score means the same
from one query to the next, and thresholds in config can be read as "how much alike".

The decision (answer, suggest or no match) asks a fitted model (:mod:`bot.knowledge.abstain`)
how likely the best question is the one asked, from the scores, the coverages both ways, the
margin over the best *other* question and the words missing on either side, and answers from a
configured confidence on; below it, close questions that share a distinctive word are offered.
"""

from __future__ import annotations

import heapq
import math
import mmap
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import snowballstemmer
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Indel

from bot.config import MatchSettings
from bot.knowledge.abstain import AbstentionModel, default_model
from bot.knowledge.answers import AnswerIndex
from bot.knowledge.text import normal_words, normalize

if TYPE_CHECKING:
    from bot.knowledge.semantic import SemanticIndex

# Words that carry little meaning in a question, and the frame of a request ("tell me about",
# "I want to know"). They still count, at a fraction of their weight, so that "what is X" and
# "why is X" are not identical, but a match on them alone is never a match. (A tiny knowledge
# base cannot learn this from document frequencies: there a frame word it has never seen
# would weigh as much as the rarest topic word.)
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    between both but by can could did do does doing don down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me
    more most my no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours ive im id youre dont doesnt isnt cant wont whats hows
    please thanks thank hi hello hey anyone someone something get got
    tell explain describe know wonder wondering curious want need like info information
    question""".split()
)


#: Question words that say what kind of answer is wanted (a person, a time, a place, a reason,
#: a way, an origin): "Where to get tested" asks for a place, "Should I be tested?" for advice.
#: They stay stopwords (a match on them alone is no match) but keep their full weight, which
#: is low where most questions hold them and counts where the candidates differ in them.
#: ("what" and "which" only frame a question, so they are not among them.)
INTENT_WORDS = frozenset({"who", "when", "where", "why", "how", "from"})

#: A "did you mean" choice must share a content word at least this rare (its weight over
#: that of a word never seen), so a shared frame word alone ("good", "way") offers nothing.
DISTINCTIVE_RARITY = 0.2

_RAW_WORD = re.compile(r"[\w'\u2019]+|[.?!]")


def name_words(text: str) -> set[str]:
    """Normalised words written as names in ``text``: capitalised mid-sentence, or acronyms.

    Names ("OpenAI", "Stampy", "GPT") are usually what a question is really about.
    """
    names: set[str] = set()
    sentence_start = True
    for word in _RAW_WORD.findall(text):
        if word in ".?!":
            sentence_start = True
            continue
        acronym = len(word) > 1 and word.isupper()
        if acronym or (word[0].isupper() and not sentence_start):
            names.update(normalize(word).split())
        sentence_start = False
    return names


#: No cosine of two unit vectors exceeds this (1, and float32 rounding).
COSINE_BOUND = 1 + 1e-5

#: No words to correct a misspelling to (a first letter no known word has).
_NO_SPELLINGS: dict[int, list[str]] = {}


@dataclass(frozen=True)
class MatcherTuning:
    """Knobs of the scoring function (defaults tuned on the development benchmark)."""

    lexical_weight: float = 0.9
    coverage_beta: float = 2.0  # >1 favours covering the query's words over the phrasing's
    stopword_weight: float = 0.5
    # A stopword weighs at most as if this share of the phrasings held it: it is common in the
    # language even where a small knowledge base's phrasings rarely use it, so the frame of a
    # request ("where can I ... about") cannot outweigh the words that say what it is about.
    stopword_share: float = 0.1
    typo_cutoff: float = 80.0  # rapidfuzz ratio a misspelt word needs to map onto a known one
    min_typo_length: int = 4
    candidate_pool: int = 120  # phrasings re-scored in full per query
    common_fraction: float = 0.05  # words in more phrasings than this only re-score
    sibling_credit: float = 1.0  # credit for query words found in other phrasings of a question
    posting_budget: int = 10_000  # postings read to find candidates, rarest words first
    max_query_terms: int = 64
    max_scored_terms: int = 32  # the heaviest words of a long message that are looked up
    max_corrections: int = 6  # typo look-ups per query (each scans the vocabulary)
    name_boost: float = 2.0  # weight factor of capitalised words and acronyms in a query
    semantic_weight: float = 0.5  # share of the cosine in the score, with the semantic tier
    semantic_pool: int = 10  # word candidates the semantic tier re-ranks (plus its own k)
    rerank_pool: int = 10  # candidates a fitted re-ranker orders (see bot.knowledge.rerank)


@dataclass(frozen=True)
class Candidate:
    """One stored question as a match for a query, with the phrasing that matched best."""

    question_id: str
    score: float
    phrasing: str
    lexical: float  # IDF-weighted word overlap (F-measure of the two coverages)
    fuzzy: float  # character similarity of the normalised texts
    query_coverage: float  # share of the query's word weight the phrasing contains
    phrasing_coverage: float  # share of the phrasing's word weight the query contains
    # False when the only shared words are stopwords ("how do I ..."): such a candidate
    # still ranks, but is never answered or suggested.
    shares_content: bool = True
    # The heaviest query word that no phrasing of the question holds, as a share of the
    # query's heaviest word (1.0: the query's most distinctive word is missing).
    missing_query: float = 0.0
    # The heaviest word of the phrasing the query lacks, as a share of its heaviest word.
    missing_phrasing: float = 0.0
    # Of the query as a whole: the share of its weight in words the index has never seen,
    # and how many words that are not stopwords it has.
    unknown_share: float = 0.0
    content_words: int = 0
    # The rarest content word the question shares with the query: its weight over that of
    # a word the index has never seen (0: shares none; near 1: shares a rare word).
    shared_rarity: float = 0.0
    # The semantic tier's cosine similarity of the query to the question's closest phrasing
    # (0 without the tier); with it, ``score`` blends the word score and this.
    cosine: float = 0.0
    # Evidence from the question's answer text (0 when it has none): the share of the
    # query's weight in words the answer holds, and (semantic tier) the cosine of the query
    # to the answer.
    answer_coverage: float = 0.0
    answer_cosine: float = 0.0


class Decision(StrEnum):
    """What the bot does with a query."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    NONE = "none"
    #: Greetings, thanks, praise, a joke request: a friendly word, not a question.
    SMALL_TALK = "small_talk"


@dataclass(frozen=True)
class MatchResult:
    """Ranked candidates, the decision taken on them and why, in words."""

    query: str
    decision: Decision
    candidates: tuple[Candidate, ...]
    margin: float
    reason: str
    #: The model's probability that the best candidate is the question asked.
    probability: float = 0.0
    #: Which tier decided: "lexical" (words) or "semantic" (words and sentence embeddings).
    tier: str = "lexical"

    @property
    def best(self) -> Candidate | None:
        """The top candidate, if any."""
        return self.candidates[0] if self.candidates else None


class _Stemmer:
    """English Snowball stemmer with a memo, since the same words recur constantly.

    The memo is bounded (``limit`` words of at most ``MEMO_WORD`` characters), so a stream of
    made-up words cannot grow it for ever: past the limit, new words are stemmed each time.
    """

    MEMO_WORD = 32

    def __init__(self, limit: int = 300_000) -> None:
        stemmer = snowballstemmer.stemmer("english")
        if hasattr(stemmer, "maxCacheSize"):  # PyStemmer's own memo: this one is enough
            stemmer.maxCacheSize = 0
        self._stem = stemmer.stemWord
        self._memo: dict[str, str] = {}
        self.limit = limit

    def __call__(self, word: str) -> str:
        stem = self._memo.get(word)
        if stem is None:
            stem = self._stem(word) if word.isascii() else word
            if len(self._memo) < self.limit and len(word) <= self.MEMO_WORD:
                self._memo[word] = stem
        return stem


@dataclass(slots=True)
class _QueryTerm:
    term: int  # term id, or -1 for a word the index has never seen
    weight: float  # weight of the word in the query
    confidence: float  # 1.0 for an exact word, less for a corrected typo


def _empty(size: int, dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised array; a large one in a memory map of its own, so that its memory goes
    back to the system as soon as it is dropped (the C allocator may keep large freed blocks,
    and the growth of an index frees many)."""
    dtype = np.dtype(dtype)
    if size * dtype.itemsize < 1 << 20:
        return np.empty(size, dtype)
    return np.frombuffer(mmap.mmap(-1, size * dtype.itemsize), dtype)


def _id_dtype(count: int) -> np.dtype:
    """The smallest integer type holding ids below ``count``: two bytes while it can."""
    return np.dtype(np.uint16) if count <= 1 << 16 else np.dtype(np.int32)


class _Column:
    """A growable one-dimensional array (capacity doubled as needed): appending is amortised
    O(1) and reading is a view, with no Python object per element."""

    __slots__ = ("_data", "size")

    def __init__(self, dtype: np.dtype | type, data: np.ndarray | None = None) -> None:
        self._data = np.empty(0, dtype) if data is None else data
        self.size = len(self._data)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def view(self) -> np.ndarray:
        return self._data[: self.size]

    def extend(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        dtype = np.promote_types(self._data.dtype, values.dtype)
        if end > len(self._data) or dtype != self._data.dtype:
            grown = _empty(max(end, 2 * len(self._data), 16), dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = values
        self.size = end


@dataclass(frozen=True)
class IndexState:
    """A matcher's index as plain values: what :mod:`bot.knowledge.snapshot` stores.

    Phrasings are numbered 0.. in index order; a phrasing's normalised text is its words
    (``word_seq``) joined by spaces, so it is not stored as text.
    """

    stems: list[str]  # term id -> stem
    words: list[str]  # word id -> surface word, in the order first seen
    word_terms: np.ndarray  # the term of each word
    owners: list[str]  # per phrasing: its question
    texts: list[str]
    word_offsets: np.ndarray  # int64, phrasings + 1: where each phrasing's words start
    word_seq: np.ndarray  # every phrasing's word ids in order, concatenated
    term_offsets: np.ndarray  # int64, phrasings + 1: where each phrasing's terms start
    term_ids: np.ndarray  # every phrasing's distinct terms (first seen first), concatenated
    posting_offsets: np.ndarray  # int64, terms + 1: where each term's postings start
    posting_ids: np.ndarray  # int32: the phrasings holding each term, in increasing order
    # The answers' index (bot.knowledge.answers): the stem of each of its terms, the questions
    # with an answer and their answers' sorted term ids (offsets, ids), and the answer texts.
    answer_stems: list[str] = field(default_factory=list)
    answer_questions: list[str] = field(default_factory=list)
    answer_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    answer_terms: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    answer_texts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _PoolFeatures:
    """What a word search tells of some phrasings of its pool besides their scores (see
    :class:`Candidate`): arrays, one value per phrasing, and two values of the query."""

    content: np.ndarray  # shares a word that is not a stopword
    missing: np.ndarray  # the heaviest query word the question lacks, over the heaviest
    missing_phrasing: np.ndarray  # the heaviest phrasing word the query lacks, likewise
    shared: np.ndarray  # the rarest content word shared, over a never-seen word's weight
    unknown_share: float  # of the query: its weight in words never seen
    content_words: int  # of the query: its words that are not stopwords


@dataclass(frozen=True)
class _PoolScores:
    """The phrasings a word search scored (its pool, in increasing id order) and their word
    scores, with what the features of a candidate are worked out from (see
    :meth:`Matcher._features`)."""

    normal: str  # the query, normalised
    pids: list[int]
    owners: list[str]
    lexical: list[float]
    order: list[int]  # places in the pool by word score, best first (ties: pool order)
    ranked: np.ndarray  # the word scores in that order
    cover_q: np.ndarray
    cover_d: np.ndarray
    terms: list[_QueryTerm]  # the query's words
    known: list[_QueryTerm]  # those looked up: the rows of ``hits`` and ``held``
    weight: np.ndarray  # of each known word in the query
    confidence: np.ndarray  # of each known word (less for a corrected typo)
    hits: np.ndarray  # known words x pool: the phrasing holds the word
    held: np.ndarray  # known words x pool: a phrasing of the same question holds it
    term_weights: np.ndarray  # every term's weight in the index, at the time


class Matcher:
    """An in-memory index of question phrasings that can be updated one question at a time.

    Storage is compact: per phrasing, its words and distinct terms as small integer ids in
    flat arrays (two bytes each while the vocabulary allows), and per term its postings in
    one CSR array of int32 phrasing ids. Updates go to an append buffer (Python lists,
    moved into the arrays in chunks) and a delta of new postings, merged into the CSR
    arrays in one vectorised pass once it is a fraction of them (amortised) or before a
    search finds it too large to read; so building from scratch and a moderator's edit are
    both cheap, and a search reads arrays only.
    """

    #: Postings buffered before a merge into the CSR arrays: at least this many ...
    MERGE_MIN = 1 << 16
    #: ... or this share of the merged postings (amortised: each merge is linear).
    MERGE_SHARE = 1.0
    #: A search reads a delta up to this size as it is; a larger one is merged first.
    SEARCH_DELTA = 1 << 13
    #: Buffered word and term ids moved into the arrays at a time.
    FLUSH_AT = 1 << 16
    #: Normalised texts rebuilt from word ids are kept for this many phrasings.
    NORMAL_CACHE = 1 << 16
    #: Results of :meth:`match` kept, by text and k, until the index changes: the same
    #: question is asked again and again (and a kept result is a few candidates).
    MATCH_CACHE = 1024
    #: Character similarities worked out at once when a search starts reading its pool (then
    #: as many again as were read, so a pool read in full takes a few batches).
    SIMILARITY_BATCH = 16
    #: With the semantic tier, :meth:`scores_among` reads this many of the best questions.
    SEMANTIC_SCORES = 40

    def __init__(
        self,
        thresholds: MatchSettings | None = None,
        tuning: MatcherTuning | None = None,
        model: AbstentionModel | None = None,
        semantic: SemanticIndex | None = None,
    ) -> None:
        self.thresholds = thresholds or MatchSettings()
        self.tuning = tuning or MatcherTuning()
        #: Decides whether the best candidate is right (see :mod:`bot.knowledge.abstain`).
        self.model = model or default_model()
        #: The optional semantic tier (:mod:`bot.knowledge.semantic`), kept in step.
        self.semantic = semantic
        self._stem = _Stemmer()
        #: The words of each question's answer (:mod:`bot.knowledge.answers`).
        self.answers = AnswerIndex(self._stem, STOPWORDS, self.tuning.stopword_weight)
        # Terms (stems): id by stem and document frequency.
        self._term_ids: dict[str, int] = {}
        self._df: list[int] = []
        # Surface words seen, for typo correction: word -> term id, plus a list for rapidfuzz;
        # word -> word id (its place in the list) and word id -> term id.
        self._words: dict[str, int] = {}
        self._word_ids: dict[str, int] = {}
        self._word_terms: list[int] = []
        self._word_list: list[str] = []
        # The words by length, and by first letter and length, each list in word id order:
        # the words a misspelt one may be corrected to (see _correct).
        self._words_by_length: dict[int, list[str]] = {}
        self._words_by_initial: dict[str, dict[int, list[str]]] = {}
        self._stop_terms: set[int] = set()  # terms that stem from a stopword
        # Phrasings: owner question (None once removed) and text, per phrasing id; the ids
        # of each question's phrasings (consecutive); words and distinct terms in arrays.
        self._owner: list[str | None] = []
        self._text: list[str] = []
        # Each question's first phrasing id: its phrasings are that one and the next ones
        # with the same owner (an int, not a range, is 80 bytes less per question).
        self._by_question: dict[str, int] = {}
        self._seq = _Column(np.uint16)
        self._seq_at = _Column(np.int64, np.zeros(1, np.int64))
        self._fwd = _Column(np.uint16)
        self._fwd_at = _Column(np.int64, np.zeros(1, np.int64))
        self._normals: dict[int, str] = {}
        # The append buffer: phrasings added since the last flush into the arrays.
        self._pending_seq: list[int] = []
        self._pending_seq_len: list[int] = []
        self._word_term_array = _Column(np.int64)  # _word_terms as an array, for flushing
        self._flushed = 0  # phrasings in the arrays
        # Postings (may hold removed phrasings until compaction): merged CSR arrays for the
        # first phrasings, then a delta of (term, phrasing) pairs of the newer ones.
        self._post_at = np.zeros(1, np.int64)
        self._post_ids = np.empty(0, np.int32)
        self._delta_terms = _Column(np.uint16)
        self._delta_pids = _Column(np.int32)
        self._delta_sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._posting_arrays: dict[int, np.ndarray] = {}  # terms with delta postings
        self._live = 0
        self._dead = 0
        # Word weights depend on document frequencies, so they are recomputed (vectorised)
        # only when the index has changed.
        self._version = 0
        self._weights: list[float] = []
        self._weights_version = -1
        self._weights_array = np.empty(0)
        self._weights_array_version = -1
        # Scratch tables by term id for a search (see _term_rows and _term_marks).
        self._rows_table = np.empty(0, np.int64)
        self._marks_table = np.empty(0, bool)
        # The last pool scored, with its text and the index version: an answer's related
        # questions rank the question's own text, which is often the text just asked (a
        # question picked from "did you mean" or autocomplete, or typed as stored).
        self._last_scored: tuple[str, int, _PoolScores | None] | None = None
        # The last pool found (before scoring it), likewise: :meth:`scores_among` scores a
        # part of it, and a search of the same text then scores it all.
        self._last_pool: tuple[str, int, tuple[str, list[_QueryTerm], np.ndarray] | None] | None
        self._last_pool = None
        # The last ranking :meth:`scores_among` read with the semantic tier (one query vector
        # for every group of questions it is asked about).
        self._last_ranked: tuple[str, int, list[tuple[str, float]]] | None = None
        # Results of match() by (text, k), least recently used first; emptied on any change.
        self._matched: dict[tuple[str, int], tuple[tuple[object, ...], MatchResult]] = {}

    # ----------------------------------------------------------------------------- updates

    def __len__(self) -> int:
        return len(self._by_question)

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._by_question

    @property
    def phrasing_count(self) -> int:
        """How many phrasings are indexed."""
        return self._live

    def upsert(self, question_id: str, phrasings: Iterable[str], answer: str | None = None) -> None:
        """Index ``question_id`` under ``phrasings``, replacing what it had before.

        ``answer`` is the text of its answer (evidence for questions asked with the answer's
        words); None keeps the answer indexed before, "" means it has none.
        """
        if answer is None:
            answer = self.answers.text(question_id)
        self.remove(question_id)  # (forgets the results of match() too)
        first = len(self._owner)
        kept: list[str] = []
        seen: set[tuple[str, ...]] = set()
        word_ids = self._word_ids
        for text in phrasings:
            words = normal_words(text)
            # Phrasings alike once normalised are one: their words compared as a tuple (the
            # words' hashes, needed for the look-up below anyway, are kept by the strings;
            # joining them into one text to compare cost more).
            key = tuple(words)
            if not key or key in seen:
                continue
            seen.add(key)
            seq = [*map(word_ids.get, words)]
            if None in seq:  # new words: only they are stemmed and numbered
                seq = [
                    self._word_id(word) if wid is None else wid
                    for wid, word in zip(seq, words, strict=True)
                ]
            # Its distinct terms and their document frequencies are worked out when the
            # buffer is flushed, before anything reads them.
            self._pending_seq += seq  # type: ignore[arg-type]
            self._pending_seq_len.append(len(seq))
            kept.append(text)
        count = len(kept)
        if count:
            self._owner += [question_id] * count
            self._text += kept
            self._live += count
            self._version += count
            self._by_question[question_id] = first
            self.answers.upsert(question_id, answer)
            if len(self._pending_seq) >= self.FLUSH_AT:
                self._flush()
        if self.semantic is not None:
            self.semantic.upsert(question_id, kept, answer)

    def set_answer(self, question_id: str, answer: str) -> None:
        """Index ``answer`` as the answer text of the indexed question ``question_id`` (a
        knowledge base restored from a snapshot, whose index holds the phrasings only)."""
        if question_id not in self._by_question:
            return
        self._matched.clear()
        self.answers.upsert(question_id, answer)
        if self.semantic is not None:
            self.semantic.set_answer(question_id, answer)

    def remove(self, question_id: str) -> None:
        """Drop ``question_id`` from the index (no-op when absent)."""
        self._matched.clear()
        if self.semantic is not None:
            self.semantic.remove(question_id)
        self.answers.remove(question_id)
        pid = self._by_question.pop(question_id, None)
        if pid is None:
            return
        self._flush()
        owner = self._owner
        while pid < len(owner) and owner[pid] == question_id:
            self._version += 1
            owner[pid] = None
            for term in self._terms_of(pid):
                self._df[term] -= 1
            self._live -= 1
            self._dead += 1
            pid += 1
        if self._dead > 1000 and self._dead > self._live:
            self._compact()

    def _word_id(self, word: str) -> int:
        wid = self._word_ids.get(word)
        if wid is not None:
            return wid
        term = self._term_id(self._stem(word))
        wid = len(self._word_list)
        self._word_ids[word] = wid
        self._words[word] = term
        self._word_terms.append(term)
        self._word_list.append(word)
        self._file_spelling(word)
        if word in STOPWORDS:
            self._stop_terms.add(term)
        return wid

    def _file_spelling(self, word: str) -> None:
        """File a new word (the last id) where :meth:`_correct` looks for it."""
        self._words_by_length.setdefault(len(word), []).append(word)
        self._words_by_initial.setdefault(word[0], {}).setdefault(len(word), []).append(word)

    def _term_id(self, stem: str) -> int:
        term = self._term_ids.get(stem)
        if term is None:
            term = len(self._df)
            self._term_ids[stem] = term
            self._df.append(0)
        return term

    def _flush(self) -> None:
        """Move the append buffer into the arrays, and its postings into the delta."""
        if not self._pending_seq_len:
            return
        words = np.fromiter(
            self._pending_seq, _id_dtype(len(self._word_list)), len(self._pending_seq)
        )
        word_lengths = np.array(self._pending_seq_len, np.int64)
        count = len(word_lengths)
        self._pending_seq, self._pending_seq_len = [], []
        self._seq.extend(words)
        self._seq_at.extend(self._seq_at.view()[-1] + np.cumsum(word_lengths))
        # Each phrasing's distinct terms in the order first seen: the first place of every
        # (phrasing, term) pair, in the order of the words.
        if len(self._word_terms) > self._word_term_array.size:
            added = self._word_terms[self._word_term_array.size :]
            self._word_term_array.extend(np.array(added, np.int64))
        all_terms = self._word_term_array.view()[words]
        local = np.repeat(np.arange(count, dtype=np.int64), word_lengths)
        first = _first_places(local * len(self._df) + all_terms, count * len(self._df))
        terms = all_terms[first].astype(_id_dtype(len(self._df)))
        term_lengths = np.bincount(local[first], minlength=count)
        self._fwd.extend(terms)
        self._fwd_at.extend(self._fwd_at.view()[-1] + np.cumsum(term_lengths))
        counts = np.bincount(terms, minlength=len(self._df))
        touched = np.flatnonzero(counts)
        if 8 * len(touched) > len(counts):  # most terms: one vectorised sum
            self._df = (np.array(self._df, np.int64) + counts).tolist()
        else:
            df = self._df
            for term, added_df in zip(touched.tolist(), counts[touched].tolist(), strict=True):
                df[term] += added_df
        pids = np.arange(self._flushed, self._flushed + count, dtype=np.int32)
        self._delta_terms.extend(terms)
        self._delta_pids.extend(np.repeat(pids, term_lengths))
        self._flushed += count
        self._delta_sorted = None
        self._posting_arrays.clear()
        if self._delta_terms.size > max(self.MERGE_MIN, self.MERGE_SHARE * len(self._post_ids)):
            self._merge()

    def _ready(self) -> None:
        """Make the arrays current before they are read (a search, an export)."""
        self._flush()
        if self._delta_terms.size > self.SEARCH_DELTA:
            self._merge()

    def _merge(self) -> None:
        """Merge the delta into the CSR postings: one linear, vectorised pass.

        Every delta posting is of a newer phrasing than every merged one, so each term's
        postings are its merged ones followed by its delta ones, still in increasing order.
        """
        count = self._delta_terms.size
        if not count:
            return
        terms = len(self._df)
        delta_terms = self._delta_terms.view()
        order = np.argsort(delta_terms, kind="stable")
        delta_pids = self._delta_pids.view()[order]
        added = np.bincount(delta_terms, minlength=terms)
        old_at = self._post_at
        base = np.zeros(terms, np.int64)
        base[: len(old_at) - 1] = np.diff(old_at)
        new_at = np.zeros(terms + 1, np.int64)
        np.cumsum(base + added, out=new_at[1:])
        if not len(self._post_ids):
            merged = delta_pids
        else:
            # The i-th delta posting of term t goes after the merged ones of t: at
            # new_at[t] + base[t] + i; the merged postings keep their order in the rest.
            delta_at = np.zeros(terms + 1, np.int64)
            np.cumsum(added, out=delta_at[1:])
            places = np.repeat(new_at[:-1] + base - delta_at[:-1], added)
            places += np.arange(count, dtype=np.int64)
            merged = _empty(int(new_at[-1]), np.int32)
            keep = _empty(len(merged), bool)
            keep[:] = True
            keep[places] = False
            merged[keep] = self._post_ids
            merged[places] = delta_pids
        self._post_at, self._post_ids = new_at, merged
        self._delta_terms = _Column(np.uint16)
        self._delta_pids = _Column(np.int32)
        self._delta_sorted = None
        self._posting_arrays.clear()

    def _compact(self) -> None:
        """Renumber the phrasing tables without removed phrasings (amortised, rare).

        Terms and surface words are kept: their ids stay valid and document frequencies
        are rebuilt from the live phrasings.
        """
        self._flush()
        live = np.fromiter((o is not None for o in self._owner), bool, len(self._owner))
        seq_at, seq, fwd_at, fwd = self._live_rows(live)
        post_at, post_ids = _postings_of(fwd_at, fwd, len(self._df))
        live = np.flatnonzero(live)
        self._owner = [self._owner[pid] for pid in live.tolist()]
        self._text = [self._text[pid] for pid in live.tolist()]
        self._set_rows(seq_at, seq, fwd_at, fwd, post_at, post_ids)
        self._df = np.diff(post_at).tolist()

    def _live_rows(self, live: np.ndarray) -> tuple[np.ndarray, ...]:
        """Word and term arrays of the phrasings where ``live`` (a mask) holds, renumbered."""
        rows = []
        for at, flat in (
            (self._seq_at.view(), self._seq.view()),
            (self._fwd_at.view(), self._fwd.view()),
        ):
            lengths = np.diff(at)
            offsets = np.zeros(int(live.sum()) + 1, np.int64)
            np.cumsum(lengths[live], out=offsets[1:])
            rows += [offsets, flat[np.repeat(live, lengths)]]
        return tuple(rows)

    def _set_rows(
        self,
        seq_at: np.ndarray,
        seq: np.ndarray,
        fwd_at: np.ndarray,
        fwd: np.ndarray,
        post_at: np.ndarray,
        post_ids: np.ndarray,
    ) -> None:
        """Make these arrays the whole index of the phrasings in ``self._owner``."""
        count = len(self._owner)
        self._seq, self._seq_at = _Column(seq.dtype, seq), _Column(np.int64, seq_at)
        self._fwd, self._fwd_at = _Column(fwd.dtype, fwd), _Column(np.int64, fwd_at)
        self._post_at, self._post_ids = post_at, post_ids
        self._delta_terms = _Column(np.uint16)
        self._delta_pids = _Column(np.int32)
        self._delta_sorted = None
        self._posting_arrays.clear()
        self._normals.clear()
        self._flushed = count
        self._by_question = {}
        start = 0
        for pid in range(1, count + 1):
            if pid == count or self._owner[pid] != self._owner[start]:
                self._by_question[self._owner[start]] = start  # type: ignore[index]
                start = pid
        self._live, self._dead = count, 0
        self._version += 1

    # ----------------------------------------------------------------------------- storage

    def _terms_of(self, pid: int) -> list[int]:
        """The distinct terms of phrasing ``pid`` (flushed), in the order first seen."""
        at = self._fwd_at._data
        return self._fwd._data[at[pid] : at[pid + 1]].tolist()

    def _normals_of(self, pids: list[int]) -> list[str]:
        """The normalised text of each phrasing of ``pids`` (flushed): its words joined by
        spaces. Texts are kept once read (up to ``NORMAL_CACHE``); those not kept are read
        in one pass."""
        cache = self._normals
        found = [*map(cache.get, pids)]
        if None not in found:
            return found  # type: ignore[return-value]
        places = [place for place, normal in enumerate(found) if normal is None]
        wanted = np.array([pids[place] for place in places])
        at = self._seq_at._data
        starts = at[wanted]
        lengths = at[wanted + 1] - starts
        ends = lengths.cumsum()
        flat = np.arange(ends[-1]) + (starts - (ends - lengths)).repeat(lengths)
        word_list = self._word_list
        words = [word_list[w] for w in self._seq._data[flat].tolist()]
        if len(cache) + len(places) > self.NORMAL_CACHE:
            cache.clear()
        room = self.NORMAL_CACHE - len(cache)  # (a batch larger than the cache: its start)
        start = 0
        for place, end in zip(places, ends.tolist(), strict=True):
            normal = found[place] = " ".join(words[start:end])
            if room > 0:
                cache[pids[place]] = normal
                room -= 1
            start = end
        return found  # type: ignore[return-value]

    def _term_counts(self, pids: np.ndarray) -> np.ndarray:
        """How many distinct terms each of the phrasings ``pids`` (flushed) has."""
        at = self._fwd_at._data
        return at[pids + 1] - at[pids]

    def _postings_array(self, term: int) -> np.ndarray:
        """The phrasings holding ``term``, in increasing order (flushed ones)."""
        array = self._posting_arrays.get(term)
        if array is not None:
            return array
        at = self._post_at
        merged = (
            self._post_ids[at[term] : at[term + 1]] if term + 1 < len(at) else self._post_ids[:0]
        )
        if not self._delta_terms.size:
            return merged
        if self._delta_sorted is None:
            order = np.argsort(self._delta_terms.view(), kind="stable")
            self._delta_sorted = (self._delta_terms.view()[order], self._delta_pids.view()[order])
        terms, pids = self._delta_sorted
        low, high = np.searchsorted(terms, (term, term + 1))
        if high > low:
            merged = np.concatenate((merged, pids[low:high]))
        self._posting_arrays[term] = merged
        return merged

    # ----------------------------------------------------------------------------- snapshots

    def export_index(self) -> IndexState:
        """The index as plain values (live phrasings only, in index order), for a snapshot."""
        self._flush()
        live = np.fromiter((o is not None for o in self._owner), bool, len(self._owner))
        seq_at, seq, fwd_at, fwd = self._live_rows(live)
        post_at, post_ids = _postings_of(fwd_at, fwd, len(self._df))
        live = np.flatnonzero(live)
        answer_stems, answer_questions, answer_offsets, answer_terms = self.answers.export()
        return IndexState(
            stems=list(self._term_ids),
            words=list(self._word_list),
            word_terms=np.array(self._word_terms, _id_dtype(len(self._df))),
            owners=[self._owner[pid] for pid in live.tolist()],  # type: ignore[misc]
            texts=[self._text[pid] for pid in live.tolist()],
            word_offsets=seq_at,
            word_seq=seq,
            term_offsets=fwd_at,
            term_ids=fwd,
            posting_offsets=post_at,
            posting_ids=post_ids,
            answer_stems=answer_stems,
            answer_questions=answer_questions,
            answer_offsets=answer_offsets,
            answer_terms=answer_terms,
            answer_texts=[self.answers.text(question) for question in answer_questions],
        )

    def restore_index(self, state: IndexState) -> None:
        """Replace the index with ``state`` (from :meth:`export_index`), as if its phrasings
        had been added one by one, without normalising or stemming anything again: the
        arrays are used as they are."""
        self._matched.clear()
        self._term_ids = {stem: term for term, stem in enumerate(state.stems)}
        self._word_terms = state.word_terms.tolist()
        self._word_list = list(state.words)
        self._words = dict(zip(self._word_list, self._word_terms, strict=True))
        self._word_ids = {word: wid for wid, word in enumerate(self._word_list)}
        self._words_by_length, self._words_by_initial = {}, {}
        for word in self._word_list:
            self._file_spelling(word)
        self._stop_terms = {term for word, term in self._words.items() if word in STOPWORDS}
        self._owner = list(state.owners)
        self._text = list(state.texts)
        self._pending_seq, self._pending_seq_len = [], []
        self._word_term_array = _Column(np.int64)
        self._set_rows(
            state.word_offsets,
            state.word_seq,
            state.term_offsets,
            state.term_ids,
            state.posting_offsets,
            state.posting_ids,
        )
        self._df = np.diff(state.posting_offsets).tolist()
        self.answers.restore(
            state.answer_stems,
            state.answer_questions,
            state.answer_offsets,
            state.answer_terms,
            state.answer_texts,
        )

    # ----------------------------------------------------------------------------- scoring

    def _idf(self, term: int) -> float:
        df = self._df[term] if term >= 0 else 0
        n = max(self._live, 1)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _stop_cap(self) -> float:
        n = max(self._live, 1)
        floor = self.tuning.stopword_share * n
        return math.log1p((n - floor + 0.5) / (floor + 0.5)) if floor > 0 else math.inf

    def _weight(self, term: int, stop: bool) -> float:
        weight = self._idf(term)
        return min(weight, self._stop_cap()) * self.tuning.stopword_weight if stop else weight

    def _intent_terms(self) -> set[int]:
        """The terms of the question words that say what kind of answer is wanted."""
        return {self._words[word] for word in INTENT_WORDS if word in self._words}

    def _term_weights(self) -> list[float]:
        """Every term's weight (IDF, reduced for stopwords other than the question words of
        :data:`INTENT_WORDS`), current with the index."""
        if self._weights_version != self._version:
            df = np.asarray(self._df, dtype=np.float64)
            n = max(self._live, 1)
            weights = np.log1p((n - df + 0.5) / (df + 0.5))
            if self._stop_terms and self.tuning.stopword_share > 0:
                stops = list(self._stop_terms)
                weights[stops] = np.minimum(weights[stops], self._stop_cap())
            reduced = self._stop_terms - self._intent_terms()
            if reduced:
                weights[list(reduced)] *= self.tuning.stopword_weight
            self._weights = weights.tolist()
            self._weights_version = self._version
        return self._weights

    def _term_weight_array(self) -> np.ndarray:
        """:meth:`_term_weights` as an array."""
        weights = self._term_weights()
        if self._weights_array_version != self._weights_version:
            self._weights_array = np.array(weights)
            self._weights_array_version = self._weights_version
        return self._weights_array

    def _term_rows(self, size: int) -> np.ndarray:
        """A table of -1 by term id, at least ``size`` long (a scratch table: whoever sets
        entries resets them before returning)."""
        if len(self._rows_table) < size:
            self._rows_table = np.full(max(size, 2 * len(self._rows_table)), -1, np.int64)
        return self._rows_table

    def _term_marks(self, size: int) -> np.ndarray:
        """A table of False by term id, at least ``size`` long (a scratch table, as
        :meth:`_term_rows`)."""
        if len(self._marks_table) < size:
            self._marks_table = np.zeros(max(size, 2 * len(self._marks_table)), bool)
        return self._marks_table

    def _pool_terms(
        self, pool: np.ndarray, terms: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Which of the distinct ``terms`` each phrasing of ``pool`` holds (terms x pool),
        and each phrasing's total term weight (summed in the order of its terms)."""
        size = len(pool)
        held, lengths, _ = self._held_terms(pool)
        column = np.arange(size).repeat(lengths)
        term_weights = weights[held]
        mass = np.bincount(column, weights=term_weights, minlength=size)
        # Each held term's row among ``terms`` (-1: none), read from a table by term id (set
        # for these terms, then cleared).
        rows = self._term_rows(len(weights))
        rows[terms] = np.arange(len(terms))
        row = rows[held]
        rows[terms] = -1
        # A term that is not among ``terms`` marks row -1: an extra last row, left out. (Set
        # through flat indices: a negative one counts from the end, so row -1 is that row.)
        hits = np.zeros((len(terms) + 1, size), dtype=bool)
        flat = row * size
        flat += column
        hits.reshape(-1)[flat] = True
        return hits[:-1], mass

    def _held_terms(self, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct terms of the phrasings ``pids``, one after the other, with how many
        each has and where each one's start."""
        at = self._fwd_at._data
        starts = at[pids]
        lengths = at[pids + 1] - starts
        ends = lengths.cumsum()
        first = ends - lengths
        flat = np.arange(ends[-1]) + (starts - first).repeat(lengths)
        return self._fwd._data[flat], lengths, first

    def _missing_phrasing(
        self, pids: np.ndarray, query: list[int], weights: np.ndarray
    ) -> np.ndarray:
        """For each phrasing of ``pids``: its heaviest term absent from ``query`` (every term
        of the query) over its heaviest."""
        held, _, first = self._held_terms(pids)
        term_weights = weights[held]
        marks = self._term_marks(len(weights))
        query = [term for term in query if term >= 0]
        marks[query] = True
        in_query = marks[held]
        marks[query] = False
        heaviest = np.maximum.reduceat(term_weights, first)
        lacking = np.maximum.reduceat(np.where(in_query, 0.0, term_weights), first)
        return np.divide(lacking, heaviest, out=np.zeros(len(pids)), where=heaviest > 0)

    def _query_terms(self, words: Sequence[str], names: set[str]) -> list[_QueryTerm]:
        tuning = self.tuning
        found: dict[int, _QueryTerm] = {}
        unknown: list[_QueryTerm] = []
        # In a long message one misspelt word matters little; each look-up scans the
        # vocabulary, so fewer are made.
        corrections = tuning.max_corrections if len(words) <= 20 else 2
        weights = self._term_weights()
        df, word_term, most = self._df, self._words.get, tuning.max_query_terms
        for word in dict.fromkeys(words):
            term = word_term(word)
            if term is None:
                term = self._term_ids.get(self._stem(word))
            confidence = 1.0
            if term is None or df[term] == 0:
                stop = word in STOPWORDS
                if not stop and corrections > 0:
                    corrections -= 1
                    term, confidence = self._correct(word)
                if term is None or df[term] == 0:
                    # Never seen: it weighs like the rarest word, so a query about something
                    # the knowledge base does not mention scores low everywhere.
                    unknown.append(_QueryTerm(-1, self._weight(-1, stop), 0.0))
                    continue
            weight = weights[term]
            if word in names:
                weight *= tuning.name_boost
            known = found.get(term)
            if known is None or known.confidence < confidence:
                found[term] = _QueryTerm(term, weight, confidence)
            if len(found) + len(unknown) >= most:
                break
        return [*found.values(), *unknown]

    def _join_compounds(self, words: list[str]) -> list[str]:
        """Join two adjacent words that the index knows as one ("strike through")."""
        joined: list[str] = []
        known, df = self._words, self._df
        index, last = 0, len(words) - 1
        while index <= last:
            word = words[index]
            if index < last and word not in STOPWORDS:
                compound = word + words[index + 1]
                term = known.get(compound)
                if term is not None and df[term] > 0 and compound.isalpha():
                    joined.append(compound)
                    index += 2
                    continue
            joined.append(word)
            index += 1
        return joined

    def _correct(self, word: str) -> tuple[int | None, float]:
        """Map a misspelt word onto the closest known word, with a confidence in (0, 1]."""
        if len(word) < self.tuning.min_typo_length or word.isdigit() or not self._word_list:
            return None, 0.0
        # A short word is one letter away from many others ("bread", "read"): it is only
        # corrected to a word with the same first letter, where slips are rarer.
        by_length = (
            self._words_by_length
            if len(word) > 5
            else self._words_by_initial.get(word[0], _NO_SPELLINGS)
        )
        best = self._closest_spelling(word, by_length)
        if best is None:
            return None, 0.0
        # Stopwords are short and many, so a word becomes one only a slip away ("wher",
        # "waht"): "donate" is not "dont" misspelt, and left unknown it keeps its weight.
        if best[0] in STOPWORDS and OSA.distance(word, best[0]) > 1:
            return None, 0.0
        term = self._words[best[0]]
        if self._df[term] == 0:
            return None, 0.0
        # Squared, so a guess counts for less than a word typed right.
        return term, (best[1] / 100.0) ** 2

    def _closest_spelling(
        self, word: str, by_length: dict[int, list[str]]
    ) -> tuple[str, float] | None:
        """The known word closest to ``word`` by ``fuzz.ratio`` (at least the typo cutoff;
        of equals, the first known) among ``by_length``'s words, with its ratio: what one
        ``extractOne`` over all of them in word id order gives.

        Two words' ratio is at most ``200 * shorter / (sum of lengths)`` (their Indel distance
        is at least the difference of their lengths), so only the lengths that can reach the
        cutoff are read, nearest first: a third to a half of the vocabulary, not all of it."""
        cutoff = self.tuning.typo_cutoff
        size = len(word)
        best: tuple[float, int, str] | None = None  # ratio, word id, word
        for length in sorted(by_length, key=lambda n: abs(n - size)):
            if 200.0 * min(length, size) / (length + size) < cutoff - 1e-6:
                continue
            found = process.extractOne(
                word, by_length[length], scorer=fuzz.ratio, score_cutoff=best[0] if best else cutoff
            )
            if found is None:
                continue
            place = self._word_ids[found[0]]
            if best is None or found[1] > best[0] or (found[1] == best[0] and place < best[1]):
                best = (found[1], place, found[0])
        return None if best is None else (best[2], best[0])

    def _pool(self, terms: list[_QueryTerm]) -> np.ndarray:
        """Phrasing ids worth scoring in full: those sharing the most query weight."""
        known = [t for t in terms if t.term >= 0]
        if not known:
            return np.empty(0, dtype=np.int64)
        limit = max(50, int(self.tuning.common_fraction * self._live))
        budget = self.tuning.posting_budget
        # Rarest words first, within a budget of postings: the words that single out a
        # question are rare, and the common ones still count when the pool is re-scored.
        known.sort(key=lambda t: self._df[t.term])
        if self._df[known[0].term] > budget:
            return self._common_pool(known)
        selective: list[_QueryTerm] = []
        read = 0
        for term in known:
            df = self._df[term.term]
            if selective and (df > limit or read + df > budget):
                break
            selective.append(term)
            read += df
        arrays = [self._postings_array(t.term) for t in selective]
        weights = np.array([t.weight * t.confidence for t in selective]).repeat(
            [len(a) for a in arrays]
        )
        ids = np.concatenate(arrays)
        if len(ids) == 0:
            return ids
        # A tally by sorting costs by the postings read, a dense one by the phrasings held:
        # sorting wins below about one posting in 100 phrasings at 40,000 phrasings and one
        # in 50 at 400,000 (measured), so below one in 64. Both sum in the same order.
        if len(ids) * 64 < len(self._owner):
            unique, sums = _sparse_tally(ids, weights)
        else:  # many postings: a dense tally is cheaper than sorting them
            sums = np.bincount(ids, weights=weights, minlength=len(self._owner))
            unique = (sums != 0).nonzero()[0]
            sums = sums[unique]
        pool = self.tuning.candidate_pool
        if len(unique) > pool:
            unique = unique[(-sums).argpartition(pool)[:pool]]
            unique.sort()
        return unique

    def _common_pool(self, known: list[_QueryTerm]) -> np.ndarray:
        """Candidates when every word of the query is common ("what is AI?").

        Reading every posting would cost milliseconds in a large index; the phrasings that
        hold the two rarest words are enough, and the shortest of them fit best.
        """
        ids = self._postings_array(known[0].term)
        if len(known) > 1:
            both = np.intersect1d(ids, self._postings_array(known[1].term), assume_unique=True)
            if len(both):
                ids = both
        pool = self.tuning.candidate_pool
        if len(ids) > pool:
            lengths = self._term_counts(ids)
            ids = np.sort(ids[np.argpartition(lengths, pool)[:pool]])
        return ids

    def search(self, text: str, k: int = 5, *, evidence: bool = True) -> list[Candidate]:
        """The ``k`` best-matching questions for ``text``, best first. ``evidence`` False
        leaves out what the answers say of the query (``answer_coverage``: a feature for
        deciding, not part of the score), for a caller that wants the order alone."""
        if self.semantic is None or k <= 0:
            found = self._lexical_search(text, k)
            return self._answer_evidence(text, found) if evidence else found
        normal = normalize(text)
        if not normal or not self._live:
            return []
        words = self._lexical_search(text, max(k, self.tuning.semantic_pool))
        found = self._semantic_search(self.semantic.encode(text), normal, words, k)
        return self._answer_evidence(text, found) if evidence else found

    def _answer_evidence(self, text: str, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates with how much of the query their answers hold."""
        if not candidates or not len(self.answers):
            return candidates
        query = self.answers.query(normalize(text))
        return [
            replace(c, answer_coverage=self.answers.coverage(query, c.question_id))
            for c in candidates
        ]

    def _semantic_search(
        self, query: np.ndarray, normal: str, words: list[Candidate], k: int
    ) -> list[Candidate]:
        """Re-rank the word candidates with the cosine to the query's vector ``query``, adding
        the closest questions by meaning that share no word."""
        assert self.semantic is not None
        weight = self.tuning.semantic_weight
        found: dict[str, Candidate] = {}
        for candidate in words:
            cosine, _ = self.semantic.cosine(query, candidate.question_id)
            score = (1 - weight) * candidate.score + weight * max(cosine, 0.0)
            found[candidate.question_id] = replace(
                candidate,
                score=score,
                cosine=cosine,
                answer_cosine=self.semantic.answer_cosine(query, candidate.question_id),
            )
        unknown = words[0].unknown_share if words else 1.0
        content = words[0].content_words if words else len(normal.split())
        # A question the words did not find scores at most ``weight`` times its cosine: when
        # the words' k-th best already scores more than any cosine can give, none can enter
        # the k best, and the scan over every vector is skipped.
        scores = sorted((c.score for c in found.values()), reverse=True)
        reachable = len(scores) < k or scores[k - 1] <= weight * COSINE_BOUND
        for question_id, cosine, phrasing in self.semantic.nearest(query, k) if reachable else ():
            if question_id not in found:
                found[question_id] = Candidate(
                    question_id,
                    weight * max(cosine, 0.0),
                    phrasing,
                    0.0,
                    Indel.normalized_similarity(normal, normalize(phrasing)),
                    0.0,
                    0.0,
                    False,
                    1.0,
                    1.0,
                    unknown,
                    content,
                    0.0,
                    cosine,
                    answer_cosine=self.semantic.answer_cosine(query, question_id),
                )
        ranked = sorted(found.values(), key=lambda c: (-c.score, c.question_id))
        return ranked[:k]

    def _lexical_search(self, text: str, k: int) -> list[Candidate]:
        """The ``k`` best questions by words alone."""
        scored = self._score_pool(text) if k > 0 else None
        if scored is None:
            return []
        best = self._best(scored, k)
        if not best:
            return []
        features = self._features(scored, [index for _, (_, _, index) in best])
        lexical, cover_q, cover_d = scored.lexical, scored.cover_q, scored.cover_d
        return [
            Candidate(
                owner,
                score,
                self._text[scored.pids[index]],
                lexical[index],
                similarity,
                float(cover_q[index]),
                float(cover_d[index]),
                bool(features.content[n]),
                float(features.missing[n]),
                float(features.missing_phrasing[n]),
                features.unknown_share,
                features.content_words,
                float(features.shared[n]),
            )
            for n, (owner, (score, similarity, index)) in enumerate(best)
        ]

    def ranking(self, text: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best-matching questions for ``text`` with their scores, best first: the
        ids and scores of :meth:`search`'s candidates, without working out what else a
        candidate tells (cheaper, for a caller that wants the order alone)."""
        if self.semantic is not None:
            return [(c.question_id, c.score) for c in self.search(text, k, evidence=False)]
        scored = self._score_pool(text) if k > 0 else None
        if scored is None:
            return []
        return [(owner, score) for owner, (score, _, _) in self._best(scored, k)]

    def scores_among(self, text: str, keep: Callable[[str], bool]) -> dict[str, float]:
        """The score of every question that ``keep`` accepts and the matcher ranks for
        ``text`` (any score above 0), as :meth:`ranking` with no limit would give it, found by
        scoring only those questions' phrasings in the pool of ``text``: cheap when ``keep``
        accepts few. With the semantic tier, which may rank questions sharing no word with the
        text, among the best ``SEMANTIC_SCORES`` of :meth:`ranking`."""
        if self.semantic is not None:
            last = self._last_ranked
            if last is None or last[0] != text or last[1] != self._version:
                last = self._last_ranked = (
                    text,
                    self._version,
                    self.ranking(text, self.SEMANTIC_SCORES),
                )
            return {owner: score for owner, score in last[2] if score > 0.0 and keep(owner)}
        self._ready()
        found = self._pool_of(text)
        if found is None:
            return {}
        normal, terms, pool = found
        owner_of = self._owner
        chosen: list[int] = []
        last, kept = None, False  # a question's phrasings are neighbours: asked once each
        for pid in pool.tolist():
            owner = owner_of[pid]
            if owner != last:
                last, kept = owner, owner is not None and keep(owner)
            if kept:
                chosen.append(pid)
        if not chosen:
            return {}
        scored = self._score_phrasings(normal, terms, np.array(chosen, dtype=np.int64))
        if scored is None:
            return {}
        return {
            owner: score for owner, (score, _, _) in self._best(scored, len(chosen)) if score > 0.0
        }

    def _pool_of(self, text: str) -> tuple[str, list[_QueryTerm], np.ndarray] | None:
        """The normalised text, its words and the phrasings worth scoring for it (None: no
        words, or none known); the index is ready. Kept for the last text."""
        last = self._last_pool
        if last is not None and last[0] == text and last[1] == self._version:
            return last[2]
        found = None
        normal = normalize(text)
        if normal and self._live:
            terms = self._query_terms(self._join_compounds(normal.split()), name_words(text))
            if sum(t.weight for t in terms) > 0:
                found = (normal, terms, self._pool(terms))
        self._last_pool = (text, self._version, found)
        return found

    def _score_pool(self, text: str) -> _PoolScores | None:
        """The word score of every phrasing in the pool of ``text`` (None: no pool)."""
        self._ready()
        last = self._last_scored
        if last is not None and last[0] == text and last[1] == self._version:
            return last[2]
        scored = self._score_text(text)
        self._last_scored = (text, self._version, scored)
        return scored

    def _score_text(self, text: str) -> _PoolScores | None:
        """:meth:`_score_pool`, worked out (the index is ready)."""
        found = self._pool_of(text)
        return None if found is None else self._score_phrasings(*found)

    def _score_phrasings(
        self, normal: str, terms: list[_QueryTerm], pool: np.ndarray
    ) -> _PoolScores | None:
        """The word score of each phrasing of ``pool`` (sorted ids; whole questions: a
        question's phrasings there are all in it or none) for the query of ``normal`` and
        ``terms`` (None: nothing to score)."""
        query_mass = sum(t.weight for t in terms)
        owner_of = self._owner
        pids = pool.tolist()
        owners = [owner_of[pid] for pid in pids]
        if self._dead and None in owners:  # removed phrasings, not compacted yet
            pool = pool[[owner is not None for owner in owners]]
            pids = pool.tolist()
            owners = [owner for owner in owners if owner is not None]
        size = len(pids)
        if not size:
            return None
        known = [t for t in terms if t.term >= 0]
        if len(known) > self.tuning.max_scored_terms:
            # A long message: its lightest words change no ranking but cost a lookup each.
            known = sorted(known, key=lambda t: -t.weight)[: self.tuning.max_scored_terms]
        # Which query words each pooled phrasing holds (a words x pool matrix), read from the
        # phrasings' own term lists; sums over words are taken in the order of the words.
        # (Methods and ufuncs rather than numpy's Python-level functions: on arrays this
        # small, their dispatch would cost more than the arithmetic.)
        term_weights = self._term_weight_array()
        ids = np.array([t.term for t in known], dtype=np.int64)
        hits, mass = self._pool_terms(pool, ids, term_weights)
        weight = np.array([t.weight for t in known])
        confidence = np.array([t.confidence for t in known])
        strength = (weight * confidence)[:, None]
        add = np.add.reduce
        matched = add(hits * strength, axis=0)
        # A name weighs more in the query than in the index: the phrasings holding it weigh
        # more too (nothing to add when the query names nothing).
        boost = weight - term_weights[ids]
        if boost.any():
            mass += add(hits * boost[:, None], axis=0)
        sibling = self.tuning.sibling_credit
        if sibling:
            # Whether any phrasing of the same question holds the word. A question's
            # phrasings have consecutive ids, so in the (sorted) pool they are neighbours.
            # Where each question's places start, and each place's question numbered in pool
            # order (a running count of the starts).
            starts = [0, *[p for p, o in enumerate(owners[1:], 1) if o != owners[p - 1]]]
            if len(starts) == size:  # one phrasing per question: each its own group
                held = hits
            else:
                numbers = np.zeros(size, np.intp)
                numbers[starts[1:]] = 1
                held = np.logical_or.reduceat(hits, starts, axis=1)[:, numbers.cumsum()]
            group_matched = add(held * strength, axis=0)
        else:
            held = hits
        cover_q = matched / query_mass
        cover_d = np.divide(matched, mass, out=np.zeros(size), where=mass > 0)
        if sibling:
            # Question-level evidence: words of the query that another phrasing of the same
            # question holds count in part, as people reword across the phrasings.
            cover_q = cover_q + sibling * (group_matched / query_mass - cover_q)
        beta2 = self.tuning.coverage_beta**2
        denominator = beta2 * cover_d + cover_q
        lexical = np.divide(
            (1 + beta2) * cover_q * cover_d,
            denominator,
            out=np.zeros(size),
            where=denominator > 0,
        )
        order = (-lexical).argsort(kind="stable")
        return _PoolScores(
            normal,
            pids,
            owners,
            lexical.tolist(),
            order.tolist(),
            lexical[order],
            cover_q,
            cover_d,
            terms,
            known,
            weight,
            confidence,
            hits,
            held,
            term_weights,
        )

    def _features(self, scored: _PoolScores, places: list[int]) -> _PoolFeatures:
        """The features of the phrasings at ``places`` in a scored pool (arrays in the order
        of ``places``): worked out for the candidates kept, not for the whole pool."""
        terms, known, weight, confidence = (
            scored.terms,
            scored.known,
            scored.weight,
            scored.confidence,
        )
        at = np.array(places, dtype=np.int64)
        hits, held = scored.hits[:, at], scored.held[:, at]
        content_words_at = np.array([t.term not in self._stop_terms for t in known])
        content = hits[content_words_at].any(axis=0)  # shares a word not a stopword
        ids = np.array([t.term for t in known], dtype=np.int64)
        rarity = (scored.term_weights[ids] * confidence)[content_words_at, None]
        # The rarest content word the question shares, and its heaviest query word it lacks.
        shared = np.maximum.reduce(held[content_words_at] * rarity, axis=0, initial=0.0)
        missing = np.maximum.reduce(
            np.where(held, (weight * (1 - confidence))[:, None], weight[:, None]),
            axis=0,
            initial=0.0,
        )
        # A shared word weighs the same on both sides (the query's weight, which may be
        # raised for a name), so both coverages speak of the same words.
        query_mass = sum(t.weight for t in terms)
        unknown_mass = sum(t.weight for t in terms if t.term < 0)
        heaviest = max(t.weight for t in terms)
        np.maximum(missing, max((t.weight for t in terms if t.term < 0), default=0.0), out=missing)
        missing /= heaviest
        shared /= self._idf(-1)
        # A phrasing made only of common words ("Who are you?") is still matched by the same
        # words, all of them, both ways.
        content |= (scored.cover_q[at] >= 0.999) & (scored.cover_d[at] >= 0.999)
        return _PoolFeatures(
            content,
            missing,
            self._missing_phrasing(
                np.array([scored.pids[place] for place in places], dtype=np.int64),
                [t.term for t in terms],
                scored.term_weights,
            ),
            shared,
            unknown_mass / query_mass,
            sum(1 for t in terms if t.term < 0 or t.term not in self._stop_terms),
        )

    def _best(self, scored: _PoolScores, k: int) -> list[tuple[str, tuple[float, float, int]]]:
        """The ``k`` best questions of a scored pool, best first (ties by id): each with its
        best phrasing's score, character similarity and place in the pool."""
        # Character similarity can add at most (1 - lexical_weight): only phrasings whose
        # lexical score leaves them a chance are compared character by character.
        lexical_weight = self.tuning.lexical_weight
        rest = 1 - lexical_weight
        pids, owners, normal, order, ranked = (
            scored.pids,
            scored.owners,
            scored.normal,
            scored.order,
            scored.ranked,
        )
        # The phrasings with a word score, in the order they are read (a prefix of it), and
        # the most each can score.
        bounds = (lexical_weight * ranked[ranked > 0] + rest).tolist()
        # The best phrasing of each question, as (score, similarity, place in the pool): only
        # the k questions kept become Candidates.
        best: dict[str, tuple[float, float, int]] = {}
        # The k best questions so far as a min-heap of (score, question): its least is the
        # floor no unread phrasing can beat. A question that scores more with a later phrasing
        # is pushed again and its older entry is stale, dropped when it comes to the top.
        heap: list[tuple[float, str]] = []
        kept: set[str] = set()
        floor = -1.0
        # Similarities (and so scores) are worked out in batches, in the order they are read:
        # one call into rapidfuzz and one numpy expression per batch, not per phrasing. The
        # first batch is as many as k questions are likely to need.
        first = max(self.SIMILARITY_BATCH, 3 * k)
        place, count = 0, len(bounds)
        while place < count and bounds[place] >= floor:
            end = place + max(place, first)
            found = process.cdist(
                (normal,),
                self._normals_of([pids[i] for i in order[place:end]]),
                scorer=Indel.normalized_similarity,
                dtype=np.float64,
            )[0]
            scores = (lexical_weight * ranked[place:end] + rest * found).tolist()
            read = zip(bounds[place:end], scores, found.tolist(), order[place:end], strict=False)
            place = end
            for bound, score, similarity, index in read:
                if bound < floor:
                    place = count  # read no further
                    break
                owner = owners[index]
                current = best.get(owner)
                if current is not None and score <= current[0]:
                    continue
                best[owner] = (score, similarity, index)
                if owner in kept or len(kept) < k:
                    kept.add(owner)
                    heapq.heappush(heap, (score, owner))
                elif score > floor:  # it takes the place of the least of the k
                    heapq.heappush(heap, (score, owner))
                    kept.add(owner)
                    while True:
                        least, question = heapq.heappop(heap)
                        if question in kept and best[question][0] == least:
                            kept.remove(question)
                            break
                else:
                    continue
                while heap[0][1] not in kept or best[heap[0][1]][0] != heap[0][0]:
                    heapq.heappop(heap)  # stale
                if len(kept) == k:
                    floor = heap[0][0]
        return sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:k]

    # ----------------------------------------------------------------------------- deciding

    def decide(
        self,
        query: str,
        candidates: Sequence[Candidate],
        model: AbstentionModel | None = None,
    ) -> MatchResult:
        """Turn ranked candidates into answer, suggest or no match, and say why.

        ``model`` (default: the matcher's own) gives the probability that the best candidate
        is the question asked; the bot answers from the configured confidence on.
        """
        limits = self.thresholds
        if not candidates:
            return MatchResult(query, Decision.NONE, (), 0.0, "no stored question shares a word")
        chosen = self.model_for(model)
        tier = "semantic" if "cosine" in chosen.names else "lexical"
        if chosen.ranker is not None:
            candidates = chosen.ranker.rerank(candidates)
        best = candidates[0]
        runner_up = candidates[1].score if len(candidates) > 1 else 0.0
        margin = best.score - runner_up
        if not best.shares_content and tier == "lexical":
            reason = "it shares only common words such as 'what' or 'how' with stored questions"
            return MatchResult(query, Decision.NONE, tuple(candidates), margin, reason)
        share = limits.answerable_share or None
        probability = chosen.probability(candidates, share)
        if probability >= limits.confidence:
            lead = (
                f"{margin:.2f} ahead of the next question"
                if margin >= 0
                else f"put first by the fitted re-ranker over a question scoring {-margin:.2f} more"
            )
            reason = (
                f"probability {probability:.2f} that this is the question asked "
                f"(answers from {limits.confidence:.2f}; {tier} tier); score {best.score:.2f}, "
                f"{lead}"
            )
            return MatchResult(
                query, Decision.ANSWER, tuple(candidates), margin, reason, probability, tier
            )
        # A choice must share a word that singles questions out, not only a frame word, and
        # not lack the query's most distinctive word ("pizza" in "recommend a good pizza").
        shown = tuple(
            c
            for c in candidates[: limits.max_suggestions]
            if c.score >= limits.suggest_threshold
            and c.shares_content
            and c.shared_rarity >= DISTINCTIVE_RARITY
            and c.missing_query < 1.0  # it has the query's heaviest word, or a part of it
        )
        unsure = (
            f"probability {probability:.2f} that the best question is the one asked is "
            f"below {limits.confidence:.2f} ({tier} tier)"
        )
        if shown:
            return MatchResult(query, Decision.SUGGEST, shown, margin, unsure, probability, tier)
        if best.score < limits.suggest_threshold:
            reason = f"best score {best.score:.2f} is below {limits.suggest_threshold:.2f}"
        else:
            reason = f"{unsure}, and no close question shares a distinctive word with it"
        return MatchResult(
            query, Decision.NONE, tuple(candidates), margin, reason, probability, tier
        )

    def model_for(self, model: AbstentionModel | None = None) -> AbstentionModel:
        """The model that decides (``model``, default the matcher's own), for this tier."""
        chosen = model or self.model
        if self.semantic is not None:
            chosen = chosen.semantic or chosen
        return chosen

    def match(self, text: str, k: int = 5) -> MatchResult:
        """Search and decide in one call (on at least ``rerank_pool`` candidates when the
        model re-ranks them; ``k`` of them are kept). The last ``MATCH_CACHE`` results are
        kept until the index changes, each with what decided it: a model, thresholds or
        tuning set since (a calibration applied, a test) is not answered from them."""
        key = (text, k)
        deciders = (self.model, self.thresholds, self.tuning, self.semantic)
        kept = self._matched.pop(key, None)
        if kept is None or any(a is not b for a, b in zip(kept[0], deciders, strict=True)):
            model = self.model_for()
            pool = self.tuning.rerank_pool if model.ranker is not None else 0
            # The answers' words are looked up only for a model that reads them (not the word
            # tier's shipped ones): a lookup per candidate on every message otherwise.
            found = self.search(text, k=max(k, 2, pool), evidence=model.reads_answer_words)
            result = self.decide(text, found)
            kept = (deciders, replace(result, candidates=result.candidates[: max(k, 2)]))
            if len(self._matched) >= self.MATCH_CACHE:
                del self._matched[next(iter(self._matched))]  # the least recently used
        self._matched[key] = kept  # the most recently used last
        return kept[1]


def _sorted_runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``keys`` (non-negative int64, small enough to share an int64 with their place) sorted
    stably in one pass: each key is packed with its place into one integer and the lot sorted
    once (its place breaks a tie), about twice as fast as a stable argsort. The sorted keys,
    each one's place in ``keys``, and where each run of equal keys starts."""
    shift = len(keys).bit_length()
    packed = np.sort((keys << shift) | np.arange(len(keys), dtype=np.int64))
    values = packed >> shift
    starts = np.empty(len(packed), bool)
    starts[:1] = True
    np.not_equal(values[1:], values[:-1], out=starts[1:])
    return values, packed & ((1 << shift) - 1), starts


def _first_places(keys: np.ndarray, bound: int) -> np.ndarray:
    """Where each distinct value of ``keys`` (int64, below ``bound``) first occurs, in
    increasing order: ``np.unique(keys, return_index=True)[1]``, sorted, by
    :func:`_sorted_runs` (keys too large to pack with their place take np.unique)."""
    if bound.bit_length() + len(keys).bit_length() > 63:
        first = np.unique(keys, return_index=True)[1]
    else:
        _, places, starts = _sorted_runs(keys)
        first = places[starts]
    first.sort()
    return first


def _sparse_tally(ids: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``ids`` (non-negative int32) in increasing order, and the sum of
    the ``weights`` of each: what ``np.bincount(ids, weights)`` holds where it is not zero,
    each sum taken in the order of ``ids`` as bincount does (:func:`_sorted_runs` keeps each
    id's postings in their order), without an array as long as the largest id."""
    values, places, starts = _sorted_runs(ids.astype(np.int64))
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[places] = starts.cumsum() - 1
    return values[starts], np.bincount(inverse, weights=weights)


def _postings_of(at: np.ndarray, terms: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR postings (offsets by term, int32 phrasing ids in increasing order) of the
    phrasings whose distinct terms are ``terms[at[i]:at[i + 1]]``."""
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum(np.bincount(terms, minlength=count), out=offsets[1:])
    pids = np.repeat(np.arange(len(at) - 1, dtype=np.int32), np.diff(at))
    return offsets, pids[np.argsort(terms, kind="stable")]
