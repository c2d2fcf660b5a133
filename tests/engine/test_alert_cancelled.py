"""A cancelled alert is over for the rule engine too (issue 11's bug).

The alert service publishes "cancelled" (a caregiver withdraws a false alarm, or a rule resolves
an alert before anyone was paged); the engine used to forget its own copy of an alert only on
"resolved", so `type: alert` conditions kept seeing it. The engine now asks the service.
"""

from __future__ import annotations

from pathlib import Path

from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import load_alerts
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import load_scenario_text
from controller.engine.engine import Engine
from controller.hub import Hub
from controller.mqtt import MemoryLink
from controller.store import Database
from devices import KINDS
from tests.conftest import ROOT

from .conftest import running, traces_of

TEXT = """
scenarios:
  - id: night_exit
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: false}]
    actions: [{type: alert, key: night.bed, severity: warning, message: Uit bed}]
  - id: back_in_bed
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: true}]
    conditions: [{type: alert, key: night.bed, active: true}]
    actions: [{type: set_mode, mode: night}]
"""


async def test_an_alert_the_service_cancelled_is_not_active_for_the_engine(
        demo_config: HomeConfig, clock: VirtualClock, tmp_path: Path) -> None:
    hub = Hub(demo_config, clock, KINDS, MemoryLink())
    db = await Database.connect(tmp_path / "huis.db")
    try:
        service = AlertService.from_hub(
            hub, db, load_alerts(ROOT / "config" / "alerts.yaml", demo_config.caregivers),
            base_url="http://hub.test:8080", channels=[PageChannel()])
        await service.open()
        engine = Engine(hub, db, service, load_scenario_text(TEXT, demo_config, KINDS, "t.yaml"), paths=[])
        async with running(engine):
            hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
            await clock.wait_idle()
            assert len(service.active()) == 1
            assert engine.alert_active("night.bed")
            [alert] = service.active()
            await service.cancel(alert.id, by="anna", reason="vals alarm")
            assert service.active() == []
            assert not engine.alert_active("night.bed")
            hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
            await clock.advance(seconds=1)
            assert engine.mode == "day"
            [trace] = await traces_of(engine, "back_in_bed")
            assert trace.status == "not_fired"
            assert trace.notes == ("condition not met: alert night.bed active",)
    finally:
        await db.close()
