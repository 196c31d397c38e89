"""How the bot's replies look on Discord: embeds, texts and labels within Discord's limits.

Every user-facing string of the Discord front end is in :data:`TEXT`, so wording can be
reviewed and changed in one place. Truncation never cuts a word, a markdown link or another
inline markdown construct in half: it stops at a paragraph, sentence or word boundary before
the limit and says that the full text is longer.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

import discord

from bot.knowledge.model import Answer, Question
from bot.service import Reply

TEXT = {
    # -- moderation (bot/discord/moderation.py, moderation_views.py) --------------------------
    "mod_not_moderator": (
        "Only moderators can do that: members with the Manage Messages permission or a "
        "moderator role."
    ),
    "mod_not_home": (
        "This server can't change the shared knowledge base: only the bot's home server(s) "
        "can. Nothing was changed."
    ),
    "mod_no_home": (
        "No home server is configured, so nobody can change the knowledge base from Discord. "
        "The bot's admin can list this server's id in `home_guilds` under `[discord]` in the "
        "config file. Nothing was changed."
    ),
    "mod_refused": "Not done: {reason}. Nothing was changed.",
    "mod_done": "Done: {action} (question `{id}`, now version {version}).",
    "mod_done_removed": "Done: question `{id}` is removed (version {version}).",
    "mod_add_title": "Add a question",
    "mod_edit_title": "Edit a question",
    "mod_field_question": "Question",
    "mod_field_phrasings": "Alternate phrasings (one per line)",
    "mod_field_phrasings_hint": "Other ways people ask the same thing",
    "mod_field_tags": "Tags (separated by commas)",
    "mod_field_tags_hint": "e.g. alignment, basics",
    "mod_field_answer": "Answer",
    "mod_field_new_answer": "New answer (optional)",
    "mod_field_canonical": "Canonical answer",
    "mod_field_canonical_hint": "Canonical answers are shown first",
    "mod_pick_answer": "This question has {count} answers. Which one do you want to edit?",
    "mod_pick_answer_hint": "Choose an answer",
    "mod_confirm_question": "Remove the question `{id}` ({text}) and all its answers?",
    "mod_confirm_answer": "Remove the answer `{answer}` of question `{id}`?",
    "mod_remove_button": "Remove",
    "mod_cancel_button": "Cancel",
    "mod_cancelled": "Cancelled. Nothing was changed.",
    "mod_show_id": "**id** `{id}`",
    "mod_show_text": "**question** {text}",
    "mod_show_phrasings": "**alternate phrasings**",
    "mod_show_tags": "**tags** {tags}",
    "mod_show_none": "none",
    "mod_show_no_answers": "*No answers yet.*",
    "mod_show_answer": "answer `{id}`{canonical}{author}",
    "mod_show_canonical": " (canonical)",
    "mod_show_more": "…and {count} more answer(s)",
    "mod_history_title": "History of `{id}`, newest first:",
    "mod_history_row": "**v{version}** {when} · {who} · {action}{current}",
    "mod_history_shipped": "**v0** {action}{current}",
    "mod_history_current": " ← current",
    "mod_history_hint": "Go back with `/answer revert` and a version number.",
    "mod_removed_choice": "{id} (removed)",
    "mod_save_command": "Save as answer",
    "mod_save_title": "Save this message as an answer",
    "mod_save_existing": "Answer to an existing question",
    "mod_save_existing_hint": "The closest questions, best first",
    "mod_save_new": "…or to a new question",
    "mod_save_new_hint": "Type the new question",
    "mod_save_empty": "That message has no text to save as an answer. Nothing was changed.",
    "mod_save_both": (
        "Choose an existing question or type a new one, not both. Nothing was changed."
    ),
    "mod_saved": "{result} The answer is credited to {author}.",
    "mod_queue_title": "Unanswered questions {first}-{last} of {total}, most asked first:",
    "mod_queue_row": "`#{id}` ({count}×) {text}",
    "mod_queue_hint": (
        "Use `/unanswered answer`, `/unanswered merge` or `/unanswered dismiss` with the number."
    ),
    "mod_queue_empty": "No unanswered questions. 🎉",
    "mod_queue_past_end": "No more items on this page; go back a page.",
    "mod_proposals_title": "Proposed phrasings {first}-{last} of {total}, most proposed first:",
    "mod_proposals_row": "`#{id}` ({count}×) {text} → {question}",
    "mod_proposals_hint": "Use `/unanswered approve` or `/unanswered reject` with the number.",
    "mod_proposals_empty": "No proposed phrasings to review.",
    "mod_previous": "Previous",
    "mod_next": "Next",
    "mod_item_choice": "#{id} ({count}×) {text}",
    "mod_proposal_choice": "#{id} {text} → {question}",
    "mod_dismissed": "Dismissed unanswered question #{id}: {text}",
    "mod_rejected": "Rejected proposed phrasing #{id}: {text}",
    "mod_reload_same": "Reloaded the answers files: nothing changed.",
    "mod_reload_changed": "Reloaded the answers files: {summary}.",
    "mod_reload_ids": "{label}: {ids}",
    "mod_reload_failed": (
        "Not reloaded: {count} error(s) in the answers files. The bot keeps serving the "
        "knowledge base it had. Fix these and reload again:"
    ),
    "mod_reload_more": "…and {count} more error(s); run `stampy check` to see them all.",
    "mod_reload_skipped": (
        "{count} stored change(s) clash with the files and are not applied (the files' "
        "version is served):"
    ),
    "footer": "React with :stamp: to give this answer your stamp of approval",
    "stamps_field": "Stamps",
    "stamps": "{count} stamps",
    "stamp": "1 stamp",
    "tags_field": "Tags",
    "author_field": "Answer by",
    "source_field": "Source",
    "truncated_note": "\n\n*(The full answer is longer than Discord allows in one message.)*",
    "no_answer_yet": "That's a known question, but nobody has written an answer yet.",
    "no_match": (
        "I don't know the answer to that yet. I've noted the question so that someone can "
        "write an answer."
    ),
    "suggest": "I'm not sure which question you mean. Did you mean:",
    "suggest_row": "{number}. {text}",
    "empty": "Hi! Ask me a question, for example: “stampy, what is AI alignment?”",
    "apology": "Sorry, something went wrong while answering that. The error has been logged.",
    "button_apology": "Sorry, something went wrong with that button. The error has been logged.",
    "command_refused": "You can't use that command here.",
    "command_apology": "Sorry, that command failed. The error has been logged.",
    "more_button": "Other answers",
    "why_button": "Why this answer?",
    "why": "Matched the stored phrasing “{phrasing}” with score {score:.2f}.",
    "why_reason": "Why: {reason}.",
    "why_fallback": (
        "Why: the match was judged right with a probability of at least {threshold:.2f}, "
        "the confidence it needs to answer."
    ),
    "why_picked": "Why: it was picked from the “Did you mean…?” choices.",
    "more_title": "Another answer to: {question}",
    "more_none": "This question has no other answers.",
    "more_hidden": "…and {count} more answer(s) that do not fit in one message.",
    "gone": "That question is no longer in the knowledge base.",
    "stamps_group": "Stamps of approval: reputation and leaderboard",
    "stamps_show": "A member's stamp score, and the stamps they received and gave",
    "stamps_show_member": "Whose stamps (default: yours)",
    "stamps_top": "The members with the highest stamp scores",
    "stamps_user": (
        "{user} is worth **{score:.2f}** stamps. They received {received} and gave {given}."
    ),
    "stamps_top_title": "Stamp leaderboard (reputation, as stamps worth):",
    "stamps_top_row": "{rank}. {user}: {score:.2f}",
    "stamps_top_empty": "Nobody has a stamp score yet.",
    "stamps_off": "Stamps are not recorded here (the bot has no database).",
}

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
# Cut points, best first: paragraph break, line break, sentence end, any space.
_BREAKS = (
    re.compile(r"\n[ \t]*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?;:])[ \t]"),
    re.compile(r"\s"),
)
_FENCE = "```"
_SPACES = re.compile(r"\s+")


def units(text: str) -> int:
    """Length as Discord may count it: UTF-16 code units (an emoji can count twice).

    Never less than ``len(text)``, so staying within it stays within Discord's limits
    whichever way they are counted.
    """
    return len(text.encode("utf-16-le")) // 2


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every protected construct, in order and not overlapping."""
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
    fallback: int | None = None
    for pattern in _BREAKS:
        best = None
        for match in pattern.finditer(window):
            cut = match.start()
            if cut <= budget and text[:cut].strip() and not _inside(cut, spans):
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


def truncate(
    text: str, limit: int, note: str = TEXT["truncated_note"], *, close_fence: bool = True
) -> str:
    """``text`` if it fits ``limit``; else its start, cut at a boundary, plus "…" and ``note``.

    The result always fits ``limit`` (counted in UTF-16 units). An open code fence in the
    kept part is closed (unless ``close_fence`` is false: a one-line label).
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


def shorten(text: str, limit: int) -> str:
    """One line of ``text`` (whitespace collapsed) within ``limit``, cut at a word, with "…".

    Code fences are left open: a label is plain text, and closing one would need a line break.
    """
    line = _SPACES.sub(" ", text).strip()
    return truncate(line, limit, note="", close_fence=False)


def suggestion_label(text: str) -> str:
    """A button label (at most 80 characters) for a suggested question."""
    return shorten(text, LABEL_LIMIT) or ELLIPSIS


def stamps_text(count: int) -> str:
    """The stamp count in words: "1 stamp", "0 stamps", "5 stamps"."""
    return TEXT["stamp"] if count == 1 else TEXT["stamps"].format(count=count)


def answer_embed(question: Question, answer: Answer | None, *, stamps: int = 0) -> discord.Embed:
    """The embed of an answer: the stored question as title, the answer as description.

    Fields show tags, the stamp count, the author and the source; the footer invites a
    stamp. The description is cut to what is left of Discord's 6,000-character budget.
    """
    embed = discord.Embed(
        title=shorten(question.text, TITLE_LIMIT),
        colour=discord.Colour.gold() if answer and answer.canonical else discord.Colour.blurple(),
    )
    if question.tags:
        embed.add_field(
            name=TEXT["tags_field"], value=shorten(", ".join(question.tags), FIELD_VALUE_LIMIT)
        )
    embed.add_field(name=TEXT["stamps_field"], value=stamps_text(stamps))
    author = shorten(answer.author, FIELD_VALUE_LIMIT) if answer and answer.author else ""
    if author:  # an author of only blanks shows no field (Discord refuses an empty one)
        embed.add_field(name=TEXT["author_field"], value=author)
    if answer is not None and answer.source:
        embed.add_field(
            name=TEXT["source_field"], value=truncate(answer.source, FIELD_VALUE_LIMIT, note="")
        )
    embed.set_footer(text=TEXT["footer"])
    text = answer.text.strip() if answer is not None else TEXT["no_answer_yet"]
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_units(embed))
    embed.description = truncate(text, room)
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
