"""``stampy run --shard-ids ... --shard-count N``: shards that cannot be are refused in one line,
before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.discord.bot import Shards


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard-ids", "0,5", "--shard-count", "2"], "shard 5 does not exist"),
        (["--shard-ids", "a,b", "--shard-count", "2"], "--shard-ids must be shard numbers"),
        (["--shard-ids", "0"], "--shard-ids needs --shard-count"),
        (["--shard-ids", "1,1", "--shard-count", "2"], "must list different shard numbers"),
        (["--shard-count", "0"], "--shard-count must be at least 1"),
        (["--shard-ids", "0", "--shard-count", "2"], "must share a PostgreSQL database"),
    ],
)
def test_shards_that_cannot_be_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "stampy.db"}"\n', encoding="utf-8")
    assert main(["--config", str(config), "run", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "stampy.db").exists()  # nothing was opened


def test_which_process_registers_the_commands() -> None:
    assert Shards().syncs_commands and Shards(None, 4).syncs_commands
    assert Shards((0, 1), 4).syncs_commands and not Shards((2, 3), 4).syncs_commands
    assert Shards((2, 3), 4).describe() == "shards 2, 3 of 4"
    assert Shards((1,), 2).describe() == "shard 1 of 2"
