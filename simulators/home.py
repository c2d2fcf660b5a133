"""The simulated home: one simulator per configured device, the resident, stories, remote control.

`run_simulators` is what `huis demo` runs next to the hub. While it runs, other programs (the
`huis simulate` command, the dashboard's tour guide) drive it over MQTT:

- `huis/simulators/status`: retained `online` while a simulated home runs, `offline` after;
- `huis/simulators/control`: `{"id": "42", "device": "bed_sensor", "set": {"occupancy": false}}`,
  `{"id": "43", "story": "night_exit"}` or `{"id": "44", "resident": "hall"}`;
- `huis/simulators/reply/<id>`: `{"id": "42", "ok": true}` or `{"id": "42", "ok": false,
  "error": "..."}`, sent when the change (or the whole story) is done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from controller.clock import AcceleratedClock, Clock
from controller.config import Device, HomeConfig, Mqtt, device_topic, link_settings
from controller.mqtt import LinkSettings
from controller.yamlfile import suggest
from simulators.base import SimSpec, SimulationError, Simulator
from simulators.connection import BrokerConnection, Connection, encode, simulator_account
from simulators.dispenser import DispenserSimulator
from simulators.speaker import SpeakerSimulator
from simulators.story_scripts import STORIES, Step, Story
from simulators.tag import OUTSIDE, TagSimulator
from simulators.z2m_bridge import BridgeSimulator
from simulators.zigbee import (
    BedSimulator,
    ContactSimulator,
    CurtainSimulator,
    LightSimulator,
    MotionSimulator,
    SosSimulator,
)

log = logging.getLogger(__name__)

STATUS_TOPIC = "huis/simulators/status"
CONTROL_TOPIC = "huis/simulators/control"
REPLY_TOPIC = "huis/simulators/reply"

SIMULATORS: dict[str, type[Simulator]] = {
    cls.kind: cls
    for cls in (BedSimulator, ContactSimulator, MotionSimulator, SosSimulator, LightSimulator,
                CurtainSimulator, TagSimulator, DispenserSimulator, SpeakerSimulator)
}


def sim_topic(dev_id: str, dev: Device) -> str:
    """The device's base topic; a speaker lives under `huis/speaker/<id>` unless configured."""
    if dev.kind == "speaker" and not dev.topic:
        return f"huis/speaker/{dev_id}"
    return device_topic(dev_id, dev)


StepListener = Callable[[Story, Step], None]


class SimulatedHome:
    """Every simulated device of a home, by id: `home["bed_sensor"].set_occupancy(False)`."""

    def __init__(self, cfg: HomeConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.tz = ZoneInfo(cfg.home.location.timezone)
        self.simulators: dict[str, Simulator] = {}
        self.resident_room: str | None = None
        self.out: Connection | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._started = False
        self.step_listeners: list[StepListener] = []
        self.bridge = BridgeSimulator(cfg, clock)  # Zigbee2MQTT's device list and permit join
        bed_room = next((d.room for d in cfg.devices.values() if d.kind == "bed" and d.room), None)
        rooms = list(cfg.rooms)
        for dev_id, dev in cfg.devices.items():
            cls = SIMULATORS.get(dev.kind)
            if cls is None:
                log.warning("no simulator for %s (kind '%s'); it stays silent", dev_id, dev.kind)
                continue
            spec = SimSpec(id=dev_id, kind=dev.kind, topic=sim_topic(dev_id, dev), model=dev.model,
                           room=dev.room, name=dev.name or dev_id, power=dev.power,
                           options=dict(dev.options), timezone=self.tz)
            if cls is TagSimulator:
                # By day she is in the living room if there is one, else in a room of hers.
                day = next(iter([r for r in ("living",) if r in cfg.rooms]
                                + cfg.resident.rooms + rooms), None)
                self.simulators[dev_id] = TagSimulator(spec, clock, rooms=rooms,
                                                       night_room=bed_room or day, day_room=day)
            else:
                self.simulators[dev_id] = cls(spec, clock)

    # -- lookup ---------------------------------------------------------------------------------

    def __getitem__(self, dev_id: str) -> Any:
        # Any: callers use the kind's own methods (set_occupancy, press, move_to, take_dose...).
        try:
            return self.simulators[dev_id]
        except KeyError:
            raise KeyError(self.unknown_device(dev_id)) from None

    def __contains__(self, dev_id: object) -> bool:
        return dev_id in self.simulators

    def __iter__(self) -> Iterator[Simulator]:
        return iter(self.simulators.values())

    def unknown_device(self, dev_id: str) -> str:
        """An error message for a device id that is not in this home, with a suggestion."""
        hint = suggest(dev_id, self.simulators)
        return (f"there is no device '{dev_id}' in {self.cfg.source}"
                + (f"; {hint}" if hint else f" (devices: {', '.join(self.simulators)})"))

    def of_kind(self, kind: str) -> list[Simulator]:
        """Simulators of one kind, in configuration order."""
        return [s for s in self.simulators.values() if s.kind == kind]

    def select(self, selector: str) -> Simulator:
        """A device by id, by 'kind@room' or by kind (the first one); SimulationError if none."""
        if selector in self.simulators:
            return self.simulators[selector]
        kind, _, room = selector.partition("@")
        found = [s for s in self.of_kind(kind) if not room or s.spec.room == room]
        if not found:
            raise SimulationError(self.unknown_device(selector))
        return found[0]

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, out: Connection, tg: asyncio.TaskGroup) -> None:
        """Take realistic initial states, subscribe to commands and announce every device."""
        self.out = out
        self._tg = tg
        local = self.clock.now().astimezone(self.tz)
        for sim in self:
            sim.initial(local)
        tag = next(iter(self.of_kind("tag")), None)
        if isinstance(tag, TagSimulator):
            self.resident_room = tag.room
        out.send(STATUS_TOPIC, b"online", retain=True)
        for room in self._node_rooms():
            out.send(f"espresense/rooms/{room}/status", b"online", retain=True)
        for sim in self:
            for flt in sim.subscriptions():
                out.subscribe(flt, sim.handle)
            sim.start(out, tg)
        out.subscribe(CONTROL_TOPIC, self._on_control)
        if self.bridge.zigbee:
            self.bridge.start(out, tg)
        self._started = True

    def stop(self) -> None:
        """Announce every device offline, as on a clean shutdown."""
        if not self._started or self.out is None:
            return
        for sim in self:
            sim.stop()
        for room in self._node_rooms():
            self.out.send(f"espresense/rooms/{room}/status", b"offline", retain=True)
        self.out.send(STATUS_TOPIC, b"offline", retain=True)
        self._started = False

    def _node_rooms(self) -> list[str]:
        # ESPresense nodes exist only in a home that has a tag to track.
        return list(self.cfg.rooms) if self.of_kind("tag") else []

    # -- the resident ---------------------------------------------------------------------------

    def move_resident(self, room: str) -> None:
        """The resident walks into `room` (or 'outside'): motion there detects her, her tag follows."""
        if room != OUTSIDE and room not in self.cfg.rooms:
            hint = suggest(room, self.cfg.rooms)
            raise SimulationError(f"there is no room '{room}'" + (f"; {hint}" if hint else ""))
        self.resident_room = None if room == OUTSIDE else room
        for sim in self.of_kind("motion"):
            assert isinstance(sim, MotionSimulator)
            here = sim.spec.room == self.resident_room
            if here and not sim.present:
                sim.set_presence(True)
            elif not here and sim.present:
                sim.set_presence(False)
        for tag in self.of_kind("tag"):
            assert isinstance(tag, TagSimulator)
            tag.move_to(self.resident_room)

    def place_resident(self, room: str) -> None:
        """The resident is in `room`, still (asleep, seated): her tag is there, no motion anywhere."""
        self.rest()
        if room != OUTSIDE and room not in self.cfg.rooms:
            hint = suggest(room, self.cfg.rooms)
            raise SimulationError(f"there is no room '{room}'" + (f"; {hint}" if hint else ""))
        self.resident_room = None if room == OUTSIDE else room
        for tag in self.of_kind("tag"):
            assert isinstance(tag, TagSimulator)
            if tag.room != self.resident_room:
                tag.move_to(self.resident_room)

    def rest(self) -> None:
        """The resident lies or sits still: motion sensors stop detecting, her tag stays put."""
        for sim in self.of_kind("motion"):
            assert isinstance(sim, MotionSimulator)
            if sim.present:
                sim.set_presence(False)

    # -- driving devices ------------------------------------------------------------------------

    async def apply(self, dev_id: str, values: Mapping[str, Any]) -> None:
        """Set attributes on a device by hand (text or typed values); SimulationError if wrong."""
        if dev_id not in self.simulators:
            raise SimulationError(self.unknown_device(dev_id))
        sim = self.simulators[dev_id]
        await sim.apply(sim.coerce(values))

    @property
    def stories(self) -> dict[str, Story]:
        """The stories this home can play, by name (the tour guide lists these)."""
        return dict(STORIES)

    def story(self, name: str) -> Story:
        """A story by name; SimulationError with a suggestion if there is none."""
        if name in STORIES:
            return STORIES[name]
        hint = suggest(name, STORIES)
        raise SimulationError(f"there is no story '{name}'"
                              + (f"; {hint}" if hint else f" (stories: {', '.join(STORIES)})"))

    def check(self, story: Story) -> None:
        """Raise SimulationError if a step names a device or room this home does not have."""
        for step in story.steps:
            if step.device is not None:
                sim = self.select(step.device)
                sim.coerce(step.set)
            room = step.walk_to or step.rest_in
            if room is not None and room != OUTSIDE and room not in self.cfg.rooms:
                raise SimulationError(f"story '{story.name}' needs room '{room}', "
                                      f"which {self.cfg.source} does not have")

    async def play(self, story: Story | str) -> None:
        """Play a story on this home's clock, from now; returns after its last step.

        The tour does not come here: it plays each story in a sandbox of its own, at the
        story's hour (dashboard/tour_sandbox.py), and never moves the live home's clock.
        """
        if isinstance(story, str):
            story = self.story(story)
        self.check(story)
        log.info("story %s begins", story.name)
        start = self.clock.now()
        for step in story.steps:
            await self.clock.sleep_until(start + step.at)
            await self.do_step(story, step)
        log.info("story %s ends", story.name)

    async def do_step(self, story: Story, step: Step) -> None:
        """Do one step of `story` now (and tell the step listeners)."""
        if step.text:
            log.info("story %s +%s: %s", story.name, step.at, step.text_en)
        for listener in self.step_listeners:
            listener(story, step)
        if step.device is not None:
            sim = self.select(step.device)
            await sim.apply(sim.coerce(step.set))
        elif step.walk_to is not None:
            self.move_resident(step.walk_to)
        elif step.rest_in is not None:
            self.place_resident(step.rest_in)
        elif step.rest:
            self.rest()

    # -- remote control -------------------------------------------------------------------------

    def _on_control(self, topic: str, payload: bytes) -> None:
        try:
            request = json.loads(payload)
            if not isinstance(request, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            log.warning("ignoring a control message that is not a JSON object: %r", payload[:80])
            return
        if self._tg is None:
            return
        req_id = str(request.get("id", ""))
        # Supervised by the home's task group; _serve never raises, so one bad request cannot
        # take the simulated home down.
        self._tg.create_task(self._serve(req_id, request), name=f"control:{req_id}")

    async def _serve(self, req_id: str, request: Mapping[str, Any]) -> None:
        reply: dict[str, Any] = {"id": req_id, "ok": True}
        try:
            if "story" in request:
                await self._play_telling(req_id, str(request["story"]))
            elif "resident" in request:
                self.move_resident(str(request["resident"]))
            elif "device" in request:
                values = request.get("set")
                if not isinstance(values, dict) or not values:
                    raise SimulationError("'set' should be an object of attribute values")
                await self.apply(str(request["device"]), values)
            else:
                raise SimulationError("a control message needs 'device' and 'set', 'story' or 'resident'")
        except SimulationError as exc:
            reply = {"id": req_id, "ok": False, "error": str(exc)}
        except Exception as exc:  # a simulator bug: report it rather than crash the home
            log.exception("control request %s failed", req_id)
            reply = {"id": req_id, "ok": False, "error": f"simulator error: {exc!r}"}
        if req_id and self.out is not None:
            self.out.send(f"{REPLY_TOPIC}/{req_id}", encode(reply))


    async def _play_telling(self, req_id: str, name: str) -> None:
        # `huis simulate --story` shows progress: the pace first (this clock's, which is the
        # live hub's), then each step as it happens, on the request's reply topic.
        story = self.story(name)
        speed = self.clock.speed if isinstance(self.clock, AcceleratedClock) else 1.0
        self._tell(req_id, {"started": {"speed": speed, "duration": story.duration.total_seconds(),
                                        "steps": len(story.steps)}})

        def step(played: Story, st: Step) -> None:
            if played is story:
                self._tell(req_id, {"step": {"at": st.at.total_seconds(), "text": st.text,
                                             "text_en": st.text_en}})

        self.step_listeners.append(step)
        try:
            await self.play(story)
        finally:
            self.step_listeners.remove(step)

    def _tell(self, req_id: str, message: Mapping[str, Any]) -> None:
        if req_id and self.out is not None:
            self.out.send(f"{REPLY_TOPIC}/{req_id}", encode({"id": req_id, **message}))


def broker_settings(cfg: HomeConfig, host: str, port: int, client_id: str,
                    status_topic: str) -> LinkSettings:
    """LinkSettings for the simulators: the configured credentials, their own client id and status."""
    mqtt = cfg.mqtt.model_copy(update={"host": host, "port": port}) if cfg.mqtt else Mqtt(host=host, port=port)
    settings = simulator_account(cfg, link_settings(cfg, mqtt))
    # Their own client id: the broker would otherwise disconnect the hub, which has the same one.
    return dataclasses.replace(settings, client_id=client_id, status_topic=status_topic)


async def run_simulators(cfg: HomeConfig, clock: Clock, host: str, port: int,
                         home: SimulatedHome | None = None) -> None:
    """Run one simulator per configured device against the broker at host:port until cancelled.

    Pass `home` (a `SimulatedHome(cfg, clock)`) to keep a handle on the devices, e.g. for the
    dashboard's tour-guide buttons.
    """
    home = home if home is not None else SimulatedHome(cfg, clock)
    conn = BrokerConnection(broker_settings(cfg, host, port, "huis-simulators", STATUS_TOPIC), clock)
    await serve_home(home, conn)


async def serve_home(home: SimulatedHome, conn: BrokerConnection,
                     ready: Callable[[SimulatedHome], None] | None = None) -> None:
    """Run `home` on `conn` until cancelled, then say offline and make sure the broker heard it."""
    async with asyncio.TaskGroup() as tg:
        tg.create_task(conn.run(), name="simulators-mqtt")
        home.start(conn, tg)
        if ready is not None:
            ready(home)
        try:
            await asyncio.Future()  # until cancelled
        finally:
            home.stop()
            try:
                async with asyncio.timeout(2.0):  # real I/O: the broker may be gone already
                    await conn.flush()
            except TimeoutError:
                log.warning("the broker did not confirm the simulators' offline messages")

