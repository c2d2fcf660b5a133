"""The generated broker accounts include Home Assistant's when `homeassistant.discovery` is on
(issue 12): the ACL lines docs/interop.md lists (`huis.ha_discovery.acl_lines()`), enforced by a
real mosquitto: only Home Assistant's account may press the acknowledge button's topic."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.broker_auth import HOMEASSISTANT, HUB, SIMULATORS, plan_accounts, render_acl
from controller.clock import RealClock
from controller.hub import Hub
from devices import KINDS
from huis.compose import broker_credentials, load_home
from huis.ha_discovery import acl_lines
from tests.conftest import Mosquitto, free_port
from tests.integration.conftest import ClosedBroker, broker_folder, demo_home
from tests.integration.test_closed_broker import Watcher, send, watcher
from tests.support import closed_mosquitto_conf, eventually

pytestmark = pytest.mark.broker
HA = {"discovery": True, "acknowledge_as": "anna", "mode_select": True}


def grants(text: str) -> dict[str, set[tuple[str, str]]]:
    """An ACL file as user -> {(read|write, filter)}, `readwrite` split in two."""
    out: dict[str, set[tuple[str, str]]] = {}
    user = ""
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["user"]:
            user = words[1]
            out.setdefault(user, set())
        elif words[:1] == ["topic"]:
            access, flt = words[1], words[2]
            for a in (("read", "write") if access == "readwrite" else (access,)):
                out[user].add((a, flt))
    return out


def test_the_homeassistant_account_is_what_the_interop_page_lists(tmp_path: Path) -> None:
    cfg = load_home(demo_home(tmp_path, homeassistant=HA))
    accounts = {a.username: a for a in plan_accounts(Hub(cfg, RealClock(), KINDS))}
    planned = grants(render_acl(accounts.values()))
    wanted = grants(acl_lines(hub_user=HUB, ha_user=HOMEASSISTANT))
    assert planned[HOMEASSISTANT] == wanted[HOMEASSISTANT]
    assert wanted[HUB] <= planned[HUB]
    assert ("write", "huis/ha/huis/ack/set") not in planned[SIMULATORS]


def test_without_discovery_there_is_no_homeassistant_account_but_the_hub_can_withdraw(tmp_path: Path) -> None:
    cfg = load_home(demo_home(tmp_path))
    assert cfg.homeassistant.discovery is False
    accounts = {a.username: a for a in plan_accounts(Hub(cfg, RealClock(), KINDS))}
    assert HOMEASSISTANT not in accounts
    # Switching discovery off removes the device with empty retained configs: the hub may still.
    assert "homeassistant/device/huis/config" in accounts[HUB].write
    assert "homeassistant/status" not in accounts[HUB].read


@pytest.fixture
def ha_broker(tmp_path: Path) -> Iterator[ClosedBroker]:
    home = demo_home(tmp_path, homeassistant=HA)
    with broker_folder() as folder:
        creds = broker_credentials(load_home(home), broker_folder=folder / "auth", out=io.StringIO())
        port = free_port()
        conf = closed_mosquitto_conf(tmp_path / "mosquitto.conf", port, folder / "auth", folder / "data")
        broker = Mosquitto(port=port, conf=conf)
        broker.start()
        try:
            yield ClosedBroker(mosquitto=broker, credentials=creds, home=home)
        finally:
            broker.stop()


async def test_only_home_assistant_may_press_the_button_on_a_real_mosquitto(ha_broker: ClosedBroker) -> None:
    made: list[Watcher] = []
    try:
        hub = await asyncio.to_thread(watcher, made, ha_broker, HUB, "huis/ha/huis/#", "homeassistant/status")
        ha = await asyncio.to_thread(watcher, made, ha_broker, HOMEASSISTANT, "homeassistant/#", "huis/ha/huis/#")
        # Anyone else's press is dropped by the broker; Home Assistant's arrives after it.
        await asyncio.to_thread(send, ha_broker, SIMULATORS, ("huis/ha/huis/ack/set", '{"alert":"forged"}'))
        await asyncio.to_thread(send, ha_broker, HOMEASSISTANT, ("huis/ha/huis/ack/set", '{"alert":"a1"}'),
                                ("homeassistant/status", "online"))
        # The hub's discovery config reaches Home Assistant.
        await asyncio.to_thread(send, ha_broker, HUB, ("homeassistant/device/huis/config", "{}"))
        await eventually(lambda: "homeassistant/status" in hub.topics()
                         and "homeassistant/device/huis/config" in ha.topics())
        assert [p for t, p in hub.messages if t == "huis/ha/huis/ack/set"] == [b'{"alert":"a1"}']
    finally:
        for w in made:
            w.close()
