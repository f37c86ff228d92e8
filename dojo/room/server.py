"""``kata room serve``: the Starlette app of the live board, served by uvicorn.

Routes (``CODE`` is the join code, ``TOKEN`` the admin token):

=========================  ===========================  ==============================================
``GET /board?code=CODE``   the board page               static HTML+JS+CSS from ``static/``, no CDN
``GET /events?code=CODE``  server-sent events           the board as JSON on every change, every 5 s
``GET /api/board``         the board as JSON            header ``X-Room-Code`` or ``?code=``
``GET /api/hello``         a join checks its code       returns the rotation timer
``POST /api/post``         a pair's state after a run   header ``X-Room-Code``; see :mod:`.validation`
``GET /admin/export.EXT``  json, csv or png             ``Authorization: Bearer TOKEN`` (or ``?token=``)
``POST /admin/reset``      empty the board              bearer token
``POST /admin/rotation``   restart the timer            bearer token; body ``{"minutes": 10}``
=========================  ===========================  ==============================================

The board page needs the join code, not the admin token: everyone in the
room has the code (it is on the projector), while people elsewhere on a
shared network do not, so they see neither the pairs' names nor the board.

A post is checked in order, cheapest first: body size, the sender's address
(rate), the code (wrong codes have a rate of their own, so the code cannot be
guessed), the payload (:mod:`.validation`), the pair's own rate, the room's
rate. It is written to disk before the answer, so an acknowledged post is
never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
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
from . import export, protocol
from .auth import Secrets, bearer, load_or_create
from .board import Room, RoomFull, Settings
from .limits import Bucket, Buckets, Limits
from .store import BoardStore
from .validation import PayloadError, validate_post

STATIC = Path(__file__).with_name("static")
HEARTBEAT_SECONDS = 5.0  # the board is re-sent this often even without posts (time on kata, stuck by minutes)
SECURITY_HEADERS = [
    # Scripts and styles from this server only: a name that smuggled markup in could not run anything.
    (
        b"content-security-policy",
        (
            b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
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


class TooLarge(Exception):
    pass


class RoomServer:
    """The room and everything around it that one server process holds."""

    def __init__(self, config: RoomConfig):
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.secrets: Secrets = load_or_create(self.state_dir)
        self.room = Room(config.curriculum, config.settings)
        self.store = BoardStore(self.state_dir)
        saved = self.store.load()
        if saved:
            self.room.load(saved)
            if self.room.rotation.get("minutes") != config.settings.rotate_minutes:
                self.room.restart_rotation(config.settings.rotate_minutes)
        limits = config.limits
        self.by_client = Buckets(limits.client_rate, limits.client_burst)
        self.by_address = Buckets(limits.address_rate, limits.address_burst)
        self.bad_codes = Buckets(limits.bad_code_rate, limits.bad_code_burst)
        self.bad_tokens = Buckets(limits.bad_code_rate, limits.bad_code_burst)  # the admin's own guesses
        self.everyone = Bucket(limits.global_rate, limits.global_burst)
        self.streams = 0
        self.closing = False
        self.refused = {"size": 0, "rate": 0, "code": 0, "payload": 0}
        self._changed = asyncio.Event()
        self._snapshot_cache: tuple[tuple[int, int], bytes] | None = None
        self.exported: list[Path] = []

    # ------------------------------------------------------------ helpers

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def snapshot_bytes(self) -> bytes:
        now = time.time()
        key = (self.room.version, int(now))
        if self._snapshot_cache is None or self._snapshot_cache[0] != key:
            self._snapshot_cache = (key, json.dumps(self.room.snapshot(now), ensure_ascii=False).encode("utf-8"))
        return self._snapshot_cache[1]

    def refuse(self, why: str, status: int, message: str, retry_after: float | None = None) -> JSONResponse:
        self.refused[why] += 1
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
        return JSONResponse({"ok": False, "error": message}, status_code=status, headers=headers)

    def code_of(self, request: Request) -> str | None:
        return request.headers.get(protocol.CODE_HEADER) or request.query_params.get("code")

    def token_of(self, request: Request) -> str | None:
        return bearer(request.headers.get("authorization")) or request.query_params.get("token")

    def address(self, request: Request) -> str:
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
        async for chunk in request.stream():
            body += chunk
            if len(body) > protocol.MAX_BODY_BYTES:  # a chunked body has no length to check up front
                raise TooLarge
        return bytes(body)

    # ------------------------------------------------------------- routes

    async def post(self, request: Request) -> Response:
        try:
            body = await self.read_body(request)
        except TooLarge:
            return self.refuse("size", 413, f"a post is at most {protocol.MAX_BODY_BYTES} bytes")
        address = self.by_address.get(self.address(request))
        if not address.take():
            return self.refuse("rate", 429, "too many posts from this address", address.wait())
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[...]]]] nested too deep
            return self.refuse("payload", 400, "the body is not JSON")
        try:
            post = validate_post(data, self.config.curriculum)
        except PayloadError as error:
            return self.refuse("payload", 422, str(error))
        mine = self.by_client.get(post.client)
        if not mine.take():
            return self.refuse("rate", 429, "this pair posts too often", mine.wait())
        if not self.everyone.take():
            return self.refuse("rate", 429, "the room is busy: retry in a moment", self.everyone.wait())
        try:
            fresh = self.room.apply(post)
        except RoomFull as error:
            return self.refuse("payload", 503, str(error))
        if fresh:
            await self.store.save(self.room)
            self.changed()
        return JSONResponse({"ok": True, "fresh": fresh, "rotation": self.room.rotation_state()})

    async def hello(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        return JSONResponse({"ok": True, "rotation": self.room.rotation_state(), "pairs": len(self.room.pairs)})

    async def board_json(self, request: Request) -> Response:
        refusal = self.check_code(request)
        if refusal is not None:
            return refusal
        return Response(self.snapshot_bytes(), media_type="application/json")

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
        if self.streams >= self.config.limits.max_streams:
            return self.refuse("rate", 503, "too many boards open", 10)

        async def stream():
            self.streams += 1
            try:
                yield b"retry: 2000\n\n"
                while not self.closing:
                    yield b"data: " + self.snapshot_bytes() + b"\n\n"
                    await self.wait_for_change(HEARTBEAT_SECONDS)
                    await asyncio.sleep(0.05)  # a burst of posts becomes one update
            finally:
                self.streams -= 1

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})

    async def export_file(self, request: Request) -> Response:
        refusal = self.admin_refusal(request)
        if refusal is not None:
            return refusal
        kind = request.path_params["kind"]
        if kind == "json":
            return JSONResponse(export.as_json(self.room))
        if kind == "csv":
            return Response(
                export.as_csv(self.room),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="room.csv"'},
            )
        if kind == "png":
            with tempfile.TemporaryDirectory() as folder:
                path = await asyncio.to_thread(export.as_png, self.room, Path(folder) / "room.png")
                return Response(path.read_bytes(), media_type="image/png")
        return PlainTextResponse("export.json, export.csv or export.png", status_code=404)

    async def reset(self, request: Request) -> Response:
        refusal = self.admin_refusal(request)
        if refusal is not None:
            return refusal
        self.exported += await asyncio.to_thread(export.write_all, self.room, self.state_dir / "exports")
        self.room.reset()
        await self.store.save(self.room)
        self.changed()
        return JSONResponse({"ok": True, "saved_before_reset": [p.name for p in self.exported[-3:]]})

    async def rotation(self, request: Request) -> Response:
        refusal = self.admin_refusal(request)
        if refusal is not None:
            return refusal
        try:
            body = json.loads(await self.read_body(request) or b"{}")
            minutes = float(body.get("minutes", self.room.rotation["minutes"]))
            if not 0 <= minutes <= 240:
                raise ValueError
        except (TooLarge, ValueError, TypeError, AttributeError):
            return self.refuse("payload", 422, 'send {"minutes": M} with 0 <= M <= 240 (0: no timer)')
        self.room.restart_rotation(minutes)
        await self.store.save(self.room)
        self.changed()
        return JSONResponse({"ok": True, "rotation": self.room.rotation_state()})

    async def index(self, request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(protocol.BOARD_PATH + query, status_code=303)

    # --------------------------------------------------------------- life

    def final_export(self) -> list[Path]:
        self.store.save_now(self.room)
        self.exported += export.write_all(self.room, self.state_dir / "exports")
        return self.exported


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
        Route("/admin/export.{kind}", server.export_file),
        Route("/admin/reset", server.reset, methods=["POST"]),
        Route("/admin/rotation", server.rotation, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    return security_headers(app), server


def serve(config: RoomConfig, host: str, port: int, on_ready=None, on_stop=None) -> None:
    """Run the room until Ctrl-C (or SIGTERM); the exports are written on the way out.

    ``on_ready(secrets)`` is called before the server listens (to print the code and the token),
    ``on_stop(paths)`` after the final export.
    """
    import signal

    import uvicorn

    app, server = create_app(config, on_stop=on_stop)

    class Uvicorn(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            # Open boards are endless streams: end them first, or the graceful shutdown waits on them.
            server.closing = True
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(server.changed)
            super().handle_exit(sig, frame)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    if on_ready is not None:
        on_ready(server.secrets)
    # uvicorn raises the signal again once it has shut down: let SIGTERM end as quietly as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        Uvicorn(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,  # tokens in URLs stay out of logs
                http="h11",
                ws="none",
                lifespan="on",
                timeout_graceful_shutdown=2,
                timeout_keep_alive=10,
                limit_concurrency=400,
                h11_max_incomplete_event_size=protocol.MAX_BODY_BYTES,
            )
        ).run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
