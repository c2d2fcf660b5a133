"""`huis run` on a disk that fills up or turns read-only, as a real subprocess against a real
mosquitto, a local ntfy server and a real SQLite file on a small tmpfs of its own (tests/store/disk.py).

What must hold (docs/reliability.md, "Storage faults"): the hub keeps handling events and
paging; an SOS after the fault is still paged; the technician is told on the channels that
work; when the disk is usable again, what the hub held in memory is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.publish as mqtt_publish
import pytest
import yaml

from tests.alerts.fakes import NtfyServer
from tests.conftest import DEMO_CONFIG, ROOT, Mosquitto, free_port
from tests.store.disk import Ext4Disk, SmallDisk, ext4_disk, small_disk
from tests.support import eventually

pytestmark = pytest.mark.broker

TOPIC = {"piet": "huis-disk-piet", "anna": "huis-disk-anna", "buur": "huis-disk-buur",
         "team": "huis-disk-team"}

ALERTS_YAML = """
channels:
  ntfy: {server: "{ntfy}", timeout: 5s, retries: 1, backoff: 1s}
severities:
  urgent:  {policy: fast, channels: [ntfy]}
  warning: {policy: fast, channels: [ntfy]}
  info:    {policy: fast, channels: [ntfy]}
policies:
  fast:
    steps:
      - {after: 0s, notify: [piet]}
      - {after: 600s, notify: [anna]}
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


@dataclass
class RunningHub:
    """A `huis run` subprocess with its files, broker and ntfy server."""

    tmp: Path
    config: Path
    db: Path
    port: int
    mosquitto: Mosquitto
    ntfy: NtfyServer
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        return (self.tmp / "hub.log").read_text(errors="replace")

    async def start(self) -> None:
        def spawn() -> subprocess.Popen[bytes]:
            with open(self.tmp / "hub.log", "ab") as log:
                return subprocess.Popen([sys.executable, "-m", "huis.cli", "run", "--config", str(self.config)],
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)})

        self.proc = await asyncio.to_thread(spawn)
        async with httpx.AsyncClient() as client, asyncio.timeout(30):
            while True:
                assert self.proc.poll() is None, self.log
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    health = (await client.get(f"http://127.0.0.1:{self.port}/api/health")).json()
                    if health.get("mqtt_connected"):
                        return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(self.proc.wait, 20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def publish(self, device: str, payload: dict[str, Any]) -> None:
        await asyncio.to_thread(mqtt_publish.single, f"zigbee2mqtt/{device}", json.dumps(payload), qos=1,
                                hostname=self.mosquitto.host, port=self.mosquitto.port)

    async def press_sos(self) -> None:
        await self.publish("sos_button", {"action": "emergency", "battery": 90})

    async def storage(self) -> dict[str, Any]:
        """What GET /api/tech/storage would show, read without signing in (the hub's own log
        is the other witness): the failures counted per component."""
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{self.port}/api/health")
            return dict(r.json())

    def paged(self, topic_of: str) -> list[dict[str, Any]]:
        return [m for m in self.ntfy.messages if m["topic"] == TOPIC[topic_of]]

    def pages_about(self, words: str) -> list[dict[str, Any]]:
        return [m for m in self.ntfy.messages if words in json.dumps(m, ensure_ascii=False)]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        # `immutable` on a read-only mount, where the WAL index cannot be made.
        mode = "immutable=1" if os.statvfs(self.db.parent).f_flag & os.ST_RDONLY else "mode=ro"
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?{mode}", uri=True)) as conn:
            return list(conn.execute(sql))


@contextlib.asynccontextmanager
async def running_hub(tmp: Path, mosquitto: Mosquitto, disk: SmallDisk | Ext4Disk) -> AsyncIterator[RunningHub]:
    async with NtfyServer() as ntfy:
        home: dict[str, Any] = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
        home["mqtt"] = {"host": mosquitto.host, "port": mosquitto.port, "client_id": "huis-disk"}
        db = disk.path / "huis.db"
        home["storage"] = {"path": str(db)}
        port = free_port()
        home["dashboard"] = {"host": "127.0.0.1", "port": port}
        home["scenarios"] = ["scenarios"]
        (tmp / "scenarios").mkdir(exist_ok=True)
        (tmp / "scenarios" / "sos.yaml").write_text(SOS_SCENARIO, encoding="utf-8")
        (tmp / "alerts.yaml").write_text(ALERTS_YAML.replace("{ntfy}", ntfy.url), encoding="utf-8")
        config = tmp / "home.yaml"
        config.write_text(yaml.safe_dump(home, allow_unicode=True), encoding="utf-8")
        hub = RunningHub(tmp=tmp, config=config, db=db, port=port, mosquitto=mosquitto, ntfy=ntfy)
        try:
            yield hub
        finally:
            await hub.stop()


def history_events(hub: RunningHub, device: str) -> int:
    return len(hub.rows(f"SELECT 1 FROM history WHERE device = '{device}' AND type = 'device_event'"))


async def motion_until_refused(hub: RunningHub, limit: int = 400) -> None:
    """Motion events until the hub says a history write was refused (its log names the component)."""
    for i in range(limit):
        await hub.publish("living_motion", {"occupancy": i % 2 == 0, "battery": 80})
        if "not written yet" in hub.log or "is failing" in hub.log:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the hub never met the full disk:\n" + hub.log[-3000:])


async def test_an_sos_after_the_disk_filled_is_paged_and_written_back_once_there_is_room(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    with small_disk(tmp_path / "disk") as disk:
        async with running_hub(tmp_path, mosquitto, disk) as hub:
            await hub.start()
            disk.fill()
            await motion_until_refused(hub)

            await hub.press_sos()
            await eventually(lambda: bool(hub.pages_about("alarmknop")) or not hub.alive(), within=30)
            assert hub.alive(), hub.log[-3000:]
            assert [m["topic"] for m in hub.pages_about("alarmknop")] == [TOPIC["piet"]]
            # The technician's notice, on the channel that works (ntfy here).
            await eventually(lambda: bool(hub.pages_about("opslaan")), within=30)
            assert not hub.rows("SELECT id FROM alerts WHERE key = 'sos'")  # not on disk yet

            disk.free()
            await eventually(lambda: bool(hub.rows("SELECT id FROM alerts WHERE key = 'sos'")), within=60)
            assert hub.alive(), hub.log[-3000:]
            assert history_events(hub, "sos_button") == 1
            sent = hub.rows("SELECT d.recipient, d.status FROM alert_deliveries d JOIN alerts a"
                            " ON a.id = d.alert_id WHERE a.key = 'sos'")
            assert ("piet", "sent") in sent
            await hub.stop()
            assert hub.proc is not None and hub.proc.returncode == 0, hub.log[-3000:]


async def test_a_hub_started_on_a_read_only_disk_runs_in_memory_pages_and_writes_back_once_writable(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    with small_disk(tmp_path / "disk") as disk:
        async with running_hub(tmp_path, mosquitto, disk) as hub:
            await hub.start()  # a first run makes the file
            await hub.stop()
            disk.read_only()
            try:
                await hub.start()
                assert "THE DISK REFUSES WRITES (read-only" in hub.log, hub.log[-3000:]
                await eventually(lambda: bool(hub.pages_about("opslaan")), within=30)
                await hub.press_sos()
                await eventually(lambda: bool(hub.pages_about("alarmknop")) or not hub.alive(), within=30)
                assert hub.alive(), hub.log[-3000:]
                assert not hub.rows("SELECT id FROM alerts WHERE key = 'sos'")
            finally:
                disk.writable()
            await eventually(lambda: bool(hub.rows("SELECT id FROM alerts WHERE key = 'sos'")), within=60)
            await eventually(lambda: history_events(hub, "sos_button") == 1, within=30)
            # The technician's notice is in the file too, resolved once the disk has kept
            # taking writes for 30 s (controller/storage_guard.py, SETTLE).
            assert hub.rows("SELECT state FROM alerts WHERE key = 'hub.storage'") == [("delivered",)]
            await eventually(lambda: hub.rows("SELECT state FROM alerts WHERE key = 'hub.storage'")
                             == [("resolved",)], within=90)
            await eventually(lambda: len(hub.pages_about("De opslag werkt weer")) == 1, within=30)
            await hub.stop()
            assert hub.proc is not None and hub.proc.returncode == 0, hub.log[-3000:]


async def test_a_disk_the_kernel_turns_read_only_mid_run_leaves_paging_alive_and_the_loss_counted(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    with ext4_disk(tmp_path / "disk", tmp_path / "disk.img") as disk:
        async with running_hub(tmp_path, mosquitto, disk) as hub:
            await hub.start()
            disk.fail()
            await motion_until_refused(hub)
            await hub.press_sos()
            await eventually(lambda: bool(hub.pages_about("alarmknop")) or not hub.alive(), within=30)
            assert hub.alive(), hub.log[-3000:]
            await eventually(lambda: bool(hub.pages_about("opslaan")), within=30)
            assert "THE DISK REFUSES WRITES (disk I/O error" in hub.log
            # An ext4 filesystem the kernel made read-only takes no writes until it is repaired
            # (unmounted and checked): a clean stop says what it could not keep, and exits 0.
            await hub.stop()
            assert hub.proc is not None and hub.proc.returncode == 0, hub.log[-3000:]
            assert "changed rows held in memory are lost at shutdown" in hub.log
            assert "lost at shutdown" in hub.log.split("history:")[-1]
