"""The hub: routes MQTT messages through device adapters into state and events, sends commands.

It owns the event bus and the state store, and supervises every long-lived loop (the MQTT link,
the health monitor and whatever services are plugged in) under one TaskGroup.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.bus import EventBus
from controller.clock import Clock
from controller.config import HomeConfig, device_topic
from controller.device_kind import Availability, Command, DeviceEvent, DeviceKind, DeviceSpec, Dropped, Reading
from controller.errors import PayloadError
from controller.events import (
    AVAILABILITY,
    COMMAND_SENT,
    DEVICE_EVENT,
    HUB_STATUS,
    PAYLOAD_ERROR,
    STATE_CHANGED,
    AvailabilityChanged,
    Context,
)
from controller.mqtt import Link, MemoryLink
from controller.state import StateStore

log = logging.getLogger(__name__)

Service = Callable[[], Coroutine[object, object, None]]
SettleStep = Callable[[], Awaitable[object]]

# Zigbee2MQTT's own status, retained, and its last will: `{"state": "online"}` or "offline"
# (older versions publish the bare word). While it is offline no Zigbee device can be heard.
BRIDGE_STATE = "zigbee2mqtt/bridge/state"

# How long after a command a device's state report counts as its answer (cause chains).
COMMAND_ECHO = timedelta(seconds=5)
# The largest payload decoded. Zigbee2MQTT's biggest state messages are a few kilobytes; a
# megabyte on a device topic is a fault or an attack, and is refused by its size alone.
MAX_PAYLOAD = 64 * 1024
# A payload problem's reason as logged, recorded in history and kept as `last_error`.
MAX_REASON = 300
# Per device, the first few payload problems a minute are logged and recorded one by one; the
# rest are counted and summed up when the minute is over.
WARNINGS_PER_WINDOW = 5
WARNING_WINDOW = timedelta(minutes=1)


def clip(text: str, limit: int = MAX_REASON) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def freeze_after_start(full_collections: int = 2) -> Callable[[str, Mapping[str, int]], None]:
    """Freeze (`gc.freeze`) what survives the next `full_collections` full garbage collections.

    For `huis run`: the configuration, scenarios, adapters and the dashboard live as long as
    the hub, and a full collection scanned all of them again, a pause of 50-300 ms in the middle
    of a burst of events on a busy two-core machine (measured under the peer rig). Frozen objects
    are still freed by reference counting, only no longer scanned for cycles; what they would
    still hold in a cycle when they go is the price, once (the survivors of start-up). Returns
    the callback (installed in `gc.callbacks`; inert once it has frozen `full_collections` times).
    """
    left = [full_collections]

    def freeze(phase: str, info: Mapping[str, int]) -> None:
        if phase == "stop" and info.get("generation") == 2 and left[0] > 0:
            left[0] -= 1
            gc.freeze()

    gc.callbacks.append(freeze)
    return freeze


@dataclass(slots=True)
class _Quota:
    start: datetime
    shown: int = 0
    held: int = 0


class PayloadWarnings:
    """Rate-limits payload problems per device: the first few per window are reported, the rest
    counted, so a device sending garbage 2,000 times a second fills neither log nor history."""

    def __init__(self, per_window: int = WARNINGS_PER_WINDOW, window: timedelta = WARNING_WINDOW) -> None:
        self.per_window = per_window
        self.window = window
        self._quota: dict[str, _Quota] = {}  # only configured devices: bounded

    def admit(self, device: str, now: datetime) -> tuple[bool, int]:
        """Whether to report this problem now, and how many were held back in a window of
        `device`'s that has just ended (to be summed up first)."""
        quota, ended = self._quota.get(device), 0
        if quota is not None and now - quota.start >= self.window:
            ended, quota = quota.held, None
        if quota is None:
            quota = self._quota[device] = _Quota(start=now)
        if quota.shown < self.per_window:
            quota.shown += 1
            return True, ended
        quota.held += 1
        return False, ended

    def expired(self, now: datetime) -> list[tuple[str, int]]:
        """Devices whose window is over with problems held back, and how many; forgets them."""
        out: list[tuple[str, int]] = []
        for device, quota in list(self._quota.items()):
            if now - quota.start >= self.window:
                del self._quota[device]
                if quota.held:
                    out.append((device, quota.held))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundDevice:
    """A configured device together with the adapter that speaks for it."""

    spec: DeviceSpec
    adapter: DeviceKind
    kind: str
    room: str | None
    power: str


def _bridge_word(payload: bytes) -> str:
    """'online' or 'offline' from `{"state": "online"}` or the bare word; anything else as is."""
    text = payload[:200].decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return text
        return str(doc.get("state")) if isinstance(doc, dict) else text
    return text


class Hub:
    """Routes messages to devices and keeps the picture of the home up to date."""

    def __init__(self, config: HomeConfig, clock: Clock, kinds: Mapping[str, DeviceKind],
                 link: Link | None = None) -> None:
        """A hub for `config`'s devices, each spoken for by its adapter in `kinds` (by kind name).

        Raises KeyError for a device whose kind is not in `kinds` (load_home reports that first).
        """
        self.config = config
        self.clock = clock
        self.kinds = kinds
        self.link: Link = link if link is not None else MemoryLink()
        self.bus = EventBus()
        self.state = StateStore()
        self.devices: dict[str, BoundDevice] = {}
        self._exact: dict[str, str] = {}
        self._prefix: dict[str, str] = {}  # 'a/b' routes 'a/b/<anything>' (filters ending in '/+')
        self.messages = 0
        self.payload_errors = 0
        self.warnings = PayloadWarnings()
        self._commands: dict[str, tuple[Context, datetime]] = {}
        # Exact topics that are no device's, handled by an integration (Home Assistant discovery).
        self.topic_handlers: dict[str, Callable[[str, bytes], None]] = {}
        self.settle_steps: list[SettleStep] = []
        self._bridged: list[str] = []  # devices behind Zigbee2MQTT
        self._bridge_held: set[str] = set()  # marked offline because the bridge was
        self._bridge_online: bool | None = None  # what zigbee2mqtt/bridge/state last said
        for dev_id, dev in config.devices.items():
            adapter = kinds[dev.kind]
            spec = DeviceSpec(id=dev_id, topic=device_topic(dev_id, dev), model=dev.model,
                              options=dict(dev.options))
            bound = BoundDevice(spec=spec, adapter=adapter, kind=dev.kind, room=dev.room,
                                power=dev.power or adapter.power)
            self.devices[dev_id] = bound
            self.state.add(dev_id, dev.kind, dev.room)
            for flt in adapter.subscriptions(spec):
                if flt.endswith("/+"):
                    self._prefix[flt[:-2]] = dev_id
                elif "+" in flt or "#" in flt:
                    raise ValueError(f"{dev_id}: unsupported topic filter {flt!r}")
                else:
                    self._exact[flt] = dev_id
            if spec.topic.startswith("zigbee2mqtt/"):
                self._bridged.append(dev_id)

    def subscriptions(self) -> list[str]:
        """Every topic filter the hub needs."""
        bridge = [BRIDGE_STATE] if self._bridged else []
        return [*self._exact, *(f"{p}/+" for p in self._prefix), *bridge]

    async def settle(self) -> None:
        """Return once what the messages handled so far caused is recorded: the MQTT link
        acknowledges them to the broker only then. The steps (`settle_steps`, in order) are
        the composition root's: the engine live, the loop idle, history and engine flushed.

        A step that fails (a full disk) is logged and passed: its owner keeps what it could
        not write, and holding acknowledgements would stop the broker's flow to the hub.
        """
        for step in self.settle_steps:
            try:
                await step()
            except Exception as exc:
                log.warning("messages are acknowledged without being recorded: %s", clip(repr(exc)))

    # -- incoming -------------------------------------------------------------------------------

    def route(self, topic: str) -> str | None:
        """The device a topic belongs to, if any."""
        dev_id = self._exact.get(topic)
        if dev_id is None:
            dev_id = self._prefix.get(topic.rpartition("/")[0])
        return dev_id

    def handle_message(self, topic: str, payload: bytes) -> None:
        """Decode one MQTT message and apply it; bad payloads are logged and counted, never raised."""
        self.messages += 1
        dev_id = self.route(topic)
        if dev_id is None:
            handler = self.topic_handlers.get(topic)
            if handler is not None:
                handler(topic, payload)
            if topic == BRIDGE_STATE and self._bridged:
                self._bridge_state(payload)
            return
        if len(payload) > MAX_PAYLOAD:
            self._payload_error(dev_id, topic, f"payload of {len(payload):,} bytes is over the "
                                f"{MAX_PAYLOAD:,}-byte limit; not decoded")
            return
        bound = self.devices[dev_id]
        now = self.clock.now()
        try:
            readings = bound.adapter.decode(bound.spec, topic, payload)
        except PayloadError as exc:
            self._payload_error(dev_id, topic, str(exc))
            return
        except Exception as exc:  # an adapter bug must not take the hub down
            self._payload_error(dev_id, topic, f"adapter {bound.kind} failed: {exc!r}", exc)
            return
        ctx = Context(origin=f"device:{dev_id}", description=f"message on {topic}",
                      parent=self._commanded(dev_id, now))
        self.receive(dev_id, readings, ctx, topic=topic)

    def receive(self, dev_id: str, readings: Sequence[Reading], ctx: Context, *, topic: str | None = None) -> None:
        """Apply the decoded readings of one message from `dev_id` (what follows decoding; replay
        feeds recorded rows here): state, events, availability; dropped attributes reported last."""
        bound = self.devices[dev_id]
        now = self.clock.now()
        topic = topic or bound.spec.topic
        refreshes = bound.adapter.refreshes
        plain: list[Reading] = []
        dropped = [r for r in readings if isinstance(r, Dropped)]
        for reading in readings:
            if isinstance(reading, Dropped):
                continue
            if isinstance(reading, Availability):
                self.state.get(dev_id).reports_availability = True
                self.set_available(dev_id, reading.online, ctx, reason="reported by the device")
            elif isinstance(reading, DeviceEvent):
                self.state.get(dev_id).last_seen = now
                self._mark_online(dev_id, ctx)
                self.bus.publish(DEVICE_EVENT.event(time=now, context=ctx, device=dev_id,
                                       data={"event": reading.name, **reading.data}))
            elif not refreshes:
                self.apply(dev_id, reading.attributes(), ctx)
            else:
                plain.append(reading)
        if refreshes and plain:
            self._refresh(dev_id, plain, ctx, seen=True)
        for problem in dropped:
            self._payload_error(dev_id, topic, f"'{problem.attribute}' dropped: {problem.reason}")

    def _refresh(self, dev_id: str, readings: list[Reading], ctx: Context, *, seen: bool) -> None:
        bound = self.devices[dev_id]
        try:
            derived = bound.adapter.refresh(bound.spec, self.state.get(dev_id).attributes,
                                            readings, self.clock.now())
        except Exception as exc:  # an adapter bug must not stop the health loop
            self._payload_error(dev_id, bound.spec.topic, f"adapter {bound.kind} failed to refresh: {exc!r}",
                                exc)
            return
        self.apply(dev_id, derived, ctx, seen=seen)

    def apply(self, dev_id: str, attributes: Mapping[str, object], ctx: Context, *, seen: bool = True) -> None:
        """Merge attributes into a device's state and announce what changed."""
        now = self.clock.now()
        # Derived attributes (a periodic refresh) change state without the device being heard.
        changed = self.state.update(dev_id, attributes, now if seen else None)
        if seen:
            self._mark_online(dev_id, ctx)
        if changed:
            self.bus.publish(STATE_CHANGED.event(time=now, context=ctx, device=dev_id,
                                   data={"changes": changed}))

    def _mark_online(self, dev_id: str, ctx: Context) -> None:
        # A device that talks is online, whatever it said before (Zigbee2MQTT may be late).
        if self.state.get(dev_id).available is not True:
            self.set_available(dev_id, True, ctx, reason="sent a message")

    def set_available(self, dev_id: str, online: bool, ctx: Context, *, reason: str,
                      bridge: str | None = None) -> None:
        """Record a device's availability; announce it when it changed."""
        st = self.state.get(dev_id)
        if st.available is online:
            return
        st.available = online
        data: AvailabilityChanged = {"online": online, "reason": reason}
        if bridge is not None:
            data["bridge"] = bridge
        self.bus.publish(AVAILABILITY.event(time=self.clock.now(), context=ctx, device=dev_id, data=data))

    def _bridge_state(self, payload: bytes) -> None:
        """Zigbee2MQTT went offline: every device behind it is unheard, so each is marked
        offline; online again restores those. The bridge's own event comes first and is the one
        technician notice (`bridge_offline`); the devices' carry `bridge`, so no notice each."""
        state = _bridge_word(payload)
        ctx = Context(origin="hub", description=f"{BRIDGE_STATE}: {state}")
        if state in ("offline", "online") and (state == "online") is not self._bridge_online:
            self._bridge_online = state == "online"
            reason = "Zigbee2MQTT is offline" if state == "offline" else "Zigbee2MQTT is online again"
            self.bus.publish(AVAILABILITY.event(time=self.clock.now(), context=ctx, device=None,
                                   data={"online": state == "online", "reason": reason, "bridge": "zigbee2mqtt"}))
        if state == "offline":
            for dev_id in self._bridged:
                if self.state.get(dev_id).available is not False:
                    self._bridge_held.add(dev_id)
                    self.set_available(dev_id, False, ctx, reason="Zigbee2MQTT is offline", bridge="zigbee2mqtt")
        elif state == "online":
            for dev_id in sorted(self._bridge_held):
                self.set_available(dev_id, True, ctx, reason="Zigbee2MQTT is online again", bridge="zigbee2mqtt")
            self._bridge_held.clear()
        else:
            log.warning("%s: %s is neither online nor offline; ignored", BRIDGE_STATE, clip(repr(payload), 80))

    def _payload_error(self, dev_id: str, topic: str, reason: str, exc: BaseException | None = None) -> None:
        """Count a payload problem; log and record it unless the device is over its quota."""
        self.payload_errors += 1
        st = self.state.get(dev_id)
        st.payload_errors += 1
        reason, topic = clip(reason), clip(topic, 200)
        st.last_error = reason
        report, held = self.warnings.admit(dev_id, self.clock.now())
        if held:
            self._held_back(dev_id, held)
        if report:
            log.warning("bad payload from %s on %s: %s", dev_id, topic, reason, exc_info=exc)
            self._publish_problem(dev_id, topic, reason)

    def _held_back(self, dev_id: str, count: int) -> None:
        reason = f"... and {count:,} more from {dev_id} in the last minute"
        log.warning("bad payloads: %s", reason)
        self._publish_problem(dev_id, self.devices[dev_id].spec.topic, reason)

    def _publish_problem(self, dev_id: str, topic: str, reason: str) -> None:
        self.bus.publish(PAYLOAD_ERROR.event(time=self.clock.now(),
                               context=Context(origin=f"device:{dev_id}", description=topic),
                               device=dev_id, data={"topic": topic, "reason": reason}))

    def inject(self, topic: str, payload: Mapping[str, object] | bytes | str) -> None:
        """Feed a message as if it came from the broker (tests, replay)."""
        if isinstance(payload, Mapping):
            data = json.dumps(payload).encode()
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = payload
        self.handle_message(topic, data)

    # -- outgoing -------------------------------------------------------------------------------

    def command(self, dev_id: str, values: Mapping[str, object], ctx: Context) -> None:
        """Send a command to a device; raises KeyError/ValueError for an impossible one."""
        bound = self.devices[dev_id]
        for out in bound.adapter.encode(bound.spec, Command(device=dev_id, values=dict(values))):
            self.link.send(out.topic, out.payload, qos=out.qos, retain=out.retain)
        # The device will report its new state shortly; that report is caused by this command.
        self._commands[dev_id] = (ctx, self.clock.now() + COMMAND_ECHO)
        self.bus.publish(COMMAND_SENT.event(time=self.clock.now(), context=ctx, device=dev_id,
                               data={"values": dict(values)}))

    def _commanded(self, dev_id: str, now: datetime) -> Context | None:
        """The context of a command just sent to `dev_id`, if its echo is still expected."""
        pending = self._commands.get(dev_id)
        if pending is None:
            return None
        if now > pending[1]:
            del self._commands[dev_id]
            return None
        return pending[0]

    def link_status(self, connected: bool) -> None:
        """Called by the MQTT link when the broker comes or goes."""
        self.bus.publish(HUB_STATUS.event(time=self.clock.now(),
                               context=Context(origin="hub", description="mqtt link"),
                               data={"mqtt_connected": connected}))

    # -- health ---------------------------------------------------------------------------------

    def offline_after(self, bound: BoundDevice) -> timedelta | None:
        """How long a device may be silent before we call it offline; None: silence is normal.

        Zigbee2MQTT's availability feature pings mains devices every 10 minutes and gives
        battery devices 25 hours, and publishes the verdict on `<topic>/availability`: where it
        does, we trust that. Otherwise a battery device that reports (battery, link quality) at
        least daily is offline after 25 h of silence; a mains light may rightly be silent for
        days, so it is only judged by silence when its protocol promises a heartbeat, or when
        `offline_after` is configured for it.
        """
        opts = bound.spec.options
        if "offline_after" in opts:
            from controller.durations import parse_duration

            return parse_duration(opts["offline_after"])
        if self.state.get(bound.spec.id).reports_availability:
            return None
        if bound.power == "battery":
            return timedelta(hours=25)
        # Our own MQTT protocols (speaker, dispenser) send a state heartbeat every 5 minutes.
        return timedelta(minutes=10) if bound.adapter.heartbeat else None

    def check_health(self) -> None:
        """Mark devices silent for longer than their allowance as offline; refresh derived state."""
        now = self.clock.now()
        for dev_id, count in self.warnings.expired(now):
            self._held_back(dev_id, count)
        for dev_id, bound in self.devices.items():
            st = self.state.get(dev_id)
            if bound.adapter.refreshes:
                self._refresh(dev_id, [], Context(origin="hub", description="periodic refresh"), seen=False)
            allowance = self.offline_after(bound)
            if st.available and st.last_seen is not None and allowance is not None and now - st.last_seen > allowance:
                self.set_available(dev_id, False, Context(origin="hub", description="health check"),
                                   reason=f"silent since {st.last_seen.isoformat()}")

    async def health_loop(self, interval: timedelta = timedelta(seconds=10)) -> None:
        """Run `check_health` every `interval` of clock time."""
        while True:
            await self.clock.sleep(interval.total_seconds())
            self.check_health()

    async def run(self, *services: Service) -> None:
        """Run the link, the health monitor and `services` until cancelled; a crash stops all."""
        async with asyncio.TaskGroup() as tg:
            run_link = getattr(self.link, "run", None)
            if run_link is not None:
                tg.create_task(run_link(), name="mqtt-link")
            tg.create_task(self.health_loop(), name="health")
            for i, service in enumerate(services):
                tg.create_task(service(), name=getattr(service, "__name__", f"service-{i}"))
