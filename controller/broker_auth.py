"""Who may do what on the home's MQTT broker: accounts, their generated passwords, their ACLs.

The broker is closed: every client logs in, and each account may read and write only its own
topics (docs/broker.md). The accounts follow from the home's configuration:

- `huis-hub`: reads every device topic the hub subscribes to, writes commands (`<topic>/set`,
  `/say`) and its own `huis/` tree (status, announcements, alerts), reads nothing under
  `huis/alerts/`;
- `huis-simulators`: the simulated devices of `huis demo`: write device state (never `/set`),
  read their commands, and their own `huis/simulators/` tree;
- `zigbee2mqtt`, `espresense`: the bridges, each in its own tree;
- `device-<id>`: each device that speaks our own protocol (dispenser, speaker) writes only its
  own topics and reads only its own commands;
- `care-team`: reads the MQTT alert channel, `huis/alerts/#`; nobody else can;
- `homeassistant`: with `homeassistant.discovery` on, Home Assistant's own account: reads the
  discovery tree and the hub's Home Assistant states, and is the only one that may write the
  acknowledge and house-mode commands (docs/interop.md, "Trust model").

The hub also follows Zigbee2MQTT's device list and join events and may ask it to permit
joining (`zigbee2mqtt/bridge/request/permit_join`, technician onboarding, docs/interop.md).

Passwords are generated once (`secrets`), kept one per file with mode 0600 in the credentials
folder (`<storage folder>/mqtt/`), never in the YAML. For mosquitto the same folder gets
`mosquitto.passwd` (PBKDF2-SHA512 hashes in mosquitto's own `$7$` format) and `mosquitto.acl`;
the embedded broker of `huis demo` checks the same accounts in process (`allows`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from controller.config import HomeConfig
    from controller.hub import Hub

log = logging.getLogger(__name__)

HUB = "huis-hub"
SIMULATORS = "huis-simulators"
CARE_TEAM = "care-team"
HOMEASSISTANT = "homeassistant"
ZIGBEE2MQTT = "zigbee2mqtt"
ESPRESENSE = "espresense"
CENTRAL_BRIDGE = "huis-central-bridge"  # mosquitto's own bridge to the care centre (its local side)
PASSWD_FILE = "mosquitto.passwd"
ACL_FILE = "mosquitto.acl"
SECRET_SUFFIX = ".password"
BRIDGE_STATE = "zigbee2mqtt/bridge/state"
# Zigbee2MQTT onboarding (devices/z2m_bridge.py): what the bridge tells, and what the hub asks.
BRIDGE_TELLS = ("zigbee2mqtt/bridge/devices", "zigbee2mqtt/bridge/event", "zigbee2mqtt/bridge/response/permit_join")
BRIDGE_ASK = "zigbee2mqtt/bridge/request/permit_join"

# mosquitto_passwd's own parameters for `$7$` (PBKDF2-HMAC-SHA512): 101 rounds, 12-byte salt.
_PBKDF2_ROUNDS = 101
_SALT_BYTES = 12

Action = Literal["read", "write"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One broker login and the topic filters it may read and write."""

    username: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    purpose: str = ""

    def __post_init__(self) -> None:
        if not self.username or any(c in self.username for c in ":# \n"):
            raise ValueError(f"{self.username!r} cannot be a broker user name")


def topic_matches(flt: str, topic: str) -> bool:
    """MQTT filter matching with '+' and '#'."""
    f_parts, t_parts = flt.split("/"), topic.split("/")
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(f_parts) == len(t_parts)


def covers(allowed: str, requested: str) -> bool:
    """Whether every topic the filter `requested` matches is matched by `allowed` (a subscribe
    to `#` is not covered by `zigbee2mqtt/#`; `zigbee2mqtt/+` is)."""
    a_parts, r_parts = allowed.split("/"), requested.split("/")
    for i, part in enumerate(a_parts):
        if part == "#":
            return True
        if i >= len(r_parts):
            return False
        if r_parts[i] == "#" or (part != "+" and (r_parts[i] == "+" or part != r_parts[i])):
            return False
    return len(a_parts) == len(r_parts)


def allows(account: Account, action: Action | Literal["subscribe"], topic: str) -> bool:
    """Whether `account` may publish to, receive from, or subscribe to `topic`."""
    if action == "write":
        return any(topic_matches(f, topic) for f in account.write)
    if action == "read":
        return any(topic_matches(f, topic) for f in account.read)
    return any(covers(f, topic) for f in account.read)


def plan_accounts(hub: Hub) -> list[Account]:
    """The accounts a home needs, with their ACLs, from its hub's devices and subscriptions."""
    state: list[str] = []  # what devices write and the hub reads
    commands: list[str] = []  # what the hub writes and devices read
    own: dict[str, Account] = {}
    z2m = any(b.spec.topic.startswith("zigbee2mqtt/") for b in hub.devices.values())
    for dev_id, bound in hub.devices.items():
        topic = bound.spec.topic
        reads = tuple(bound.adapter.subscriptions(bound.spec))
        # Zigbee2MQTT's command topics; a speaker also has `say`.
        say = (f"{topic}/say",) if bound.kind == "speaker" else ()
        sets = (f"{topic}/set", f"{topic}/set/+", f"{topic}/get", *say)
        state.extend(reads)
        commands.extend(sets)
        if not topic.startswith(("zigbee2mqtt/", "espresense/")):
            own[dev_id] = Account(username=f"device-{dev_id}", read=sets, write=reads,
                                  purpose=f"the device {dev_id} (its own topics only)")
    bridge = (BRIDGE_STATE, *BRIDGE_TELLS) if z2m else ()
    asks = (BRIDGE_ASK,) if z2m else ()
    ha_read, ha_write, ha = _homeassistant(hub.config)
    uplink_read, uplink_write, bridge_account = _central(hub.config)
    accounts = [
        Account(username=HUB, read=(*hub.subscriptions(), *bridge[1:], *ha_read, *uplink_read),
                write=(*commands, *asks, "huis/status", "huis/announce", "huis/alerts/#", "huis/hub/#", *ha_write,
                       *uplink_write),
                purpose="the hub"),
        Account(username=SIMULATORS, read=(*commands, *asks, "huis/simulators/#"),
                write=(*state, *bridge, "espresense/rooms/+/status", "huis/simulators/#", "huis/simulate/status"),
                purpose="the simulated devices of `huis demo` and `huis simulate` (and their Zigbee2MQTT)"),
        Account(username=ZIGBEE2MQTT, read=("zigbee2mqtt/#",), write=("zigbee2mqtt/#",),
                purpose="Zigbee2MQTT, in its own tree"),
        Account(username=ESPRESENSE, read=("espresense/#",), write=("espresense/#",),
                purpose="ESPresense room receivers, in their own tree"),
        *own.values(),
        Account(username=CARE_TEAM, read=("huis/alerts/#",), purpose="the care team's MQTT alert channel"),
        *ha,
        *bridge_account,
    ]
    return [_unique(a) for a in accounts]


def _homeassistant(cfg: HomeConfig) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Account, ...]]:
    """The hub's extra reads and writes for Home Assistant discovery, and Home Assistant's
    account (only with discovery on); the lines `huis.ha_discovery.acl_lines()` prints.

    The hub may always write its own discovery config and states: switching discovery off
    removes the device from Home Assistant with empty retained messages on exactly those.
    """
    ha = cfg.homeassistant
    node, prefix = ha.node_id, ha.prefix
    config = (f"{prefix}/device/{node}/config", f"{prefix}/+/{node}/+/config")
    if not ha.discovery:
        return (), (f"huis/ha/{node}/#", *config), ()
    account = Account(username=HOMEASSISTANT,
                      read=(f"{prefix}/#", "huis/status", f"huis/ha/{node}/#"),
                      write=(f"{prefix}/status", f"huis/ha/{node}/ack/set", f"huis/ha/{node}/mode/set"),
                      purpose="Home Assistant (MQTT discovery; the only account that may press its buttons)")
    return ((f"huis/ha/{node}/#", f"{prefix}/status"), (f"huis/ha/{node}/#", *config), (account,))


def _central(cfg: HomeConfig) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Account, ...]]:
    """The uplink to the care centre (huis/uplink.py), only with `central:`: what the hub reads
    and writes, and mosquitto's bridge account. Only the hub writes what the bridge carries up
    and reads the centre's commands the bridge brings down, and the bridge's state."""
    if cfg.central is None:
        return (), (), ()
    bridge = Account(username=CENTRAL_BRIDGE, read=("huis/uplink/#",), write=("huis/downlink/#", "huis/central/bridge"),
                     purpose="mosquitto's bridge to the care centre (docs/central.md)")
    return ("huis/downlink/#", "huis/central/bridge"), ("huis/uplink/#",), (bridge,)


def _unique(a: Account) -> Account:
    return Account(username=a.username, read=tuple(dict.fromkeys(a.read)),
                   write=tuple(dict.fromkeys(a.write)), purpose=a.purpose)


# -- passwords ------------------------------------------------------------------------------------


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """`password` hashed as mosquitto_passwd does for mosquitto 2 (`$7$`, PBKDF2-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS)
    return f"$7${_PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def hash_matches(password: str, hashed: str) -> bool:
    """Whether `hashed` (mosquitto's `$7$` format) is the hash of `password`."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        rounds, salt, digest = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds), digest)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600 from the start, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def secret_path(folder: Path, username: str) -> Path:
    """Where `username`'s password lives."""
    return folder / f"{username}{SECRET_SUFFIX}"


def read_secret(folder: Path, username: str) -> str | None:
    """`username`'s generated password, or None when it was never generated."""
    path = secret_path(folder, username)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """The accounts of a home with their passwords, and which were generated just now."""

    folder: Path
    accounts: tuple[Account, ...]
    passwords: Mapping[str, str]
    created: tuple[str, ...]

    def password(self, username: str) -> str:
        return self.passwords[username]


def ensure_credentials(folder: Path, accounts: Sequence[Account], broker_folder: Path | None = None) -> Credentials:
    """Generate the passwords that do not exist yet (0600 files in `folder`); (re)write
    mosquitto's password and ACL files in `broker_folder` (default: `folder`) when they differ."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    passwords: dict[str, str] = {}
    created: list[str] = []
    for account in accounts:
        existing = read_secret(folder, account.username)
        if existing is None:
            existing = secrets.token_urlsafe(24)
            write_private(secret_path(folder, account.username), existing + "\n")
            created.append(account.username)
        passwords[account.username] = existing
    write_broker_files(broker_folder or folder, accounts, passwords)
    return Credentials(folder=folder, accounts=tuple(accounts), passwords=passwords, created=tuple(created))


def write_broker_files(folder: Path, accounts: Sequence[Account], passwords: Mapping[str, str]) -> bool:
    """mosquitto's `mosquitto.passwd` and `mosquitto.acl`; returns whether anything was written.

    Files that already say the same are left alone: in docker-compose the broker's container
    takes them over (owner mosquitto), and a second start must not need to write them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    passwd, acl = folder / PASSWD_FILE, folder / ACL_FILE
    acl_text = render_acl(accounts)
    try:
        same = _passwd_matches(passwd, passwords) and _reads(acl) == acl_text
    except PermissionError:
        # The broker took them over (docker-compose: its entrypoint hands /mosquitto to the
        # mosquitto user); they were written by an earlier start. docs/broker.md: rewriting.
        log.warning("%s: the broker's files are not ours to read any more; left as they are", folder)
        return False
    if same:
        return False
    write_private(passwd, "".join(f"{a.username}:{mosquitto_hash(passwords[a.username])}\n" for a in accounts))
    write_private(acl, acl_text)
    return True


def _reads(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _passwd_matches(path: Path, passwords: Mapping[str, str]) -> bool:
    text = _reads(path)
    if text is None:
        return False
    found = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return found.keys() == passwords.keys() and all(hash_matches(passwords[u], h) for u, h in found.items())


def render_acl(accounts: Iterable[Account]) -> str:
    """mosquitto's acl_file for `accounts` (nothing for anonymous clients: they get nothing)."""
    lines = ["# Generated by huis from the home's configuration (huis broker-credentials). Do not edit:",
             "# it is rewritten when the devices change. docs/broker.md explains each account.", ""]
    for a in accounts:
        lines.append(f"# {a.purpose}" if a.purpose else f"# {a.username}")
        lines.append(f"user {a.username}")
        both = [f for f in a.read if f in a.write]
        lines.extend(f"topic readwrite {f}" for f in both)
        lines.extend(f"topic read {f}" for f in a.read if f not in both)
        lines.extend(f"topic write {f}" for f in a.write if f not in both)
        lines.append("")
    return "\n".join(lines)


def credentials_folder(cfg: HomeConfig) -> Path:
    """Where a home's broker passwords live: `mqtt/` next to its database (var/mqtt/ in the demo)."""
    from controller.config import resolve

    return resolve(cfg, cfg.storage.path).parent / "mqtt"


def home_client_id(cfg: HomeConfig) -> str:
    """The hub's MQTT client id for this home: stable, so the broker keeps its session."""
    slug = "".join(c if c.isalnum() else "-" for c in cfg.home.name.lower()).strip("-")
    return f"{HUB}-{'-'.join(filter(None, slug.split('-')))[:40] or 'home'}"
