"""Zigbee2MQTT onboarding end to end (issue 12, item 3): a real mosquitto with the generated
accounts and ACLs, the simulated Zigbee2MQTT bridge publishing `bridge/devices` as Zigbee2MQTT
2.x does, the hub following it, the dashboard served over real HTTP, the `huis devices` command
in its own process, and the technician console in Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.async_api import expect

from controller.clock import RealClock
from controller.config import resolve
from controller.hub import Hub
from controller.mqtt import MqttLink
from controller.store import Database
from dashboard.app import create_app
from dashboard.auth import CSRF_COOKIE, create_user
from huis.compose import build_hub, hub_settings, load_home
from simulators.home import SimulatedHome, run_simulators
from tests.dashboard.conftest import PASSWORD, Server, browser, running  # noqa: F401 (browser: a fixture)
from tests.dashboard.test_browser import open_page, shot
from tests.integration.conftest import ClosedBroker, demo_home
from tests.support import eventually

pytestmark = pytest.mark.broker

MOTION, LEAK, SOS = "0x00158d000411086c", "0x00158d0002b4f1a7", "0xa4c1388f5e6d2b10"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Rig:
    hub: Hub
    home: SimulatedHome
    server: Server
    db: Database
    config: Path


@pytest.fixture
async def rig(closed_broker: ClosedBroker, tmp_path: Path) -> AsyncIterator[Rig]:
    # The same home (credentials in tmp_path/var/mqtt), now naming the test's broker.
    path = demo_home(tmp_path, mqtt={"host": closed_broker.host, "port": closed_broker.port})
    cfg = load_home(path)
    hub = build_hub(cfg, RealClock(), hub_settings(cfg, closed_broker.host, closed_broker.port))
    home = SimulatedHome(cfg, RealClock())
    db = await Database.connect(resolve(cfg, cfg.storage.path))
    for name, role in (("tech", "technician"), ("anna", "caregiver")):
        await create_user(db, username=name, password=PASSWORD, role=role, now=RealClock().now(),
                          residents=("Mevrouw Jansen",) if role == "caregiver" else ())
    app = create_app(hub, db=db)
    tasks = [asyncio.create_task(hub.run(), name="hub"),
             asyncio.create_task(run_simulators(cfg, RealClock(), closed_broker.host, closed_broker.port, home=home),
                                 name="simulators")]
    try:
        async with running(app) as server:
            link = hub.link
            assert isinstance(link, MqttLink)
            await eventually(lambda: link.connected.is_set())
            yield Rig(hub=hub, home=home, server=server, db=db, config=path)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await db.close()


@contextlib.asynccontextmanager
async def client_for(rig: Rig, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in as `username`, sending the CSRF header a page would."""
    async with httpx.AsyncClient(base_url=rig.server.url) as client:
        await client.get("/login")
        r = await client.post("/api/login", json={"username": username, "password": PASSWORD},
                              headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = client.cookies[CSRF_COOKIE]
        yield client


async def zigbee(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/api/tech/zigbee")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def audit_actions(db: Database) -> list[tuple[str, str]]:
    rows = await db.fetchall("SELECT action, detail FROM dashboard_audit ORDER BY id")
    return [(r["action"], r["detail"]) for r in rows if str(r["action"]).startswith("zigbee_")]


async def poll(client: httpx.AsyncClient, predicate: Callable[[dict[str, Any]], bool],
               within: float = 10.0) -> dict[str, Any]:
    """GET /api/tech/zigbee until `predicate` holds (what the hub heard over MQTT); the limit
    only stops a hung test."""
    async with asyncio.timeout(within):
        while not predicate(data := await zigbee(client)):  # noqa: ASYNC110 - real sockets
            await asyncio.sleep(0.02)
    return data


async def wait_for_bridge(client: httpx.AsyncClient) -> dict[str, Any]:
    return await poll(client, lambda d: bool(d["heard"]))


async def test_the_console_lists_what_zigbee2mqtt_has_and_the_home_does_not(rig: Rig) -> None:
    async with client_for(rig, "tech") as tech:
        data = await wait_for_bridge(tech)
        new = {d["ieee"]: d for d in data["new"]}
        assert sorted(new) == sorted([MOTION, LEAK])
        assert (new[MOTION]["model"], new[MOTION]["vendor"], new[MOTION]["kind"], new[MOTION]["adapter"]) == (
            "RTCGQ11LM", "Aqara", "motion", True)
        assert "occupancy" in new[MOTION]["exposes"] and new[MOTION]["description"] == "Motion sensor"
        assert (new[LEAK]["model"], new[LEAK]["adapter"], new[LEAK]["kind"]) == ("SJCGQ11LM", False, None)
        # The demo home's 16 Zigbee devices are known (friendly name = device id); the coordinator
        # is no device to add.
        assert data["known"] == 16
        assert sorted(r["id"] for r in data["rooms"]) == ["bathroom", "bedroom", "garden", "hall", "kitchen", "living"]


async def test_a_proposal_is_checked_like_huis_check_and_nothing_is_written(rig: Rig) -> None:
    before = rig.config.read_bytes()
    async with client_for(rig, "tech") as tech:
        await wait_for_bridge(tech)
        r = await tech.post("/api/tech/zigbee/propose", json={"ieee": MOTION, "room": "hall", "name": "Beweging hal 2"})
        assert r.status_code == 200, r.text
        p = r.json()
        assert (p["ok"], p["written"], p["device_id"]) == (True, False, "beweging_hal_2")
        assert p["yaml"] == ("beweging_hal_2: {kind: motion, model: RTCGQ11LM, room: hall, name: Beweging hal 2, "
                             "topic: zigbee2mqtt/0x00158d000411086c}")
        r = await tech.post("/api/tech/zigbee/propose", json={"ieee": MOTION, "room": "attic", "name": "Zolder"})
        bad = r.json()
        assert bad["ok"] is False
        assert [x["path"] for x in bad["problems"]] == ["devices.zolder.room"]
        assert "unknown room 'attic'" in bad["problems"][0]["text"]
        r = await tech.post("/api/tech/zigbee/propose", json={"ieee": LEAK, "room": "kitchen"})
        assert r.status_code == 422 and r.json()["detail"] == \
            "SJCGQ11LM: no adapter for this model; there is nothing to propose."
        r = await tech.post("/api/tech/zigbee/propose", json={"ieee": LEAK, "room": "kitchen"},
                            headers={"Accept-Language": "nl"})
        assert r.json()["detail"] == "SJCGQ11LM: geen adapter voor dit model; er valt niets voor te stellen."
        r = await tech.post("/api/tech/zigbee/propose", json={"ieee": "0xdoesnotexist", "room": "hall"})
        assert r.status_code == 404
    assert rig.config.read_bytes() == before
    assert [a for a, _ in await audit_actions(rig.db)] == ["zigbee_device_proposed", "zigbee_device_proposed"]
    # The technician pastes the line; until the hub restarts, the console says it is waiting for that.
    home = yaml.safe_load(before)
    home["devices"].update(yaml.safe_load(p["yaml"]))
    rig.config.write_text(yaml.safe_dump(home, allow_unicode=True), encoding="utf-8")
    async with client_for(rig, "tech") as tech:
        new = {d["ieee"]: d for d in (await zigbee(tech))["new"]}
        assert (new[MOTION]["restart"], new[LEAK]["restart"]) == (True, False)


async def test_permit_join_goes_to_zigbee2mqtt_and_the_joined_device_shows(rig: Rig) -> None:
    async with client_for(rig, "tech") as tech, client_for(rig, "anna") as anna:
        await wait_for_bridge(tech)
        assert (await anna.post("/api/tech/zigbee/permit_join", json={"seconds": 60})).status_code == 403
        assert (await anna.get("/api/tech/zigbee")).status_code == 403
        assert (await tech.post("/api/tech/zigbee/permit_join", json={"seconds": 255})).status_code == 422
        assert rig.home.bridge.requests == []  # neither reached Zigbee2MQTT
        r = await tech.post("/api/tech/zigbee/permit_join", json={"seconds": 120})
        assert r.status_code == 200 and r.json()["seconds"] == 120  # asked; the answer comes over MQTT
        data = await poll(tech, lambda d: bool(d["permit"]["status"]) and any(x["ieee"] == SOS for x in d["new"]))
        assert rig.home.bridge.requests == [{"time": 120, "transaction": data["permit"]["transaction"]}]
        permit = data["permit"]
        assert (permit["status"], permit["open"]) == ("ok", True) and 100 < permit["seconds_left"] <= 120
        sos = next(d for d in data["new"] if d["ieee"] == SOS)
        assert (sos["model"], sos["kind"]) == ("TS0215A_sos", "sos")
        assert [e["type"] for e in data["events"]][-1] == "device_joined"  # newest first: joined is last
        r = await tech.post("/api/tech/zigbee/permit_join", json={"seconds": 0})
        data = await poll(tech, lambda d: d["permit"]["status"] == "ok" and not d["permit"]["open"])
        assert data["permit"]["seconds"] == 0
    actions = await audit_actions(rig.db)
    assert [a for a, _ in actions] == ["zigbee_permit_join", "zigbee_permit_join"]
    assert actions[0][1].startswith("120 s (huis-")


def huis_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huis.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=30, check=False)


async def test_the_huis_devices_command_lists_proposes_and_permits(rig: Rig) -> None:
    config = str(rig.config)
    new = await asyncio.to_thread(huis_cli, "devices", "new", "--config", config)
    assert new.returncode == 0, new.stderr
    assert f"{MOTION}  Aqara RTCGQ11LM: Motion sensor" in new.stdout and "soort 'motion'" in new.stdout
    assert f"{LEAK}  Aqara SJCGQ11LM" in new.stdout and "geen adapter voor dit model" in new.stdout
    prop = await asyncio.to_thread(huis_cli, "devices", "propose", MOTION, "--room", "hall", "--name", "Beweging hal 2",
                                   "--config", config, "--lang", "en")
    assert prop.returncode == 0, prop.stderr
    assert "  beweging_hal_2: {kind: motion, model: RTCGQ11LM, room: hall" in prop.stdout
    assert "Checked the way `huis check` does: valid." in prop.stdout and "does not edit" in prop.stdout
    wrong = await asyncio.to_thread(huis_cli, "devices", "propose", MOTION, "--room", "zolder", "--config", config)
    assert wrong.returncode == 2 and "unknown room 'zolder'" in wrong.stderr
    permit = await asyncio.to_thread(huis_cli, "devices", "permit-join", "--seconds", "30", "--config", config)
    assert permit.returncode == 0, permit.stderr
    assert "Zigbee2MQTT: aanmelden open voor 30 s" in permit.stdout
    assert rig.home.bridge.requests[-1]["time"] == 30
    assert [a for a, _ in await audit_actions(rig.db)] == ["zigbee_permit_join"]


@pytest.mark.browser
async def test_the_technician_adds_a_device_and_permits_joining_in_chromium(rig: Rig, browser: Any) -> None:  # noqa: F811
    page, problems = await open_page(browser, rig.server.url + "/login?next=/technicus")
    await page.get_by_label("Gebruikersnaam").fill("tech")
    await page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page).to_have_url(rig.server.url + "/technicus")
    await page.get_by_role("tab", name="Zigbee koppelen").click()
    rows = page.locator("#z-new tr")
    await expect(rows).to_have_count(2, timeout=15_000)
    leak = page.locator(f'#z-new tr[data-ieee="{LEAK}"]')
    await expect(leak).to_contain_text("geen adapter voor dit model")
    await expect(leak.get_by_role("button")).to_have_count(0)
    await expect(page.locator("#z-not-written")).to_contain_text("huis past")
    await page.locator(f'#z-new tr[data-ieee="{MOTION}"]').get_by_role("button", name="Toevoegen").click()
    form = page.locator("#z-form")
    await form.get_by_label("Ruimte").select_option("hall")
    await form.get_by_label("Naam", exact=True).fill("Beweging hal 2")
    await page.get_by_role("button", name="Voorstel maken").click()
    await expect(page.locator("#z-check")).to_have_attribute("data-ok", "true")
    await expect(page.locator("#z-yaml")).to_contain_text("beweging_hal_2: {kind: motion, model: RTCGQ11LM, room: hall")
    await page.locator("#z-seconds").fill("120")
    await page.get_by_role("button", name="Aanmelden toestaan").click()
    await expect(page.locator("#z-permit-state")).to_have_attribute("data-open", "true", timeout=10_000)
    await expect(page.locator("#z-permit-state")).to_contain_text("Aanmelden open: nog")
    await expect(rows).to_have_count(3, timeout=15_000)  # the SOS button joined meanwhile
    await expect(page.locator("#z-events")).to_contain_text("aangemeld")
    # The countdown's updates left the proposal being read alone.
    await expect(page.locator("#z-yaml")).to_contain_text("beweging_hal_2")
    await shot(page, "tech-zigbee-onboarding.png")
    assert problems == []
