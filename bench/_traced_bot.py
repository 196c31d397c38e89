"""``python bench/_traced_bot.py PREFIX ARGS...``: ``stampy ARGS``, heap snapshots on demand.

For bench/soak.py's heap diff. Each SIGUSR1 writes snapshot N (0, 1, 2, ...) of the bot's
Python heap:

- ``PREFIX.N.types``: a census of the live objects the garbage collector tracks
  (containers and instances: dicts, lists, messages, tasks...), their number and shallow bytes
  by type, as JSON. Taking it pauses the bot for a moment and costs nothing in between, so the
  soak runs at full speed.
- ``PREFIX.N``: with ``STAMPY_HEAP_FRAMES`` > 0 (frames kept per allocation), a
  tracemalloc snapshot; tracemalloc starts at signal ``STAMPY_HEAP_TRACE_FROM`` (default 1), so
  what came before runs untraced, and each snapshot holds the blocks allocated since then that
  are still alive, with where they were allocated. Tracing slows every allocation (the more
  frames, the more), so the soak's latency figures with it are not comparable with a run
  without it, and a busy machine may not leave the bot enough CPU to keep up.

``PREFIX.N.done`` is written last: the bytes tracemalloc itself uses (0 untraced).
"""

from __future__ import annotations

import collections
import gc
import json
import os
import signal
import sys
import tracemalloc
from pathlib import Path

FRAMES = int(os.environ.get("STAMPY_HEAP_FRAMES", "0"))
TRACE_FROM = int(os.environ.get("STAMPY_HEAP_TRACE_FROM", "1"))


def census() -> dict[str, list[int]]:
    """``type -> [objects, shallow bytes]`` of every object the collector tracks."""
    found: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for thing in gc.get_objects():
        kind = type(thing)
        entry = found[f"{kind.__module__}.{kind.__qualname__}"]
        entry[0] += 1
        entry[1] += sys.getsizeof(thing, 0)
    return dict(found)


def main() -> int:
    prefix, argv = sys.argv[1], sys.argv[2:]
    taken = 0

    def dump(signum: int, frame: object) -> None:
        nonlocal taken
        path = Path(f"{prefix}.{taken}")
        if FRAMES > 0 and taken >= TRACE_FROM:
            if not tracemalloc.is_tracing():
                tracemalloc.start(FRAMES)
            tracemalloc.take_snapshot().dump(str(path))
        Path(f"{path}.types").write_text(json.dumps(census()))
        Path(f"{path}.done").write_text(str(tracemalloc.get_tracemalloc_memory()))
        taken += 1

    signal.signal(signal.SIGUSR1, dump)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bot.cli import main as stampy

    return stampy(argv)


if __name__ == "__main__":
    raise SystemExit(main())
