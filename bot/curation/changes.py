"""Every change moderators make to the shared knowledge base, and the review queues' work.

Each change:

1. builds the new :class:`~bot.knowledge.model.Question`;
2. checks it with :func:`~bot.knowledge.loader.validate_question` against the live knowledge
   base, the same rules the YAML loader applies (ids, lengths within Discord's limits,
   tags, links, no phrasing or answer id used twice);
3. writes one transaction: the new version row, with who and when and what, plus whatever
   goes with it (an unanswered question marked answered, a proposal approved);
4. applies it to the live knowledge base, whose matcher updates in place.

A refused change raises :class:`~bot.curation.model.Refused` with the exact reason and
leaves the database and the knowledge base as they were. This package imports nothing from
discord: the Discord cogs and the command line call it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bot.curation.model import (
    EDIT_WAIT_SECONDS,
    Change,
    HistoryEntry,
    Moderator,
    Refused,
    TagChange,
    TagHistoryEntry,
    clean_text,
    quote,
)
from bot.curation.queues import ReviewQueue, Row
from bot.curation.transfer import Transfer
from bot.knowledge.base import KnowledgeBase
from bot.knowledge.model import Answer, Question, Tag
from bot.knowledge.rules import validate_tag
from bot.knowledge.text import normalize
from bot.knowledge.writer import question_from_data, tag_from_data, tag_to_data
from bot.metrics import Metrics
from bot.store import (
    ProposedPhrasing,
    ProposedPhrasings,
    Store,
    UnansweredQuestion,
    UnansweredQuestions,
)
from bot.store.db import utc_now
from bot.store.promotions import Promotion, Promotions
from bot.store.reports import Report, Reports

__all__ = ["Curator"]


class Curator(Transfer):
    """Every change to the shared knowledge base goes through here (see the module docstring).

    ``knowledge`` is the live knowledge base the bot answers from, ``store`` the open
    database, ``answers_dir`` the shipped YAML files. Call :meth:`start` once before use: it
    applies the stored changes to ``knowledge`` (loaded from the files). ``unanswered``,
    ``proposals``, ``reports`` (members' reports of problems with answers) and
    ``promotions`` (answers stamps propose as canonical) are the review queues.
    """

    def __init__(
        self,
        knowledge: KnowledgeBase,
        store: Store,
        answers_dir: str | Path,
        *,
        clock: Callable[[], datetime] = utc_now,
        edit_wait: float = EDIT_WAIT_SECONDS,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(
            knowledge, store, answers_dir, clock=clock, edit_wait=edit_wait, metrics=metrics
        )
        self.unanswered: ReviewQueue[UnansweredQuestion] = ReviewQueue(
            UnansweredQuestions(store, wait=edit_wait), "unanswered question"
        )
        self.proposals: ReviewQueue[ProposedPhrasing] = ReviewQueue(
            ProposedPhrasings(store, wait=edit_wait), "proposed phrasing"
        )
        self.reports: ReviewQueue[Report] = ReviewQueue(Reports(store, wait=edit_wait), "report")
        self.promotions: ReviewQueue[Promotion] = ReviewQueue(
            Promotions(store, wait=edit_wait), "promotion"
        )

    # -- changes ------------------------------------------------------------------------------

    async def add_question(
        self,
        moderator: Moderator,
        text: str,
        *,
        answer: str | None = None,
        alternate_phrasings: Sequence[str] = (),
        tags: Sequence[str] = (),
        canonical: bool = False,
        author: str | None = None,
        source: str | None = None,
        unanswered_id: int | None = None,
    ) -> Change:
        """Add a new question (with one answer if ``answer`` has text).

        ``author`` defaults to the moderator's name. With ``unanswered_id`` the unanswered
        question it answers is marked answered in the same transaction.
        """
        text = clean_text(text)
        answer_text = clean_text(answer)
        async with self._changing():
            if not text:
                raise Refused("the question is empty")
            question_id = self._question_id(text)
            answers: tuple[Answer, ...] = ()
            if answer_text:
                answers = (
                    Answer(
                        id=self._answer_id(question_id),
                        text=answer_text,
                        canonical=canonical,
                        author=clean_text(author) or moderator.credit,
                        source=clean_text(source) or None,
                    ),
                )
            elif canonical:
                raise Refused("only an answer can be canonical, and the answer is empty")
            question = Question(
                id=question_id,
                text=text,
                alternate_phrasings=tuple(clean_text(p) for p in alternate_phrasings),
                tags=tuple(clean_text(t).lower() for t in tags),
                answers=answers,
            )
            also = None
            if unanswered_id is not None:
                await self.unanswered.open_item(unanswered_id)
                also = self.unanswered.closing(unanswered_id, "answered")
            self._check(question)
            action = "added the question" + (" with an answer" if answers else "")
            if unanswered_id is not None:
                action += f" (answering unanswered question #{unanswered_id})"
            return await self._write(moderator, question_id, "set", question, action, also=also)

    async def edit_question(
        self,
        moderator: Moderator,
        question_id: str,
        *,
        text: str | None = None,
        alternate_phrasings: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        answer_id: str | None = None,
        answer_text: str | None = None,
        canonical: bool | None = None,
        expected: Question | None = None,
    ) -> Change:
        """Change a question's text, phrasings and tags, and the text (and canonical flag) of
        one answer. Arguments left as None keep their value. ``answer_text`` without
        ``answer_id`` adds an answer (if it has text). With ``expected`` (the question as the
        form showed it), refused if someone changed the question meanwhile."""
        async with self._changing():
            before = self._live(question_id)
            if expected is not None and expected != before:
                raise Refused(
                    f"question {question_id!r} was changed by someone else while the form was "
                    "open; open it again to see the current version"
                )
            after = before
            what: list[str] = []
            if text is not None and clean_text(text) != before.text:
                after = replace(after, text=clean_text(text))
                what.append("question text")
            if alternate_phrasings is not None:
                phrasings = tuple(clean_text(p) for p in alternate_phrasings)
                if phrasings != before.alternate_phrasings:
                    after = replace(after, alternate_phrasings=phrasings)
                    what.append("alternate phrasings")
            if tags is not None:
                new_tags = tuple(clean_text(t).lower() for t in tags)
                if new_tags != before.tags:
                    after = replace(after, tags=new_tags)
                    what.append("tags")
            if answer_id is not None:
                answer = self.answer_of(before, answer_id)
                changed = answer
                if answer_text is not None:
                    changed = replace(changed, text=clean_text(answer_text))
                if canonical is not None:
                    changed = replace(changed, canonical=canonical)
                if changed != answer:
                    after = replace(
                        after,
                        answers=tuple(changed if a.id == answer.id else a for a in after.answers),
                    )
                    what.append(f"answer {answer.id!r}")
            elif clean_text(answer_text):
                new = Answer(
                    id=self._answer_id(before.id),
                    text=clean_text(answer_text),
                    canonical=bool(canonical),
                    author=moderator.credit,
                )
                after = replace(after, answers=(*after.answers, new))
                what.append(f"new answer {new.id!r}")
            action = "edited " + (", ".join(what) if what else "nothing")
            return await self._replace(moderator, before, after, action)

    async def add_answer(
        self,
        moderator: Moderator,
        question_id: str,
        text: str,
        *,
        author: str | None = None,
        canonical: bool = False,
        source: str | None = None,
        action: str | None = None,
    ) -> Change:
        """Add an answer to an existing question; ``author`` defaults to the moderator."""
        async with self._changing():
            before = self._live(question_id)
            body = clean_text(text)
            if not body:
                raise Refused("the answer is empty")
            answer = Answer(
                id=self._answer_id(before.id),
                text=body,
                canonical=canonical,
                author=clean_text(author) or moderator.credit,
                source=clean_text(source) or None,
            )
            after = replace(before, answers=(*before.answers, answer))
            return await self._replace(
                moderator, before, after, action or f"added answer {answer.id!r}"
            )

    async def add_alias(self, moderator: Moderator, question_id: str, phrasing: str) -> Change:
        """Add an alternate phrasing."""
        async with self._changing():
            before = self._live(question_id)
            wording = clean_text(phrasing)
            after = replace(before, alternate_phrasings=(*before.alternate_phrasings, wording))
            return await self._replace(
                moderator, before, after, f"added the alternate phrasing {quote(wording)}"
            )

    async def remove_alias(self, moderator: Moderator, question_id: str, phrasing: str) -> Change:
        """Remove an alternate phrasing (matched ignoring case and punctuation)."""
        async with self._changing():
            before = self._live(question_id)
            key = normalize(clean_text(phrasing))
            kept = tuple(p for p in before.alternate_phrasings if normalize(p) != key)
            if len(kept) == len(before.alternate_phrasings):
                if key and key == normalize(before.text):
                    raise Refused(
                        "that is the question's own text, not an alternate phrasing; "
                        "change it with /answer edit"
                    )
                raise Refused(f"question {before.id!r} has no alternate phrasing {quote(phrasing)}")
            removed = next(p for p in before.alternate_phrasings if normalize(p) == key)
            after = replace(before, alternate_phrasings=kept)
            return await self._replace(
                moderator, before, after, f"removed the alternate phrasing {quote(removed)}"
            )

    async def add_tag(self, moderator: Moderator, question_id: str, tag: str) -> Change:
        """Add a tag (stored lowercase)."""
        async with self._changing():
            before = self._live(question_id)
            value = clean_text(tag).lower()
            if value in before.tags:
                raise Refused(f"question {before.id!r} already has the tag {value!r}")
            after = replace(before, tags=(*before.tags, value))
            return await self._replace(moderator, before, after, f"added the tag {value!r}")

    async def remove_tag(self, moderator: Moderator, question_id: str, tag: str) -> Change:
        """Remove a tag."""
        async with self._changing():
            before = self._live(question_id)
            value = clean_text(tag).lower()
            if value not in before.tags:
                raise Refused(f"question {before.id!r} has no tag {quote(tag)}")
            after = replace(before, tags=tuple(t for t in before.tags if t != value))
            return await self._replace(moderator, before, after, f"removed the tag {value!r}")

    async def set_canonical(
        self, moderator: Moderator, question_id: str, answer_id: str, canonical: bool
    ) -> Change:
        """Mark one answer canonical (shown first) or not."""
        async with self._changing():
            before = self._live(question_id)
            answer = self.answer_of(before, answer_id)
            if answer.canonical == canonical:
                state = "already canonical" if canonical else "already not canonical"
                raise Refused(f"answer {answer.id!r} is {state}")
            changed = replace(answer, canonical=canonical)
            after = replace(
                before, answers=tuple(changed if a.id == answer.id else a for a in before.answers)
            )
            verb = "marked" if canonical else "unmarked"
            return await self._replace(
                moderator, before, after, f"{verb} answer {answer.id!r} as canonical"
            )

    async def remove(
        self, moderator: Moderator, question_id: str, answer_id: str | None = None
    ) -> Change:
        """Remove a whole question, or one of its answers."""
        async with self._changing():
            before = self._live(question_id)
            if answer_id is None:
                return await self._write(
                    moderator, before.id, "removed", None, "removed the question"
                )
            answer = self.answer_of(before, answer_id)
            after = replace(before, answers=tuple(a for a in before.answers if a.id != answer.id))
            return await self._replace(moderator, before, after, f"removed answer {answer.id!r}")

    async def save_as_answer(
        self,
        moderator: Moderator,
        text: str,
        *,
        author: str,
        question: str | None = None,
        new_question: str | None = None,
        source: str | None = None,
    ) -> Change:
        """Save a message as an answer credited to its ``author``: to the existing question
        ``question`` names (id or wording), or to a new question worded ``new_question``."""
        body = clean_text(text)
        if not body:
            raise Refused("the message has no text to save as an answer")
        if question and clean_text(question):
            target = self.require(clean_text(question))
            return await self.add_answer(
                moderator,
                target.id,
                body,
                author=author,
                source=source,
                action=f"saved a message by {clean_text(author) or 'unknown'} as an answer",
            )
        if new_question and clean_text(new_question):
            existing = self.find(clean_text(new_question))
            if existing is not None:  # typed an existing question's wording: add to it
                return await self.save_as_answer(
                    moderator, body, author=author, question=existing.id, source=source
                )
            return await self.add_question(
                moderator, new_question, answer=body, author=author, source=source
            )
        raise Refused("choose an existing question or type a new one")

    async def revert(self, moderator: Moderator, question_id: str, version: int) -> Change:
        """Make ``version`` of the question current again, as a new version.

        Version 0 is the YAML files' version. Reverting to a removal removes the question.
        """
        async with self._changing():
            latest = self._latest.get(question_id)
            if version == 0:
                if question_id not in self._shipped:
                    raise Refused(
                        f"question {question_id!r} has no version 0: it is not in the YAML files"
                    )
                state, after = "shipped", self._shipped[question_id]
            else:
                row = await self._versions.get(question_id, version)
                if row is None:
                    first = 0 if question_id in self._shipped else 1
                    newest = latest.version if latest is not None else 0
                    known = f" (versions {first} to {newest})" if newest >= first else ""
                    raise Refused(f"question {question_id!r} has no version {version}{known}")
                state = row.state
                if state == "set":
                    try:
                        after = self._overlay_question(row)
                    except ValueError as exc:
                        raise Refused(f"version {version} {exc}") from None
                elif state == "shipped":
                    after = self._shipped.get(question_id)
                    if after is None:
                        state = "removed"
                else:
                    after = None
            before = self.knowledge.get(question_id)
            if after == before:
                raise Refused(
                    f"question {question_id!r} already matches version {version}; nothing to do"
                )
            if after is not None:
                self._check(after)
            return await self._write(
                moderator, question_id, state, after, f"reverted to version {version}"
            )

    async def history(self, question_id: str, limit: int = 25) -> list[HistoryEntry]:
        """The versions of a question, newest first, ending with version 0 (the YAML files'
        version) when the files hold it. Refused for an id that never existed."""
        rows = await self._versions.history(question_id, limit=limit)
        if not rows and question_id not in self._shipped:
            raise Refused(f"there is no question with the id {question_id!r}")
        latest = self._latest.get(question_id)
        entries = []
        for row in rows:
            question: Question | None = None
            if row.state == "set" and row.content is not None:
                try:
                    question = question_from_data(json.loads(row.content))
                except ValueError:
                    question = None
            elif row.state == "shipped":
                question = self._shipped.get(question_id)
            entries.append(
                HistoryEntry(
                    row.version,
                    row.state,
                    question,
                    row.member_name,
                    row.member_id,
                    row.created_at,
                    row.action,
                    current=latest is not None and latest.version == row.version,
                )
            )
        if question_id in self._shipped and len(rows) < limit:
            entries.append(
                HistoryEntry(
                    0,
                    "shipped",
                    self._shipped[question_id],
                    None,
                    None,
                    None,
                    f"as shipped in {self._shipped_file[question_id]}",
                    current=latest is None,
                )
            )
        return entries

    # -- the review queues ----------------------------------------------------------------

    async def answer_unanswered(
        self,
        moderator: Moderator,
        unanswered_id: int,
        text: str,
        **fields: object,
    ) -> Change:
        """Add a question answering an unanswered one (marked answered in the same
        transaction); ``fields`` as for :meth:`add_question`."""
        return await self.add_question(
            moderator,
            text,
            unanswered_id=unanswered_id,
            **fields,  # type: ignore[arg-type]
        )

    async def merge_unanswered(
        self, moderator: Moderator, unanswered_id: int, question_id: str
    ) -> Change:
        """Fold an unanswered question into an existing one as an alternate phrasing."""
        async with self._changing():
            item = await self.unanswered.open_item(unanswered_id)
            return await self._add_phrasing(
                moderator,
                question_id,
                item.text,
                "merged unanswered question #{id} {wording} as an alternate phrasing",
                item.id,
                self.unanswered.closing(item.id, "answered"),
            )

    async def approve_proposal(self, moderator: Moderator, proposal_id: int) -> Change:
        """Add a proposed phrasing to its question (and mark it approved, in one transaction)."""
        async with self._changing():
            proposal = await self.proposals.open_item(proposal_id)
            return await self._add_phrasing(
                moderator,
                proposal.question_id,
                proposal.text,
                "approved proposed phrasing #{id} {wording}",
                proposal.id,
                self.proposals.closing(proposal.id, "approved"),
            )

    async def _add_phrasing(
        self,
        moderator: Moderator,
        question_id: str,
        text: str,
        action: str,
        item_id: int,
        also: Callable[[], Awaitable[None]],
    ) -> Change:
        before = self._live(question_id)
        wording = clean_text(text)
        after = replace(before, alternate_phrasings=(*before.alternate_phrasings, wording))
        action = action.format(id=item_id, wording=quote(wording))
        return await self._replace(moderator, before, after, action, also=also)

    async def dismiss_unanswered(
        self, moderator: Moderator, unanswered_id: int
    ) -> UnansweredQuestion:
        """Dismiss an unanswered question (no change to the knowledge base)."""
        return await self._settle(self.unanswered, unanswered_id, "dismissed")

    async def reject_proposal(self, moderator: Moderator, proposal_id: int) -> ProposedPhrasing:
        """Reject a proposed phrasing (no change to the knowledge base)."""
        return await self._settle(self.proposals, proposal_id, "rejected")

    async def _settle(self, queue: ReviewQueue[Row], item_id: int, status: str) -> Row:
        async with self._changing():
            item = await queue.open_item(item_id)
            await queue.closing(item.id, status)()
            return replace(item, status=status)  # type: ignore[type-var]

    # -- reports and promotions ---------------------------------------------------------------

    async def resolve_report(self, moderator: Moderator, report_id: int) -> Report:
        """Mark a report resolved (the problem was fixed)."""
        return await self._settle(self.reports, report_id, "resolved")

    async def dismiss_report(self, moderator: Moderator, report_id: int) -> Report:
        """Dismiss a report (nothing to fix)."""
        return await self._settle(self.reports, report_id, "dismissed")

    async def confirm_promotion(self, moderator: Moderator, promotion_id: int) -> Change:
        """Make a promoted answer canonical: a normal versioned change, committed with the
        promotion marked approved."""
        async with self._changing():
            promotion = await self.promotions.open_item(promotion_id)
            before = self._live(promotion.question_id)
            answer = self.answer_of(before, promotion.answer_id)
            if answer.canonical:
                raise Refused(
                    f"answer {answer.id!r} is already canonical; reject promotion "
                    f"#{promotion.id} to close it"
                )
            changed = replace(answer, canonical=True)
            after = replace(
                before, answers=tuple(changed if a.id == answer.id else a for a in before.answers)
            )
            return await self._replace(
                moderator,
                before,
                after,
                f"marked answer {answer.id!r} as canonical (promotion #{promotion.id} by stamps)",
                also=self.promotions.closing(promotion.id, "approved"),
            )

    async def reject_promotion(self, moderator: Moderator, promotion_id: int) -> Promotion:
        """Reject a promotion (the answer stays as it is and is not proposed again)."""
        return await self._settle(self.promotions, promotion_id, "rejected")

    # -- related questions ----------------------------------------------------------------------

    async def add_related(self, moderator: Moderator, question_id: str, other_id: str) -> Change:
        """List ``other_id`` (an id or wording) as related to ``question_id``."""
        async with self._changing():
            before = self._live(question_id)
            other = self.require(clean_text(other_id))
            if other.id == before.id:
                raise Refused("a question cannot be related to itself")
            if other.id in before.related:
                raise Refused(f"question {before.id!r} already lists {other.id!r} as related")
            after = replace(before, related=(*before.related, other.id))
            return await self._replace(
                moderator, before, after, f"added the related question {other.id!r}"
            )

    async def remove_related(self, moderator: Moderator, question_id: str, other_id: str) -> Change:
        """Stop listing ``other_id`` as related to ``question_id``."""
        async with self._changing():
            before = self._live(question_id)
            wanted = clean_text(other_id)
            found = self.find(wanted)
            key = found.id if found is not None and found.id in before.related else wanted
            if key not in before.related:
                raise Refused(f"question {before.id!r} does not list {quote(wanted)} as related")
            after = replace(before, related=tuple(r for r in before.related if r != key))
            return await self._replace(
                moderator, before, after, f"removed the related question {key!r}"
            )

    # -- tag records ----------------------------------------------------------------------------

    async def set_tag(self, moderator: Moderator, tag: Tag) -> TagChange:
        """Add or replace a tag record (description, link, main question, internal), as a new
        version. Text is cleaned as in forms; an empty description or link means none; the
        main question may be given by id or wording."""
        async with self._changing():
            name = clean_text(tag.name).lower()
            main = clean_text(tag.main_question) if tag.main_question is not None else ""
            if main:
                main = self.require(main).id
            after = Tag(
                name=name,
                description=clean_text(tag.description) or None,
                link=clean_text(tag.link) or None,
                main_question=main or None,
                internal=bool(tag.internal),
            )
            problems = validate_tag(after, {q.id: q for q in self.knowledge})
            if problems:
                raise Refused("; ".join(problems))
            before = self.knowledge.tag(name) if self.knowledge.is_declared(name) else None
            if before == after:
                raise Refused(f"nothing to change: tag {name!r} already looks like that")
            action = "added the tag record" if before is None else "edited the tag record"
            return await self._write_tag(moderator, name, "set", after, action)

    async def remove_tag_record(self, moderator: Moderator, name: str) -> TagChange:
        """Remove a tag's record (questions keep the tag; it shows with no description)."""
        async with self._changing():
            key = clean_text(name).lower()
            if not self.knowledge.is_declared(key):
                raise Refused(f"there is no record of the tag {quote(name)}")
            return await self._write_tag(moderator, key, "removed", None, "removed the tag record")

    async def tag_history(self, name: str, limit: int = 25) -> list[TagHistoryEntry]:
        """The versions of a tag record, newest first, ending with version 0 when the YAML
        files declare it. Refused for a tag that never had a record."""
        key = clean_text(name).lower()
        rows = await self._tag_versions.history(key, limit=limit)
        shipped = self._shipped_tags.get(key)
        if not rows and shipped is None:
            raise Refused(f"the tag {quote(name)} has no record and no history")
        latest = self._tag_latest.get(key)
        entries = []
        for row in rows:
            tag: Tag | None = None
            if row.state == "set" and row.content is not None:
                try:
                    tag = tag_from_data(json.loads(row.content))
                except ValueError:
                    tag = None
            elif row.state == "shipped":
                tag = shipped
            entries.append(
                TagHistoryEntry(
                    row.version,
                    row.state,
                    tag,
                    row.member_name,
                    row.member_id,
                    row.created_at,
                    row.action,
                    current=latest is not None and latest.version == row.version,
                )
            )
        if shipped is not None and len(rows) < limit:
            entries.append(
                TagHistoryEntry(
                    0, "shipped", shipped, None, None, None, "as shipped", current=latest is None
                )
            )
        return entries

    async def _write_tag(
        self, moderator: Moderator, name: str, state: str, after: Tag | None, action: str
    ) -> TagChange:
        before = self.knowledge.tag(name) if self.knowledge.is_declared(name) else None
        content = json.dumps(tag_to_data(after), ensure_ascii=False) if after else None
        async with self.store.transaction(wait=self.edit_wait):
            row = await self._tag_versions.append(
                name,
                state=state,
                content=content,
                member_id=moderator.id,
                member_name=moderator.name,
                guild_id=moderator.guild_id,
                action=action,
                at=self.clock(),
            )
        self._tag_latest[name] = row
        if after is None:
            self.knowledge.remove_tag(name)
        else:
            self.knowledge.upsert_tag(after)
        if self.metrics is not None:
            self.metrics.moderation_change()
        return TagChange(name, row.version, action, before, after)
