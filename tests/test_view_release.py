"""A view of stateless buttons is let go once its message is sent, on every path that answers
an interaction: freed at once rather than by a full pass of the garbage collector. A view
with a button of its own (a confirmation) is kept whole: discord.py answers it through it."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import discord
import pytest

from bot.discord.errors import respond
from bot.discord.views import QuestionButton


class Response:
    """The part of an interaction's response that ``respond`` uses, recording what was sent
    (the components as they were when sent)."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def is_done(self) -> bool:
        return False

    async def send_message(self, content: str | None = None, **kwargs: Any) -> None:
        view = kwargs.get("view")
        self.sent.append({"content": content, "components": view.to_components() if view else []})
        if self.fail:
            raise discord.HTTPException(_Failed(), "Discord failed")


class _Failed:
    status = 500
    reason = "Internal Server Error"


class Interaction:
    def __init__(self, fail: bool = False) -> None:
        self.response = Response(fail)


def related_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for number in range(3):
        view.add_item(QuestionButton(f"q{number}", label=f"Question {number}"))
    return view


async def test_a_view_of_dynamic_buttons_is_sent_whole_then_freed_without_the_collector():
    interaction = Interaction()
    view = related_view()
    gone = weakref.ref(view)
    gc.disable()
    try:
        await respond(interaction, "three questions", view=view)  # type: ignore[arg-type]
        [sent] = interaction.response.sent
        buttons = sent["components"][0]["components"]
        assert [b["custom_id"] for b in buttons] == ["stampy:q:q0", "stampy:q:q1", "stampy:q:q2"]
        del view
        assert gone() is None  # no cycle left: freed when the last reference went
    finally:
        gc.enable()


async def test_a_view_is_let_go_even_when_sending_fails():
    interaction = Interaction(fail=True)
    view = related_view()
    with pytest.raises(discord.HTTPException):
        await respond(interaction, view=view)  # type: ignore[arg-type]
    assert view.children == []


async def test_a_view_with_a_button_of_its_own_is_kept_whole():
    pressed: list[str] = []

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Confirm", custom_id="confirm")
        async def confirm(self, interaction: Any, button: discord.ui.Button[Any]) -> None:
            pressed.append("yes")

    interaction = Interaction()
    view = Confirm(timeout=None)
    view.add_item(QuestionButton("q1", label="Question 1"))
    await respond(interaction, "sure?", view=view)  # type: ignore[arg-type]
    assert [item.custom_id for item in view.children] == ["confirm", "stampy:q:q1"]  # type: ignore[attr-defined]


async def test_a_page_turned_in_place_keeps_the_text_given_and_lets_go_of_its_view():
    from bot.discord.errors import edit_in_place

    edits: list[dict[str, Any]] = []

    class Editing:
        async def edit_message(self, **kwargs: Any) -> None:
            view = kwargs["view"]
            edits.append({**kwargs, "view": view.to_components() if view else None})

    interaction = Interaction()
    interaction.response = Editing()  # type: ignore[assignment]
    view = related_view()
    await edit_in_place(interaction, embed=discord.Embed(title="Page 2"), view=view)  # type: ignore[arg-type]
    await edit_in_place(interaction, "no more pages", view=None)  # type: ignore[arg-type]
    first, second = edits
    assert "content" not in first and first["embed"].title == "Page 2"  # the text is left
    assert len(first["view"][0]["components"]) == 3 and view.children == []
    assert second["content"] == "no more pages" and second["view"] is None  # buttons removed
    assert first["allowed_mentions"].to_dict()["parse"] == []
