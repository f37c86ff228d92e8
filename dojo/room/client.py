"""The pairs' side of the room: membership in ``.katas/room.json``, joining, leaving, the lines a terminal prints.

Standard library only: the pytest hook imports this on every run. The file::

    {"url": "http://10.0.0.5:8765", "code": "K7M2QX", "name": "Ana & Ben",
     "client": "3f9c0a1b2d4e5f60",     # random, made at the first join, kept across leave/join
     "joined": true, "seq": 12,        # posts sent so far (the server ignores an older one)
     "last": {"ok": true, "when": 1764600000.0, "error": null},
     "rotation": {"minutes": 10, "round": 3, "left_s": 212.0}, "fetched": 1764600000.0}
"""

from __future__ import annotations

import http.client
import json
import math
import secrets
import time
import unicodedata
import urllib.error
import urllib.request
from pathlib import Path

from ..paths import ROOM_FILE, STATE_DIR
from . import protocol
from .store import read_json, write_json_atomic


class RoomError(Exception):
    """A join that did not work; the message says why."""


def room_path(root: Path) -> Path:
    return Path(root) / STATE_DIR / ROOM_FILE


def membership(root: Path) -> dict | None:
    """The room this checkout has joined, or None."""
    data = read_json(room_path(root))
    return data if data.get("joined") and data.get("url") and data.get("code") else None


def normalise_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    for suffix in (protocol.BOARD_PATH, "/"):
        url = url.removesuffix(suffix)
    return url.split("?")[0]


#: The most of a room's answer a pair ever reads (a post's answer is a few hundred bytes).
MAX_ANSWER_BYTES = 64 * 1024


def plain(text, limit: int = 80) -> str:
    """Text from the room (or about it) made safe for a learner's terminal: one line, no control characters.

    An answer is not trusted: a broken or hostile room could send escape
    codes (clear the screen, retitle the window) or pages of text.
    """
    kept = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs") else c for c in str(text or "")
    )
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


#: What a refusal means, in our own words: a room's own text is never printed in a learner's terminal
#: (a broken or hostile room could say anything there).
REFUSALS = {
    400: "the room could not read the post",
    403: "wrong join code: check it on the projector",
    404: "not a Neural Katas room at this URL?",
    409: "post a run first (run pytest once)",
    413: "the post was too large",
    422: "the room refused the post: is your course the facilitator's version?",
    429: "the room is busy",
    503: "the room is full or busy",
}


def refusal_text(status: int) -> str:
    return f"{REFUSALS.get(status, 'not a Neural Katas room?')} (HTTP {int(status)})"


#: The room is on the workshop's own network: never through an HTTP proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(
    url: str, code: str, path: str, body: dict | None = None, timeout: float = 5.0, client: str = ""
) -> tuple[int, dict, dict]:
    """One HTTP request to the room: (status, JSON answer, headers).

    Raises OSError when the room is unreachable *or answers with something
    that is not HTTP* (garbage bytes, a closed connection): to a pair, both
    mean the same, "the run was not posted".
    """
    data = json.dumps(body).encode("utf-8") if body is not None else None
    headers = {protocol.CODE_HEADER: code, "Content-Type": "application/json", protocol.CLIENT_HEADER: client}
    req = urllib.request.Request(url + path, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with _DIRECT.open(req, timeout=timeout) as answer:
            return answer.status, _json(answer.read(MAX_ANSWER_BYTES)), dict(answer.headers)
    except urllib.error.HTTPError as error:
        try:
            raw = error.read(MAX_ANSWER_BYTES)
        except (OSError, http.client.HTTPException):
            raw = b""
        return error.code, _json(raw), dict(error.headers or {})
    except http.client.HTTPException as error:  # BadStatusLine, IncompleteRead...: not OSErrors
        raise ConnectionError(f"the room's answer is not HTTP ({type(error).__name__})") from None


def _json(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def join(root: Path, url: str, code: str, name: str) -> dict:
    """Check the code with the room, then remember the room in ``.katas/room.json``."""
    url = normalise_url(url)
    name = " ".join(name.split())
    if not name or len(name) > protocol.MAX_NAME:
        raise RoomError(f"give the pair a name of 1 to {protocol.MAX_NAME} characters")
    try:
        status, answer, _ = request(url, code.strip().upper(), protocol.HELLO_PATH)
    except (OSError, ValueError) as error:
        raise RoomError(
            f"cannot reach the room at {url} ({plain(error)}): is the URL right, and the server running?"
        ) from None
    if status == 403:
        raise RoomError("the room refused the join code: check it on the projector")
    if status != 200 or not answer.get("ok"):
        raise RoomError(f"the room at {url} answered: {refusal_text(status)}")
    before = read_json(room_path(root))
    member = {
        "url": url,
        "code": code.strip().upper(),
        "name": name,
        "joined": True,
        "client": before.get("client") or secrets.token_hex(protocol.CLIENT_ID_LENGTH // 2),
        "seq": int(before.get("seq", 0)),
        "last": None,
        "rotation": answer.get("rotation"),
        "fetched": time.time(),
    }
    write_json_atomic(room_path(root), member)
    return member


def leave(root: Path) -> dict | None:
    """Stop posting; the client id is kept, so joining again continues the same row."""
    data = read_json(room_path(root))
    if not data.get("joined"):
        return None
    data["joined"] = False
    write_json_atomic(room_path(root), data)
    try:  # the board greys the row; a room that cannot be reached changes nothing here
        request(data["url"], data["code"], protocol.LEAVE_PATH, {"client": data.get("client")}, timeout=2.0)
    except (OSError, ValueError, KeyError):
        pass
    return data


def raise_hand(root: Path, message: str) -> dict:
    """``kata help "..."``: the pair's hand goes up in the room's help queue; returns ``{"place", "of"}``."""
    member = membership(root)
    if member is None:
        raise RoomError('not in a room: `kata room join URL CODE --name "Ana & Ben"` first')
    message = " ".join(str(message).split())
    if not message or len(message) > protocol.MAX_MESSAGE:
        raise RoomError(f"say what you need in 1 to {protocol.MAX_MESSAGE} characters")
    body = {"client": member["client"], "message": message}
    status, answer = _ask(member, protocol.HAND_PATH, body)
    if status != 200 or not isinstance(answer.get("place"), int):
        raise RoomError(f"the room did not take the hand: {refusal_text(status)}")
    data = read_json(room_path(root))
    data["hand"] = time.time()  # `kata status` asks the room for the hand's place only after one was raised
    write_json_atomic(room_path(root), data)
    return {"place": answer["place"], "of": answer.get("of")}


def queue_place(member: dict) -> int | None:
    """The pair's place in the help queue, asked of the room (None: no hand up, or no answer within 2 s)."""
    if not member.get("hand"):
        return None
    try:
        status, answer = _ask(member, f"{protocol.HAND_PATH}?client={member['client']}", None, timeout=2.0)
    except RoomError:
        return None
    place = answer.get("place")
    return place if status == 200 and isinstance(place, int) and not isinstance(place, bool) else None


def _ask(member: dict, path: str, body: dict | None, timeout: float = 5.0) -> tuple[int, dict]:
    try:
        status, answer, _ = request(member["url"], member["code"], path, body, timeout=timeout)
    except (OSError, ValueError) as error:
        raise RoomError(f"cannot reach the room at {plain(member['url'])} ({plain(error)})") from None
    return status, answer


def rotation_text(member: dict, now: float | None = None) -> str | None:
    """'swap in 3:20 (round 4, every 10 min)' from the cached timer, counted on from when it was fetched."""
    timer = _rotation(member.get("rotation"), member.get("fetched"))
    if timer is None:
        return None
    minutes, left, round_, fetched = timer
    period = minutes * 60
    left -= (time.time() if now is None else now) - fetched
    if left <= 0:
        turns = int(-left // period) + 1
        left += turns * period
        round_ += turns
    if period - left < 30:
        return f"swap driver and navigator now (round {round_})"
    return f"swap in {int(left // 60)}:{int(left % 60):02d} (round {round_}, every {minutes:g} min)"


def _rotation(rotation, fetched) -> tuple[float, float, int, float] | None:
    """(minutes, seconds left, round, when fetched) when the cached timer is sane; None for anything else.

    The timer comes from the room's answer: a room that lies (strings, NaN,
    a period of a million years) must not break a pair's ``pytest``.
    """
    if not isinstance(rotation, dict):
        return None
    try:
        minutes, left = float(rotation["minutes"]), float(rotation["left_s"])
        round_, fetched = int(rotation["round"]), float(fetched)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if not all(math.isfinite(v) for v in (minutes, left, fetched)) or not 0 < minutes <= 24 * 60:
        return None
    if not 0 <= left <= minutes * 60 or not 0 <= round_ < 10**6:
        return None
    return minutes, left, round_, fetched


def status_line(member: dict) -> str:
    """One line for a terminal: where the pair posts, how the last post went, the rotation timer."""
    parts = [f"room  {plain(member.get('name'), 60)} on {plain(member.get('url'), 60)}"]
    last = member.get("last")
    if isinstance(last, dict) and not last.get("ok"):
        parts.append(f"last post not delivered ({plain(last.get('error'))})")
    rotation = rotation_text(member)
    if rotation:
        parts.append(rotation)
    return " · ".join(parts)
