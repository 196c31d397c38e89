"""How tests/data/stampy-schema1.db was made: by the version of Stampy before stamps.

Run with that version's code (commit 2644749, schema 1) on the path, e.g.::

    git archive 2644749 bot | tar -x -C /tmp/prev && cd /tmp/prev
    python /path/to/make_stampy_schema1.py /path/to/tests/data/stampy-schema1.db

Not a test (pytest does not collect it); kept so the fixture can be made again.
"""

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from bot.store import MIGRATIONS, ProposedPhrasings, Store, UnansweredQuestions


async def main(path):
    assert [m.number for m in MIGRATIONS] == [1], MIGRATIONS
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    async with await Store.open(path) as store:
        u = UnansweredQuestions(store)
        await u.record(
            "What is the capital of France?", asker_id=111, channel_id=222, guild_id=333, at=t0
        )
        await u.record(
            "what is the capital of france",
            asker_id=112,
            channel_id=222,
            guild_id=333,
            at=t0 + timedelta(hours=1),
        )
        row = await u.record(
            "Who wrote the alignment newsletter?",
            asker_id=113,
            channel_id=None,
            guild_id=None,
            at=t0 + timedelta(hours=2),
        )
        await u.set_status(row.id, "dismissed")
        await u.record(
            "Ünïcode question 🙂 with émojis?",
            asker_id=None,
            channel_id=224,
            guild_id=333,
            at=t0 + timedelta(hours=3),
        )
        p = ProposedPhrasings(store)
        await p.propose(
            "learn-interpretability",
            "tell me about interpretability",
            proposer_id=111,
            channel_id=222,
            at=t0,
        )
        await p.propose(
            "learn-interpretability",
            "Tell me about interpretability!",
            proposer_id=114,
            channel_id=222,
            at=t0 + timedelta(minutes=5),
        )
        done = await p.propose(
            "what-is-alignment",
            "alignment in a nutshell",
            proposer_id=115,
            channel_id=223,
            at=t0 + timedelta(days=1),
        )
        await p.set_status(done.id, "approved")


asyncio.run(main(sys.argv[1]))
