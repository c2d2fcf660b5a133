"""The uplink: a home tells its care centre what happens, and takes the centre's commands.

With a `central:` section in the home's config (docs/central.md) the hub publishes, with QoS 1,
under `huis/uplink/<kind>` on its own broker; mosquitto's bridge carries that to the centre as
`homes/<home-id>/up/<kind>` and keeps it (persistence, `cleansession false`) while the link is
cut or the home restarts. Heartbeats go with QoS 0 (`up_qos`): one is worth only its freshness,
so none is queued for a cut link. Upward: every care alert's lifecycle step, a snapshot of the active
alerts at start-up and whenever the link comes back, presence and house mode, device health and
a heartbeat on the hub's clock. Nothing names the resident: an alert goes with a neutral title
per scenario (`TITLES`), its own message and notes only with `central.share_details`.

Downward, on `huis/downlink/command`: acknowledge or resolve, by a caregiver at the centre. A
command is carried out only when its HMAC under this home's key (`central.key`) matches, it is at
most an hour old, the alert is known and active here, and its `msg_id` was not carried out before
(the last 1,000 are kept on disk, so a restart does not forget). Anything else is refused with
the reason in the log, counted per reason (`refused`), and told to the technician as one notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from controller import keyfile
from controller.alerts.model import Alert
from controller.alerts.service import AlertService
from controller.broker import BRIDGE_STATE_TOPIC, BridgeSettings
from controller.broker_auth import CENTRAL_BRIDGE, credentials_folder, read_secret
from controller.config import Central, HomeConfig, resolve
from controller.engine import HOUSE_CHANGED, Engine
from controller.events import (
    ALERT_CHANGED,
    AVAILABILITY,
    HUB_STATUS,
    STATE_CHANGED,
    AvailabilityChanged,
    Context,
    Event,
    HubStatus,
    StateChanged,
)
from controller.hub import Hub
from controller.uplink_wire import (
    LOCAL_COMMAND,
    Command,
    CommandRefused,
    check_command,
    encode,
    envelope,
    local_up,
    up_qos,
    wire_alert,
)

log = logging.getLogger(__name__)


def embedded_broker_warning(cfg: HomeConfig) -> str | None:
    """Plain words when a home linked to a centre (`central:`) has no `mqtt:`: `huis demo` then
    runs it on its own broker (amqtt, or a mosquitto of its own), which has no bridge lines, so nothing
    reaches the centre."""
    if cfg.central is None or cfg.mqtt is not None:
        return None
    return (f"this home is linked to a centre as {cfg.central.home_id} (central:), but has no mqtt: section, so "
            "it runs on the demo's own broker, which has no bridge: nothing reaches the centre and no command "
            "comes from it. Run mosquitto with the bridge lines of `huis uplink bridge-config` and name it "
            "under mqtt: (docs/central.md, 'The bridge').")

KEY_FILE = "central.key"  # next to the database unless central.key_file says otherwise
SEEN_FILE = "central-commands.json"
SEEN_KEEP = 1000
CHANNEL = "central"
BATTERY_LOW = 15  # percent, as the device_health scenario's default
REFUSED_KEY = "central.refused"

# Neutral titles, by alert key (or the start of one) and then by scenario: what the centre shows
# instead of the alert's own message. Dutch first, English second. (Branch i18n moves texts to
# gettext catalogues; these are the uplink's, all in this one place.)
TITLES: Mapping[str, tuple[str, str]] = {
    "sos": ("Alarmknop ingedrukt", "Alarm button pressed"),
    "night_exit.door": ("'s Nachts de deur uit", "Went out of the door at night"),
    "night_exit.bed_empty": ("'s Nachts lang uit bed", "Out of bed at night for long"),
    "night_exit.door_awake": ("Deur 's nachts geopend", "Door opened at night"),
    "night_exit.homecoming": ("'s Nachts thuisgekomen", "Came home at night"),
    "night_exit": ("Nachtelijk verlaten van de woning", "Leaving the home at night"),
    "wander": ("Mogelijk gaan dwalen", "Possibly wandering"),
    "inactivity.no_motion": ("Langer stil dan gewoonlijk", "Quiet for longer than usual"),
    "inactivity.not_up": ("Later op dan gewoonlijk", "Not up at the usual time"),
    "inactivity": ("Ongewone inactiviteit", "Unusual inactivity"),
    "medication": ("Medicatie niet ingenomen", "Medication not taken"),
    "day_structure": ("Dagstructuur", "Day structure"),
}
GENERIC_TITLE = ("Zorgmelding", "Care alert")
REFUSED_TEXT = ("Opdracht van de zorgcentrale geweigerd ({reason}): {count} keer sinds de start.",
                "Command from the care centre refused ({reason}): {count} times since start.")


def title_for(key: str, scenario: str, language: str = "nl") -> str:
    """The neutral title of an alert: its key, or the longest start of it, or its scenario."""
    lang = 1 if language == "en" else 0
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        found = TITLES.get(".".join(parts[:n]))
        if found is not None:
            return found[lang]
    for name, texts in sorted(TITLES.items(), key=lambda kv: -len(kv[0])):
        if "." not in name and scenario.startswith(name):
            return texts[lang]
    return GENERIC_TITLE[lang]


def for_centre(alert_id: str, scenario: str, data: Mapping[str, object] | None) -> bool:
    """Care alerts only: test alerts and technician notices stay in the home."""
    return scenario != "test" and (data or {}).get("audience") != "technician" and bool(alert_id)


def bridge_settings(cfg: HomeConfig) -> BridgeSettings:
    """The mosquitto bridge of this home to its centre (`controller.broker.bridge_config`), with
    the password read from `central.password_file` and files resolved against the config."""
    c = cfg.central
    if c is None:
        raise ValueError(f"{cfg.source}: no `central:` section, so no bridge to a centre")
    password = resolve(cfg, c.password_file).read_text(encoding="utf-8").strip()
    tls = c.tls

    def path(name: str | None) -> Path | None:
        return resolve(cfg, name) if name else None

    return BridgeSettings(home_id=c.home_id, addresses=tuple(c.addresses), username=c.user(),
                          password=password, tls=tls is not None, local_username=CENTRAL_BRIDGE,
                          local_password=read_secret(credentials_folder(cfg), CENTRAL_BRIDGE),
                          ca_file=path(tls.ca_file) if tls else None,
                          cert_file=path(tls.cert_file) if tls else None,
                          key_file=path(tls.key_file) if tls else None,
                          insecure=bool(tls and tls.insecure))


class SeenCommands:
    """The `msg_id`s of the last SEEN_KEEP commands carried out, on disk (a replay after a
    restart is refused too)."""

    def __init__(self, path: Path, keep: int = SEEN_KEEP) -> None:
        self.path = path
        self._ids: deque[str] = deque(maxlen=keep)
        with contextlib.suppress(FileNotFoundError, ValueError):
            found = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(found, list):
                self._ids.extend(str(x) for x in found)
        self._set = set(self._ids)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._set

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, msg_id: str) -> None:
        """Remember `msg_id`, written through (a temp file renamed, fsynced) before returning."""
        if len(self._ids) == self._ids.maxlen:
            self._set.discard(self._ids[0])
        self._ids.append(msg_id)
        self._set.add(msg_id)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(list(self._ids), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


@dataclass(frozen=True, slots=True)
class _AlertStep:
    action: str
    alert_id: str
    at: datetime
    alert: Alert | None  # as it was when the step happened; None: closed, read from the store


@dataclass(frozen=True, slots=True)
class _Snapshot:
    why: str


_Up = _AlertStep | _Snapshot


class Uplink:
    """Publishes the home's care events for the centre and carries out its signed commands."""

    def __init__(self, *, hub: Hub, engine: Engine, alerts: AlertService, folder: Path) -> None:
        central = hub.config.central
        if central is None:
            raise ValueError("the uplink needs a `central:` section in the home's config")
        self.central: Central = central
        self.hub = hub
        self.engine = engine
        self.alerts = alerts
        self.language = hub.config.home.language
        key_path = resolve(hub.config, central.key_file) if central.key_file else folder / KEY_FILE
        self.key = keyfile.load_key(key_path, what="centre command key")
        self.key_path = key_path
        self.seen = SeenCommands(folder / SEEN_FILE)
        self._up: asyncio.Queue[_Up] = asyncio.Queue()
        self._commands: asyncio.Queue[bytes] = asyncio.Queue()
        self._with_pseudonym: set[str] = set()  # kinds whose first message went out (this run)
        self._bridge_up: bool | None = None  # the bridge's own notification, when heard
        self._hub_lost = False  # the hub's own broker went away since start-up
        self._unsubscribe: list[Callable[[], None]] = []
        self.started_at: datetime | None = None
        self.seq = 0
        self.sent: Counter[str] = Counter()  # per kind
        self.recent: deque[tuple[str, str]] = deque(maxlen=1000)  # (kind, msg_id) of the latest sent
        self.carried_out = 0
        self.refused: Counter[str] = Counter()  # per reason (controller.uplink_wire.REASONS)
        self.refusals: deque[str] = deque(maxlen=50)  # the latest reasons with their details

    def topic_filters(self) -> list[str]:
        return [LOCAL_COMMAND, BRIDGE_STATE_TOPIC]

    # -- life ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Once the engine has restored the house: a snapshot, then follow the home, beat, and
        carry out commands until cancelled (a service under the hub's TaskGroup)."""
        await self.engine.ready.wait()
        await self.alerts.open()
        self.start()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._send_up(), name="uplink-up")
                tg.create_task(self._serve_commands(), name="uplink-commands")
                tg.create_task(self._heartbeats(), name="uplink-heartbeat")
        finally:
            self.stop()

    def start(self) -> None:
        self.started_at = self.hub.clock.now()
        for topic in self.topic_filters():
            self.hub.topic_handlers[topic] = self.on_message
        subscribe = getattr(self.hub.link, "subscribe", None)  # a MemoryLink hears nothing
        if subscribe is not None:
            subscribe(*self.topic_filters())
        bus = self.hub.bus
        self._unsubscribe = [bus.subscribe(self._on_alert, ALERT_CHANGED),
                             bus.subscribe(self._on_house, HOUSE_CHANGED),
                             bus.subscribe(self._on_availability, AVAILABILITY),
                             bus.subscribe(self._on_state, STATE_CHANGED),
                             bus.subscribe(self._on_hub_status, HUB_STATUS)]
        self._up.put_nowait(_Snapshot("start-up"))
        self.publish_house()
        log.info("uplink to the centre as home %s (%d address(es)); commands checked with %s",
                 self.central.home_id, len(self.central.addresses), self.key_path)

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # -- upward -------------------------------------------------------------------------------

    def _send(self, kind: str, body: Mapping[str, object], *, at: datetime | None = None) -> None:
        pseudonym = None
        if kind not in self._with_pseudonym:
            self._with_pseudonym.add(kind)
            pseudonym = self.central.pseudonym
        doc = {**envelope(home=self.central.home_id, kind=kind, at=at or self.hub.clock.now(),
                          pseudonym=pseudonym), **body}
        self.hub.link.send(local_up(kind), encode(doc), qos=up_qos(kind))
        self.sent[kind] += 1
        self.recent.append((kind, str(doc["msg_id"])))

    def _wire(self, alert: Alert) -> dict[str, object]:
        return wire_alert(alert, title=title_for(alert.key, alert.scenario, self.language),
                          share_details=self.central.share_details)

    def _on_alert(self, event: Event[object]) -> None:
        data = event.data
        if not isinstance(data, Mapping):
            return
        alert_id, scenario = str(data.get("id", "")), str(data.get("scenario", ""))
        alert = next((a for a in self.alerts.active() if a.id == alert_id), None)
        if not for_centre(alert_id, scenario, alert.data if alert is not None else None):
            return
        self._up.put_nowait(_AlertStep(str(data.get("action")), alert_id, event.time, alert))

    async def _send_up(self) -> None:
        """Alert steps and snapshots in the order they happened (a closed alert is read back
        from the store, which takes an await)."""
        while True:
            job = await self._up.get()
            if isinstance(job, _Snapshot):
                self.publish_snapshot(job.why)
                continue
            alert = job.alert or await self.alerts.get(job.alert_id)
            if alert is None or not for_centre(alert.id, alert.scenario, alert.data):
                continue
            self._send("alert", {"action": job.action, "alert": self._wire(alert)}, at=job.at)

    def publish_snapshot(self, why: str) -> None:
        """Every active care alert, so the centre can set its view straight."""
        active = [a for a in self.alerts.active() if for_centre(a.id, a.scenario, a.data)]
        self._send("snapshot", {"alerts": [self._wire(a) for a in active]})
        log.info("uplink: snapshot of %d active alert(s) (%s)", len(active), why)

    def publish_house(self) -> None:
        self._send("house", {"presence": self.engine.presence, "mode": self.engine.mode})

    def _on_house(self, event: Event[object]) -> None:
        self.publish_house()

    def _device(self, dev_id: str, health: str, detail: str, at: datetime) -> None:
        dev = self.hub.config.devices.get(dev_id)
        self._send("device", {"device": dev_id, "device_kind": dev.kind if dev else None,
                              "room": dev.room if dev else None, "health": health, "detail": detail}, at=at)

    def _on_availability(self, event: Event[AvailabilityChanged]) -> None:
        if event.device is not None:
            self._device(event.device, "online" if event.data["online"] else "offline",
                         event.data["reason"], event.time)

    def _on_state(self, event: Event[StateChanged]) -> None:
        change = event.data["changes"].get("battery")
        if event.device is None or change is None:
            return
        old, new = change
        if _below(new) and not _below(old):
            self._device(event.device, "battery_low", f"{new}%", event.time)

    def _on_hub_status(self, event: Event[HubStatus]) -> None:
        if not event.data["mqtt_connected"]:
            self._hub_lost = True
        elif self._hub_lost:
            # The home's broker came back (perhaps restarted): set the centre's view straight.
            self._hub_lost = False
            self._up.put_nowait(_Snapshot("the hub's broker is back"))

    async def _heartbeats(self) -> None:
        """A heartbeat every `central.heartbeat` on the hub's clock; after a jump of the clock
        (the demo's), the next one is an interval from now, not a burst."""
        clock, every = self.hub.clock, self.central.heartbeat
        next_at = clock.now()
        while True:
            self.beat()
            next_at += every
            now = clock.now()
            if next_at <= now:
                next_at = now + every
            await clock.sleep_until(next_at)

    def beat(self) -> None:
        """One heartbeat now (QoS 0: lost, not queued, while the link is down)."""
        self.seq += 1
        self._send("heartbeat", {"seq": self.seq, "active_alerts": len(
            [a for a in self.alerts.active() if for_centre(a.id, a.scenario, a.data)]),
            "started_at": self.started_at.isoformat() if self.started_at else None})

    # -- downward -----------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> None:
        """The centre's commands and the bridge's state (called by the hub for our topics)."""
        if topic == BRIDGE_STATE_TOPIC:
            up = payload.strip() == b"1"
            # mosquitto says "1" each time its bridge connects; the first one the hub hears may be
            # the retained one from before (the start-up snapshot covers that). A failover to
            # another node of the centre can be so quick that no "0" comes in between.
            if up and self._bridge_up is not None:
                self._up.put_nowait(_Snapshot("the link to the centre is back"))
            if up and self.started_at is not None:
                # The heartbeats of the cut were not queued (QoS 0): tell the centre at once.
                self.beat()
            if up != self._bridge_up:
                log.info("uplink: the bridge to the centre is %s", "up" if up else "down")
            self._bridge_up = up
        elif topic == LOCAL_COMMAND:
            self._commands.put_nowait(payload)

    @property
    def bridge_up(self) -> bool | None:
        """What the bridge last said of the link to the centre (None: nothing heard yet)."""
        return self._bridge_up

    async def _serve_commands(self) -> None:
        while True:
            payload = await self._commands.get()
            try:
                cmd = check_command(self.key, payload, now=self.hub.clock.now())
                await self._carry_out(cmd)
            except CommandRefused as refused:
                await self._refuse(refused)

    async def _carry_out(self, cmd: Command) -> None:
        if cmd.msg_id in self.seen:
            raise CommandRefused("replayed", f"command {cmd.msg_id} was carried out before", msg_id=cmd.msg_id)
        alert = await self.alerts.get(cmd.alert)
        if alert is None or not for_centre(alert.id, alert.scenario, alert.data):
            raise CommandRefused("unknown_alert", f"no care alert {cmd.alert} in this home", msg_id=cmd.msg_id)
        if not alert.active:
            raise CommandRefused("not_active", f"alert {cmd.alert} is {alert.state} already", msg_id=cmd.msg_id)
        if cmd.action == "acknowledge":
            outcome = await self.alerts.acknowledge(cmd.alert, by=cmd.by, channel=CHANNEL)
            done = outcome.ok or outcome.reason == "already"
            why = outcome.reason
        else:
            closed = await self.alerts.resolve(cmd.alert, by=cmd.by, note=cmd.note or "", channel=CHANNEL)
            done, why = closed is not None, "resolved" if closed is not None else "no longer active"
        if not done:
            raise CommandRefused("not_active", f"{cmd.action} {cmd.alert}: {why}", msg_id=cmd.msg_id)
        self.seen.add(cmd.msg_id)
        self.carried_out += 1
        log.info("uplink: %s of %s by %s carried out (%s)", cmd.action, cmd.alert, cmd.by, why)

    async def _refuse(self, refused: CommandRefused) -> None:
        self.refused[refused.reason] += 1
        self.refusals.append(f"{refused.reason}: {refused.detail}")
        log.warning("uplink: command %s from the centre refused: %s: %s", refused.msg_id or "?",
                    refused.reason, refused.detail)
        count = self.refused[refused.reason]
        nl, en = (t.format(reason=refused.reason, count=count) for t in REFUSED_TEXT)
        try:
            # One notice for the technician; later refusals are counted on it (its repeats).
            await self.alerts.raise_alert(
                key=REFUSED_KEY, scenario="central", severity="info", message=nl,
                context=Context(origin="central", description=f"command refused: {refused.reason}"),
                data={"audience": "technician", "message_en": en, "refused": dict(self.refused)})
        except Exception:  # the notice is a courtesy: a refusal stays refused and logged
            log.exception("uplink: could not tell the technician of a refused command")

    def health(self) -> dict[str, object]:
        """For the technician and tests: what went up, what came down, what was refused."""
        return {"home": self.central.home_id, "bridge_up": self._bridge_up, "sent": dict(self.sent),
                "carried_out": self.carried_out, "refused": dict(self.refused),
                "latest_refusals": list(self.refusals), "heartbeat_seq": self.seq}


def _below(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value < BATTERY_LOW
