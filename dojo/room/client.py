"""The pairs' side of the room: membership in ``.katas/room.json``, joining, leaving, the lines a terminal prints.

Standard library only: the pytest hook imports this on every run. The file::

    {"url": "http://10.0.0.5:8765", "code": "K7M2QX", "name": "Ana & Ben",
     "client": "3f9c0a1b2d4e5f60",     # random, made at the first join, kept across leave/join
     "joined": true, "seq": 12,        # posts sent so far (the server ignores an older one)
     "last": {"ok": true, "when": 1764600000.0, "error": null},
     "rotation": {"minutes": 10, "round": 3, "left_s": 212.0}, "fetched": 1764600000.0}
"""

from __future__ import annotations

import json
import secrets
import time
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


#: The room is on the workshop's own network: never through an HTTP proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(
    url: str, code: str, path: str, body: dict | None = None, timeout: float = 5.0, client: str = ""
) -> tuple[int, dict, dict]:
    """One HTTP request to the room: (status, JSON answer, headers). Raises OSError when unreachable."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    headers = {protocol.CODE_HEADER: code, "Content-Type": "application/json", protocol.CLIENT_HEADER: client}
    req = urllib.request.Request(url + path, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with _DIRECT.open(req, timeout=timeout) as answer:
            return answer.status, _json(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read()), dict(error.headers or {})


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
            f"cannot reach the room at {url} ({error}): is the URL right, and the server running?"
        ) from None
    if status == 403:
        raise RoomError("the room refused the join code: check it on the projector")
    if status != 200 or not answer.get("ok"):
        raise RoomError(f"the room at {url} answered {status}: {answer.get('error', 'not a Neural Katas room?')}")
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
    return data


def rotation_text(member: dict, now: float | None = None) -> str | None:
    """'swap in 3:20 (round 4, every 10 min)' from the cached timer, counted on from when it was fetched."""
    rotation, fetched = member.get("rotation"), member.get("fetched")
    if not isinstance(rotation, dict) or not rotation.get("minutes") or not fetched:
        return None
    period = float(rotation["minutes"]) * 60
    gone = (time.time() if now is None else now) - float(fetched)
    left = float(rotation["left_s"]) - gone
    round_ = int(rotation["round"])
    if left <= 0:
        turns = int(-left // period) + 1
        left += turns * period
        round_ += turns
    if period - left < 30:
        return f"swap driver and navigator now (round {round_})"
    return f"swap in {int(left // 60)}:{int(left % 60):02d} (round {round_}, every {rotation['minutes']:g} min)"


def status_line(member: dict) -> str:
    """One line for a terminal: where the pair posts, how the last post went, the rotation timer."""
    parts = [f"room  {member['name']} on {member['url']}"]
    last = member.get("last")
    if isinstance(last, dict) and not last.get("ok"):
        parts.append(f"last post not delivered ({last.get('error')})")
    rotation = rotation_text(member)
    if rotation:
        parts.append(rotation)
    return " · ".join(parts)
