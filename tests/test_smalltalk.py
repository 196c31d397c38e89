"""Small talk gets a friendly word, never an answer, and is never stored; every stored
phrasing reaches its own question."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.config import KnowledgeSettings, Settings
from bot.console import Console
from bot.knowledge.matcher import Decision
from bot.knowledge.reach import unreachable_phrasings
from bot.knowledge.smalltalk import small_talk
from bot.service import Service
from bot.store import Store, UnansweredQuestions

ROOT = Path(__file__).resolve().parent.parent

SMALL_TALK = [
    "thanks stampy!",
    "Thank you so much",
    "stampy, thanks",
    "good bot",
    "Good bot!",
    "hi",
    "hello there",
    "hey stampy",
    "good morning everyone",
    "tell me a joke",
    "can you tell me a joke?",
    "bye",
    "ty",
]
QUESTIONS = [
    "thanks, and what is AGI?",
    "what is AGI",
    "Who are you?",
    "is a good answer stamped?",
    "hi, where can I learn about interpretability?",
]


@pytest.fixture(scope="module")
def service() -> Service:
    # the shipped answers/ and their model
    settings = Settings(knowledge=KnowledgeSettings(answers_dir=str(ROOT / "answers")))
    return App.offline(settings).service


@pytest.mark.parametrize("text", SMALL_TALK)
def test_small_talk_gets_a_friendly_reply_and_never_an_answer(service: Service, text: str) -> None:
    reply = service.ask(text)
    assert reply.decision is Decision.SMALL_TALK
    assert reply.question is None and reply.answers == () and reply.suggestions == ()
    assert reply.small_talk and len(reply.small_talk) < 200


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_question_is_never_taken_for_small_talk(service: Service, text: str) -> None:
    assert small_talk(text) is None
    assert service.ask(text).decision is not Decision.SMALL_TALK


def test_the_issue_examples(service: Service) -> None:
    assert service.ask("thanks stampy!").small_talk == "You're welcome!"
    who = service.ask("Who are you?")
    assert (who.decision, who.question and who.question.id) == (Decision.ANSWER, "what-is-stampy")
    pizza = service.ask("can you recommend a good pizza place")
    assert pizza.decision is Decision.NONE  # not the reading list, not even as a choice
    # Never "What is AGI?": the shipped knowledge base now has the question asked.
    agi = service.ask("when will AGI arrive")
    assert (agi.decision, agi.question and agi.question.id) == (Decision.ANSWER, "agi-timelines")
    assert service.ask("what is AGI?").question.id == "what-is-agi"


async def test_small_talk_is_never_stored_as_unanswered(tmp_path: Path, service: Service) -> None:
    async with await Store.open(tmp_path / "s.db") as store:
        recording = Service(service.knowledge, store)
        for text in SMALL_TALK:
            assert (
                await recording.note_unanswered(text, asker_id=1, channel_id=2, guild_id=3) is None
            )
        assert await recording.note_unanswered(
            "what is the capital of France?", asker_id=1, channel_id=2, guild_id=3
        )
        assert [row.text for row in await UnansweredQuestions(store).list()] == [
            "what is the capital of France?"
        ]


def test_console_and_json_show_the_friendly_reply(
    service: Service, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out: list[str] = []

    class Lines:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    Console(service, Lines()).handle("good bot")  # type: ignore[arg-type]
    assert "".join(out).strip() == "Thank you! Happy to help."
    monkeypatch.chdir(ROOT)
    assert main(["ask", "--json", "thanks stampy!"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert (reply["decision"], reply["small_talk"], reply["answers"]) == (
        "small_talk",
        "You're welcome!",
        [],
    )


# --------------------------------------------------------------------------- reachability


def test_every_shipped_phrasing_reaches_its_own_question(service: Service) -> None:
    assert unreachable_phrasings(service.knowledge.matcher, service.knowledge) == []


def test_check_warns_about_a_phrasing_that_cannot_reach_its_question(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kb.yaml").write_text(
        """questions:
  - id: alignment
    question: What is AI alignment?
    alternate_phrasings: [thanks a lot]
    answers: []
  - id: alignment-research
    question: What is alignment research?
    alternate_phrasings: [Who works on it?]
    answers: []
  - id: alignment-jobs
    question: How do I get a job in alignment research?
    alternate_phrasings: [What is alignment research like as a job?]
    answers: []
""",
        encoding="utf-8",
    )
    code = main(["check", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0  # a warning, not an error
    assert "warning: alignment: asking “thanks a lot” is taken as small talk" in out
    assert "do not reach their own question" in err
