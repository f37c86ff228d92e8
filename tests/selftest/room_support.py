"""Helpers for the room's tests: a real server on 127.0.0.1 in a process of its own, and pairs that post to it.

The server is started the way `kata room serve` starts it (:func:`dojo.room.server.serve`),
with the limits and settings a test needs, on a free port of the loopback
interface only. Posts go over real HTTP; a test that needs a second network
address uses 127.0.0.2 (all of 127/8 is loopback on Linux).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Self

from dojo.course.curriculum import load
from dojo.room import protocol

ROOT = Path(__file__).resolve().parents[2]
COURSE = load(ROOT / "curriculum")
KATAS = [kata.id for kata in COURSE.katas]

LAUNCH = """
import json, sys
from pathlib import Path
from typing import Self
from dojo.course.curriculum import load
from dojo.room.board import Settings
from dojo.room.guard import GuardSettings
from dojo.room.limits import Limits
from dojo.room.server import RoomConfig, serve
options = json.loads(sys.argv[1])
config = RoomConfig(curriculum=load(Path(options["curriculum"])), state_dir=Path(options["state_dir"]),
                    settings=Settings(**options["settings"]), limits=Limits(**options["limits"]),
                    guard=GuardSettings(**options["guard"]), trust_proxy=options["trust_proxy"])
serve(config, "127.0.0.1", options["port"], on_ready=lambda s: print("ready", flush=True),
      on_stop=lambda paths: print("exported", json.dumps([str(p) for p in paths]), flush=True))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


class RoomProcess:
    """``with RoomProcess(tmp_path) as room:`` a running server; ``room.stop()`` ends it like Ctrl-C.

    Leaving the ``with`` block ends it the same way with ``clean_stop=True`` (the server then exports the
    board: JSON, CSV, the Matplotlib PNG, the report and the database, about a second of CPU); otherwise
    it is killed, as a crash would end it: for the tests that read nothing a clean stop writes.
    test_room_server.py's restart test proves both the clean stop's exports and that a crash loses
    nothing the server acknowledged.
    """

    def __init__(
        self,
        state_dir: Path,
        curriculum: Path = ROOT / "curriculum",
        port: int | None = None,
        settings: dict | None = None,
        limits: dict | None = None,
        guard: dict | None = None,
        trust_proxy: bool = False,
        clean_stop: bool = False,
    ):
        from dojo.room.board import Settings
        from dojo.room.guard import GuardSettings
        from dojo.room.limits import Limits

        self.state_dir = Path(state_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.options = {
            "curriculum": str(curriculum),
            "state_dir": str(state_dir),
            "port": self.port,
            "settings": {**asdict(Settings()), **(settings or {})},
            "limits": {**asdict(Limits()), **(limits or {})},
            "guard": {**asdict(GuardSettings()), **(guard or {})},
            "trust_proxy": trust_proxy,
        }
        self.process: subprocess.Popen | None = None
        self.output = ""
        self.clean_stop = clean_stop

    def start(self) -> Self:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, json.dumps(self.options)],
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # The port is bound before the secrets are written (a busy port changes nothing): wait for both.
        secrets_file = self.state_dir / "secrets.json"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the room did not start:\n{self.process.stdout.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                json.loads(secrets_file.read_text())["admin_token"]
                break
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        else:
            raise RuntimeError("the room did not listen within 300 s")
        secrets = json.loads((self.state_dir / "secrets.json").read_text())
        self.code, self.token = secrets["code"], secrets["admin_token"]
        return self

    def stop(self) -> str:
        """SIGINT, as Ctrl-C; returns what the server printed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.output, _ = self.process.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.output, _ = self.process.communicate()
        return self.output

    def __enter__(self) -> Self:
        return self.start()

    def kill(self) -> str:
        """SIGKILL, as a crash; returns what the server printed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.output, _ = self.process.communicate()
        return self.output

    def __exit__(self, *exc) -> None:
        if self.clean_stop:
            self.stop()
        else:
            self.kill()

    # --------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict | None = None,
        headers: dict | None = None,
        source: str = "127.0.0.1",
    ) -> tuple[int, bytes, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(source, 0))
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        try:
            connection.request(method, path, body=data, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, answer.read(), {k.lower(): v for k, v in answer.getheaders()}
        finally:
            connection.close()

    def post(self, body, code: str | None = None, source: str = "127.0.0.1") -> tuple[int, dict]:
        status, raw, _ = self.request(
            "POST",
            protocol.POST_PATH,
            body,
            source=source,
            headers={protocol.CODE_HEADER: self.code if code is None else code, "Content-Type": "application/json"},
        )
        return status, json.loads(raw) if raw.startswith(b"{") else {}

    def board(self) -> dict:
        status, raw, _ = self.request("GET", "/api/board", headers={protocol.CODE_HEADER: self.code})
        assert status == 200, raw
        return json.loads(raw)

    def admin(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, bytes, dict]:
        return self.request(
            method, path, body, headers={"Authorization": f"Bearer {self.token if token is None else token}"}
        )

    def pair(self, name: str) -> dict | None:
        return next((row for row in self.board()["pairs"] if row["name"] == name), None)


def client_id(n: int) -> str:
    return f"{n:016x}"


def post_body(
    n: int,
    seq: int = 1,
    current: str = KATAS[1],
    state: str = "failing",
    streak: int = 1,
    mistake: str | None = None,
    name: str | None = None,
    done: int = 1,
) -> dict:
    katas = {kata_id: "passed" for kata_id in KATAS[:done]}
    if current is not None:
        katas[current] = state
    return {
        "v": protocol.VERSION,
        "client": client_id(n),
        "name": name or f"pair {n}",
        "seq": seq,
        "current": current,
        "streak": streak,
        "checks": [1, 4],
        "mistake": mistake,
        "katas": katas,
    }


#: A simulated pair in a process of its own: joins with `kata room join`'s code path, then sends
#: its posts through the real detached poster (python -m dojo.room.poster), one after another.
PAIR = """
import json, subprocess, sys
from pathlib import Path
from typing import Self
from dojo.room import client
url, code, root, posts = sys.argv[1], sys.argv[2], Path(sys.argv[3]), json.loads(sys.argv[4])
(root / ".katas").mkdir(parents=True, exist_ok=True)
member = client.join(root, url, code, posts[0]["name"])
codes = []
for body in posts:
    body["client"] = member["client"]
    run = subprocess.run([sys.executable, "-m", "dojo.room.poster", str(root)], input=json.dumps(body).encode())
    codes.append(run.returncode)
print(json.dumps({"client": member["client"], "codes": codes}))
"""


def start_pair(room: RoomProcess, root: Path, posts: list[dict]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PAIR, room.url, room.code, str(root), json.dumps(posts)],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 600) -> dict:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def toy_room_course(root: Path, katas: str) -> Path:
    """The room tests' toy course at ``root``: kata ``double`` (with a named mistake) and ``square``,
    the harness and the room hook from its conftest (no installed plugins), ``katas/toy.py`` = ``katas``."""
    from toy_course import write_course

    write_course(
        root,
        ("double", "square"),
        ("double_named_mistake", "square"),
        ini="testpaths = tests\n",
        installed_plugins=False,  # the harness and the room come from the course's conftest
    )
    (root / "katas").mkdir()
    (root / "katas" / "toy.py").write_text(katas)
    return root
