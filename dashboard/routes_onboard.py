"""Zigbee2MQTT onboarding in the technician console: the devices Zigbee2MQTT reports that the
home does not know yet, a checked `home.yaml` proposal for one, and permit join for a while.

The hub follows `zigbee2mqtt/bridge/devices`, `bridge/event` and `bridge/response/permit_join`
(devices/z2m_bridge.py); `follow_bridge` hooks that into the hub's link when the app is built.
Nothing here edits a file: a proposal is YAML for the technician to copy (devices/onboarding.py).
Permit join and proposals are written to the dashboard's audit log, like a scenario reload.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from controller.hub import Hub
from dashboard.refusals import lang_of
from dashboard.security import Technician, dashboard_of
from devices.onboarding import NoAdapter, propose, text, topics_on_disk
from devices.z2m_bridge import PERMIT_MAX, Bridge, adapter_for, looks_like

router = APIRouter()


def follow_bridge(app: FastAPI, hub: Hub) -> Bridge:
    """Follow Zigbee2MQTT's bridge topics on the hub's link; the routes read `app.state.bridge`."""
    bridge = Bridge()
    for topic in bridge.topics:
        hub.topic_handlers[topic] = lambda t, p: bridge.handle(t, p, hub.clock.now())
    subscribe = getattr(hub.link, "subscribe", None)  # a MemoryLink hears nothing
    if subscribe is not None:
        subscribe(*bridge.topics)
    app.state.bridge = bridge
    return bridge


def bridge_of(request: Request) -> Bridge:
    bridge = getattr(request.app.state, "bridge", None)
    if not isinstance(bridge, Bridge):
        raise HTTPException(501, text("bridge_off", lang_of(request)))
    return bridge


@router.get("/api/tech/zigbee", tags=["technician"])
async def zigbee(request: Request, user: Technician) -> dict[str, object]:
    """What Zigbee2MQTT reports that the home does not know yet, its join events, the rooms to
    choose from, and the permit-join state."""
    hub = dashboard_of(request).hub
    bridge = bridge_of(request)
    now = hub.clock.now()
    new = []
    unknown = bridge.new_devices(hub.config)
    on_disk = topics_on_disk(hub.config, hub.kinds) if unknown else set()
    for dev in unknown:
        kind = adapter_for(dev.model, hub.kinds)
        # In home.yaml already, not loaded yet: the hub loads its configuration when it starts.
        new.append({**dev.as_dict(), "kind": kind, "adapter": kind is not None,
                    "looks_like": None if kind else looks_like(dev), "restart": dev.friendly_name in on_disk})
    rooms = [{"id": rid, "name": r.name, "name_en": r.name_en or r.name} for rid, r in hub.config.rooms.items()]
    return {"heard": bridge.heard_devices.isoformat() if bridge.heard_devices else None,
            "known": sum(d.type != "Coordinator" for d in bridge.devices.values()) - len(new),
            "new": new, "rooms": rooms,
            "events": [e.as_dict() for e in reversed(bridge.events)],
            "permit": bridge.permit.as_dict(now), "permit_max": PERMIT_MAX,
            "problems": bridge.problems, "last_problem": bridge.last_problem,
            "config": str(hub.config.source)}


class ProposeBody(BaseModel):
    ieee: str = Field(min_length=1, max_length=40)
    room: str | None = Field(default=None, max_length=80)
    name: str | None = Field(default=None, max_length=120)
    device_id: str | None = Field(default=None, max_length=80)


@router.post("/api/tech/zigbee/propose", tags=["technician"])
async def propose_entry(body: ProposeBody, request: Request, user: Technician) -> dict[str, object]:
    """The `home.yaml` entry for a new device, checked the way `huis check` checks; never written."""
    d = dashboard_of(request)
    bridge = bridge_of(request)
    found = next((dev for dev in bridge.new_devices(d.hub.config) if dev.ieee == body.ieee), None)
    if found is None:
        raise HTTPException(404, text("unknown_ieee", lang_of(request), ieee=body.ieee))
    try:
        proposal = propose(found, d.hub.config, d.hub.kinds, room=body.room or None,
                           name=(body.name or "").strip() or None, device_id=body.device_id or None)
    except NoAdapter as exc:
        raise HTTPException(422, text("no_adapter_for", lang_of(request),
                                      model=found.model or found.model_id or found.ieee)) from exc
    await d.auth.audit(user, "zigbee_device_proposed",
                       detail=f"{found.ieee} ({found.model}) as {proposal.device_id}: "
                              f"{'valid' if proposal.ok else f'{len(proposal.problems)} problem(s)'}")
    return {**proposal.as_dict(), "written": False}


class PermitBody(BaseModel):
    seconds: int = Field(ge=0, le=PERMIT_MAX)


@router.post("/api/tech/zigbee/permit_join", tags=["technician"])
async def permit_join(body: PermitBody, request: Request, user: Technician) -> dict[str, object]:
    """Ask Zigbee2MQTT to let devices join for `seconds` (0 closes); its answer comes on
    `bridge/response/permit_join` and shows in GET /api/tech/zigbee."""
    d = dashboard_of(request)
    bridge = bridge_of(request)
    now = d.hub.clock.now()
    topic, payload = bridge.request_permit(body.seconds, now)
    d.hub.link.send(topic, payload, qos=1, retain=False)
    await d.auth.audit(user, "zigbee_permit_join", detail=f"{body.seconds} s ({bridge.permit.transaction})")
    return bridge.permit.as_dict(now)
