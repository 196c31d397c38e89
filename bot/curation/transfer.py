"""Export and import: the served knowledge base written out as reviewable YAML, and a
directory of YAML made what the database serves."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from bot.curation.model import (
    DEFAULT_FILE,
    IMPORT_MODERATOR_NAME,
    TAGS_FILE,
    ImportReport,
    KnowledgeDiff,
    Moderator,
    Refused,
    derived_topic,
)
from bot.curation.overlay import Overlay
from bot.knowledge.loader import load_directory
from bot.knowledge.model import Question, Tag
from bot.knowledge.writer import (
    file_text,
    question_to_data,
    read_topics,
    tag_to_data,
    write_files,
)

__all__ = ["Transfer"]


class Transfer(Overlay):
    """The overlay, exported to and imported from a directory of YAML files."""

    # -- export and import --------------------------------------------------------------------

    def export_files(self) -> list[tuple[str, str]]:
        """The whole live knowledge base as ``(file name, YAML text)``, sorted by name.

        Every file of the answers directory is written (empty if all its questions were
        removed); a question stays in the file it came from, in its place; questions added
        on Discord go to :data:`DEFAULT_FILE` in the order they were added. A file of the
        answers directory keeps its text where nothing in it changed, and its comments and
        layout where something did (see :func:`~bot.knowledge.writer.file_text`).
        """
        shipped_topics = read_topics(self.answers_dir)
        groups: dict[str, list[tuple[tuple[int, int], Question]]] = {
            name: [] for name in shipped_topics
        }
        for question in self.knowledge:
            place = self._placement(question.id)
            groups.setdefault(place.file, []).append((place.rank, self._exported(question)))
        tag_groups = self._tag_groups()
        for name in tag_groups:
            groups.setdefault(name, [])
        files = []
        for name in sorted(groups):
            ranked = sorted(groups[name], key=lambda item: (item[0], item[1].id))
            questions = [question for _, question in ranked]
            if name in shipped_topics:
                topic = shipped_topics[name]
            elif not questions:
                topic = None  # a file of tag records alone
            else:
                topic = next(
                    (
                        row.topic
                        for question in questions
                        if (row := self._latest.get(question.id)) is not None and row.topic
                    ),
                    None,
                ) or derived_topic(name)
            tags = tag_groups.get(name, [])
            files.append((name, file_text(topic, questions, self._current_text(name), tags)))
        return files

    def _exported(self, question: Question) -> Question:
        """``question`` as exported: related ids of questions removed since are left out
        (they would make the files invalid, and lead nowhere)."""
        related = tuple(other for other in question.related if other in self.knowledge)
        return question if related == question.related else replace(question, related=related)

    def _tag_groups(self) -> dict[str, list[Tag]]:
        """The served tag records by the file they are exported to: a tag from the files
        stays in its file, in its place; others go to :data:`TAGS_FILE`, by name."""
        shipped_order = {name: index for index, name in enumerate(self._shipped_tags)}
        groups: dict[str, list[tuple[tuple[int, int, str], Tag]]] = {}
        for tag in self.knowledge.declared_tags():
            shipped = self._shipped_tags.get(tag.name)
            if shipped is not None and shipped.origin is not None:
                file = Path(shipped.origin.path).name
                rank = (0, shipped_order[tag.name], tag.name)
            else:
                file, rank = TAGS_FILE, (1, 0, tag.name)
            if tag.main_question is not None and tag.main_question not in self.knowledge:
                tag = replace(tag, main_question=None)  # its question was removed
            groups.setdefault(file, []).append((rank, replace(tag, origin=None)))
        return {
            name: [tag for _, tag in sorted(items, key=lambda item: item[0])]
            for name, items in groups.items()
        }

    def _current_text(self, name: str) -> str | None:
        """The text of the answers file ``name``, which an export edits, or None."""
        try:
            return (Path(self.answers_dir) / name).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def export(self, directory: str | Path) -> list[Path]:
        """Write :meth:`export_files` into ``directory``; the paths written (a file that
        already holds its text is left alone).

        Refused (nothing written) when ``directory`` already holds YAML files that would not
        be overwritten, since they would be read with the export on import.
        """
        files = self.export_files()
        base = Path(directory)
        if base.exists() and not base.is_dir():
            raise Refused(f"{base} is not a directory")
        names = {name for name, _ in files}
        if base.is_dir():
            stray = sorted(
                entry.name
                for entry in base.iterdir()
                if entry.suffix in (".yaml", ".yml")
                and not entry.name.startswith(".")
                and entry.name not in names
            )
            if stray:
                raise Refused(
                    f"{base} holds YAML files that are not part of the knowledge base "
                    f"({', '.join(stray)}); remove them or export to another directory"
                )
        return write_files(base, files)

    async def import_directory(
        self,
        directory: str | Path,
        moderator: Moderator | None = None,
        *,
        prune: bool = True,
        dry_run: bool = False,
    ) -> ImportReport:
        """Make the knowledge base hold the questions of ``directory``'s YAML files.

        For each question that differs from what is served, a version is written (recording
        its file and topic, so the next export puts it back in place); a question that is
        exactly as shipped returns to its YAML version; questions not in the directory are
        removed with ``prune``, else kept (and listed in the report). All in one
        transaction. A directory with any error imports nothing; ``dry_run`` only plans.
        """
        moderator = moderator or Moderator(IMPORT_MODERATOR_NAME)
        result = load_directory(directory)
        if result.errors:
            return ImportReport(result.errors, KnowledgeDiff(), 0)
        topics = read_topics(directory)
        shipped_files = set(read_topics(self.answers_dir))
        shown = Path(directory).name or str(directory)
        async with self._lock:
            plan: list[tuple[str, str, Question | None, str | None, str | None]] = []
            incoming = set()
            for question in result.questions:
                name = Path(question.origin.path).name if question.origin else DEFAULT_FILE
                incoming.add(question.id)
                plan_item = self._import_step(question, name, topics.get(name), shipped_files)
                if plan_item is not None:
                    plan.append(plan_item)
            missing = [q.id for q in self.knowledge if q.id not in incoming]
            if prune:
                plan += [(question_id, "removed", None, None, None) for question_id in missing]
            returning = [i for i, state, *_ in plan if state != "removed"]
            planned = KnowledgeDiff(
                added=tuple(sorted(i for i in returning if i not in self.knowledge)),
                changed=tuple(sorted(i for i in returning if i in self.knowledge)),
                removed=tuple(sorted(i for i, state, *_ in plan if state == "removed")),
            )
            kept = () if prune else tuple(sorted(missing))
            if dry_run:
                return ImportReport((), planned, 0, planned, kept, dry_run=True)
            tag_plan = self._tag_import_plan(result.tags, prune=prune)
            if plan or tag_plan:
                rows = []
                tag_rows = []
                async with self.store.transaction():
                    for name, state, tag in tag_plan:
                        tag_rows.append(
                            await self._tag_versions.append(
                                name,
                                state=state,
                                content=(
                                    json.dumps(tag_to_data(tag), ensure_ascii=False)
                                    if tag is not None
                                    else None
                                ),
                                member_id=moderator.id,
                                member_name=moderator.name,
                                guild_id=moderator.guild_id,
                                action=f"imported from {shown}",
                                at=self.clock(),
                            )
                        )
                    for question_id, state, question, file, topic in plan:
                        content = None
                        if question is not None and state == "set":
                            content = json.dumps(question_to_data(question), ensure_ascii=False)
                        rows.append(
                            await self._versions.append(
                                question_id,
                                state=state,
                                content=content,
                                member_id=moderator.id,
                                member_name=moderator.name,
                                guild_id=moderator.guild_id,
                                file=file,
                                topic=topic,
                                action=f"imported from {shown}",
                                at=self.clock(),
                            )
                        )
                for row in rows:
                    self._note_row(row)
                self._remember_tag_rows(tag_rows)
            diff = self._rebuild()
            self._rebuild_tags()
        return ImportReport((), diff, len(plan) + len(tag_plan), planned, kept)

    def _tag_import_plan(
        self, tags: tuple[Tag, ...], *, prune: bool
    ) -> list[tuple[str, str, Tag | None]]:
        """The tag versions that make the served tag records ``tags`` (and, with ``prune``,
        no others)."""
        plan: list[tuple[str, str, Tag | None]] = []
        incoming = {tag.name: replace(tag, origin=None) for tag in tags}
        for name, tag in incoming.items():
            row = self._tag_latest.get(name)
            if self._shipped_tags.get(name) == tag:
                if row is not None and row.state != "shipped":
                    plan.append((name, "shipped", None))
            elif not self.knowledge.is_declared(name) or self.knowledge.tag(name) != tag:
                plan.append((name, "set", tag))
        if prune:
            for tag in self.knowledge.declared_tags():
                if tag.name not in incoming:
                    plan.append((tag.name, "removed", None))
        return plan

    def _import_step(
        self, question: Question, name: str, topic: str | None, shipped_files: set[str]
    ) -> tuple[str, str, Question | None, str | None, str | None] | None:
        """The version to write for an imported question, or None if it is as served."""
        question_id = question.id
        question = replace(question, origin=None)
        row = self._latest.get(question_id)
        shipped = self._shipped.get(question_id)
        if shipped is not None and shipped == question and self._shipped_file[question_id] == name:
            if row is not None and row.state != "shipped":
                return (question_id, "shipped", None, None, None)
            return None
        if name in shipped_files:  # the file's topic is the shipped file's
            same_topic = True
        else:
            recorded = row.topic if row is not None else None
            same_topic = (recorded or derived_topic(name)) == (topic or derived_topic(name))
        current = self.knowledge.get(question_id)
        if current == question and self._placement(question_id).file == name and same_topic:
            return None
        return (question_id, "set", question, name, topic)
