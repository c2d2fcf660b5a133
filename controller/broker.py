"""The embedded MQTT broker `huis demo` starts when the config names no external one, and the
mosquitto bridge lines that link a home's broker to the centre (docs/central.md).

Closed like the shipped mosquitto: with `credentials` only the home's accounts log in, each
held to its ACL (controller/broker_plugins.py). It keeps a persistent session's QoS 1 messages
while that client is away (amqtt does so for logged-in clients); it lives in the demo's own
process, so it has nothing to keep across a restart of the demo. amqtt has no bridge: a home
linked to a centre runs mosquitto with `bridge_config` (`huis uplink bridge-config`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from controller.broker_auth import Credentials
from controller.errors import HuisError
from controller.uplink_wire import LOCAL_DOWN, LOCAL_UP, check_home_id, remote_down_prefix, remote_up_prefix

log = logging.getLogger(__name__)


class _Snapshots(dict[str, list[tuple[object, int]]]):
    """amqtt 0.12 walks its subscriptions across awaits (broadcasting a message, sending retained
    ones to a client that connects) while other clients subscribe; the walk then dies with
    "dictionary changed size during iteration", the message is lost and an unretrieved task
    error ends up in the log (tests/integration/test_demo.py under load). Walk a snapshot."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().__iter__()))

    def items(self) -> list[tuple[str, list[tuple[object, int]]]]:  # type: ignore[override]
        return list(super().items())


@contextlib.asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 1884, *,
                          credentials: Credentials | None = None) -> AsyncIterator[tuple[str, int]]:
    """Run an in-process amqtt broker for the duration of the context: closed to all but the
    accounts in `credentials`; without them open to anyone (tests on loopback only)."""
    from amqtt.broker import Broker

    plugins: dict[str, dict[str, object]]
    if credentials is None:
        plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    else:
        # The ACL check is one more await inside amqtt's subscription walk: see _Snapshots.
        plugins = {
            "controller.broker_plugins.AccountLogin": {"passwords": dict(credentials.passwords)},
            "controller.broker_plugins.AccountAcl": {"accounts": {a.username: a for a in credentials.accounts}},
        }
    config = {"listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}}, "plugins": plugins}
    broker = Broker(config)
    broker._subscriptions = _Snapshots()  # see _Snapshots
    # amqtt logs a failed start with a traceback of its own; we say it once, in plain words.
    amqtt_log = logging.getLogger("amqtt.broker")
    level = amqtt_log.level
    amqtt_log.setLevel(logging.CRITICAL)
    try:
        await broker.start()
    except Exception as exc:  # amqtt reports a taken port as its own BrokerError
        raise HuisError(f"The embedded MQTT broker cannot listen on {host}:{port} ({exc}). Stop the "
                        "program that uses it (another `huis demo`?), or set embedded_broker.port "
                        "in the configuration.") from exc
    finally:
        amqtt_log.setLevel(level)
    log.info("embedded MQTT broker listening on %s:%d", host, port)
    try:
        yield host, port
    finally:
        await broker.shutdown()


# -- the bridge to the centre (docs/central.md, "The wire format") --------------------------------

# Where the bridge tells the hub, on the home's broker only, whether the link to the centre is up
# ("1") or down ("0"). Not under huis/uplink/ (that would be forwarded to the centre) and never
# remote: NATS refuses the default `$SYS/broker/connection/...` publish.
BRIDGE_STATE_TOPIC = "huis/central/bridge"


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeSettings:
    """What a home's mosquitto needs to bridge to the centre (from the `central:` section)."""

    home_id: str
    addresses: tuple[str, ...]  # 'host:port', one per node of the centre's cluster
    username: str
    password: str
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False
    tls: bool = False  # TLS to the centre; without a ca_file the system's trusted CAs
    # The bridge's local side is held to the home broker's ACL like any client: this account
    # (controller/broker_auth.py, CENTRAL_BRIDGE) may read huis/uplink/# and write huis/downlink/#.
    local_username: str | None = None
    local_password: str | None = None
    keepalive: int = 30  # seconds: a dead node is noticed within about 1.5 times this

    def __post_init__(self) -> None:
        check_home_id(self.home_id)
        if not self.addresses:
            raise ValueError("the bridge needs at least one address of the centre")
        if any(c in self.password + (self.local_password or "") for c in "\n\r ") or not self.password:
            raise ValueError("the centre's password is empty, spans lines or has a space")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")


def bridge_config(s: BridgeSettings) -> str:
    """mosquitto's lines for the bridge of one home to the centre (a `conf.d` file of its own).

    It holds the centre's password: write it readable by mosquitto only (0600).
    """
    up, down = remote_up_prefix(s.home_id), remote_down_prefix(s.home_id)
    lines = [
        "# The link to the care centre (docs/central.md). Generated by `huis uplink bridge-config`:",
        "# it holds the home's password at the centre, so keep this file 0600.",
        f"connection huis-central-{s.home_id}",
        f"address {' '.join(s.addresses)}",
        # Every node is as good as the next: stay on one until it fails, then try the next.
        "round_robin true",
        f"remote_clientid huis-{s.home_id}",
        f"local_clientid huis-{s.home_id}-bridge",
        *([f"local_username {s.local_username}"] if s.local_username else []),
        *([f"local_password {s.local_password}"] if s.local_password else []),
        f"remote_username {s.username}",
        f"remote_password {s.password}",
        # NATS's MQTT refuses mosquitto's private bridge flag; it speaks MQTT 3.1.1 with QoS 0 and 1.
        "try_private false",
        "bridge_protocol_version mqttv311",
        # The centre keeps the bridge's session (commands queued for the home while it is away),
        # and the home's mosquitto keeps what is queued for the centre, across a restart of either
        # (with `persistence true` in the main config).
        "cleansession false",
        "local_cleansession false",
        "start_type automatic",
        "restart_timeout 2 30",
        f"keepalive_interval {s.keepalive}",
        "bridge_outgoing_retain false",
        # The home's account may not subscribe to its own upward topics: do not ask.
        "bridge_attempt_unsubscribe false",
        "notifications true",
        "notifications_local_only true",
        f"notification_topic {BRIDGE_STATE_TOPIC}",
        f"topic # out 1 {LOCAL_UP} {up}",
        f"topic # in 1 {LOCAL_DOWN} {down}",
    ]
    if s.tls or s.ca_file is not None:
        lines.append(f"bridge_cafile {s.ca_file}" if s.ca_file is not None else "bridge_capath /etc/ssl/certs")
        if s.cert_file is not None and s.key_file is not None:
            lines += [f"bridge_certfile {s.cert_file}", f"bridge_keyfile {s.key_file}"]
        if s.insecure:
            lines.append("bridge_insecure true")
    return "\n".join(lines) + "\n"
