"""Home Assistant MQTT discovery: a home that runs Home Assistant sees the care hub without YAML.

The hub is one device (`homeassistant/device/<node>/config`, Home Assistant 2024.11 and later;
one config per entity with `per_entity`) whose availability is the hub's own retained
`huis/status` with its last will. Its components: the resident's presence and the house mode,
the number of active alerts, one enum sensor per active care alert (its state, with severity,
scenario, message and times as attributes), an event entity for the alerts' lifecycle and, when
`acknowledge_as` names a caregiver, one "Ik ga erheen" button per active alert.

Trust (docs/interop.md, "Home Assistant"): a press acknowledges as that one caregiver, so it is
held to what the caregiver page asks: the command topic is writable only by Home Assistant's
broker account (ACL), and the payload must carry the alert's id with an HMAC of it under this
install's key (`ha.key`, next to the database). The HMAC reaches Home Assistant only in the
retained discovery config, which the ACL lets only huis and Home Assistant read. A press
acknowledges that one alert: a stale or retained press cannot acknowledge a later one.
Nothing here names a caregiver or carries a number: who acknowledged stays in huis.

What was published is remembered (`ha-discovery.json`): components of closed alerts, and the
whole device when the section is switched off, are removed with Home Assistant's own removal
messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from controller import keyfile
from controller.alerts.model import ACTIVE_STATES, CANCELLED, RESOLVED, Alert
from controller.alerts.service import AlertService
from controller.config import HomeAssistant, HomeConfig
from controller.engine import HOUSE_CHANGED, Engine
from controller.engine.model import MODES, PRESENCES
from controller.events import ALERT_CHANGED, AlertAction, Context, Event
from controller.hub import Hub
from controller.mqtt import STATUS_TOPIC

log = logging.getLogger(__name__)

KEY_FILE = "ha.key"
STATE_FILE = "ha-discovery.json"
VERSION = "0.1.0"
# From the alert model, so a state added there is one Home Assistant accepts too.
ALERT_STATES = [*ACTIVE_STATES, RESOLVED, CANCELLED]
EVENT_TYPES = [str(a) for a in AlertAction]
CHANNEL = "homeassistant"

Component = dict[str, object]


def acl_lines(*, node: str = "huis", prefix: str = "homeassistant", hub_user: str = "huis",
              ha_user: str = "homeassistant") -> str:
    """The mosquitto ACL lines this integration needs (beyond the hub's device topics): only
    the hub writes discovery and states, only Home Assistant's account writes the commands, and
    only the two of them read the discovery config that carries the command tokens."""
    return (f"user {hub_user}\n"
            f"topic readwrite huis/ha/{node}/#\n"
            f"topic write {prefix}/device/{node}/config\n"
            f"topic write {prefix}/+/{node}/+/config\n"
            f"topic read {prefix}/status\n"
            f"\n"
            f"user {ha_user}\n"
            f"topic read {prefix}/#\n"
            f"topic write {prefix}/status\n"
            f"topic read huis/status\n"
            f"topic read huis/ha/{node}/#\n"
            f"topic write huis/ha/{node}/ack/set\n"
            f"topic write huis/ha/{node}/mode/set\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class Topics:
    """Where the hub's Home Assistant messages go."""

    prefix: str
    node: str
    status: str = STATUS_TOPIC

    @property
    def config(self) -> str:
        return f"{self.prefix}/device/{self.node}/config"

    def entity_config(self, platform: str, object_id: str) -> str:
        return f"{self.prefix}/{platform}/{self.node}/{object_id}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def base(self) -> str:
        return f"huis/ha/{self.node}"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def events(self) -> str:
        return f"{self.base}/event"

    def alert(self, slug: str) -> str:
        return f"{self.base}/alert/{slug}"

    @property
    def ack(self) -> str:
        return f"{self.base}/ack/set"

    @property
    def mode(self) -> str:
        return f"{self.base}/mode/set"


def slug(alert_id: str) -> str:
    """An alert id as an object id Home Assistant accepts ([a-z0-9_])."""
    return re.sub(r"[^a-z0-9_]", "_", alert_id.lower())


def sign(key: bytes, purpose: str) -> str:
    """The HMAC a command for `purpose` ('ack:<alert id>', 'mode') must carry."""
    return hmac.new(key, purpose.encode(), hashlib.sha256).hexdigest()


def load_key(path: Path) -> bytes:
    """This install's key, made (0600) on first use."""
    return keyfile.load_key(path, what="Home Assistant button key")


def for_care(alert: Alert) -> bool:
    """Care alerts only: technician notices are the console's, not the household's."""
    return alert.data.get("audience") != "technician"


# -- what is published (pure) ---------------------------------------------------------------------


def device_block(cfg: HomeConfig, node: str) -> dict[str, object]:
    return {"ids": [f"huis_{node}"], "name": cfg.home.name, "mf": "huis", "mdl": "Zorghub",
            "sw": VERSION}


ORIGIN = {"name": "huis", "sw": VERSION, "url": "https://github.com/huis/huis"}


def hub_components(ha: HomeAssistant, topics: Topics, key: bytes) -> dict[str, Component]:
    """The components that are always there: presence, mode, the alert count, the lifecycle."""
    node = topics.node
    mode: Component = {"p": "sensor", "name": "Huismodus", "uniq_id": f"{node}_mode",
                       "dev_cla": "enum", "ops": list(MODES), "stat_t": topics.state,
                       "val_tpl": "{{ value_json.mode }}", "ic": "mdi:home-clock"}
    if ha.mode_select:
        mode = {"p": "select", "name": "Huismodus", "uniq_id": f"{node}_mode", "ops": list(MODES),
                "stat_t": topics.state, "val_tpl": "{{ value_json.mode }}", "cmd_t": topics.mode,
                "cmd_tpl": '{"mode": "{{ value }}", "token": "' + sign(key, "mode") + '"}',
                "ic": "mdi:home-clock"}
    return {
        "presence": {"p": "sensor", "name": "Aanwezigheid", "uniq_id": f"{node}_presence",
                     "dev_cla": "enum", "ops": list(PRESENCES), "stat_t": topics.state,
                     "val_tpl": "{{ value_json.presence }}", "ic": "mdi:home-account"},
        "mode": mode,
        "alerts": {"p": "sensor", "name": "Actieve alarmen", "uniq_id": f"{node}_alerts",
                   "stat_t": topics.state, "val_tpl": "{{ value_json.alerts }}",
                   "stat_cla": "measurement", "ic": "mdi:bell-alert"},
        "alert_event": {"p": "event", "name": "Alarmverloop", "uniq_id": f"{node}_alert_event",
                        "evt_typ": EVENT_TYPES, "stat_t": topics.events, "ic": "mdi:bell-ring"},
    }


def alert_components(ha: HomeAssistant, topics: Topics, key: bytes, alert: Alert) -> dict[str, Component]:
    """One active alert: its state sensor and, with `acknowledge_as`, its button."""
    s, node = slug(alert.id), topics.node
    out: dict[str, Component] = {
        f"alert_{s}": {"p": "sensor", "name": f"Alarm {alert.scenario}", "uniq_id": f"{node}_alert_{s}",
                       "dev_cla": "enum", "ops": ALERT_STATES, "stat_t": topics.alert(s),
                       "val_tpl": "{{ value_json.state }}", "json_attr_t": topics.alert(s),
                       "json_attr_tpl": "{{ value_json.attributes | tojson }}", "ic": "mdi:alert"},
    }
    if ha.acknowledge_as is not None:
        press = {"alert": alert.id, "token": sign(key, f"ack:{alert.id}")}
        out[f"ack_{s}"] = {"p": "button", "name": f"Ik ga erheen ({alert.scenario})",
                           "uniq_id": f"{node}_ack_{s}", "cmd_t": topics.ack,
                           "pl_prs": json.dumps(press), "ic": "mdi:run-fast"}
    return out


def alert_state(alert: Alert) -> dict[str, object]:
    """An alert as Home Assistant sees it: no caregiver, no number, no cause chain."""
    def iso(t: object) -> object:
        return t.isoformat() if t is not None and hasattr(t, "isoformat") else None

    return {"state": alert.state, "attributes": {
        "id": alert.id, "scenario": alert.scenario, "severity": alert.severity,
        "message": alert.message, "raised_at": iso(alert.raised_at),
        "acknowledged": alert.acknowledged_at is not None,
        "acknowledged_at": iso(alert.acknowledged_at), "occurrence": alert.occurrence,
        "repeats": alert.repeats}}


def device_config(cfg: HomeConfig, topics: Topics, components: Mapping[str, Component],
                  removed: Mapping[str, str]) -> dict[str, object]:
    """The device-based discovery payload; `removed` components (id -> platform) are withdrawn
    the way Home Assistant asks: the component with its platform only."""
    cmps: dict[str, Component] = dict(components)
    cmps.update({cid: {"p": platform} for cid, platform in removed.items()})
    return {"dev": device_block(cfg, topics.node), "o": ORIGIN, "cmps": cmps,
            "avty_t": topics.status, "qos": 1}


def entity_config(cfg: HomeConfig, topics: Topics, component: Component) -> dict[str, object]:
    """One entity's config for Home Assistant before 2024.11 (`per_entity`)."""
    body = {k: v for k, v in component.items() if k != "p"}
    return {**body, "dev": device_block(cfg, topics.node), "o": ORIGIN, "avty_t": topics.status,
            "qos": 1}


def _components_of(saved: Mapping[str, object]) -> dict[str, str]:
    """Component id -> platform from a saved state file."""
    found = saved.get("components")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


# -- the running integration ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ack:
    alert_id: str


@dataclass(frozen=True, slots=True)
class _Mode:
    mode: str


class HaDiscovery:
    """Publishes the hub to Home Assistant and takes its acknowledgements and mode changes."""

    def __init__(self, *, hub: Hub, engine: Engine, alerts: AlertService, folder: Path) -> None:
        self.cfg = hub.config
        self.ha = self.cfg.homeassistant
        self.hub = hub
        self.engine = engine
        self.alerts = alerts
        self.topics = Topics(prefix=self.ha.prefix, node=self.ha.node_id,
                             status=getattr(getattr(hub.link, "settings", None), "status_topic",
                                            STATUS_TOPIC))
        self.key = load_key(folder / KEY_FILE)
        self.state_file = folder / STATE_FILE
        self._published: dict[str, str] = {}  # component id -> platform, as Home Assistant has it
        self._commands: asyncio.Queue[_Ack | _Mode] = asyncio.Queue()
        self.refused: list[str] = []  # why commands were refused, newest last (tests, health)
        self._unsubscribe: list[Callable[[], None]] = []

    def topic_filters(self) -> list[str]:
        """What the link must subscribe to."""
        return [self.topics.ha_status, self.topics.ack, self.topics.mode] if self.ha.discovery else []

    def start(self) -> None:
        """Withdraw what the configuration no longer has; publish the rest and follow changes."""
        previous = self._load_state()
        if not self.ha.discovery:
            self._withdraw_all(previous)
            return
        if previous and (previous.get("config") != self._config_key()):
            self._withdraw_all(previous)
            previous = {}
        self._published = _components_of(previous)
        for topic in self.topic_filters():
            self.hub.topic_handlers[topic] = self.on_message
        subscribe = getattr(self.hub.link, "subscribe", None)  # a MemoryLink hears nothing
        if subscribe is not None:
            subscribe(*self.topic_filters())
        self._unsubscribe = [self.hub.bus.subscribe(self._on_alert, ALERT_CHANGED),
                             self.hub.bus.subscribe(self._on_house, HOUSE_CHANGED)]
        self.publish_all()

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # -- publishing ---------------------------------------------------------------------------

    def _config_key(self) -> str:
        return f"{self.ha.prefix}/{self.ha.node_id}/{'entities' if self.ha.per_entity else 'device'}"

    def components(self) -> dict[str, Component]:
        out = hub_components(self.ha, self.topics, self.key)
        for alert in self._care_alerts():
            out.update(alert_components(self.ha, self.topics, self.key, alert))
        return out

    def _care_alerts(self) -> list[Alert]:
        return [a for a in self.alerts.active() if for_care(a)]

    def publish_all(self) -> None:
        """Discovery and every state (at start, and when Home Assistant comes online)."""
        self.publish_config()
        self.publish_state()
        for alert in self._care_alerts():
            self._send(self.topics.alert(slug(alert.id)), alert_state(alert), retain=True)

    def publish_config(self) -> None:
        """The discovery config: current components, and removals of those now gone."""
        comps = self.components()
        now = {cid: str(c["p"]) for cid, c in comps.items()}
        gone = {cid: p for cid, p in self._published.items() if cid not in now}
        if self.ha.per_entity:
            for cid, c in comps.items():
                self._send(self.topics.entity_config(str(c["p"]), cid), entity_config(self.cfg, self.topics, c),
                           retain=True)
            for cid, p in gone.items():
                self.hub.link.send(self.topics.entity_config(p, cid), b"", retain=True)
        else:
            self._send(self.topics.config, device_config(self.cfg, self.topics, comps, gone), retain=True)
        self._published = now
        self._save_state()

    def publish_state(self) -> None:
        self._send(self.topics.state, {"presence": self.engine.presence, "mode": self.engine.mode,
                                       "alerts": len(self._care_alerts())}, retain=True)

    def _send(self, topic: str, doc: Mapping[str, object], *, retain: bool = False) -> None:
        self.hub.link.send(topic, json.dumps(doc).encode(), retain=retain)

    def _withdraw_all(self, previous: Mapping[str, object]) -> None:
        """Remove what an earlier run published (the section was switched off or moved)."""
        key = str(previous.get("config") or "")
        if not key:
            return
        prefix, node, how = key.rsplit("/", 2)
        old = Topics(prefix=prefix, node=node)
        if how == "entities":
            for cid, p in _components_of(previous).items():
                self.hub.link.send(old.entity_config(p, cid), b"", retain=True)
        else:
            self.hub.link.send(old.config, b"", retain=True)
        self.hub.link.send(old.state, b"", retain=True)
        log.info("Home Assistant discovery: withdrew %s", key)
        self.state_file.unlink(missing_ok=True)

    def _load_state(self) -> dict[str, object]:
        with contextlib.suppress(FileNotFoundError, ValueError):
            doc = json.loads(self.state_file.read_text())
            if isinstance(doc, dict):
                return doc
        return {}

    def _save_state(self) -> None:
        self.state_file.write_text(json.dumps({"config": self._config_key(),
                                               "components": self._published}))

    # -- following the home -------------------------------------------------------------------

    def _on_house(self, event: Event[object]) -> None:
        self.publish_state()

    def _on_alert(self, event: Event[object]) -> None:
        data = event.data
        if not isinstance(data, Mapping) or data.get("scenario") == "test":
            return
        alert_id, action = str(data["id"]), str(data["action"])
        alert = next((a for a in self.alerts.active() if a.id == alert_id), None)
        if alert is not None and not for_care(alert):
            return
        s = slug(alert_id)
        if action == AlertAction.RAISED or (alert is not None and f"alert_{s}" not in self._published):
            self.publish_config()
        if alert is not None:
            self._send(self.topics.alert(s), alert_state(alert), retain=True)
        elif f"alert_{s}" in self._published:
            # Closed: its last state first, then the component goes and its state topic is cleared.
            self._send(self.topics.alert(s), {"state": str(data["state"]), "attributes": {}}, retain=True)
            self.publish_config()
            self.hub.link.send(self.topics.alert(s), b"", retain=True)
        self.publish_state()
        self._send(self.topics.events, {"event_type": action, "alert": alert_id,
                                        "scenario": data["scenario"], "severity": data["severity"],
                                        "state": data["state"]})

    # -- commands from Home Assistant ---------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> None:
        """Home Assistant's status and commands (called by the hub for our exact topics)."""
        if topic == self.topics.ha_status:
            if payload.strip() == b"online":
                log.info("Home Assistant is online: publishing discovery and states again")
                self.publish_all()
            return
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("token"), str):
            self._refuse(f"{topic}: not a signed command")
            return
        token = str(doc["token"])
        if topic == self.topics.ack:
            alert_id = str(doc.get("alert", ""))
            if self.ha.acknowledge_as is None:
                self._refuse("acknowledge: no acknowledge_as configured")
            elif not hmac.compare_digest(token, sign(self.key, f"ack:{alert_id}")):
                self._refuse(f"acknowledge {alert_id}: wrong token")
            else:
                self._commands.put_nowait(_Ack(alert_id))
        elif topic == self.topics.mode:
            mode = str(doc.get("mode", ""))
            if not self.ha.mode_select:
                self._refuse("mode: the house mode is read-only to Home Assistant")
            elif not hmac.compare_digest(token, sign(self.key, "mode")):
                self._refuse(f"mode {mode}: wrong token")
            elif mode not in MODES:
                self._refuse(f"mode {mode}: unknown")
            else:
                self._commands.put_nowait(_Mode(mode))

    def _refuse(self, reason: str) -> None:
        log.warning("Home Assistant command refused: %s", reason)
        self.refused.append(reason)
        del self.refused[:-50]

    async def run(self) -> None:
        """Publish once the engine has restored the house state, then carry out accepted
        commands until cancelled (a service under the hub's TaskGroup)."""
        await self.engine.ready.wait()
        await self.alerts.open()
        self.start()
        try:
            await self._serve()
        finally:
            self.stop()

    async def _serve(self) -> None:
        while True:
            command = await self._commands.get()
            if isinstance(command, _Ack):
                await self._acknowledge(command.alert_id)
            else:
                self.engine.set_mode(command.mode, Context(origin=f"user:{CHANNEL}",
                                                           description="house mode set in Home Assistant"))

    async def _acknowledge(self, alert_id: str) -> None:
        who = self.ha.acknowledge_as
        alert = next((a for a in self.alerts.active() if a.id == alert_id), None)
        if who is None or alert is None or not for_care(alert):
            self._refuse(f"acknowledge {alert_id}: not an active care alert")
            return
        outcome = await self.alerts.acknowledge(alert_id, by=who, channel=CHANNEL)
        if not outcome.ok:
            self._refuse(f"acknowledge {alert_id}: {outcome.reason}")
