"""``kata room serve``: the Starlette app of the live board, served by uvicorn.

Routes (``CODE`` is the join code, ``TOKEN`` the admin token):

===============================  ======================================  =========================================
``GET /board?code=CODE``         the projected board                     static HTML+JS+CSS from ``static/``
``GET /events?code=CODE``        server-sent events                      the projector's view on every change
``GET /api/board``               the projector's view as JSON            header ``X-Room-Code`` or ``?code=``
``GET /api/hello``               a join checks its code                  returns the rotation timer
``POST /api/post``               a pair's state after a run              see :mod:`.validation`
``POST /api/hand``               ``kata help "..."``: a hand raised      ``{"client", "message"}``; its place
``GET /api/hand?client=ID``      the pair's place in the help queue      for ``kata status``
``POST /api/leave``              ``kata room leave``: the row greys      ``{"client"}``
``GET /admin?token=TOKEN``       the facilitator's view and controls     :mod:`.admin` has the rest of ``/admin``
===============================  ======================================  =========================================

The board page needs the join code, not the admin token: everyone in the
room has the code (it is on the projector), while people elsewhere on a
shared network do not, so they see neither the pairs' names nor the board.

A post is checked in order, cheapest first: body size, the sender's address
(rate), the code (wrong codes have a rate of their own, so the code cannot be
guessed), the payload (:mod:`.validation`), the pair's own rate, the room's
rate, and for a pair the room has not seen yet, the rate of new pairs from
that address (so one address cannot fill the room with invented pairs). It
is committed to the SQLite file (:mod:`.database`) before the answer, so an
acknowledged post is never lost.

Idle and slow sockets are dealt with below the app (:mod:`.guard`); the
event streams of open boards are counted apart from everything else,
in all and per address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..course.curriculum import Curriculum
from . import admin, export, protocol
from .auth import Secrets, bearer, load_or_create
from .board import Room, RoomFull, Settings
from .guard import GuardSettings
from .limits import Bucket, Buckets, Limits
from .store import open_database
from .validation import CLIENT_ID, PayloadError, validate_post, validate_text

STATIC = Path(__file__).with_name("static")
HEARTBEAT_SECONDS = 5.0  # the board is re-sent this often even without posts (time on kata, stuck by minutes)
BODY_SECONDS = 10.0  # a request's body must arrive within this (a slow upload holds nothing longer)
SECURITY_HEADERS = [
    # Scripts and styles from this server only: a name that smuggled markup in could not run anything.
    (
        b"content-security-policy",
        (
            b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the board's URL holds the join code
    (b"cache-control", b"no-store"),
]


@dataclass
class RoomConfig:
    curriculum: Curriculum
    state_dir: Path
    settings: Settings = field(default_factory=Settings)
    limits: Limits = field(default_factory=Limits)
    guard: GuardSettings = field(default_factory=GuardSettings)
    trust_proxy: bool = False  # X-Forwarded-For names the client only behind a proxy the facilitator set up


class TooLarge(Exception):
    pass


class Streams:
    """Open event streams (boards), bounded in all and per address, apart from every other request."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.by_address: dict[str, int] = {}

    @property
    def open(self) -> int:
        return sum(self.by_address.values())

    def refusal(self, address: str) -> str | None:
        if self.open >= self.limits.max_streams:
            return "too many boards open"
        if self.by_address.get(address, 0) >= self.limits.streams_per_address:
            return "too many boards open from this address"
        return None

    def take(self, address: str):
        """Hold a slot now; returns the function that gives it back (calling it twice gives back once)."""
        self.by_address[address] = self.by_address.get(address, 0) + 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if given_back:
                return
            given_back = True
            self.by_address[address] -= 1
            if not self.by_address[address]:
                del self.by_address[address]

        return give_back


class RoomServer:
    """The room and everything around it that one server process holds."""

    def __init__(self, config: RoomConfig):
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.secrets: Secrets = load_or_create(self.state_dir)
        self.room = Room(config.curriculum, config.settings)
        self.database = open_database(self.room, self.state_dir)
        if self.room.rotation.get("minutes") != config.settings.rotate_minutes:
            self.room.restart_rotation(config.settings.rotate_minutes)
            self.database.write_now(self.room.take_writes())
        limits = config.limits
        self.by_client = Buckets(limits.client_rate, limits.client_burst)
        self.by_address = Buckets(limits.address_rate, limits.address_burst)
        self.new_pairs = Buckets(limits.new_pair_rate, limits.new_pair_burst)
        self.bad_codes = Buckets(limits.bad_code_rate, limits.bad_code_burst)
        self.bad_tokens = Buckets(limits.bad_code_rate, limits.bad_code_burst)  # the admin's own guesses
        self.everyone = Bucket(limits.global_rate, limits.global_burst)
        self.streams = Streams(limits)
        self.closing = False
        self.refused = {"size": 0, "rate": 0, "code": 0, "payload": 0}
        self._changed = asyncio.Event()
        self._snapshot_cache: dict[bool, tuple[tuple[int, int], bytes]] = {}
        self.exported: list[Path] = []

    # ------------------------------------------------------------ helpers

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def commit(self) -> None:
        """Write what the room changed, then wake the boards: nothing is shown that is not on disk."""
        await self.database.write(self.room.take_writes())
        self.changed()

    async def wait_for_change(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def snapshot_bytes(self, projector: bool = True) -> bytes:
        now = time.time()
        key = (self.room.version, int(now))
        cached = self._snapshot_cache.get(projector)
        if cached is None or cached[0] != key:
            data = json.dumps(self.room.snapshot(now, projector=projector), ensure_ascii=False).encode("utf-8")
            cached = self._snapshot_cache[projector] = (key, data)
        return cached[1]

    def refuse(self, why: str, status: int, message: str, retry_after: float | None = None) -> JSONResponse:
        self.refused[why] += 1
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
        return JSONResponse({"ok": False, "error": message}, status_code=status, headers=headers)

    def code_of(self, request: Request) -> str | None:
        return request.headers.get(protocol.CODE_HEADER) or request.query_params.get("code")

    def token_of(self, request: Request) -> str | None:
        return bearer(request.headers.get("authorization")) or request.query_params.get("token")

    def address(self, request: Request) -> str:
        # Without --trust-proxy, uvicorn reads no X-Forwarded-For: this is the socket's own peer.
        return request.client.host if request.client else "?"

    def check_code(self, request: Request) -> Response | None:
        """None when the request holds the join code; else the refusal."""
        return self._check_secret(
            request, self.bad_codes, self.secrets.is_code(self.code_of(request)), "wrong or missing join code"
        )

    def admin_refusal(self, request: Request) -> Response | None:
        return self._check_secret(
            request, self.bad_tokens, self.secrets.is_admin(self.token_of(request)), "this needs the admin token"
        )

    def _check_secret(self, request: Request, guesses: Buckets, right: bool, message: str) -> Response | None:
        # An address that has used up its wrong guesses is refused before its secret is even looked
        # at: otherwise a guesser would still learn which guess was right (a 200 among the 429s).
        bucket = guesses.get(self.address(request))
        if not bucket.available():
            return self.refuse("code", 429, "too many wrong codes from this address: wait", bucket.wait())
        if right:
            return None
        bucket.take()
        return self.refuse("code", 403, message)

    async def read_body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > protocol.MAX_BODY_BYTES):
            raise TooLarge
        body = bytearray()

        async def read() -> None:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > protocol.MAX_BODY_BYTES:  # a chunked body has no length to check up front
                    raise TooLarge

        try:
            await asyncio.wait_for(read(), BODY_SECONDS)
        except TimeoutError:
            raise TooLarge from None  # a body trickled in byte by byte is refused like one too large
        return bytes(body)

    async def read_json(self, request: Request) -> dict | Response:
        """The request's JSON object, or the refusal to answer with."""
        try:
            data = json.loads(await self.read_body(request) or b"{}")
        except TooLarge:
            return self.refuse("size", 413, f"a request is at most {protocol.MAX_BODY_BYTES} bytes, sent at once")
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]] nested too deep
            return self.refuse("payload", 400, "the body is not JSON")
        if not isinstance(data, dict):
            return self.refuse("payload", 422, "the body must be a JSON object")
        return data

    def client_refusal(self, request: Request, client) -> Response | None:
        if not isinstance(client, str) or not CLIENT_ID.fullmatch(client):
            return self.refuse("payload", 422, f"client must be {protocol.CLIENT_ID_LENGTH} lowercase hex digits")
        mine = self.by_client.get(client)
        if not mine.take():
            return self.refuse("rate", 429, "this pair asks too often", mine.wait())
        return None

    # ------------------------------------------------------------- routes

    async def post(self, request: Request) -> Response:
        address = self.by_address.get(self.address(request))
        if not address.take():
            return self.refuse("rate", 429, "too many posts from this address", address.wait())
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        data = await self.read_json(request)
        if isinstance(data, Response):
            return data
        try:
            post = validate_post(data, self.config.curriculum)
        except PayloadError as error:
            return self.refuse("payload", 422, str(error))
        refusal = self.client_refusal(request, post.client) or self.newcomer_refusal(request, post.client)
        if refusal is not None:
            return refusal
        if not self.everyone.take():
            return self.refuse("rate", 429, "the room is busy: retry in a moment", self.everyone.wait())
        try:
            fresh = self.room.apply(post)
        except RoomFull as error:
            return self.refuse("payload", 503, str(error))
        if fresh:
            await self.commit()
        return JSONResponse({"ok": True, "fresh": fresh, "rotation": self.room.rotation_state()})

    def newcomer_refusal(self, request: Request, client: str) -> Response | None:
        """A pair the room has not seen takes a token from its address's bucket of new pairs."""
        if client in self.room.pairs:
            return None
        bucket = self.new_pairs.get(self.address(request))
        if bucket.take():
            return None
        return self.refuse("rate", 429, "too many new pairs from this address: wait", bucket.wait())

    async def hand(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        if request.method == "GET":
            client = request.query_params.get("client", "")
            hand = self.room.hand_of(client) if CLIENT_ID.fullmatch(client) else None
            return JSONResponse(
                {
                    "ok": True,
                    "place": self.room.place_in_queue(client),
                    "of": len(self.room.hands),
                    "raised": hand["raised"] if hand else None,
                }
            )
        data = await self.read_json(request)
        if isinstance(data, Response):
            return data
        refusal = self.client_refusal(request, data.get("client"))
        if refusal is not None:
            return refusal
        try:
            message = validate_text(data.get("message"), "message", protocol.MAX_MESSAGE)
            hand = self.room.raise_hand(data["client"], message)
        except PayloadError as error:
            return self.refuse("payload", 422, str(error))
        except KeyError as error:
            return self.refuse("payload", 409, error.args[0])
        except RoomFull as error:
            return self.refuse("payload", 503, str(error))
        await self.commit()
        return JSONResponse({"ok": True, "place": self.room.place_in_queue(hand["client"]), "of": len(self.room.hands)})

    async def leave(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        data = await self.read_json(request)
        if isinstance(data, Response):
            return data
        refusal = self.client_refusal(request, data.get("client"))
        if refusal is not None:
            return refusal
        if self.room.leave(data["client"]):
            await self.commit()
        return JSONResponse({"ok": True})

    async def hello(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        return JSONResponse({"ok": True, "rotation": self.room.rotation_state(), "pairs": len(self.room.pairs)})

    async def board_json(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        return Response(self.snapshot_bytes(projector=True), media_type="application/json")

    async def page(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return PlainTextResponse(
                "This board needs the room's join code: open the URL printed by `kata room serve` (…/board?code=…).",
                status_code=refusal.status_code,
            )
        return FileResponse(STATIC / "board.html", media_type="text/html; charset=utf-8")

    async def events(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        return self.stream(request, projector=True)

    def stream(self, request: Request, projector: bool) -> Response:
        """The board as server-sent events, one stream slot held while it is open."""
        address = self.address(request)
        why = self.streams.refusal(address)
        if why is not None:
            return self.refuse("rate", 503, why, 10)
        give_back = self.streams.take(address)  # taken now, so that the next request already counts it

        async def events():
            try:
                yield b"retry: 2000\n\n"
                while not self.closing:
                    yield b"data: " + self.snapshot_bytes(projector) + b"\n\n"
                    await self.wait_for_change(HEARTBEAT_SECONDS)
                    await asyncio.sleep(0.05)  # a burst of posts becomes one update
            finally:
                give_back()

        stream = events()
        # A board that leaves before its first byte never starts the generator, so its finally never runs:
        # the slot is given back when the generator is collected instead.
        weakref.finalize(stream, give_back)
        return StreamingResponse(stream, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    async def index(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(protocol.BOARD_PATH + query, status_code=303)

    # --------------------------------------------------------------- life

    def export_all(self) -> list[Path]:
        paths = export.write_all(self.room, self.database, self.state_dir / "exports")
        self.exported += paths
        return paths

    def final_export(self) -> list[Path]:
        self.database.write_now(self.room.take_writes())
        paths = self.export_all()
        self.database.close()
        return paths


def security_headers(app):
    """ASGI middleware: the headers of :data:`SECURITY_HEADERS` on every response."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in names
                ]
            await send(message)

        return await app(scope, receive, send_with_headers)

    return wrapped


def create_app(config: RoomConfig, on_stop=None):
    """The ASGI app (Starlette wrapped in the security headers) and its :class:`RoomServer`."""
    server = RoomServer(config)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        server._changed = asyncio.Event()  # bound to the running loop
        yield
        paths = await asyncio.to_thread(server.final_export)
        if on_stop is not None:
            on_stop(paths)

    routes = [
        Route("/", server.index),
        Route(protocol.BOARD_PATH, server.page),
        Route("/events", server.events),
        Route("/api/board", server.board_json),
        Route(protocol.HELLO_PATH, server.hello),
        Route(protocol.POST_PATH, server.post, methods=["POST"]),
        Route(protocol.HAND_PATH, server.hand, methods=["GET", "POST"]),
        Route(protocol.LEAVE_PATH, server.leave, methods=["POST"]),
        *admin.routes(server),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    return security_headers(app), server


class PortBusy(Exception):
    """Another program (often a room already running) listens on the address and port."""


class StateInUse(Exception):
    """Another room server is using the state folder."""


def bind(host: str, port: int):
    """The listening socket, bound now: a busy port is found before anything is printed or written."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1024)
    except OSError as error:
        listener.close()
        raise PortBusy(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    listener.set_inheritable(True)
    return listener


@contextlib.contextmanager
def state_lock(state_dir: Path):
    """Hold ``state_dir/server.lock`` while serving: a second server on the same folder stops before touching it."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / "server.lock", "a+")
    try:
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no advisory lock; the port check alone guards it
            pass
        except OSError:
            raise StateInUse(f"another room server uses {state_dir}") from None
        yield
    finally:
        handle.close()


def serve(config: RoomConfig, host: str, port: int, on_ready=None, on_stop=None) -> None:
    """Run the room until Ctrl-C (or SIGTERM); the exports are written on the way out.

    The port is bound and the state folder locked first: a second server on a
    busy port raises :class:`PortBusy` (or :class:`StateInUse`) having printed
    and written nothing. ``on_ready(secrets)`` is called once the port is
    held (to print the code and the token), ``on_stop(paths)`` after the final export.
    """
    listener = bind(host, port)
    try:
        with state_lock(config.state_dir):
            app, server = create_app(config, on_stop=on_stop)
            if on_ready is not None:
                on_ready(server.secrets)
            run_uvicorn(app, server, config, listener)
    finally:
        listener.close()


def run_uvicorn(app, server: RoomServer, config: RoomConfig, listener) -> None:
    import signal

    import uvicorn

    from .guard import ConnectionGuard, guarded_protocol

    class Uvicorn(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            # Open boards are endless streams: end them first, or the graceful shutdown waits on them.
            server.closing = True
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(server.changed)
            super().handle_exit(sig, frame)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    guard = server.guard = ConnectionGuard(config.guard)
    # uvicorn raises the signal again once it has shut down: let SIGTERM end as quietly as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        Uvicorn(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,  # tokens in URLs stay out of logs
                http=guarded_protocol(guard),
                ws="none",
                lifespan="on",
                timeout_graceful_shutdown=2,
                timeout_keep_alive=5,
                limit_concurrency=None,  # uvicorn's own limit counts idle sockets: the guard bounds them instead
                proxy_headers=config.trust_proxy,  # then from a proxy on this machine only
                h11_max_incomplete_event_size=protocol.MAX_BODY_BYTES,
            )
        ).run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
