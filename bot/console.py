"""Terminal front end: render replies as text, and a small REPL on the same Service."""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from bot.browse import TagPage
from bot.knowledge.matcher import Decision
from bot.knowledge.model import Answer, Question, Tag
from bot.service import Reply, Service

# Every user-facing string of the terminal front end, so wording is reviewed in one place.
TEXT = {
    "banner": (
        "Stampy console: {summary}.\n"
        "Ask a question, or type :help for commands. Ctrl-D or :quit leaves."
    ),
    "help": (
        "  <question>     ask\n"
        '  1, 2, 3        pick one of the "did you mean" choices\n'
        "  :why           why the last answer was chosen\n"
        "  :alts          the other candidates for the last question\n"
        "  :show ID       a stored question with all its answers\n"
        "  :tags          every tag with its number of questions\n"
        "  :tag NAME      a tag's page: its description and its questions\n"
        "  :related ID    questions related to a stored question\n"
        "  :stats         what the knowledge base holds\n"
        "  :quit          leave"
    ),
    "no_match": "I don't know the answer to that yet.",
    "suggest": "I'm not sure what you mean. Did you mean:",
    "unanswered": "That's a known question, but nobody has written an answer yet.",
    "other_answers": "{count} more answer(s): :show {id}",
    "nothing_asked": "Ask a question first.",
    "pick_range": "Pick a number from 1 to {count}, or ask a question.",
    "show_usage": "Usage: :show ID, with a question's id (in brackets after it, e.g. [{example}]).",
    "unknown_id": "There is no question with the id {id!r}.",
    "unknown_command": "Unknown command {command!r}; :help lists the commands.",
    "why": "Matched {phrasing!r} (question {id}) with score {score:.2f}: {reason}.",
    "why_none": "No answer was given: {reason}.",
    "alts_header": "Candidates for {query!r}:",
    "alt_row": "  {rank}. {score:.2f}  {text}  [{id}]",
    "no_alts": "No stored question shares a word with that.",
    "alternatives": "Answered questions close to it:",
    "no_tags": "No question has a tag yet.",
    "tag_row": "  {name}  ({count} question{plural}){internal}{description}",
    "internal": " [internal]",
    "tag_usage": "Usage: :tag NAME, with a tag's name (:tags lists them).",
    "unknown_tag": "There is no tag {name!r}; :tags lists them.",
    "tag_head": "Tag: {name}{internal}",
    "no_description": "  (No description yet. Moderators can add one.)",
    "tag_link": "  more: {link}",
    "tag_main": "  start with: {text}  [{id}]",
    "section_canonical": "Canonically answered ({count}):",
    "section_non_canonical": "With non-canonical answers only ({count}):",
    "section_unanswered": "Unanswered canonical questions ({count}):",
    "page_row": "  {text}  [{id}]{stamps}",
    "stamps": "  ({count} stamp{plural})",
    "related_usage": "Usage: :related ID, with a question's id.",
    "related_header": "Related to {text!r}:",
    "no_related": "No related questions.",
}

#: The console's commands, also shown by ``stampy console --help``.
HELP = TEXT["help"]

WIDTH = 88
#: At most this many characters of a tag's description on a line of ``:tags``.
TAG_LINE = 60

# Characters that would move the cursor, recolour or otherwise take over a terminal: C0 and
# C1 controls but the line break, and the bidirectional overrides and isolates.
_UNPRINTABLE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe to print to a terminal (see ``_UNPRINTABLE``; tabs become spaces, lone
    surrogates ``?``)."""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\t", " ")
    return _UNPRINTABLE.sub("", text)


def _line(text: str, limit: int) -> str:
    """The first line of ``text`` on one line, shortened to ``limit`` characters."""
    first = " ".join(printable(text).split("\n", 1)[0].split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def _wrap(text: str, indent: str = "  ") -> str:
    lines = []
    for paragraph in text.splitlines():
        if not paragraph.strip():
            lines.append("")
            continue
        lines.append(
            textwrap.fill(
                paragraph,
                WIDTH,
                initial_indent=indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def render_answer(answer: Answer) -> str:
    """One answer, with its canonical mark, author and source."""
    mark = "canonical answer" if answer.canonical else "answer"
    by = f" by {answer.author}" if answer.author else ""
    text = f"[{mark}{by}]\n{_wrap(answer.text)}"
    if answer.source:
        text += f"\n  source: {answer.source}"
    return text


def render_question(question: Question) -> str:
    """A stored question with its ids, phrasings, tags and every answer."""
    lines = [f"{question.text}  [{question.id}]"]
    if question.alternate_phrasings:
        lines.append("  also asked as: " + "; ".join(question.alternate_phrasings))
    if question.tags:
        lines.append("  tags: " + ", ".join(question.tags))
    if not question.answers:
        lines.append(TEXT["unanswered"])
    for answer in question.ranked_answers():
        lines.append(f"{render_answer(answer)}  [{answer.id}]")
    return "\n".join(lines)


def render_reply(reply: Reply) -> str:
    """A reply as the terminal shows it: the best answer, or the choices, or no match."""
    if reply.decision is Decision.ANSWER and reply.question is not None:
        question = reply.question
        head = f"{question.text}"
        if question.tags:
            head += "  (" + ", ".join(question.tags) + ")"
        if not reply.answers:
            lines = [head, TEXT["unanswered"]]
            if reply.alternatives:
                lines.append(TEXT["alternatives"])
                lines += [f"  {q.text}  [{q.id}]" for q in reply.alternatives]
            return "\n".join(lines)
        body = f"{head}\n{render_answer(reply.answers[0])}"
        if len(reply.answers) > 1:
            body += "\n" + TEXT["other_answers"].format(
                count=len(reply.answers) - 1, id=question.id
            )
        return body
    if reply.decision is Decision.SMALL_TALK and reply.small_talk:
        return reply.small_talk
    if reply.decision is Decision.SUGGEST:
        lines = [TEXT["suggest"]]
        for number, suggestion in enumerate(reply.suggestions, 1):
            lines.append(f"  {number}. {suggestion.question.text}  [{suggestion.question.id}]")
        return "\n".join(lines)
    return TEXT["no_match"]


def render_tags(tags: list[tuple[Tag, int]]) -> str:
    """Every tag with its question count and the start of its description (``:tags``)."""
    if not tags:
        return TEXT["no_tags"]
    return "\n".join(
        TEXT["tag_row"].format(
            name=_line(tag.name, 64),
            count=count,
            plural="" if count == 1 else "s",
            internal=TEXT["internal"] if tag.internal else "",
            description=f": {_line(tag.description, TAG_LINE)}" if tag.description else "",
        )
        for tag, count in tags
    )


def render_tag_page(page: TagPage, service: Service) -> str:
    """A tag's page (``:tag NAME``): the description, or a note that it is missing, then the
    canonically answered questions, those with non-canonical answers only, and those with no
    answer yet, each with the stamps of its best answer."""
    tag = page.tag
    lines = [
        TEXT["tag_head"].format(
            name=_line(tag.name, 64), internal=TEXT["internal"] if tag.internal else ""
        )
    ]
    lines.append(_wrap(printable(tag.description)) if tag.description else TEXT["no_description"])
    if tag.link:
        lines.append(TEXT["tag_link"].format(link=_line(tag.link, WIDTH)))
    main = service.question(tag.main_question) if tag.main_question else None
    if main is not None:
        lines.append(TEXT["tag_main"].format(text=main.text, id=main.id))
    for key, questions in (
        ("section_canonical", page.canonical),
        ("section_non_canonical", page.non_canonical),
        ("section_unanswered", page.unanswered),
    ):
        lines += ["", TEXT[key].format(count=len(questions))]
        for question in questions:
            answers = service.ranked_answers(question)
            count = service.stamp_count(answers[0]) if answers else 0
            stamps = (
                TEXT["stamps"].format(count=count, plural="" if count == 1 else "s")
                if count
                else ""
            )
            lines.append(TEXT["page_row"].format(text=question.text, id=question.id, stamps=stamps))
    return "\n".join(lines)


def render_related(question: Question, related: tuple[Question, ...]) -> str:
    """The questions related to ``question`` (``:related ID``)."""
    if not related:
        return TEXT["no_related"]
    lines = [TEXT["related_header"].format(text=question.text)]
    lines += [f"  {other.text}  [{other.id}]" for other in related]
    return "\n".join(lines)


def reply_to_json(reply: Reply) -> dict:
    """A machine-readable reply (``stampy ask --json``)."""
    best = reply.match.best
    return {
        "query": reply.query,
        "decision": reply.decision.value,
        # A known question may have no answer yet: "answer" then comes with no answers.
        "answered": bool(reply.answers),
        "reason": reply.reason,
        "question": None
        if reply.question is None
        else {
            "id": reply.question.id,
            "text": reply.question.text,
            "tags": list(reply.question.tags),
        },
        "answers": [
            {
                "id": a.id,
                "text": a.text,
                "canonical": a.canonical,
                "author": a.author,
                "source": a.source,
            }
            for a in reply.answers
        ],
        "suggestions": [
            {"id": s.question.id, "text": s.question.text, "score": round(s.candidate.score, 4)}
            for s in reply.suggestions
        ],
        "candidates": [
            {"id": c.question_id, "score": round(c.score, 4), "phrasing": c.phrasing}
            for c in reply.match.candidates
        ],
        "score": None if best is None else round(best.score, 4),
        "margin": round(reply.match.margin, 4),
        "probability": round(reply.match.probability, 4),
        "tier": reply.match.tier,
        "small_talk": reply.small_talk,
        "alternatives": [{"id": q.id, "text": q.text} for q in reply.alternatives],
    }


def explain(reply: Reply) -> str:
    """Why the last reply was chosen (``:why``)."""
    best = reply.match.best
    if reply.decision is Decision.ANSWER and best is not None:
        return TEXT["why"].format(
            phrasing=best.phrasing, id=best.question_id, score=best.score, reason=reply.reason
        )
    return TEXT["why_none"].format(reason=reply.reason)


def alternatives(reply: Reply, service: Service) -> str:
    """Every candidate of the last reply with its score (``:alts``)."""
    if not reply.match.candidates:
        return TEXT["no_alts"]
    lines = [TEXT["alts_header"].format(query=reply.query)]
    for rank, candidate in enumerate(reply.match.candidates, 1):
        question = service.question(candidate.question_id)
        text = question.text if question else candidate.phrasing
        lines.append(
            TEXT["alt_row"].format(
                rank=rank, score=candidate.score, text=text, id=candidate.question_id
            )
        )
    return "\n".join(lines)


def line_reader() -> Callable[[str], str]:
    """``input``, with line editing and history (the arrow keys) when reading a terminal."""
    if sys.stdin.isatty():
        try:
            import readline  # noqa: F401  (importing it gives input() editing and history)
        except ImportError:  # a Python built without it: plain input still works
            pass
    return input


class Console:
    """A read-eval-print loop over the Service."""

    def __init__(self, service: Service, output: TextIO, read: Callable[[str], str] = input):
        self.service = service
        self.output = output
        self.read = read
        self.last: Reply | None = None

    def say(self, text: str) -> None:
        """Print to the console's output."""
        print(text, file=self.output, flush=True)

    def handle(self, line: str) -> bool:
        """Handle one input line; False when the user wants to leave."""
        line = line.strip()
        if not line:
            return True
        if line.isdecimal() and self.last is not None and self.last.suggestions:
            self.say(self.pick(int(line)))
            return True
        if not line.startswith(":"):
            self.last = self.service.ask(line)
            self.say(render_reply(self.last))
            return True
        command, _, argument = line[1:].partition(" ")
        command = command.lower()
        if command in {"q", "quit", "exit"}:
            return False
        if command in {"h", "help", "?"}:
            self.say(TEXT["help"])
        elif command == "stats":
            self.say(str(self.service.knowledge.summary()))
        elif command == "show":
            wanted = argument.strip()
            question = self.service.question(wanted)
            if not wanted:
                example = next(iter(self.service.knowledge), None)
                self.say(TEXT["show_usage"].format(example=example.id if example else "an-id"))
            elif question is None:
                self.say(TEXT["unknown_id"].format(id=wanted))
            else:
                self.say(render_question(question))
        elif command == "tags":
            self.say(render_tags(self.service.tags(internal=True)))
        elif command == "tag":
            name = argument.strip()
            page = self.service.tag_page(name, internal=True) if name else None
            if not name:
                self.say(TEXT["tag_usage"])
            elif page is None:
                self.say(TEXT["unknown_tag"].format(name=_line(name, 40)))
            else:
                self.say(render_tag_page(page, self.service))
        elif command == "related":
            wanted = argument.strip()
            question = self.service.question(wanted)
            if not wanted:
                self.say(TEXT["related_usage"])
            elif question is None:
                self.say(TEXT["unknown_id"].format(id=wanted))
            else:
                self.say(render_related(question, self.service.related(question.id)))
        elif command in {"why", "alts"}:
            if self.last is None:
                self.say(TEXT["nothing_asked"])
            elif command == "why":
                self.say(explain(self.last))
            else:
                self.say(alternatives(self.last, self.service))
        else:
            self.say(TEXT["unknown_command"].format(command=line.split()[0]))
        return True

    def pick(self, number: int) -> str:
        """The reply for "did you mean" choice ``number`` of the last question."""
        assert self.last is not None
        choices = self.last.suggestions
        if not 1 <= number <= len(choices):
            return TEXT["pick_range"].format(count=len(choices))
        question = choices[number - 1].question
        answers = self.service.ranked_answers(question)
        chosen = replace(self.last, decision=Decision.ANSWER, question=question, answers=answers)
        return render_reply(chosen)

    def run(self) -> int:
        """Loop until end of input or :quit."""
        self.say(TEXT["banner"].format(summary=self.service.knowledge.summary()))
        while True:
            try:
                line = self.read("stampy> ")
            except (EOFError, KeyboardInterrupt):
                self.say("")
                return 0
            if not self.handle(line):
                return 0
