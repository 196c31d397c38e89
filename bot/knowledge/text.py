"""Text normalisation shared by the loader (duplicate detection) and the matcher."""

from __future__ import annotations

import re
import unicodedata

# A possessive or contracted "'s" is dropped ("OpenAI's" -> "openai", "what's" -> "what") and
# other apostrophes inside a word are removed ("don't" -> "dont"), so a word typed with or
# without one normalises alike; every other non-word character separates words.
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019\u02bc`]s\b")
_APOSTROPHES = re.compile(r"(?<=\w)['\u2019\u02bc`](?=\w)")
_NON_WORD = re.compile(r"[\W_]+")
# A terminal escape sequence ("\x1b[31m") is a control sequence, not words: dropped whole, so
# its "31m" does not count as an unknown word.
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def normalize(text: str) -> str:
    """Return ``text`` case-folded, NFKC-normalised, without punctuation or invisible marks.

    Words are separated by single spaces. Non-Latin letters and digits are kept.
    """
    text = unicodedata.normalize("NFKC", _ESCAPE_SEQUENCE.sub(" ", text))
    # Format characters (zero-width joiners, RTL marks, soft hyphens) are invisible to a reader
    # and must not split or change a word.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _APOSTROPHES.sub("", _POSSESSIVE.sub("", text.casefold()))
    return _NON_WORD.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    """Split ``text`` into normalised words."""
    normal = normalize(text)
    return normal.split() if normal else []
