"""The room under attack, on 127.0.0.1 only: idle and slow sockets, floods of streams and of invented pairs,
forged X-Forwarded-For, names Matplotlib would read as mathematics, a second server on a busy port.

Each test names the protection it proves; take the protection away and it fails.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import time

import pytest
from room_support import ROOT, RoomProcess, env, post_body

from dojo.room import protocol

# left out of the quick tier: a room server per test
pytestmark = pytest.mark.slow

IDLE_SOCKETS = 1000


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def test_a_thousand_idle_sockets_from_one_address_stop_neither_a_board_nor_a_pair(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE_SOCKETS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE_SOCKETS + 500), hard))
    with RoomProcess(tmp_path / "room", guard={"per_address": 64}) as room:
        idle = []
        try:
            for _ in range(IDLE_SOCKETS):  # from 127.0.0.1, the address the pair and the board use too
                idle.append(socket.create_connection(("127.0.0.1", room.port), timeout=60))
            # The board and a pair, from the same address, while every one of those sockets is held open.
            assert room.post(post_body(1, name="Ana & Ben"))[0] == 200
            assert room.pair("Ana & Ben") is not None
            stream = http.client.HTTPConnection("127.0.0.1", room.port, timeout=60)
            stream.request("GET", f"/events?code={room.code}")
            answer = stream.getresponse()
            assert answer.status == 200
            first_event = b"".join(answer.fp.readline() for _ in range(8))  # chunk sizes, retry:, the board
            assert b"Ana & Ben" in first_event
            stream.close()
            held = open_fds(room.process.pid)
            if held is not None:  # the server holds a bounded few of them (young ones up to 4x the cap), not 1000
                assert held < 64 * 4 + 60, held
        finally:
            for connection in idle:
                connection.close()


def test_a_request_head_trickled_byte_by_byte_is_cut_off(tmp_path):
    with RoomProcess(tmp_path / "room", guard={"header_seconds": 2}) as room:
        slow = socket.create_connection(("127.0.0.1", room.port), timeout=60)
        slow.sendall(b"GET /api/board HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + 300
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                slow.sendall(b"X")  # one byte of a header, again and again: never a whole request
                slow.settimeout(0.5)
                closed = slow.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        slow.close()
        assert closed, "the server kept a socket that never finished its request head"
        assert room.post(post_body(1))[0] == 200


def test_a_body_trickled_byte_by_byte_is_refused(tmp_path):
    with RoomProcess(tmp_path / "room") as room:
        slow = socket.create_connection(("127.0.0.1", room.port), timeout=60)
        head = (
            f"POST {protocol.POST_PATH} HTTP/1.1\r\nHost: x\r\n{protocol.CODE_HEADER}: {room.code}\r\n"
            "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
        )
        slow.sendall(head.encode() + b"{")
        answer = b""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and b"\r\n\r\n" not in answer:
            try:
                slow.sendall(b" ")
                slow.settimeout(1)
                answer += slow.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
        slow.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]


def test_event_streams_are_bounded_apart_from_posts(tmp_path):
    limits = {"max_streams": 5, "streams_per_address": 3}
    with RoomProcess(tmp_path / "room", limits=limits) as room:
        held = []

        def open_stream(source: str) -> int:
            connection = http.client.HTTPConnection("127.0.0.1", room.port, timeout=60, source_address=(source, 0))
            connection.request("GET", f"/events?code={room.code}")
            status = connection.getresponse().status
            held.append(connection)
            return status

        try:
            assert [open_stream("127.0.0.2") for _ in range(4)] == [200, 200, 200, 503]
            assert [open_stream("127.0.0.3") for _ in range(3)] == [200, 200, 503]  # five in all
            assert room.post(post_body(1), source="127.0.0.2")[0] == 200  # posts are not streams
            assert room.board()["pairs"]
        finally:
            for connection in held:
                connection.close()
        held.clear()
        # Boards that left give their slots back (the next heartbeat finds them gone).
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and open_stream("127.0.0.2") != 200:
            held.pop().close()
            time.sleep(0.5)
        assert held and held[-1].sock is not None
        for connection in held:
            connection.close()


def test_new_pairs_from_one_address_are_rate_limited(tmp_path):
    with RoomProcess(tmp_path / "room", limits={"new_pair_burst": 5, "new_pair_rate": 0.01}) as room:
        answers = [room.post(post_body(n), source="127.0.0.4")[0] for n in range(8)]
        assert answers == [200] * 5 + [429] * 3
        assert room.post(post_body(0, seq=2), source="127.0.0.4")[0] == 200  # a pair it knows goes on
        assert room.post(post_body(100), source="127.0.0.5")[0] == 200  # another address is not affected
        assert len(room.board()["pairs"]) == 6


@pytest.mark.parametrize("trust_proxy", [False, True])
def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path, trust_proxy):
    limits = {"bad_code_burst": 3, "bad_code_rate": 0.01}
    with RoomProcess(tmp_path / "room", limits=limits, trust_proxy=trust_proxy) as room:
        answers = [
            room.request(
                "GET", "/api/board", headers={protocol.CODE_HEADER: "WRONG1", "X-Forwarded-For": f"10.0.0.{n}"}
            )[0]
            for n in range(6)
        ]
        # Forged addresses do not buy more guesses: all six count against 127.0.0.1...
        # ...unless the facilitator said a proxy on this machine sets the header.
        assert answers == ([403] * 6 if trust_proxy else [403] * 3 + [429] * 3)


DOLLARS = ["$\\frac{1}{0}$", "$x^$", "$$", "price: $5 and $6", "\\$\\mathrm{bad"]


def test_names_matplotlib_would_parse_export_and_reset(tmp_path):
    with RoomProcess(tmp_path / "room") as room:
        for n, name in enumerate(DOLLARS):
            assert room.post(post_body(n, name=name))[0] == 200
        status, body, _ = room.admin("GET", "/admin/export.png")
        assert status == 200 and body.startswith(b"\x89PNG")
        status, body, _ = room.admin("POST", "/admin/reset")
        assert status == 200, body
        assert room.board()["pairs"] == []


def test_the_png_closes_its_figures_on_every_path_and_gives_each_track_its_colour(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from dojo.course import board

    tracks = [{"number": n, "name": f"track {n}", "done": 1, "total": 3} for n in range(1, 15)]
    exports = [{"name": name, "done": 14, "total": 42, "tracks": tracks} for name in DOLLARS]
    assert board.draw(exports, tmp_path / "room.png").read_bytes().startswith(b"\x89PNG")
    assert plt.get_fignums() == []

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError):
        board.draw(exports, tmp_path / "again.png")
    assert plt.get_fignums() == []  # no figure left behind by the failure either

    colours = board.track_colours(14)
    gaps = [
        sum((a - b) ** 2 for a, b in zip(colours[i], colours[j])) ** 0.5 for i in range(14) for j in range(i + 1, 14)
    ]
    assert min(gaps) > 0.12, min(gaps)  # tracks 1/11, 2/12, 3/13 shared a colour with tab10


def serve_command(port: int, state_dir, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dojo", "room", "serve", "--host", "127.0.0.1", "--port", str(port)]
        + ["--state-dir", str(state_dir)],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_second_server_on_a_busy_port_says_one_line_and_touches_nothing(tmp_path):
    with RoomProcess(tmp_path / "room") as room:
        assert room.post(post_body(1))[0] == 200
        before = {p.name: p.stat().st_mtime_ns for p in room.state_dir.iterdir()}
        fresh = tmp_path / "fresh"
        second = serve_command(room.port, fresh)
        assert second.returncode == 2
        assert len(second.stdout.strip().splitlines()) == 1 and "cannot listen" in second.stdout, second.stdout
        assert "join code" not in second.stdout and not second.stderr
        assert not fresh.exists()  # nothing written for a server that never ran
        same_folder = serve_command(room.port, room.state_dir)
        assert same_folder.returncode == 2 and "cannot listen" in same_folder.stdout
        assert {p.name: p.stat().st_mtime_ns for p in room.state_dir.iterdir()} == before
        assert room.post(post_body(1, seq=2))[0] == 200  # the first server goes on


def test_a_second_server_on_the_same_folder_stops_before_touching_it(tmp_path):
    with RoomProcess(tmp_path / "room") as room:
        other = socket.socket()
        other.bind(("127.0.0.1", 0))
        port = other.getsockname()[1]
        other.close()
        second = serve_command(port, room.state_dir)
        assert second.returncode == 2 and "another room server uses" in second.stdout, second.stdout
        assert len(second.stdout.strip().splitlines()) == 1
        assert room.post(post_body(1))[0] == 200


def test_forged_tokens_and_codes_never_reach_the_admin_routes(tmp_path):
    with RoomProcess(tmp_path / "room", limits={"bad_code_burst": 50}) as room:
        assert room.post(post_body(1, name="Ana & Ben"))[0] == 200
        key = room.board()["pairs"][0]["key"]
        for forged in ("", room.code, room.token[:-1], room.token + "x", "Bearer " + room.token):
            for method, path in (
                ("GET", "/admin"),
                ("GET", "/admin/board"),
                ("GET", "/admin/katas"),
                ("GET", "/admin/export.katas.html"),
                ("POST", f"/admin/pairs/{key}/remove"),
                ("POST", "/admin/settings"),
            ):
                assert room.admin(method, path, {}, token=forged)[0] == 403, (forged, path)
        assert room.pair("Ana & Ben") is not None
        assert json.loads(room.admin("GET", "/admin/board")[1])["pairs"][0]["name"] == "Ana & Ben"
