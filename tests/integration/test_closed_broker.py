"""The broker is closed by default (issue 9): the shipped mosquitto config and `huis demo`'s
embedded broker refuse anonymous clients, and each account reads and writes only its own topics.

Every message here goes through a real broker; a refused publish is proven by a permitted one
from the same client arriving after it (MQTT keeps one client's messages in order).
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import paho.mqtt.publish as publish
import pytest
import yaml
from paho.mqtt import MQTTException

from controller.broker import Server, demo_broker
from controller.broker_auth import CARE_TEAM, HUB, SIMULATORS, ZIGBEE2MQTT
from controller.clock import RealClock
from controller.events import Context
from controller.mqtt import MqttLink
from huis.cli import build_parser
from huis.compose import broker_credentials, build_hub, hub_settings, load_home
from simulators.home import SimulatedHome, run_simulators
from tests.conftest import Mosquitto, free_port
from tests.integration.conftest import ClosedBroker, demo_home
from tests.support import eventually

pytestmark = pytest.mark.broker


class Watcher:
    """A paho client that records what it receives and what its subscriptions were granted."""

    def __init__(self, host: str, port: int, username: str | None = None, password: str | None = None,
                 *, tls_ca: Path | None = None) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.granted: list[int] = []
        self.connect_rc: object = None
        self._subscribed = threading.Event()
        self._connected = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect = self._on_connect
        self.host, self.port = host, port

    def _on_connect(self, _c: object, _u: object, _f: object, rc: object, _p: object = None) -> None:
        self.connect_rc = rc
        self._connected.set()

    def _on_subscribe(self, _c: object, _u: object, _mid: int, codes: list[paho.ReasonCode], _p: object) -> None:
        self.granted = [c.value for c in codes]
        self._subscribed.set()

    def connect(self) -> bool:
        """Whether the broker accepted the log-in."""
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        assert self._connected.wait(10)
        return not getattr(self.connect_rc, "is_failure", True)

    def subscribe(self, *filters: str) -> list[int]:
        """Subscribe at QoS 1; the granted QoS per filter (128: refused)."""
        self._subscribed.clear()
        self.client.subscribe([(f, 1) for f in filters])
        assert self._subscribed.wait(10)
        return self.granted

    def topics(self) -> list[str]:
        return [t for t, _ in self.messages]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    made: list[Watcher] = []
    yield made
    for w in made:
        w.close()


def watcher(made: list[Watcher], broker: ClosedBroker, username: str | None, *filters: str) -> Watcher:
    w = Watcher(broker.host, broker.port, username,
                broker.credentials.password(username) if username else None)
    made.append(w)
    assert w.connect()
    if filters:
        assert all(g == 1 for g in w.subscribe(*filters)), filters
    return w


def send(broker: ClosedBroker, username: str | None, *msgs: tuple[str, str]) -> None:
    """Publish `msgs` in order on one connection (QoS 1, each acknowledged by the broker)."""
    auth = broker.auth(username) if username else None
    publish.multiple([{"topic": t, "payload": p, "qos": 1} for t, p in msgs],
                     hostname=broker.host, port=broker.port, auth=auth)


def test_the_shipped_config_is_closed() -> None:
    text = (Path(__file__).resolve().parents[2] / "config" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in text and "allow_anonymous true" not in text
    assert "password_file" in text and "acl_file" in text


async def test_anonymous_publish_and_subscribe_are_refused(closed_broker: ClosedBroker,
                                                           watchers: list[Watcher]) -> None:
    z2m = watcher(watchers, closed_broker, ZIGBEE2MQTT, "zigbee2mqtt/#")
    anonymous = Watcher(closed_broker.host, closed_broker.port)
    watchers.append(anonymous)
    assert not anonymous.connect(), "the broker accepted a client without credentials"
    with pytest.raises(MQTTException):
        await asyncio.to_thread(send, closed_broker, None, ("zigbee2mqtt/sos_button", '{"action":"emergency"}'))
    wrong = Watcher(closed_broker.host, closed_broker.port, HUB, "not-the-password")
    watchers.append(wrong)
    assert not wrong.connect()
    # The listener was listening: the device's own press arrives, the anonymous one never did.
    await asyncio.to_thread(send, closed_broker, SIMULATORS, ("zigbee2mqtt/sos_button", '{"linkquality":1}'))
    await eventually(lambda: len(z2m.messages) == 1)
    assert z2m.messages == [("zigbee2mqtt/sos_button", b'{"linkquality":1}')]


async def test_a_device_writes_only_its_own_topics(closed_broker: ClosedBroker, watchers: list[Watcher]) -> None:
    z2m = watcher(watchers, closed_broker, ZIGBEE2MQTT, "zigbee2mqtt/#")
    hub = watcher(watchers, closed_broker, HUB, "huis/speaker/speaker/state", "huis/dispenser/dispenser/state")
    sims = watcher(watchers, closed_broker, SIMULATORS, "huis/dispenser/dispenser/set")
    # The simulated devices may not command a light (only the hub may).
    await asyncio.to_thread(send, closed_broker, SIMULATORS, ("zigbee2mqtt/hall_light/set", '{"state":"ON"}'),
                            ("zigbee2mqtt/hall_light", '{"state":"OFF"}'))
    # The dispenser may not speak for the speaker, nor command itself.
    await asyncio.to_thread(send, closed_broker, "device-dispenser",
                            ("huis/speaker/speaker/state", '{"volume":99}'),
                            ("huis/dispenser/dispenser/set", '{"snooze":600}'),
                            ("huis/dispenser/dispenser/state", '{"doses":[]}'))
    await eventually(lambda: "zigbee2mqtt/hall_light" in z2m.topics()
                     and "huis/dispenser/dispenser/state" in hub.topics())
    assert z2m.topics() == ["zigbee2mqtt/hall_light"]
    assert hub.topics() == ["huis/dispenser/dispenser/state"]
    # The hub's own command does reach the dispenser's command topic: the refusal was the ACL.
    await asyncio.to_thread(send, closed_broker, HUB, ("huis/dispenser/dispenser/set", '{"snooze":600}'))
    await eventually(lambda: sims.topics() == ["huis/dispenser/dispenser/set"])


async def test_only_the_care_team_reads_the_alert_channel(closed_broker: ClosedBroker,
                                                         watchers: list[Watcher]) -> None:
    team = watcher(watchers, closed_broker, CARE_TEAM, "huis/alerts/#")
    # Each other account tries to listen (mosquitto may grant the subscription; it then delivers
    # nothing the account may not read), and gets a marker it may read after the alert.
    markers = {HUB: (SIMULATORS, "zigbee2mqtt/bed_sensor"), SIMULATORS: (HUB, "zigbee2mqtt/hall_light/set"),
               ZIGBEE2MQTT: (SIMULATORS, "zigbee2mqtt/front_door"), "device-speaker": (HUB, "huis/speaker/speaker/set")}
    others = {}
    for user, (_, marker) in markers.items():
        w = others[user] = watcher(watchers, closed_broker, user)
        w.subscribe("huis/alerts/#", "#", marker)
    await asyncio.to_thread(send, closed_broker, SIMULATORS, ("huis/alerts/team", "forged"))
    await asyncio.to_thread(send, closed_broker, HUB, ("huis/alerts/team", "from the hub"))
    for sender, marker in markers.values():
        await asyncio.to_thread(send, closed_broker, sender, (marker, "{}"))
    await eventually(lambda: all(marker in others[u].topics() for u, (_, marker) in markers.items()))
    await eventually(lambda: len(team.messages) == 1)
    assert team.messages == [("huis/alerts/team", b"from the hub")]
    for user, w in others.items():
        assert not [t for t in w.topics() if t.startswith("huis/alerts")], user


async def test_hub_and_simulated_home_work_with_their_credentials(closed_broker: ClosedBroker,
                                                                  watchers: list[Watcher]) -> None:
    cfg = load_home(closed_broker.home)
    sims = watcher(watchers, closed_broker, SIMULATORS, "zigbee2mqtt/hall_light/set")
    settings = hub_settings(cfg, closed_broker.host, closed_broker.port)
    assert (settings.username, settings.persistent) == (HUB, True)
    hub = build_hub(cfg, RealClock(), settings)
    home = SimulatedHome(cfg, RealClock())
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(hub.run()),
                 tg.create_task(run_simulators(cfg, RealClock(), closed_broker.host, closed_broker.port, home=home))]
        link = hub.link
        assert isinstance(link, MqttLink)
        await eventually(lambda: link.connected.is_set())
        # The simulated devices announce their states; the hub hears every one of them.
        await eventually(lambda: all(st.available for st in hub.state.all() if st.kind != "light"), within=20)
        hub.command("hall_light", {"state": "ON"}, Context(origin="test"))
        await eventually(lambda: len(sims.messages) == 1)
        await eventually(lambda: hub.state.attribute("hall_light", "state") == "ON")
        assert link.acked > 0  # acknowledged after settling, not on receipt
        for t in tasks:
            t.cancel()


@pytest.mark.parametrize("server", ["amqtt", "mosquitto"])
async def test_the_embedded_broker_is_closed_too(tmp_path: Path, server: Server) -> None:
    """Either broker `huis demo` may run (mosquitto when installed, else amqtt) is closed."""
    cfg = load_home(demo_home(tmp_path))
    creds = broker_credentials(cfg, out=io.StringIO())
    port = free_port()
    async with demo_broker("127.0.0.1", port, credentials=creds, server=server):
        broker = ClosedBroker(mosquitto=Mosquitto(port=port, conf=tmp_path / "none"), credentials=creds,
                              home=tmp_path / "home.yaml")
        anonymous = Watcher("127.0.0.1", port)
        assert not await asyncio.to_thread(anonymous.connect)
        anonymous.close()
        made: list[Watcher] = []
        try:
            z2m = await asyncio.to_thread(watcher, made, broker, ZIGBEE2MQTT, "zigbee2mqtt/#")
            sims = await asyncio.to_thread(watcher, made, broker, SIMULATORS)
            granted = await asyncio.to_thread(sims.subscribe, "huis/alerts/#", "zigbee2mqtt/hall_light/set")
            # amqtt refuses the subscription; mosquitto grants it and then delivers nothing of it.
            assert granted == ([128, 1] if server == "amqtt" else [1, 1])
            await asyncio.to_thread(send, broker, SIMULATORS, ("zigbee2mqtt/hall_light/set", '{"state":"ON"}'),
                                    ("zigbee2mqtt/hall_light", '{"state":"OFF"}'))
            await eventually(lambda: "zigbee2mqtt/hall_light" in z2m.topics())
            assert z2m.topics() == ["zigbee2mqtt/hall_light"]
            await asyncio.to_thread(send, broker, HUB, ("huis/alerts/team", "for the care team only"),
                                    ("zigbee2mqtt/hall_light/set", '{"state":"ON"}'))
            await eventually(lambda: "zigbee2mqtt/hall_light/set" in sims.topics())
            assert sims.topics() == ["zigbee2mqtt/hall_light/set"]
            # And the hub logs in with its generated account.
            hub = build_hub(cfg, RealClock(), hub_settings(cfg, "127.0.0.1", port))
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(hub.run())
                await asyncio.to_thread(send, broker, SIMULATORS,
                                        ("zigbee2mqtt/bed_sensor", json.dumps({"occupancy": False})))
                await eventually(lambda: hub.link.connected.is_set())  # type: ignore[attr-defined]
                await asyncio.to_thread(send, broker, SIMULATORS,
                                        ("zigbee2mqtt/bed_sensor", json.dumps({"occupancy": True})))
                await eventually(lambda: hub.state.attribute("bed_sensor", "occupancy") is True)
                task.cancel()
        finally:
            for w in made:
                w.close()


def test_credentials_are_private_generated_once_and_ignored_by_git(tmp_path: Path) -> None:
    cfg = load_home(demo_home(tmp_path))
    out = io.StringIO()
    first = broker_credentials(cfg, out=out)
    assert HUB in first.created and first.password(HUB) in out.getvalue()
    for path in first.folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    again = io.StringIO()
    second = broker_credentials(cfg, out=again)
    assert second.created == () and again.getvalue() == ""
    assert second.passwords == first.passwords
    root = Path(__file__).resolve().parents[2]
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/mqtt/huis-hub.password"], cwd=root, check=False)
    assert ignored.returncode == 0, "var/mqtt/ must be ignored by git"


def test_huis_broker_credentials_prints_the_passwords_once(tmp_path: Path) -> None:
    home = demo_home(tmp_path)
    broker = tmp_path / "broker"
    cmd = [sys.executable, "-m", "huis.cli", "broker-credentials", "--config", str(home),
           "--broker-folder", str(broker)]
    root = Path(__file__).resolve().parents[2]
    first = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True)
    password = (tmp_path / "var" / "mqtt" / f"{HUB}.password").read_text().strip()
    assert password in first.stdout and "mosquitto.acl" in first.stdout
    assert sorted(p.name for p in broker.iterdir()) == ["mosquitto.acl", "mosquitto.passwd"]
    second = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True)
    assert password not in second.stdout and "nothing generated" in second.stdout


def test_docker_compose_runs_the_demo_with_generated_credentials() -> None:
    """What can be checked without docker: the commands parse, the hub runs `huis demo` (its
    simulated devices and story buttons), not as root, the broker waits for its accounts."""
    root = Path(__file__).resolve().parents[2]
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    services = compose["services"]
    parser = build_parser()
    hub = parser.parse_args(services["hub"]["command"])
    assert (hub.command, hub.mqtt_host) == ("demo", "mosquitto")
    assert parser.parse_args(services["broker-credentials"]["command"]).command == "broker-credentials"
    assert "simulators" not in services  # in the demo's own process, as with `make demo`
    wait = services["mosquitto"]["depends_on"]["broker-credentials"]["condition"]
    assert wait == "service_completed_successfully"
    assert "USER huis" in (root / "Dockerfile").read_text()
