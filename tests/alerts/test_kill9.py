"""kill -9 of the hub during an escalating alert, as a real subprocess against a real mosquitto.

After the restart the alert is still active, escalation continues from the persisted deadline,
and nobody who was already paged (and recorded as such) is paged again for that step.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.publish as mqtt_publish
import pytest
import yaml

from tests.alerts.conftest import TOPIC
from tests.alerts.fakes import NtfyServer
from tests.conftest import DEMO_CONFIG, ROOT, Mosquitto, free_port
from tests.support import eventually

pytestmark = pytest.mark.broker

ALERTS_YAML = """
channels:
  ntfy: {server: "{ntfy}", timeout: 5s, retries: 1, backoff: 1s}
severities:
  urgent:  {policy: fast, channels: [ntfy]}
  warning: {policy: fast, channels: [ntfy]}
  info:    {policy: fast, channels: [ntfy]}
policies:
  fast:    # the demo's 0/3/6 minutes and 5-minute repeat, in seconds
    steps:
      - {after: 0s, notify: [piet]}
      - {after: 3s, notify: [anna, buur]}
      - {after: 6s, notify: [team]}
    repeat_last_every: 4s
caregivers:
""" + "".join(f"  {who}: {{channels: [{{type: ntfy, topic: {topic}}}]}}\n" for who, topic in TOPIC.items())

SOS_SCENARIO = """
scenarios:
  - id: sos
    description: Alarmknop ingedrukt
    triggers:
      - {type: event, device: sos_button, event: emergency}
    actions:
      - type: alert
        key: sos
        severity: urgent
        message: "{resident} heeft op de alarmknop gedrukt."
"""


def write_home(tmp: Path, mosquitto: Mosquitto, ntfy: NtfyServer) -> tuple[Path, int]:
    home: dict[str, Any] = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    home["mqtt"] = {"host": mosquitto.host, "port": mosquitto.port, "client_id": "huis-kill9"}
    home["storage"] = {"path": "var/huis.db"}
    port = free_port()
    home["dashboard"] = {"host": "127.0.0.1", "port": port}
    home["scenarios"] = ["scenarios"]
    (tmp / "scenarios").mkdir()
    (tmp / "scenarios" / "sos.yaml").write_text(SOS_SCENARIO, encoding="utf-8")
    (tmp / "alerts.yaml").write_text(ALERTS_YAML.replace("{ntfy}", ntfy.url), encoding="utf-8")
    path = tmp / "home.yaml"
    path.write_text(yaml.safe_dump(home, allow_unicode=True), encoding="utf-8")
    return path, port


def deliveries(db: Path) -> list[tuple[str, int, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT recipient, step, status FROM alert_deliveries WHERE kind = 'alert'"))


def alert_states(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT state FROM alerts")]


def paged(ntfy: NtfyServer) -> list[str]:
    who = {t: w for w, t in TOPIC.items()}
    return [who[m["topic"]] for m in ntfy.messages]


def spawn(cmd: list[str], tmp: Path, stdout: int) -> subprocess.Popen[bytes]:
    with open(tmp / "hub.log", "ab") as log:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=stdout, stderr=log,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})


async def start(cmd: list[str], tmp: Path, port: int) -> subprocess.Popen[bytes]:
    """Start the hub; ready once it says so on stdout, or once its dashboard reports MQTT up."""
    if "tests.alerts.hub_process" in cmd:
        proc = await asyncio.to_thread(spawn, cmd, tmp, subprocess.PIPE)
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
        proc.stdout.close()
        assert line.strip() == b"ready", (tmp / "hub.log").read_text()
        return proc
    proc = await asyncio.to_thread(spawn, cmd, tmp, subprocess.DEVNULL)
    async with httpx.AsyncClient() as client, asyncio.timeout(20):
        while True:
            assert proc.poll() is None, (tmp / "hub.log").read_text()
            try:
                health = (await client.get(f"http://127.0.0.1:{port}/api/health")).json()
                if health.get("mqtt_connected"):
                    return proc
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)


async def run_kill9(tmp: Path, mosquitto: Mosquitto, cmd: list[str]) -> None:
    async with NtfyServer() as ntfy:
        config, port = write_home(tmp, mosquitto, ntfy)
        db = tmp / "var" / "huis.db"
        argv = [*cmd, "--config", str(config)]
        proc = await start(argv, tmp, port)
        try:
            await asyncio.to_thread(mqtt_publish.single, "zigbee2mqtt/sos_button",
                                    '{"action": "emergency", "battery": 90}', qos=1,
                                    hostname=mosquitto.host, port=mosquitto.port)
            # Wait until step 2 is delivered *and recorded*, then kill without warning.
            await eventually(lambda: sorted(r for r, _, s in deliveries(db) if s == "sent")
                             == ["anna", "buur", "piet"], within=20)
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait)
            assert Counter(paged(ntfy)) == {"piet": 1, "anna": 1, "buur": 1}
            assert alert_states(db) == ["delivered"]  # still active, on disk

            proc = await start(argv, tmp, port)
            # The care team's deadline passed while the hub was down: paged at once, then the repeat.
            await eventually(lambda: Counter(paged(ntfy))["team"] >= 2, within=20)
            counts = Counter(paged(ntfy))
            assert (counts["piet"], counts["anna"], counts["buur"]) == (1, 1, 1)
            assert alert_states(db) == ["delivered"]
            steps = sorted((s, r) for r, s, st in deliveries(db) if r == "team")
            assert [s for s, _ in steps][:2] == [2, 3]  # step 3, then its first repeat
        finally:
            if proc.poll() is None:
                proc.terminate()
                await asyncio.to_thread(proc.wait, 10)


async def test_kill9_of_a_hub_process_with_the_alert_service(tmp_path: Path, mosquitto: Mosquitto) -> None:
    # The alert service alone (a stand-in rule raises the alert): a failure here is ours.
    await run_kill9(tmp_path, mosquitto, [sys.executable, "-m", "tests.alerts.hub_process"])


async def test_kill9_of_huis_run(tmp_path: Path, mosquitto: Mosquitto) -> None:
    # The whole home as shipped: scenarios/sos.yaml raises the alert through the rule engine,
    # alerts.yaml next to home.yaml configures the service; ready once /api/health says MQTT is up.
    await run_kill9(tmp_path, mosquitto, [sys.executable, "-m", "huis.cli", "run"])
