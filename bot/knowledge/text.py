"""Text normalisation shared by the loader (duplicate detection) and the matcher."""

from __future__ import annotations

import functools
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


# Planes that hold format characters: the Basic and Supplementary Multilingual Planes and the
# Supplementary Special-purpose Plane (tags). The others hold ideographs, private use or nothing.
_FORMAT_PLANES = (0x00000, 0x10000, 0xE0000)


@functools.cache
def _format_characters() -> dict[int, None]:
    """A ``str.translate`` table deleting every format character (Unicode category Cf).

    Built on first use (a few milliseconds): deleting them this way is many times faster than
    testing the category of every character of every text.
    """
    return {
        code: None
        for plane in _FORMAT_PLANES
        for code in range(plane, plane + 0x10000)
        if unicodedata.category(chr(code)) == "Cf"
    }


def normalize(text: str) -> str:
    """Return ``text`` case-folded, NFKC-normalised, without punctuation or invisible marks.

    Words are separated by single spaces. Non-Latin letters and digits are kept.
    """
    if "\x1b" in text:
        text = _ESCAPE_SEQUENCE.sub(" ", text)
    if not text.isascii():  # ASCII is its own NFKC form and has no format characters
        # Format characters (zero-width joiners, RTL marks, soft hyphens) are invisible to a
        # reader and must not split or change a word.
        text = unicodedata.normalize("NFKC", text).translate(_format_characters())
    text = _APOSTROPHES.sub("", _POSSESSIVE.sub("", text.casefold()))
    return _NON_WORD.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    """Split ``text`` into normalised words."""
    normal = normalize(text)
    return normal.split() if normal else []
