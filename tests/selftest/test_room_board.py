"""The room's logic without a server: validation, stuck flags, the mistakes panel, rotation, CSV, atomic state."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from room_support import COURSE, KATAS, client_id, post_body

from dojo.room import auth, export, store
from dojo.room.board import HIDDEN_NAME, NO_NAMED_MISTAKE, Room, Settings, row_key
from dojo.room.database import Database
from dojo.room.store import open_database
from dojo.room.validation import PayloadError, validate_post

pytestmark = pytest.mark.slow  # left out of the quick tier: pictures drawn with Matplotlib


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def room(**settings) -> tuple[Room, Clock]:
    clock = Clock()
    return Room(COURSE, Settings(**settings), clock=clock), clock


def post(n, **fields):
    return validate_post(post_body(n, **fields), COURSE)


# ------------------------------------------------------------------ validation


def test_a_good_post_validates():
    checked = post(1, mistake="softmax along the wrong axis")
    assert checked.current == KATAS[1] and checked.state == "failing" and checked.passed == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"extra": 1}, "unknown fields"),
        ({"seq": "1"}, "seq must be an integer"),
        ({"seq": True}, "seq must be an integer"),
        ({"streak": -1}, "streak must be"),
        ({"client": "NOT-HEX-AT-ALL!!"}, "client must be"),
        ({"name": ""}, "name must have"),
        ({"name": "x" * 61}, "name must have"),
        ({"name": "Ana\nBen"}, "control characters"),
        ({"name": "Ana\u202eBen"}, "control characters"),
        ({"current": "no.such_kata"}, "current must be a kata id"),
        ({"katas": {"<script>": "passed"}}, "keyed on kata ids"),
        ({"katas": {f"toy.k{n}": "passed" for n in range(1000)}}, "katas must be an object"),
        ({"katas": {KATAS[0]: "solved"}}, "state must be one of"),
        ({"checks": [5, 4]}, "checks must be"),
        ({"mistake": "m" * 241}, "mistake must have"),
        ({"v": 2}, "v must be"),
    ],
)
def test_malformed_posts_are_rejected_with_a_reason(change, reason):
    body = {**post_body(1), **change}
    with pytest.raises(PayloadError, match=reason):
        validate_post(body, COURSE)


def test_katas_the_rooms_course_lacks_are_left_out_not_refused():
    checked = validate_post({**post_body(1), "katas": {KATAS[0]: "passed", "newer.kata": "failing"}}, COURSE)
    assert checked.katas == {KATAS[0]: "passed"}


def test_a_missing_field_is_rejected():
    body = post_body(1)
    del body["katas"]
    with pytest.raises(PayloadError, match="missing fields"):
        validate_post(body, COURSE)
    with pytest.raises(PayloadError, match="JSON object"):
        validate_post([body], COURSE)


# ---------------------------------------------------------------------- board


def test_stuck_after_n_failing_attempts_on_the_same_kata():
    """The post's streak counts attempts (runs of changed code, dojo/course/attempts.py), and the board says so."""
    board, _ = room(stuck_attempts=3, stuck_minutes=60)
    board.apply(post(1, seq=1, streak=2))
    assert board.snapshot()["pairs"][0]["stuck"] is None
    board.apply(post(1, seq=2, streak=3))
    assert board.snapshot()["pairs"][0]["stuck"] == "3 failing attempts"
    board.apply(post(1, seq=3, streak=0, state="passed", current=KATAS[2]))
    assert board.snapshot()["stuck"] == 0


def test_stuck_after_m_minutes_failing_and_the_clock_restarts_on_a_new_kata():
    board, clock = room(stuck_attempts=99, stuck_minutes=5)
    board.apply(post(1, seq=1))
    clock.now += 4 * 60
    board.apply(post(1, seq=2))  # still failing the same kata: the failing time goes on
    assert board.snapshot()["pairs"][0]["stuck"] is None
    clock.now += 61
    row = board.snapshot()["pairs"][0]
    assert row["stuck"] == "failing for 5 min" and row["on_kata_s"] == 301
    board.apply(post(1, seq=3, current=KATAS[3]))  # another kata: a new clock
    assert board.snapshot()["pairs"][0]["stuck"] is None


def test_mistakes_panel_counts_pairs_in_the_window():
    board, clock = room(mistake_minutes=10)
    lstm = "LSTM gates in the order i, f, o, g: Keras's order is i, f, c, o"
    for n in range(7):
        board.apply(post(n, seq=1, mistake=lstm))
        board.apply(post(n, seq=2, mistake=lstm))  # one pair hitting it twice is still one pair
    for n in range(7, 12):
        board.apply(post(n, seq=1, state="passed", streak=0))
    panel = board.snapshot()["mistakes"]
    assert panel[0]["mistake"] == lstm and panel[0]["pairs"] == 7 and panel[0]["of"] == 12
    clock.now += 11 * 60
    assert board.snapshot()["mistakes"] == []  # out of the window...
    assert export.as_json(board)["mistakes_session"][0]["pairs"] == 7  # ...but in the session's tally


def test_an_older_post_does_not_overwrite_a_newer_one():
    board, _ = room()
    assert board.apply(post(1, seq=5, current=KATAS[4]))
    assert not board.apply(post(1, seq=4, current=KATAS[1]))
    assert board.snapshot()["pairs"][0]["kata"]["id"] == KATAS[4]


def test_rotation_timer_rounds():
    board, clock = room(rotate_minutes=10)
    assert board.rotation_state() == {"minutes": 10.0, "round": 1, "left_s": 600.0}
    clock.now += 25 * 60
    assert board.rotation_state() == {"minutes": 10.0, "round": 3, "left_s": 300.0}
    board.restart_rotation(0)
    assert board.rotation_state()["round"] == 0


def saved(board: Room, path) -> Database:
    database = Database(path)
    database.write_now(board.take_writes())
    return database


def test_the_board_round_trips_through_its_database(tmp_path):
    board, clock = room()
    board.apply(post(1, mistake="the bias is missing"))
    board.apply(post(2, name="Ana & Ben"))
    board.raise_hand(client_id(2), "the shapes do not match")
    saved(board, tmp_path / "room.sqlite").close()
    again = Room(COURSE, clock=clock)
    open_database(again, tmp_path).close()
    assert again.snapshot()["pairs"] == board.snapshot()["pairs"]
    assert again.snapshot()["mistakes"] == board.snapshot()["mistakes"]
    assert again.snapshot()["queue"] == board.snapshot()["queue"]
    assert again.tally == board.tally


def test_each_post_is_a_row_of_its_own_not_a_rewrite(tmp_path):
    board, _ = room()
    database = saved(board, tmp_path / "room.sqlite")
    for seq in range(1, 4):
        board.apply(post(1, seq=seq, streak=seq))
        database.write_now(board.take_writes())
    rows = database.query("SELECT seq FROM posts ORDER BY id")
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert database.query("PRAGMA journal_mode")[0][0] == "wal"
    database.close()


def test_an_old_board_json_is_migrated_once(tmp_path):
    old = {
        "format": 1,
        "started": 999_000.0,
        "pairs": {
            client_id(7): {
                "name": "Old Pair",
                "first_seen": 999_000.0,
                "last_seen": 999_500.0,
                "posts": 3,
                "seq": 3,
                "current": KATAS[2],
                "kata_since": 999_100.0,
                "failing_since": 999_100.0,
                "state": "failing",
                "streak": 3,
                "passed": 0,
                "total": 2,
                "katas": {KATAS[0]: "passed", KATAS[2]: "failing"},
                "mistake": "the bias is missing",
            }
        },
        "hits": [],
        "tally": {},
        "accepted": 3,
        "rotation": {"minutes": 10.0, "started": 999_000.0},
    }
    store.write_json_atomic(tmp_path / "board.json", old)
    board, _ = room()
    open_database(board, tmp_path).close()
    assert board.snapshot()["pairs"][0]["name"] == "Old Pair"
    assert not (tmp_path / "board.json").exists() and (tmp_path / "board.json.migrated").exists()
    again, _ = room()
    open_database(again, tmp_path).close()  # from the database now
    assert [r["name"] for r in again.snapshot()["pairs"]] == ["Old Pair"]


def test_a_second_pair_with_the_same_name_is_made_distinct():
    board, _ = room()
    board.apply(post(1, name="Ana & Ben"))
    board.apply(post(2, name="ana & ben"))
    board.apply(post(3, name="Ana & Ben"))
    names = sorted(r["name"] for r in board.snapshot()["pairs"])
    assert names == ["Ana & Ben", "ana & ben (2)", "Ana & Ben (3)"] or names == sorted(
        ["Ana & Ben", "ana & ben (2)", "Ana & Ben (3)"]
    )
    board.apply(post(1, seq=2, name="Ana & Ben"))  # the first keeps its own name
    assert board.pairs[client_id(1)]["name"] == "Ana & Ben"


def test_stuck_pairs_come_first_and_quiet_ones_last_greyed():
    board, clock = room(stuck_attempts=3, quiet_minutes=10)
    board.apply(post(1, name="Aaron", state="passed", current=KATAS[2], streak=0))
    board.apply(post(2, name="Zed", streak=4, mistake="the bias is missing"))
    clock.now += 11 * 60
    board.apply(post(3, name="Mia", state="passed", current=KATAS[2], streak=0))
    board.apply(post(2, seq=2, name="Zed", streak=5, mistake="the bias is missing"))
    rows = board.snapshot()["pairs"]
    assert [r["name"] for r in rows] == ["Zed", "Mia", "Aaron"]
    assert rows[0]["failure"] == "the bias is missing" and rows[0]["runs"] == 2
    assert rows[2]["presence"] == "quiet" and rows[2]["last_seen_s"] == 11 * 60
    board.apply(post(3, seq=2, name="Mia", streak=1))
    assert board.snapshot()["pairs"][1]["failure"] == NO_NAMED_MISTAKE
    assert board.leave(client_id(3)) and board.snapshot()["pairs"][-1]["presence"] == "left"
    assert board.remove(row_key(client_id(1))) and len(board.snapshot()["pairs"]) == 2


def test_the_help_queue_keeps_order_and_flags_silent_hands():
    board, clock = room(stuck_attempts=2, silent_minutes=5)
    for n in (1, 2, 3):
        board.apply(post(n, streak=2, mistake="the bias is missing" if n == 1 else None))
    board.raise_hand(client_id(2), "first")
    board.raise_hand(client_id(1), "second")
    board.raise_hand(client_id(2), "first, again")  # keeps its place
    queue = board.snapshot()["queue"]
    assert [(h["name"], h["place"], h["message"]) for h in queue] == [
        ("pair 2", 1, "first, again"),
        ("pair 1", 2, "second"),
    ]
    assert queue[0]["failure"] == NO_NAMED_MISTAKE and queue[1]["failure"] == "the bias is missing"
    assert board.place_in_queue(client_id(1)) == 2 and board.place_in_queue(client_id(3)) is None
    assert board.snapshot()["silent"] == []
    clock.now += 6 * 60
    assert board.snapshot()["silent"] == [row_key(client_id(3))]  # stuck 6 min, never asked
    assert board.finish_hand(queue[0]["id"]) and board.place_in_queue(client_id(1)) == 1
    with pytest.raises(KeyError):
        board.raise_hand(client_id(9), "never posted")


def test_the_projector_can_hide_the_names_of_stuck_pairs():
    board, _ = room(stuck_attempts=2)
    board.apply(post(1, name="Struggling Pair", streak=3))
    board.apply(post(2, name="Fine Pair", state="passed", current=KATAS[2], streak=0))
    board.raise_hand(client_id(1), "help")
    assert "Struggling Pair" in json.dumps(board.snapshot(projector=True))
    board.hide_names(True)
    shown = json.dumps(board.snapshot(projector=True))
    assert "Struggling Pair" not in shown and "Fine Pair" in shown and HIDDEN_NAME in shown
    assert "Struggling Pair" in json.dumps(board.snapshot(projector=False))  # the facilitator sees it


def test_a_room_stored_before_the_rename_keeps_its_runs():
    board, _ = room()
    board.apply(post(1, seq=1, current=KATAS[1], streak=1))
    stored = json.loads(json.dumps(board.pairs[client_id(1)]))
    stored["attempts"] = stored.pop("runs")  # as an older room wrote it
    again, _ = room()
    again.adopt(client_id(1), stored)
    assert again.snapshot()["pairs"][0]["runs"] == 1


def test_events_record_runs_time_and_hints_to_pass():
    board, clock = room()
    board.apply(post(1, seq=1, current=KATAS[1], streak=1, mistake="the bias is missing"))
    clock.now += 60
    board.apply(post(1, seq=2, current=KATAS[1], streak=2))
    clock.now += 60
    passing = {**post_body(1, seq=3, current=KATAS[2], done=2), "hints": {KATAS[1]: 2}}
    board.apply(validate_post(passing, COURSE))
    passed = [e for e in board_events(board) if e[2] == "passed"]
    assert passed == [(client_id(1), KATAS[1], "passed", 3, 120.0, 2)]


def board_events(board: Room) -> list[tuple]:
    rows = [params for sql, params in board.take_writes() if sql.startswith("INSERT INTO events")]
    return [(r[0], r[1], r[2], r[4], r[5], r[6]) for r in rows]


# ------------------------------------------------------------ exports, secrets


def test_csv_neutralises_formulas_in_names():
    board, _ = room()
    board.apply(post(1, name='=HYPERLINK("http://evil","x")'))
    board.apply(post(2, name="+1+1"))
    board.apply(post(3, name="Ana & Ben"))
    names = [row[0] for row in csv.reader(io.StringIO(export.as_csv(board)))][1:]
    assert sorted(names) == ["'+1+1", '\'=HYPERLINK("http://evil","x")', "Ana & Ben"]


def test_state_is_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "room.json"
    store.write_json_atomic(path, {"pairs": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)  # the process dies between writing and renaming
    with pytest.raises(OSError):
        store.write_json_atomic(path, {"pairs": 2})
    assert json.loads(path.read_text()) == {"pairs": 1}  # the old file, whole
    assert list(tmp_path.iterdir()) == [path]  # and no temporary left behind


def test_secrets_are_compared_in_constant_time(monkeypatch, tmp_path):
    calls = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    secrets = auth.load_or_create(tmp_path)
    assert secrets.is_code(secrets.code.lower()) and not secrets.is_code("AAAAAA")
    assert secrets.is_admin(secrets.admin_token) and not secrets.is_admin(secrets.code)
    assert len(calls) == 4
    assert oct((tmp_path / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert auth.load_or_create(tmp_path) == secrets  # a restart keeps them


def test_the_named_mistake_travels_apart_from_the_message():
    import numpy as np

    from dojo.harness.outcomes import classify
    from dojo.testkit.checks import KataFailure, assert_close

    with pytest.raises(KataFailure) as caught:
        assert_close(
            np.array([4.0, 5.0]),
            np.array([4.0, 6.0]),
            call="double([2, 3])",
            mistakes={"added 2 instead of doubling": np.array([4.0, 5.0])},
        )
    assert caught.value.mistake == "added 2 instead of doubling"
    assert classify(caught.value).mistake == "added 2 instead of doubling"
    with pytest.raises(KataFailure) as plain:
        assert_close(np.array([4.0, 7.0]), np.array([4.0, 6.0]), call="double([2, 3])")
    assert plain.value.mistake is None and classify(plain.value).mistake is None
