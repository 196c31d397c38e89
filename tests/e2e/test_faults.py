"""Gateway and REST faults with the real bot against the fake Discord.

Socket drops (with events lost in flight and replayed on RESUME), op 7 and op 9, 429 bursts
(per route, global, and from ``X-RateLimit-*`` buckets), 5xx before and after Discord did
the work, slow REST and a slow gateway. Whatever happens: every question gets exactly one
reply, no stamp is counted twice, and the bot carries on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import discord.http
import pytest
from fakediscord import FakeDiscord, Intent, RateLimits

from bot.config import StampSettings
from bot.stamps import StampBook

if TYPE_CHECKING:
    from conftest import Harness, Running

QUESTION = "stampy, where can I learn about interpretability?"
SEED_TITLE = "Where can I learn about interpretability?"
QUESTIONS = (
    QUESTION,
    "stampy, what is AI alignment?",
    "stampy, where can I learn about interpretability?",
    "stampy, what is AI alignment?",
)
STAMP = ("stamp", 710_000_000_000_000_001)  # a server's custom :stamp: emoji (weight 1)
GOLD = ("goldstamp", 710_000_000_000_000_002)  # weight 5
FAST = StampSettings(embed_update_seconds=0.02, reputation_delay_seconds=0.02)
REPLY = ("POST", "/channels/{c}/messages")
EDIT = ("PATCH", "/channels/{c}/messages/{m}")
WAIT = 10.0  # generous: two noisy cores


# -- helpers ------------------------------------------------------------------------------------


async def start(harness: Harness, **stamps: Any) -> Running:
    settings = dataclasses.replace(harness.settings(), stamps=dataclasses.replace(FAST, **stamps))
    return await harness.start(settings)


def book_of(run: Running) -> StampBook:
    return run.book


def replies_to(fake: FakeDiscord, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.bot_messages()
        if (m.get("message_reference") or {}).get("message_id") == message["id"]
    ]


async def all_answered(fake: FakeDiscord, posted: list[dict[str, Any]]) -> None:
    await fake.wait_until(
        lambda: all(replies_to(fake, p) for p in posted),
        WAIT,
        f"replies to {len(posted)} questions",
    )


async def ask(fake: FakeDiscord, text: str = QUESTION, user: int | None = None) -> dict[str, Any]:
    """Post ``text`` in #general; the bot's reply to it."""
    posted = await fake.post_message(fake.channel.id, user or fake.member.id, text)
    await all_answered(fake, [posted])
    return replies_to(fake, posted)[0]


async def settle(fake: FakeDiscord) -> None:
    """A last question answered after everything else: earlier events were handled by now
    (one socket delivers in order), so a duplicate reply would already be stored."""
    await ask(fake, "stampy, what is AI alignment?", fake.owner.id)


def assert_one_reply_each(fake: FakeDiscord, posted: list[dict[str, Any]]) -> None:
    counts = {p["id"]: len(replies_to(fake, p)) for p in posted}
    assert set(counts.values()) == {1}, counts
    every = [(m.get("message_reference") or {}).get("message_id") for m in fake.bot_messages()]
    assert len(every) == len(set(every)), "some message got two replies"


def stamps_field(message: dict[str, Any]) -> str:
    [embed] = message["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}["Stamps"]


async def shows(fake: FakeDiscord, message: dict[str, Any], text: str) -> None:
    stored = fake.model.message(fake.channel.id, int(message["id"]))
    await fake.wait_until(lambda: stamps_field(stored) == text, WAIT, f"the embed to show {text}")


async def stored_stamps(run: Running) -> list[tuple[int, int, str]]:
    async with run.store.read() as conn:
        rows = await conn.execute_fetchall("SELECT message_id, voter_id, emoji FROM stamps")
    return sorted((r[0], r[1], r[2]) for r in rows)


async def counted(harness: Harness, run: Running, reply: dict[str, Any], count: int) -> None:
    """The book, the database and the embed all agree on ``count``."""
    book = book_of(run)
    answer = answer_id(run)

    async def done() -> bool:
        return book.count(answer) == count

    await harness.eventually(done, WAIT, f"{answer} to have {count} stamps")
    await shows(harness.fake, reply, f"{count} stamp" + ("" if count == 1 else "s"))
    assert book.count(answer) == count


def answer_id(run: Running) -> str:
    question = run.bot.service.question("learn-interpretability")
    assert question is not None
    return run.bot.service.ranked_answers(question)[0].id


async def react(fake: FakeDiscord, message: dict[str, Any], user: int, emoji=STAMP, add=True):
    name, emoji_id = emoji
    if add:
        await fake.add_reaction(fake.channel.id, int(message["id"]), user, name, emoji_id)
    else:
        await fake.remove_reaction(fake.channel.id, int(message["id"]), user, name, emoji_id)


def reaction_event(fake: FakeDiscord, message: dict[str, Any], user: int, emoji, add: bool):
    """A raw MESSAGE_REACTION_ADD/_REMOVE payload (the model is not changed)."""
    stored = fake.model.message(fake.channel.id, int(message["id"]))
    data = fake.model.reaction_payload(stored, *emoji, user)
    if add:
        data["member"] = fake.model.member_payload(fake.guild.id, user)
    return ("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"), data


def voters(fake: FakeDiscord, n: int) -> list[int]:
    """``n`` more members of the guild (added before the bot starts)."""
    return fake.add_members(n, "voter")


def statuses(fake: FakeDiscord, method: str, pattern: str) -> list[int | None]:
    return [r.status for r in fake.requests_to(method, pattern)]


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """discord.py waits 1, 3, 5, 7, 9 s between retries of a 5xx: shorten its waits (only
    those of ``discord.http``) so that running out of retries takes milliseconds."""
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        return await real_sleep(min(delay, 0.01), result)

    fast = SimpleNamespace(
        **{k: getattr(asyncio, k) for k in dir(asyncio) if not k.startswith("__")}
    )
    fast.sleep = sleep
    monkeypatch.setattr(discord.http, "asyncio", fast)
    yield


# -- socket drops ---------------------------------------------------------------------------------


async def test_repeated_socket_drops_lose_no_reply_and_repeat_no_stamp(harness: Harness):
    fake = harness.fake
    people = voters(fake, 6)
    run = await start(harness)
    reply = await ask(fake)
    posted: list[dict[str, Any]] = []
    expected = 0

    # 1. A question lost in flight: the socket drops, the RESUME replays it.
    fake.lose_next_dispatch()
    posted.append(await fake.post_message(fake.channel.id, fake.member.id, QUESTIONS[1]))
    await fake.wait_resumed(1, WAIT)

    # 2. A stamp lost in flight, twice in a row.
    for voter in people[:2]:
        resumes = fake.gateway.resume_count
        fake.lose_next_dispatch()
        await react(fake, reply, voter)
        expected += 1
        await fake.wait_resumed(resumes + 1, WAIT)

    # 3. Drops while disconnected: questions and stamps dispatched meanwhile are replayed.
    for round_, voter in enumerate(people[2:4]):
        resumes = fake.gateway.resume_count
        await fake.drop_socket(4000)
        text = QUESTIONS[round_ % len(QUESTIONS)]
        posted.append(await fake.post_message(fake.channel.id, fake.moderator.id, text))
        await react(fake, reply, voter, GOLD)
        expected += 5
        await fake.drop_socket(4009)  # a second drop before the first RESUME even happened
        await fake.wait_resumed(resumes + 1, WAIT)

    # 4. Drops while questions and stamps are being dispatched, all at once.
    resumes = fake.gateway.resume_count
    burst = [fake.post_message(fake.channel.id, fake.member.id, q) for q in QUESTIONS]
    burst += [react(fake, reply, voter) for voter in people[4:]]
    burst.insert(3, fake.drop_socket(4000))
    results = await asyncio.gather(*burst)
    posted += [r for r in results[:5] if isinstance(r, dict)]
    expected += 2
    await fake.wait_resumed(resumes + 1, WAIT)

    await all_answered(fake, posted)
    await counted(harness, run, reply, expected)
    await settle(fake)
    assert_one_reply_each(fake, posted)
    assert len(posted) == 1 + 2 + 4
    assert fake.gateway.ready_count == 1  # resumed every time, never re-identified
    assert fake.gateway.replayed  # the lost events did come back by replay
    voted = {row[1] for row in await stored_stamps(run)}
    assert voted == set(people)
    assert len(await stored_stamps(run)) == len(people)


async def test_replayed_and_redelivered_events_are_handled_once(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    question = await fake.post_message(fake.channel.id, fake.moderator.id, QUESTIONS[1])
    await all_answered(fake, [question])
    await react(fake, reply, fake.moderator.id, GOLD)
    await counted(harness, run, reply, 5)

    # The socket drops and the client RESUMEs from an older seq than it saw: the fake's log
    # is replayed from there, so the question and the stamp arrive a second time.
    log = [f for f in fake.gateway.sessions[next(iter(fake.gateway.sessions))].log]
    again = [f for f in log if f["t"] in ("MESSAGE_CREATE", "MESSAGE_REACTION_ADD")]
    await fake.drop_socket(4000)
    await fake.wait_resumed(1, WAIT)
    for frame in again:
        await fake.dispatch(frame["t"], frame["d"])
    await settle(fake)
    assert_one_reply_each(fake, [question])
    await counted(harness, run, reply, 5)
    assert len(await stored_stamps(run)) == 1


# -- op 7 and op 9 ---------------------------------------------------------------------------------


async def test_reconnect_and_resumable_invalid_session_resume(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    posted = []

    await fake.send_reconnect()  # op 7
    posted.append(await fake.post_message(fake.channel.id, fake.member.id, QUESTIONS[1]))
    await react(fake, reply, fake.moderator.id)
    await fake.wait_resumed(1, WAIT)

    await fake.send_invalid_session(resumable=True)  # op 9, d=true: RESUME as well
    posted.append(await fake.post_message(fake.channel.id, fake.moderator.id, QUESTIONS[0]))
    await react(fake, reply, fake.owner.id, GOLD)
    await fake.wait_resumed(2, WAIT)

    await all_answered(fake, posted)
    await counted(harness, run, reply, 6)
    await settle(fake)
    assert_one_reply_each(fake, posted)
    assert fake.gateway.ready_count == 1
    resumes = [f for f in fake.gateway.received if f["op"] == 6]
    assert len(resumes) == 2 and all(f["url"].startswith("/gateway-resume?") for f in resumes)


async def test_invalid_session_identifies_anew_without_counting_or_answering_twice(
    harness: Harness,
):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    question = await fake.post_message(fake.channel.id, fake.moderator.id, QUESTIONS[1])
    await all_answered(fake, [question])
    await react(fake, reply, fake.moderator.id, GOLD)
    await counted(harness, run, reply, 5)
    syncs = len(fake.requests_to("PUT", "/applications/{a}/commands"))

    await fake.send_invalid_session(resumable=False)  # op 9, d=false: a new session
    await fake.wait_ready(2, WAIT)
    # Discord replays nothing into a new session, but an event may still come twice (here:
    # the question and the stamp from before the invalid session, delivered again).
    await fake.dispatch(
        "MESSAGE_CREATE", fake.model.gateway_message(question), intent=Intent.GUILD_MESSAGES
    )
    event, data = reaction_event(fake, reply, fake.moderator.id, GOLD, add=True)
    await fake.dispatch(event, data, intent=Intent.GUILD_MESSAGE_REACTIONS)
    # and the new session works
    later = await fake.post_message(fake.channel.id, fake.member.id, QUESTIONS[2])
    await react(fake, reply, fake.owner.id)

    await all_answered(fake, [later])
    await counted(harness, run, reply, 6)
    await settle(fake)
    assert_one_reply_each(fake, [question, later])
    assert fake.gateway.resume_count == 0
    assert len(fake.requests_to("PUT", "/applications/{a}/commands")) == syncs  # READY again
    assert len(await stored_stamps(run)) == 2


async def test_a_question_redelivered_after_a_restart_gets_no_second_reply(harness: Harness):
    """The restarted bot has forgotten which messages it handled; the reply's nonce (the
    question's id, sent with enforce_nonce) makes Discord hand back the first reply."""
    fake = harness.fake
    run = await start(harness)
    question = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    await all_answered(fake, [question])
    await harness.stop(run)
    await start(harness)
    await fake.dispatch(
        "MESSAGE_CREATE", fake.model.gateway_message(question), intent=Intent.GUILD_MESSAGES
    )
    await fake.wait_for_request(*REPLY, count=2, timeout=WAIT)
    first, again = fake.requests_to(*REPLY)
    assert first.json["nonce"] == again.json["nonce"] == question["id"]
    assert again.response["id"] == first.response["id"]
    await settle(fake)
    assert_one_reply_each(fake, [question])


# -- 429 -----------------------------------------------------------------------------------------


async def test_429_bursts_on_the_reply_are_waited_out_and_it_is_sent_once(harness: Harness):
    fake = harness.fake
    await start(harness)
    fake.fail_next(*REPLY, status=429, retry_after=0.05, count=3)
    first = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    await all_answered(fake, [first])
    assert statuses(fake, *REPLY) == [429, 429, 429, 200]

    # a global rate limit, twice in a row
    fake.fail_next(*REPLY, status=429, retry_after=0.05, count=2, is_global=True)
    second = await fake.post_message(fake.channel.id, fake.moderator.id, QUESTIONS[1])
    await all_answered(fake, [second])
    assert statuses(fake, *REPLY)[4:] == [429, 429, 200]
    limited = [r for r in fake.requests_to(*REPLY) if r.status == 429]
    assert [r.response["global"] for r in limited] == [False] * 3 + [True] * 2
    await settle(fake)
    assert_one_reply_each(fake, [first, second])
    assert len(fake.bot_messages()) == 3


async def test_429s_on_the_stamp_count_edit_are_waited_out(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    fake.fail_next(*EDIT, status=429, retry_after=0.05, count=3)
    await react(fake, reply, fake.moderator.id)
    await counted(harness, run, reply, 1)
    fake.fail_next(*EDIT, status=429, retry_after=0.05, count=2, is_global=True)
    await react(fake, reply, fake.owner.id, GOLD)
    await counted(harness, run, reply, 6)
    assert statuses(fake, *EDIT).count(429) == 5
    assert len(await stored_stamps(run)) == 2


async def test_429s_on_interaction_callbacks_and_followups_are_waited_out(
    harness: Harness, tmp_path
):
    fake = harness.fake
    settings = harness.settings(home_guilds=(fake.guild.id,))
    await harness.start(settings)
    callback = ("POST", "/interactions/{i}/{t}/callback")
    followup = ("POST", "/webhooks/{a}/{t}")

    # A did-you-mean pick: the public answer is the callback, rate limited 3 times.
    suggestion = await ask(fake, "stampy, tell me about neurons")
    pick = suggestion["components"][0]["components"][0]["custom_id"]
    fake.fail_next(*callback, status=429, retry_after=0.05, count=3)
    click = await fake.click_button(suggestion, pick, fake.member.id)
    answer = (await click.response(WAIT)).message
    assert answer is not None and answer["embeds"]
    assert statuses(fake, *callback) == [429, 429, 429, 200]

    # /stampy reload defers, then answers with a followup: rate limited twice, once globally.
    fake.fail_next(*followup, status=429, retry_after=0.05, count=1)
    fake.fail_next(*followup, status=429, retry_after=0.05, count=1, is_global=True)
    reload = await fake.run_command(
        fake.guild.id, fake.channel.id, fake.moderator.id, "stampy reload"
    )
    assert (await reload.response(WAIT)).type == 5
    [text] = await reload.wait_followups(1, WAIT)
    assert text["content"]
    assert statuses(fake, *followup) == [429, 429, 200]
    assert len(reload.followups) == 1


async def test_a_burst_over_rate_limit_buckets_is_paced_and_answered_once(harness: Harness):
    fake = harness.fake
    fake.rate_limits = RateLimits(limit=3, window=0.3)
    await start(harness)
    channels = [fake.channel.id, fake.other_channel.id]
    posted = await asyncio.gather(
        *(
            fake.post_message(channels[i % 2], fake.member.id, QUESTIONS[i % len(QUESTIONS)])
            for i in range(12)
        )
    )
    await fake.wait_until(
        lambda: all(replies_to(fake, p) for p in posted), WAIT, "every question answered"
    )
    sends = fake.requests_to(*REPLY)
    assert len([r for r in sends if r.status == 200]) == 12
    assert {r.status for r in sends} <= {200, 429}
    fake.rate_limits = None
    await settle(fake)
    assert_one_reply_each(fake, list(posted))


# -- 5xx -----------------------------------------------------------------------------------------


async def test_a_5xx_before_the_message_is_stored_is_retried_once(harness: Harness):
    fake = harness.fake
    await start(harness)
    fake.fail_next(*REPLY, status=500, count=1)
    posted = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    await all_answered(fake, [posted])
    assert statuses(fake, *REPLY) == [500, 200]
    await settle(fake)
    assert_one_reply_each(fake, [posted])


async def test_a_5xx_after_the_message_was_stored_does_not_post_it_twice(harness: Harness):
    fake = harness.fake
    await start(harness)
    fake.fail_next(*REPLY, status=502, count=1, after=True)
    posted = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    await all_answered(fake, [posted])
    await fake.wait_for_request(*REPLY, count=2, timeout=WAIT)
    first, retry = fake.requests_to(*REPLY)
    assert (first.status, first.effect, retry.status) == (502, 200, 200)
    assert first.json["nonce"] == retry.json["nonce"] and retry.json["enforce_nonce"]
    assert retry.response["id"] == replies_to(fake, posted)[0]["id"]
    await settle(fake)
    assert_one_reply_each(fake, [posted])


async def test_when_every_retry_fails_the_bot_warns_and_carries_on(
    harness: Harness, quick_backoff: None, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="bot.discord.asking")
    fake = harness.fake
    await start(harness)

    # 500 five times (discord.py's retries), then 503 (never retried): nothing is posted.
    fake.fail_next(*REPLY, status=500, count=5)
    lost = await fake.post_message(fake.channel.id, fake.member.id, QUESTION)
    await fake.wait_for_request(*REPLY, count=5, timeout=WAIT)
    fake.fail_next(*REPLY, status=503, count=1)
    lost_too = await fake.post_message(fake.channel.id, fake.member.id, QUESTIONS[1])
    await fake.wait_for_request(*REPLY, count=6, timeout=WAIT)

    # 502 every time, but after Discord stored the reply: it is there once, nothing else.
    fake.fail_next(*REPLY, status=502, count=5, after=True)
    stored = await fake.post_message(fake.channel.id, fake.moderator.id, QUESTION)
    await fake.wait_for_request(*REPLY, count=11, timeout=WAIT)

    answered = await ask(fake, QUESTION, fake.owner.id)  # and the bot carries on
    assert answered["embeds"][0]["title"] == SEED_TITLE
    await settle(fake)
    assert replies_to(fake, lost) == [] and replies_to(fake, lost_too) == []
    assert_one_reply_each(fake, [stored])
    assert statuses(fake, *REPLY)[:11] == [500] * 5 + [503] + [502] * 5
    assert not harness.errors
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warned if "not answered" in w]) == 3, warned


# -- slow responses --------------------------------------------------------------------------------


async def test_slow_replies_still_arrive_once_and_in_order(harness: Harness):
    fake = harness.fake
    await start(harness)
    fake.delay(*REPLY, 0.3, count=1)  # the first reply takes a while
    posted = [await fake.post_message(fake.channel.id, fake.member.id, q) for q in QUESTIONS]
    await all_answered(fake, posted)
    order = [int((m["message_reference"])["message_id"]) for m in fake.bot_messages()]
    assert order == [int(p["id"]) for p in posted]  # one channel: replies in question order
    await settle(fake)
    assert_one_reply_each(fake, posted)


async def test_a_slow_gateway_with_drops_in_flight_loses_and_repeats_nothing(harness: Harness):
    fake = harness.fake
    people = voters(fake, 3)
    run = await start(harness)
    reply = await ask(fake)
    fake.delay_gateway(30)
    posted = [await fake.post_message(fake.channel.id, fake.member.id, QUESTIONS[1])]
    await react(fake, reply, people[0])
    await fake.drop_socket(4000)  # both still in flight: lost, then replayed on RESUME
    fake.delay_gateway(0.05)  # and from now on every frame is slow
    posted.append(await fake.post_message(fake.channel.id, fake.moderator.id, QUESTIONS[0]))
    await react(fake, reply, people[1], GOLD)
    await fake.wait_resumed(1, WAIT)
    await react(fake, reply, people[2])
    await all_answered(fake, posted)
    await counted(harness, run, reply, 7)
    fake.delay_gateway(0)
    await settle(fake)
    assert_one_reply_each(fake, posted)
    assert len(await stored_stamps(run)) == 3


# -- a stamp sequence delivered twice under faults ---------------------------------------------


async def test_a_stamp_sequence_delivered_twice_under_faults_counts_once(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    mod, owner, member = fake.moderator.id, fake.owner.id, fake.member.id
    steps = [
        (mod, STAMP, True),
        (owner, GOLD, True),
        (mod, STAMP, False),
        (member, STAMP, True),
        (mod, GOLD, True),
        (owner, GOLD, False),
        (owner, STAMP, True),
    ]
    events = [reaction_event(fake, reply, user, emoji, add) for user, emoji, add in steps]
    stored = fake.model.message(fake.channel.id, int(reply["id"]))
    for user, emoji, add in steps:  # what Discord shows in the end
        fake.model.react(stored, *emoji, user, add)

    fake.fail_next(*EDIT, status=429, retry_after=0.05, count=2)
    fake.fail_next(*EDIT, status=500, count=1)
    fake.delay(*EDIT, 0.1, count=2)
    for delivery in range(2):
        for i, (event, data) in enumerate(events):
            if i == 3:
                resumes = fake.gateway.resume_count
                fake.lose_next_dispatch()  # this one comes by replay
            await fake.dispatch(event, data, intent=Intent.GUILD_MESSAGE_REACTIONS)
            if i == 3:
                await fake.wait_resumed(resumes + 1, WAIT)
        if delivery == 0:
            await counted(harness, run, reply, 1 + 5 + 1)
    # The count was already 7: one more stamp, applied after the second delivery (the book
    # applies events in the order they came), shows that delivery changed nothing.
    await react(fake, reply, member, GOLD)
    await counted(harness, run, reply, 1 + 5 + 1 + 5)
    assert await stored_stamps(run) == sorted(
        [
            (int(reply["id"]), member, "goldstamp"),
            (int(reply["id"]), member, "stamp"),
            (int(reply["id"]), mod, "goldstamp"),
            (int(reply["id"]), owner, "stamp"),
        ]
    )
    assert 500 in statuses(fake, *EDIT) and 429 in statuses(fake, *EDIT)


# -- stamp counts on the embed after faults ----------------------------------------------------


async def test_stamps_given_during_an_invalid_session_are_reconciled_in_the_new_one(
    harness: Harness,
):
    """Discord replays nothing into a new session: the stamp given in between reaches the
    bot only because it re-reads the stamps on recent answers after the new READY."""
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    await react(fake, reply, fake.moderator.id)
    await counted(harness, run, reply, 1)

    stored = fake.model.message(fake.channel.id, int(reply["id"]))
    fake.model.react(stored, *GOLD, fake.owner.id, True)  # never dispatched
    await fake.send_invalid_session(resumable=False)
    await fake.wait_ready(2, WAIT)

    await counted(harness, run, reply, 6)
    assert len(await stored_stamps(run)) == 2


async def test_a_stamp_count_edit_refused_with_503_is_tried_again(harness: Harness):
    fake = harness.fake
    run = await start(harness)
    reply = await ask(fake)
    fake.fail_next(*EDIT, 503, count=2)  # discord.py does not retry a 503 itself
    await react(fake, reply, fake.moderator.id)
    await counted(harness, run, reply, 1)
    assert [r.status for r in fake.requests_to(*EDIT)][:2] == [503, 503]


async def test_pending_stamp_count_edits_are_sent_when_the_bot_stops(harness: Harness):
    fake = harness.fake
    run = await start(harness, embed_update_seconds=60.0)  # far later than the test
    reply = await ask(fake)
    await react(fake, reply, fake.moderator.id, GOLD)
    book = book_of(run)
    await harness.eventually(lambda: _counts(book, run, 5), WAIT, "the stamp to be counted")
    assert not fake.requests_to(*EDIT)

    await harness.stop(run)
    await shows(fake, reply, "5 stamps")


async def _counts(book: StampBook, run: Running, count: int) -> bool:
    return book.count(answer_id(run)) == count
