"""Helpers for simulator tests: simulators on a real mosquitto, watched by a separate MqttLink."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from controller.clock import Clock
from controller.mqtt import LinkSettings, MqttLink
from simulators.base import SimSpec, Simulator
from simulators.connection import BrokerConnection

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
WAIT = 5.0  # seconds of real time for real network I/O; never an assertion about speed

_clients = itertools.count(1)


def spec(dev_id: str, kind: str, topic: str | None = None, model: str | None = None,
         **options: Any) -> SimSpec:
    """A SimSpec as the home would build it from config/home.yaml."""
    return SimSpec(id=dev_id, kind=kind, topic=topic or f"zigbee2mqtt/{dev_id}", model=model,
                   name=dev_id, options=options, timezone=AMSTERDAM)


class Recorder:
    """A separate MQTT client (the hub's own MqttLink) that records everything on the broker."""

    def __init__(self, host: str, port: int, clock: Clock, flt: str = "#") -> None:
        n = next(_clients)
        self.messages: list[tuple[str, bytes]] = []
        self._new = asyncio.Event()
        self._read: dict[str, int] = {}
        self.link = MqttLink(LinkSettings(host=host, port=port, client_id=f"recorder-{n}",
                                          status_topic=f"test/recorder-{n}/status"),
                             clock, self._on_message)
        self.link.subscribe(flt)

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))
        self._new.set()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not condition():
                self._new.clear()
                await self._new.wait()

    def raw(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]

    def payloads(self, topic: str) -> list[Any]:
        """Every JSON payload seen on `topic` so far."""
        return [json.loads(p) for p in self.raw(topic)]

    async def next(self, topic: str) -> Any:
        """The next unread JSON payload on `topic`, waiting for it if need be."""
        pos = self._read.get(topic, 0)
        await self.wait_for(lambda: len(self.raw(topic)) > pos)
        self._read[topic] = pos + 1
        return json.loads(self.raw(topic)[pos])

    async def until(self, topic: str, match: Callable[[Any], bool]) -> Any:
        """Read `topic` until a payload matches; returns it."""
        while True:
            payload = await self.next(topic)
            if match(payload):
                return payload

    def skip(self, topic: str) -> None:
        """Mark everything seen on `topic` so far as read."""
        self._read[topic] = len(self.raw(topic))

    def unread(self, topic: str) -> list[Any]:
        return self.payloads(topic)[self._read.get(topic, 0):]


@dataclass
class Rig:
    """Simulators on a BrokerConnection and a Recorder, both on the test's mosquitto."""

    conn: BrokerConnection
    rec: Recorder
    tg: asyncio.TaskGroup
    sims: list[Simulator] = field(default_factory=list)
    _syncs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def start(self, sim: Simulator) -> Any:
        for flt in sim.subscriptions():
            self.conn.subscribe(flt, sim.handle)
        sim.start(self.conn, self.tg)
        self.sims.append(sim)
        return sim

    async def sync(self) -> None:
        """Return once the recorder has everything the simulators sent so far.

        The broker keeps one publisher's messages in order, so when a marker sent after them
        arrives, they have all arrived."""
        n = str(next(self._syncs)).encode()
        self.conn.send("test/sync", n)
        await self.rec.wait_for(lambda: n in self.rec.raw("test/sync"))

    async def roundtrip(self) -> None:
        """Return once every command sent so far was handled and its effects were recorded.

        A ping from the recorder reaches the simulators after the recorder's earlier commands
        (handlers run synchronously), and their pong goes out after whatever those commands
        made them publish."""
        n = str(next(self._syncs)).encode()
        self.rec.link.send("test/ping", n)
        await self.rec.wait_for(lambda: n in self.rec.raw("test/pong"))

    def command(self, topic: str, payload: dict[str, Any] | bytes) -> None:
        """Publish like the hub would (from the recorder's connection)."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.rec.link.send(topic, data)


@contextlib.asynccontextmanager
async def rig(host: str, port: int, clock: Clock) -> AsyncIterator[Rig]:
    n = next(_clients)
    conn = BrokerConnection(LinkSettings(host=host, port=port, client_id=f"sims-{n}",
                                         status_topic=f"test/sims-{n}/status"), clock)
    rec = Recorder(host, port, clock)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(conn.run()), tg.create_task(rec.link.run())]
        r = Rig(conn=conn, rec=rec, tg=tg)
        conn.subscribe("test/ping", lambda _t, payload: conn.send("test/pong", payload))
        try:
            async with asyncio.timeout(WAIT):
                await conn.connected()
                await rec.link.connected.wait()
            yield r
        finally:
            for sim in r.sims:
                sim.detach()
            for task in tasks:
                task.cancel()
