"""The room's server, running: real HTTP on 127.0.0.1, pairs posting from processes of their own.

Each security case has its test: take the protection away and the test fails.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from room_support import KATAS, RoomProcess, env, finish, post_body, start_pair

from dojo.room import protocol

pytestmark = pytest.mark.slow  # left out of the quick tier: a room server per test, floods included


@pytest.fixture
def room(tmp_path):
    with RoomProcess(tmp_path / "room", settings={"stuck_attempts": 3}) as running:
        yield running


def test_pairs_post_from_their_own_processes_and_the_board_shows_stuck_and_mistakes(room, tmp_path):
    gates = "LSTM gates in the order i, f, o, g: Keras's order is i, f, c, o"
    pairs = []
    for n in range(6):
        if n < 4:  # four pairs fail three runs in a row on the same named mistake
            posts = [
                post_body(n, seq=s, current=KATAS[5], streak=s, mistake=gates, name=f"pair {n}") for s in (1, 2, 3)
            ]
        else:
            posts = [post_body(n, seq=1, current=KATAS[3], state="passed", streak=0, name=f"pair {n}", done=3)]
        pairs.append(start_pair(room, tmp_path / f"pair{n}", posts))
    results = [finish(p) for p in pairs]
    assert all(code == 0 for r in results for code in r["codes"]), results
    board = room.board()
    assert len(board["pairs"]) == 6 and board["stuck"] == 4
    stuck = room.pair("pair 0")
    assert stuck["stuck"] == "3 failing attempts" and stuck["kata"]["id"] == KATAS[5] and stuck["posts"] == 3
    assert stuck["kata"]["number"] and stuck["kata"]["title"]
    assert board["mistakes"][0] == {**board["mistakes"][0], "mistake": gates, "pairs": 4, "of": 6}
    assert room.pair("pair 5")["stuck"] is None and room.pair("pair 5")["done"] == 4


def test_a_wrong_or_missing_code_cannot_post_or_read(room):
    assert room.post(post_body(1), code="WRONG1")[0] == 403
    assert room.post(post_body(1), code="")[0] == 403
    for path in ("/board", "/events", "/api/board", protocol.HELLO_PATH, "/board?code=WRONG1"):
        assert room.request("GET", path)[0] == 403, path
    assert room.board()["pairs"] == []
    status, page, headers = room.request("GET", f"/board?code={room.code}")
    assert status == 200 and b"/static/board.js" in page
    assert "script-src 'self'" in headers["content-security-policy"]  # no inline script could run


def test_guessing_the_code_is_stopped_per_address(tmp_path):
    with RoomProcess(tmp_path / "room", limits={"bad_code_burst": 5, "bad_code_rate": 0.01}) as room:
        answers = [room.post(post_body(1), code=f"GUESS{n}", source="127.0.0.2")[0] for n in range(8)]
        assert answers == [403] * 5 + [429] * 3
        # Once the guesses are used up even the right code gets nothing from that address...
        assert room.post(post_body(1), source="127.0.0.2")[0] == 429
        # ...while the pairs on other addresses go on.
        assert room.post(post_body(2))[0] == 200


def test_only_the_admin_token_exports_or_resets(tmp_path):
    with RoomProcess(tmp_path / "room", limits={"bad_code_burst": 50}) as room:
        only_the_admin_token_exports_or_resets(room)


def only_the_admin_token_exports_or_resets(room):
    assert room.post(post_body(1, name="Ana & Ben"))[0] == 200
    for kind in ("json", "csv", "png"):
        assert room.request("GET", f"/admin/export.{kind}")[0] == 403
        assert room.admin("GET", f"/admin/export.{kind}", token=room.code)[0] == 403
        assert room.request("GET", f"/admin/export.{kind}?code={room.code}")[0] == 403
    assert room.admin("POST", "/admin/reset", token=room.code)[0] == 403
    assert room.pair("Ana & Ben") is not None
    status, body, headers = room.admin("GET", "/admin/export.json")
    assert status == 200 and json.loads(body)["pairs"][0]["name"] == "Ana & Ben"
    status, body, headers = room.admin("GET", "/admin/export.csv")
    assert status == 200 and headers["content-type"].startswith("text/csv") and b"Ana & Ben" in body
    status, body, headers = room.admin("GET", "/admin/export.png")
    assert status == 200 and body.startswith(b"\x89PNG")
    status, body, _ = room.admin("POST", "/admin/rotation", {"minutes": 7})
    assert status == 200 and json.loads(body)["rotation"]["minutes"] == 7
    status, body, _ = room.admin("POST", "/admin/reset")
    assert status == 200 and room.board()["pairs"] == []
    assert list((room.state_dir / "exports").glob("room-*.json"))  # the board before the reset is kept


def test_malformed_and_oversized_posts_are_refused(room):
    headers = {protocol.CODE_HEADER: room.code, "Content-Type": "application/json"}
    assert room.request("POST", protocol.POST_PATH, b"{not json", headers)[0] == 400
    assert room.request("POST", protocol.POST_PATH, b"\xff\xfe", headers)[0] == 400
    assert room.request("POST", protocol.POST_PATH, b"[" * 15000, headers)[0] == 400
    assert room.post({**post_body(1), "seq": "one"})[0] == 422
    assert room.post({**post_body(1), "current": "os.system"})[0] == 422
    assert room.post({**post_body(1), "name": "x" * 500})[0] == 422
    assert room.post({**post_body(1), "code": "import os"})[0] == 422  # no field for code exists
    big = json.dumps({**post_body(1), "mistake": "m" * (protocol.MAX_BODY_BYTES * 4)}).encode()
    assert room.request("POST", protocol.POST_PATH, big, headers)[0] == 413
    lying = {**headers, "Content-Length": str(protocol.MAX_BODY_BYTES * 64)}
    assert room.request("POST", protocol.POST_PATH, big[:100], lying)[0] == 413

    def chunks():  # no Content-Length: the server must count as it reads
        for _ in range(64):
            yield b" " * 1024

    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", room.port, timeout=60)
    connection.request("POST", protocol.POST_PATH, body=chunks(), headers=headers, encode_chunked=True)
    assert connection.getresponse().status == 413
    connection.close()
    assert room.board()["pairs"] == []
    assert room.post(post_body(1))[0] == 200  # and the server is fine


FLOOD = """
import http.client, json, sys, time
port, code, source, count, rotate = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
sent = accepted = n = 0
while sent < count:
    n += 1
    body = {"v": 1, "client": f"{(n if rotate else 0) + int(source.split('.')[-1]) * 10**6:016x}", "name": "flood",
            "seq": n, "current": None, "streak": 0, "checks": [0, 0], "katas": {}}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    connection.request("POST", "/api/post", json.dumps(body), {"X-Room-Code": code, "Content-Type": "application/json"})
    status = connection.getresponse().status
    connection.close()
    sent += 1
    accepted += status == 200
print(json.dumps({"sent": sent, "accepted": accepted}))
"""


def flood(room, source: str, count: int, rotate: bool) -> subprocess.Popen:
    """``count`` posts as fast as this machine sends them: a count, not a duration, so that a busy machine
    still floods; the limits are then checked against the seconds the flood really took."""
    return subprocess.Popen(
        [sys.executable, "-c", FLOOD, str(room.port), room.code, source, str(count), "1" if rotate else "0"],
        env=env(),
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_flood_is_held_by_the_rate_limits_and_good_pairs_lose_nothing(tmp_path):
    limits = {"client_rate": 1, "client_burst": 5, "address_rate": 10, "address_burst": 20}
    with RoomProcess(tmp_path / "room", limits=limits) as room:
        started = time.monotonic()
        one_client = flood(room, "127.0.0.2", 60, rotate=False)  # one pair id, as fast as it can
        many_clients = flood(room, "127.0.0.3", 60, rotate=True)  # a new pair id every post
        good = [
            start_pair(
                room,
                tmp_path / f"pair{n}",
                [post_body(n, seq=s, current=KATAS[s], name=f"good {n}") for s in range(1, 5)],
            )
            for n in range(3)
        ]
        results = [finish(p) for p in good]
        floods = [json.loads(p.communicate(timeout=600)[0]) for p in (one_client, many_clients)]
        seconds = time.monotonic() - started
        for n, result in enumerate(results):
            assert result["codes"] == [0, 0, 0, 0]
            row = room.pair(f"good {n}")
            assert row["posts"] == 4 and row["seq"] == 4 and row["kata"]["id"] == KATAS[4]
        assert floods[0]["sent"] > 50, floods  # it really flooded...
        assert floods[0]["accepted"] <= limits["client_burst"] + limits["client_rate"] * seconds + 1
        assert floods[1]["accepted"] <= limits["address_burst"] + limits["address_rate"] * seconds + 1
        assert room.board()["accepted"] == 12 + floods[0]["accepted"] + floods[1]["accepted"]


def test_the_room_wide_limit_holds_against_many_addresses(tmp_path):
    limits = {"global_rate": 5, "global_burst": 10}
    with RoomProcess(tmp_path / "room", limits=limits) as room:
        started = time.monotonic()
        floods = [flood(room, f"127.0.0.{n}", 20, rotate=True) for n in range(10, 16)]
        results = [json.loads(p.communicate(timeout=600)[0]) for p in floods]
        seconds = time.monotonic() - started
        accepted = sum(r["accepted"] for r in results)
        assert sum(r["sent"] for r in results) > 100
        assert accepted <= limits["global_burst"] + limits["global_rate"] * seconds + 1
        assert room.board()["accepted"] == accepted


def test_a_restart_keeps_the_board_and_the_code_and_exports_on_stop(tmp_path):
    state = tmp_path / "room"
    with RoomProcess(state, clean_stop=True) as room:
        for n in range(3):
            assert room.post(post_body(n, mistake="the bias is missing"))[0] == 200
        before, code = room.board(), room.code
    assert "exported" in room.output
    exports = sorted((state / "exports").glob("room-*"), key=lambda p: len(p.name))
    assert {p.suffix for p in exports} == {".json", ".csv", ".png", ".html", ".sqlite"}
    assert not (state / "board.json").exists() and (state / "room.sqlite").exists()  # one database, no JSON
    assert len(json.loads(exports[0].with_suffix(".json").read_text())["pairs"]) == 3
    with RoomProcess(state) as again:
        assert again.code == code
        after = again.board()
        assert [r["name"] for r in after["pairs"]] == [r["name"] for r in before["pairs"]]
        assert after["mistakes"][0]["pairs"] == 3
        # A crash (no shutdown at all) loses nothing that was acknowledged either.
        assert again.post(post_body(9, name="last one"))[0] == 200
        again.process.send_signal(signal.SIGKILL)
        again.process.wait()
    with RoomProcess(state) as third:
        assert third.pair("last one") is not None and len(third.board()["pairs"]) == 4


def test_join_and_leave_from_the_command_line(room, tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "katas").mkdir(parents=True)
    (checkout / "curriculum").symlink_to(room.options["curriculum"])

    def kata(*args):
        return subprocess.run(
            [sys.executable, "-m", "dojo", *args],
            check=False,
            cwd=checkout,
            env=env(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    wrong = kata("room", "join", room.url, "WRONG1", "--name", "Ana & Ben")
    assert wrong.returncode == 2 and "refused the join code" in wrong.stdout
    unreachable = kata("room", "join", "http://127.0.0.1:9", room.code, "--name", "Ana & Ben")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stdout
    joined = kata("room", "join", room.url + "/board", room.code.lower(), "--name", "Ana & Ben")
    assert joined.returncode == 0, joined.stdout + joined.stderr
    said = " ".join(joined.stdout.split())  # as read, whatever width the console wrapped it at
    assert "swap" in said and "round 1" in said, said
    member = json.loads((checkout / ".katas" / "room.json").read_text())
    assert member["url"] == room.url and member["joined"] and len(member["client"]) == 16
    assert "room Ana & Ben on" in " ".join(kata("status").stdout.split())
    left = kata("room", "leave")
    assert left.returncode == 0 and "left the room" in left.stdout
    assert json.loads((checkout / ".katas" / "room.json").read_text())["joined"] is False


def test_serve_takes_the_stuck_and_rotation_settings():
    from dojo.tools.cli import parser

    args = parser().parse_args(
        [
            "room",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "9000",
            "--stuck-attempts",
            "3",
            "--stuck-minutes",
            "2.5",
            "--mistake-minutes",
            "5",
            "--rotate-minutes",
            "0",
            "--state-dir",
            "x",
        ]
    )
    assert (args.stuck_attempts, args.stuck_minutes, args.mistake_minutes, args.rotate_minutes) == (3, 2.5, 5, 0)
    assert args.host == "127.0.0.1" and args.port == 9000 and args.state_dir == "x"
    # the option's name before the streak counted attempts still works in workshop scripts
    assert parser().parse_args(["room", "serve", "--stuck-runs", "4"]).stuck_attempts == 4
