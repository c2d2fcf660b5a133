"""The live WebSocket against a real uvicorn server: snapshot, deltas, resync, visitor safety."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import connect

from controller.clock import VirtualClock
from controller.events import ALERT_CHANGED, AlertAction, AlertChanged, Context, Event
from controller.hub import Hub
from controller.store import Database
from dashboard.auth import SESSION_COOKIE
from dashboard.live import Subscriber
from tests.dashboard.conftest import CAREGIVER_NAMES, Server, add_user, login


async def next_of(ws: Any, type_: str, frames: list[str]) -> dict[str, Any]:
    """The next message of `type_`, keeping every raw frame seen on the way."""
    async with asyncio.timeout(10):  # only stops a hung test; not a speed claim
        while True:
            raw = await ws.recv()
            frames.append(raw)
            msg: dict[str, Any] = json.loads(raw)
            if msg["type"] == type_:
                return msg


async def test_snapshot_then_deltas_then_resync(server: Server, hub: Hub) -> None:
    frames: list[str] = []
    async with connect(f"ws://127.0.0.1:{server.port}/ws/live") as ws:
        snap = await next_of(ws, "snapshot", frames)
        assert snap["staff"] is False
        bed = next(d for d in snap["devices"] if d["id"] == "bed_sensor")
        assert bed["attributes"] == {}
        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 90})
        delta = await next_of(ws, "device", frames)
        assert delta["device"]["id"] == "bed_sensor"
        assert delta["device"]["attributes"]["occupancy"] is False
        told = await next_of(ws, "narration", frames)
        assert told["narration"]["text"]["nl"] == "Mevrouw Jansen stapt uit bed."
        await ws.send(json.dumps({"type": "resync"}))
        again = await next_of(ws, "snapshot", frames)
        bed = next(d for d in again["devices"] if d["id"] == "bed_sensor")
        assert bed["attributes"]["occupancy"] is False
        # A visitor's socket never carries raw events (they hold cause chains).
        assert all(json.loads(f)["type"] != "event" for f in frames)


async def test_no_caregiver_name_or_phone_number_on_the_visitor_socket(server: Server,
                                                                        hub: Hub) -> None:
    frames: list[str] = []
    async with connect(f"ws://127.0.0.1:{server.port}/ws/live") as ws:
        await next_of(ws, "snapshot", frames)
        ctx = Context(origin="caregiver:anna", description="Anna belt 06-12345678")
        hub.bus.publish(Event(type="alert", time=hub.clock.now(), context=ctx, data={
            "action": "raised", "id": "alert-3", "key": "wander.outside", "severity": "urgent",
            "by": "anna", "state": "delivered",
            "message": "Mevrouw Jansen is buiten. Piet (06-12345678) en Anna zijn gebeld."}))
        alerts = await next_of(ws, "alerts", frames)
        assert alerts["alerts"][0]["message"]["nl"].startswith("Mevrouw Jansen is buiten.")
        await next_of(ws, "narration", frames)
    raw = "".join(frames)
    for name in CAREGIVER_NAMES:
        assert name not in raw
    assert "12345678" not in raw


async def test_an_origin_from_another_site_is_refused(server: Server) -> None:
    import websockets

    try:
        async with connect(f"ws://127.0.0.1:{server.port}/ws/live",
                           origin="http://evil.example") as ws:  # type: ignore[arg-type]
            await ws.recv()
        raise AssertionError("the socket should have been refused")
    except (websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed):
        pass


def test_a_slow_page_is_told_to_resync_instead_of_queueing_forever() -> None:
    sub = Subscriber(staff=False)
    for i in range(sub.queue.maxsize + 10):
        sub.offer({"type": "device", "n": i})
    assert sub.overflowed
    assert sub.queue.qsize() == sub.queue.maxsize


async def test_a_technicians_socket_also_carries_raw_events(server: Server, hub: Hub,
                                                            db: Database, clock: VirtualClock) -> None:
    await add_user(db, clock, "tech", "technician")
    async with httpx.AsyncClient(base_url=server.url) as c:
        assert (await login(c, "tech")).status_code == 200
        cookie = f"{SESSION_COOKIE}={c.cookies[SESSION_COOKIE]}"
    frames: list[str] = []
    async with connect(f"ws://127.0.0.1:{server.port}/ws/live",
                       additional_headers={"Cookie": cookie}) as ws:
        assert (await next_of(ws, "snapshot", frames))["staff"] is True
        hub.inject("zigbee2mqtt/front_door", b"{not json")
        event = (await next_of(ws, "event", frames))["event"]
        assert event["type"] == "payload_error" and event["device"] == "front_door"
        assert event["cause"] == "device:front_door: zigbee2mqtt/front_door"


async def test_an_alert_leaves_the_visitor_list_when_cancelled(server: Server, hub: Hub) -> None:
    frames: list[str] = []

    def change(action: str, state: str) -> Event:
        data: AlertChanged = {"action": AlertAction(action), "id": "al-7", "key": "door.open",
                              "scenario": "door_open", "severity": "warning", "state": state,
                              "message": "De voordeur staat open.", "by": None, "channel": None}
        return ALERT_CHANGED.event(time=hub.clock.now(), context=Context(origin="alerts"), data=data)

    async with connect(f"ws://127.0.0.1:{server.port}/ws/live") as ws:
        await next_of(ws, "snapshot", frames)
        hub.bus.publish(change("raised", "raised"))
        shown = (await next_of(ws, "alerts", frames))["alerts"]
        assert [(a["id"], a["state"], a["acknowledged"]) for a in shown] == [("al-7", "raised", False)]
        hub.bus.publish(change("cancelled", "cancelled"))
        assert (await next_of(ws, "alerts", frames))["alerts"] == []
