"""Moderation through the fake Discord with the real bot: /answer, /unanswered, /stampy reload,
"Save as answer", permissions, home guilds and autocomplete."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fakediscord import FakeDiscord, FakeInteraction, Perm

from bot.discord.render import TEXT
from bot.stamps import author_user_id
from bot.store import ProposedPhrasings, UnansweredQuestions
from bot.store.versions import QuestionVersions

if TYPE_CHECKING:
    from conftest import Harness, Running

ANSWERS = Path(__file__).resolve().parents[2] / "answers"
NEW_QUESTION = "What is a paperclip maximizer?"
NEW_ANSWER = "A thought experiment: an AI told to make paperclips turns everything into them."
MOD_PERMS = str(Perm.MANAGE_MESSAGES)
ODD_QUESTIONS = (
    "how do tardigrades survive in space",
    "why is the sky blue at noon",
    "what colour are flamingo eggs",
    "who invented the paper stapler",
    "where do eels spawn",
    "can octopuses taste with their arms",
    "how deep is the mariana trench",
    "why do cats purr",
    "what is the boiling point of tin",
    "when was the first bicycle built",
    "how many moons does neptune have",
    "which bird migrates the furthest",
)


# -- helpers -----------------------------------------------------------------------------------


async def start(harness: Harness, **discord: Any) -> Running:
    """The bot with the fake's guild as its home guild (unless given otherwise)."""
    discord.setdefault("home_guilds", (harness.fake.guild.id,))
    return await harness.start(harness.settings(**discord))


async def command(
    fake: FakeDiscord,
    name: str,
    options: dict[str, Any] | None = None,
    *,
    user: int | None = None,
    guild: int | None = None,
    channel: int | None = None,
) -> FakeInteraction:
    """Run a slash command as the moderator (by default) in #general."""
    return await fake.run_command(
        guild or fake.guild.id,
        channel or fake.channel.id,
        user or fake.moderator.id,
        name,
        options or {},
    )


async def said(inter: FakeInteraction) -> str:
    """The ephemeral text the bot answered with."""
    response = await inter.response()
    if response.type == 5:  # deferred: the text is in the followup
        followups = await inter.wait_followups()
        return followups[-1]["content"]
    assert response.ephemeral, response
    return response.content or ""


async def submit(
    fake: FakeDiscord, opened: FakeInteraction, values: dict[str, Any], user: int | None = None
) -> FakeInteraction:
    """Submit the modal ``opened`` showed."""
    modal = await modal_of(opened)
    return await fake.submit_modal(modal["custom_id"], values, user, opened_by=opened)


async def modal_of(inter: FakeInteraction) -> dict[str, Any]:
    """The modal the bot answered ``inter`` with."""
    await inter.response()
    assert inter.modal is not None, f"no modal: {inter.callback}"
    return inter.modal


def modal_inputs(modal: dict[str, Any]) -> dict[str, Any]:
    """The modal's inputs by custom id (labels unwrapped)."""
    found = {}
    for row in modal["components"]:
        component = row.get("component") or (row.get("components") or [None])[0]
        if component and "custom_id" in component:
            found[component["custom_id"]] = component
    return found


async def ask(fake: FakeDiscord, text: str) -> dict[str, Any]:
    posted = await fake.post_message(fake.channel.id, fake.member.id, text)
    return await fake.wait_for_message(
        fake.channel.id,
        predicate=lambda m: (m.get("message_reference") or {}).get("message_id") == posted["id"],
    )


async def versions(run: Running) -> int:
    return await QuestionVersions(run.store).count()


async def add_question(fake: FakeDiscord, **values: Any) -> str:
    opened = await command(fake, "answer add")
    fields = {"question": NEW_QUESTION, "answer": NEW_ANSWER, "phrasings": "", "tags": ""}
    fields.update(values)
    return await said(await submit(fake, opened, fields))


# -- registration --------------------------------------------------------------------------


async def test_commands_are_global_guild_only_and_need_manage_messages(harness: Harness):
    await start(harness)
    registered = {(c["name"], c["type"]): c for c in harness.fake.commands()}
    for key in (("answer", 1), ("unanswered", 1), ("stampy", 1), ("Save as answer", 3)):
        command_ = registered[key]
        assert command_["default_member_permissions"] == MOD_PERMS, key
        assert command_.get("contexts") in ([0], None) and command_["dm_permission"] is False
    answer = registered[("answer", 1)]
    names = {o["name"] for o in answer["options"]}
    assert names == {"add", "edit", "alias", "tag", "related", "canonical", "remove", "show",
                     "history", "revert"}  # fmt: skip


# -- adding and answering --------------------------------------------------------------------


async def test_a_question_added_with_the_modal_is_answered_at_once(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    opened = await command(fake, "answer add")
    modal = await modal_of(opened)
    assert modal is not None and set(modal_inputs(modal)) == {
        "question",
        "phrasings",
        "tags",
        "answer",
        "canonical",
    }
    done = await submit(
        fake,
        opened,
        {
            "question": NEW_QUESTION,
            "answer": NEW_ANSWER,
            "phrasings": "paperclip maximiser\n\nwhat's the paperclip thing",
            "tags": "Thought-Experiments, basics",
            "canonical": True,
        },
    )
    assert (await said(done)).startswith("Done: added the question with an answer")

    reply = await ask(fake, "stampy, what is the paperclip maximiser?")
    [embed] = reply["embeds"]
    assert embed["title"] == NEW_QUESTION
    assert embed["description"] == NEW_ANSWER
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Tags"] == "thought-experiments, basics"
    assert fields["Answer by"] == f"<@{fake.moderator.id}>"
    assert reply["mentions"] == []
    assert run.bot.service.question("what-is-a-paperclip-maximizer").answers[0].canonical
    assert await versions(run) == 1


async def test_edit_alias_tag_canonical_remove_history_and_revert(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    await add_question(fake)
    qid = "what-is-a-paperclip-maximizer"
    question = lambda: run.bot.service.question(qid)  # noqa: E731

    # edit: the modal comes pre-filled
    opened = await command(fake, "answer edit", {"question": qid})
    inputs = modal_inputs(await modal_of(opened))
    assert inputs["question"]["value"] == NEW_QUESTION
    assert inputs["answer"]["value"] == NEW_ANSWER
    values = {
        "question": "What is the paperclip maximizer?",
        "phrasings": "",
        "tags": "",
        "answer": "An AI that turns the universe into paperclips.",
    }
    assert "edited question text" in await said(await submit(fake, opened, values))
    assert question().text == "What is the paperclip maximizer?"
    assert question().answers[0].text == "An AI that turns the universe into paperclips."

    # alias add / remove
    text = await said(
        await command(fake, "answer alias add", {"question": qid, "phrasing": "clippy"})
    )
    assert "added the alternate phrasing “clippy”" in text
    assert (await ask(fake, "stampy, clippy"))["embeds"][0]["title"] == question().text
    text = await said(
        await command(fake, "answer alias remove", {"question": qid, "phrasing": "clippy"})
    )
    assert "removed the alternate phrasing" in text and question().alternate_phrasings == ()

    # tag add / remove
    await said(
        await command(fake, "answer tag add", {"question": qid, "tag": "Thought-Experiment"})
    )
    assert question().tags == ("thought-experiment",)
    await said(
        await command(fake, "answer tag remove", {"question": qid, "tag": "thought-experiment"})
    )
    assert question().tags == ()

    # canonical on, then off
    answer_id = question().answers[0].id
    options = {"question": qid, "answer": answer_id, "canonical": True}
    assert "marked answer" in await said(await command(fake, "answer canonical", options))
    assert question().answers[0].canonical
    options["canonical"] = False
    assert "unmarked answer" in await said(await command(fake, "answer canonical", options))

    # show lists what is stored, ids included
    shown = await (await command(fake, "answer show", {"question": qid})).response()
    [embed] = shown.data["embeds"]
    assert qid in embed["description"] and answer_id in embed["fields"][0]["name"]

    # remove asks first, then removes
    asked = await command(fake, "answer remove", {"question": qid})
    prompt = await asked.response()
    assert "Remove the question" in (prompt.content or "")
    message = prompt.message
    assert message is not None
    confirm = next(
        c["custom_id"]
        for row in message["components"]
        for c in row["components"]
        if c["label"] == "Remove"
    )
    clicked = await fake.click_button(message, confirm, fake.moderator.id)
    assert "removed" in ((await clicked.response()).data.get("content") or "")
    assert question() is None
    assert "stampy, what is the paperclip maximizer" not in [
        (e or {}).get("title") for e in (await ask(fake, "stampy, clippy"))["embeds"]
    ]

    # history shows who changed what, newest first
    history = await said(await command(fake, "answer history", {"question": qid}))
    lines = history.splitlines()
    assert lines[1].startswith("**v9**") and "removed the question" in lines[1]
    assert "← current" in lines[1] and lines[-2].startswith("**v1**")
    assert "Mod" in history  # the member's display name

    # revert brings version 2 (after the edit) back
    text = await said(await command(fake, "answer revert", {"question": qid, "version": 2}))
    assert "reverted to version 2" in text
    assert question().text == "What is the paperclip maximizer?"
    assert question().tags == () and question().alternate_phrasings == ()
    reply = await ask(fake, "stampy, what is the paperclip maximizer?")
    assert reply["embeds"][0]["title"] == "What is the paperclip maximizer?"
    assert await versions(run) == 10


async def test_edit_of_a_question_with_several_answers_asks_which_answer(harness: Harness):
    await start(harness)
    fake = harness.fake
    qid = "what-is-interpretability"
    assert len(harness.running[0].bot.service.question(qid).answers) == 2
    asked = await command(fake, "answer edit", {"question": qid})
    prompt = await asked.response()
    message = prompt.message
    assert prompt.ephemeral and message is not None
    [select] = [c for row in message["components"] for c in row["components"]]
    assert [o["value"] for o in select["options"]] == [
        "what-is-interpretability-overview",
        "what-is-interpretability-short",
    ]
    picked = await fake.select(
        message, select["custom_id"], ["what-is-interpretability-short"], fake.moderator.id
    )
    inputs = modal_inputs(await modal_of(picked))
    assert inputs["answer"]["value"].startswith("In one sentence")


# -- permissions and home guilds -------------------------------------------------------------


async def test_member_without_permission_is_refused_and_nothing_is_written(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    member = fake.member.id
    options = {"question": "what-is-ai-alignment", "phrasing": "alignment pls"}

    # Discord (the fake) does not even offer the command to a plain member ...
    refused = await command(fake, "answer alias add", options, user=member)
    assert refused.refused is not None and not refused.dispatched

    # ... and when a server admin lets them run it anyway, the bot refuses by itself.
    fake.enforce_default_permissions = False
    for name, opts in (
        ("answer alias add", options),
        ("answer add", {}),
        ("answer show", {"question": "what-is-ai-alignment"}),
        ("unanswered list", {}),
        ("stampy reload", {}),
    ):
        assert (
            await said(await command(fake, name, opts, user=member)) == TEXT["mod_not_moderator"]
        ), name

    # a form opened by a moderator and submitted by someone else is checked again too
    opened = await command(fake, "answer add")
    sneaky = await submit(fake, opened, {"question": NEW_QUESTION, "answer": "x"}, user=member)
    assert await said(sneaky) == TEXT["mod_not_moderator"]

    assert await versions(run) == 0
    assert "alignment pls" not in run.bot.service.question("what-is-ai-alignment").phrasings


async def test_a_moderator_role_named_in_config_counts(harness: Harness):
    fake = harness.fake
    helper = fake.add_user("helper")
    role = fake.add_role(fake.guild.id, "Answer Wranglers", 0)
    fake.add_member(fake.guild.id, helper.id, [role.id])
    run = await start(harness, moderator_roles=("answer wranglers",))
    fake.enforce_default_permissions = False  # the admin allowed the role in Discord
    options = {"question": "what-is-ai-alignment", "phrasing": "alignment pls"}
    text = await said(await command(fake, "answer alias add", options, user=helper.id))
    assert text.startswith("Done:")
    assert await versions(run) == 1


async def test_a_guild_that_is_not_home_changes_nothing(harness: Harness):
    fake = harness.fake
    other = fake.add_guild("Elsewhere", fake.owner.id)
    channel = fake.add_channel(other.id, "general")
    mods = fake.add_role(other.id, "Moderator", Perm.MANAGE_MESSAGES)
    fake.add_member(other.id, fake.moderator.id, [mods.id])
    run = await start(harness)
    options = {"question": "what-is-ai-alignment", "phrasing": "alignment pls"}

    async def there(name: str, opts: dict[str, Any]) -> str:
        inter = await command(fake, name, opts, guild=other.id, channel=channel.id)
        return await said(inter)

    assert await there("answer alias add", options) == TEXT["mod_not_home"]
    assert await there("answer add", {}) == TEXT["mod_not_home"]
    assert await there("unanswered list", {}) == TEXT["mod_not_home"]
    assert await there("stampy reload", {}) == TEXT["mod_not_home"]
    shown = await (
        await command(
            fake,
            "answer show",
            {"question": "what-is-ai-alignment"},
            guild=other.id,
            channel=channel.id,
        )
    ).response()
    assert shown.data["embeds"][0]["title"] == "What is AI alignment?"  # reading is fine
    assert await versions(run) == 0


async def test_without_home_guilds_nothing_can_be_changed(harness: Harness):
    run = await start(harness, home_guilds=())
    options = {"question": "what-is-ai-alignment", "phrasing": "alignment pls"}
    assert (
        await said(await command(harness.fake, "answer alias add", options)) == TEXT["mod_no_home"]
    )
    assert await versions(run) == 0


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"question": "   "}, "the question is empty"),
        ({"answer": "x" * 10_000}, "answer text is too long (10000 characters; at most 4000)"),
        ({"question": "What is AI alignment?"}, "is also used by question 'what-is-ai-alignment'"),
        ({"phrasings": "define alignment in AI"}, "also used by question 'what-is-ai-alignment'"),
        ({"tags": "machine learning"}, "use hyphens instead of spaces"),
        ({"tags": "**bold**"}, "tag '**bold**' is not valid"),
    ],
)
async def test_bad_input_is_refused_with_the_reason_and_nothing_is_written(
    harness: Harness, values: dict[str, str], reason: str
):
    run = await start(harness)
    before = len(run.bot.service.knowledge)
    text = await add_question(harness.fake, **values)
    assert text.startswith("Not done:") and reason in text and "Nothing was changed" in text
    assert await versions(run) == 0
    assert len(run.bot.service.knowledge) == before


async def test_sql_looking_text_is_stored_literally_and_unknown_ids_are_refused(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    sql = "Robert'); DROP TABLE question_versions;--"
    await said(
        await command(fake, "answer alias add", {"question": "what-is-agi", "phrasing": sql})
    )
    assert sql in run.bot.service.question("what-is-agi").alternate_phrasings
    assert await versions(run) == 1

    for name, options in (
        ("answer alias add", {"question": "no-such-question", "phrasing": "hello there"}),
        ("answer show", {"question": "no-such-question"}),
        ("answer canonical", {"question": "what-is-agi", "answer": "nope", "canonical": True}),
        ("answer revert", {"question": "what-is-agi", "version": 7}),
        ("unanswered dismiss", {"item": 12345}),
        ("unanswered approve", {"proposal": 999}),
    ):
        text = await said(await command(fake, name, options))
        assert text.startswith("Not done:"), (name, text)
    assert await versions(run) == 1


# -- autocomplete ------------------------------------------------------------------------------


async def test_autocomplete_is_ranked_and_within_discords_limits(harness: Harness):
    await start(harness)
    fake = harness.fake

    async def choices(value: str) -> list[dict[str, Any]]:
        inter = await fake.autocomplete(
            fake.guild.id,
            fake.channel.id,
            fake.moderator.id,
            "answer edit",
            {"question": value},
            "question",
        )
        started = time.monotonic()
        await inter.response()
        assert time.monotonic() - started < 1.0  # Discord waits 3 seconds
        assert inter.choices is not None
        return inter.choices

    for typed in ("", "interpretability", "wher can i lern about interpretabilty", "a" * 90):
        found = await choices(typed)
        assert len(found) <= 25
        assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in found)
    best = await choices("wher can i lern about interpretabilty")
    assert best[0]["value"] == "learn-interpretability"
    assert (await choices("what is ai alignment"))[0]["value"] == "what-is-ai-alignment"

    answers = await fake.autocomplete(
        fake.guild.id,
        fake.channel.id,
        fake.moderator.id,
        "answer canonical",
        {"question": "what-is-interpretability", "answer": "", "canonical": True},
        "answer",
    )
    await answers.response()
    assert [c["value"] for c in answers.choices or []] == [
        "what-is-interpretability-overview",
        "what-is-interpretability-short",
    ]


# -- "Save as answer" --------------------------------------------------------------------------


async def test_save_as_answer_credits_the_messages_author(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    posted = await fake.post_message(
        fake.channel.id, fake.member.id, "The paperclip maximizer shows that goals matter."
    )
    menu = await fake.context_menu(
        fake.guild.id,
        fake.channel.id,
        fake.moderator.id,
        "Save as answer",
        target_message=posted,
    )
    modal = await modal_of(menu)
    assert modal is not None
    inputs = modal_inputs(modal)
    assert set(inputs) == {"existing", "new"}
    assert len(inputs["existing"]["options"]) <= 25
    done = await submit(fake, menu, {"new": NEW_QUESTION, "existing": []})
    text = await said(done)
    assert "credited to" in text and f"<@{fake.member.id}>" in text
    question = run.bot.service.question("what-is-a-paperclip-maximizer")
    [answer] = question.answers
    assert answer.text == "The paperclip maximizer shows that goals matter."
    assert author_user_id(answer.author) == fake.member.id

    # the same message saved as a second answer to an existing question, chosen from the list
    menu = await fake.context_menu(
        fake.guild.id,
        fake.channel.id,
        fake.moderator.id,
        "Save as answer",
        target_message=posted,
    )
    options = modal_inputs(await modal_of(menu))["existing"]["options"]
    assert options[0]["value"] == "what-is-a-paperclip-maximizer"
    await said(await submit(fake, menu, {"existing": ["what-is-a-paperclip-maximizer"]}))
    assert len(run.bot.service.question("what-is-a-paperclip-maximizer").answers) == 2
    reply = await ask(fake, "stampy, what is a paperclip maximizer?")
    fields = {f["name"]: f["value"] for f in reply["embeds"][0]["fields"]}
    assert fields["Answer by"] == f"<@{fake.member.id}>"


# -- the unanswered queue ----------------------------------------------------------------------


async def test_unanswered_queue_list_answer_merge_and_dismiss(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    queue = UnansweredQuestions(run.store)
    for i, text in enumerate(ODD_QUESTIONS):
        for _ in range(12 - i):
            await queue.record(text, asker_id=1, channel_id=2, guild_id=3)

    listed = await command(fake, "unanswered list")
    page = await listed.response()
    assert page.ephemeral and "1-10 of 12" in (page.content or "")
    rows = (page.content or "").splitlines()
    assert "(12×) how do tardigrades survive in space" in rows[1]
    message = page.message
    assert message is not None
    buttons = {c["label"]: c for row in message["components"] for c in row["components"]}
    assert buttons["Previous"].get("disabled")
    turned = await fake.click_button(message, buttons["Next"]["custom_id"], fake.moderator.id)
    assert "11-12 of 12" in ((await turned.response()).data.get("content") or "")

    items = {item.text: item.id for item in await queue.list(limit=20)}
    # answer: the add form comes pre-filled with the question
    opened = await command(fake, "unanswered answer", {"item": items[ODD_QUESTIONS[0]]})
    inputs = modal_inputs(await modal_of(opened))
    assert inputs["question"]["value"] == ODD_QUESTIONS[0]
    values = {"question": "How do tardigrades survive in space?", "answer": "They dry out."}
    assert (await said(await submit(fake, opened, values))).startswith("Done:")
    assert (await queue.get(items[ODD_QUESTIONS[0]])).status == "answered"
    reply = await ask(fake, "stampy, how do tardigrades survive in space?")
    assert reply["embeds"][0]["description"] == "They dry out."

    # merge: folded in as an alternate phrasing
    options = {"item": items[ODD_QUESTIONS[1]], "question": "what-is-agi"}
    assert "merged unanswered question" in await said(
        await command(fake, "unanswered merge", options)
    )
    assert ODD_QUESTIONS[1] in run.bot.service.question("what-is-agi").phrasings
    assert (await queue.get(items[ODD_QUESTIONS[1]])).status == "answered"

    # dismiss
    text = await said(await command(fake, "unanswered dismiss", {"item": items[ODD_QUESTIONS[2]]}))
    assert text.startswith("Dismissed")
    assert (await queue.get(items[ODD_QUESTIONS[2]])).status == "dismissed"
    assert await queue.count() == 9

    # autocomplete lists the open ones, most asked first
    inter = await fake.autocomplete(
        fake.guild.id,
        fake.channel.id,
        fake.moderator.id,
        "unanswered dismiss",
        {"item": ""},
        "item",
    )
    await inter.response()
    assert [c["value"] for c in inter.choices or []][:2] == [
        items[ODD_QUESTIONS[3]],
        items[ODD_QUESTIONS[4]],
    ]


async def test_proposed_phrasings_are_approved_or_rejected(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    proposals = ProposedPhrasings(run.store)
    good = await proposals.propose("what-is-agi", "agi meaning", proposer_id=1, channel_id=2)
    bad = await proposals.propose("what-is-agi", "lol", proposer_id=1, channel_id=2)
    listed = await said(await command(fake, "unanswered proposals"))
    assert "agi meaning" in listed and "lol" in listed
    text = await said(await command(fake, "unanswered approve", {"proposal": good.id}))
    assert text.startswith("Done: approved proposed phrasing")
    assert "agi meaning" in run.bot.service.question("what-is-agi").alternate_phrasings
    assert (await said(await command(fake, "unanswered reject", {"proposal": bad.id}))).startswith(
        "Rejected"
    )
    assert (await proposals.get(good.id)).status == "approved"
    assert (await proposals.get(bad.id)).status == "rejected"
    again = await said(await command(fake, "unanswered approve", {"proposal": good.id}))
    assert "already approved" in again


# -- reload and restarts -----------------------------------------------------------------------


async def test_reload_reports_a_broken_file_and_keeps_serving(harness: Harness, tmp_path: Path):
    answers = tmp_path / "answers"
    shutil.copytree(ANSWERS, answers)
    settings = harness.settings(home_guilds=(harness.fake.guild.id,))
    settings = type(settings)(
        knowledge=type(settings.knowledge)(answers_dir=str(answers)),
        matching=settings.matching,
        database=settings.database,
        discord=settings.discord,
    )
    run = await harness.start(settings)
    fake = harness.fake
    path = answers / "ai-safety-basics.yaml"
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("  - id: what-is-agi\n", "  - id: What Is AGI\n"), "utf-8")
    line = good.splitlines().index("  - id: what-is-agi") + 1

    text = await said(await command(fake, "stampy reload"))
    assert text.startswith("Not reloaded: 1 error(s)") and f"ai-safety-basics.yaml:{line}:" in text
    assert (await ask(fake, "stampy, what is AGI?"))["embeds"][0]["title"] == (
        run.bot.service.question("what-is-agi").text
    )

    extra = "\n  - id: reload-works\n    question: Does reload work?\n    answers: []\n"
    path.write_text(good.replace("questions:\n", "questions:" + extra, 1), "utf-8")
    text = await said(await command(fake, "stampy reload"))
    assert "1 added, 0 changed, 0 removed" in text and "reload-works" in text
    assert run.bot.service.question("reload-works") is not None


async def test_changes_survive_a_restart(harness: Harness):
    run = await start(harness)
    fake = harness.fake
    await add_question(fake)
    await said(
        await command(fake, "answer alias add", {"question": "what-is-agi", "phrasing": "agi??"})
    )
    await harness.stop(run)
    run = await start(harness)
    reply = await ask(fake, "stampy, what is a paperclip maximizer?")
    assert reply["embeds"][0]["title"] == NEW_QUESTION
    assert "agi??" in run.bot.service.question("what-is-agi").alternate_phrasings


async def test_a_role_matching_only_up_to_case_is_a_moderator_everywhere(harness: Harness):
    """One moderator rule: a member whose role matches ``moderator_roles`` only up to case
    may run the moderators' commands and, stamping, is counted as a root of trust."""
    fake = harness.fake
    helper = fake.add_user("helper")
    role = fake.add_role(fake.guild.id, "Moderators", 0)  # no Manage Messages
    fake.add_member(fake.guild.id, helper.id, [role.id])
    run = await start(harness, moderator_roles=("moderators",))
    fake.enforce_default_permissions = False  # the admin allowed the role in Discord

    options = {"question": "what-is-ai-alignment", "phrasing": "alignment, briefly"}
    text = await said(await command(fake, "answer alias add", options, user=helper.id))
    assert text.startswith("Done:")

    answer = await ask(fake, "stampy, what is AI alignment?")
    assert helper.id not in run.book.roots
    await fake.add_reaction(fake.channel.id, int(answer["id"]), helper.id, "🏅", None)
    await harness.eventually(
        lambda: asyncio.sleep(0, helper.id in run.book.roots), 5.0, "the helper a root"
    )
    # ...and a member without the role is neither
    text = await said(await command(fake, "answer alias add", options, user=fake.member.id))
    assert text == TEXT["mod_not_moderator"]
    await fake.add_reaction(fake.channel.id, int(answer["id"]), fake.member.id, "🏅", None)
    await harness.eventually(
        lambda: asyncio.sleep(0, run.book.user(fake.member.id).given > 0), 5.0, "the stamp"
    )
    assert fake.member.id not in run.book.roots
