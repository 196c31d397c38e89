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

import re
from collections.abc import Mapping

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import Markup, escape

__all__ = ["author_name", "discord_text", "render_markdown"]

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
    return discord_text(author, names).strip() or None


def _validate_link(url: str) -> bool:
    scheme = _SCHEME.match(url)
    if scheme is None:
        return not url.lstrip().startswith("//")  # relative, not protocol-relative
    return url.lstrip().lower().startswith(_SAFE_SCHEMES)


def _spoiler(state: StateInline, silent: bool) -> bool:
    """``||hidden||``: Discord's spoiler, as a span the stylesheet hides."""
    start = state.pos
    if not state.src.startswith("||", start):
        return False
    end = state.src.find("||", start + 2, state.posMax)
    if end < 0 or end == start + 2:
        return False
    if not silent:
        opening = state.push("spoiler_open", "span", 1)
        opening.attrs = {"class": "spoiler", "tabindex": "0", "title": "spoiler"}
        limit = state.posMax
        state.pos, state.posMax = start + 2, end
        state.md.inline.tokenize(state)
        state.posMax = limit
        state.push("spoiler_close", "span", -1)
    state.pos = end + 2
    return True


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.inline.ruler.before("emphasis", "discord_spoiler", _spoiler)

    def link_open(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


_MD = _markdown()


def render_markdown(text: str, names: Mapping[int, str] | None = None) -> Markup:
    """An answer's text as safe HTML (see the module docstring)."""
    return Markup(_MD.render(discord_text(text, names)))


def plain(text: str) -> Markup:
    """Text escaped for HTML (for the rare caller outside a template)."""
    return escape(text)
