"""Real servers for the uplink tests: the centre's 3-node NATS cluster (central/servers.py), read
through nats-py as the centre reads it, and a home's closed mosquitto (the shipped config, the
home's generated accounts and ACL) with the bridge of `huis uplink bridge-config` appended."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.js.errors
import paho.mqtt.client as paho
import yaml
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from central import wire
from central.ingest import STREAM
from central.servers import CENTRE_USER, NatsCluster
from controller.broker import bridge_config
from controller.broker_auth import Credentials
from controller.clock import RealClock
from controller.config import HomeConfig
from huis.compose import Home, broker_credentials, hub_settings, load_home, open_home
from huis.uplink import bridge_settings
from tests.conftest import DEMO_CONFIG, Mosquitto, free_port
from tests.support import closed_mosquitto_conf, hand_to_mosquitto

CONSUMER = "uplink-test"


@dataclass
class Up:
    """One message as the centre has it."""

    subject: str
    doc: dict[str, object]
    seq: int  # in `$MQTT_msgs`; 0 for a heartbeat (QoS 0, a plain NATS message)


@dataclass
class Centre:
    """The NATS cluster, read as `huis central` reads it: a durable consumer of its own on NATS's
    MQTT stream `$MQTT_msgs` (what a home's QoS 1 publish was acknowledged for stays there until
    read, through a restart of every node), and the QoS 0 heartbeats as plain NATS messages."""

    cluster: NatsCluster
    nc: Nats | None = None
    got: list[Up] = field(default_factory=list)
    _sub: object = None

    async def connect(self) -> None:
        self.nc = await nats.connect(servers=self.cluster.nats_urls, user=CENTRE_USER,
                                     password=self.cluster.centre_password, connect_timeout=5,
                                     max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        # The JetStream API answers slowly on a loaded machine just after the cluster elected
        # its leaders (nats-py's default of 5 s once timed out here in a full run).
        js = self.nc.jetstream(timeout=30)
        try:
            await js.consumer_info(STREAM, CONSUMER)
        except nats.js.errors.NotFoundError:
            # `$MQTT_msgs` exists: running_cluster waited until the nodes took MQTT logins.
            await js.add_consumer(STREAM, ConsumerConfig(
                durable_name=CONSUMER, filter_subject=wire.MQTT_PREFIX + "homes.*.up.>",
                ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL))
        self._sub = await js.pull_subscribe_bind(CONSUMER, STREAM)

        async def on_heartbeat(m: Msg) -> None:
            self.got.append(Up(m.subject, json.loads(m.data), 0))

        await self.nc.subscribe("homes.*.up.heartbeat", cb=on_heartbeat)
        await self.nc.flush()

    async def close(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
        self.nc = None

    async def read(self, until: Callable[[list[Up]], bool], within: float = 60) -> list[Up]:
        """Everything the homes sent until `until(got)` holds (a limit only against a hang)."""
        async with asyncio.timeout(within):
            while not until(self.got):
                try:
                    batch = await self._sub.fetch(100, timeout=0.5)  # type: ignore[attr-defined]
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                for m in batch:
                    subject = m.subject.removeprefix(wire.MQTT_PREFIX)
                    self.got.append(Up(subject, json.loads(m.data), m.metadata.sequence.stream))
                    await m.ack()
        return self.got

    def of(self, kind: str) -> list[Up]:
        return [u for u in self.got if u.subject.endswith(f".up.{kind}")]

    def mqtt(self, username: str, password: str, node: int = 0) -> MqttClient:
        host, port = self.cluster.mqtt_addresses[node]
        return MqttClient(host, port, username, password)

    def as_centre(self, node: int = 0) -> MqttClient:
        return self.mqtt(CENTRE_USER, self.cluster.centre_password, node)


class MqttClient:
    """A paho client (MQTT 3.1.1, QoS 1) that records what it receives and its SUBACK codes."""

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.qos: list[tuple[str, int]] = []  # (topic, QoS) of each message received
        self.granted: list[int] = []
        self._subscribed = threading.Event()
        self._connected = threading.Event()
        self.rc: object = None
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(0.2, 2)
        self.client.connect_async(host, port)
        self.client.loop_start()
        # Until the broker accepts the login (paho tries again after a refusal or a timeout,
        # as on a loaded machine); the limit only stops a hung test.
        assert self._connected.wait(90), f"no accepting CONNACK: {self.rc}"

    def _on_message(self, _c: object, _u: object, m: paho.MQTTMessage) -> None:
        self.messages.append((m.topic, m.payload))
        self.qos.append((m.topic, m.qos))

    def _on_connect(self, _c: object, _u: object, _f: object, rc: paho.ReasonCode, _p: object = None) -> None:
        self.rc = rc
        if not rc.is_failure:
            self._connected.set()

    def _on_subscribe(self, _c: object, _u: object, _mid: int, codes: list[paho.ReasonCode], _p: object) -> None:
        self.granted = [c.value for c in codes]
        self._subscribed.set()

    def publish(self, topic: str, payload: bytes) -> bool:
        """QoS 1; whether the broker acknowledged it within 10 s."""
        info = self.client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(10)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def subscribe(self, flt: str) -> list[int]:
        self._subscribed.clear()
        self.client.subscribe(flt, qos=1)
        assert self._subscribed.wait(10)
        return self.granted

    def close(self) -> None:
        self.client.loop_stop()
        with contextlib.suppress(Exception):
            self.client.disconnect()


@dataclass
class HomeBroker:
    """A home's closed mosquitto with the bridge to the centre."""

    mosquitto: Mosquitto
    credentials: Credentials
    config: HomeConfig
    data: Path

    def restart(self) -> None:
        """A clean stop (mosquitto writes its persistence file) and a start."""
        self.mosquitto.stop()
        self.mosquitto.start()


def home_yaml(tmp: Path, *, home_id: str, password: str, addresses: list[str], **central: object) -> Path:
    """The demo home with its database in tmp/var and a `central:` section for `home_id`."""
    home = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    home["storage"] = {"path": "var/huis.db"}
    home["scenarios"] = [str(DEMO_CONFIG.parent.parent / "scenarios")]
    home["alerts"] = str(DEMO_CONFIG.parent / "alerts.yaml")
    (tmp / "central.password").write_text(password + "\n", encoding="utf-8")
    (tmp / "central.password").chmod(0o600)
    home["central"] = {"home_id": home_id, "pseudonym": f"cliënt-{home_id}", "addresses": addresses,
                       "password_file": "central.password", **central}
    path = tmp / "home.yaml"
    path.write_text(yaml.safe_dump(home, allow_unicode=True), encoding="utf-8")
    return path


@contextlib.contextmanager
def home_broker(tmp: Path, cluster: NatsCluster, home_id: str, *, first: int = 0,
                via: list[tuple[str, int]] | None = None, **central: object) -> Iterator[HomeBroker]:
    """The shipped mosquitto config, closed with the home's accounts, plus its bridge (to the
    cluster's nodes, node `first` first; or to the addresses `via`, relays a test can cut)."""
    password = cluster.add_home(home_id)
    nodes = via or cluster.mqtt_addresses[first:] + cluster.mqtt_addresses[:first]
    cfg = load_home(home_yaml(tmp, home_id=home_id, password=password,
                              addresses=[f"{h}:{p}" for h, p in nodes], **central))
    folder = Path(tempfile.mkdtemp(prefix="huis-mosquitto-"))
    folder.chmod(0o711)
    try:
        creds = broker_credentials(cfg, broker_folder=folder / "auth", out=io.StringIO())
        port = free_port()
        conf = closed_mosquitto_conf(tmp / "mosquitto.conf", port, folder / "auth", folder / "data")
        with conf.open("a", encoding="utf-8") as f:
            f.write("\n" + bridge_config(bridge_settings(cfg)))
        conf.chmod(0o600)
        hand_to_mosquitto(folder / "data")
        broker = Mosquitto(port=port, conf=conf)
        broker.start()
        try:
            yield HomeBroker(mosquitto=broker, credentials=creds, config=cfg, data=folder / "data")
        finally:
            broker.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def open_hub(broker: HomeBroker, folder: Path) -> Home:
    """The home's hub on its closed broker, logged in as `huis-hub` (as `huis run` does)."""
    cfg = broker.config
    settings = hub_settings(cfg, broker.mosquitto.host, broker.mosquitto.port)
    from controller.alerts.channels.page import PageChannel

    return await open_home(cfg, RealClock(), settings=settings, db_path=folder / "var" / "huis.db",
                           alert_channels=[PageChannel()])


async def started(home: Home) -> None:
    """Until the hub's uplink follows the home (after the engine restored the house)."""
    from tests.support import eventually

    await eventually(lambda: home.uplink is not None and home.uplink.started_at is not None, within=30)
