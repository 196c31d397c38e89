"""The wiki in Discord through the fake Discord with the real bot: /ask with autocomplete,
/tag pages, /tags, /help, related buttons, known-but-unanswered questions, reports to the
moderators' channel, promotion by stamps and /unanswered canonical."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from fakediscord import FakeDiscord, FakeInteraction

from bot.config import StampSettings
from bot.discord.render import EMBED_TOTAL_LIMIT, TEXT
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.matcher import Matcher
from bot.knowledge.model import Answer, Question, Tag

if TYPE_CHECKING:
    from conftest import Harness

GOLD = ("goldstamp", 710_000_000_000_000_002)
FAST = StampSettings(embed_update_seconds=0.02, reputation_delay_seconds=0.02)


# -- a small wiki ------------------------------------------------------------------------------


def q(qid: str, text: str, tags: tuple[str, ...], *answers: Answer, **more: Any) -> Question:
    return Question(id=qid, text=text, tags=tags, answers=answers, **more)


def a(aid: str, text: str, canonical: bool = False) -> Answer:
    return Answer(id=aid, text=text, canonical=canonical)


QUESTIONS = (
    q(
        "what-is-alignment",
        "What is AI alignment?",
        ("alignment",),
        a("alignment-answer", "Making AI systems pursue what their designers intend.", True),
    ),
    q(
        "why-is-alignment-hard",
        "Why is alignment hard?",
        ("alignment", "staff"),
        a("hard-answer-1", "Because specifying goals precisely is difficult."),
        a("hard-answer-2", "Because optimisation finds loopholes in any goal."),
    ),
    q("who-works-on-alignment", "Who works on alignment research?", ("alignment",)),
    q(
        "what-is-interpretability",
        "What is interpretability?",
        ("interpretability",),
        a("interp-answer", "Understanding what happens inside a neural network.", True),
        related=("what-is-alignment",),
    ),
    q("what-is-a-probe", "What is a linear probe?", ("interpretability",)),
    q(
        "staff-rota",
        "Who is on the moderation rota?",
        ("staff",),
        a("rota-answer", "See the pinned message in the staff channel."),
    ),
)
TAGS = (
    Tag("alignment", description="Making AI do what we mean. **The** central problem."),
    Tag("interpretability"),  # no description: the page says so
    Tag("staff", description="Internal notes.", internal=True),
)


def wiki(harness: Harness) -> KnowledgeBase:
    return KnowledgeBase(Matcher(harness.settings().matching), QUESTIONS, TAGS)


async def start(harness: Harness, *, knowledge: KnowledgeBase | None = None, **discord: Any):
    discord.setdefault("home_guilds", (harness.fake.guild.id,))
    settings = dataclasses.replace(harness.settings(**discord), stamps=FAST)
    return await harness.start(settings, knowledge=knowledge)


async def command(
    fake: FakeDiscord, name: str, options: dict[str, Any] | None = None, user: int | None = None
) -> FakeInteraction:
    return await fake.run_command(
        fake.guild.id, fake.channel.id, user or fake.member.id, name, options or {}
    )


async def autocomplete(
    fake: FakeDiscord, name: str, options: dict[str, Any], focused: str, user: int | None = None
) -> list[dict[str, Any]]:
    inter = await fake.autocomplete(
        fake.guild.id, fake.channel.id, user or fake.member.id, name, options, focused
    )
    await inter.response()
    assert inter.choices is not None
    return inter.choices


async def answered(inter: FakeInteraction) -> dict[str, Any]:
    """The message the bot answered an interaction with (first response or follow-up)."""
    response = await inter.response()
    if response.type == 5:
        return (await inter.wait_followups())[-1]
    assert response.message is not None, response
    return response.message


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for row in message["components"] for c in row["components"]}


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def size(embed: dict[str, Any]) -> int:
    parts = [embed.get("title", ""), embed.get("description", "")]
    parts.append((embed.get("footer") or {}).get("text", ""))
    parts += [f["name"] + f["value"] for f in embed.get("fields", [])]
    return sum(len(p.encode("utf-16-le")) // 2 for p in parts)


async def click(fake: FakeDiscord, message: dict[str, Any], custom_id: str, user: int):
    return await fake.click_button(message, custom_id, user)


async def ask(fake: FakeDiscord, text: str, user: int | None = None) -> dict[str, Any]:
    posted = await fake.post_message(fake.channel.id, user or fake.member.id, text)
    return await fake.wait_for_message(
        fake.channel.id,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
    )


# -- /ask ---------------------------------------------------------------------------------------


async def test_members_commands_are_registered_for_everyone(harness: Harness):
    await start(harness)
    registered = {c["name"]: c for c in harness.fake.commands() if c["type"] == 1}
    for name in ("ask", "tag", "tags", "help"):
        assert registered[name].get("default_member_permissions") is None, name
    [option] = registered["ask"]["options"]
    assert option["name"] == "question" and option["autocomplete"] and option["required"]
    [option] = registered["tag"]["options"]
    assert option["name"] == "name" and option["autocomplete"]
    unanswered = {o["name"] for o in registered["unanswered"]["options"]}
    assert {"canonical", "reports", "promotions"} <= unanswered


async def test_ask_autocomplete_is_ranked_by_the_matcher_and_a_pick_answers_it(
    harness: Harness,
):
    run = await start(harness)  # the shipped knowledge base
    fake = harness.fake
    choices = await autocomplete(fake, "ask", {"question": "wher lern interpretabilty"}, "question")
    assert 1 <= len(choices) <= 25
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in choices)
    assert choices[0]["name"] == "Where can I learn about interpretability?"
    # an empty box still offers questions, within the limit
    assert 1 <= len(await autocomplete(fake, "ask", {"question": ""}, "question")) <= 25

    inter = await command(fake, "ask", {"question": choices[0]["value"]})
    response = await inter.response()
    assert response.type == 4 and not response.ephemeral  # public, as a mention's reply
    message = response.message
    assert message is not None
    [embed] = message["embeds"]
    assert embed["title"] == "Where can I learn about interpretability?"
    assert {"Why this answer?", TEXT["report_button"]} <= set(buttons(message))
    assert message["mentions"] == [] and not message["mention_everyone"]

    # the message is recorded, so that a stamp on it counts for the answer
    async def recorded() -> Any:
        return await run.book.records.answer_message(int(message["id"]))

    tracked = await harness.eventually(recorded, what="the answer message to be recorded")
    assert tracked.question_id == "learn-interpretability"


async def test_ask_with_typed_text_matches_and_notes_what_it_cannot_answer(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    typed = {"question": "wher can i lern about interpretabilty"}
    message = await answered(await command(fake, "ask", typed))
    assert message["embeds"][0]["title"] == "Where can I learn about interpretability?"
    # a typed text that looks like a choice's value but names no question is just text
    message = await answered(await command(fake, "ask", {"question": "id:no-such-question"}))
    assert message["content"] == TEXT["no_match"]
    message = await answered(await command(fake, "ask", {"question": "how do eels spawn"}))
    assert message["content"] == TEXT["no_match"]

    async def noted() -> bool:
        return "how do eels spawn" in [item.text for item in await run.unanswered()]

    await harness.eventually(noted, what="the question to be noted")


async def test_help_is_one_embed_on_asking_stamping_browsing_and_moderating(harness: Harness):
    await start(harness)
    response = await (await command(harness.fake, "help")).response()
    assert response.ephemeral
    [embed] = response.data["embeds"]
    names = [f["name"] for f in embed["fields"]]
    assert names == ["Ask", "Stamp", "Browse", "Moderators"]
    text = " ".join(f["value"] for f in embed["fields"])
    for command_ in ("/ask", "/tags", "/tag", "/answer", "/unanswered canonical", ":stamp:"):
        assert command_ in text
    assert size(embed) <= EMBED_TOTAL_LIMIT


# -- tags ---------------------------------------------------------------------------------------


async def test_tag_page_shows_the_description_and_the_three_sections(harness: Harness):
    await start(harness, knowledge=wiki(harness))
    fake = harness.fake
    response = await (await command(fake, "tag", {"name": "alignment"})).response()
    assert response.ephemeral
    message = response.message
    assert message is not None
    [embed] = message["embeds"]
    assert embed["title"] == "Tag: alignment"
    assert embed["description"].startswith("Making AI do what we mean. **The** central problem.")
    sections = fields(embed)
    assert list(sections) == [
        "Canonically answered",
        "Non-canonical answers",
        "Unanswered canonical questions",
    ]
    assert sections["Canonically answered"] == "1. What is AI alignment? · 0 stamps"
    assert "2. Why is alignment hard? · 0 stamps" in sections["Non-canonical answers"]
    assert "stamp of approval" in sections["Non-canonical answers"]
    assert sections["Unanswered canonical questions"] == "3. Who works on alignment research?"
    assert custom_ids(message) == [
        "stampy:q:what-is-alignment",
        "stampy:q:why-is-alignment-hard",
        "stampy:q:who-works-on-alignment",
    ]

    # a question's button shows its answer to the clicker alone
    shown = await click(fake, message, "stampy:q:what-is-alignment", fake.member.id)
    response = await shown.response()
    assert response.ephemeral
    [answer] = response.message["embeds"]
    assert answer["title"] == "What is AI alignment?"
    assert answer["description"] == "Making AI systems pursue what their designers intend."
    # an unanswered one says so and offers answered questions nearby
    shown = await click(fake, message, "stampy:q:who-works-on-alignment", fake.member.id)
    response = await shown.response()
    assert response.message["embeds"][0]["description"].startswith(TEXT["unanswered_known"][:40])
    assert "stampy:q:what-is-alignment" in custom_ids(response.message)


async def test_tag_without_a_description_invites_one(harness: Harness):
    await start(harness, knowledge=wiki(harness))
    fake = harness.fake
    message = await answered(await command(fake, "tag", {"name": "Interpretability"}))
    [embed] = message["embeds"]
    assert embed["description"] == TEXT["tag_missing"]
    assert fields(embed) == {
        "Canonically answered": "1. What is interpretability? · 0 stamps",
        "Unanswered canonical questions": "2. What is a linear probe?",
    }
    unknown = await answered(await command(fake, "tag", {"name": "no-such-tag"}))
    assert unknown["content"] == TEXT["tag_unknown"].format(name="`no-such-tag`")


async def test_long_tag_pages_have_page_buttons(harness: Harness):
    questions = [
        q(f"pet-question-{i:02d}", f"Pet question number {i:02d}?", ("pets",)) for i in range(23)
    ]
    kb = KnowledgeBase(Matcher(harness.settings().matching), questions, [Tag("pets")])
    await start(harness, knowledge=kb)
    fake = harness.fake
    message = await answered(await command(fake, "tag", {"name": "pets"}))
    assert len(custom_ids(message)) == 10 + 2
    assert message["embeds"][0]["footer"]["text"].startswith("Page 1 of 3 · 23 question(s)")
    next_id = "stampy:tag:10:n:pets"
    assert buttons(message)["Previous"]["disabled"] is True
    turned = await click(fake, message, next_id, fake.member.id)
    response = await turned.response()
    assert response.type == 7  # the page is edited in place
    page = response.message
    assert page["embeds"][0]["footer"]["text"].startswith("Page 2 of 3")
    assert (
        "11. Pet question number 10?" in fields(page["embeds"][0])["Unanswered canonical questions"]
    )
    last = await click(fake, page, "stampy:tag:20:n:pets", fake.member.id)
    final = (await last.response()).message
    assert len([c for c in custom_ids(final) if c.startswith("stampy:q:")]) == 3
    assert buttons(final)["Next"]["disabled"] is True


async def test_tags_lists_tags_with_counts_and_internal_tags_never_show(harness: Harness):
    run = await start(harness, knowledge=wiki(harness))
    fake = harness.fake
    message = await answered(await command(fake, "tags"))
    [embed] = message["embeds"]
    assert embed["description"] == "`alignment` · 3 questions\n`interpretability` · 2 questions"

    # not in /tag's autocomplete, not as a page, not on an answer's embed
    choices = await autocomplete(fake, "tag", {"name": ""}, "name")
    assert [c["value"] for c in choices] == ["alignment", "interpretability"]
    assert await autocomplete(fake, "tag", {"name": "sta"}, "name") == []
    hidden = await answered(await command(fake, "tag", {"name": "staff"}))
    assert hidden["content"] == TEXT["tag_unknown"].format(name="`staff`")
    reply = await ask(fake, "stampy, why is alignment hard?")
    assert fields(reply["embeds"][0])["Tags"] == "alignment"
    # a question filed only under internal tags is not offered to members
    choices = await autocomplete(fake, "ask", {"question": "moderation rota"}, "question")
    assert all("rota" not in c["name"] for c in choices)
    # moderators and writers see internal tags where they work
    choices = await autocomplete(
        fake, "unanswered canonical", {"tag": "sta"}, "tag", user=fake.moderator.id
    )
    assert [c["value"] for c in choices] == ["staff"]
    assert run.bot.service.tag_page("staff") is None


# -- related and unanswered ---------------------------------------------------------------------


async def test_answers_offer_related_buttons(harness: Harness):
    run = await start(harness, knowledge=wiki(harness))
    fake = harness.fake
    reply = await ask(fake, "stampy, what is interpretability?")
    related = [c for c in custom_ids(reply) if c.startswith("stampy:q:")]
    assert related[0] == "stampy:q:what-is-alignment"  # listed under related:
    assert len(related) <= 3 and "stampy:q:what-is-interpretability" not in related
    assert buttons(reply)["Related: What is AI alignment?"]
    shown = await click(fake, reply, "stampy:q:what-is-alignment", fake.member.id)
    response = await shown.response()
    assert response.ephemeral
    assert response.message["embeds"][0]["title"] == "What is AI alignment?"

    # moderators list related questions with /answer related add|remove
    options = {"question": "what-is-alignment", "other": "who-works-on-alignment"}
    added = await command(fake, "answer related add", options, fake.moderator.id)
    assert "related" in (await added.response()).content
    reply = await ask(fake, "stampy, what is AI alignment?")
    assert [c for c in custom_ids(reply) if c.startswith("stampy:q:")] == [
        "stampy:q:who-works-on-alignment"
    ]
    choices = await autocomplete(
        fake,
        "answer related remove",
        {"question": "what-is-alignment", "other": ""},
        "other",
        user=fake.moderator.id,
    )
    assert [c["value"] for c in choices] == ["who-works-on-alignment"]
    removed = await command(fake, "answer related remove", options, fake.moderator.id)
    assert "related" in (await removed.response()).content
    assert run.bot.service.question("what-is-alignment").related == ()
    reply = await ask(fake, "stampy, what is AI alignment?")
    assert "stampy:q:who-works-on-alignment" not in custom_ids(reply)  # no answer: not offered


async def test_a_known_unanswered_question_offers_answered_ones(harness: Harness):
    await start(harness, knowledge=wiki(harness))
    fake = harness.fake
    reply = await ask(fake, "stampy, what is a linear probe?")
    [embed] = reply["embeds"]
    assert embed["title"] == "What is a linear probe?"
    assert embed["description"].startswith(TEXT["unanswered_known"])
    offered = [c for c in custom_ids(reply) if c.startswith("stampy:q:")]
    assert offered and offered[0] == "stampy:q:what-is-interpretability"
    assert TEXT["report_button"] not in buttons(reply)


# -- reports ------------------------------------------------------------------------------------


async def test_a_report_reaches_the_moderators_channel_without_pinging(harness: Harness):
    fake = harness.fake
    run = await start(harness, knowledge=wiki(harness), reports_channel=fake.other_channel.id)
    reply = await ask(fake, "stampy, what is AI alignment?")
    report_id = "stampy:report:alignment-answer"
    assert report_id in custom_ids(reply)

    async def report(text: str) -> FakeInteraction:
        opened = await click(fake, reply, report_id, fake.member.id)
        await opened.response()
        assert opened.modal is not None
        return await fake.submit_modal(opened.modal["custom_id"], {"text": text}, opened_by=opened)

    thanks = await report("The answer is too short @everyone <@&1>")
    assert (await thanks.response()).content == TEXT["report_thanks"]
    posted = await fake.wait_for_message(fake.other_channel.id)
    [embed] = posted["embeds"]
    assert embed["title"] == "Problem reported: What is AI alignment?"
    values = fields(embed)
    assert f"<@{fake.member.id}>" in values["Reported by"]
    link = f"https://discord.com/channels/{fake.guild.id}/{fake.channel.id}/{reply['id']}"
    assert values["Message"] == link
    assert "alignment-answer" in values["Answer"]
    assert embed["description"] == "The answer is too short @everyone <@&1>"
    assert posted["mentions"] == [] and posted["mention_roles"] == []
    assert not posted["mention_everyone"] and posted["content"] == ""

    # in the moderators' queue
    listed = await (await command(fake, "unanswered reports", user=fake.moderator.id)).response()
    assert "The answer is too short" in listed.content and "What is AI alignment?" in listed.content
    [stored] = await run.app.curator.reports.list()
    assert stored.reporter_id == fake.member.id and stored.message_id == int(reply["id"])

    # rate limited per member: the reason is shown and nothing more is stored
    for _ in range(2):
        await (await report("Also wrong")).response()
    refused = await report("And again")
    text = (await refused.response()).content
    assert text.startswith("Not done: you have already sent 3 reports")
    assert await run.app.curator.reports.count() == 3
    assert len(fake.messages(fake.other_channel.id)) == 3

    # one click on the moderators' channel post closes the report
    done_id = f"stampy:settle:r:{stored.id}"
    assert custom_ids(posted) == [done_id, f"stampy:settle:d:{stored.id}"]
    refused = await (await click(fake, posted, done_id, fake.member.id)).response()
    assert refused.content == TEXT["mod_not_moderator"]
    done = await (await click(fake, posted, done_id, fake.moderator.id)).response()
    assert done.ephemeral and done.content == f"Report #{stored.id} is resolved."
    assert await run.app.curator.reports.count() == 2
    listed = await (await command(fake, "unanswered reports", user=fake.moderator.id)).response()
    assert f"#{stored.id}`" not in listed.content


# -- promotion by stamps ------------------------------------------------------------------------


async def test_stamps_propose_an_answer_as_canonical_and_one_click_confirms(harness: Harness):
    fake = harness.fake
    run = await start(harness, knowledge=wiki(harness), reports_channel=fake.other_channel.id)
    reply = await ask(fake, "stampy, why is alignment hard?")
    shown = run.bot.service.question("why-is-alignment-hard").answers[0].id
    await fake.add_reaction(fake.channel.id, int(reply["id"]), fake.member.id, *GOLD)
    posted = await fake.wait_for_message(fake.other_channel.id)
    assert f"`{shown}`" in posted["content"] and "Why is alignment hard?" in posted["content"]
    [promotion] = await run.app.curator.promotions.list()
    confirm = f"stampy:promote:{promotion.id}"
    assert custom_ids(posted) == [confirm]

    # also in the queue; a member cannot confirm, a moderator can in one click
    listed = await (await command(fake, "unanswered promotions", user=fake.moderator.id)).response()
    assert confirm in custom_ids(listed.message)
    refused = await (await click(fake, posted, confirm, fake.member.id)).response()
    assert refused.content == TEXT["mod_not_moderator"]
    done = await (await click(fake, posted, confirm, fake.moderator.id)).response()
    assert done.content.startswith("Done: marked answer")
    answers = run.bot.service.question("why-is-alignment-hard").answers
    assert [x.canonical for x in answers if x.id == shown] == [True]
    again = await (await click(fake, posted, confirm, fake.moderator.id)).response()
    assert again.content.startswith("Not done:")
    assert await run.app.curator.promotions.count() == 0


async def test_a_rejected_promotion_is_not_proposed_again(harness: Harness):
    fake = harness.fake
    run = await start(harness, knowledge=wiki(harness))
    reply = await ask(fake, "stampy, why is alignment hard?")
    await fake.add_reaction(fake.channel.id, int(reply["id"]), fake.member.id, *GOLD)

    async def proposed() -> list[Any]:
        return await run.app.curator.promotions.list()

    [promotion] = await harness.eventually(proposed, what="a promotion")
    listed = await (await command(fake, "unanswered promotions", user=fake.moderator.id)).response()
    reject = f"stampy:settle:x:{promotion.id}"
    assert custom_ids(listed.message) == [f"stampy:promote:{promotion.id}", reject]
    done = await (await click(fake, listed.message, reject, fake.moderator.id)).response()
    assert done.content.startswith(f"Promotion #{promotion.id} is rejected")
    await fake.add_reaction(fake.channel.id, int(reply["id"]), fake.owner.id, *GOLD)

    async def counted() -> bool:
        return run.book.count(promotion.answer_id) == 10

    await harness.eventually(counted, what="the second stamp")
    assert await run.bot.service.check_promotion(promotion.answer_id) is None
    empty = await (await command(fake, "unanswered promotions", user=fake.moderator.id)).response()
    assert empty.content == TEXT["promo_empty"]
    assert not any(a.canonical for a in run.bot.service.question("why-is-alignment-hard").answers)


# -- /unanswered canonical ----------------------------------------------------------------------


async def test_unanswered_canonical_lists_most_asked_first_and_answers_in_a_form(
    harness: Harness,
):
    fake = harness.fake
    writers = fake.add_role(fake.guild.id, "Writers", 0)
    writer = fake.add_user("wendy")
    fake.add_member(fake.guild.id, writer.id, [writers.id])
    run = await start(harness, knowledge=wiki(harness), writer_roles=("writers",))
    for _ in range(2):
        await ask(fake, "stampy, what is a linear probe?")
    await run.bot.service.settle()

    # a writer may use it (Discord shows /unanswered to the role once an admin allows it)
    fake.enforce_default_permissions = False
    listed = await (await command(fake, "unanswered canonical", user=writer.id)).response()
    assert listed.ephemeral
    lines = listed.content.splitlines()
    assert lines[1] == "`1.` (2×) What is a linear probe?"
    assert lines[2] == "`2.` (0×) Who works on alignment research?"
    assert "Who is on the moderation rota?" not in listed.content
    tagged = await (
        await command(fake, "unanswered canonical", {"tag": "alignment"}, user=writer.id)
    ).response()
    assert "linear probe" not in tagged.content and "Who works on" in tagged.content
    plain = await (await command(fake, "unanswered canonical", user=fake.member.id)).response()
    assert plain.content == TEXT["mod_not_writer"]
    member_list = await command(fake, "unanswered list", user=writer.id)
    assert (await member_list.response()).content == TEXT["mod_not_moderator"]

    # "Answer 1" opens the form pre-filled with the question; submitting answers it
    opened = await click(fake, listed.message, "stampy:write:what-is-a-probe", writer.id)
    await opened.response()
    assert opened.modal is not None
    inputs = {
        c["component"]["custom_id"]: c["component"]
        for c in opened.modal["components"]
        if "component" in c
    }
    assert inputs["question"]["value"] == "What is a linear probe?"
    assert "canonical" not in inputs  # writers' answers are not canonical until confirmed
    text = "A small classifier trained on a layer's activations."
    done = await fake.submit_modal(opened.modal["custom_id"], {"answer": text}, opened_by=opened)
    assert (await done.response()).content.startswith("Done: added answer")
    assert run.bot.service.question("what-is-a-probe").answers[0].text == text
    reply = await ask(fake, "stampy, what is a linear probe?")
    assert reply["embeds"][0]["description"] == text
