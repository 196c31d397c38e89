"""Small talk: greetings, thanks, praise, goodbyes and requests for a joke.

Such a message is not a question for the knowledge base: it gets a short friendly reply, never
an answer, and is never stored as unanswered. Only a message that is small talk as a whole is
recognised ("thanks stampy!", "good bot", "tell me a joke"); "thanks, and what is AGI?" is a
question and goes to the matcher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.knowledge.text import normalize

# Whole messages, after normalisation (lowercase words separated by single spaces), with the
# bot's name and a few fillers taken out. Each kind has a fixed reply.
_NAME = r"(?:stampy|bot|buddy|mate|friend|there|everyone|all|folks)"
_KINDS: tuple[tuple[str, str, str], ...] = (
    (
        "thanks",
        r"(?:(?:many |a lot of )?thanks?(?: you)?(?: (?:so|very) much| a lot| again| a bunch)?"
        r"|thx|ty|tysm|thank u|cheers|much appreciated|appreciate it|great thanks)",
        "You're welcome!",
    ),
    (
        "praise",
        r"(?:(?:good|great|nice|cool|awesome|clever|smart|best) (?:bot|job|work|answer)"
        r"|well done|you(?:re| are) (?:great|awesome|the best|amazing|smart|cool|helpful)"
        r"|love (?:you|this bot|it)|i love you)",
        "Thank you! Happy to help.",
    ),
    (
        "greeting",
        r"(?:hi+|hello+|hey+|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)"
        r"|hi hi|hey hey|sup|whats up|how are you(?: doing)?|hows it going)",
        "Hi! Ask me a question, for example: “what is AI alignment?”",
    ),
    (
        "goodbye",
        r"(?:bye+|goodbye|good night|goodnight|see you(?: later)?|see ya|later|cya)",
        "Bye! Come back with any question.",
    ),
    (
        "joke",
        r"(?:(?:can you |could you |please )?(?:tell|say|give)(?: me| us)? (?:a |another |some )?"
        r"(?:joke|jokes|something funny|a pun)|(?:do you )?know any jokes|make me laugh"
        r"|joke please)",
        "I only know jokes about optimisers, and they always overfit to the audience. "
        "Ask me about AI safety instead!",
    ),
    (
        "ok",
        r"(?:ok(?:ay)?|okey|k|cool|nice|great|awesome|got it|i see|understood|lol|haha+)",
        "🙂",
    ),
)
_FILLER = r"(?:(?:oh|well|ok|okay|and|so|hey|please|pls) )*"
_PATTERNS = tuple(
    (
        kind,
        re.compile(
            rf"^{_FILLER}(?:{_NAME} )*(?:{body})(?: {_FILLER}{_NAME})*(?: {body})?"
            rf"(?: {_NAME})*$"
        ),
        reply,
    )
    for kind, body, reply in _KINDS
)


@dataclass(frozen=True)
class SmallTalk:
    """What kind of small talk a message is, and the reply it gets."""

    kind: str
    reply: str


def small_talk(text: str) -> SmallTalk | None:
    """The small talk ``text`` is as a whole, or None for anything else (a question)."""
    normal = normalize(text)
    if not normal or len(normal) > 80:
        return None
    for kind, pattern, reply in _PATTERNS:
        if pattern.match(normal):
            return SmallTalk(kind, reply)
    return None
