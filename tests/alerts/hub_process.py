"""A hub process with the alert service, for the kill -9 test.

This is the composition `huis run` needs (see the report to the lead): hub + SQLite + alert
service from `alerts.yaml` next to `home.yaml`. Until the rule engine is wired in, a minimal
rule stands in for it: the SOS button's `emergency` event raises an urgent alert.

    python -m tests.alerts.hub_process --config path/to/home.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from controller.alerts.policy import load_alerts
from controller.alerts.service import AlertService
from controller.clock import RealClock
from controller.config import link_settings, resolve
from controller.events import DEVICE_EVENT, Event
from controller.mqtt import MqttLink
from controller.store import Database
from huis.compose import build_hub, load_home


async def main(config_path: str) -> None:
    cfg = load_home(config_path)
    assert cfg.mqtt is not None, "needs an mqtt section"
    clock = RealClock()
    hub = build_hub(cfg, clock, link_settings(cfg, cfg.mqtt))
    db = await Database.connect(resolve(cfg, cfg.storage.path))
    alerts = AlertService.from_hub(hub, db, load_alerts(resolve(cfg, "alerts.yaml"), cfg.caregivers),
                                   base_url=f"http://{cfg.dashboard.host}:{cfg.dashboard.port}")
    presses: asyncio.Queue[Event] = asyncio.Queue()

    def on_event(event: Event) -> None:
        if event.device == "sos_button" and event.data.get("event") == "emergency":
            presses.put_nowait(event)

    hub.bus.subscribe(on_event, DEVICE_EVENT)

    async def sos_rule() -> None:
        while True:
            event = await presses.get()
            await alerts.raise_alert(key="sos", scenario="sos", severity="urgent",
                                     message="Mevrouw Jansen heeft op de alarmknop gedrukt.",
                                     context=event.context.child("rule:sos", "alarmknop ingedrukt"), data={})

    async def announce_ready() -> None:
        await alerts.open()
        assert isinstance(hub.link, MqttLink)
        await hub.link.connected.wait()
        print("ready", flush=True)

    await hub.run(alerts.run, sos_rule, announce_ready)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main(parser.parse_args().config))
