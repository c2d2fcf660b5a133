"""Simulated homes for the central care view: lightweight publishers, not full hubs.

Each home speaks the upward wire format version 1 (docs/central.md) with MQTT QoS 1 (heartbeats
QoS 0, as a hub sends them), logged in as its own user, on a persistent session (clean_session
false): a heartbeat every 60 s of its clock, alert lifecycles (raised, delivered, maybe
escalated, acknowledged, resolved), house mode and presence, device health. Every message gets
a fresh `msg_id` and is written to the home's `Ledger` (when it was handed to MQTT on the wall
clock, and when the broker acknowledged it), so a benchmark can count, per home, what was sent
against what the centre stored.

How often: real homes page 1.15-1.65 times a day (docs/care-quality.md, "Pages and incidents";
`PAGES_PER_DAY` takes 1.5) and get about one info notice every two days. The homes run on an
`AcceleratedClock` (`speed` home seconds per real second); for load, `alert_scale` multiplies
the alert rate on top of that. Both are stated by whoever runs them.

A home is either direct (an MQTT client to the cluster's MQTT ports, topics
`homes/<id>/up/<kind>`; when its node goes away it tries the next address) or bridged: it
publishes `huis/uplink/<kind>` to a mosquitto of its own, whose bridge (the lines of
docs/central.md) carries it to the cluster. `LinkCut` sits between that bridge and the cluster,
so cutting a home's link is a real cut of a real bridge.

`python -m simulators.homes --plan plan.json --ledger sent.jsonl` runs the homes of a plan until
SIGTERM (or `--seconds`), then waits for every PUBACK and writes the ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from controller.clock import AcceleratedClock, Clock, RealClock
from controller.uplink_wire import up_qos

log = logging.getLogger(__name__)

PAGES_PER_DAY = 1.5  # docs/care-quality.md: 1.15 (simulated lives) to 1.65 (Ordóñez B)
INFO_PER_DAY = 0.5
HOUSE_OUTINGS_PER_DAY = 1.5  # away and back: 2 house messages each, plus day/night mode twice
DEVICE_TROUBLE_PER_DAY = 0.2  # a sensor offline (and back) or a battery low
HEARTBEAT = timedelta(seconds=60)
BRIDGE_PREFIX = "huis/uplink/"

# Scenario, alert key, severity, and the neutral title the centre shows (never the resident's words).
SCENARIOS: tuple[tuple[str, str, str, str], ...] = (
    ("night_exit", "night_exit.door_open", "urgent", "Nachtelijk verlaten van de woning"),
    ("night_exit", "night_exit.bed_empty", "warning", "'s Nachts lang uit bed"),
    ("inactivity", "inactivity.no_motion", "warning", "Lang geen beweging"),
    ("inactivity", "inactivity.not_up", "warning", "Niet opgestaan"),
    ("medication", "medication.missed_dose", "warning", "Medicatie niet genomen"),
)
INFO = ("device_health", "device_health.battery_low", "info", "Batterij bijna leeg")
DEVICES = (("bed_sensor", "bed", "slaapkamer"), ("front_door", "contact", "hal"),
           ("hall_motion", "motion", "hal"), ("living_motion", "motion", "woonkamer"),
           ("dispenser", "dispenser", "keuken"))
CAREGIVERS = ("c1", "c2", "c3")


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeSpec:
    """One simulated home: who it is and where it publishes."""

    home_id: str
    addresses: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    bridged: bool = False  # publishes to its own mosquitto under huis/uplink/

    def __post_init__(self) -> None:
        if not self.home_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"home id {self.home_id!r}: letters, digits, '-' and '_' only")
        if not self.addresses:
            raise ValueError(f"home {self.home_id}: no address to publish to")

    @property
    def prefix(self) -> str:
        return BRIDGE_PREFIX if self.bridged else f"homes/{self.home_id}/up/"

    @property
    def client_id(self) -> str:
        return f"sim-{self.home_id}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "addresses": [list(a) for a in self.addresses]}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> HomeSpec:
        return cls(**{**doc, "addresses": tuple((str(h), int(p)) for h, p in doc["addresses"])})


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """How often things happen in a home, per day of its clock."""

    pages_per_day: float = PAGES_PER_DAY
    info_per_day: float = INFO_PER_DAY
    outings_per_day: float = HOUSE_OUTINGS_PER_DAY
    device_trouble_per_day: float = DEVICE_TROUBLE_PER_DAY
    alert_scale: float = 1.0  # load: alerts this many times more often than real homes have them

    def describe(self) -> str:
        return (f"{self.pages_per_day:g} pages and {self.info_per_day:g} info notices per home-day"
                f" (docs/care-quality.md) x {self.alert_scale:g} for load, heartbeat every "
                f"{HEARTBEAT.total_seconds():.0f} s, {self.outings_per_day:g} outings and "
                f"{self.device_trouble_per_day:g} device troubles per home-day")


@dataclass(slots=True)
class Sent:
    """One message a home handed to MQTT, and whether the broker took it."""

    home: str
    msg_id: str
    kind: str
    action: str | None
    alert_id: str | None
    at: str  # the home's clock
    sent: str  # wall clock, when handed to MQTT
    acked: str | None = None  # wall clock, PUBACK from the broker (the home's own mosquitto when bridged)
    qos: int = 1  # 0: a heartbeat, sent once and never acknowledged


class Ledger:
    """What every home sent (thread-safe: PUBACKs arrive on paho's threads).

    The ledger's lock is never held while calling paho (paho calls `acked` holding its own
    lock), so a PUBACK may arrive before `sent` knows the message's mid: it waits in `_early`.
    """

    def __init__(self) -> None:
        self.entries: dict[str, Sent] = {}
        self._by_mid: dict[tuple[str, int], str] = {}
        self._early: set[tuple[str, int]] = set()
        self._qos0: set[tuple[str, int]] = set()  # paho reports a QoS 0 publish as sent: not a PUBACK
        self._lock = threading.Lock()
        self._wall = RealClock()

    def sent(self, sent: Sent, mid: int) -> None:
        """`sent` was handed to MQTT as `mid`."""
        with self._lock:
            if sent.msg_id in self.entries:
                raise RuntimeError(f"msg_id {sent.msg_id} used twice")
            self.entries[sent.msg_id] = sent
            if sent.qos == 0:
                if (sent.home, mid) in self._early:
                    self._early.discard((sent.home, mid))
                else:
                    self._qos0.add((sent.home, mid))
                return
            self._qos0.discard((sent.home, mid))  # a QoS 0 publish paho never reported, mid reused
            if (sent.home, mid) in self._early:
                self._early.discard((sent.home, mid))
                sent.acked = iso(self._wall.now())
            else:
                self._by_mid[(sent.home, mid)] = sent.msg_id

    def acked(self, home: str, mid: int) -> None:
        with self._lock:
            msg_id = self._by_mid.pop((home, mid), None)
            if msg_id is None and (home, mid) in self._qos0:
                self._qos0.discard((home, mid))
            elif msg_id is None:
                self._early.add((home, mid))
            else:
                self.entries[msg_id].acked = iso(self._wall.now())

    def unacked(self) -> int:
        with self._lock:
            return len(self._by_mid)

    def write(self, path: Path) -> None:
        with self._lock, path.open("w", encoding="utf-8") as f:
            for e in self.entries.values():
                f.write(json.dumps(asdict(e), separators=(",", ":")) + "\n")

    @staticmethod
    def read(path: Path) -> list[Sent]:
        with path.open(encoding="utf-8") as f:
            return [Sent(**json.loads(line)) for line in f if line.strip()]


class MqttUplink:
    """One home's MQTT connection: paho on its own network thread, QoS 1, a persistent session.

    paho keeps a QoS 1 message until its PUBACK and sends it again after a reconnect, also the
    ones published while the connection was down; when a node does not answer, the next
    address of the list is tried.
    """

    def __init__(self, spec: HomeSpec, ledger: Ledger) -> None:
        self.spec = spec
        self._ledger = ledger
        self._next = 0
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=spec.client_id, clean_session=False)
        if spec.username is not None:
            c.username_pw_set(spec.username, spec.password)
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)  # no limit: a home keeps what it could not send yet
        c.reconnect_delay_set(1, 5)
        c.on_publish = self._on_publish
        c.on_disconnect = self._rotate
        c.on_connect_fail = self._rotate
        self.client = c
        self.connects = 0
        c.on_connect = self._on_connect

    def start(self) -> None:
        host, port = self.spec.addresses[0]
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> int:
        info = self.client.publish(topic, payload, qos=qos)
        return info.mid

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: Any, props: object) -> None:
        if not rc.is_failure:
            self.connects += 1

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        self._ledger.acked(self.spec.home_id, mid)

    def _rotate(self, client: mqtt.Client, *args: object) -> None:
        # The node went away or refused: the next connection attempt goes to the next node.
        if len(self.spec.addresses) < 2:
            return
        self._next = (self._next + 1) % len(self.spec.addresses)
        host, port = self.spec.addresses[self._next]
        with contextlib.suppress(RuntimeError):  # still closing: the same node once more
            client.host, client.port = host, port


@dataclass(slots=True)
class _Alert:
    doc: dict[str, Any]


class SimHome:
    """One home's event stream on its own clock."""

    def __init__(self, spec: HomeSpec, clock: Clock, rates: Rates, ledger: Ledger, uplink: MqttUplink,
                 *, seed: int = 0) -> None:
        self.spec = spec
        self.clock = clock
        self.rates = rates
        self.ledger = ledger
        self.uplink = uplink
        self.active: dict[str, _Alert] = {}
        self._rng = random.Random(f"{seed}:{spec.home_id}")
        self.pseudonym = f"client-{self._rng.randrange(10_000, 99_999)}"
        self.started_at = clock.now()
        self._seq = 0
        self._kinds_sent: set[str] = set()
        self._wall = RealClock()

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, kind: str, fields: dict[str, Any]) -> str:
        """Send one upward message now; returns its msg_id."""
        now = self.clock.now()
        doc: dict[str, Any] = {"v": 1, "msg_id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                               "home": self.spec.home_id, "kind": kind, "at": iso(now)}
        if kind not in self._kinds_sent:
            doc["pseudonym"] = self.pseudonym
            self._kinds_sent.add(kind)
        doc.update(fields)
        payload = json.dumps(doc, separators=(",", ":")).encode()
        alert = fields.get("alert")
        sent = Sent(home=self.spec.home_id, msg_id=doc["msg_id"], kind=kind, action=fields.get("action"),
                    alert_id=alert["id"] if isinstance(alert, dict) else None, at=doc["at"],
                    sent=iso(self._wall.now()), qos=up_qos(kind))
        self.ledger.sent(sent, self.uplink.publish(self.spec.prefix + kind, payload, sent.qos))
        return sent.msg_id

    # -- the home's life --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set."""
        self.publish("snapshot", {"alerts": []})
        async with asyncio.TaskGroup() as tg:
            loops = [tg.create_task(coro, name=f"{self.spec.home_id}-{name}") for name, coro in (
                ("heartbeat", self._heartbeats()), ("pages", self._pages()), ("info", self._infos()),
                ("house", self._house()), ("devices", self._devices()))]
            await stop.wait()
            for t in loops:
                t.cancel()

    async def _every(self, per_day: float) -> None:
        """Sleep a random (exponential) interval for events happening `per_day` times a day."""
        if per_day <= 0:
            await asyncio.Event().wait()  # never
        await self.clock.sleep(self._rng.expovariate(per_day / 86400))

    async def _heartbeats(self) -> None:
        # Homes start spread over the first minute, as real hubs do.
        # On a fixed grid of the clock, so a slow loop does not make the beats drift apart.
        due = self.started_at + timedelta(seconds=self._rng.uniform(0, HEARTBEAT.total_seconds()))
        while True:
            await self.clock.sleep_until(due)
            self.publish("heartbeat", {"seq": self._seq, "active_alerts": len(self.active),
                                       "started_at": iso(self.started_at)})
            self._seq += 1
            due += HEARTBEAT

    async def _pages(self) -> None:
        async with asyncio.TaskGroup() as tg:
            n = 0
            while True:
                await self._every(self.rates.pages_per_day * self.rates.alert_scale)
                n += 1
                tg.create_task(self._lifecycle(self._rng.choice(SCENARIOS)), name=f"{self.spec.home_id}-page{n}")

    async def _infos(self) -> None:
        async with asyncio.TaskGroup() as tg:
            n = 0
            while True:
                await self._every(self.rates.info_per_day * self.rates.alert_scale)
                n += 1
                tg.create_task(self._lifecycle(INFO), name=f"{self.spec.home_id}-info{n}")

    def _step(self, alert: _Alert, action: str, **changes: Any) -> None:
        now = iso(self.clock.now())
        alert.doc.update(changes, updated_at=now)
        self.publish("alert", {"action": action, "alert": dict(alert.doc)})

    async def _lifecycle(self, scenario: tuple[str, str, str, str]) -> None:
        """One alert from raised to resolved, at a caregiver's pace (minutes on the home's clock)."""
        name, key, severity, title = scenario
        rng, now = self._rng, iso(self.clock.now())
        alert = _Alert({"id": f"a-{rng.getrandbits(64):016x}", "key": key, "scenario": name, "severity": severity,
                        "state": "raised", "title": title, "raised_at": now, "updated_at": now,
                        "occurrence": 1, "previous_id": None, "repeats": 0, "acknowledged_by": None,
                        "acknowledged_via": None, "acknowledged_at": None, "resolved_at": None,
                        "resolution": None})
        self.active[alert.doc["id"]] = alert
        try:
            self.publish("alert", {"action": "raised", "alert": dict(alert.doc)})
            if severity != "info":
                await self.clock.sleep(rng.uniform(2, 20))
                self._step(alert, "delivered", state="delivered")
                if rng.random() < 0.15:  # nobody answered within the policy's first step
                    await self.clock.sleep(300)
                    self._step(alert, "escalated", repeats=alert.doc["repeats"] + 1)
                await self.clock.sleep(rng.uniform(60, 480))
                self._step(alert, "acknowledged", state="acknowledged", acknowledged_by=rng.choice(CAREGIVERS),
                           acknowledged_via="page", acknowledged_at=iso(self.clock.now()))
            await self.clock.sleep(rng.uniform(180, 2400))
            self._step(alert, "resolved", state="resolved", resolved_at=iso(self.clock.now()),
                       resolution="handled")
        finally:
            self.active.pop(alert.doc["id"], None)

    async def _house(self) -> None:
        mode = "night" if self.clock.now().hour >= 22 or self.clock.now().hour < 7 else "day"
        self.publish("house", {"presence": "home", "mode": mode})
        while True:
            now = self.clock.now()
            # The next mode change (07:00, 22:00) or an outing, whichever comes first.
            change = min(t for t in (now.replace(hour=7, minute=0, second=0, microsecond=0),
                                     now.replace(hour=22, minute=0, second=0, microsecond=0),
                                     now.replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=1))
                         if t > now)
            outing = now + timedelta(seconds=self._rng.expovariate(self.rates.outings_per_day / 86400))
            if mode == "day" and outing < change:
                await self.clock.sleep_until(outing)
                self.publish("house", {"presence": "away", "mode": mode})
                await self.clock.sleep(self._rng.uniform(1200, 7200))
                self.publish("house", {"presence": "home", "mode": mode})
                continue
            await self.clock.sleep_until(change)
            mode = "day" if change.hour == 7 else "night"
            self.publish("house", {"presence": "home", "mode": mode})

    async def _devices(self) -> None:
        while True:
            await self._every(self.rates.device_trouble_per_day)
            device, kind, room = self._rng.choice(DEVICES)
            base = {"device": device, "device_kind": kind, "room": room}
            if self._rng.random() < 0.5:
                self.publish("device", {**base, "health": "battery_low", "detail": "12%"})
                continue
            self.publish("device", {**base, "health": "offline", "detail": "not heard for 25 min"})
            await self.clock.sleep(self._rng.uniform(600, 7200))
            self.publish("device", {**base, "health": "online", "detail": None})


# -- a bridged home: its own mosquitto, with the bridge of docs/central.md -------------------------


def bridge_config(*, home_id: str, username: str, password: str, remote: Sequence[tuple[str, int]],
                  local_port: int, folder: Path) -> str:
    """mosquitto.conf for a home's own broker with the bridge to the centre (docs/central.md)."""
    addresses = " ".join(f"{h}:{p}" for h, p in remote)
    return "\n".join([
        f"listener {local_port} 127.0.0.1", "allow_anonymous true",
        "persistence true", f"persistence_location {folder}/", "autosave_interval 1",
        # A cut of hours at one heartbeat a minute queues more than mosquitto's default 1000.
        "max_queued_messages 0",
        f"log_dest file {folder}/mosquitto.log", "log_type error", "log_type warning", "log_type notice",
        f"connection huis-{home_id}", f"address {addresses}", "bridge_protocol_version mqttv311",
        "try_private false", "cleansession false", f"remote_clientid huis-{home_id}",
        f"remote_username {username}", f"remote_password {password}", "notifications false",
        "start_type automatic", "restart_timeout 1 5", "keepalive_interval 10",
        f"topic # out 1 {BRIDGE_PREFIX} homes/{home_id}/up/",
        f"topic # in 1 huis/downlink/ homes/{home_id}/down/", ""])


class HomeBroker:
    """A bridged home's own mosquitto (persistent), started and stopped as a process."""

    def __init__(self, folder: Path, config: str) -> None:
        self.folder = folder
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "mosquitto.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.config)
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class LinkCut:
    """A TCP relay between a bridged home and one cluster address; `cut()` drops every connection
    through it and refuses new ones until `restore()`, as a failed home router would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.cut_now = False
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.cut_now = True
        for w in list(self._conns):
            w.transport.abort()
        self._conns.clear()

    def restore(self) -> None:
        self.cut_now = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._relay_one(reader, writer)
        except asyncio.CancelledError:
            # Python 3.11's start_server reports a cancelled handler as an error (it calls
            # task.exception() on it): a relay cancelled at shutdown ends quietly instead.
            writer.transport.abort()

    async def _relay_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_now:
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._conns |= {writer, up_w}
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_pipe(reader, up_w))
                tg.create_task(_pipe(up_r, writer))
        finally:
            for w in (writer, up_w):
                self._conns.discard(w)
                w.transport.abort()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    dst.transport.abort()


# -- running a plan -----------------------------------------------------------------------------------


@dataclass
class Homes:
    """The homes of a plan, each with its uplink, on one accelerated clock."""

    specs: Sequence[HomeSpec]
    rates: Rates
    speed: float
    seed: int = 0
    ledger: Ledger = field(default_factory=Ledger)
    clock: AcceleratedClock = field(init=False)
    homes: list[SimHome] = field(init=False)

    def __post_init__(self) -> None:
        self.clock = AcceleratedClock(self.speed)
        self.homes = [SimHome(s, self.clock, self.rates, self.ledger, MqttUplink(s, self.ledger), seed=self.seed)
                      for s in self.specs]

    def describe(self) -> str:
        return (f"{len(self.homes)} simulated homes on an accelerated clock ({self.speed:g} home seconds per "
                f"real second); {self.rates.describe()}")

    async def run(self, stop: asyncio.Event, *, drain_within: float = 120) -> int:
        """Publish until `stop`, then wait (up to `drain_within` s) for every PUBACK; returns how
        many messages are still without one."""
        for h in self.homes:
            h.uplink.start()
        try:
            async with asyncio.TaskGroup() as tg:
                for h in self.homes:
                    tg.create_task(h.run(stop), name=f"home-{h.spec.home_id}")
            wall = RealClock()
            deadline = wall.now() + timedelta(seconds=drain_within)
            while self.ledger.unacked() and wall.now() < deadline:
                await wall.sleep(0.2)
            return self.ledger.unacked()
        finally:
            for h in self.homes:
                h.uplink.stop()


def write_plan(path: Path, specs: Sequence[HomeSpec]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the homes' passwords
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump([s.to_json() for s in specs], f)


def read_plan(path: Path) -> list[HomeSpec]:
    return [HomeSpec.from_json(d) for d in json.loads(path.read_text(encoding="utf-8"))]


async def _main(args: argparse.Namespace) -> int:
    homes = Homes(read_plan(args.plan), Rates(alert_scale=args.alert_scale), args.speed, seed=args.seed)
    print(homes.describe(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with asyncio.TaskGroup() as tg:
        if args.seconds:
            async def stop_later() -> None:
                await RealClock().sleep(args.seconds)
                stop.set()
            timer = tg.create_task(stop_later(), name="stop-later")
        left = await homes.run(stop)
        if args.seconds:
            timer.cancel()
    homes.ledger.write(args.ledger)
    print(f"sent {len(homes.ledger.entries)} messages; {left} without a PUBACK", flush=True)
    return 0 if left == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.homes", description=__doc__.splitlines()[0])
    p.add_argument("--plan", type=Path, required=True, help="JSON list of homes (write_plan)")
    p.add_argument("--ledger", type=Path, required=True, help="where to write what was sent (JSON lines)")
    p.add_argument("--speed", type=float, default=60.0, help="home seconds per real second")
    p.add_argument("--alert-scale", type=float, default=1.0, help="alerts this many times as often as real homes")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this many real seconds (0: at SIGTERM)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
