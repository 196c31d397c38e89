"""The web site in a real headless browser: Debian's chromium driven by Playwright.

The site runs as ``stampy web`` does: its own App on the database, following what the bot's
App (a second one on the same file) writes. Each page is saved as a screenshot under the
test's temporary folder (and under ``$STAMPY_SCREENSHOTS`` when set, which is how the
README's pictures in docs/ are made).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from webtools import settings, stamp

from bot.app import App
from bot.web.serve import running_site

CHROMIUM = os.environ.get("STAMPY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    found = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if found is None:
        reason = (
            f"no chromium at {CHROMIUM} or on PATH (install Debian's chromium: "
            "apt-get install chromium; .ci/run does)"
        )
        if os.environ.get("STAMPY_REQUIRE_CHROMIUM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


class Shots:
    """Saves screenshots of pages, named in order."""

    def __init__(self, folder: Path) -> None:
        self.folders = [folder]
        extra = os.environ.get("STAMPY_SCREENSHOTS")
        if extra:
            self.folders.append(Path(extra))
        for path in self.folders:
            path.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    async def take(self, page: Any, name: str) -> None:
        data = await page.screenshot(full_page=True)
        for folder in self.folders:
            (folder / f"{name}.png").write_bytes(data)
        self.taken.append(self.folders[0] / f"{name}.png")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = _chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def _text(page: Any, selector: str) -> str:
    return (await page.locator(selector).first.inner_text()).strip()


async def test_browse_search_follow_a_tag_and_see_a_stamp_arrive(
    browser: Any, tmp_path: Path
) -> None:
    db = tmp_path / "stampy.db"
    shots = Shots(tmp_path / "screenshots")
    config = settings(db, refresh_seconds=0.2)
    async with (
        App.open(config) as bot,
        App.open(config, record=False) as site,
        running_site(site, refresh=True, port=0) as address,
    ):
        page = await (await browser.new_context(viewport={"width": 1100, "height": 800})).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        await page.goto(address + "/")
        assert await _text(page, "h1") == "Ask Stampy"
        assert await page.locator(".tag-cloud a.tag").count() > 3
        await shots.take(page, "home")

        # A typo'd question lands on its page, which says why.
        await page.fill("#q-home", "wher can i lern about interpretabilty")
        await page.press("#q-home", "Enter")
        await page.wait_for_url("**/questions/learn-interpretability?q=*")
        assert await _text(page, "h1") == "Where can I learn about interpretability?"
        assert "matched the phrasing" in await _text(page, ".why")
        await shots.take(page, "question")

        # Follow one of its tags.
        tag = page.locator(".question-head a.tag").first
        name = (await tag.inner_text()).strip()
        await tag.click()
        await page.wait_for_url(f"**/tags/{name}")
        assert await _text(page, "h1") == f"Tag: {name}"
        assert await page.locator("#canonical-title").count() == 1
        await shots.take(page, "tag")

        # The copy-link button is added by the script (progressive enhancement).
        await page.goto(address + "/questions/what-is-stampy")
        assert await page.locator("button.copy").count() >= 1
        count = page.locator('[data-answer="what-is-stampy-canonical"] .stamp-count')
        assert (await count.inner_text()).strip() == "0"

        # The bot records a stamp in the database; the site shows it within seconds.
        await stamp(bot, "what-is-stampy", "what-is-stampy-canonical", message=11, voter=12)
        for _ in range(50):
            await page.reload()
            if (await count.inner_text()).strip() == "1":
                break
            await asyncio.sleep(0.1)
        assert (await count.inner_text()).strip() == "1"
        await shots.take(page, "question-stamped")

        await page.goto(address + "/search?q=learn+more")
        assert await _text(page, "h2") == "Did you mean"
        await shots.take(page, "search")
        await page.goto(address + "/unanswered")
        await shots.take(page, "unanswered")
        await page.goto(address + "/questions/what-is-stampyy")
        assert await _text(page, "h1") == "No such question"
        await shots.take(page, "not-found")

        # Dark mode and a phone-sized screen.
        await page.emulate_media(color_scheme="dark")
        await page.set_viewport_size({"width": 390, "height": 800})
        await page.goto(address + f"/tags/{name}")
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 18, 20)"
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        await shots.take(page, "tag-dark-phone")
        assert errors == []
    for shot in shots.taken:
        assert shot.stat().st_size > 5000
