"""`huis run` loads its dashboard when the first page opens: until then the hub reacts with the
web stack unloaded and a plain socket on the dashboard's port; the first page then shows what
happened before it (the events kept meanwhile), served on that same port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho
import yaml

from tests.conftest import ROOT, Mosquitto, free_port

NIGHT_RULE = """\
name: night
scenarios:
  - id: bed_empty_hall_light
    description: Bed leeg -> hal licht aan
    triggers:
      - {type: state, device: bed_sensor, attribute: occupancy, to: false}
    actions:
      - {type: light, device: hall_light, state: on, brightness: 25}
"""


def run_config(tmp_path: Path, broker: int) -> tuple[Path, int]:
    """The demo home against `broker`, with only the night rule, on a free dashboard port."""
    doc = yaml.safe_load((ROOT / "config" / "home.yaml").read_text(encoding="utf-8"))
    doc.pop("embedded_broker", None)
    web = free_port()
    (tmp_path / "night.yaml").write_text(NIGHT_RULE, encoding="utf-8")
    doc.update(mqtt={"host": "127.0.0.1", "port": broker}, scenarios=[str(tmp_path / "night.yaml")],
               alerts=str(ROOT / "config" / "alerts.yaml"), storage={"path": str(tmp_path / "huis.db")},
               dashboard={**doc.get("dashboard", {}), "port": web})
    path = tmp_path / "home.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, web


class Device:
    """The bed sensor's side: publishes its state, hears the hall light's commands and the hub's status."""

    def __init__(self, port: int) -> None:
        self.online = threading.Event()
        self.light = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-bed")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([("huis/status", 1), ("zigbee2mqtt/hall_light/set", 1)])
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        if msg.topic == "huis/status" and msg.payload.startswith(b"online"):
            self.online.set()
        elif msg.topic == "zigbee2mqtt/hall_light/set":
            self.light.set()

    def bed(self, occupied: bool) -> None:
        self.client.publish("zigbee2mqtt/bed_sensor", json.dumps({"occupancy": occupied}), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_the_hub_reacts_before_any_page_and_the_first_page_shows_what_it_did(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    config, web = run_config(tmp_path, mosquitto.port)
    log = tmp_path / "run.log"
    device = Device(mosquitto.port)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "huis.cli", "run", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        assert device.online.wait(60), log.read_text()
        device.bed(True)
        device.bed(False)
        assert device.light.wait(30), log.read_text()
        # The rule ran and nobody opened a page: the web stack was not loaded for it.
        assert "first visitor" not in log.read_text()

        with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/tour", timeout=60) as response:
            tour = json.loads(response.read())
        told = [n for n in tour["narrations"] if n["device"] == "bed_sensor"]
        assert told, tour["narrations"]  # the bed emptied before the page opened, and the page says so
        assert "dashboard: first visitor" in log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/devices", timeout=30) as page:
            assert "Apparaten" in page.read().decode()
    finally:
        device.close()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()
