"""The matcher as it was before its index was made compact (lists of tuples and of postings).

Kept verbatim, apart from this docstring, as the reference that ``test_index_equivalence``
compares the compact index against: both must rank every query the same, with the same
scores. A change to the scoring itself belongs in both files (or this reference is
retired once the compact index has proved itself).
"""
from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import snowballstemmer
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Indel

from bot.config import MatchSettings
from bot.knowledge.abstain import AbstentionModel, default_model
from bot.knowledge.matcher import INTENT_WORDS
from bot.knowledge.text import normalize

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
        self._stem = snowballstemmer.stemmer("english").stemWord
        self._memo: dict[str, str] = {}
        self.limit = limit

    def __call__(self, word: str) -> str:
        stem = self._memo.get(word)
        if stem is None:
            stem = self._stem(word) if word.isascii() else word
            if len(self._memo) < self.limit and len(word) <= self.MEMO_WORD:
                self._memo[word] = stem
        return stem


@dataclass
class _QueryTerm:
    term: int  # term id, or -1 for a word the index has never seen
    weight: float  # weight of the word in the query
    confidence: float  # 1.0 for an exact word, less for a corrected typo


@dataclass(frozen=True)
class IndexState:
    """A matcher's index as plain values: what :mod:`bot.knowledge.snapshot` stores."""

    stems: list[str]  # term id -> stem
    words: list[str]  # surface words, in the order first seen
    word_terms: np.ndarray  # int64: the term of each word
    owners: list[str]  # per phrasing, in index order: its question
    texts: list[str]
    normals: list[str]
    term_offsets: np.ndarray  # int64, phrasings + 1: where each phrasing's terms start
    term_ids: np.ndarray  # int64: every phrasing's distinct terms, concatenated
    posting_offsets: np.ndarray  # int64, terms + 1: where each term's postings start
    posting_ids: np.ndarray  # int64: the phrasings holding each term, in increasing order


class Matcher:
    """An in-memory index of question phrasings that can be updated one question at a time."""

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
        # Terms (stems): id by stem, document frequency, postings (phrase ids, may hold
        # removed phrases until compaction) and a numpy copy of each posting list.
        self._term_ids: dict[str, int] = {}
        self._df: list[int] = []
        self._postings: list[list[int]] = []
        self._posting_arrays: dict[int, np.ndarray] = {}
        # Surface words seen, for typo correction: word -> term id, plus a list for rapidfuzz.
        self._words: dict[str, int] = {}
        self._word_list: list[str] = []
        self._words_by_initial: dict[str, list[str]] = {}
        self._stop_terms: set[int] = set()  # terms that stem from a stopword
        # Phrasings: owner question (None once removed), text, normalised text, term ids.
        self._owner: list[str | None] = []
        self._text: list[str] = []
        self._normal: list[str] = []
        self._terms: list[tuple[int, ...]] = []
        self._by_question: dict[str, list[int]] = {}
        self._live = 0
        self._dead = 0
        # Word weights depend on document frequencies, so they are recomputed (vectorised)
        # only when the index has changed; a phrasing's total weight is cached likewise.
        self._version = 0
        self._weights: list[float] = []
        self._weights_version = -1
        self._mass: list[float] = []
        self._mass_version: list[int] = []

    # ----------------------------------------------------------------------------- updates

    def __len__(self) -> int:
        return len(self._by_question)

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._by_question

    @property
    def phrasing_count(self) -> int:
        """How many phrasings are indexed."""
        return self._live

    def upsert(self, question_id: str, phrasings: Iterable[str]) -> None:
        """Index ``question_id`` under ``phrasings``, replacing what it had before."""
        self.remove(question_id)
        ids: list[int] = []
        seen: set[str] = set()
        for text in phrasings:
            normal = normalize(text)
            if not normal or normal in seen:
                continue
            seen.add(normal)
            ids.append(self._add_phrasing(question_id, text, normal))
        if ids:
            self._by_question[question_id] = ids
        if self.semantic is not None:
            self.semantic.upsert(question_id, [self._text[pid] for pid in ids])

    def remove(self, question_id: str) -> None:
        """Drop ``question_id`` from the index (no-op when absent)."""
        if self.semantic is not None:
            self.semantic.remove(question_id)
        for pid in self._by_question.pop(question_id, ()):
            self._version += 1
            self._owner[pid] = None
            for term in self._terms[pid]:
                self._df[term] -= 1
            self._live -= 1
            self._dead += 1
        if self._dead > 1000 and self._dead > self._live:
            self._compact()

    def _add_phrasing(self, question_id: str, text: str, normal: str) -> int:
        pid = len(self._owner)
        terms: list[int] = []
        for word in normal.split():
            term = self._words.get(word)
            if term is None:
                term = self._term_id(self._stem(word))
                self._words[word] = term
                self._word_list.append(word)
                self._words_by_initial.setdefault(word[0], []).append(word)
                if word in STOPWORDS:
                    self._stop_terms.add(term)
            terms.append(term)
        unique = tuple(dict.fromkeys(terms))
        for term in unique:
            self._df[term] += 1
            self._postings[term].append(pid)
            self._posting_arrays.pop(term, None)
        self._version += 1
        self._mass.append(0.0)
        self._mass_version.append(-1)
        self._owner.append(question_id)
        self._text.append(text)
        self._normal.append(normal)
        self._terms.append(unique)
        self._live += 1
        return pid

    def _term_id(self, stem: str) -> int:
        term = self._term_ids.get(stem)
        if term is None:
            term = len(self._df)
            self._term_ids[stem] = term
            self._df.append(0)
            self._postings.append([])
        return term

    def _compact(self) -> None:
        """Renumber the phrasing tables without removed phrasings (amortised, rare).

        Terms and surface words are kept: their ids stay valid and document frequencies
        are rebuilt from the live phrasings.
        """
        live = [pid for pid, owner in enumerate(self._owner) if owner is not None]
        entries = [(self._owner[pid], self._text[pid], self._normal[pid]) for pid in live]
        self._df = [0] * len(self._df)
        self._postings = [[] for _ in self._df]
        self._posting_arrays.clear()
        self._owner, self._text, self._normal, self._terms = [], [], [], []
        self._mass, self._mass_version = [], []
        self._by_question.clear()
        self._live = self._dead = 0
        for owner, text, normal in entries:
            assert owner is not None
            pid = self._add_phrasing(owner, text, normal)
            self._by_question.setdefault(owner, []).append(pid)

    # ----------------------------------------------------------------------------- snapshots

    def export_index(self) -> IndexState:
        """The index as plain values (live phrasings only, in index order), for a snapshot."""
        live = [pid for pid, owner in enumerate(self._owner) if owner is not None]
        offsets = np.zeros(len(live) + 1, dtype=np.int64)
        np.cumsum([len(self._terms[pid]) for pid in live], out=offsets[1:])
        flat = np.array([term for pid in live for term in self._terms[pid]], dtype=np.int64)
        # Postings: the phrasings holding each term, in increasing order (a stable sort of
        # the (phrasing, term) pairs by term).
        pids = np.repeat(np.arange(len(live), dtype=np.int64), np.diff(offsets))
        posting_offsets = np.zeros(len(self._term_ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(flat, minlength=len(self._term_ids)), out=posting_offsets[1:])
        return IndexState(
            stems=list(self._term_ids),
            words=list(self._word_list),
            word_terms=np.fromiter(
                (self._words[word] for word in self._word_list), np.int64, len(self._word_list)
            ),
            owners=[self._owner[pid] for pid in live],  # type: ignore[misc]
            texts=[self._text[pid] for pid in live],
            normals=[self._normal[pid] for pid in live],
            term_offsets=offsets,
            term_ids=flat,
            posting_offsets=posting_offsets,
            posting_ids=pids[np.argsort(flat, kind="stable")],
        )

    def restore_index(self, state: IndexState) -> None:
        """Replace the index with ``state`` (from :meth:`export_index`), as if its phrasings
        had been added one by one, without normalising or stemming anything again."""
        terms_count = len(state.stems)
        count = len(state.owners)
        self._term_ids = {stem: term for term, stem in enumerate(state.stems)}
        self._words = dict(zip(state.words, state.word_terms.tolist(), strict=True))
        self._word_list = list(state.words)
        self._words_by_initial = {}
        for word in self._word_list:
            self._words_by_initial.setdefault(word[0], []).append(word)
        self._stop_terms = {term for word, term in self._words.items() if word in STOPWORDS}
        self._owner = list(state.owners)
        self._text = list(state.texts)
        self._normal = list(state.normals)
        flat = state.term_ids.tolist()
        bounds = state.term_offsets.tolist()
        self._terms = [tuple(flat[bounds[pid] : bounds[pid + 1]]) for pid in range(count)]
        postings = state.posting_ids.tolist()
        ends = state.posting_offsets.tolist()
        self._df = np.diff(state.posting_offsets).tolist()
        self._postings = [postings[ends[term] : ends[term + 1]] for term in range(terms_count)]
        self._posting_arrays = {}
        self._by_question = {}
        for pid, owner in enumerate(self._owner):
            self._by_question.setdefault(owner, []).append(pid)  # type: ignore[arg-type]
        self._live, self._dead = count, 0
        self._version += 1
        self._mass = [0.0] * count
        self._mass_version = [-1] * count

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

    def _term_weights(self) -> list[float]:
        """Every term's weight (IDF, reduced for stopwords), current with the index."""
        if self._weights_version != self._version:
            df = np.asarray(self._df, dtype=np.float64)
            n = max(self._live, 1)
            weights = np.log1p((n - df + 0.5) / (df + 0.5))
            if self._stop_terms and self.tuning.stopword_share > 0:
                stops = list(self._stop_terms)
                weights[stops] = np.minimum(weights[stops], self._stop_cap())
            # The question words of INTENT_WORDS keep their full weight.
            intent = {self._words[word] for word in INTENT_WORDS if word in self._words}
            reduced = self._stop_terms - intent
            if reduced:
                weights[list(reduced)] *= self.tuning.stopword_weight
            self._weights = weights.tolist()
            self._weights_version = self._version
        return self._weights

    def _phrasing_mass(self, pid: int, weights: list[float]) -> float:
        if self._mass_version[pid] != self._version:
            self._mass[pid] = sum(weights[term] for term in self._terms[pid])
            self._mass_version[pid] = self._version
        return self._mass[pid]

    def _query_terms(self, words: Sequence[str], names: set[str]) -> list[_QueryTerm]:
        tuning = self.tuning
        found: dict[int, _QueryTerm] = {}
        unknown: list[_QueryTerm] = []
        # In a long message one misspelt word matters little; each look-up scans the
        # vocabulary, so fewer are made.
        corrections = tuning.max_corrections if len(words) <= 20 else 2
        for word in dict.fromkeys(words):
            stop = word in STOPWORDS
            term = self._words.get(word)
            if term is None:
                term = self._term_ids.get(self._stem(word))
            confidence = 1.0
            if (term is None or self._df[term] == 0) and not stop and corrections > 0:
                corrections -= 1
                term, confidence = self._correct(word)
            if term is None or self._df[term] == 0:
                # Never seen: it weighs like the rarest word, so a query about something
                # the knowledge base does not mention scores low everywhere.
                unknown.append(_QueryTerm(-1, self._weight(-1, stop), 0.0))
                continue
            weight = self._term_weights()[term]
            if word in names:
                weight *= tuning.name_boost
            known = found.get(term)
            if known is None or known.confidence < confidence:
                found[term] = _QueryTerm(term, weight, confidence)
            if len(found) + len(unknown) >= tuning.max_query_terms:
                break
        return [*found.values(), *unknown]

    def _join_compounds(self, words: list[str]) -> list[str]:
        """Join two adjacent words that the index knows as one ("strike through")."""
        joined: list[str] = []
        index = 0
        while index < len(words):
            if index + 1 < len(words):
                compound = words[index] + words[index + 1]
                term = self._words.get(compound)
                if (
                    term is not None
                    and self._df[term] > 0
                    and words[index] not in STOPWORDS
                    and compound.isalpha()
                ):
                    joined.append(compound)
                    index += 2
                    continue
            joined.append(words[index])
            index += 1
        return joined

    def _correct(self, word: str) -> tuple[int | None, float]:
        """Map a misspelt word onto the closest known word, with a confidence in (0, 1]."""
        if len(word) < self.tuning.min_typo_length or word.isdigit() or not self._word_list:
            return None, 0.0
        # A short word is one letter away from many others ("bread", "read"): it is only
        # corrected to a word with the same first letter, where slips are rarer.
        choices = self._word_list if len(word) > 5 else self._words_by_initial.get(word[0], [])
        best = process.extractOne(
            word, choices, scorer=fuzz.ratio, score_cutoff=self.tuning.typo_cutoff
        )
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

    def _postings_array(self, term: int) -> np.ndarray:
        array = self._posting_arrays.get(term)
        if array is None:
            array = np.fromiter(self._postings[term], dtype=np.int64)
            self._posting_arrays[term] = array
        return array

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
        weights = [
            np.full(len(a), t.weight * t.confidence) for t, a in zip(selective, arrays, strict=True)
        ]
        ids = np.concatenate(arrays)
        if len(ids) == 0:
            return ids
        if len(ids) * 8 < len(self._owner):
            unique, inverse = np.unique(ids, return_inverse=True)
            sums = np.bincount(inverse, weights=np.concatenate(weights))
        else:  # many postings: a dense tally is cheaper than sorting them
            sums = np.bincount(ids, weights=np.concatenate(weights), minlength=len(self._owner))
            unique = np.flatnonzero(sums)
            sums = sums[unique]
        pool = self.tuning.candidate_pool
        if len(unique) > pool:
            top = np.argpartition(-sums, pool)[:pool]
            unique = np.sort(unique[top])
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
            lengths = np.fromiter((len(self._terms[pid]) for pid in ids.tolist()), np.int64)
            ids = np.sort(ids[np.argpartition(lengths, pool)[:pool]])
        return ids

    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """The ``k`` best-matching questions for ``text``, best first."""
        if self.semantic is None or k <= 0:
            return self._lexical_search(text, k)
        words = self._lexical_search(text, max(k, self.tuning.semantic_pool))
        normal = normalize(text)
        if not normal or not self._live:
            return []
        return self._semantic_search(text, normal, words, k)

    def _semantic_search(
        self, text: str, normal: str, words: list[Candidate], k: int
    ) -> list[Candidate]:
        """Re-rank the word candidates with the cosine, adding the closest questions by
        meaning that share no word."""
        assert self.semantic is not None
        query = self.semantic.encode(text)
        weight = self.tuning.semantic_weight
        found: dict[str, Candidate] = {}
        for candidate in words:
            cosine, _ = self.semantic.cosine(query, candidate.question_id)
            score = (1 - weight) * candidate.score + weight * max(cosine, 0.0)
            found[candidate.question_id] = replace(candidate, score=score, cosine=cosine)
        unknown = words[0].unknown_share if words else 1.0
        content = words[0].content_words if words else len(normal.split())
        for question_id, cosine, phrasing in self.semantic.nearest(query, k):
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
                )
        ranked = sorted(found.values(), key=lambda c: (-c.score, c.question_id))
        return ranked[:k]

    def _lexical_search(self, text: str, k: int) -> list[Candidate]:
        """The ``k`` best questions by words alone."""
        normal = normalize(text)
        if not normal or not self._live or k <= 0:
            return []
        terms = self._query_terms(self._join_compounds(normal.split()), name_words(text))
        query_mass = sum(t.weight for t in terms)
        if query_mass <= 0:
            return []
        weights = self._term_weights()
        pool = self._pool(terms)
        pool = pool[[self._owner[pid] is not None for pid in pool.tolist()]] if len(pool) else pool
        if not len(pool):
            return []
        # Which query words each pooled phrasing holds: postings are sorted by phrasing id,
        # so a binary search per word answers it for the whole pool at once.
        matched = np.zeros(len(pool))
        missing = np.zeros(len(pool))  # heaviest query word the question lacks
        shared = np.zeros(len(pool))  # rarest content word the question shares
        boost = np.zeros(len(pool))
        content = np.zeros(len(pool), dtype=bool)  # shares a word that is not a stopword
        sibling = self.tuning.sibling_credit
        owners = [self._owner[pid] for pid in pool.tolist()]
        if sibling:
            _, group = np.unique(np.array(owners, dtype=object), return_inverse=True)
            group_matched = np.zeros(len(pool))
        known = [t for t in terms if t.term >= 0]
        if len(known) > self.tuning.max_scored_terms:
            # A long message: its lightest words change no ranking but cost a lookup each.
            known = sorted(known, key=lambda t: -t.weight)[: self.tuning.max_scored_terms]
        for term in known:
            postings = self._postings_array(term.term)
            at = np.searchsorted(postings, pool)
            hit = postings[np.minimum(at, len(postings) - 1)] == pool
            matched += hit * (term.weight * term.confidence)
            boost += hit * (term.weight - weights[term.term])
            if term.term not in self._stop_terms:
                content |= hit
            if sibling:
                # Whether any phrasing of the same question holds the word.
                held = np.bincount(group, weights=hit)[group] > 0
                group_matched += held * (term.weight * term.confidence)
            else:
                held = hit
            if term.term not in self._stop_terms:
                rarity = weights[term.term] * term.confidence
                np.maximum(shared, held * rarity, out=shared)
            np.maximum(
                missing,
                np.where(held, term.weight * (1 - term.confidence), term.weight),
                out=missing,
            )
        # A shared word weighs the same on both sides (the query's weight, which may be
        # raised for a name), so both coverages speak of the same words.
        unknown_mass = sum(t.weight for t in terms if t.term < 0)
        heaviest = max(t.weight for t in terms)
        np.maximum(missing, max((t.weight for t in terms if t.term < 0), default=0.0), out=missing)
        missing /= heaviest
        shared /= self._idf(-1)
        query_set = {t.term for t in terms}
        content_words = sum(1 for t in terms if t.term < 0 or t.term not in self._stop_terms)
        mass = np.fromiter((self._phrasing_mass(pid, weights) for pid in pool.tolist()), float)
        mass += boost
        cover_q = matched / query_mass
        cover_d = np.divide(matched, mass, out=np.zeros_like(matched), where=mass > 0)
        if sibling:
            # Question-level evidence: words of the query that another phrasing of the same
            # question holds count in part, as people reword across the phrasings.
            cover_q = cover_q + sibling * (group_matched / query_mass - cover_q)
        # A phrasing made only of common words ("Who are you?") is still matched by the
        # same words, all of them, both ways.
        content |= (cover_q >= 0.999) & (cover_d >= 0.999)
        beta2 = self.tuning.coverage_beta**2
        denominator = beta2 * cover_d + cover_q
        lexical = np.divide(
            (1 + beta2) * cover_q * cover_d,
            denominator,
            out=np.zeros_like(matched),
            where=denominator > 0,
        )
        # Character similarity can add at most (1 - lexical_weight): only phrasings whose
        # lexical score leaves them a chance are compared character by character.
        lexical_weight = self.tuning.lexical_weight
        order = np.argsort(-lexical, kind="stable")
        best: dict[str, Candidate] = {}
        floor = -1.0
        for index in order.tolist():
            if lexical[index] <= 0:
                break
            if lexical_weight * lexical[index] + (1 - lexical_weight) < floor:
                break
            pid = int(pool[index])
            owner = self._owner[pid]
            assert owner is not None
            similarity = Indel.normalized_similarity(normal, self._normal[pid])
            score = lexical_weight * float(lexical[index]) + (1 - lexical_weight) * similarity
            current = best.get(owner)
            if current is None or score > current.score:
                best[owner] = Candidate(
                    owner,
                    score,
                    self._text[pid],
                    float(lexical[index]),
                    similarity,
                    float(cover_q[index]),
                    float(cover_d[index]),
                    bool(content[index]),
                    float(missing[index]),
                    self._missing_phrasing(pid, query_set, weights),
                    unknown_mass / query_mass,
                    content_words,
                    float(shared[index]),
                )
                # The k-th best question's score: no unread phrasing can beat it.
                if len(best) >= k:
                    floor = heapq.nlargest(k, (c.score for c in best.values()))[-1]
        ranked = sorted(best.values(), key=lambda c: (-c.score, c.question_id))
        return ranked[:k]

    def _missing_phrasing(self, pid: int, query: set[int], weights: list[float]) -> float:
        """The heaviest word of phrasing ``pid`` absent from the query, over its heaviest."""
        terms = self._terms[pid]
        heaviest = max((weights[t] for t in terms), default=0.0)
        if heaviest <= 0:
            return 0.0
        return max((weights[t] for t in terms if t not in query), default=0.0) / heaviest

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
        best = candidates[0]
        runner_up = candidates[1].score if len(candidates) > 1 else 0.0
        margin = best.score - runner_up
        chosen = model or self.model
        tier = "lexical"
        if self.semantic is not None:
            chosen = chosen.semantic or chosen
            if "cosine" in chosen.names:
                tier = "semantic"
        if not best.shares_content and tier == "lexical":
            reason = "it shares only common words such as 'what' or 'how' with stored questions"
            return MatchResult(query, Decision.NONE, tuple(candidates), margin, reason)
        share = limits.answerable_share or None
        probability = chosen.probability(candidates, share)
        if probability >= limits.confidence:
            reason = (
                f"probability {probability:.2f} that this is the question asked "
                f"(answers from {limits.confidence:.2f}; {tier} tier); score {best.score:.2f}, "
                f"{margin:.2f} ahead of the next question"
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

    def match(self, text: str, k: int = 5) -> MatchResult:
        """Search and decide in one call."""
        return self.decide(text, self.search(text, k=max(k, 2)))
