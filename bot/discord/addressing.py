"""Is a message meant for the bot, and what is the question in it?

Pure functions and small bounded structures, with no discord imports, so the rules can be
unit-tested on plain strings: mention and name-prefix stripping, "does this read as a
question", the memory of handled message ids and the cooldowns.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from bot.knowledge.text import normalize

# First words that make a message read as a question in a Q&A channel. "What's" and the like
# are covered because only the leading letters are compared.
QUESTION_WORDS = frozenset(
    """what why how can is are do does who where when which should could would will
    whats hows whos wheres whens whys""".split()
)

_FIRST_WORD = re.compile(r"[^\W\d_]+")
_LEADING_PUNCTUATION = re.compile(r"^[\s,.:;!\-–—]+")
_SPACES = re.compile(r"[ \t]+")
# Mentions of others, channels and @everyone/@here: not part of what is asked.
_OTHER_MENTIONS = re.compile(r"<@[!&]?\d+>|<#\d+>|(?<!\w)@(?:everyone|here)\b")


@dataclass(frozen=True)
class Addressed:
    """A message the bot should consider: the question in it and how the bot was asked.

    ``explicit`` is True for a mention, a name prefix or a DM (the bot always replies);
    False when the message was picked up in a Q&A channel because it reads as a question
    (the bot stays quiet unless it has something useful to say).
    """

    text: str
    explicit: bool


def mention_pattern(bot_id: int) -> re.Pattern[str]:
    """A regex for ``<@id>`` and ``<@!id>`` mentions of ``bot_id``."""
    return re.compile(rf"<@!?{int(bot_id)}>")


def strip_mentions(content: str, bot_id: int) -> tuple[str, bool]:
    """``content`` without mentions (see :func:`without_mentions`), and whether the bot
    was mentioned. Punctuation left dangling at the start ("<@1>, what is X?") goes too."""
    stripped, count = mention_pattern(bot_id).subn(" ", content)
    return (_tidy(without_mentions(stripped)) if count else without_mentions(stripped)), count > 0


def without_mentions(content: str) -> str:
    """``content`` without user, role and channel mentions or @everyone/@here.

    Spaces are collapsed and punctuation left dangling at the start is removed.
    """
    stripped = _OTHER_MENTIONS.sub(" ", content)
    return _tidy(stripped) if stripped != content else stripped.strip()


def _tidy(text: str) -> str:
    """Collapse runs of spaces left by removed mentions; drop leading punctuation."""
    return _LEADING_PUNCTUATION.sub("", _SPACES.sub(" ", text)).strip()


def strip_prefix(content: str, prefixes: Iterable[str]) -> str | None:
    """``content`` after a case-insensitive name prefix ("Stampy, what is X?" -> "what is X?").

    None when no prefix starts the message. A prefix that ends in a letter or digit must be
    followed by something else ("stampy" does not match "stampylike").
    """
    text = content.lstrip()
    for prefix in sorted((p.strip() for p in prefixes), key=len, reverse=True):
        if not prefix or text[: len(prefix)].casefold() != prefix.casefold():
            continue
        rest = text[len(prefix) :]
        if prefix[-1].isalnum() and rest[:1].isalnum():
            continue
        return _LEADING_PUNCTUATION.sub("", rest).strip()
    return None


def looks_like_question(text: str) -> bool:
    """Whether ``text`` reads as a question: ends with "?" or starts with a question word."""
    text = text.strip()
    if not any(ch.isalnum() for ch in text):
        return False
    if text.endswith("?"):
        return True
    first = _FIRST_WORD.search(text)
    return first is not None and first.start() < 3 and first.group().casefold() in QUESTION_WORDS


def question_text(content: str, *, bot_id: int, prefixes: Iterable[str]) -> str:
    """The question in a message addressed to the bot: mentions and name prefix removed."""
    text, _ = strip_mentions(content, bot_id)
    after_prefix = strip_prefix(text, prefixes)
    return text if after_prefix is None else after_prefix


def address(
    content: str,
    *,
    bot_id: int,
    prefixes: Iterable[str],
    is_dm: bool,
    in_qa_channel: bool,
) -> Addressed | None:
    """Decide whether a message is for the bot and extract its question.

    Explicit: a mention of the bot, a name prefix, or a DM. Otherwise, in a Q&A channel, a
    message that reads as a question. Anything else is None (not for the bot).
    """
    text, mentioned = strip_mentions(content, bot_id)
    after_prefix = strip_prefix(text, prefixes)
    if after_prefix is not None:
        return Addressed(after_prefix, explicit=True)
    if mentioned or is_dm:
        return Addressed(text, explicit=True)
    if in_qa_channel and looks_like_question(text):
        return Addressed(text, explicit=False)
    return None


def question_key(text: str) -> str:
    """The form under which two askings count as "the same question" for cooldowns."""
    return normalize(text)


class RecentIds:
    """A bounded set of recently handled ids (oldest forgotten first).

    Gateway replays after a RESUME and duplicate dispatches deliver the same message id
    again; ``add`` says whether an id is new.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def add(self, item: int) -> bool:
        """Remember ``item``; False if it was already remembered."""
        if item in self._ids:
            self._ids.move_to_end(item)
            return False
        self._ids[item] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


class RateLimit:
    """Token buckets by key, in bounded memory: ``burst`` uses at once, then one every
    ``seconds`` (as a generic cell-rate algorithm: one time per key, the time its bucket
    is next full, instead of a token count and a timestamp).

    Uses are booked ahead: :meth:`take` at a time in the future reserves that slot, so
    askings that must wait are answered in turn. Keys whose bucket is full again are
    forgotten, and at most ``capacity`` are kept (the least recently used go first, which
    only makes the limit more lenient under a flood of distinct keys). Times are passed
    in, so tests need no clock.
    """

    def __init__(self, seconds: float, burst: int = 1, capacity: int = 10_000) -> None:
        self.seconds = seconds
        self.burst = burst
        self.capacity = capacity
        self._full_at: OrderedDict[Hashable, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._full_at)

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds from ``now`` until ``key`` may be used again (0: at once)."""
        self._expire(now)
        full_at = self._full_at.get(key, now)
        return max(0.0, full_at - self.seconds * (self.burst - 1) - now)

    def take(self, key: Hashable, at: float) -> None:
        """Use ``key`` at ``at`` (now, or the time :meth:`wait` gave)."""
        if self.seconds <= 0:
            return
        self._full_at[key] = max(self._full_at.get(key, at), at) + self.seconds
        self._full_at.move_to_end(key)
        while len(self._full_at) > self.capacity:
            self._full_at.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._full_at:
            key, full_at = next(iter(self._full_at.items()))
            if full_at > now:
                break
            del self._full_at[key]


class AskingGate:
    """When to answer an asking: per-user and per-question rate limits, as one decision.

    A user may ask ``user_burst`` questions at once, then one every ``user_seconds``; the
    same question in the same channel is answered at most once every ``channel_seconds``
    (two members asking it together both get an answer, one after the other). An asking
    over a limit waits its turn rather than being dropped, unless its turn is more than
    ``max_wait`` seconds away.
    """

    def __init__(
        self,
        user_seconds: float,
        channel_seconds: float,
        capacity: int = 10_000,
        *,
        user_burst: int = 1,
        max_wait: float = 30.0,
    ):
        self.users = RateLimit(user_seconds, user_burst, capacity)
        self.channels = RateLimit(channel_seconds, 1, capacity)
        self.max_wait = max_wait

    def reserve(self, user_id: int, channel_id: int, text: str, now: float) -> float | None:
        """Seconds to wait before answering this asking (0: at once), its turn booked; None
        (nothing booked) if its turn is more than ``max_wait`` away."""
        channel_key = (channel_id, question_key(text))
        wait = max(self.users.wait(user_id, now), self.channels.wait(channel_key, now))
        if wait > self.max_wait:
            return None
        self.users.take(user_id, now + wait)
        self.channels.take(channel_key, now + wait)
        return wait
