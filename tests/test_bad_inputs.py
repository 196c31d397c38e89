"""Bad input, kind by kind, through the real code: what the bot does with each.

This file backs the "Bad input" table in README.md: every row there is a case here. Three
paths are exercised:

- asking: a message goes through ``address`` (mentions and prefix stripped), the
  :class:`~bot.service.Service` (with a real database, so unanswered questions are stored) and
  ``render``/``views``, exactly as the Asking cog does; everything it would send is checked
  against Discord's limits;
- the YAML loader, on file text and on files on disk;
- the :class:`~bot.curation.Curator`, with what the ``/answer`` forms and options hand it.

That no reply pings anyone is checked on the wire, through the fake Discord, in
``tests/e2e/test_secrets.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.curation import Curator, Moderator, Refused, split_lines, split_tags
from bot.discord import render, views
from bot.discord.addressing import address
from bot.discord.moderation import refusal
from bot.discord.moderation.views import change_text, question_embed
from bot.discord.render import TEXT, units
from bot.knowledge.abstain import load_model
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.loader import MAX_FILE_BYTES, load_directory, load_file, parse_text
from bot.knowledge.matcher import Decision, Matcher
from bot.knowledge.model import Answer, Question
from bot.service import Service
from bot.store import Store, UnansweredQuestions

ROOT = Path(__file__).resolve().parents[1]
BOT_ID = 424242424242424242
PREFIXES = ("stampy,", "s,")
MOD = Moderator("Mod", 1001, 42)

# -- the asking path ---------------------------------------------------------------------------


@dataclass
class Sent:
    """What the Asking cog would send for one message (nothing: ``kind`` "ignored")."""

    kind: str  # answer, suggest, no_match, empty, ignored
    question_id: str | None = None
    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)  # buttons


async def bot_reply(service: Service, content: str, *, qa_channel: bool = False) -> Sent:
    """The reply to ``content`` posted in a guild channel, as ``Asking.respond`` builds it."""
    addressed = address(
        content, bot_id=BOT_ID, prefixes=PREFIXES, is_dm=False, in_qa_channel=qa_channel
    )
    if addressed is None:
        return Sent("ignored")
    if not addressed.text:
        return Sent("empty", content=TEXT["empty"])
    reply = service.ask(addressed.text)
    if reply.decision is Decision.ANSWER and reply.question is not None:
        view = views.answer_view(reply, picked=False)
        embed = render.reply_embed(reply)
        return Sent("answer", reply.question.id, embeds=[embed], items=list(view.children))
    if reply.decision is Decision.SUGGEST and reply.suggestions:
        view = views.suggestion_view(reply)
        return Sent("suggest", content=render.suggestions_text(reply), items=list(view.children))
    await service.note_unanswered(addressed.text, asker_id=1, channel_id=2, guild_id=3)
    if not addressed.explicit:
        return Sent("ignored")
    return Sent("no_match", content=TEXT["no_match"])


def assert_fits(sent: Sent) -> None:
    """Everything in ``sent`` is within Discord's limits."""
    assert units(sent.content or "") <= render.CONTENT_LIMIT
    assert len(sent.embeds) <= render.EMBEDS_PER_MESSAGE
    for embed in sent.embeds:
        assert units(embed.title or "") <= render.TITLE_LIMIT
        assert units(embed.description or "") <= render.DESCRIPTION_LIMIT
        assert units(embed.footer.text or "") <= render.FOOTER_LIMIT
        for item in embed.fields:
            assert units(item.name or "") <= render.FIELD_NAME_LIMIT
            assert 0 < units(item.value or "") <= render.FIELD_VALUE_LIMIT
    assert sum(render.embed_units(embed) for embed in sent.embeds) <= render.EMBED_TOTAL_LIMIT
    assert len(sent.items) <= 5
    for dynamic in sent.items:
        button = dynamic.item
        assert 0 < units(button.label) <= render.LABEL_LIMIT
        assert len(button.custom_id) <= render.CUSTOM_ID_LIMIT


HOSTILE_ANSWERS = {
    "everyone-answer": "Ask @everyone and @here, or <@123456789012345678> and <@&42>, in <#7>.",
    "js-link-answer": "Click [here](javascript:alert(document.cookie)) or [x](<javascript:1>).",
    "emoji-answer": "🙂" * 4000,
    "nested-markdown-answer": "***__~~||" * 300 + "deep" + "||~~__***" * 300,
    "open-code-block-answer": "```py\n" + "print('x')\n" * 600,
    "invite-answer": "Join discord.gg/evil and https://discord.com/invite/evil now.",
    "combining-answer": "Z" + "\u0336\u0335\u0334" * 1300,
    "rtl-answer": "\u202eThis text runs right to left\u202c and \u200bhas\u200b zero widths.",
}


def hostile_question(key: str, text: str) -> Question:
    """A question whose answer (and author) are ``text``, asked as "tell me about KEY"."""
    word = key.removesuffix("-answer").replace("-", "")
    return Question(
        id=key,
        text=f"Tell me about {word}?",
        tags=("hostile",),
        answers=(
            Answer(id=f"{key}-1", text=text[:4000], author=text[:100], source="https://x.org/"),
            Answer(id=f"{key}-2", text=text[:4000], author="🙂" * 100),
        ),
    )


@pytest.fixture
async def service(store: Store) -> Service:
    questions = list(load_directory(ROOT / "answers").questions)
    questions += [hostile_question(key, text) for key, text in HOSTILE_ANSWERS.items()]
    model = load_model("", ROOT / "answers")  # the shipped model, as the bot uses it
    return Service(KnowledgeBase(Matcher(model=model), questions), store)


# (kind, message, what the bot does: "answer:<question id>", "suggest", "no_match", "empty",
# "ignored", or "answer|suggest|no_match" for any reply that is not an answer)
ASKED = [
    ("zero-width", "stampy, what\u200b is\u200d AGI\u2060?", "answer:what-is-agi"),
    ("rtl-marks", "stampy, \u202ewhat is AGI\u202c\u200f?", "answer:what-is-agi"),
    ("emoji-flood", "stampy, " + "🙂" * 4000, "no_match"),
    ("emoji-only", "stampy, 🤖❓🔥", "no_match"),
    ("nested-markdown", "stampy, ***__~~||what is AGI||~~__***", "answer:what-is-agi"),
    ("code-block", "stampy, ```\nwhat is AGI\n```", "answer:what-is-agi"),
    ("everyone-here", "stampy, @everyone @here what is AGI?", "answer:what-is-agi"),
    ("mentions", f"<@{BOT_ID}> <@1234> <@&5678> <#9012> what is AGI?", "answer:what-is-agi"),
    ("only-a-mention", f"<@{BOT_ID}>", "empty"),
    ("only-other-mentions", f"<@!{BOT_ID}> <@1234> @everyone", "empty"),
    ("invite-link", "stampy, discord.gg/abcdef what is AGI?", "suggest:what-is-agi"),
    ("js-markdown-link", "stampy, [what is AGI](javascript:alert(1))", "suggest:what-is-agi"),
    ("sql", "stampy, '; DROP TABLE unanswered; --", "no_match"),
    ("nul-bytes", "stampy, what\x00 is\x00 AGI?", "answer:what-is-agi"),
    ("control-chars", "stampy, what\x07 is\x1b[0m AGI\x7f?", "answer:what-is-agi"),
    ("lone-surrogate", "stampy, what is AGI \ud800?", "answer:what-is-agi"),
    ("combining-flood", "stampy, what is A\u0301" + "\u0301" * 5000 + "GI", "no_match"),
    ("long-word", "stampy, " + "a" * 10_000, "no_match"),
    ("huge-message", "stampy, what is AGI? " + "blah " * 4000, "answer|suggest|no_match"),
    ("empty-after-prefix", "stampy,", "empty"),
    ("whitespace-only", "stampy,   \n\t \u3000", "empty"),
    ("homoglyphs", "stampy, whаt is АGI?", "answer|suggest|no_match"),  # Cyrillic а, А
    ("fullwidth", "stampy, ｗｈａｔ ｉｓ ＡＧＩ？", "answer:what-is-agi"),
    ("not-addressed", "what is AGI?", "ignored"),
    ("qa-channel-nonsense", "🙂🙂🙂?", "ignored"),
    ("qa-channel-unknown", "what is a zzqx?", "ignored"),  # stored, no reply
] + [
    (key, f"stampy, tell me about {key.removesuffix('-answer').replace('-', '')}", f"answer:{key}")
    for key in HOSTILE_ANSWERS
]


@pytest.mark.parametrize(("kind", "message", "expected"), ASKED, ids=[c[0] for c in ASKED])
async def test_asking(service: Service, store: Store, kind: str, message: str, expected: str):
    sent = await bot_reply(service, message, qa_channel=kind.startswith("qa-channel"))
    assert_fits(sent)
    if expected.startswith("answer:"):
        assert (sent.kind, sent.question_id) == ("answer", expected.removeprefix("answer:"))
        # The other answers (the button) fit one message too.
        question = service.question(sent.question_id or "")
        assert question is not None
        others = render.other_answers_embeds(question, service.ranked_answers(question)[1:])
        assert_fits(Sent("more", embeds=others))
        assert_fits(Sent("show", embeds=[question_embed(question)]))
    elif expected.startswith("suggest:"):  # "did you mean", with that question offered
        assert sent.kind == "suggest", sent
        offered = [dynamic.item.custom_id.rsplit(":", 1)[-1] for dynamic in sent.items]
        assert expected.removeprefix("suggest:") in offered, offered
    else:
        assert sent.kind in expected.split("|"), sent
    stored = await UnansweredQuestions(store).list()
    assert len(stored) <= (sent.kind in ("no_match", "ignored"))
    for item in stored:  # kept for moderators, cut to 2,000 characters and encodable
        assert 0 < len(item.text) <= 2000
        item.text.encode("utf-8")
        assert "\x00" not in item.text


async def test_unanswered_sql_is_stored_as_text(service: Service, store: Store) -> None:
    await bot_reply(service, "stampy, '; DROP TABLE unanswered; --")
    await bot_reply(service, "stampy, Robert'); DROP TABLE students;--")
    texts = {item.text for item in await UnansweredQuestions(store).list()}
    assert texts == {"'; DROP TABLE unanswered; --", "Robert'); DROP TABLE students;--"}


# -- the YAML loader ---------------------------------------------------------------------------

GOOD = "questions:\n  - id: q\n    question: What is it?\n"


def one_question(**fields: str) -> str:
    """A file with one question whose fields are YAML snippets (already quoted)."""
    values = {"id": "q", "question": "What is it?", **fields}
    lines = ["questions:", "  - " + f"id: {values.pop('id')}"]
    lines += [f"    {key}: {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def answer(text: str, **extra: str) -> str:
    body = "".join(f", {key}: {value}" for key, value in extra.items())
    return f"[{{id: a, text: {text}{body}}}]"


BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(8)
    )  # fmt: skip
    + "questions: *i\n"
)

# (kind, file text, a piece of the error message; "" means the file loads)
LOADED = [
    ("billion-laughs", BILLION_LAUGHS, "YAML anchors and aliases are not supported"),
    ("merge-key", "x: &x {id: q}\nquestions:\n  - <<: *x\n", "anchors and aliases"),
    ("python-object", "questions: !!python/object/apply:os.system [echo hi]\n", "YAML tag"),
    ("python-name", one_question(question="!!python/name:os.system ''"), "YAML tag"),
    ("custom-tag", one_question(question="!secret What?"), "YAML tag '!secret'"),
    ("deep-nesting", "questions: " + "[" * 100 + "]" * 100 + "\n", "nest deeper than 32"),
    ("very-deep-nesting", "questions: " + "[" * 50_000 + "\n", "nest"),  # libyaml or ours
    ("nul-byte-text", GOOD + "# \x00\n", "NUL byte"),
    ("lone-surrogate-text", GOOD + "# \ud800\n", "lone surrogate"),
    ("control-char-escape", one_question(question='"What is \\e[31mit?"'), "U+001B"),
    ("raw-control-char", GOOD + "# \x07\n", "U+0007"),
    ("sql-question", one_question(question='"\'; DROP TABLE questions; --"'), ""),
    ("too-long-question", one_question(question="x" * 257), "too long (257 characters"),
    ("10000-char-answer", one_question(answers=answer("x" * 10_000)), "at most 4000"),
    ("emoji-question", one_question(question='"🙂🙂🙂"'), "has no letters or digits"),
    ("empty-question", one_question(question='"  "'), "question is empty"),
    ("null-question", one_question(question="null"), "must be a string"),
    ("number-as-text", one_question(question="1.5"), "must be a string"),
    ("multi-line-phrasing", one_question(alternate_phrasings='["a\\nb"]'), "single line"),
    ("tag-with-spaces", one_question(tags="[machine learning]"), "'machine-learning'"),
    ("tag-with-markdown", one_question(tags='["**bold**"]'), "tag '**bold**' is not valid"),
    ("bad-id", one_question(id='"../../etc/passwd"'), "is not valid"),
    ("duplicate-key", one_question(question="A?") + "    question: B?\n", "duplicate"),
    (
        "duplicate-phrasing",
        one_question(alternate_phrasings='["what is IT", "What is it?!"]'),
        "repeats an earlier phrasing",
    ),  # fmt: skip
    (
        "javascript-source",
        one_question(answers=answer("x", source='"javascript:alert(1)"')),
        "must be a link starting with http",
    ),  # fmt: skip
    ("everyone-in-answer", one_question(answers=answer('"@everyone <@&1> hi"')), ""),
    (
        "zero-width-duplicate",
        one_question(alternate_phrasings='["What\u200b is it?"]'),
        "repeats an earlier phrasing",
    ),  # fmt: skip
    ("many-errors", "questions:\n" + "  - {id: BAD}\n" * 500, "more errors in this file"),
    ("not-a-mapping", "- just\n- a list\n", "the top level must be"),
    ("empty-file", "", "the file is empty"),
]


@pytest.mark.parametrize(("kind", "text", "error"), LOADED, ids=[c[0] for c in LOADED])
def test_loading(kind: str, text: str, error: str) -> None:
    questions, errors = parse_text(text, "bad.yaml")
    if not error:
        assert errors == [] and questions, errors
        return
    assert questions == [], "a file with an error contributes nothing"
    assert any(error in str(e) for e in errors), errors
    assert all(str(e).startswith("bad.yaml:") and len(str(e)) < 400 for e in errors)
    assert len(errors) <= 101


@pytest.mark.parametrize(
    ("kind", "data", "error"),
    [
        ("huge-file", b"# x\n" * (MAX_FILE_BYTES // 4 + 1), "larger than 1024 KiB"),
        ("not-utf8", GOOD.encode() + b"# \xff\xfe\n", "not valid UTF-8"),
        ("nul-byte-file", GOOD.encode() + b"\x00", "NUL byte (line 4)"),
        ("utf16-file", GOOD.encode("utf-16"), "NUL byte (line 1)"),
    ],
    ids=["huge-file", "not-utf8", "nul-byte-file", "utf16-file"],
)
def test_loading_files(tmp_path: Path, kind: str, data: bytes, error: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    questions, errors = load_file(path)
    assert questions == []
    assert errors and all(e.line >= 1 for e in errors)
    assert error in str(errors[0]), errors


def test_a_bad_file_leaves_the_others_loaded(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    result = load_directory(tmp_path)
    assert [q.id for q in result.questions] == ["q"]
    assert result.rejected_files == (str(tmp_path / "a.yaml"),)


# -- moderators: the /answer forms and options, through the Curator ----------------------------


@pytest.fixture
async def curator(store: Store, tmp_path: Path) -> Curator:
    knowledge = KnowledgeBase(Matcher(), load_directory(ROOT / "answers").questions)
    built = Curator(knowledge, store, ROOT / "answers")
    await built.start()
    return built


def form(question: str = "What is a paperclip maximizer?", **values: str) -> dict[str, Any]:
    """The values the add form hands over, as ``Moderation.add_modal`` passes them on."""
    raw = {"question": question, "answer": "An AI that makes paperclips.", **values}
    return {
        "text": raw["question"],
        "answer": raw["answer"],
        "alternate_phrasings": split_lines(raw.get("phrasings", "")),
        "tags": split_tags(raw.get("tags", "")),
    }


# (kind, how to call the curator, a piece of the refusal; "" means the change is made, and a
# check of the stored question when given)
Action = Callable[[Curator], Any]
CHANGED: list[tuple[str, Action, str, Callable[[Question], bool] | None]] = [
    ("10000-char-answer-in-modal", lambda c: c.add_question(MOD, **form(answer="x" * 10_000)),
     "answer text is too long (10000 characters; at most 4000)", None),
    ("257-char-question", lambda c: c.add_question(MOD, **form("Why " * 64 + "?")),
     "question is too long (257 characters; at most 256)", None),
    ("empty-question", lambda c: c.add_question(MOD, **form("")), "the question is empty", None),
    ("whitespace-question", lambda c: c.add_question(MOD, **form(" \n\t\u3000 ")),
     "the question is empty", None),
    ("emoji-only-question", lambda c: c.add_question(MOD, **form("🤖❓")),
     "has no letters or digits", None),
    ("tag-with-spaces", lambda c: c.add_question(MOD, **form(tags="machine learning")),
     "e.g. 'machine-learning'", None),
    ("tag-with-markdown", lambda c: c.add_tag(MOD, "what-is-agi", "**bold**"),
     "tag '**bold**' is not valid", None),
    ("tag-mention", lambda c: c.add_tag(MOD, "what-is-agi", "<@123>"), "is not valid", None),
    ("duplicate-phrasing-other-question", lambda c: c.add_alias(MOD, "what-is-agi", "What is AI"
     " alignment??"), "is also used by question 'what-is-ai-alignment'", None),
    ("duplicate-phrasing-in-form", lambda c: c.add_question(MOD, **form(
     phrasings="paperclips?\nPaperclips!")), "repeats an earlier phrasing", None),
    ("zero-width-duplicate", lambda c: c.add_alias(MOD, "what-is-agi", "What\u200b is AGI"),
     "repeats an earlier phrasing", None),
    ("unknown-question-id", lambda c: c.add_alias(MOD, "no-such-question", "x"),
     "there is no question with the id 'no-such-question'", None),
    ("unknown-wording", lambda c: _require(c, "'; DROP TABLE question_versions; --"),
     "there is no question with the id or wording", None),
    ("unknown-answer-id", lambda c: c.set_canonical(MOD, "what-is-agi", "nope", True),
     "has no answer 'nope'", None),
    ("unknown-unanswered-item", lambda c: c.unanswered.open_item(2**53), "no unanswered question",
     None),
    ("negative-proposal-id", lambda c: c.approve_proposal(MOD, -1), "no proposed phrasing #-1",
     None),
    ("unknown-version", lambda c: c.revert(MOD, "what-is-agi", 2**53), "has no version", None),
    ("javascript-source", lambda c: c.add_answer(MOD, "what-is-agi", "x",
     source="javascript:alert(1)"), "must be a link starting with http", None),
    ("multi-line-alias", lambda c: c.add_alias(MOD, "what-is-agi", "one\ntwo"),
     "must be a single line", None),
    ("nul-and-control-chars", lambda c: c.add_question(MOD, **form("What is\x00 a\x1b[31m "
     "paperclip\x07 maximizer?")), "", lambda q: q.text == "What is a[31m paperclip maximizer?"),
    ("lone-surrogate", lambda c: c.add_question(MOD, **form("What is a \ud800 paperclip?")),
     "", lambda q: q.text == "What is a ? paperclip?"),
    ("everyone-in-question", lambda c: c.add_question(MOD, **form("@everyone what is a clip?")),
     "", lambda q: q.text == "@everyone what is a clip?"),
    ("sql-in-answer", lambda c: c.add_answer(MOD, "what-is-agi", "'); DROP TABLE stamps; --"),
     "", lambda q: q.answers[-1].text == "'); DROP TABLE stamps; --"),
    ("homoglyph-alias", lambda c: c.add_alias(MOD, "what-is-agi", "Whаt is AGI?"), "",
     lambda q: "Whаt is AGI?" in q.alternate_phrasings),  # Cyrillic а: not folded
    ("crlf-phrasings", lambda c: c.add_question(MOD, **form(phrasings="a clip\r\n\r\nclips\r")),
     "", lambda q: q.alternate_phrasings == ("a clip", "clips")),
]  # fmt: skip


async def _require(curator: Curator, value: str) -> None:
    curator.require(value)


@pytest.mark.parametrize(
    ("kind", "action", "refused", "check"), CHANGED, ids=[c[0] for c in CHANGED]
)
async def test_moderating(
    curator: Curator,
    store: Store,
    kind: str,
    action: Action,
    refused: str,
    check: Callable[[Question], bool] | None,
) -> None:
    before = list(curator.knowledge)
    rows = await store.connection.execute_fetchall("SELECT count(*) FROM question_versions")
    if refused:
        with pytest.raises(Refused) as caught:
            await action(curator)
        assert refused in caught.value.reason, caught.value.reason
        reply = refusal(caught.value)
        assert reply.startswith("Not done: ") and units(reply) <= render.CONTENT_LIMIT
        assert list(curator.knowledge) == before, "a refused change changes nothing"
        after = await store.connection.execute_fetchall("SELECT count(*) FROM question_versions")
        assert list(after) == list(rows)
        return
    change = await action(curator)
    assert change.after is not None and units(change_text(change)) <= render.CONTENT_LIMIT
    assert check is not None and check(change.after), change.after
