"""Tests for bot.config: file selection, type checking, ranges, token handling."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    DatabaseSettings,
    DiscordSettings,
    InvalidSettingError,
    KnowledgeSettings,
    MatchSettings,
    Settings,
    SettingsSection,
    load_settings,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
SECRET = "MTExMjIyMzMzNDQ0NTU1.GhIjKl.super-secret-token-value"


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    """Write ``text`` to ``tmp_path/name`` and return the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> Settings:
    """Load settings from a config file holding ``text``, with an empty environment."""
    return load_settings(write(tmp_path, text), env={})


def error_for(tmp_path: Path, text: str) -> str:
    """The ConfigError message for a config file holding ``text``."""
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    return str(info.value)


def section_types() -> dict[str, type]:
    """The section dataclasses of Settings, by section name."""
    hints = typing.get_type_hints(Settings)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(Settings)
        if isinstance(hints[f.name], type) and issubclass(hints[f.name], SettingsSection)
    }


# --------------------------------------------------------------------------- selection


def test_defaults_without_file() -> None:
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.source is None
    assert settings.token is None
    assert settings.knowledge.answers_dir == "answers"
    assert settings.matching == MatchSettings(
        confidence=0.5,
        answerable_share=0.0,
        model="",
        semantic=False,
        semantic_cache="stampy-vectors.npz",
        suggest_threshold=0.3,
        max_suggestions=3,
    )
    assert settings.database.path == "stampy.db"
    assert settings.discord.prefixes == ("stampy,", "s,")
    assert settings.discord.qa_channels == ()
    assert settings.discord.home_guilds == ()
    assert settings.discord.moderator_roles == ()
    assert settings.discord.user_cooldown_seconds == 3.0
    assert settings.discord.channel_cooldown_seconds == 1.0


def test_no_implicit_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "[matching]\nmax_suggestions = 1\n", "config.toml")
    write(tmp_path, "[matching]\nmax_suggestions = 1\n", "stampy.toml")
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={}) == Settings()


def test_empty_stampy_config_means_defaults() -> None:
    assert load_settings(env={"STAMPY_CONFIG": ""}) == Settings()
    assert load_settings(env={"STAMPY_CONFIG": "   "}) == Settings()


def test_explicit_path(tmp_path: Path) -> None:
    path = write(tmp_path, '[matching]\nconfidence = 0.7\n[database]\npath = "x.db"\n')
    settings = load_settings(path, env={})
    assert settings.matching.confidence == 0.7
    assert settings.matching.suggest_threshold == 0.3  # untouched keys keep defaults
    assert settings.database.path == str(tmp_path / "x.db")  # beside the file
    assert settings.knowledge == KnowledgeSettings()
    assert settings.source == str(path)


def test_explicit_path_as_string(tmp_path: Path) -> None:
    path = write(tmp_path, '[knowledge]\nanswers_dir = "kb"\n')
    settings = load_settings(str(path), env={})
    assert settings.knowledge.answers_dir == str(tmp_path / "kb")
    assert settings.source == str(path)


def test_stampy_config_env(tmp_path: Path) -> None:
    path = write(tmp_path, "[discord]\nqa_channels = [111, 222]\n")
    settings = load_settings(env={"STAMPY_CONFIG": str(path)})
    assert settings.discord.qa_channels == (111, 222)
    assert settings.source == str(path)


def test_explicit_path_wins_over_env(tmp_path: Path) -> None:
    chosen = write(tmp_path, "[matching]\nmax_suggestions = 1\n", "chosen.toml")
    other = write(tmp_path, "[matching]\nmax_suggestions = 2\n", "other.toml")
    settings = load_settings(chosen, env={"STAMPY_CONFIG": str(other)})
    assert settings.matching.max_suggestions == 1
    assert settings.source == str(chosen)


def test_env_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[matching]\nmax_suggestions = 2\n")
    monkeypatch.setenv("STAMPY_CONFIG", str(path))
    monkeypatch.setenv("DISCORD_TOKEN", SECRET)
    settings = load_settings()
    assert settings.matching.max_suggestions == 2
    assert settings.token == SECRET


def test_missing_explicit_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(missing, env={})
    assert str(missing) in str(info.value)
    assert "config file not found" in str(info.value)


def test_missing_env_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_settings(env={"STAMPY_CONFIG": str(missing)})
    message = str(info.value)
    assert str(missing) in message
    assert "config file not found" in message
    assert "STAMPY_CONFIG" in message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        load_settings(tmp_path, env={})


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "# nothing here\n")
    assert dataclasses.replace(settings, source=None) == Settings()


# --------------------------------------------------------------------------- errors


def test_toml_syntax_error(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[matching]\nanswer_threshold = = 0.5\n")
    assert message.startswith(str(tmp_path / "config.toml") + ": ")
    assert "invalid TOML" in message
    assert "line 2" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[knowledge]\nanswers_dir = "\xff"\n')
    with pytest.raises(ConfigError, match="config.toml"):
        load_settings(path, env={})


def test_unknown_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[matching]\nconfidense = 0.5\n")
    assert "config.toml: unknown key 'matching.confidense'" in message
    assert (
        "(known keys: confidence, answerable_share, model, semantic, semantic_cache, "
        "suggest_threshold, max_suggestions)" in message
    )
    assert "did you mean 'confidence'?" in message


def test_unknown_section(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[foo]\nbar = 1\n")
    assert "config.toml: unknown section 'foo'" in message
    assert "knowledge, matching, database, discord" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, "answer_threshold = 0.5\n")
    assert "unknown top-level key 'answer_threshold'" in message


def test_source_and_token_fields_are_not_sections(tmp_path: Path) -> None:
    assert "unknown section 'source'" in error_for(tmp_path, "[source]\n")
    assert "unknown top-level key 'source'" in error_for(tmp_path, 'source = "x"\n')


def test_section_must_be_a_table(tmp_path: Path) -> None:
    message = error_for(tmp_path, "matching = 3\n")
    assert "'matching' must be a table" in message
    assert "integer 3" in message


def test_nested_table_in_section_is_unknown(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[discord.extra]\nx = 1\n")
    assert "unknown key 'discord.extra'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[matching]\nmax_suggestions = "three"\n',
            "config.toml: 'matching.max_suggestions' must be an integer, got string \"three\"",
        ),
        (
            "[matching]\nmax_suggestions = 2.0\n",
            "'matching.max_suggestions' must be an integer, got float 2",
        ),
        (
            '[matching]\nconfidence = "0.5"\n',
            "'matching.confidence' must be a number, got string \"0.5\"",
        ),
        (
            "[knowledge]\nanswers_dir = 5\n",
            "'knowledge.answers_dir' must be a string, got integer 5",
        ),
        (
            '[database]\npath = ["a"]\n',
            "'database.path' must be a string, got an array",
        ),
        (
            '[discord]\nprefixes = "stampy,"\n',
            "'discord.prefixes' must be an array of strings, got string \"stampy,\"",
        ),
        (
            '[discord]\nqa_channels = [1, "2"]\n',
            "'discord.qa_channels[1]' must be an integer, got string \"2\"",
        ),
        (
            "[discord]\nmoderator_roles = [1]\n",
            "'discord.moderator_roles[0]' must be a string, got integer 1",
        ),
        (
            "[discord]\nuser_cooldown_seconds = {a = 1}\n",
            "'discord.user_cooldown_seconds' must be a number, got a table",
        ),
        (
            "[discord]\nchannel_cooldown_seconds = 1979-05-27\n",
            "'discord.channel_cooldown_seconds' must be a number, got date 1979-05-27",
        ),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_for(tmp_path, text)


def test_bool_refused_for_int(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[matching]\nmax_suggestions = true\n")
    assert "'matching.max_suggestions' must be an integer, got boolean true" in message


def test_bool_refused_for_float(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[matching]\nconfidence = false\n")
    assert "'matching.confidence' must be a number, got boolean false" in message


def test_bool_refused_in_int_array(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[discord]\nhome_guilds = [true]\n")
    assert "'discord.home_guilds[0]' must be an integer, got boolean true" in message


def test_int_accepted_for_float(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        "[matching]\nconfidence = 1\nanswerable_share = 0\n"
        "[discord]\nuser_cooldown_seconds = 10\nchannel_cooldown_seconds = 0\n",
    )
    assert settings.matching.confidence == 1.0
    assert type(settings.matching.confidence) is float
    assert type(settings.matching.answerable_share) is float
    assert settings.discord.user_cooldown_seconds == 10.0
    assert type(settings.discord.user_cooldown_seconds) is float
    assert type(settings.discord.channel_cooldown_seconds) is float


def test_arrays_become_tuples(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        '[discord]\nprefixes = ["hey stampy,"]\nqa_channels = [1, 2]\n'
        'home_guilds = [3]\nmoderator_roles = ["Mods", "Admins"]\n',
    )
    assert settings.discord == DiscordSettings(
        prefixes=("hey stampy,",),
        qa_channels=(1, 2),
        home_guilds=(3,),
        moderator_roles=("Mods", "Admins"),
    )
    hash(settings)  # frozen and hashable all the way down


def test_non_finite_float_refused(tmp_path: Path) -> None:
    assert "'matching.confidence' must be a finite number, got nan" in error_for(
        tmp_path, "[matching]\nconfidence = nan\n"
    )
    assert "'discord.user_cooldown_seconds' must be a finite number" in error_for(
        tmp_path, "[discord]\nuser_cooldown_seconds = inf\n"
    )


def test_long_strings_are_shortened_in_messages(tmp_path: Path) -> None:
    message = error_for(tmp_path, f'[matching]\nconfidence = "{"x" * 500}"\n')
    assert "x" * 100 not in message
    assert "..." in message


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[matching]\nconfidence = 1.5\n",
            "config.toml: 'matching.confidence' must be between 0 and 1, got 1.5",
        ),
        (
            "[matching]\nsuggest_threshold = -0.1\n",
            "'matching.suggest_threshold' must be between 0 and 1, got -0.1",
        ),
        (
            "[matching]\nanswerable_share = 1\n",
            "'matching.answerable_share' must be between 0 and 0.99, got 1",
        ),
        (
            "[matching]\nmax_suggestions = 0\n",
            "'matching.max_suggestions' must be between 1 and 3, got 0",
        ),
        (
            "[matching]\nmax_suggestions = 4\n",
            "'matching.max_suggestions' must be between 1 and 3, got 4",
        ),
        (
            "[discord]\nuser_cooldown_seconds = -1\n",
            "'discord.user_cooldown_seconds' must be at least 0, got -1",
        ),
        (
            "[discord]\nchannel_cooldown_seconds = -0.5\n",
            "'discord.channel_cooldown_seconds' must be at least 0, got -0.5",
        ),
        (
            '[discord]\nprefixes = ["stampy,", ""]\n',
            "'discord.prefixes[1]' must be a non-empty string",
        ),
        (
            '[discord]\nprefixes = ["  "]\n',
            "'discord.prefixes[0]' must be a non-empty string",
        ),
        (
            '[discord]\nmoderator_roles = [""]\n',
            "'discord.moderator_roles[0]' must be a non-empty string",
        ),
        (
            "[discord]\nqa_channels = [-5]\n",
            "'discord.qa_channels[0]' must be at least 1, got -5",
        ),
        (
            '[knowledge]\nanswers_dir = ""\n',
            "'knowledge.answers_dir' must not be empty",
        ),
        (
            '[database]\npath = " "\n',
            "'database.path' must not be empty",
        ),
    ],
)
def test_range_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_for(tmp_path, text)


def test_range_edges_accepted(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        "[matching]\nconfidence = 1.0\nsuggest_threshold = 1.0\nanswerable_share = 0.0\n"
        "max_suggestions = 1\n[discord]\nuser_cooldown_seconds = 0\nprefixes = []\n",
    )
    assert settings.matching.suggest_threshold == settings.matching.confidence == 1.0
    assert settings.matching.max_suggestions == 1
    assert settings.discord.prefixes == ()


def test_direct_construction_is_validated() -> None:
    with pytest.raises(InvalidSettingError) as info:
        MatchSettings(max_suggestions=7)
    assert isinstance(info.value, ValueError)
    assert "'max_suggestions' must be between 1 and 3, got 7" in str(info.value)
    with pytest.raises(ConfigError, match="'answerable_share' must be between 0 and 0.99"):
        MatchSettings(answerable_share=2.0)


# --------------------------------------------------------------------------- token


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (f'token = "{SECRET}"\n', "token"),
        (f'[discord]\ntoken = "{SECRET}"\n', "discord.token"),
        (f'[discord]\nTOKEN = "{SECRET}"\n', "discord.TOKEN"),
        (f'[discord]\ndiscord_token = "{SECRET}"\n', "discord.discord_token"),
        (f'[matching]\ntoken = "{SECRET}"\n', "matching.token"),
        (f'[foo]\ntoken = "{SECRET}"\n', "foo.token"),
        (f'[discord.auth]\ntoken = "{SECRET}"\n', "discord.auth.token"),
    ],
)
def test_token_in_file_refused(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert f"'{key}'" in message
    assert "DISCORD_TOKEN" in message
    assert "must not be stored in the config file" in message
    assert SECRET not in message
    assert SECRET[:10] not in message
    assert SECRET not in repr(info.value)
    assert info.value.__cause__ is None


def test_token_refused_even_with_env_token(tmp_path: Path) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{SECRET}"\n')
    with pytest.raises(ConfigError, match="DISCORD_TOKEN") as info:
        load_settings(path, env={"DISCORD_TOKEN": "other"})
    assert SECRET not in str(info.value)


def test_token_from_env_not_in_repr() -> None:
    settings = load_settings(env={"DISCORD_TOKEN": f"  {SECRET}\n"})
    assert settings.token == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert "token=<set>" in repr(settings)
    assert "token=None" in repr(load_settings(env={}))


def test_token_from_env_with_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[matching]\nmax_suggestions = 2\n")
    settings = load_settings(path, env={"DISCORD_TOKEN": SECRET})
    assert settings.token == SECRET
    assert SECRET not in repr(settings)


def test_blank_token_is_none() -> None:
    assert load_settings(env={"DISCORD_TOKEN": ""}).token is None
    assert load_settings(env={"DISCORD_TOKEN": "   "}).token is None


# --------------------------------------------------------------------------- example file


def test_example_file_matches_defaults() -> None:
    from_example = load_settings(EXAMPLE, env={})
    assert from_example.source == str(EXAMPLE)
    defaults = load_settings(env={})
    # The same values, except that the file's relative paths are taken from its folder.
    expected = dataclasses.replace(
        defaults,
        knowledge=KnowledgeSettings(answers_dir=str(EXAMPLE.parent / "answers")),
        database=DatabaseSettings(path=str(EXAMPLE.parent / "stampy.db")),
    )
    assert dataclasses.replace(from_example, source=None) == expected


def test_relative_paths_are_taken_from_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever stampy runs from, a config file's relative paths mean the same folders;
    absolute paths and the defaults (no file) are left as they are."""
    folder = tmp_path / "deploy"
    folder.mkdir()
    config = folder / "stampy.toml"
    config.write_text(
        '[knowledge]\nanswers_dir = "kb"\n[database]\npath = "/srv/stampy.db"\n', encoding="utf-8"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(config, env={})
    assert Path(settings.knowledge.answers_dir) == folder / "kb"
    assert settings.database.path == "/srv/stampy.db"
    assert load_settings(env={}).knowledge.answers_dir == "answers"


def test_example_file_loads_by_relative_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE.parent)
    settings = load_settings("config.example.toml", env={})
    assert settings.source == "config.example.toml"
    assert dataclasses.replace(settings, source=None) == Settings()


def test_example_file_covers_every_field() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    sections = section_types()
    assert set(sections) == {
        "knowledge",
        "matching",
        "database",
        "discord",
        "stamps",
        "reports",
        "web",
    }
    assert list(data) == list(sections)
    for name, cls in sections.items():
        field_names = [f.name for f in dataclasses.fields(cls)]
        assert list(data[name]) == field_names, f"[{name}] in the example file is out of date"


def test_example_file_comments_every_setting() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    setting_lines = [i for i, line in enumerate(lines) if re.match(r"^\w+\s*=", line)]
    assert setting_lines
    for i in setting_lines:
        assert lines[i - 1].startswith("# "), f"no comment above {lines[i]!r}"


def test_example_file_header_mentions_token_and_selection() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    header = text.split("[", 1)[0]
    assert "DISCORD_TOKEN" in header
    assert "--config" in header
    assert "STAMPY_CONFIG" in header
    assert "token =" not in text.replace("`token`", "")


# --------------------------------------------------------------------------- generic loader


def test_every_section_field_is_a_dataclass_with_defaults() -> None:
    for cls in (KnowledgeSettings, MatchSettings, DatabaseSettings, DiscordSettings):
        assert dataclasses.is_dataclass(cls)
        cls()  # every field has a default, and the defaults pass validation
        with pytest.raises(dataclasses.FrozenInstanceError):
            cls().__setattr__(dataclasses.fields(cls)[0].name, None)


@dataclasses.dataclass(frozen=True)
class _ExtraSection(SettingsSection):
    """A section with every supported annotation, as a later developer might add."""

    name: str | None = None
    enabled: bool = False
    count: int = 1
    ratio: float = 0.5
    weights: tuple[float, ...] = ()
    ids: tuple[int, ...] = ()
    words: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _ExtendedSettings:
    """Settings with one more section, to check the loader needs no other change."""

    matching: MatchSettings = dataclasses.field(default_factory=MatchSettings)
    extra: _ExtraSection = dataclasses.field(default_factory=_ExtraSection)
    source: str | None = None


def parse_extended(text: str) -> dict[str, SettingsSection]:
    """Parse ``text`` against :class:`_ExtendedSettings`."""
    from bot.config import _parse_sections

    return _parse_sections(tomllib.loads(text), "x.toml", _ExtendedSettings)


def test_new_section_is_loaded_generically() -> None:
    sections = parse_extended(
        '[extra]\nname = "n"\nenabled = true\ncount = 4\nratio = 2\n'
        'weights = [1, 0.5]\nids = [7]\nwords = ["a", "b"]\n'
    )
    assert sections == {
        "extra": _ExtraSection(
            name="n",
            enabled=True,
            count=4,
            ratio=2.0,
            weights=(1.0, 0.5),
            ids=(7,),
            words=("a", "b"),
        )
    }
    assert type(sections["extra"].weights[0]) is float
    assert _ExtendedSettings(**sections).extra.enabled is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[extra]\nname = 3\n", "x.toml: 'extra.name' must be a string, got integer 3"),
        (
            "[extra]\nenabled = 1\n",
            "'extra.enabled' must be a boolean (true or false), got integer 1",
        ),
        ('[extra]\nenabled = "yes"\n', "'extra.enabled' must be a boolean"),
        ("[extra]\nweights = [true]\n", "'extra.weights[0]' must be a number, got boolean true"),
        ("[extra]\nwords = [[1]]\n", "'extra.words[0]' must be a string, got an array"),
        ("[discord]\n", "unknown section 'discord' (known sections: matching, extra)"),
    ],
)
def test_new_section_type_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_extended(text)
    assert expected in str(info.value)
