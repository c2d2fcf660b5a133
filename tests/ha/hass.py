"""A real Home Assistant for tests: installed in `.ha-venv` by `make test-ha`, configured in a
temporary folder, started as a subprocess, onboarded and connected to MQTT through its own API.

Nothing is written into Home Assistant's `.storage` by hand: the owner is created by the
onboarding API (as the frontend does on a fresh install), the MQTT integration by its config
flow over REST (as Settings > Integrations does). That survives changes of the storage format.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

HA_VERSION = "2025.4.4"  # the newest 2025 release that installs on the machine's Python 3.13.0
ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".ha-venv"
USER = "verzorger"
PASSWORD = "huis-test-wachtwoord"


def hass_binary() -> Path:
    """The installed `hass`; fails (never skips) with what to do when it is not there."""
    exe = VENV / "bin" / "hass"
    if not exe.exists():
        pytest.fail(f"Home Assistant is not installed in {VENV}: run `make test-ha`, which installs "
                    f"homeassistant=={HA_VERSION} with Python 3.13 (pyenv) there")
    return exe


CONFIGURATION = """\
homeassistant:
  name: Testhuis
  latitude: 52.5168
  longitude: 6.0830
  elevation: 2
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
frontend:
onboarding:
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
"""


@dataclass
class HomeAssistant:
    """One Home Assistant process on loopback with its own configuration folder."""

    folder: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    token: str = ""
    client: httpx.AsyncClient = field(init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "hass.out"

    def start(self) -> None:
        exe = hass_binary()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([str(exe), "-c", str(self.folder), "--log-no-color"],
                                         stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        self.client = httpx.AsyncClient(base_url=self.url, timeout=30)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        await self.client.aclose()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                await asyncio.to_thread(self.proc.wait, 10)

    async def _poll(self, what: str, check: object, within: float) -> None:
        """Wait until `check()` (an async callable) is true; fail with Home Assistant's log."""
        try:
            async with asyncio.timeout(within):
                while True:
                    if self.proc is not None and self.proc.poll() is not None:
                        raise AssertionError(f"Home Assistant exited while waiting for {what}:\n{self.tail()}")
                    try:
                        if await check():  # type: ignore[operator]
                            return
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.5)
        except TimeoutError:
            raise AssertionError(f"Home Assistant: no {what} within {within:.0f} s:\n{self.tail()}") from None

    async def onboard(self) -> None:
        """Create the owner through the onboarding API and finish every onboarding step."""
        async def http_up() -> bool:
            return (await self.client.get("/api/onboarding")).status_code == 200

        await self._poll("HTTP server", http_up, 300)
        client_id = self.url + "/"
        r = await self.client.post("/api/onboarding/users", json={
            "client_id": client_id, "name": "Verzorger", "username": USER, "password": PASSWORD,
            "language": "nl"})
        r.raise_for_status()
        r = await self.client.post("/auth/token", data={
            "grant_type": "authorization_code", "code": r.json()["auth_code"], "client_id": client_id})
        r.raise_for_status()
        self.token = r.json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {self.token}"
        for step, body in (("core_config", {}), ("analytics", {}),
                           ("integration", {"client_id": client_id, "redirect_uri": client_id + "?auth_callback=1"})):
            (await self.client.post(f"/api/onboarding/{step}", json=body)).raise_for_status()

        async def running() -> bool:
            r = await self.client.get("/api/config")
            return r.status_code == 200 and r.json().get("state") == "RUNNING"

        await self._poll("RUNNING state", running, 300)

    async def add_mqtt(self, host: str, port: int) -> None:
        """The MQTT integration against this broker, through its config flow (discovery on)."""
        r = await self.client.post("/api/config/config_entries/flow",
                                   json={"handler": "mqtt", "show_advanced_options": False})
        r.raise_for_status()
        flow = r.json()
        if flow.get("type") == "menu":  # some versions ask how first
            r = await self.client.post(f"/api/config/config_entries/flow/{flow['flow_id']}",
                                       json={"next_step_id": "broker"})
            r.raise_for_status()
            flow = r.json()
        r = await self.client.post(f"/api/config/config_entries/flow/{flow['flow_id']}",
                                   json={"broker": host, "port": port})
        r.raise_for_status()
        assert r.json().get("type") == "create_entry", r.text

    async def states(self) -> list[dict[str, object]]:
        r = await self.client.get("/api/states")
        r.raise_for_status()
        found = r.json()
        assert isinstance(found, list)
        return found

    async def template(self, text: str) -> str:
        r = await self.client.post("/api/template", json={"template": text})
        r.raise_for_status()
        return r.text

    async def wait_for(self, what: str, check: object, within: float = 60) -> None:
        await self._poll(what, check, within)
