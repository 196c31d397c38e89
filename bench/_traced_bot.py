"""``python bench/_traced_bot.py SNAPSHOT_PREFIX ARGS...``: ``stampy ARGS`` with tracemalloc on.

For bench/soak.py's heap diff: every SIGUSR1 writes a tracemalloc snapshot of the bot's Python
heap to ``SNAPSHOT_PREFIX.N`` (N = 0, 1, ...) and then ``SNAPSHOT_PREFIX.N.done``, so the soak
can compare the heap at the start and at the end of a run. Tracing costs CPU and memory of its
own (frames of every live allocation), so the soak's latency and RSS figures come from runs
without it.
"""

from __future__ import annotations

import signal
import sys
import tracemalloc
from pathlib import Path

FRAMES = 6


def main() -> int:
    prefix, argv = sys.argv[1], sys.argv[2:]
    tracemalloc.start(FRAMES)
    taken = 0

    def dump(signum: int, frame: object) -> None:
        nonlocal taken
        snapshot = tracemalloc.take_snapshot()
        path = Path(f"{prefix}.{taken}")
        snapshot.dump(str(path))
        Path(f"{path}.done").write_text("")
        taken += 1

    signal.signal(signal.SIGUSR1, dump)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bot.cli import main as stampy

    return stampy(argv)


if __name__ == "__main__":
    raise SystemExit(main())
