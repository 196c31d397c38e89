"""``python bench/_traced_bot.py SNAPSHOT_PREFIX ARGS...``: ``stampy ARGS``, heap traced on demand.

For bench/soak.py's heap diff. The first SIGUSR1 starts tracemalloc (so start-up and the
warm-up run untraced, at full speed) and writes an empty baseline; every later one writes a
tracemalloc snapshot of the bot's Python heap: the blocks allocated since tracing began that are
still alive, with where they were allocated. Snapshot N goes to ``SNAPSHOT_PREFIX.N``, then
``SNAPSHOT_PREFIX.N.done`` holds the bytes tracemalloc itself uses (its traces are in the RSS).
Tracing slows every allocation, so the soak's latency figures in this mode are not comparable
with a run without it.
"""

from __future__ import annotations

import signal
import sys
import tracemalloc
from pathlib import Path

FRAMES = 6


def main() -> int:
    prefix, argv = sys.argv[1], sys.argv[2:]
    taken = 0

    def dump(signum: int, frame: object) -> None:
        nonlocal taken
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
        snapshot = tracemalloc.take_snapshot()
        path = Path(f"{prefix}.{taken}")
        snapshot.dump(str(path))
        Path(f"{path}.done").write_text(str(tracemalloc.get_tracemalloc_memory()))
        taken += 1

    signal.signal(signal.SIGUSR1, dump)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bot.cli import main as stampy

    return stampy(argv)


if __name__ == "__main__":
    raise SystemExit(main())
