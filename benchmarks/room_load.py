"""A room under load: 200 pairs posting every 2 s, 1,000 idle sockets and 50 open boards, for 60 s.

Not a test and not a `pytest --bench` row: a measurement to run by hand::

    python benchmarks/room_load.py                       # 200 pairs, 1,000 idle sockets, 50 boards, 60 s
    python benchmarks/room_load.py --pairs 30 --idle 0 --boards 1 --seconds 30

It starts the server as ``kata room serve`` does (:func:`dojo.room.server.serve`
on 127.0.0.1, a fresh state folder), with the room-wide post rate raised to
``--global-rate`` (a real pair posts once per pytest run, tens of seconds apart;
here every pair posts every 2 s). Each pair posts from an address of its own
(127.0.0.2 and up, as laptops on a LAN); the idle sockets all come from 127.0.0.1
and are reopened as soon as the server drops them; the boards are event streams
read from addresses of their own (127.0.1.x), plus the page itself in headless
Chromium when there is one. It reports:

* posts acknowledged and posts on the board (each pair's post count and last
  sequence number on the board match what it was told was accepted);
* board latency: a board's ``GET /api/board`` from its own address, every 0.25 s,
  median and 95th percentile; and how many updates the 50 streams received;
* the server's resident memory (RSS) at the start, the middle and the end;
* the SQLite file's size (with its write-ahead log) at the end;
* post latency (median, 95th percentile) and how many posts met a 429.
"""

from __future__ import annotations

import argparse
import http.client as http_client
import json
import os
import random
import resource
import socket
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

CHROMIUM = "/usr/bin/chromium"
MISTAKES = [
    "softmax along the wrong axis: the rows must sum to 1",
    "the bias is missing: add it after the weighted sum",
    "LSTM gates in the order i, f, o, g: Keras's order is i, f, c, o",
]


LAUNCH = """
import json, sys
from pathlib import Path
from dojo.course.curriculum import load
from dojo.room.limits import Limits
from dojo.room.server import RoomConfig, serve
options = json.loads(sys.argv[1])
limits = Limits(global_rate=options["global_rate"], global_burst=2 * options["global_rate"],
                max_streams=options["boards"] + 16, new_pair_burst=options["pairs"] + 10)
config = RoomConfig(curriculum=load(Path(options["curriculum"])), state_dir=Path(options["state_dir"]), limits=limits)
serve(config, "127.0.0.1", options["port"], on_ready=lambda secrets: print("ready", flush=True))
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(
    port: int, source: str, method: str, path: str, code: str, body: dict | None = None
) -> tuple[int, dict, bytes]:
    """One request from ``source`` (an address of 127/8): (status, headers, body)."""
    connection = http_client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {protocol.CODE_HEADER: code, "Content-Type": "application/json"}
        connection.request(method, path, body=data, headers=headers)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return values[int(share * (len(values) - 1))] if values else float("nan")


class Pair(threading.Thread):
    """One simulated pair on an address of its own: a post every ``every`` seconds, walking the course."""

    def __init__(self, n: int, port: int, code: str, katas: list[str], every: float, until: float):
        super().__init__(daemon=True)
        self.n, self.port, self.code, self.katas, self.every, self.until = n, port, code, katas, every, until
        self.source = f"127.0.{2 + n // 250}.{2 + n % 250}"
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
                "name": f"Pair {self.n + 1:03d}",
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
                status, headers, _ = http(self.port, self.source, "POST", protocol.POST_PATH, self.code, body)
            except (OSError, http_client.HTTPException):
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


class IdleSockets(threading.Thread):
    """``count`` sockets from 127.0.0.1 that connect and never send a byte, reopened when the server drops them."""

    def __init__(self, port: int, count: int):
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.sockets: list[socket.socket] = []
        self.reopened = 0
        self.stop = threading.Event()

    def open_one(self) -> socket.socket | None:
        try:
            one = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            one.setblocking(False)
            return one
        except OSError:
            return None

    def run(self) -> None:
        self.sockets = [s for s in (self.open_one() for _ in range(self.count)) if s]
        while not self.stop.wait(1.0):
            for index, one in enumerate(self.sockets):
                try:
                    dropped = one.recv(1) == b""
                except BlockingIOError:
                    dropped = False
                except OSError:
                    dropped = True
                if dropped:
                    one.close()
                    fresh = self.open_one()
                    if fresh is not None:
                        self.sockets[index] = fresh
                        self.reopened += 1
        for one in self.sockets:
            one.close()


class Board(threading.Thread):
    """An open board: the event stream, read from an address of its own; counts the updates."""

    def __init__(self, n: int, port: int, code: str):
        super().__init__(daemon=True)
        self.port, self.code, self.source = port, code, f"127.0.1.{1 + n}"
        self.updates = 0
        self.status = None
        self.stop = threading.Event()

    def run(self) -> None:
        connection = http_client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(self.source, 0))
        try:
            connection.request("GET", f"/events?code={self.code}")
            answer = connection.getresponse()
            self.status = answer.status
            while not self.stop.is_set() and answer.status == 200:
                line = answer.fp.readline()
                if not line:
                    return
                self.updates += line.startswith(b"data: ")
        except (OSError, http_client.HTTPException):
            return
        finally:
            connection.close()


class Prober(threading.Thread):
    """A board's request for the whole room, every 0.25 s, from its own address: the latency it sees."""

    def __init__(self, port: int, code: str):
        super().__init__(daemon=True)
        self.port, self.code = port, code
        self.latencies: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            started = time.monotonic()
            try:
                status, _, _ = http(self.port, "127.0.0.250", "GET", "/api/board", self.code)
            except (OSError, http_client.HTTPException):
                status = 0
            if status == 200:
                self.latencies.append(time.monotonic() - started)
            else:
                self.failures += 1


class PageWatcher:
    """The board page in headless Chromium, when there is one: which version it shows."""

    def __init__(self, board_url: str):
        self.board_url = board_url
        self.version = -1
        self.rows = 0
        self.tries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._browser, daemon=True)
        self._thread.start()

    def _browser(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page()
            while not self._stop.is_set():  # as a person would: reload until the page comes
                self.tries += 1
                try:
                    page.goto(self.board_url)
                    break
                except Exception:  # a refused or reset connection: try again
                    page.wait_for_timeout(1000)
            while not self._stop.is_set():
                self.version = int(page.evaluate("() => document.body.dataset.version || -1"))
                self.rows = page.locator("#rows .row").count()
                page.wait_for_timeout(500)
            browser.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=20)


def start_server(options: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, json.dumps(options)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if server.stdout.readline().strip() != "ready":
        raise SystemExit(f"the room did not start: {server.stderr.read()}")
    return server


def sqlite_bytes(state: Path) -> int:
    return sum(path.stat().st_size for path in state.glob("room.sqlite*"))


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--pairs", type=int, default=200)
    options.add_argument("--every", type=float, default=2.0, help="seconds between a pair's posts")
    options.add_argument("--idle", type=int, default=1000, help="idle sockets held open from one address")
    options.add_argument("--boards", type=int, default=50, help="board event streams open")
    options.add_argument("--seconds", type=float, default=60.0)
    options.add_argument("--global-rate", type=float, default=150.0, help="the room's posts per second (default 150)")
    args = options.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle + args.pairs + 1000)), hard))

    katas = [kata.id for kata in load(ROOT / "curriculum").katas]
    state = Path(tempfile.mkdtemp(prefix="room-load-"))
    port = free_port()
    launch = {"curriculum": str(ROOT / "curriculum"), "state_dir": str(state), "port": port}
    server = start_server({**launch, "global_rate": args.global_rate, "boards": args.boards, "pairs": args.pairs})
    try:
        code = json.loads((state / "secrets.json").read_text())["code"]
        idle = IdleSockets(port, args.idle)
        idle.start()
        boards = [Board(n, port, code) for n in range(args.boards)]
        for board in boards:
            board.start()
        page = PageWatcher(f"http://127.0.0.1:{port}/board?code={code}") if os.path.exists(CHROMIUM) else None
        prober = Prober(port, code)
        prober.start()
        time.sleep(3)  # the idle sockets and the boards are there before the first post
        rss = {"start": rss_kib(server.pid)}
        start = time.monotonic()
        until = start + args.seconds
        pairs = [Pair(n, port, code, katas, args.every, until) for n in range(args.pairs)]
        for pair in pairs:
            pair.start()
        while time.monotonic() < until:
            time.sleep(1)
            if "middle" not in rss and time.monotonic() - start >= args.seconds / 2:
                rss["middle"] = rss_kib(server.pid)
        for pair in pairs:
            pair.join(timeout=60)
        time.sleep(2)
        rss["end"] = rss_kib(server.pid)
        _, _, raw = http(port, "127.0.0.251", "GET", "/api/board", code)
        board = json.loads(raw)
        seen = (page.version, page.rows, page.tries) if page else None
        for watcher in (prober, idle, *boards):
            watcher.stop.set()
        if page:
            page.stop()
        size = sqlite_bytes(state)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return report(args, pairs, board, prober, idle, boards, rss, size, seen)


def report(args, pairs, board, prober, idle, boards, rss, size, seen) -> int:
    rows = {row["name"]: row for row in board["pairs"]}
    missing = [
        p.n
        for p in pairs
        if rows.get(f"Pair {p.n + 1:03d}", {}).get("posts") != p.acked
        or rows[f"Pair {p.n + 1:03d}"]["seq"] != p.last_seq
    ]
    latencies = [t for p in pairs for t in p.latencies]
    acked = sum(p.acked for p in pairs)
    sent = sum(len(p.latencies) for p in pairs)
    streams_ok = sum(1 for b in boards if b.status == 200)
    print(
        f"room load: {args.pairs} pairs posting every {args.every:g} s, {args.idle} idle sockets, "
        f"{args.boards} boards, {args.seconds:g} s (room-wide limit {args.global_rate:g} posts/s)"
    )
    print(
        f"  posts accepted          {acked} of {sent} attempts (refused {sum(p.refused for p in pairs)}, "
        f"met a 429 and retried {sum(p.retried for p in pairs)})"
    )
    print(
        f"  on the board            {board['accepted']} accepted; pairs whose every post is there: "
        f"{args.pairs - len(missing)}/{args.pairs}" + (f"  MISSING: {missing[:10]}" if missing else "")
    )
    print(
        f"  post latency            p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms"
    )
    print(
        f"  board latency           GET /api/board p50 {percentile(prober.latencies, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(prober.latencies, 0.95) * 1000:.1f} ms ({len(prober.latencies)} requests, "
        f"{prober.failures} failed)"
    )
    print(
        f"  board streams           {streams_ok}/{args.boards} open, "
        f"updates each: min {min((b.updates for b in boards), default=0)}, "
        f"max {max((b.updates for b in boards), default=0)}"
    )
    print(f"  idle sockets            {args.idle} held; the server dropped and they reopened {idle.reopened} times")
    if seen is not None:
        print(
            f"  page (Chromium, from the idle sockets' address)  version {seen[0]} of {board['version']}, "
            f"{seen[1]} rows, loaded at try {seen[2]}"
        )
    print(
        f"  server RSS              start {rss['start'] / 1024:.1f} MiB, middle {rss.get('middle', -1) / 1024:.1f} "
        f"MiB, end {rss['end'] / 1024:.1f} MiB"
    )
    print(f"  SQLite file             {size / 1024 / 1024:.1f} MiB (room.sqlite with its write-ahead log)")
    ok = not missing and prober.failures == 0 and streams_ok == args.boards
    ok = ok and (seen is None or (seen[1] == args.pairs and seen[0] >= board["version"] - 1))
    print("  verdict                 " + ("every acknowledged post is on the board; boards live" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
