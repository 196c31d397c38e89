"""Text normalisation shared by the loader (duplicate detection) and the matcher."""

from __future__ import annotations

import functools
import re
import unicodedata

# A possessive or contracted "'s" is dropped ("OpenAI's" -> "openai", "what's" -> "what") and
# other apostrophes inside a word are removed ("don't" -> "dont"), so a word typed with or
# without one normalises alike; every other non-word character separates words.
# (Written apostrophe first and the word character before it checked behind: the matches of
# "(?<=\w)[apostrophe]...", found several times faster, as the search skips to an apostrophe.)
_APOSTROPHE = "['\u2019\u02bc`]"
_POSSESSIVE = re.compile(_APOSTROPHE + r"(?<=\w" + _APOSTROPHE + r")s\b")
_APOSTROPHES = re.compile(_APOSTROPHE + r"(?<=\w" + _APOSTROPHE + r")(?=\w)")
# In ASCII text both in one pass: there no apostrophe is a word character, so removing a
# possessive changes no other apostrophe's neighbours from word to non-word or back, and one
# pass finds what the two find one after the other. (U+02BC is a letter: "a\u02bc\u02bcs"
# differs, so other text takes the two passes.)
_ASCII_APOSTROPHES = re.compile(r"['`](?<=\w['`])(?:s\b|(?=\w))")
# Words: runs of letters and digits; every other character ([\W_]) separates them.
_WORD = re.compile(r"[^\W_]+")
# The separators among ASCII characters (all but letters and digits), as spaces: a table for
# bytes.translate, many times faster than str.translate (which looks characters up in a dict
# on every call).
_ASCII_NON_WORD = bytes(c if chr(c).isalnum() and c < 128 else 32 for c in range(256))
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


@functools.cache
def _format_character() -> re.Pattern[str]:
    """A pattern matching any format character: searching a text for one is several times
    faster than translating it, and almost no text holds one."""
    codes = sorted(_format_characters())
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return re.compile(
        "[" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges) + "]"
    )


def normalize(text: str) -> str:
    """Return ``text`` case-folded, NFKC-normalised, without punctuation or invisible marks.

    Words are separated by single spaces. Non-Latin letters and digits are kept.
    """
    return " ".join(normal_words(text))


def normal_words(text: str) -> list[str]:
    """The words of :func:`normalize`'s result (``normalize(text).split()``), directly."""
    if "\x1b" in text:
        text = _ESCAPE_SEQUENCE.sub(" ", text)
    if not text.isascii():  # ASCII is its own NFKC form and has no format characters
        # Format characters (zero-width joiners, RTL marks, soft hyphens) are invisible to a
        # reader and must not split or change a word.
        text = unicodedata.normalize("NFKC", text)
        if _format_character().search(text):
            text = text.translate(_format_characters())
    text = text.casefold()
    # The same result with less work (normalising is most of building an index): the
    # apostrophe patterns only where there is one, and ASCII split by a translation table.
    if text.isascii():
        if "'" in text or "`" in text:
            text = _ASCII_APOSTROPHES.sub("", text)
        return text.encode().translate(_ASCII_NON_WORD).decode().split()
    text = _APOSTROPHES.sub("", _POSSESSIVE.sub("", text))
    return _WORD.findall(text)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into normalised words."""
    return normal_words(text)
