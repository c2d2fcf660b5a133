"""No event lost between a device and the hub's store (issue 14): the three ways SOS presses
were lost, each against a real mosquitto run with the shipped config and a real hub process.

- a press while the hub is down is handled once it is back (the broker kept its session);
- a hub killed (SIGKILL) milliseconds after a press handles it after the restart (the broker
  had no acknowledgement: the hub acknowledges only what it recorded);
- a broker outage where the devices are back before the hub loses nothing (the broker kept
  the hub's session and subscriptions on disk).

The hub runs from the source tree in HUIS_HUB_SOURCE (default: this one), so the same tests
can show how an older hub fares (docs/reliability.md, "MQTT sessions").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.publish as publish
import pytest
import yaml

from controller.broker_auth import HUB, SIMULATORS
from tests.alerts.fakes import NtfyServer
from tests.alerts.test_kill9 import ALERTS_YAML, SOS_SCENARIO
from tests.conftest import ROOT, free_port
from tests.integration.conftest import ClosedBroker
from tests.support import eventually

pytestmark = pytest.mark.broker

HUB_SOURCE = Path(os.environ.get("HUIS_HUB_SOURCE", ROOT))
# The shipped SOS rule runs in mode `single`: a second press while the first one's alert is being
# raised is the same emergency. Here every press must show, so each one raises its own alert.
SOS_EACH_PRESS = SOS_SCENARIO.replace("    description: Alarmknop ingedrukt\n",
                                      "    description: Alarmknop ingedrukt\n    mode: parallel\n")
assert SOS_EACH_PRESS != SOS_SCENARIO


def write_home(broker: ClosedBroker, ntfy: NtfyServer, port: int | None = None) -> tuple[Path, int]:
    """The demo home with only the SOS rule, paging a local ntfy, logged in as the hub."""
    tmp = broker.home.parent
    home: dict[str, Any] = yaml.safe_load(broker.home.read_text(encoding="utf-8"))
    creds = broker.credentials.folder
    home["mqtt"] = {"host": broker.host, "port": port or broker.port, "username": HUB,
                    "password_file": str(creds / f"{HUB}.password"), "client_id": "huis-hub-loss-test"}
    web = free_port()
    home["dashboard"] = {"host": "127.0.0.1", "port": web}
    home["scenarios"] = ["scenarios"]
    home["alerts"] = "alerts.yaml"
    (tmp / "scenarios").mkdir(exist_ok=True)
    (tmp / "scenarios" / "sos.yaml").write_text(SOS_EACH_PRESS, encoding="utf-8")
    (tmp / "alerts.yaml").write_text(ALERTS_YAML.replace("{ntfy}", ntfy.url), encoding="utf-8")
    path = tmp / "hub.yaml"
    path.write_text(yaml.safe_dump(home, allow_unicode=True), encoding="utf-8")
    return path, web


class HubProcess:
    """`huis run` as a real process, started and stopped (or killed) by the test."""

    def __init__(self, config: Path, web: int) -> None:
        self.config, self.web = config, web
        self.log = config.parent / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", "huis.cli", "run", "--config", str(self.config)],
                                    cwd=HUB_SOURCE, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(HUB_SOURCE)})

    async def start(self) -> None:
        """Start it; return once it is connected to the broker."""
        self.proc = await asyncio.to_thread(self._spawn)
        await self.connected()

    async def connected(self) -> None:
        """Wait until its dashboard says the MQTT link is up."""
        async with httpx.AsyncClient() as client, asyncio.timeout(30):
            while True:
                assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
                with contextlib.suppress(httpx.HTTPError):
                    health = (await client.get(f"http://127.0.0.1:{self.web}/api/health")).json()
                    if health.get("mqtt_connected"):
                        return
                await asyncio.sleep(0.05)

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            await asyncio.to_thread(self.proc.wait, 20)
        self.proc = None


@pytest.fixture
async def ntfy() -> AsyncIterator[NtfyServer]:
    async with NtfyServer() as server:
        yield server


@contextlib.contextmanager
def hub_process(config: Path, web: int) -> Iterator[HubProcess]:
    hub = HubProcess(config, web)
    try:
        yield hub
    finally:
        if hub.proc is not None and hub.proc.poll() is None:
            hub.proc.kill()
            hub.proc.wait()


def press(broker: ClosedBroker, linkquality: int, port: int | None = None) -> None:
    """The SOS button pressed, as Zigbee2MQTT publishes it (QoS 1: returns once the broker has it)."""
    publish.single("zigbee2mqtt/sos_button", f'{{"action": "emergency", "linkquality": {linkquality}}}',
                   qos=1, hostname=broker.host, port=port or broker.port, auth=broker.auth(SIMULATORS))


def handled(db: Path) -> tuple[set[int], int]:
    """The presses the hub recorded (by their linkquality) and the SOS alerts it raised."""
    if not db.exists():
        return set(), 0
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"history", "alerts"} <= tables:
            return set(), 0
        quality = {int(v) for (v,) in conn.execute(
            "SELECT value FROM history WHERE device = 'sos_button' AND attribute = 'linkquality'")}
        alerts = conn.execute("SELECT COUNT(*) FROM alerts WHERE scenario = 'sos'").fetchone()[0]
        return quality, int(alerts)


async def all_handled(db: Path, presses: set[int]) -> None:
    """Wait until every press in `presses` is recorded and raised an alert; fail saying which were lost."""
    def done() -> bool:
        quality, alerts = handled(db)
        return quality >= presses and alerts >= len(presses)
    try:
        await eventually(done, within=30)
    except TimeoutError:
        quality, alerts = handled(db)
        raise AssertionError(f"presses lost: {sorted(presses - quality)} of {sorted(presses)} "
                             f"({alerts} SOS alert(s) raised)") from None


async def test_a_press_while_the_hub_is_down_is_handled_when_it_is_back(
        closed_broker: ClosedBroker, ntfy: NtfyServer) -> None:
    config, web = write_home(closed_broker, ntfy)
    db = config.parent / "var" / "huis.db"
    with hub_process(config, web) as hub:
        await hub.start()  # once, so the broker knows the hub's session
        await hub.stop()
        await asyncio.to_thread(press, closed_broker, 101)
        await hub.start()
        await all_handled(db, {101})
        assert handled(db) == ({101}, 1)
        await eventually(lambda: len(ntfy.messages) >= 1, within=30)


async def test_a_hub_killed_right_after_a_press_handles_it_after_the_restart(
        closed_broker: ClosedBroker, ntfy: NtfyServer) -> None:
    config, web = write_home(closed_broker, ntfy)
    db = config.parent / "var" / "huis.db"
    presses = {101: 0.0, 102: 0.002, 103: 0.010}  # linkquality: seconds between the press and the kill
    with hub_process(config, web) as hub:
        for quality, delay in presses.items():
            await hub.start()
            await asyncio.to_thread(press, closed_broker, quality)
            await asyncio.sleep(delay)
            await hub.stop(signal.SIGKILL)
        await hub.start()
        await all_handled(db, set(presses))


class Gate:
    """A TCP relay in front of the broker that the test can close: the hub reaches the broker
    through it, so the test decides that the devices are back before the hub is."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.open = True
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Gate:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            if not self.open:
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._pipe(reader, up_writer))
                    tg.create_task(self._pipe(up_reader, writer))
            finally:
                up_writer.close()
        except (OSError, ExceptionGroup):
            pass
        finally:
            writer.close()
            self._pipes.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        raise ConnectionResetError  # one side closed: end both


async def test_a_broker_outage_where_devices_are_back_first_loses_nothing(
        closed_broker: ClosedBroker, ntfy: NtfyServer) -> None:
    async with Gate(closed_broker.port) as gate:
        config, web = write_home(closed_broker, ntfy, port=gate.port)
        db = config.parent / "var" / "huis.db"
        with hub_process(config, web) as hub:
            await hub.start()
            gate.open = False
            await asyncio.to_thread(closed_broker.mosquitto.stop)  # a clean stop: it saves its sessions
            await asyncio.to_thread(closed_broker.mosquitto.start)
            # The devices reconnect first, and one of them is pressed before the hub is back.
            await asyncio.to_thread(press, closed_broker, 101)
            gate.open = True
            await hub.connected()
            await all_handled(db, {101})
