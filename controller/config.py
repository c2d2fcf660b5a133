"""The home's configuration (`config/home.yaml`): rooms, devices, resident, caregivers, broker.

Validated on load; every problem is reported at once as `file:line: key.path: message (hint)`.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from controller.device_kind import DeviceKind, DeviceSpec
from controller.durations import parse_duration
from controller.errors import ConfigError, Problem
from controller.mqtt import LinkSettings
from controller.yamlfile import Located, load_file, pydantic_problems, suggest


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Strict):
    latitude: float = Field(52.5168, ge=-90, le=90)
    longitude: float = Field(6.0830, ge=-180, le=180)
    timezone: str = "Europe/Amsterdam"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import available_timezones

        if v not in available_timezones():
            hint = suggest(v, available_timezones())
            raise ValueError(f"{v!r} is not a known time zone" + (f"; {hint}" if hint else ""))
        return v


class Home(_Strict):
    name: str = "Huis van de toekomst"
    location: Location = Location()
    language: Literal["nl", "en"] = "nl"


class Tls(_Strict):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


class Mqtt(_Strict):
    """An external broker. Without this section `huis demo` embeds one on loopback."""

    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    # Passwords never live in the YAML that gets shared and committed: name a file or env var.
    password_file: str | None = None
    password_env: str | None = None
    tls: Tls | None = None
    client_id: str = "huis-hub"
    keepalive: int = Field(30, ge=5, le=3600)

    def password(self) -> str | None:
        """The broker password from its file or environment variable, if configured."""
        import os

        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        if self.password_env:
            return os.environ.get(self.password_env)
        return None


class EmbeddedBroker(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(1884, ge=0, le=65535)
    # Which broker `huis demo` runs: the system's mosquitto when installed ("auto"), else amqtt
    # in the demo's own process (controller/broker.py).
    server: Literal["auto", "mosquitto", "amqtt"] = "auto"


class Dashboard(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # The address caregivers' phones reach the hub at (acknowledge links point here);
    # default: http://<host>:<port>.
    public_url: str | None = None
    # Cookies' Secure flag: null = when the request came over TLS (directly or, from a trusted
    # proxy, by X-Forwarded-Proto); true behind a TLS proxy that is not listed. docs/security.md.
    secure_cookies: bool | None = None
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed ([] = none).
    trusted_proxies: list[str] = Field(default_factory=list)
    # A dashboard session ends after this long without a request, and this long after login.
    session_idle: ConfigDuration = timedelta(hours=2)
    session_lifetime: ConfigDuration = timedelta(hours=12)

    def url(self) -> str:
        """The base URL of the dashboard as phones see it."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class Storage(_Strict):
    path: str = "var/huis.db"


class Room(_Strict):
    name: str
    name_en: str | None = None
    # Floor-plan rectangle in plan units: [x, y, width, height].
    area: tuple[float, float, float, float]


class Device(_Strict):
    kind: str
    model: str | None = None
    room: str | None = None
    name: str | None = None
    topic: str | None = None  # default: zigbee2mqtt/<id>, or the kind's own convention
    power: Literal["battery", "mains"] | None = None  # default: the kind's
    position: tuple[float, float] | None = None  # on the floor plan; default: room centre
    # Per-device settings a kind understands (e.g. a tag's stale timeout).
    options: dict[str, Any] = Field(default_factory=dict)


class Resident(_Strict):
    pseudonym: str  # never a real name: visitors see this
    rooms: list[str] = Field(default_factory=list)


class Caregiver(_Strict):
    name: str
    relation: str | None = None
    language: Literal["nl", "en"] = "nl"
    channels: list[dict[str, Any]] = Field(default_factory=list)


class Simulation(_Strict):
    """Settings for `huis demo`: how fast simulated time runs."""

    speed: float = Field(1.0, gt=0, le=3600)


# -- routine: what the hub learns of the resident's days (controller/routine.py) ----------------


def _config_duration(value: object) -> timedelta:
    return parse_duration(value)


def _config_time(value: object) -> time:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)  # YAML 1.1 reads an unquoted 07:30 as 450
    parts = str(value).strip().split(":")
    if len(parts) == 2 and all(p.isdigit() for p in parts) and int(parts[0]) < 24 and int(parts[1]) < 60:
        return time(int(parts[0]), int(parts[1]))
    raise ValueError(f"{value!r} is not a time of day (try '07:30')")


ConfigDuration = Annotated[timedelta, BeforeValidator(_config_duration)]
ConfigTime = Annotated[time, BeforeValidator(_config_time)]


class QuietBounds(_Strict):
    """How long a quiet gap may last in one part of the day: a fixed default until the routine is
    learned, and the bounds a learned limit is clipped to."""

    default: ConfigDuration
    min: ConfigDuration
    max: ConfigDuration

    @model_validator(mode="after")
    def _ordered(self) -> QuietBounds:
        if not self.min <= self.default <= self.max:
            raise ValueError("need min <= default <= max")
        return self


class PartsOfDay(_Strict):
    """Where each part of the day begins (local time); night runs to the next morning."""

    morning: ConfigTime = time(6)
    day: ConfigTime = time(12)
    evening: ConfigTime = time(18)
    night: ConfigTime = time(23)


class WakeBounds(_Strict):
    """Not up by: the usual wake time plus `margin`, clipped to [earliest, latest]."""

    default: ConfigTime = time(10)
    earliest: ConfigTime = time(7)
    latest: ConfigTime = time(12)
    margin: ConfigDuration = timedelta(hours=1, minutes=30)


_H = timedelta(hours=1)


class QuietParts(_Strict):
    """Quiet-gap bounds per part of the day; a part left out keeps its default."""

    morning: QuietBounds = QuietBounds(default=2 * _H, min=_H, max=4 * _H)
    day: QuietBounds = QuietBounds(default=3 * _H, min=1.5 * _H, max=5 * _H)
    evening: QuietBounds = QuietBounds(default=3 * _H, min=1.5 * _H, max=5 * _H)
    night: QuietBounds = QuietBounds(default=_H, min=0.5 * _H, max=3 * _H)

    def of(self, part: str) -> QuietBounds:
        """The bounds of 'morning', 'day', 'evening' or 'night'."""
        bounds: QuietBounds = getattr(self, part)
        return bounds


class RoutineConfig(_Strict):
    """What the hub learns from its history and the bounds a technician sets on it."""

    learn_days: int = Field(7, ge=1, le=60, description="days of history before learned limits apply")
    window_days: int = Field(28, ge=7, le=90, description="how far back the routine looks")
    percentile: float = Field(99, ge=50, le=100, description="of each day's longest quiet gap: the usual longest")
    margin: float = Field(1.25, ge=1, le=3, description="the limit is the usual longest quiet times this")
    recompute_at: ConfigTime = time(3, 30)
    parts: PartsOfDay = PartsOfDay()
    quiet: QuietParts = QuietParts()
    wake: WakeBounds = WakeBounds()
    night_margin: ConfigDuration = timedelta(minutes=30)


_ID = re.compile(r"^[a-z][a-z0-9_]*$")

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class PresenceSettings(_Strict):
    """How the hub infers whether the resident is home (`presence`; see docs/scenarios-shipped.md).

    Without this section presence only changes when someone sets it.
    """

    infer: bool = True
    # The outside doors (contact devices); default: every contact device.
    doors: list[str] | None = None
    # An outside door closed and then no motion inside and the bed empty for this long -> away.
    away_after: Duration = timedelta(minutes=20)
    # A presence set by hand (dashboard, API, a scenario's set_presence) holds this long; 0s:
    # until it is set by hand again.
    override_for: Duration = timedelta(hours=12)
    # The wander tag; default: the device of kind 'tag', if there is one.
    tag: str | None = None
    # The tag going out of reach this soon after an outside door opened means she went out.
    tag_window: Duration = timedelta(minutes=2)

    @field_validator("away_after", "tag_window")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("should be longer than 0s")
        return v


class HomeAssistant(_Strict):
    """Home Assistant MQTT discovery (huis/ha_discovery.py, docs/interop.md)."""

    discovery: bool = False  # off: a device published earlier is removed at start
    prefix: str = "homeassistant"  # Home Assistant's discovery prefix
    node_id: str = Field("huis", pattern=r"^[a-z][a-z0-9_]*$")
    per_entity: bool = False  # one config topic per entity, for Home Assistant before 2024.11
    acknowledge_as: str | None = None  # the caregiver a press of "Ik ga erheen" counts as
    mode_select: bool = False  # the house mode as a select Home Assistant may set (else a sensor)


_HOME_ID = r"^[A-Za-z0-9_-]{1,64}$"  # a NATS subject token (controller/uplink_wire.py)


class Central(_Strict):
    """The link to a care organisation's centre (huis/uplink.py, docs/central.md): without this
    section nothing leaves the home."""

    home_id: str = Field(pattern=_HOME_ID)
    pseudonym: str = Field(min_length=1)  # the only identity of the resident the centre gets
    # The centre's MQTT addresses, one per node of its cluster ('host:port'); the bridge fails over.
    addresses: list[str] = Field(min_length=1)
    username: str | None = None  # default: home-<home_id>
    password_file: str  # never the password itself: the YAML is shared and committed
    tls: Tls | None = None  # ca_file, and a client certificate (cert_file, key_file) if the centre asks
    # Off: no alert message texts or resolve notes leave the home, only neutral titles.
    share_details: bool = False
    key_file: str | None = None  # the HMAC key for the centre's commands; default central.key next to the database
    heartbeat: Duration = timedelta(seconds=60)

    @field_validator("addresses")
    @classmethod
    def _host_ports(cls, v: list[str]) -> list[str]:
        for address in v:
            host, sep, port = address.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not 'host:port' (e.g. 'centre1.zorg.example:8883')")
        return v

    @field_validator("heartbeat")
    @classmethod
    def _sensible_heartbeat(cls, v: timedelta) -> timedelta:
        if not timedelta(seconds=5) <= v <= timedelta(hours=1):
            raise ValueError("should be between 5s and 1h")
        return v

    def user(self) -> str:
        """The home's account at the centre."""
        return self.username or f"home-{self.home_id}"


class HomeConfig(_Strict):
    home: Home = Home()
    mqtt: Mqtt | None = None
    embedded_broker: EmbeddedBroker = EmbeddedBroker()
    dashboard: Dashboard = Dashboard()
    storage: Storage = Storage()
    simulation: Simulation = Simulation()
    floorplan: tuple[float, float] = (1000.0, 600.0)
    rooms: dict[str, Room] = Field(default_factory=dict)
    devices: dict[str, Device] = Field(default_factory=dict)
    resident: Resident
    caregivers: dict[str, Caregiver] = Field(default_factory=dict)
    scenarios: list[str] = Field(default_factory=lambda: ["../scenarios"])
    alerts: str | None = "alerts.yaml"  # escalation policies and channels, next to this file
    routine: RoutineConfig = RoutineConfig()
    presence: PresenceSettings | None = None
    homeassistant: HomeAssistant = HomeAssistant()
    central: Central | None = None

    def outside_doors(self) -> list[str]:
        """The outside doors presence and night exit watch (every contact device by default)."""
        if self.presence is not None and self.presence.doors is not None:
            return list(self.presence.doors)
        return [d for d, dev in self.devices.items() if dev.kind == "contact"]

    def wander_tag(self) -> str | None:
        """The wander tag presence listens to, if any."""
        if self.presence is not None and self.presence.tag is not None:
            return self.presence.tag
        return next((d for d, dev in self.devices.items() if dev.kind == "tag"), None)

    # Set by the loader: where the file was, so relative paths resolve against it.
    source: str = Field("<memory>", exclude=True)


def _field_names() -> dict[tuple[str | int, ...], list[str]]:
    """Valid keys at each schema position, for 'did you mean' hints."""
    return {
        (): list(HomeConfig.model_fields),
        ("home",): list(Home.model_fields),
        ("home", "location"): list(Location.model_fields),
        ("mqtt",): list(Mqtt.model_fields),
        ("mqtt", "tls"): list(Tls.model_fields),
        ("embedded_broker",): list(EmbeddedBroker.model_fields),
        ("dashboard",): list(Dashboard.model_fields),
        ("storage",): list(Storage.model_fields),
        ("simulation",): list(Simulation.model_fields),
        ("rooms", "*"): list(Room.model_fields),
        ("devices", "*"): list(Device.model_fields),
        ("resident",): list(Resident.model_fields),
        ("caregivers", "*"): list(Caregiver.model_fields),
        ("presence",): list(PresenceSettings.model_fields),
        ("central",): list(Central.model_fields),
        ("central", "tls"): list(Tls.model_fields),
    }


def _star_paths(fields: dict[tuple[str | int, ...], list[str]], data: object) -> dict[tuple[str | int, ...], list[str]]:
    # Map keys like devices.<id> to the '*' entries so hints work under user-chosen ids.
    out = dict(fields)
    if isinstance(data, dict):
        for section in ("rooms", "devices", "caregivers"):
            for key in data.get(section) or {}:
                if (section, "*") in fields:
                    out[(section, str(key))] = fields[(section, "*")]
    return out


def parse_home(doc: Located, kinds: Mapping[str, DeviceKind]) -> HomeConfig:
    """Validate parsed YAML as a home configuration whose devices are of `kinds`; raises
    ConfigError listing every problem."""
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the file should be a mapping of sections")])
    # Cross-references are checked on the raw data too, so one run reports schema mistakes and
    # dangling references together.
    problems = cross_check(doc, kinds)
    try:
        cfg = HomeConfig.model_validate({**doc.data, "source": doc.file})
    except ValidationError as exc:
        problems = pydantic_problems(doc, exc, fields=_star_paths(_field_names(), doc.data)) + problems
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0)) from exc
    if problems:
        raise ConfigError(problems)
    return cfg


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def cross_check(doc: Located, kinds: Mapping[str, DeviceKind]) -> list[Problem]:
    """References between sections (ids, rooms, device kinds and models), on the raw data."""
    data = _mapping(doc.data)
    rooms = _mapping(data.get("rooms"))
    problems: list[Problem] = []
    for section in ("rooms", "devices", "caregivers"):
        for key in _mapping(data.get(section)):
            if not isinstance(key, str) or not _ID.match(key):
                problems.append(doc.problem((section, str(key)), f"'{key}' is not a valid id",
                                            "use lower case letters, digits and '_', starting with a letter"))
    for dev_id, dev in _mapping(data.get("devices")).items():
        problems.extend(_device_problems(doc, ("devices", str(dev_id)), _mapping(dev), rooms, kinds))
    resident = _mapping(data.get("resident"))
    listed = resident.get("rooms") or []
    # A list is expected; anything else is pydantic's to report, not ours to crash on.
    for i, room in enumerate(listed if isinstance(listed, Iterable) else []):
        if isinstance(room, str) and room not in rooms:
            problems.append(doc.problem(("resident", "rooms", i), f"unknown room '{room}'",
                                        suggest(room, rooms)))
    problems.extend(_presence_problems(doc, _mapping(data.get("presence")),
                                       _mapping(data.get("devices"))))
    who = _mapping(data.get("homeassistant")).get("acknowledge_as")
    caregivers = _mapping(data.get("caregivers"))
    if who is not None and who not in caregivers:
        problems.append(doc.problem(("homeassistant", "acknowledge_as"), f"unknown caregiver '{who}'",
                                    suggest(str(who), caregivers)))
    return problems


def _presence_problems(doc: Located, presence: Mapping[str, object],
                       devices: Mapping[str, object]) -> list[Problem]:
    """presence.doors must be contact devices and presence.tag a tag."""
    problems: list[Problem] = []
    doors = presence.get("doors")
    wanted: list[tuple[tuple[str | int, ...], object, str]] = [
        (("presence", "doors", i), door, "contact")
        for i, door in enumerate(doors if isinstance(doors, list) else [])]
    if presence.get("tag") is not None:
        wanted.append((("presence", "tag"), presence.get("tag"), "tag"))
    for path, dev_id, kind in wanted:
        if not isinstance(dev_id, str):
            continue
        if dev_id not in devices:
            problems.append(doc.problem(path, f"unknown device '{dev_id}'", suggest(dev_id, devices)))
        elif _mapping(devices[dev_id]).get("kind") != kind:
            problems.append(doc.problem(path, f"'{dev_id}' is not a {kind} device",
                                        f"name a device of kind '{kind}'"))
    return problems


def _device_problems(doc: Located, path: tuple[str, str], dev: Mapping[str, object],
                     rooms: Mapping[str, object], kinds: Mapping[str, DeviceKind]) -> list[Problem]:
    """A device's kind, model and room, checked against the adapters and the rooms."""
    problems: list[Problem] = []
    kind, model, room = dev.get("kind"), dev.get("model"), dev.get("room")
    if isinstance(kind, str) and kind not in kinds:
        problems.append(doc.problem((*path, "kind"), f"unknown device kind '{kind}'",
                                    suggest(kind, kinds) or f"known kinds: {', '.join(sorted(kinds))}"))
    elif isinstance(kind, str) and isinstance(model, str) and model not in kinds[kind].models:
        supported = kinds[kind].models
        problems.append(doc.problem((*path, "model"), f"model '{model}' is not supported for kind '{kind}'",
                                    suggest(model, supported) or f"supported: {', '.join(supported)}"))
    if isinstance(room, str) and room not in rooms:
        problems.append(doc.problem((*path, "room"), f"unknown room '{room}'",
                                    suggest(room, rooms) or f"rooms: {', '.join(rooms)}"))
    if isinstance(kind, str) and kind in kinds and isinstance(dev.get("options"), dict):
        problems.extend(_option_problems(doc, path, dev, kinds[kind]))
    return problems


def _option_problems(doc: Located, path: tuple[str, str], dev: Mapping[str, object],
                     adapter: DeviceKind) -> list[Problem]:
    """Options the hub reads at start-up (`offline_after`) or hands to the adapter, which
    refuses bad ones (ValueError) when the hub builds its routes: found here, not at run time."""
    options = dev.get("options")
    assert isinstance(options, dict)  # checked by the caller
    problems: list[Problem] = []
    if "offline_after" in options:
        try:
            parse_duration(options["offline_after"])
        except ValueError as exc:
            problems.append(doc.problem((*path, "options", "offline_after"), str(exc)))
    model = dev.get("model")
    spec = DeviceSpec(id=path[1], topic=f"zigbee2mqtt/{path[1]}",
                      model=model if isinstance(model, str) else None, options=dict(options))
    try:
        adapter.subscriptions(spec)
    except ValueError as exc:
        problems.append(doc.problem((*path, "options"), str(exc).removeprefix(f"{path[1]}: ")))
    return problems


def load_home(path: str | Path, kinds: Mapping[str, DeviceKind]) -> HomeConfig:
    """Load and validate a home configuration file whose devices are of `kinds`.

    The files it names are not looked at (the simulators need none of them): `read_home` and
    `huis check` do that, and `huis run` checks before it starts.
    """
    return parse_home(load_file(path), kinds)


# -- the files a configuration names (issue 14: `huis check` finds what `huis run` would hit) -----


def read_home(path: str | Path, kinds: Mapping[str, DeviceKind]) -> tuple[HomeConfig, list[Problem]]:
    """A valid configuration and the problems with the files it names (missing, folders...).

    Raises ConfigError when the configuration itself is invalid.
    """
    doc = load_file(path)
    cfg = parse_home(doc, kinds)
    return cfg, referenced_file_problems(doc, cfg)


def referenced_file_problems(doc: Located, cfg: HomeConfig) -> list[Problem]:
    """Every file or folder `cfg` names that is missing or of the wrong kind, located in `doc`."""
    problems: list[Problem] = []
    wanted: list[tuple[tuple[str | int, ...], str | None]] = []
    if cfg.mqtt is not None:
        wanted.append((("mqtt", "password_file"), cfg.mqtt.password_file))
        tls = cfg.mqtt.tls
        if tls is not None:
            wanted.extend((("mqtt", "tls", k), getattr(tls, k))
                           for k in ("ca_file", "cert_file", "key_file"))
    if cfg.central is not None:
        wanted.append((("central", "password_file"), cfg.central.password_file))
        if cfg.central.tls is not None:
            wanted.extend((("central", "tls", k), getattr(cfg.central.tls, k))
                          for k in ("ca_file", "cert_file", "key_file"))
    if cfg.alerts is None:
        problems.append(doc.problem(("alerts",), "the hub needs an alerts file (who is called, how, "
                                    "when): name one", "e.g. 'alerts: alerts.yaml'"))
    wanted.append((("alerts",), cfg.alerts))
    for key, name in wanted:
        if name is not None:
            problems.extend(_file_problem(doc, cfg, key, name))
    if resolve(cfg, cfg.storage.path).is_dir():
        problems.append(doc.problem(("storage", "path"), f"{cfg.storage.path!r} is a folder; "
                                    "name the database file", "e.g. 'var/huis.db'"))
    for i, folder in enumerate(cfg.scenarios):
        problems.extend(_scenario_path_problems(doc, cfg, ("scenarios", i), folder))
    return problems


def _file_problem(doc: Located, cfg: HomeConfig, key: tuple[str | int, ...], name: str) -> list[Problem]:
    p = resolve(cfg, name)
    if p.is_dir():
        return [doc.problem(key, f"{name!r} is a folder where a file belongs ({p})")]
    if not p.is_file():
        return [doc.problem(key, f"{name!r} does not exist ({p})")]
    return []


def _scenario_path_problems(doc: Located, cfg: HomeConfig, key: tuple[str | int, ...],
                            name: str) -> list[Problem]:
    """A scenario folder or file must exist, and every `*.yaml` in a folder must be a file."""
    p = resolve(cfg, name)
    if not p.exists():
        return [doc.problem(key, f"scenario folder {name!r} does not exist ({p})",
                            suggest(p.name, [c.name for c in p.parent.glob("*")] if p.parent.is_dir() else []))]
    if not p.is_dir():
        return [] if p.is_file() else [doc.problem(key, f"{name!r} is neither a folder nor a file")]
    return [doc.problem(key, f"{entry.name!r} in {name!r} is a folder where a scenario file belongs")
            for entry in sorted(p.iterdir())
            if entry.suffix in (".yaml", ".yml") and not entry.name.startswith("_") and not entry.is_file()]



def resolve(cfg: HomeConfig, relative: str) -> Path:
    """A path from the config, resolved against the config file's folder."""
    p = Path(relative)
    return p if p.is_absolute() else (Path(cfg.source).parent / p).resolve()


def device_topic(dev_id: str, dev: Device) -> str:
    """The base MQTT topic of a device."""
    if dev.topic:
        return dev.topic
    if dev.kind == "tag":
        return f"espresense/devices/{dev_id}"
    if dev.kind == "dispenser":
        return f"huis/dispenser/{dev_id}"
    if dev.kind == "speaker":
        return f"huis/speaker/{dev_id}"
    return f"zigbee2mqtt/{dev_id}"


def link_settings(cfg: HomeConfig, mqtt: Mqtt) -> LinkSettings:
    """LinkSettings for a configured broker, with TLS files resolved against the config."""
    tls = None
    if mqtt.tls is not None:
        t = mqtt.tls
        tls = ssl.create_default_context(cafile=str(resolve(cfg, t.ca_file)) if t.ca_file else None)
        if t.cert_file:
            tls.load_cert_chain(str(resolve(cfg, t.cert_file)),
                                str(resolve(cfg, t.key_file)) if t.key_file else None)
        if t.insecure:
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    password = (resolve(cfg, mqtt.password_file).read_text(encoding="utf-8").strip()
                if mqtt.password_file else mqtt.password())
    return LinkSettings(host=mqtt.host, port=mqtt.port, username=mqtt.username,
                        password=password, client_id=mqtt.client_id,
                        keepalive=mqtt.keepalive, tls=tls)
