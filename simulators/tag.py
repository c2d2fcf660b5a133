"""A BLE tag worn by the resident, as ESPresense room nodes report it.

ESPresense (https://espresense.com) runs one ESP32 node per room. A node that hears the tag
publishes `espresense/devices/<tag id>/<room>` every few seconds with the measured distance:

    {"id": "wander_tag", "name": "Dwaaldetectie-label", "rssi@1m": -59, "rssi": -66,
     "raw": 2.05, "distance": 1.87, "speed": 0.02, "mac": "c3:41:0a:5e:77:19", "interval": 1020}

Nothing is published about a tag nobody hears: the hub sees the tag leave the house by its
reports stopping. Node liveness is `espresense/rooms/<room>/status` (retained `online`, last will
`offline`); the simulated home publishes it for every room (see `simulators.home`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from controller.clock import Clock
from simulators.base import Attr, SimSpec, SimulationError, Simulator
from simulators.zigbee import is_night

OUTSIDE = "outside"


class TagSimulator(Simulator):
    """An ESPresense-tracked BLE tag that can be moved to a room or outside."""

    kind: ClassVar[str] = "tag"
    rssi_at_1m: ClassVar[int] = -59
    path_loss: ClassVar[float] = 2.7  # indoor path-loss exponent: rssi = rssi@1m - 10 n log10(d)

    def __init__(self, spec: SimSpec, clock: Clock, *, rooms: Sequence[str] = (),
                 night_room: str | None = None, day_room: str | None = None) -> None:
        super().__init__(spec, clock)
        self.rooms = tuple(rooms)
        self.room: str | None = None  # None: outside, nobody hears it
        self.night_room = night_room
        self.day_room = day_room
        self.tag_id = spec.topic.rstrip("/").rsplit("/", 1)[-1]
        self.mac = ":".join(f"{self.rng.randrange(256):02x}" for _ in range(6))
        self.interval_ms = self.rng.randint(950, 1100)  # measured advertising interval
        self.period = float(spec.options.get("report_every", 3))  # seconds between node reports
        self._distance = 2.0
        self._raw_last = 2.0
        self.reports = 0

    @property
    def attributes(self) -> tuple[Attr, ...]:  # type: ignore[override]
        return (Attr(name="room", type="choice", choices=(*self.rooms, OUTSIDE),
                     help="the room whose node hears the tag, or 'outside' (nobody does)"),)

    def initial(self, local: datetime) -> None:
        self.room = self.night_room if is_night(local) else self.day_room

    def start(self, out: Any, tg: Any) -> None:
        super().start(out, tg)
        self.spawn("report", self._report_loop())

    def move_to(self, room: str | None) -> None:
        """Put the tag in `room` (reported now and every few seconds), or outside (None/'outside')."""
        if room == OUTSIDE:
            room = None
        if room is not None and self.rooms and room not in self.rooms:
            raise SimulationError(f"{self.id}: no ESPresense node in room '{room}'")
        changed = room != self.room
        self.room = room
        if changed:
            self._distance = 1.5 + self.rng.random() * 2
        if self._tg is not None:
            # The node in the new room hears it at once; the regular rhythm restarts from here.
            self.publish_state()
            self.spawn("report", self._report_loop())

    def publish_state(self) -> None:
        """One report from the node in the tag's room, if any node hears it."""
        if not self.online or self.room is None or self.out is None:
            return
        self.send(f"{self.spec.topic}/{self.room}", self.report())
        self.reports += 1

    def report(self) -> dict[str, object]:
        """The next ESPresense report: a slow random walk in distance, noisy raw readings."""
        previous = self._distance
        self._distance = max(0.3, min(6.0, previous + self.rng.uniform(-0.25, 0.25)))
        raw = max(0.2, self._distance + self.rng.gauss(0, 0.3))
        rssi = round(self.rssi_at_1m - 10 * self.path_loss * math.log10(raw))
        speed = (self._distance - previous) / self.period
        return {
            "id": self.tag_id,
            "name": self.spec.name or self.tag_id,
            "rssi@1m": self.rssi_at_1m,
            "rssi": rssi,
            "raw": round(raw, 2),
            "distance": round(self._distance, 2),
            "speed": round(speed, 2),
            "mac": self.mac,
            "interval": self.interval_ms,
        }

    async def _report_loop(self) -> None:
        while True:
            await self.clock.sleep(self.period)
            self.publish_state()

    async def _heartbeat(self) -> None:
        # The reports are the heartbeat; a BLE tag has no other channel.
        return

    async def apply_one(self, name: str, value: Any) -> None:
        if name == "room":
            self.move_to(value)
        else:
            await super().apply_one(name, value)
