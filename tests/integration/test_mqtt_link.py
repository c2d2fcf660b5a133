"""The hub over a real mosquitto: messages in, commands out, broker restarts, the embedded broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from controller.broker import embedded_broker
from controller.clock import RealClock
from controller.config import HomeConfig
from controller.events import AVAILABILITY, STATE_CHANGED, Context, Event
from controller.hub import Hub
from controller.mqtt import LinkSettings, MqttLink
from huis.compose import build_hub
from tests.conftest import Mosquitto, free_port
from tests.support import eventually

pytestmark = pytest.mark.broker


class Probe:
    """A second MQTT client standing in for devices and observers."""

    def __init__(self, host: str, port: int) -> None:
        self.received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.link = MqttLink(
            LinkSettings(host=host, port=port, client_id="probe", status_topic="probe/status"),
            RealClock(), lambda t, p: self.received.put_nowait((t, p)),
        )

    async def expect(self, topic: str) -> bytes:
        async with asyncio.timeout(10):
            while True:
                t, payload = await self.received.get()
                if t == topic:
                    return payload


@pytest.fixture
async def running(demo_config: HomeConfig, mosquitto: Mosquitto) -> AsyncIterator[tuple[Hub, Probe]]:
    hub = build_hub(demo_config, RealClock(), LinkSettings(host=mosquitto.host, port=mosquitto.port,
                                                           backoff_max=1.0))
    probe = Probe(mosquitto.host, mosquitto.port)
    probe.link.subscribe("zigbee2mqtt/+/set", "huis/status")
    async with asyncio.TaskGroup() as tg:
        hub_task = tg.create_task(hub.run())
        probe_task = tg.create_task(probe.link.run())
        await eventually(lambda: hub.link.connected.is_set() and probe.link.connected.is_set())  # type: ignore[attr-defined]
        yield hub, probe
        hub_task.cancel()
        probe_task.cancel()


async def test_device_message_updates_hub_state(running: tuple[Hub, Probe]) -> None:
    hub, probe = running
    probe.link.send("zigbee2mqtt/bed_sensor", json.dumps({"occupancy": False, "battery": 91}).encode())
    await eventually(lambda: hub.state.attribute("bed_sensor", "occupancy") is False)
    assert hub.state.get("bed_sensor").attributes["battery"] == 91
    assert hub.state.get("bed_sensor").available is True


async def test_a_burst_is_handled_whole_and_in_order(running: tuple[Hub, Probe]) -> None:
    # Hundreds of messages published back to back: each reaches the hub, none out of order.
    hub, probe = running
    seen: list[object] = []
    hub.bus.subscribe(lambda e: seen.append(e.data["changes"].get("linkquality", (None, None))[1])
                      if e.device == "bed_sensor" else None, STATE_CHANGED)
    count = 768
    for i in range(count):
        probe.link.send("zigbee2mqtt/bed_sensor", json.dumps({"linkquality": i % 256}).encode(), qos=0)
    await eventually(lambda: len(seen) >= count)
    assert seen[-count:] == [i % 256 for i in range(count)]


async def test_hub_announces_itself_retained(running: tuple[Hub, Probe]) -> None:
    _, probe = running
    assert await probe.expect("huis/status") == b"online"


async def test_command_reaches_the_device_topic(running: tuple[Hub, Probe]) -> None:
    hub, probe = running
    hub.command("hall_light", {"state": "ON", "brightness": 25}, Context(origin="test"))
    payload = json.loads(await probe.expect("zigbee2mqtt/hall_light/set"))
    assert payload["state"] == "ON"
    assert payload["brightness"] == 25


async def test_garbage_is_counted_and_the_hub_keeps_working(running: tuple[Hub, Probe]) -> None:
    hub, probe = running
    probe.link.send("zigbee2mqtt/bed_sensor", b"\x00\xffnot json")
    probe.link.send("zigbee2mqtt/bed_sensor", b"[1, 2]")
    probe.link.send("zigbee2mqtt/bed_sensor", b'{"occupancy": "maybe"}')
    probe.link.send("zigbee2mqtt/bed_sensor", b'{"occupancy": true}')
    await eventually(lambda: hub.state.attribute("bed_sensor", "occupancy") is True)
    st = hub.state.get("bed_sensor")
    assert st.payload_errors == 3
    assert st.last_error is not None and "occupancy" in st.last_error


async def test_broker_restart_reconnects_and_resumes(running: tuple[Hub, Probe], mosquitto: Mosquitto) -> None:
    hub, probe = running
    link = hub.link
    assert isinstance(link, MqttLink)
    mosquitto.stop()
    await eventually(lambda: not link.connected.is_set())
    # A command while the broker is away waits in the outbox instead of being lost.
    hub.command("hall_light", {"state": "ON"}, Context(origin="test"))
    assert link.pending == 1
    mosquitto.start()
    await eventually(lambda: link.connected.is_set() and probe.link.connected.is_set(), within=10)
    assert link.connects == 2
    # Subscriptions were renewed: device messages flow in again.
    probe.link.send("zigbee2mqtt/front_door", json.dumps({"contact": False}).encode())
    await eventually(lambda: hub.state.attribute("front_door", "contact") is False)
    # And the queued command was delivered after the reconnect.
    await eventually(lambda: link.pending == 0)


async def test_availability_topic_marks_device_offline(running: tuple[Hub, Probe]) -> None:
    hub, probe = running
    events: list[Event] = []
    hub.bus.subscribe(events.append, AVAILABILITY)
    probe.link.send("zigbee2mqtt/hall_light/availability", b'{"state": "offline"}')
    await eventually(lambda: hub.state.get("hall_light").available is False)
    assert events[-1].data["online"] is False


async def test_embedded_broker_carries_hub_traffic(demo_config: HomeConfig) -> None:
    port = free_port()
    async with embedded_broker("127.0.0.1", port):
        hub = build_hub(demo_config, RealClock(), LinkSettings(host="127.0.0.1", port=port))
        probe = Probe("127.0.0.1", port)
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(hub.run()), tg.create_task(probe.link.run())]
            await eventually(lambda: hub.link.connected.is_set() and probe.link.connected.is_set())  # type: ignore[attr-defined]
            probe.link.send("zigbee2mqtt/bed_sensor", b'{"occupancy": false}')
            await eventually(lambda: hub.state.attribute("bed_sensor", "occupancy") is False)
            for t in tasks:
                t.cancel()
