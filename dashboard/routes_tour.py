"""What anyone may see: the visitor tour, the device list, the live WebSocket and the assets."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from dashboard.context import Dashboard
from dashboard.device_words import visitor_device
from dashboard.live import Subscriber
from dashboard.refusals import Refusal
from dashboard.security import TECH_ROLES, current_user, dashboard_of, require_csrf, subscribe_live
from dashboard.static_files import page, static_bytes, static_text
from dashboard.story_player import StoryRunner
from dashboard.visitor_phone import PhoneSubscriber, qr_svg

log = logging.getLogger(__name__)
router = APIRouter()

# Served assets: name -> media type. A fixed list, so no path ever reaches the file system.
ASSETS = {
    "common.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "tour.js": "text/javascript; charset=utf-8",
    "tour.css": "text/css; charset=utf-8",
    "visitor.js": "text/javascript; charset=utf-8",
    "care.js": "text/javascript; charset=utf-8",
    "tech.js": "text/javascript; charset=utf-8",
    "tech-why.js": "text/javascript; charset=utf-8",
    "tech-onboard.js": "text/javascript; charset=utf-8",
    "tech.css": "text/css; charset=utf-8",
    "account.js": "text/javascript; charset=utf-8",
    "devices.js": "text/javascript; charset=utf-8",
    "devices.css": "text/css; charset=utf-8",
    "routine.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def tour_page() -> HTMLResponse:
    return page("tour.html")


@router.get("/devices", response_class=HTMLResponse, include_in_schema=False)
async def devices_page() -> HTMLResponse:
    return page("devices.html")


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise Refusal(404, "api.no_file")
    body: str | bytes = (static_bytes(name) if ASSETS[name].startswith("image/png")
                         else static_text(name))
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})


@router.get("/manifest.webmanifest", include_in_schema=False)
async def manifest() -> Response:
    return Response(static_text("manifest.webmanifest"), media_type="application/manifest+json")


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    # Served from the root so its scope can cover the caregiver page at /zorg.
    return Response(static_text("sw.js"), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/api/tour", tags=["tour"])
async def tour(request: Request) -> dict[str, object]:
    """The tour's snapshot: floor plan, devices with live state, narrations, active alerts.

    Visitor-safe: the resident by pseudonym only, no caregiver names or phone numbers.
    """
    return snapshot(dashboard_of(request))


def snapshot(d: Dashboard) -> dict[str, object]:
    """The tour's picture: the stage (live home or the story's sandbox) when stories play."""
    if d.stories is not None:
        return d.stories.snapshot()
    return live_snapshot(d)


def live_snapshot(d: Dashboard) -> dict[str, object]:
    """The live home's picture (the device list, and the tour without stories)."""
    snap = d.feed.tour_snapshot()
    snap.update({"story": None, "story_step": None, "stories_available": False, "loop": False,
                 "visitor": None, "sandbox": False, "clock_speed": 1.0})
    return snap


@router.get("/api/tour/stories", tags=["tour"])
async def stories(request: Request) -> list[dict[str, object]]:
    """Demo situations the tour guide can play (empty when no simulated home runs)."""
    d = dashboard_of(request)
    return d.stories.stories() if d.stories is not None else []


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


def _runner(request: Request) -> StoryRunner:
    d = dashboard_of(request)
    if d.stories is None:
        raise Refusal(409, "api.no_simulated_home")
    return d.stories




@router.post("/api/tour/stories/{name}", tags=["tour"], status_code=202,
             dependencies=[Depends(require_csrf)])
async def play_story(name: str, request: Request) -> dict[str, object]:
    """Play a demo situation in a sandbox of its own (the live home is not touched)."""
    runner = _runner(request)
    outcome = runner.request(name, _address(request))
    if outcome == "unknown":
        raise Refusal(404, "api.no_story", name=name)
    if outcome == "busy":
        raise Refusal(409, "api.story_playing", name=runner.playing)
    if outcome == "limited":
        raise Refusal(429, "api.too_many_stories")
    return {"story": name, "status": outcome}


class LoopRequest(BaseModel):
    on: bool


@router.post("/api/tour/loop", tags=["tour"], dependencies=[Depends(require_csrf)])
async def loop(body: LoopRequest, request: Request) -> dict[str, object]:
    """Chain every story in an unattended loop (a kiosk screen), or stop after the current one."""
    if _runner(request).set_loop(body.on, _address(request)) == "limited":
        raise Refusal(429, "api.too_many_stories")
    return {"loop": body.on}


@router.post("/api/tour/reset", tags=["tour"], dependencies=[Depends(require_csrf)])
async def reset(request: Request) -> dict[str, object]:
    """"Opnieuw beginnen": stop the story and the loop; the tour screen starts afresh."""
    if _runner(request).reset(_address(request)) == "limited":
        raise Refusal(429, "api.too_many_stories")
    return {"reset": True}


@router.get("/api/tour/visitor-qr.svg", tags=["tour"])
async def visitor_qr(request: Request, t: str = "") -> Response:
    """The QR code of the current story's visitor page (404 once the story is over)."""
    phones = _runner(request).phones
    if not phones.valid(t):
        raise Refusal(404, "api.no_story_playing")
    url = str(request.base_url).rstrip("/") + f"/bezoeker/{t}"
    return Response(qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/bezoeker/{token}", response_class=HTMLResponse, include_in_schema=False)
async def visitor_page(token: str) -> HTMLResponse:
    # The page itself holds nothing; it asks the API, which checks the token.
    return page("visitor.html")


@router.get("/api/visitor/{token}", tags=["tour"])
async def visitor_state(token: str, request: Request) -> dict[str, object]:
    """The visitor page's picture: the story's title and its alerts (410 once it is over)."""
    phones = _runner(request).phones
    if not phones.valid(token):
        raise Refusal(410, "api.demo_over")
    return phones.snapshot()


@router.post("/api/visitor/{token}/alerts/{alert_id}/ack", tags=["tour"],
             dependencies=[Depends(require_csrf)])
async def visitor_ack(token: str, alert_id: str, request: Request) -> dict[str, object]:
    """The visitor taps "Ik ga erheen": acknowledged in the story's sandbox, nowhere else."""
    phones = _runner(request).phones
    if not phones.valid(token):
        raise Refusal(410, "api.demo_over")
    if not await phones.acknowledge(alert_id):
        raise Refusal(409, "api.alert_not_open")
    return {"acknowledged": alert_id}


@router.get("/api/devices", tags=["devices"])
async def devices(request: Request) -> list[dict[str, object]]:
    """Every configured device: its name and what its state means (Dutch and English); for
    technicians and admins also the raw attributes and payload errors."""
    d = dashboard_of(request)
    user = await current_user(request)
    staff = user is not None and user.role in TECH_ROLES
    out = []
    for st in d.hub.state.all():
        item = visitor_device(st, d.hub.config, d.narrator.device_name(st.device, "en"))
        if staff:
            item.update({k: v for k, v in st.as_dict().items() if k not in item})
        out.append(item)
    return out


@router.get("/api/health", tags=["devices"])
async def health(request: Request) -> dict[str, object]:
    """The hub's own health: link, message and error counters."""
    hub = dashboard_of(request).hub
    link_connected = getattr(hub.link, "connected", None)
    return {
        "mqtt_connected": link_connected.is_set() if link_connected is not None else None,
        "messages": hub.messages,
        "payload_errors": hub.payload_errors,
        "time": hub.clock.now().isoformat(),
    }


class _Closed(Exception):
    """The page went away."""


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    """A snapshot, then deltas. Send {"type": "resync"} to get a fresh snapshot."""
    origin = ws.headers.get("origin")
    if origin and urlsplit(origin).netloc != ws.headers.get("host"):
        # Another site's page may not read the live feed with this browser's cookies.
        await ws.close(code=1008)
        return
    d = dashboard_of(ws)
    user = await current_user(ws)
    staff = user is not None and user.role in TECH_ROLES
    await ws.accept()
    sub = await subscribe_live(ws, user, staff)  # audited; ends when the session does
    try:
        await ws.send_json({**live_snapshot(d), "staff": staff})
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_pump(ws, d, sub), name="ws-pump")
            tg.create_task(_listen(ws, sub), name="ws-listen")
    except* (_Closed, WebSocketDisconnect):
        pass
    except* Exception as group:  # a send to a vanished client; nothing to tell anyone
        log.debug("live socket ended: %r", group.exceptions)
    finally:
        d.feed.unsubscribe(sub)


_RESYNC = {"type": "__resync__"}


async def _pump(ws: WebSocket, d: Dashboard, sub: Subscriber) -> None:
    while True:
        message = await sub.queue.get()
        if sub.overflowed or message is _RESYNC:
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.overflowed = False
            await ws.send_json({**live_snapshot(d), "staff": sub.staff})
            continue
        await ws.send_json(message)


async def _listen(ws: WebSocket, sub: Subscriber) -> None:
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            raise _Closed
        text = msg.get("text") or ""
        if '"resync"' in text:
            try:
                sub.queue.put_nowait(_RESYNC)
            except asyncio.QueueFull:
                sub.overflowed = True


def _same_origin(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    return not origin or urlsplit(origin).netloc == ws.headers.get("host")


@router.websocket("/ws/tour")
async def tour_live(ws: WebSocket) -> None:
    """The tour screen: a snapshot of the stage (live home or the story's sandbox), then deltas."""
    d = dashboard_of(ws)
    if d.stories is None:
        await live(ws)  # no stories here: the tour shows the live home, as /ws/live does
        return
    if not _same_origin(ws):
        await ws.close(code=1008)
        return
    runner = d.stories
    await ws.accept()
    sub = runner.subscribe()
    try:
        await ws.send_json(runner.snapshot())
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_pump_stage(ws, runner, sub), name="ws-tour-pump")
            tg.create_task(_listen(ws, sub), name="ws-tour-listen")
    except* (_Closed, WebSocketDisconnect):
        pass
    except* Exception as group:
        log.debug("tour socket ended: %r", group.exceptions)
    finally:
        runner.unsubscribe(sub)


async def _pump_stage(ws: WebSocket, runner: StoryRunner, sub: Subscriber) -> None:
    while True:
        message = await sub.queue.get()
        if sub.overflowed or message is _RESYNC:
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.overflowed = False
            await ws.send_json(runner.snapshot())
            continue
        await ws.send_json(message)


@router.websocket("/ws/visitor/{token}")
async def visitor_live(ws: WebSocket, token: str) -> None:
    """The visitor's phone: the story's alerts live, until the story ends."""
    d = dashboard_of(ws)
    if not _same_origin(ws) or d.stories is None or not d.stories.phones.valid(token):
        await ws.close(code=1008)
        return
    phones = d.stories.phones
    await ws.accept()
    sub = phones.subscribe()
    try:
        await ws.send_json(phones.snapshot())
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_pump_phone(ws, sub), name="ws-visitor-pump")
            tg.create_task(_drain(ws), name="ws-visitor-listen")
    except* (_Closed, WebSocketDisconnect):
        pass
    except* Exception as group:
        log.debug("visitor socket ended: %r", group.exceptions)
    finally:
        phones.unsubscribe(sub)


async def _pump_phone(ws: WebSocket, sub: PhoneSubscriber) -> None:
    while True:
        message = await sub.queue.get()
        await ws.send_json(message)
        if message.get("type") == "ended":
            raise _Closed


async def _drain(ws: WebSocket) -> None:
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            raise _Closed

