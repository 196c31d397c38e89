"""Bot settings: read from a TOML file into typed, frozen dataclasses.

There are no module-level settings: :func:`load_settings` returns a :class:`Settings`
object that callers pass to whatever needs it.

The file is chosen explicitly (``--config PATH`` or the ``STAMPY_CONFIG`` environment
variable); without one, the defaults below are used. The Discord token is never read
from the file, only from the ``DISCORD_TOKEN`` environment variable.

The loader is generic: every section is a frozen dataclass whose fields are checked
against their type annotations. To add a section, write a dataclass (deriving from
:class:`SettingsSection`) and add a field holding it to :class:`Settings`; to add a
setting, add a field to its section. Range limits are declared with :func:`setting`
and cross-field rules go in :meth:`SettingsSection.check`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.store.db import redact_url

__all__ = [
    "ConfigError",
    "DatabaseSettings",
    "DiscordSettings",
    "InvalidSettingError",
    "KnowledgeSettings",
    "MatchSettings",
    "Settings",
    "SettingsSection",
    "StampSettings",
    "WebSettings",
    "load_settings",
    "setting",
]

#: Environment variable naming the config file (used when no path is given).
CONFIG_ENV_VAR = "STAMPY_CONFIG"
#: Environment variable holding the Discord bot token (the only place it is read from).
TOKEN_ENV_VAR = "DISCORD_TOKEN"

# Keys that look like a secret and are refused anywhere in the file (compared lower-cased).
_TOKEN_KEYS = frozenset({"token", "discord_token"})


class ConfigError(Exception):
    """The configuration could not be read or is invalid; the message says where and why."""


class InvalidSettingError(ConfigError, ValueError):
    """A setting has a value outside its allowed range.

    Raised when a section dataclass is constructed with a bad value. ``key`` is the field
    name; ``detail`` is the rest of the message, in which ``{prefix}`` stands for the
    dotted section prefix (so that other keys it mentions can be named in full).
    """

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        self.detail = detail
        super().__init__(self.describe(""))

    def describe(self, prefix: str) -> str:
        """The message with keys written as ``prefix + key`` (e.g. ``"matching."``)."""
        return f"'{prefix}{self.key}' {self.detail.replace('{prefix}', prefix)}"


def setting(
    default: Any,
    *,
    ge: float | None = None,
    le: float | None = None,
    nonempty: bool = False,
    item_ge: float | None = None,
    nonempty_items: bool = False,
    path: bool = False,
) -> Any:
    """A dataclass field with limits that are checked when its section is constructed.

    ``ge``/``le`` bound a number (inclusive); ``nonempty`` requires a non-blank string;
    ``item_ge`` bounds every number in an array; ``nonempty_items`` requires every string
    in an array to be non-blank. Arrays are tuples, so ``default`` is used as is.
    ``path`` marks a file or directory: a relative one written in a config file is taken
    relative to that file's folder (the defaults stay relative to the working directory).
    """
    limits = {
        "ge": ge,
        "le": le,
        "nonempty": nonempty,
        "item_ge": item_ge,
        "nonempty_items": nonempty_items,
    }
    return field(default=default, metadata={"limits": limits, "path": path})


def _fmt(value: object) -> str:
    """A number or string as it would be written in TOML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return _quote(value)
    return repr(value)


def _quote(text: str, limit: int = 40) -> str:
    """``text`` in double quotes, shortened if long."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True)
class SettingsSection:
    """Base class of the settings sections: checks declared limits on construction.

    Subclasses are frozen dataclasses; limits come from :func:`setting` metadata, and
    rules involving several fields go in :meth:`check`.
    """

    def __post_init__(self) -> None:
        """Check every field's declared limits, then the section's own rules."""
        for f in dataclasses.fields(self):
            limits = f.metadata.get("limits")
            if limits:
                _check_limits(f.name, getattr(self, f.name), limits)
        self.check()

    def check(self) -> None:
        """Rules involving several fields; raise :class:`InvalidSettingError` on failure."""


def _check_limits(key: str, value: object, limits: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidSettingError` if ``value`` breaks ``limits``."""
    lo, hi = limits.get("ge"), limits.get("le")
    if limits.get("nonempty") and isinstance(value, str) and not value.strip():
        raise InvalidSettingError(key, f"must not be empty, got {_quote(value)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            raise InvalidSettingError(key, "must be a number, got nan")
        if lo is not None and hi is not None:
            if not lo <= value <= hi:
                raise InvalidSettingError(
                    key, f"must be between {_fmt(lo)} and {_fmt(hi)}, got {_fmt(value)}"
                )
        elif lo is not None and not value >= lo:
            raise InvalidSettingError(key, f"must be at least {_fmt(lo)}, got {_fmt(value)}")
        elif hi is not None and not value <= hi:
            raise InvalidSettingError(key, f"must be at most {_fmt(hi)}, got {_fmt(value)}")
    if isinstance(value, tuple):
        item_ge = limits.get("item_ge")
        for i, item in enumerate(value):
            if limits.get("nonempty_items") and isinstance(item, str) and not item.strip():
                raise InvalidSettingError(
                    f"{key}[{i}]", f"must be a non-empty string, got {_quote(item)}"
                )
            if item_ge is not None and isinstance(item, int | float) and not item >= item_ge:
                raise InvalidSettingError(
                    f"{key}[{i}]", f"must be at least {_fmt(item_ge)}, got {_fmt(item)}"
                )


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class KnowledgeSettings(SettingsSection):
    """Where the knowledge base is read from (``[knowledge]``)."""

    #: Directory of YAML knowledge-base files; relative to the config file's folder when
    #: set in one, else to the working directory.
    answers_dir: str = setting("answers", nonempty=True, path=True)
    #: Keep a snapshot of the loaded files and their index beside the database file
    #: (``<database path>.knowledge-snapshot``), so a start whose files did not change skips
    #: parsing and indexing them (see :mod:`bot.knowledge.snapshot`).
    snapshot: bool = setting(True)


@dataclass(frozen=True)
class MatchSettings(SettingsSection):
    """When a message is answered (``[matching]``).

    A fitted model (see :mod:`bot.knowledge.abstain`) gives the probability that the best
    stored question is the one asked; the bot answers when it reaches ``confidence``.
    """

    #: Probability (0-1) that the best question is right at/above which the bot answers.
    #: 0.5 maximises right answers minus wrong ones; higher answers less and more surely.
    confidence: float = setting(0.5, ge=0.0, le=1.0)
    #: Share (0-1) of messages that the knowledge base can answer, if known; 0 keeps the
    #: share the model was fitted on. Lower makes the bot quieter.
    answerable_share: float = setting(0.0, ge=0.0, le=0.99)
    #: The model file (JSON from ``stampy calibrate``); empty: ``matching-model.json`` in
    #: the answers directory if there is one, else the model shipped with Stampy.
    model: str = setting("")
    #: Use the semantic tier (sentence embeddings) if ``stampy[semantic]`` is installed.
    semantic: bool = setting(False)
    #: Where the semantic tier keeps the knowledge base's vectors (relative: to the cwd).
    semantic_cache: str = setting("stampy-vectors.npz", nonempty=True)
    #: Score at/above which it offers "did you mean" choices when it does not answer.
    suggest_threshold: float = setting(0.3, ge=0.0, le=1.0)
    #: How many "did you mean" choices to offer (Discord shows up to 3 buttons).
    max_suggestions: int = setting(3, ge=1, le=3)


@dataclass(frozen=True)
class DatabaseSettings(SettingsSection):
    """The database of usage data and edits (``[database]``): a SQLite file, or a
    PostgreSQL server that several processes share."""

    #: Path of the SQLite database file (used when ``url`` is empty); relative to the config
    #: file's folder when set in one, else to the working directory.
    path: str = setting("stampy.db", nonempty=True, path=True)
    #: A PostgreSQL database (``postgresql://user:password@host:port/dbname``) shared by
    #: every process; empty: the SQLite file at ``path``.
    url: str = setting("")
    #: Most connections one process keeps open to PostgreSQL (ignored for SQLite).
    pool_size: int = setting(10, ge=2, le=100)

    def check(self) -> None:
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise InvalidSettingError(
                "url",
                "must be a PostgreSQL address starting with postgresql:// "
                f"(got {_quote(redact_url(self.url))}); leave it out to use the "
                "SQLite file in '{prefix}path'",
            )

    @property
    def location(self) -> str:
        """What :meth:`bot.store.Store.open` opens: the url if given, else the path."""
        return self.url or self.path

    @property
    def shared(self) -> bool:
        """Whether the database is a PostgreSQL server (shared by processes)."""
        return bool(self.url)


@dataclass(frozen=True)
class DiscordSettings(SettingsSection):
    """Where and to whom the bot responds on Discord (``[discord]``)."""

    #: Case-insensitive name prefixes that address the bot ("stampy, what is ...").
    prefixes: tuple[str, ...] = setting(("stampy,", "s,"), nonempty_items=True)
    #: Channel ids where any question is answered.
    qa_channels: tuple[int, ...] = setting((), item_ge=1)
    #: Guild ids allowed to change the shared knowledge base (/answer ...); none: no guild.
    home_guilds: tuple[int, ...] = setting((), item_ge=1)
    #: Role names counted as moderators (besides Manage Messages), compared ignoring case.
    moderator_roles: tuple[str, ...] = setting((), nonempty_items=True)
    #: Role names of writers (ignoring case): besides moderators, they may list the known
    #: questions nobody has answered (``/unanswered canonical``) and answer them there.
    writer_roles: tuple[str, ...] = setting((), nonempty_items=True)
    #: The moderators' channel id where members' reports (and answers stamps propose as
    #: canonical) are posted; 0: none (they are still in ``/unanswered reports``).
    reports_channel: int = setting(0, ge=0)
    #: After a burst of ``user_burst`` questions, a user gets one answer every this many
    #: seconds; a question asked sooner waits its turn (marked with a reaction).
    user_cooldown_seconds: float = setting(3.0, ge=0.0)
    #: Questions a user may ask at once before ``user_cooldown_seconds`` applies.
    user_burst: int = setting(3, ge=1, le=20)
    #: The same question in one channel is answered at most once in this many seconds;
    #: another member asking it meanwhile gets the answer once they are up.
    channel_cooldown_seconds: float = setting(1.0, ge=0.0)


#: A stamp emoji entry: ``name=weight``. A name of letters, digits and underscores is a custom
#: emoji's name (any server's emoji of that name counts); anything else is a unicode emoji.
_STAMP_ENTRY = re.compile(r"^\s*(?P<emoji>[^=\s]+)\s*=\s*(?P<weight>\d{1,4})\s*$")
_CUSTOM_EMOJI_NAME = re.compile(r"^\w{2,32}$", re.ASCII)


@dataclass(frozen=True)
class StampSettings(SettingsSection):
    """Stamps of approval: which reactions count, who is trusted, how often to recount
    (``[stamps]``)."""

    #: Stamp emojis with their weights, as ``"name=weight"``; a plain name (letters, digits,
    #: underscores) is a custom emoji's name, anything else a unicode emoji.
    emojis: tuple[str, ...] = setting(("stamp=1", "goldstamp=5", "🏅=1"), nonempty_items=True)
    #: User ids whose trust seeds reputation (besides guild owners and moderators).
    root_user_ids: tuple[int, ...] = setting((), item_ge=1)
    #: On start, stamps on answers posted in this many past days are re-read from Discord.
    reconcile_days: int = setting(14, ge=0, le=3650)
    #: Reputation is recomputed at most this often (seconds) after stamps change.
    reputation_delay_seconds: float = setting(5.0, ge=0.0, le=3600.0)
    #: An answer's embed is edited to show its new stamp count this long after a change.
    embed_update_seconds: float = setting(2.0, ge=0.0, le=3600.0)
    #: A non-canonical answer is proposed as canonical when its reputation-weighted stamps
    #: are at least this share of those of all the question's answers ...
    promote_share: float = setting(0.5, ge=0.01, le=1.0)
    #: ... and it has at least this many stamps (its stamp count).
    promote_min_stamps: int = setting(3, ge=1)

    def check(self) -> None:
        """Every ``emojis`` entry must be ``name=weight`` with a weight of 1 or more, once."""
        if not self.emojis:
            raise InvalidSettingError("emojis", "must list at least one stamp emoji")
        seen: set[str] = set()
        for i, entry in enumerate(self.emojis):
            match = _STAMP_ENTRY.match(entry) if isinstance(entry, str) else None
            if match is None or int(match["weight"]) < 1:
                raise InvalidSettingError(
                    f"emojis[{i}]",
                    f'must look like "name=weight" with a weight from 1 to 9999, got {_fmt(entry)}',
                )
            emoji = match["emoji"].replace("\ufe0f", "")
            if emoji in seen:
                raise InvalidSettingError(f"emojis[{i}]", f"repeats the emoji {_quote(emoji)}")
            seen.add(emoji)

    @property
    def weights(self) -> dict[str, int]:
        """Stamp weight by emoji: custom emoji names and unicode emojis (without U+FE0F)."""
        found: dict[str, int] = {}
        for entry in self.emojis:
            match = _STAMP_ENTRY.match(entry)
            if match is not None:
                found[match["emoji"].replace("\ufe0f", "")] = int(match["weight"])
        return found

    @staticmethod
    def is_custom_name(emoji: str) -> bool:
        """Whether a configured emoji is a custom emoji's name (not a unicode emoji)."""
        return _CUSTOM_EMOJI_NAME.match(emoji) is not None


_HOST = re.compile(r"^[A-Za-z0-9.:\-\[\]]+$")


@dataclass(frozen=True)
class WebSettings(SettingsSection):
    """The read-only web site and JSON API (``[web]``, served by ``stampy web``)."""

    #: Address to listen on; 127.0.0.1 keeps it to this machine (put a proxy in front).
    host: str = setting("127.0.0.1", nonempty=True)
    #: TCP port to listen on.
    port: int = setting(8080, ge=1, le=65535)
    #: Public address of the site, for permalinks (e.g. "https://wiki.example.org"); empty:
    #: links are made from the address each request came to.
    base_url: str = setting("")
    #: Whether ``stampy run`` also serves the site, in the same process as the bot.
    with_bot: bool = False
    #: Seconds between looks at the database for moderators' edits and stamps made by
    #: another process (``stampy web`` beside ``stampy run``).
    refresh_seconds: float = setting(2.0, ge=0.1, le=3600.0)

    def check(self) -> None:
        if not _HOST.match(self.host):
            raise InvalidSettingError(
                "host", f"must be a host name or IP address, got {_quote(self.host)}"
            )
        if self.base_url and not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", self.base_url):
            raise InvalidSettingError(
                "base_url",
                "must be an http:// or https:// address without a query, e.g. "
                f'"https://wiki.example.org", got {_quote(self.base_url)}',
            )


@dataclass(frozen=True)
class ReportSettings(SettingsSection):
    """Members' reports of problems with answers (``[reports]``)."""

    #: A member may send at most this many reports ...
    per_member: int = setting(3, ge=1)
    #: ... within this many minutes.
    window_minutes: float = setting(60.0, ge=0.0)


@dataclass(frozen=True)
class Settings:
    """All settings. Each field holding a :class:`SettingsSection` is a TOML table.

    ``token`` comes only from the ``DISCORD_TOKEN`` environment variable and never
    appears in ``repr()``; ``source`` is the file the settings were read from (None for
    the defaults).
    """

    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    matching: MatchSettings = field(default_factory=MatchSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    stamps: StampSettings = field(default_factory=StampSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    web: WebSettings = field(default_factory=WebSettings)
    token: str | None = field(default=None, repr=False)
    source: str | None = None

    def __repr__(self) -> str:
        """Like the generated repr, but the token is shown only as set or not."""
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "token":
                parts.append(f"token={'<set>' if value is not None else None}")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


# --------------------------------------------------------------------------- loading


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read the settings.

    The file is ``path`` if given (the ``--config`` option), else the one named by the
    ``STAMPY_CONFIG`` environment variable if set and non-empty, else none and the
    defaults are used; no file is looked for implicitly. The token is taken from
    ``DISCORD_TOKEN`` (stripped; empty means none). ``env`` defaults to ``os.environ``.

    Raises :class:`ConfigError` if a chosen file is missing, unreadable, not valid
    TOML, or holds unknown keys, values of the wrong type or out-of-range values.
    """
    if env is None:
        env = os.environ
    token = (env.get(TOKEN_ENV_VAR) or "").strip() or None

    origin = ""
    if path is None:
        from_env = (env.get(CONFIG_ENV_VAR) or "").strip()
        if not from_env:
            return Settings(token=token)
        path, origin = from_env, f" (named by {CONFIG_ENV_VAR})"

    name = os.fspath(path)
    data = _read_toml(name, origin)
    sections = _parse_sections(data, name)
    return Settings(**sections, token=token, source=name)


def _read_toml(name: str, origin: str) -> dict[str, Any]:
    """Parse the TOML file ``name``; every failure becomes a :class:`ConfigError`."""
    try:
        with open(name, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{name}: config file not found{origin}") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: config path is a directory, not a file{origin}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"{name}: cannot read config file{origin}: {reason}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: config file is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: invalid TOML: {exc}") from None


def _section_types(settings_cls: type = Settings) -> dict[str, type[SettingsSection]]:
    """The TOML sections: the fields of ``settings_cls`` that hold a section dataclass."""
    hints = typing.get_type_hints(settings_cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(settings_cls)
        if isinstance(hints[f.name], type) and issubclass(hints[f.name], SettingsSection)
    }


def _find_token_keys(value: object, dotted: str = "") -> Iterator[str]:
    """Dotted names of every key in ``value`` (a parsed TOML document) that holds a token."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{dotted}.{key}" if dotted else key
            if key.lower() in _TOKEN_KEYS:
                yield name
            yield from _find_token_keys(item, name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _find_token_keys(item, f"{dotted}[{i}]")


def _parse_sections(
    data: Mapping[str, Any], name: str, settings_cls: type = Settings
) -> dict[str, SettingsSection]:
    """Turn a parsed TOML document into section objects, checking keys, types and ranges.

    The result holds only the sections present in ``data``, keyed by field name of
    ``settings_cls``, ready to be passed to its constructor.
    """
    token_key = next(_find_token_keys(data), None)
    if token_key is not None:
        raise ConfigError(
            f"{name}: '{token_key}': tokens must not be stored in the config file; "
            f"remove it and set the {TOKEN_ENV_VAR} environment variable instead"
        )

    section_types = _section_types(settings_cls)
    for key, value in data.items():
        if key in section_types:
            continue
        known = ", ".join(section_types)
        if isinstance(value, dict):
            msg = f"unknown section '{key}' (known sections: {known})"
        else:
            msg = f"unknown top-level key '{key}' (settings belong in a section: {known})"
        raise ConfigError(f"{name}: {msg}{_did_you_mean(key, section_types)}")

    sections: dict[str, SettingsSection] = {}
    for section, cls in section_types.items():
        if section not in data:
            continue
        table = data[section]
        if not isinstance(table, dict):
            raise ConfigError(
                f"{name}: '{section}' must be a table ([{section}]), got {_describe(table)}"
            )
        sections[section] = _parse_section(cls, table, section, name)
    return sections


def _parse_section(
    cls: type[SettingsSection], table: Mapping[str, Any], section: str, name: str
) -> SettingsSection:
    """Build one section dataclass from its TOML table."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in table:
        if key not in fields:
            known = ", ".join(fields)
            raise ConfigError(
                f"{name}: unknown key '{section}.{key}' (known keys: {known})"
                f"{_did_you_mean(key, fields)}"
            )

    hints = typing.get_type_hints(cls)
    values = {
        key: _coerce(value, hints[key], f"{section}.{key}", name) for key, value in table.items()
    }
    folder = os.path.dirname(name)
    for key, value in values.items():
        if fields[key].metadata.get("path") and isinstance(value, str) and value.strip():
            # Written in this file, so relative to it: the same wherever stampy is run from.
            values[key] = os.path.join(folder, os.path.expanduser(value))
    try:
        return cls(**values)
    except InvalidSettingError as exc:
        raise ConfigError(f"{name}: {exc.describe(section + '.')}") from None


def _did_you_mean(key: str, known: typing.Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a close match of ``key``, else ``""``."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.7)
    return f"; did you mean '{close[0]}'?" if close else ""


# --------------------------------------------------------------------------- typing


def _describe(value: object) -> str:
    """A TOML value's type and (for scalars) value, e.g. ``string "three"``."""
    if isinstance(value, bool):
        return f"boolean {_fmt(value)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {_fmt(value)}"
    if isinstance(value, str):
        return f"string {_quote(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value}"  # dates and times


def _type_name(tp: Any) -> str:
    """How an annotation is described in messages, e.g. ``an array of integers``."""
    simple = {
        str: ("a string", "strings"),
        int: ("an integer", "integers"),
        float: ("a number", "numbers"),
        bool: ("a boolean (true or false)", "booleans"),
    }
    if tp in simple:
        return simple[tp][0]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and args[0] in simple:
        return f"an array of {simple[args[0]][1]}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    raise TypeError(f"unsupported settings annotation: {tp!r}")


class _Mismatch(Exception):
    """A value does not fit a type; ``key`` is the (possibly indexed) dotted name."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _coerce(value: Any, tp: Any, key: str, name: str) -> Any:
    """Check a TOML ``value`` against annotation ``tp`` and convert it (arrays to tuples)."""
    try:
        return _convert(value, tp, key)
    except _Mismatch as exc:
        raise ConfigError(f"{name}: '{exc.key}' {exc}") from None


def _convert(value: Any, tp: Any, key: str) -> Any:
    """The converted value, or raise :class:`_Mismatch`."""
    expected = _type_name(tp)  # also rejects unsupported annotations early
    if tp is str:
        if isinstance(value, str):
            return value
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                raise _Mismatch(key, f"is too large, got {value}") from None
            if not math.isfinite(number):
                raise _Mismatch(key, f"must be a finite number, got {_fmt(number)}")
            return number
    elif typing.get_origin(tp) is tuple:
        if isinstance(value, list):
            item_tp = typing.get_args(tp)[0]
            return tuple(_convert(item, item_tp, f"{key}[{i}]") for i, item in enumerate(value))
    else:  # a union such as ``str | None``; TOML has no null, so try each other member
        for member in typing.get_args(tp):
            if member is type(None):
                continue
            try:
                return _convert(value, member, key)
            except _Mismatch:
                continue
    raise _Mismatch(key, f"must be {expected}, got {_describe(value)}")
