"""A room under load: 30 simulated pairs posting every 2 s for 60 s to a real `kata room serve`.

Not a test and not a `pytest --bench` row: a measurement to run by hand::

    python benchmarks/room_load.py                 # 30 pairs, every 2 s, 60 s
    python benchmarks/room_load.py --pairs 60 --seconds 120

It starts the server the way a facilitator does (``python -m dojo room serve``
on 127.0.0.1, a fresh state folder), opens the board in the system's headless
Chromium when there is one (else it reads the event stream itself), and
reports:

* every post a pair got an acknowledgement for is on the board (each pair's
  post count and last sequence number on the board match what it sent);
* the page stays live: the board version it shows, sampled every 5 s, keeps
  up with the server's;
* the server's resident memory (RSS) at the start, the middle and the end;
* post latency (median, 95th percentile) and how many posts met a 429.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dojo.course.curriculum import load  # noqa: E402 (after the checkout is on the path)
from dojo.room import protocol  # noqa: E402
from dojo.room.client import request  # noqa: E402 (the HTTP code the pairs' poster uses)

CHROMIUM = "/usr/bin/chromium"
MISTAKES = [
    "softmax along the wrong axis: the rows must sum to 1",
    "the bias is missing: add it after the weighted sum",
    "LSTM gates in the order i, f, o, g: Keras's order is i, f, c, o",
]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Pair(threading.Thread):
    """One simulated pair: a post every ``every`` seconds, walking the curriculum, sometimes stuck."""

    def __init__(self, n: int, url: str, code: str, katas: list[str], every: float, until: float):
        super().__init__(daemon=True)
        self.n, self.url, self.code, self.katas, self.every, self.until = n, url, code, katas, every, until
        self.client = f"{n + 1:016x}"
        self.acked = 0
        self.last_seq = 0
        self.refused = 0
        self.retried = 0
        self.latencies: list[float] = []
        self.random = random.Random(n)

    def run(self) -> None:
        position, streak, seq = 0, 0, 0
        next_at = time.monotonic() + self.random.uniform(0, self.every)  # pairs do not run in lockstep
        while next_at < self.until:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += self.every
            seq += 1
            failing = self.random.random() < 0.6
            streak = streak + 1 if failing else 0
            katas = {kata: "passed" for kata in self.katas[:position]}
            katas[self.katas[position]] = "failing" if failing else "passed"
            body = {
                "v": protocol.VERSION,
                "client": self.client,
                "name": f"Pair {self.n + 1:02d}",
                "seq": seq,
                "current": self.katas[position],
                "streak": streak,
                "checks": [1, 4],
                "mistake": self.random.choice(MISTAKES) if failing else None,
                "katas": katas,
            }
            if not failing:
                position = min(position + 1, len(self.katas) - 1)
            self.post(body)

    def post(self, body: dict) -> None:
        for _ in range(5):  # as the poster does: wait as long as Retry-After says
            started = time.monotonic()
            try:
                status, _, headers = request(
                    self.url, self.code, protocol.POST_PATH, body, timeout=5, client=self.client
                )
            except OSError:
                status, headers = 0, {}
            self.latencies.append(time.monotonic() - started)
            if status == 200:
                self.acked += 1
                self.last_seq = body["seq"]
                return
            if status == 429:
                self.retried += 1
                time.sleep(float(headers.get("Retry-After", 1)))
                continue
            break
        self.refused += 1


class PageWatcher:
    """The board page in headless Chromium (or a bare event-stream reader): which version it shows."""

    def __init__(self, board_url: str, events_url: str):
        self.board_url, self.events_url = board_url, events_url
        self.kind = "chromium" if os.path.exists(CHROMIUM) else "event stream"
        self.version = -1
        self.rows = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._browser if self.kind == "chromium" else self._stream, daemon=True)
        self._thread.start()

    def _browser(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page()
            page.goto(self.board_url)
            while not self._stop.is_set():
                self.version = int(page.evaluate("document.body.dataset.version || -1"))
                self.rows = page.locator("#rows tr").count()
                page.wait_for_timeout(200)
            browser.close()

    def _stream(self) -> None:
        import urllib.request

        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(self.events_url, timeout=30) as answer:
            for raw in answer:
                if self._stop.is_set():
                    return
                if raw.startswith(b"data: "):
                    board = json.loads(raw[6:])
                    self.version, self.rows = board["version"], len(board["pairs"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--pairs", type=int, default=30)
    options.add_argument("--every", type=float, default=2.0, help="seconds between a pair's posts")
    options.add_argument("--seconds", type=float, default=60.0)
    args = options.parse_args(argv)

    katas = [kata.id for kata in load(ROOT / "curriculum").katas]
    state = Path(tempfile.mkdtemp(prefix="room-load-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dojo",
            "room",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-dir",
            str(state),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    why = server.stderr.read() if server.stderr else ""
                    raise SystemExit(f"the room did not start: {why}") from None
                time.sleep(0.1)
        code = json.loads((state / "secrets.json").read_text())["code"]
        page = PageWatcher(f"{url}/board?code={code}", f"{url}/events?code={code}")
        time.sleep(3)  # the page is up before the first post
        rss = {"start": rss_kib(server.pid)}
        start = time.monotonic()
        until = start + args.seconds
        pairs = [Pair(n, url, code, katas, args.every, until) for n in range(args.pairs)]
        for pair in pairs:
            pair.start()
        samples = []
        while time.monotonic() < until:
            time.sleep(5)
            _, board, _ = request(url, code, "/api/board")
            samples.append((round(time.monotonic() - start), board["version"], page.version, page.rows))
            if "middle" not in rss and time.monotonic() - start >= args.seconds / 2:
                rss["middle"] = rss_kib(server.pid)
        for pair in pairs:
            pair.join(timeout=30)
        time.sleep(2)
        rss["end"] = rss_kib(server.pid)
        _, board, _ = request(url, code, "/api/board")
        page_version, page_rows = page.version, page.rows
        page.stop()
    finally:
        server.terminate()
        server.wait(timeout=30)

    rows = {row["name"]: row for row in board["pairs"]}
    missing = [
        p.n
        for p in pairs
        if rows.get(f"Pair {p.n + 1:02d}", {}).get("posts") != p.acked
        or rows[f"Pair {p.n + 1:02d}"]["seq"] != p.last_seq
    ]
    latencies = sorted(t for p in pairs for t in p.latencies)
    acked = sum(p.acked for p in pairs)
    print(f"room load: {args.pairs} pairs, a post every {args.every:g} s each, for {args.seconds:g} s")
    print(
        f"  posts acknowledged      {acked} (refused {sum(p.refused for p in pairs)}, "
        f"met a 429 and retried {sum(p.retried for p in pairs)})"
    )
    print(
        f"  on the board            {board['accepted']} accepted; pairs whose every post is there: "
        f"{args.pairs - len(missing)}/{args.pairs}" + (f"  MISSING: {missing}" if missing else "")
    )
    print(
        f"  post latency            median {statistics.median(latencies) * 1000:.1f} ms, "
        f"95th percentile {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.1f} ms"
    )
    print(
        f"  page ({page.kind})  version shown / server's, every 5 s: "
        + ", ".join(f"{t}s {shown}/{server_version}" for t, server_version, shown, _ in samples)
    )
    print(f"  page at the end         version {page_version} of {board['version']}, {page_rows} rows")
    print(
        f"  server RSS              start {rss['start'] / 1024:.1f} MiB, middle {rss.get('middle', -1) / 1024:.1f} "
        f"MiB, end {rss['end'] / 1024:.1f} MiB"
    )
    ok = not missing and page_rows == args.pairs and page_version >= board["version"] - 1
    print("  verdict                 " + ("every good post is on the board and the page is live" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
