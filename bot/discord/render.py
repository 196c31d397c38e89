"""How the bot's replies look on Discord: embeds, texts and labels within Discord's limits.

Its strings come from :mod:`bot.discord.strings` (re-exported here as :data:`TEXT`).
Truncation never cuts a word, a markdown link or another
inline markdown construct in half: it stops at a paragraph, sentence or word boundary before
the limit and says that the full text is longer.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.discord.strings import TEXT
from bot.knowledge.model import Answer, Question
from bot.service import Reply
from bot.store.reports import Report

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELD_COUNT_LIMIT = 25
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100

ELLIPSIS = "…"

# Inline markdown that must stay whole: links and images (one level of brackets in the text
# and of parentheses in the URL, as in Wikipedia links), bare and <angle> URLs, code spans,
# and emphasis within one line. A cut never falls strictly inside one of these.
_PROTECTED = re.compile(
    r"""
      !?\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+"[^"\n]*")?\)
    | <https?://[^\s>]+>
    | https?://[^\s<>()\[\]]+(?:\([^\s()]*\)[^\s<>()\[\]]*)*
    | `[^`\n]+`
    | \*\*[^*\n]+\*\* | __[^_\n]+__ | ~~[^~\n]+~~ | \|\|[^|\n]+\|\|
    | (?<![*\w])\*[^*\s][^*\n]*\*(?![*\w]) | (?<![_\w])_[^_\s][^_\n]*_(?![_\w])
    """,
    re.VERBOSE,
)
# Every construct of _PROTECTED holds one of these characters or "http".
_PROTECTED_MARKS = "[`*_~|"
# Cut points, best first: paragraph break, line break, sentence end, any space.
_BREAKS = (
    re.compile(r"\n[ \t]*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?;:])[ \t]"),
    re.compile(r"\s"),
)
_FENCE = "```"


def units(text: str) -> int:
    """Length as Discord may count it: UTF-16 code units (an emoji can count twice).

    Never less than ``len(text)``, so staying within it stays within Discord's limits
    whichever way they are counted.
    """
    return len(text.encode("utf-16-le")) // 2


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every protected construct, in order and not overlapping."""
    if "http" not in text and not any(mark in text for mark in _PROTECTED_MARKS):
        return []  # (most questions: no construct can start, and the scan is not cheap)
    return [m.span() for m in _PROTECTED.finditer(text)]


def _inside(position: int, spans: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """The span that ``position`` falls strictly inside, if any (binary search)."""
    i = bisect.bisect_left(spans, (position, -1)) - 1
    if i >= 0 and spans[i][0] < position < spans[i][1]:
        return spans[i]
    return None


def _cut_point(text: str, budget: int) -> int:
    """Where to cut ``text`` so that ``text[:cut]`` fits ``budget`` characters.

    The latest paragraph break at or past half the budget, else the latest line break, then
    sentence end, then space; never inside a protected span. A single word longer than the
    budget is cut where it must be (still not inside a span unless it is one).
    """
    window = text[: budget + 1]
    spans = _protected_spans(text[: budget + 2000])
    floor = budget // 2
    # A cut must keep something that is not blank: it must come after the first character
    # that is not whitespace (found once, not by stripping the text before every cut).
    lead = len(text) - len(text.lstrip())
    fallback: int | None = None
    for pattern in _BREAKS:
        best = None
        for match in pattern.finditer(window):
            cut = match.start()
            if lead < cut <= budget and not _inside(cut, spans):
                best = cut
        if best is not None and best >= floor:
            return best
        if best is not None and fallback is None:
            fallback = best
    if fallback is not None:
        return fallback
    span = _inside(budget, spans)
    if span is not None and text[: span[0]].strip():
        return span[0]
    return budget


@functools.lru_cache(maxsize=4096)
def truncate(
    text: str, limit: int, note: str = TEXT["truncated_note"], *, close_fence: bool = True
) -> str:
    """``text`` if it fits ``limit``; else its start, cut at a boundary, plus "…" and ``note``.

    The result always fits ``limit`` (counted in UTF-16 units). An open code fence in the
    kept part is closed (unless ``close_fence`` is false: a one-line label). The last
    results are kept: every reply cuts the same answers, titles and labels again.
    """
    if units(text) <= limit:
        return text
    tail = ELLIPSIS + note
    if units(tail) + 8 > limit:  # no room for a note: a plain shortening
        tail = ELLIPSIS
    budget = limit - units(tail)
    while True:
        if budget <= 0:
            return ELLIPSIS[:limit]
        kept = text[: _cut_point(text, budget)].rstrip().rstrip(",;:-–—").rstrip()
        if close_fence and kept.count(_FENCE) % 2:
            kept += "\n" + _FENCE
        result = kept + tail
        overflow = units(result) - limit
        if overflow <= 0:
            return result
        budget -= overflow  # a closed fence or double-counted emoji: try a little shorter


@functools.lru_cache(maxsize=4096)
def shorten(text: str, limit: int) -> str:
    """One line of ``text`` (whitespace collapsed) within ``limit``, cut at a word, with "…".

    Code fences are left open: a label is plain text, and closing one would need a line break.
    """
    line = " ".join(text.split())  # every run of whitespace made one space, none at the ends
    return truncate(line, limit, note="", close_fence=False)


# A line break inside a paragraph (not before a blank line, a list item, a quote, a heading or
# a code fence, and not after a blank line or inside a code block: see soft_breaks).
_SOFT_BREAK = re.compile(r"(?<=\S)[ \t]*\n(?![ \t]*(?:\n|$|[-*+>#|]|\d+[.)]\s))[ \t]*")


def soft_breaks(text: str) -> str:
    """Markdown's soft line breaks joined: text written wrapped at a fixed width (a YAML
    block) reads as flowing paragraphs on Discord, which shows every line break, as the web
    view's markdown does. Paragraphs, lists, quotes, headings and code blocks stay as they are."""
    parts = text.split(_FENCE)
    for i in range(0, len(parts), 2):  # outside code fences only
        parts[i] = _SOFT_BREAK.sub(" ", parts[i])
    return _FENCE.join(parts)


@functools.lru_cache(maxsize=4096)
def suggestion_label(text: str) -> str:
    """A button label (at most 80 characters) for a suggested question (kept for the texts
    labelled last: every answer labels its related questions' buttons)."""
    return shorten(text, LABEL_LIMIT) or ELLIPSIS


def stamps_text(count: int) -> str:
    """The stamp count in words: "1 stamp", "0 stamps", "5 stamps"."""
    return TEXT["stamp"] if count == 1 else TEXT["stamps"].format(count=count)


def answer_embed(
    question: Question,
    answer: Answer | None,
    *,
    stamps: int = 0,
    no_answer: str | None = None,
    tags: Sequence[str] | None = None,
) -> discord.Embed:
    """The embed of an answer: the stored question as title, the answer as description.

    Fields show tags (``tags``: the ones members may see, default all), the stamp count, the
    author and the source; the footer invites a stamp. Without an answer there is nothing a
    stamp could endorse, so neither the count nor the invitation is shown. The description
    is cut to what is left of Discord's 6,000-character budget.
    """
    tags = question.tags if tags is None else tags
    embed = discord.Embed(
        title=shorten(question.text, TITLE_LIMIT),
        colour=discord.Colour.gold() if answer and answer.canonical else discord.Colour.blurple(),
    )
    shown = shorten(", ".join(tag for tag in tags if tag.strip()), FIELD_VALUE_LIMIT)
    if shown:  # tags of only blanks show no field (Discord refuses an empty one)
        embed.add_field(name=TEXT["tags_field"], value=shown)
    if answer is not None:
        embed.add_field(name=TEXT["stamps_field"], value=stamps_text(stamps))
    author = shorten(answer.author, FIELD_VALUE_LIMIT) if answer and answer.author else ""
    if author:  # an author of only blanks shows no field (Discord refuses an empty one)
        embed.add_field(name=TEXT["author_field"], value=author)
    if answer is not None and answer.source:
        embed.add_field(
            name=TEXT["source_field"], value=truncate(answer.source, FIELD_VALUE_LIMIT, note="")
        )
    if answer is not None:
        embed.set_footer(text=TEXT["footer"])
    text = answer.text.strip() if answer is not None else no_answer or TEXT["no_answer_yet"]
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_units(embed))
    embed.description = truncate(text, room)
    return embed


def reply_embed(reply: Reply, *, tags: Sequence[str] | None = None) -> discord.Embed:
    """The embed of an answering reply: its question, the answer shown and its stamps; for a
    known question nobody has answered, that it is known (and noted), pointing to the nearest
    answered questions offered as buttons. ``tags``: those members may see."""
    assert reply.question is not None
    if reply.answer is None:
        text = TEXT["unanswered_known"]
        if reply.alternatives:
            text += TEXT["unanswered_known_alternatives"]
        return answer_embed(reply.question, None, no_answer=text, tags=tags)
    return answer_embed(reply.question, reply.answer, stamps=reply.stamps, tags=tags)


def report_embed(report: Report, question: Question, answer: Answer) -> discord.Embed:
    """A member's report as posted in the moderators' channel: the question, the answer's
    start, the report, who sent it (a mention, which in an embed pings nobody) and a link to
    the message it was about."""
    embed = discord.Embed(
        title=shorten(TEXT["report_posted_title"].format(question=question.text), TITLE_LIMIT),
        colour=discord.Colour.red(),
    )
    embed.add_field(
        name=TEXT["report_posted_answer"],
        value=shorten(f"`{answer.id}`: {answer.text}", 300),
        inline=False,
    )
    reporter = f"<@{report.reporter_id}>" if report.reporter_id else ""
    name = shorten(report.reporter_name, 100)
    embed.add_field(
        name=TEXT["report_posted_by"], value=f"{reporter} ({name})" if reporter else name or "?"
    )
    if report.message_id and report.channel_id:
        guild = report.guild_id or "@me"
        link = f"https://discord.com/channels/{guild}/{report.channel_id}/{report.message_id}"
    else:
        link = TEXT["report_no_link"]
    embed.add_field(name=TEXT["report_posted_message"], value=link)
    embed.set_footer(text=TEXT["report_posted_footer"].format(id=report.id))
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_units(embed))
    embed.description = truncate(report.text, room, note="")
    return embed


def other_answers_embeds(question: Question, answers: Sequence[Answer]) -> list[discord.Embed]:
    """Embeds for the answers after the first, sharing one message's limits fairly."""
    if not answers:
        return []
    shown = list(answers[:EMBEDS_PER_MESSAGE])
    hidden = len(answers) - len(shown)
    title = shorten(TEXT["more_title"].format(question=question.text), TITLE_LIMIT)
    footer = TEXT["more_hidden"].format(count=hidden) if hidden else None
    embeds = []
    for answer in shown:
        embed = discord.Embed(title=title)
        author = shorten(answer.author, FIELD_VALUE_LIMIT) if answer.author else ""
        if author:
            embed.add_field(name=TEXT["author_field"], value=author)
        embeds.append(embed)
    if footer:
        embeds[-1].set_footer(text=footer)
    # What is left of the message's 6,000 once titles, author fields (up to 200 units for a
    # 100-character author of emoji) and the footer are counted, shared equally.
    room = EMBED_TOTAL_LIMIT - sum(embed_units(embed) for embed in embeds)
    share = min(DESCRIPTION_LIMIT, room // len(embeds))
    for embed, answer in zip(embeds, shown, strict=True):
        embed.description = truncate(answer.text.strip(), share)
    return embeds


def why_text(
    phrasing: str,
    score: float,
    reason: str | None,
    *,
    picked: bool = False,
    threshold: float = 0.0,
) -> str:
    """The "Why this answer?" explanation: matched phrasing, score and the decision's reason."""
    lines = [TEXT["why"].format(phrasing=phrasing, score=score)]
    if picked:
        lines.append(TEXT["why_picked"])
    elif reason:
        lines.append(TEXT["why_reason"].format(reason=reason))
    else:
        lines.append(TEXT["why_fallback"].format(threshold=threshold))
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")


def suggestions_text(reply: Reply) -> str:
    """The "Did you mean…?" message listing the suggested questions in full."""
    lines = [TEXT["suggest"]]
    for number, suggestion in enumerate(reply.suggestions, 1):
        row = TEXT["suggest_row"].format(number=number, text=suggestion.question.text)
        lines.append(shorten(row, 300))
    return truncate("\n".join(lines), CONTENT_LIMIT, note="")


def embed_units(embed: discord.Embed) -> int:
    """An embed's size as Discord counts it against the 6,000 limit (in UTF-16 units)."""
    parts = [embed.title or "", embed.description or "", embed.footer.text or ""]
    parts.append(embed.author.name or "")
    for field in embed.fields:
        parts.extend([field.name or "", field.value or ""])
    return sum(units(p) for p in parts)


def page_button(
    custom_id: str,
    *,
    forward: bool,
    disabled: bool = False,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
) -> discord.ui.Button[Any]:
    """A "Previous" or "Next" button; ``custom_id`` carries the page it shows, so pages keep
    working after a restart (the queues', ``/unanswered canonical``'s and tag pages')."""
    return discord.ui.Button(
        label=TEXT["mod_next"] if forward else TEXT["mod_previous"],
        style=style,
        custom_id=custom_id,
        disabled=disabled,
    )
