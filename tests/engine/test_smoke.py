from __future__ import annotations

from controller.clock import VirtualClock
from controller.engine import MemoryAlertSink
from controller.hub import Hub
from controller.store import Database

from .conftest import bed, engine_for, running, sent

NIGHT = """
parameters:
  tolerance: {type: duration, default: 10m, min: 0m, max: 30m}
scenarios:
  - id: bed_empty
    triggers:
      - {type: state, device: bed_sensor, attribute: occupancy, to: false, for: $tolerance}
    actions:
      - {type: light, device: bedroom_light, state: on, brightness_percent: 10}
      - type: alert
        key: night.bed
        severity: warning
        message: "{resident} is al {tolerance} uit bed"
"""


async def test_smoke(hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    async with running(engine_for(hub, db, sink, NIGHT)):
        bed(hub, False)
        await clock.advance(minutes=9)
        assert sent(hub, "zigbee2mqtt/bedroom_light/set") == []
        await clock.advance(minutes=1)
        assert sent(hub, "zigbee2mqtt/bedroom_light/set") == [{"state": "ON", "brightness": 25}]
        assert [a.message for a in sink.raised] == ["Mevrouw Jansen is al 10 minuten uit bed"]
