"""The facilitator's side of the room: every route under ``/admin``, each behind the admin token.

=================================  ============================================================
``GET /admin?token=TOKEN``         the facilitator's view: names always, the controls
``GET /admin/board``               that view as JSON; ``/admin/events``: as server-sent events
``GET /admin/katas``               what the room learned about each kata (:mod:`.analysis`)
``GET /admin/export.KIND``         ``json``, ``csv``, ``png``, ``katas.html``, ``katas.csv``
``POST /admin/reset``              a new session (everything exported first)
``POST /admin/rotation``           restart the timer: ``{"minutes": 10}``
``POST /admin/settings``           ``{"hide_names": true}``: the projector shows no name next to STUCK
``POST /admin/hands/ID/done``      a hand is dealt with: it leaves the queue
``POST /admin/pairs/KEY/remove``   a row leaves the board (it comes back if the pair posts again)
=================================  ============================================================

The token goes in an ``Authorization: Bearer`` header, or ``?token=`` where
a browser cannot set a header (the page and its event stream).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import analysis, export


def routes(server) -> list[Route]:
    def guarded(handler):
        async def route(request: Request) -> Response:
            refusal = server.admin_refusal(request)
            if refusal is not None:
                return refusal
            return await handler(server, request)

        return route

    return [
        Route("/admin", guarded(page)),
        Route("/admin/board", guarded(board)),
        Route("/admin/events", guarded(events)),
        Route("/admin/katas", guarded(katas)),
        Route("/admin/export.{kind}", guarded(export_file)),
        Route("/admin/reset", guarded(reset), methods=["POST"]),
        Route("/admin/rotation", guarded(rotation), methods=["POST"]),
        Route("/admin/settings", guarded(settings), methods=["POST"]),
        Route("/admin/hands/{hand:int}/done", guarded(hand_done), methods=["POST"]),
        Route("/admin/pairs/{key}/remove", guarded(remove), methods=["POST"]),
    ]


async def page(server, request: Request) -> Response:
    from .server import STATIC

    return FileResponse(STATIC / "admin.html", media_type="text/html; charset=utf-8")


async def board(server, request: Request) -> Response:
    return Response(server.snapshot_bytes(projector=False), media_type="application/json")


async def events(server, request: Request) -> Response:
    return server.stream(request, projector=False)


async def katas(server, request: Request) -> Response:
    report = await asyncio.to_thread(analysis.from_database, server.database, server.config.curriculum)
    return JSONResponse(report)


async def export_file(server, request: Request) -> Response:
    kind = request.path_params["kind"]
    room = server.room
    if kind == "json":
        return JSONResponse(await asyncio.to_thread(export.as_json, room, server.database))
    if kind == "csv":
        return _download(export.as_csv(room), "text/csv; charset=utf-8", "room.csv")
    if kind in ("katas.html", "katas.csv"):
        report = await asyncio.to_thread(analysis.from_database, server.database, server.config.curriculum)
        if kind == "katas.csv":
            return _download(analysis.as_csv(report), "text/csv; charset=utf-8", "katas.csv")
        # Its own policy: the page's style is inline, and nothing else may load or run.
        policy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        return Response(
            analysis.as_html(report),
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": policy},
        )
    if kind == "png":
        with tempfile.TemporaryDirectory() as folder:
            path = await asyncio.to_thread(export.as_png, room, Path(folder) / "room.png")
            return Response(path.read_bytes(), media_type="image/png")
    return PlainTextResponse("export.json, .csv, .png, .katas.html or .katas.csv", status_code=404)


def _download(text: str, media_type: str, name: str) -> Response:
    return Response(text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def reset(server, request: Request) -> Response:
    await server.database.write(server.room.take_writes())
    written = await asyncio.to_thread(server.export_all)
    server.room.reset()
    await server.commit()
    return JSONResponse({"ok": True, "saved_before_reset": [p.name for p in written]})


async def rotation(server, request: Request) -> Response:
    body = await server.read_json(request)
    if isinstance(body, Response):
        return body
    try:
        minutes = float(body.get("minutes", server.room.rotation["minutes"]))
        if not 0 <= minutes <= 240:
            raise ValueError
    except (ValueError, TypeError):
        return server.refuse("payload", 422, 'send {"minutes": M} with 0 <= M <= 240 (0: no timer)')
    server.room.restart_rotation(minutes)
    await server.commit()
    return JSONResponse({"ok": True, "rotation": server.room.rotation_state()})


async def settings(server, request: Request) -> Response:
    body = await server.read_json(request)
    if isinstance(body, Response):
        return body
    if not isinstance(body.get("hide_names"), bool):
        return server.refuse("payload", 422, 'send {"hide_names": true} or {"hide_names": false}')
    server.room.hide_names(body["hide_names"])
    await server.commit()
    return JSONResponse({"ok": True, "hide_names": server.room.settings.hide_names})


async def hand_done(server, request: Request) -> Response:
    if not server.room.finish_hand(request.path_params["hand"]):
        return server.refuse("payload", 404, "no such hand in the queue")
    await server.commit()
    return JSONResponse({"ok": True, "queue": len(server.room.hands)})


async def remove(server, request: Request) -> Response:
    if not server.room.remove(request.path_params["key"]):
        return server.refuse("payload", 404, "no such row on the board")
    await server.commit()
    return JSONResponse({"ok": True, "pairs": len(server.room.pairs)})
