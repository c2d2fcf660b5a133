"""Home Assistant discovery over a real mosquitto, read by a probe client as Home Assistant would.

The real Home Assistant runs in tests/integration/test_ha_real.py (`make test-ha`); here the
payloads themselves: format, privacy, the signed acknowledge, withdrawal, the birth message.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from controller.alerts.channels.page import PageChannel
from controller.clock import RealClock
from controller.config import HomeAssistant, HomeConfig, Mqtt, link_settings
from controller.events import Context
from controller.mqtt import LinkSettings, MqttLink
from huis.compose import Home, open_home
from huis.ha_discovery import STATE_FILE, acl_lines
from tests.conftest import Mosquitto, free_port
from tests.ha.tasks import supervised
from tests.support import eventually

pytestmark = pytest.mark.broker

CONFIG = "homeassistant/device/huis/config"


class Probe:
    """Stands in for Home Assistant: keeps the last payload per topic, and all of them."""

    def __init__(self, mosquitto: Mosquitto) -> None:
        self.last: dict[str, bytes] = {}
        self.seen: list[tuple[str, bytes]] = []
        self.link = MqttLink(LinkSettings(host=mosquitto.host, port=mosquitto.port, client_id="ha-probe",
                                          status_topic="probe/status"), RealClock(), self._got)
        self.link.subscribe("homeassistant/#", "huis/#")

    def _got(self, topic: str, payload: bytes) -> None:
        self.last[topic] = payload
        self.seen.append((topic, payload))

    def json(self, topic: str) -> dict[str, object]:
        doc = json.loads(self.last[topic])
        assert isinstance(doc, dict)
        return doc

    def cmps(self) -> dict[str, dict[str, object]]:
        return self.json(CONFIG)["cmps"]  # type: ignore[return-value]


def with_ha(cfg: HomeConfig, **options: object) -> HomeConfig:
    ha = HomeAssistant(**{"discovery": True, "acknowledge_as": "anna", **options})  # type: ignore[arg-type]
    return cfg.model_copy(update={"homeassistant": ha})


async def opened(cfg: HomeConfig, mosquitto: Mosquitto, folder: Path) -> Home:
    settings = link_settings(cfg, Mqtt(host=mosquitto.host, port=mosquitto.port))
    return await open_home(cfg, RealClock(), settings=settings, db_path=folder / "huis.db",
                           alert_channels=[PageChannel()])


@pytest.fixture
async def probe(mosquitto: Mosquitto) -> AsyncIterator[Probe]:
    p = Probe(mosquitto)
    async with supervised(p.link.run()):
        await asyncio.wait_for(p.link.connected.wait(), 10)
        yield p


async def raise_sos(home: Home) -> str:
    return await home.alerts.raise_alert(key="sos", scenario="sos", severity="urgent",
                                         message="Mevrouw Jansen heeft op de alarmknop gedrukt",
                                         context=Context(origin="test"), data={})


async def test_the_hub_as_a_device_alerts_and_a_signed_acknowledge(
        demo_config: HomeConfig, mosquitto: Mosquitto, probe: Probe, tmp_path: Path) -> None:
    cfg = with_ha(demo_config)
    home = await opened(cfg, mosquitto, tmp_path)
    try:
        async with supervised(home.run()):
            await eventually(lambda: CONFIG in probe.last)
            doc = probe.json(CONFIG)
            assert doc["dev"]["ids"] == ["huis_huis"]  # type: ignore[index]
            assert doc["o"]["name"] == "huis"  # type: ignore[index]
            assert doc["avty_t"] == "huis/status"
            assert {k: v["p"] for k, v in probe.cmps().items()} == {
                "presence": "sensor", "mode": "sensor", "alerts": "sensor", "alert_event": "event"}
            await eventually(lambda: "huis/ha/huis/state" in probe.last)
            assert probe.json("huis/ha/huis/state") == {"presence": "home", "mode": "day", "alerts": 0}

            alert_id = await raise_sos(home)
            s = alert_id.lower().replace("-", "_")
            await eventually(lambda: f"ack_{s}" in probe.cmps())
            sensor = probe.cmps()[f"alert_{s}"]
            assert sensor["p"] == "sensor" and sensor["dev_cla"] == "enum"
            await eventually(lambda: f"huis/ha/huis/alert/{s}" in probe.last)
            assert probe.json(f"huis/ha/huis/alert/{s}")["attributes"]["severity"] == "urgent"  # type: ignore[index]
            await eventually(lambda: any(t == "huis/ha/huis/event" for t, _ in probe.seen))

            # A press with another alert's token, or none, acknowledges nothing.
            press = json.loads(str(probe.cmps()[f"ack_{s}"]["pl_prs"]))
            probe.link.send("huis/ha/huis/ack/set", json.dumps({"alert": alert_id, "token": "0" * 64}).encode())
            probe.link.send("huis/ha/huis/ack/set", json.dumps({"alert": alert_id}).encode())
            await eventually(lambda: len(home.homeassistant.refused) == 2)  # type: ignore[union-attr]
            assert home.alerts.active()[0].acknowledged_by is None

            probe.link.send("huis/ha/huis/ack/set", json.dumps(press).encode())
            await eventually(lambda: home.alerts.active()[0].acknowledged_by == "anna")
            assert home.alerts.active()[0].acknowledged_via == "homeassistant"
            await eventually(lambda: probe.json(f"huis/ha/huis/alert/{s}")["state"] == "acknowledged")

            # Home Assistant restarts: its birth message brings config and states again.
            before = len(probe.seen)
            probe.link.send("homeassistant/status", b"online")
            await eventually(lambda: any(t == CONFIG for t, _ in probe.seen[before:]))

            await home.alerts.resolve(alert_id, by="anna", note="Gevallen, geholpen")
            await eventually(lambda: probe.cmps().get(f"alert_{s}") == {"p": "sensor"})
            assert probe.cmps()[f"ack_{s}"] == {"p": "button"}
            await eventually(lambda: probe.last.get(f"huis/ha/huis/alert/{s}") == b"")

            # Visitors' privacy: no caregiver's name or number anywhere Home Assistant reads.
            text = b"\n".join(p for _, p in probe.seen).decode()
            for person in demo_config.caregivers.values():
                assert person.name not in text
            for digits in ("+31", "06-", "0031"):
                assert digits not in text
    finally:
        await home.close()


async def test_switched_off_the_device_is_removed(
        demo_config: HomeConfig, mosquitto: Mosquitto, probe: Probe, tmp_path: Path) -> None:
    home = await opened(with_ha(demo_config), mosquitto, tmp_path)
    try:
        async with supervised(home.run()):
            await eventually(lambda: CONFIG in probe.last)
    finally:
        await home.close()
    assert (tmp_path / STATE_FILE).exists()

    home = await opened(demo_config, mosquitto, tmp_path)  # the section is gone from home.yaml
    try:
        assert home.homeassistant is not None  # there is something to withdraw
        async with supervised(home.run()):
            await eventually(lambda: probe.last.get(CONFIG) == b"")
        assert not (tmp_path / STATE_FILE).exists()
    finally:
        await home.close()


async def test_per_entity_configs_for_older_home_assistant(
        demo_config: HomeConfig, mosquitto: Mosquitto, probe: Probe, tmp_path: Path) -> None:
    home = await opened(with_ha(demo_config, per_entity=True, mode_select=True), mosquitto, tmp_path)
    try:
        async with supervised(home.run()):
            await eventually(lambda: "homeassistant/select/huis/mode/config" in probe.last)
            select = probe.json("homeassistant/select/huis/mode/config")
            assert select["dev"]["ids"] == ["huis_huis"]  # type: ignore[index]
            assert "homeassistant/sensor/huis/presence/config" in probe.last
            # The select's template carries the token; a signed mode command sets the mode.
            payload = str(select["cmd_tpl"]).replace("{{ value }}", "night")
            probe.link.send("huis/ha/huis/mode/set", payload.encode())
            await eventually(lambda: home.engine.mode == "night")
            await eventually(lambda: probe.json("huis/ha/huis/state")["mode"] == "night")
    finally:
        await home.close()


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """mosquitto with accounts and the ACL lines of docs/interop.md; `zigbee` stands for every
    other account (a bridge, a device), with only what a bridge needs. Its files live outside
    pytest's 0700 tmp_path: mosquitto started as root reads them as its own user."""
    folder = Path(tempfile.mkdtemp(prefix="huis-ha-acl-"))
    folder.chmod(0o711)
    try:
        yield from _acl_broker(folder, tmp_path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _acl_broker(folder: Path, tmp_path: Path) -> Iterator[Mosquitto]:
    port = free_port()
    users = folder / "passwd"
    for i, name in enumerate(("huis", "homeassistant", "zigbee")):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(users), name, f"pw-{name}"],
                       check=True)
    acl = folder / "acl"
    acl.write_text("user huis\ntopic readwrite huis/#\n" + acl_lines().split("\n", 1)[1]
                   + "\nuser zigbee\ntopic readwrite zigbee2mqtt/#\n")
    users.chmod(0o644)
    acl.chmod(0o644)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n"
                    f"password_file {users}\nacl_file {acl}\n")
    broker = Mosquitto(port=port, conf=conf)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_the_broker_acl_keeps_other_accounts_from_the_token_and_the_button(
        demo_config: HomeConfig, acl_broker: Mosquitto, tmp_path: Path) -> None:
    """Another account never reads the discovery config, and a correctly signed press it
    publishes is dropped by the broker."""
    await _acl_holds(demo_config, acl_broker, tmp_path)


async def _acl_holds(demo_config: HomeConfig, broker: Mosquitto, tmp_path: Path) -> None:
    def client(name: str) -> Probe:
        p = Probe.__new__(Probe)
        p.last, p.seen = {}, []
        p.link = MqttLink(LinkSettings(host=broker.host, port=broker.port, client_id=f"probe-{name}",
                                       username=name, password=f"pw-{name}", status_topic=f"{name}/probe"),
                          RealClock(), p._got)
        p.link.subscribe("homeassistant/#", "huis/#")
        return p

    ha, intruder = client("homeassistant"), client("zigbee")
    cfg = with_ha(demo_config)
    settings = LinkSettings(host=broker.host, port=broker.port, username="huis", password="pw-huis")
    home = await open_home(cfg, RealClock(), settings=settings, db_path=tmp_path / "huis.db",
                           alert_channels=[PageChannel()])
    try:
        async with supervised(home.run(), ha.link.run(), intruder.link.run()):
            alert_id = await raise_sos(home)
            s = alert_id.lower().replace("-", "_")
            await eventually(lambda: CONFIG in ha.last and f"ack_{s}" in ha.cmps())
            assert CONFIG not in intruder.last and not any(t.startswith("huis/ha/") for t, _ in intruder.seen)
            press = str(ha.cmps()[f"ack_{s}"]["pl_prs"])
            # Even holding the token, the intruder's press never reaches the hub: the broker has
            # dealt with it (PUBACK) before Home Assistant's unsigned press, which does arrive.
            intruder.link.send("huis/ha/huis/ack/set", press.encode())
            await intruder.link.drain()
            ha.link.send("huis/ha/huis/ack/set", b'{"alert": "x"}')
            assert home.homeassistant is not None
            await eventually(lambda: len(home.homeassistant.refused) == 1)  # type: ignore[union-attr]
            assert home.alerts.active()[0].acknowledged_by is None
            ha.link.send("huis/ha/huis/ack/set", press.encode())
            await eventually(lambda: home.alerts.active()[0].acknowledged_by == "anna")
    finally:
        await home.close()
