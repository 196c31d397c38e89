"""Who the bot answers and what it takes as the question: pure rules, no Discord objects."""

from __future__ import annotations

import pytest

from bot.discord.addressing import (
    Addressed,
    AskingGate,
    RateLimit,
    RecentIds,
    address,
    looks_like_question,
    question_text,
    strip_mentions,
    strip_prefix,
    without_mentions,
)

BOT = 1234567890
PREFIXES = ("stampy,", "s,")


def addressed(content: str, *, dm: bool = False, qa: bool = False) -> Addressed | None:
    return address(content, bot_id=BOT, prefixes=PREFIXES, is_dm=dm, in_qa_channel=qa)


# -- prefixes and mentions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("stampy, what is X?", "what is X?"),
        ("Stampy, what is X?", "what is X?"),
        ("STAMPY,what is X?", "what is X?"),
        ("  s, what is X", "what is X"),
        ("S, what is X", "what is X"),
        ("stampy,", ""),
    ],
)
def test_prefix_is_stripped_case_insensitively(content: str, expected: str) -> None:
    assert strip_prefix(content, PREFIXES) == expected


@pytest.mark.parametrize("content", ["what is X?", "stampy what is X?", "is stampy, here?", ","])
def test_no_prefix(content: str) -> None:
    assert strip_prefix(content, PREFIXES) is None


def test_prefix_ending_in_a_letter_needs_a_boundary() -> None:
    assert strip_prefix("stampy what is X", ("stampy",)) == "what is X"
    assert strip_prefix("stampylike things", ("stampy",)) is None
    assert strip_prefix("hey stampy: what", ("hey stampy",)) == "what"


def test_longest_prefix_wins() -> None:
    assert strip_prefix("stampy, bot, what", ("stampy,", "stampy, bot,")) == "what"


@pytest.mark.parametrize(
    "content",
    [
        f"<@{BOT}> what is X?",
        f"<@!{BOT}> what is X?",
        f"<@{BOT}>, what is X?",
        f"  <@{BOT}>:  what is X?",
        f"what is <@{BOT}> X?",
    ],
)
def test_mention_is_stripped(content: str) -> None:
    text, mentioned = strip_mentions(content, BOT)
    assert mentioned and text == "what is X?"


def test_other_mentions_are_not_the_bot() -> None:
    text, mentioned = strip_mentions("<@999> what is X?", BOT)
    assert not mentioned and text == "what is X?"


def test_mentions_of_others_and_everyone_are_removed_from_the_question() -> None:
    assert without_mentions("@everyone @here <@&55> <@66> <#77> how do I X?") == "how do I X?"
    assert without_mentions("email me@here.com") == "email me@here.com"
    assert without_mentions("line one\n\nline two") == "line one\n\nline two"


def test_question_text_strips_mention_then_prefix() -> None:
    assert question_text(f"<@{BOT}> stampy, what is X?", bot_id=BOT, prefixes=PREFIXES) == (
        "what is X?"
    )
    assert question_text("stampy, what is X?", bot_id=BOT, prefixes=PREFIXES) == "what is X?"
    assert question_text("what is X?", bot_id=BOT, prefixes=PREFIXES) == "what is X?"


# -- question detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "what is AI alignment",
        "Why would an AI be dangerous",
        "How do I learn this",
        "can machines think",
        "Is it safe",
        "are we doomed",
        "do LLMs plan",
        "does RLHF work",
        "who made you",
        "where do I start",
        "when will AGI arrive",
        "which book first",
        "should I worry",
        "could it escape",
        "would it lie",
        "will it be fine",
        "What's interpretability",
        "**What** is a mesa-optimizer",
        "interpretability?",
        "I wonder about this ?  ",
    ],
)
def test_reads_as_a_question(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize(
    "text",
    ["good morning", "thanks!", "I like stamps", "whatever", "island trip", "?", "", "  ", "!!"],
)
def test_does_not_read_as_a_question(text: str) -> None:
    assert not looks_like_question(text)


# -- the whole decision --------------------------------------------------------------------------


def test_prefix_mention_and_dm_are_explicit() -> None:
    assert addressed("stampy, hello") == Addressed("hello", explicit=True)
    assert addressed(f"<@{BOT}> hello") == Addressed("hello", explicit=True)
    assert addressed("hello", dm=True) == Addressed("hello", explicit=True)
    assert addressed(f"<@{BOT}>") == Addressed("", explicit=True)


def test_qa_channel_takes_questions_only_and_not_explicitly() -> None:
    assert addressed("what is X", qa=True) == Addressed("what is X", explicit=False)
    assert addressed("hello there", qa=True) is None
    assert addressed("stampy, hello there", qa=True) == Addressed("hello there", explicit=True)


def test_elsewhere_unaddressed_messages_are_not_for_the_bot() -> None:
    assert addressed("what is X?") is None
    assert addressed("<@999> what is X?") is None


# -- memory of handled messages and cooldowns ----------------------------------------------------


def test_recent_ids_remember_and_forget_the_oldest() -> None:
    seen = RecentIds(capacity=3)
    assert seen.add(1) and seen.add(2) and seen.add(3)
    assert not seen.add(1)  # a replay; also refreshes 1
    assert seen.add(4)  # evicts 2, the least recently seen
    assert len(seen) == 3 and 2 not in seen and 1 in seen
    assert seen.add(2)


def test_rate_limit_allows_a_burst_then_books_turns_and_stays_bounded() -> None:
    limit = RateLimit(3.0, burst=2, capacity=100)
    assert limit.wait("a", 0.0) == 0.0
    limit.take("a", 0.0)
    assert limit.wait("a", 0.0) == 0.0  # the burst allows a second at once
    limit.take("a", 0.0)
    assert limit.wait("a", 1.0) == 2.0  # then one every 3 s: the next at 3.0
    limit.take("a", 3.0)  # booked ahead
    assert limit.wait("a", 1.0) == 5.0  # so the one after waits for 6.0
    assert limit.wait("a", 20.0) == 0.0 and len(limit) == 0  # full again: forgotten
    for i in range(1000):
        limit.take(i, 30.0)
    assert len(limit) == 100


def test_zero_rate_limit_is_off() -> None:
    limit = RateLimit(0.0)
    limit.take("a", 0.0)
    assert limit.wait("a", 0.0) == 0.0 and len(limit) == 0


def test_gate_books_each_asking_a_turn_instead_of_dropping_it() -> None:
    gate = AskingGate(user_seconds=3.0, channel_seconds=1.0, user_burst=2, max_wait=30.0)
    assert gate.reserve(1, 10, "What is X?", 0.0) == 0.0
    # Two members, one question, together: both answered, the second a moment later.
    assert gate.reserve(2, 10, "what is x", 0.2) == 0.8
    assert gate.reserve(3, 10, "What is Y?", 0.2) == 0.0  # another question: at once
    assert gate.reserve(4, 11, "What is X?", 0.2) == 0.0  # the same in another channel
    assert gate.reserve(1, 10, "something else", 0.5) == 0.0  # within the user's burst
    assert gate.reserve(1, 10, "a third", 1.0) == 2.0  # waits for its turn at 3.0
    # Too far off: refused and nothing booked.
    busy = AskingGate(user_seconds=60.0, channel_seconds=0.0, max_wait=30.0)
    assert busy.reserve(1, 10, "one", 0.0) == 0.0
    assert busy.reserve(1, 10, "two", 1.0) is None
    assert busy.reserve(1, 10, "three", 60.0) == 0.0
