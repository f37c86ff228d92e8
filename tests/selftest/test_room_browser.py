"""The board page in a real headless browser: the system's Chromium, driven by Playwright.

No browser is ever downloaded: Debian's `chromium` package (`.ci/run`
installs it) is launched by path. Without it this test fails, on purpose:
a board never seen in a browser is not tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from room_support import COURSE, KATAS, RoomProcess, post_body

pytestmark = pytest.mark.slow  # left out of the quick tier: Chromium

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TRAP = '<img src=x onerror="document.body.dataset.pwned=1">'


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: install it (apt-get install -y chromium), as .ci/run does")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_the_board_updates_live_and_shows_names_as_text(browser, tmp_path):
    with RoomProcess(tmp_path / "room", settings={"stuck_runs": 3, "rotate_minutes": 10}) as room:
        assert room.post(post_body(1, seq=1, current=KATAS[1], name="Ana & Ben"))[0] == 200
        page = browser.new_page()
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{room.url}/board?code={room.code}")
        row = page.locator("tr", has_text="Ana & Ben")
        row.wait_for(timeout=120_000)
        first, later = COURSE.by_id[KATAS[1]], COURSE.by_id[KATAS[4]]
        assert first.id in row.inner_text()
        page.wait_for_function("document.getElementById('live').textContent === 'live'", timeout=120_000)

        # A post arrives: the row changes without a reload.
        assert (
            room.post(
                post_body(
                    1, seq=2, current=later.id, streak=3, name="Ana & Ben", mistake="softmax along the wrong axis"
                )
            )[0]
            == 200
        )
        page.locator("tr", has_text="Ana & Ben").filter(has_text=later.id).wait_for(timeout=120_000)
        text = page.locator("tr", has_text="Ana & Ben").inner_text()
        assert later.number in text and later.title in text and "STUCK" in text
        page.locator("#mistakes li", has_text="softmax along the wrong axis").wait_for(timeout=120_000)
        assert "1 of 1 pairs" in page.locator("#mistakes").inner_text()
        assert "round 1" in page.locator("#rotation").inner_text()

        # Markup in a name is shown as text, never run.
        assert room.post(post_body(2, name=TRAP))[0] == 200
        page.locator("td.name", has_text="onerror").wait_for(timeout=120_000)
        assert page.locator("td.name", has_text="onerror").inner_text() == TRAP
        assert page.locator("img").count() == 0
        assert page.evaluate("document.body.dataset.pwned") is None

        # Everything the page loaded came from the room itself: no CDN, works offline.
        assert requests and all(url.startswith(room.url) for url in requests), requests
        page.close()


def test_the_board_page_is_refused_without_the_code(browser, tmp_path):
    with RoomProcess(tmp_path / "room") as room:
        page = browser.new_page()
        answer = page.goto(f"{room.url}/board")
        assert answer.status == 403 and "join code" in page.inner_text("body")
        page.close()
