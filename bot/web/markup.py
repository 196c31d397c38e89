"""Answers as HTML: Markdown (CommonMark) with raw HTML off, and Discord's own syntax.

* Raw HTML in an answer is shown as text, never passed through (markdown-it-py,
  ``html=False``), and images are not loaded (an image becomes its alt text).
* Links are kept only when they point to ``http``, ``https`` or ``mailto`` addresses (or are
  relative); ``javascript:``, ``data:``, ``vbscript:`` and the rest become plain text.
  External links get ``rel="nofollow noopener noreferrer"``.
* ``||spoiler||`` becomes a span hidden until hovered or focused (no script needed).
* Mentions are never shown as ids: ``<@123>`` reads "a member" (or the name given for that
  id), ``<@&123>`` "a role", ``<#123>`` "a channel", and a custom emoji ``<:name:123>``
  its ``:name:``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup, escape

__all__ = ["author_name", "discord_text", "render_markdown", "web_link"]

#: Answers whose HTML is kept (a few MiB at most: answers are at most 4,000 characters).
RENDERED_CACHE = 2048

_USER = re.compile(r"<@!?(\d{1,20})>")
_ROLE = re.compile(r"<@&\d{1,20}>")
_CHANNEL = re.compile(r"<#\d{1,20}>")
_EMOJI = re.compile(r"<a?:(\w{1,32}):\d{1,20}>")
_TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::[tTdDfFR])?>")
_SAFE_SCHEMES = ("http:", "https:", "mailto:")
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")


def discord_text(text: str, names: Mapping[int, str] | None = None) -> str:
    """``text`` with Discord's mentions and custom emojis written out in words."""

    def user(match: re.Match[str]) -> str:
        name = (names or {}).get(int(match[1]))
        return f"@{name}" if name else "a member"

    text = _USER.sub(user, text)
    text = _ROLE.sub("a role", text)
    text = _CHANNEL.sub("a channel", text)
    text = _EMOJI.sub(r":\1:", text)
    return _TIMESTAMP.sub("a date", text)


def author_name(author: str | None, names: Mapping[int, str] | None = None) -> str | None:
    """How an answer's author is shown: their name, never a raw id (a Discord mention
    without a known name reads "a member")."""
    if author is None or not author.strip():
        return None
    alone = _USER.fullmatch(author.strip())
    if alone is not None:
        return (names or {}).get(int(alone[1])) or "a member"
    return discord_text(author, names).strip() or None


def web_link(url: str | None) -> str | None:
    """``url`` if it is an ``http``/``https`` address (an answer's source, a tag's link),
    else None: anything else is not shown as a link."""
    if url and re.match(r"^https?://[^\s\x00-\x1f]+$", url.strip(), re.I):
        return url.strip()
    return None


def _validate_link(url: str) -> bool:
    scheme = _SCHEME.match(url)
    if scheme is None:
        return not url.lstrip().startswith("//")  # relative, not protocol-relative
    return url.lstrip().lower().startswith(_SAFE_SCHEMES)


def _spoilers(state: StateCore) -> None:
    """``||hidden||``: Discord's spoiler, as a span the stylesheet hides. Markers pair up
    within a paragraph (an odd one out stays as text); code spans keep theirs."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        markers = sum(t.content.count("||") for t in block.children if t.type == "text")
        markers -= markers % 2
        if not markers:
            continue
        children: list[Token] = []
        used = 0
        for token in block.children:
            if token.type != "text" or "||" not in token.content or used >= markers:
                children.append(token)
                continue
            for index, part in enumerate(token.content.split("||")):
                if index and used < markers:
                    opening = used % 2 == 0
                    marker = Token(
                        "spoiler_open" if opening else "spoiler_close", "span", 1 if opening else -1
                    )
                    if opening:
                        marker.attrs = {"class": "spoiler", "tabindex": "0", "title": "spoiler"}
                    children.append(marker)
                    used += 1
                elif index:
                    part = "||" + part
                if part:
                    children.append(Token("text", "", 0, content=part))
        block.children = children


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.core.ruler.push("discord_spoiler", _spoilers)

    def link_open(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_MD = _markdown()


def render_markdown(text: str, names: Mapping[int, str] | None = None) -> Markup:
    """An answer's text as safe HTML (see the module docstring). The HTML of the most
    recently shown texts is kept (answers are read far more often than they change)."""
    known = ()
    if names:  # the names this text mentions are part of what is kept
        known = tuple(
            (user, names[user])
            for user in sorted({int(m) for m in _USER.findall(text)})
            if user in names
        )
    return Markup(_rendered(text, known))


@functools.lru_cache(maxsize=RENDERED_CACHE)
def _rendered(text: str, names: tuple[tuple[int, str], ...]) -> str:
    return _MD.render(discord_text(text, dict(names)))


def plain(text: str) -> Markup:
    """Text escaped for HTML (for the rare caller outside a template)."""
    return escape(text)
