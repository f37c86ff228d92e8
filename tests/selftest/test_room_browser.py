"""The board page in a real headless browser: the system's Chromium, driven by Playwright.

No browser is ever downloaded: Debian's `chromium` package (`.ci/run`
installs it) is launched by path. Without it this test fails, on purpose:
a board never seen in a browser is not tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from room_support import COURSE, KATAS, RoomProcess, client_id, post_body

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


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the whole module (each test opens its own pages and closes them): launching it
    took seconds per test, and a page starts from nothing whichever browser holds it."""
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
    with RoomProcess(tmp_path / "room", settings={"stuck_attempts": 3, "rotate_minutes": 10}) as room:
        assert room.post(post_body(1, seq=1, current=KATAS[1], name="Ana & Ben"))[0] == 200
        page = browser.new_page()
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{room.url}/board?code={room.code}")
        row = page.locator("#rows .row", has_text="Ana & Ben")
        row.wait_for(timeout=120_000)
        first, later = COURSE.by_id[KATAS[1]], COURSE.by_id[KATAS[4]]
        assert first.id in row.inner_text()
        page.wait_for_function("() => document.getElementById('live').textContent === 'live'", timeout=120_000)

        # A post arrives: the row changes without a reload.
        assert (
            room.post(
                post_body(
                    1, seq=2, current=later.id, streak=3, name="Ana & Ben", mistake="softmax along the wrong axis"
                )
            )[0]
            == 200
        )
        page.locator("#rows .row", has_text="Ana & Ben").filter(has_text=later.id).wait_for(timeout=120_000)
        text = page.locator("#rows .row", has_text="Ana & Ben").inner_text()
        assert later.number in text and later.title in text and "STUCK" in text
        page.locator("#mistakes li", has_text="softmax along the wrong axis").wait_for(timeout=120_000)
        assert "1 of 1 pairs" in page.locator("#mistakes").inner_text()
        assert "round 1" in page.locator("#rotation").inner_text()

        # Markup in a name is shown as text, never run.
        assert room.post(post_body(2, name=TRAP))[0] == 200
        page.locator(".row .name", has_text="onerror").wait_for(timeout=120_000)
        assert page.locator(".row .name", has_text="onerror").inner_text() == TRAP
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


# ------------------------------------------------------------------ layout

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "room"
SIZES = [(1024, 768), (1280, 800), (1920, 1080), (390, 844)]
HOSTILE = [
    "x" * 60,  # no space to break at
    "W" * 60,  # the widest letters
    "مجموعة التعلم العميق من الصف الأول في الورشة",  # right to left
    "🧠🔥🚀🤖" * 12,  # emoji
    "$\\frac{1}{0}$ and $x^{2}$ $",  # what Matplotlib would read as mathematics
    '<img src=x onerror="document.body.dataset.pwned=1">',
    "שלום עולם Ana & Ben",  # right to left, then left to right
    "深度学习小组第一名深度学习小组第一名深度学习小组第一名",
    "Ana&Ben_" * 7,
    "Ana & Ben",
]
LONG_MISTAKE = "the_gradient_of_the_loss_with_respect_to_the_weights_is_transposed_" * 3


def hostile_name(n: int) -> str:
    base = HOSTILE[n % len(HOSTILE)]
    return base[: 60 - 4] + f" {n:02d}" if n >= len(HOSTILE) else base


def fill_the_room(room, pairs: int = 60) -> None:
    """60 pairs with hostile names: stuck ones, passing ones, hands up with long messages, some who left."""
    for n in range(pairs):
        stuck = n % 3 == 0
        body = post_body(
            n,
            current=KATAS[1 + n % 7],
            state="passed" if n % 5 == 1 else "failing",
            streak=6 if stuck else 1,
            mistake=LONG_MISTAKE[: 40 + n * 3] if n % 2 == 0 else None,
            name=hostile_name(n),
            done=1 + n % 6,
        )
        status, answer = room.post(body, source=f"127.0.0.{2 + n % 4}")
        assert status == 200, answer
    for n in range(0, pairs, 7):
        status, _, _ = room.request(
            "POST",
            "/api/hand",
            {"client": client_id(n), "message": "our_shapes_never_match_" * 8},
            headers={"X-Room-Code": room.code},
        )
        assert status == 200
    for n in (5, 11):
        room.request("POST", "/api/leave", {"client": client_id(n)}, headers={"X-Room-Code": room.code})


LAYOUT = """() => {
  const width = document.documentElement.clientWidth;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const boxes = [];
  let node, id = 0;
  while ((node = walker.nextNode())) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (r.width < 0.5 || r.height < 0.5) continue;
      boxes.push({id, left: r.left, right: r.right, top: r.top + scrollY, bottom: r.bottom + scrollY,
                  text: node.textContent.trim().slice(0, 24)});
    }
    id += 1;
  }
  const outside = boxes.filter(b => b.left < -0.5 || b.right > width + 0.5).map(b => b.text);
  boxes.sort((a, b) => a.top - b.top);
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length && boxes[j].top < boxes[i].bottom; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.id === b.id) continue;
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) overlaps.push([a.text, b.text]);
    }
  }
  return {boxes: boxes.length, outside, overlaps: overlaps.slice(0, 10),
          scrollWidth: document.documentElement.scrollWidth, width};
}"""


@pytest.fixture(scope="module")
def full_room(tmp_path_factory):
    """One room filled with 60 hostile pairs, read by every layout test at every size. The layout tests only
    look (they post nothing and press no button), so one room serves them all: filling it over HTTP and
    starting its server cost more than measuring a page."""
    limits = {"new_pair_burst": 100, "streams_per_address": 64}
    # The room lives while the tests read it: on a busy machine that may be minutes, and no pair should turn
    # quiet or stuck by the clock meanwhile (each test reads the room as it was filled).
    settings = {"stuck_attempts": 5, "stuck_minutes": 600, "quiet_minutes": 600, "silent_minutes": 600}
    with RoomProcess(tmp_path_factory.mktemp("full-room") / "room", settings=settings, limits=limits) as room:
        fill_the_room(room)
        yield room


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_board_reads_at_projector_and_phone_sizes_with_60_hostile_names(browser, full_room, size):
    room = full_room
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{room.url}/board?code={room.code}")
    page.wait_for_function("() => document.querySelectorAll('#rows .row').length === 60", timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('#queue li').length === 9", timeout=120_000)
    found = page.evaluate(LAYOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"board-{width}x{height}.png"), full_page=True)
    assert found["boxes"] > 60 * 5  # every row's text was measured
    assert found["overlaps"] == [], found["overlaps"]
    assert found["outside"] == [], found["outside"]
    assert found["scrollWidth"] <= found["width"], found  # nothing scrolls sideways
    # Stuck pairs first, with their mistake (or that none was named), runs and when last seen.
    rows = page.locator("#rows .row")
    first = rows.nth(0).inner_text()
    assert "STUCK" in first and "run" in first and "seen" in first
    stuck = [rows.nth(n).get_attribute("class") for n in range(60)]
    flags = ["stuck" in classes.split() for classes in stuck]
    assert flags == sorted(flags, reverse=True)  # no stuck row below a row that is not
    assert page.locator("#rows .row.stuck .failure", has_text="failing, no named mistake").count() > 0
    assert page.locator("#rows .row.presence-left").count() == 2
    assert page.evaluate("document.body.dataset.pwned") is None
    page.close()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["1280x800", "390x844"])
def test_the_facilitators_view_reads_too(browser, full_room, size):
    room = full_room
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{room.url}/admin?token={room.token}")
    page.wait_for_function("() => document.querySelectorAll('#rows .row button.remove').length === 60", timeout=120_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#queue li button[data-done]').length === 9", timeout=120_000
    )
    found = page.evaluate(LAYOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-{width}x{height}.png"), full_page=True)
    assert found["overlaps"] == [] and found["outside"] == [], found
    assert found["scrollWidth"] <= found["width"], found
    page.close()


# ---------------------------------------------------------- views and streams


def test_the_facilitator_view_removes_rows_and_marks_hands_done_and_the_projector_hides_names(browser, tmp_path):
    with RoomProcess(tmp_path / "room", settings={"stuck_attempts": 2}) as room:
        assert room.post(post_body(1, name="Stuck Pair", streak=3))[0] == 200
        assert room.post(post_body(2, name="Gone Home", state="passed", streak=0))[0] == 200
        status, _, _ = room.request(
            "POST", "/api/hand", {"client": client_id(1), "message": "help us"}, headers={"X-Room-Code": room.code}
        )
        assert status == 200
        refused = browser.new_page()
        assert refused.goto(f"{room.url}/admin?token={room.code}").status == 403
        refused.close()
        admin = browser.new_page(viewport={"width": 1280, "height": 800})
        admin.goto(f"{room.url}/admin?token={room.token}")
        admin.locator("#queue li", has_text="help us").wait_for(timeout=120_000)
        projector = browser.new_page(viewport={"width": 1280, "height": 800})
        projector.goto(f"{room.url}/board?code={room.code}")
        projector.locator("#rows .row.stuck .name", has_text="Stuck Pair").wait_for(timeout=120_000)

        admin.click("#hide-names")
        projector.locator("#rows .row.stuck .name", has_text="a pair").wait_for(timeout=120_000)
        assert "Stuck Pair" not in projector.inner_text("body")
        assert "Gone Home" in projector.inner_text("body")  # only the names next to STUCK are hidden
        admin.locator("#rows .row.stuck .name", has_text="Stuck Pair").wait_for(timeout=120_000)

        admin.locator("#queue li button[data-done]").click()
        admin.locator("#no-queue:not(.hidden)").wait_for(timeout=120_000)
        admin.locator("#rows .row", has_text="Gone Home").locator("button.remove").click()
        projector.wait_for_function("() => !document.body.innerText.includes('Gone Home')", timeout=120_000)
        assert room.pair("Gone Home") is None and room.board()["queue"] == []
        admin.close()  # a page left open ticks every second, and retries its stream, until the browser ends
        projector.close()


def test_the_board_reconnects_by_itself_after_a_refused_stream(browser, tmp_path):
    import http.client

    with RoomProcess(tmp_path / "room", limits={"max_streams": 1}) as room:
        holder = http.client.HTTPConnection("127.0.0.1", room.port, timeout=120)
        holder.request("GET", f"/events?code={room.code}")
        held = holder.getresponse()
        assert held.status == 200  # the only stream slot is taken: the page's stream is refused (503)
        page = browser.new_page()
        page.goto(f"{room.url}/board?code={room.code}")
        page.wait_for_function("() => document.getElementById('live').textContent !== 'live'", timeout=120_000)
        holder.close()  # the slot frees; a bare EventSource would never try again
        assert room.post(post_body(1, name="Back Again"))[0] == 200
        page.locator("#rows .row", has_text="Back Again").wait_for(timeout=120_000)
        page.wait_for_function("() => document.getElementById('live').textContent === 'live'", timeout=120_000)
        page.close()
