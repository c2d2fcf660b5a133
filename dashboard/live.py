"""The live picture the pages draw: a floor plan, recent events and narrations, pushed as deltas.

`LiveFeed` listens on the hub's bus. It keeps a bounded ring of recent events (the technician's
event log and the caregiver's timeline read it) and a shorter list of narrations (the tour's
panel and timeline), and fans each change out to every open WebSocket as a small delta message.
A WebSocket first gets a snapshot, then deltas; a subscriber too slow to keep up is told to
resync instead of being allowed to grow its queue without bound.

Two audiences: `tour` messages are safe for visitors (pseudonyms, no caregiver names, no phone
numbers: they pass the Scrubber); `staff` messages add the raw event records and go only to
technicians and admins.

Presence: visitors see only "thuis / weg / onbekend", never since when or why (when she went
out and came back is her private life, and a reason can name the caregiver who set it).
Caregivers and technicians read the reason through their own routes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from controller import i18n
from controller.alerts import texts
from controller.alerts.model import CANCELLED, RESOLVED
from controller.engine import HOUSE_CHANGED
from controller.events import ALERT_CHANGED, AVAILABILITY, STATE_CHANGED, AlertChanged, Event, is_a
from controller.hub import Hub
from dashboard.narrate import Narration, Narrator

# What a page is sent, as JSON. Any, not object: the WebSocket route also queues its own
# resync marker, typed by inference as dict[str, str].
Message = dict[str, Any]

_SUBSCRIBER_QUEUE = 500
_TAG_OUTSIDE = "outside"
_TOUR_NARRATIONS = 30
_TOP_BAND = 100  # plan units at the top of a room kept for its name and the resident's marker
_PRESENCE_WORDS = ("home", "away", "unknown")


def visitor_presence(value: object) -> dict[str, object]:
    """Presence as a visitor may see it: the word, no time and no reason."""
    known = str(value) if str(value) in _PRESENCE_WORDS else "unknown"
    words = i18n.both(f"device.presence.{known}")
    return {"value": known, "label": words["nl"], "label_en": words["en"]}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One bus event in JSON-friendly form, for the event log."""

    seq: int
    time: datetime
    type: str
    device: str | None
    data: object  # the event's data made JSON-friendly
    cause: str

    def as_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "time": self.time.isoformat(), "type": self.type,
                "device": self.device, "data": self.data, "cause": self.cause}


def _jsonable(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _record(seq: int, event: Event[object]) -> EventRecord:
    return EventRecord(seq=seq, time=event.time, type=event.type, device=event.device,
                       data=_jsonable(event.data), cause=event.context.explain())


@dataclass(slots=True, eq=False)  # identity, so it can sit in a set
class Subscriber:
    """One open WebSocket's inbox."""

    staff: bool
    user_id: int | None = None  # whose session a staff socket runs on
    token: str | None = None  # that session's token (kept in memory only), to re-check it
    queue: asyncio.Queue[Message] = field(
        default_factory=lambda: asyncio.Queue(maxsize=_SUBSCRIBER_QUEUE))
    overflowed: bool = False

    def offer(self, message: Message) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # The page will be sent a fresh snapshot instead of the deltas it missed.
            self.overflowed = True


class LiveFeed:
    """Recent history of the home and the fan-out of its changes to open pages."""

    def __init__(self, hub: Hub, narrator: Narrator, *, ring_size: int = 2000,
                 narrations: int = 1000) -> None:
        self.hub = hub
        self.narrator = narrator
        # The events themselves: made into records only when a page reads them (or listens).
        self._ring: deque[tuple[int, Event[object]]] = deque(maxlen=ring_size)
        self._narrations: deque[Narration] = deque(maxlen=narrations)
        self._alerts: dict[str, dict[str, object]] = {}  # visitor-safe view of active alerts
        # Events not yet recorded and narrated: that waits until the reaction that published
        # them is done (a rule's command must not wait for a page nobody may have open).
        self._backlog: list[Event[object]] = []
        self._catching_up = False
        self.subscribers: set[Subscriber] = set()
        # The alert service's active alerts (Alert.as_dict()), when one runs; else alerts are
        # followed from their AlertChanged events.
        self.alert_source: Callable[[], Sequence[Mapping[str, object]]] | None = None
        # Whether an alert id is a technician notice: then only staff hear of it.
        self.staff_alert: Callable[[str], bool] | None = None
        # The engine's presence (Engine.presence), when an engine runs.
        self.presence_source: Callable[[], str] | None = None
        self._seq = itertools.count(1)
        self.layout = plan_layout(hub)
        self._unsubscribe = hub.bus.subscribe(self.on_event)

    def close(self) -> None:
        """Stop listening to the bus."""
        self._unsubscribe()

    # -- intake ---------------------------------------------------------------------------------

    @property
    def ring(self) -> list[EventRecord]:
        """The recent events, oldest first."""
        self.catch_up()
        return [_record(seq, event) for seq, event in self._ring]

    @property
    def narrations(self) -> deque[Narration]:
        """The recent narrations, oldest first."""
        self.catch_up()
        return self._narrations

    @property
    def alerts(self) -> dict[str, dict[str, object]]:
        """The visitor-safe view of the active alerts, by id."""
        self.catch_up()
        return self._alerts

    @alerts.setter
    def alerts(self, value: dict[str, dict[str, object]]) -> None:
        self._alerts = value

    def on_event(self, event: Event[object]) -> None:
        """Bus listener: keep the event; it is recorded, narrated and fanned out once the loop is
        done with what published it (or when someone reads the feed first)."""
        self._backlog.append(event)
        if self._catching_up:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): now
            self.catch_up()
            return
        self._catching_up = True
        loop.call_soon(self.catch_up)

    def catch_up(self) -> None:
        """Record, narrate and fan out the events kept so far, in order."""
        self._catching_up = False
        while self._backlog:
            events, self._backlog = self._backlog, []
            for event in events:
                self._take(event)

    def _take(self, event: Event[object]) -> None:
        seq = next(self._seq)
        self._ring.append((seq, event))
        if self.subscribers and any(sub.staff for sub in self.subscribers):
            staff_msg = {"type": "event", "event": _record(seq, event).as_dict()}
            for sub in self.subscribers:
                if sub.staff:
                    sub.offer(staff_msg)
        if self.subscribers and event.device is not None and event.type in (STATE_CHANGED, AVAILABILITY) \
                and event.device in self.hub.state:
            self.publish_tour({"type": "device", "device": self.device_view(event.device)})
        if is_a(event, HOUSE_CHANGED) and "presence" in event.data["changes"]:
            self.publish_tour({"type": "presence",
                               "presence": visitor_presence(event.data["changes"]["presence"][1])})
        if is_a(event, ALERT_CHANGED):
            change = event.data
            if self.staff_alert is not None and self.staff_alert(change["id"]):
                return
            self._track_alert(change)
        narration = self.narrator.narrate(event)
        if narration is not None:
            self._narrations.append(narration)
            if self.subscribers:
                self.publish_tour({"type": "narration", "narration": narration.as_dict()})

    def publish_tour(self, message: Mapping[str, object]) -> None:
        """Send a visitor-safe message to every page."""
        if not self.subscribers:
            return
        clean = cast(Message, self.narrator.scrub.deep(message))
        for sub in self.subscribers:
            sub.offer(clean)

    def _track_alert(self, change: AlertChanged) -> None:
        # "by" names a caregiver and never reaches a visitor: visitor_alert leaves it out.
        if self.alert_source is not None:
            self.refresh_alerts()
            return
        if change["state"] in (RESOLVED, CANCELLED):
            self._alerts.pop(change["id"], None)
        else:
            self._alerts[change["id"]] = self.visitor_alert(change)
        self.publish_tour({"type": "alerts", "alerts": list(self._alerts.values())})

    def refresh_alerts(self, *, publish: bool = True) -> None:
        """Take the active alerts from the alert service (in memory, no I/O) and tell the pages."""
        if self.alert_source is None:
            return
        self._alerts = {str(a.get("id")): self.visitor_alert(a) for a in self.alert_source()}
        if publish:
            self.publish_tour({"type": "alerts", "alerts": list(self._alerts.values())})

    def visitor_alert(self, alert: Mapping[str, object]) -> dict[str, object]:
        """Only what a visitor may see of an alert: no one who was paged, no one who answered."""
        state = str(alert.get("state") or "raised")
        return {
            "id": str(alert.get("id")),
            "key": str(alert.get("key") or ""),
            "severity": str(alert.get("severity") or "warning"),
            # In both languages (a scenario's `message_en`), "Opnieuw: ..." for a later occurrence
            # of a key still open (docs/alerts.md, "Occurrences").
            "message": self._alert_message(alert),
            "state": state,
            "acknowledged": state == "acknowledged",
        }

    def _alert_message(self, alert: Mapping[str, object]) -> dict[str, str]:
        data = alert.get("data")
        english = data.get("message_en") if isinstance(data, Mapping) else None
        out: dict[str, str] = {}
        for lang in i18n.LANGS:
            text = self.narrator.scrub.text(str((english if lang == "en" and english else alert.get("message")) or ""),
                                            lang)
            out[lang] = texts.again(lang, text) if alert.get("previous_id") else text
        return out

    # -- views ----------------------------------------------------------------------------------

    def device_view(self, device: str) -> dict[str, object]:
        """A device as the floor plan draws it."""
        st = self.hub.state.get(device)
        dev = self.hub.config.devices[device]
        x, y = self.layout[device]
        attrs = dict(st.attributes)
        view: dict[str, object] = {
            "id": device,
            "name": self.narrator.device_name(device, "nl"),
            "name_en": self.narrator.device_name(device, "en"),
            "kind": dev.kind,
            "room": dev.room,
            "x": x,
            "y": y,
            "available": st.available,
            "attributes": _jsonable(attrs),
        }
        if dev.kind == "tag":
            where = attrs.get("room")
            if isinstance(where, str) and where in self.hub.config.rooms:
                x, y, w, _ = self.hub.config.rooms[where].area
                view["x"], view["y"] = x + w - 45, y + 55  # top right, clear of name and devices
                view["where"] = where
            elif where is not None or st.last_seen is not None:
                view["where"] = _TAG_OUTSIDE
        return view

    def tour_snapshot(self) -> dict[str, object]:
        """Everything the tour page draws, visitor-safe."""
        cfg = self.hub.config
        self.catch_up()
        self.refresh_alerts(publish=False)
        snap = {
            "type": "snapshot",
            "home": cfg.home.name,
            "resident": cfg.resident.pseudonym,
            "time": self.hub.clock.now().isoformat(),
            "timezone": cfg.home.location.timezone,
            "plan": {
                "width": cfg.floorplan[0],
                "height": cfg.floorplan[1],
                "rooms": [{"id": rid, "name": r.name, "name_en": r.name_en or r.name,
                           "area": list(r.area)} for rid, r in cfg.rooms.items()],
            },
            "devices": [self.device_view(d) for d in cfg.devices],
            "narrations": [n.as_dict() for n in list(self._narrations)[-_TOUR_NARRATIONS:]],
            "alerts": list(self._alerts.values()),
            "presence": visitor_presence(self.presence_source())
            if self.presence_source is not None else None,
        }
        clean = cast(dict[str, object], self.narrator.scrub.deep(snap))
        return clean

    def subscribe(self, *, staff: bool, user_id: int | None = None,
                  token: str | None = None) -> Subscriber:
        self.catch_up()  # what happened before the page opened is in its snapshot, not its deltas
        sub = Subscriber(staff=staff, user_id=user_id, token=token)
        self.subscribers.add(sub)
        return sub

    def revoke(self, user_id: int) -> None:
        """A user's sessions ended: their open sockets get no more staff events, from now on."""
        for sub in self.subscribers:
            if sub.user_id == user_id:
                self.end_staff(sub)

    def end_staff(self, sub: Subscriber) -> None:
        """Make a staff socket a visitor's (tour-safe messages only) and tell its page."""
        sub.staff, sub.user_id, sub.token = False, None, None
        while not sub.queue.empty():  # staff events already queued are not sent either
            sub.queue.get_nowait()
        sub.offer({"type": "session_ended"})

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def events(self, *, device: str | None = None, type: str | None = None,
               since: datetime | None = None, text: str | None = None,
               limit: int = 200) -> list[EventRecord]:
        """Recent events, newest first, filtered."""
        out: list[EventRecord] = []
        needle = text.lower() if text else None
        self.catch_up()
        for seq, event in reversed(self._ring):
            if since is not None and event.time < since:
                break
            if device and event.device != device:
                continue
            if type and event.type != type:
                continue
            rec = _record(seq, event)
            if needle and needle not in f"{rec.device} {rec.data} {rec.cause}".lower():
                continue
            out.append(rec)
            if len(out) >= limit:
                break
        return out


def plan_layout(hub: Hub) -> dict[str, tuple[float, float]]:
    """Where each device sits on the plan: its `position`, else spread around its room's centre."""
    cfg = hub.config
    out: dict[str, tuple[float, float]] = {}
    by_room: dict[str | None, list[str]] = {}
    for dev_id, dev in cfg.devices.items():
        if dev.position is not None:
            out[dev_id] = (float(dev.position[0]), float(dev.position[1]))
        else:
            by_room.setdefault(dev.room if dev.room in cfg.rooms else None, []).append(dev_id)
    for room, devices in by_room.items():
        if room is None:
            # Devices without a room (a tag that moves about) start outside the house, bottom right.
            w, h = cfg.floorplan
            for i, dev_id in enumerate(devices):
                out[dev_id] = (w - 40 - 70 * i, h + 40)
            continue
        x, y, w, h = cfg.rooms[room].area
        # The top band of a room holds its name and the resident's marker; devices go below,
        # in a grid of cells wide enough for their labels.
        cols = max(1, min(len(devices), int(w // 95)))
        rows = (len(devices) + cols - 1) // cols
        top = y + _TOP_BAND
        step_x, step_y = w / cols, max(40.0, (h - _TOP_BAND - 10) / rows)
        for i, dev_id in enumerate(devices):
            out[dev_id] = (round(x + step_x * (i % cols + 0.5), 1),
                           round(top + step_y * (i // cols + 0.5) - 10, 1))
    return out
