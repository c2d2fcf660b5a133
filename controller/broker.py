"""The embedded MQTT broker `huis demo` starts when the config names no external one, and the
mosquitto bridge lines that link a home's broker to the centre (docs/central.md).

`demo_broker` runs the system's mosquitto as a child process when it is installed (about 2 MiB,
against the ~10 MiB and the Python time of routing every message through amqtt in the demo's
own process; docs/performance.md, "Memory"), and amqtt in process otherwise, so a fresh machine
needs nothing but Python. Both are closed like the shipped mosquitto: with `credentials` only
the home's accounts log in, each held to its ACL (mosquitto's generated password and ACL files;
for amqtt controller/broker_plugins.py). Both keep a persistent session's QoS 1 messages while
that client is away, in memory only: nothing is kept across a restart of the demo. amqtt has no
bridge: a home linked to a centre runs mosquitto with `bridge_config` (`huis uplink bridge-config`).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from controller.broker_auth import ACL_FILE, PASSWD_FILE, Credentials
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


Server = Literal["auto", "mosquitto", "amqtt"]


def mosquitto_binary() -> str | None:
    """The system's mosquitto, if installed (Debian puts it in /usr/sbin, often not on PATH)."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


@contextlib.asynccontextmanager
async def demo_broker(host: str, port: int, *, credentials: Credentials | None = None,
                      server: Server = "auto") -> AsyncIterator[tuple[str, int]]:
    """The demo's broker for the duration of the context: mosquitto when installed (or asked
    for), else amqtt in process (`embedded_broker`)."""
    binary = mosquitto_binary() if server != "amqtt" else None
    if server == "mosquitto" and binary is None:
        raise HuisError("embedded_broker.server is 'mosquitto', but mosquitto is not installed "
                        "(apt-get install mosquitto), or choose 'auto' or 'amqtt'.")
    if binary is None:
        async with embedded_broker(host, port, credentials=credentials) as where:
            yield where
        return
    async with mosquitto_broker(binary, host, port, credentials=credentials) as where:
        yield where


def mosquitto_conf(host: str, port: int, credentials: Credentials | None) -> str:
    """The demo's mosquitto: closed to all but `credentials`' accounts (their generated password
    and ACL files), no persistence, no Nagle; without credentials open (tests on loopback)."""
    lines = [f"listener {port} {host}", "persistence false", "set_tcp_nodelay true",
             "max_queued_messages 10000",
             # stderr: unbuffered, so "running" reaches us when it is said (stdout waits for exit).
             "log_dest stderr", "log_type error", "log_type warning", "log_type notice",
             "log_type information", "connection_messages false"]
    if os.geteuid() == 0:
        # Started as root, mosquitto would drop to its own user, who cannot read our 0600 files.
        lines.append(f"user {getpass.getuser()}")
    if credentials is None:
        lines.append("allow_anonymous true")
    else:
        lines += ["allow_anonymous false", f"password_file {credentials.folder / PASSWD_FILE}",
                  f"acl_file {credentials.folder / ACL_FILE}"]
    return "\n".join(lines) + "\n"


def _taken(host: str, port: int) -> OSError | None:
    """Why host:port cannot be listened on, if it cannot (mosquitto would only say so in its log)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def _die_with_parent() -> None:
    # Linux: mosquitto gets SIGTERM when the demo dies, however it dies (kill -9 included), so
    # a demo that crashed never leaves a broker holding its port.
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.asynccontextmanager
async def mosquitto_broker(binary: str, host: str, port: int, *,
                           credentials: Credentials | None = None) -> AsyncIterator[tuple[str, int]]:
    """mosquitto as a child process for the duration of the context (see `mosquitto_conf`)."""
    taken = _taken(host, port)
    if taken is not None:
        raise HuisError(f"The embedded MQTT broker cannot listen on {host}:{port} ({taken.strerror}). Stop "
                        "the program that uses it (another `huis demo`?), or set embedded_broker.port in "
                        "the configuration.")
    with tempfile.TemporaryDirectory(prefix="huis-mosquitto-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(mosquitto_conf(host, port, credentials), encoding="utf-8")
        proc = await asyncio.create_subprocess_exec(
            binary, "-c", str(conf), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent)
        try:
            assert proc.stderr is not None
            said = await _until_running(proc.stderr)
            if said is not None:
                raise HuisError(f"The embedded MQTT broker (mosquitto) cannot listen on {host}:{port}: "
                                f"{said}. Stop the program that uses it, or set embedded_broker.port "
                                "in the configuration.")
            log.info("embedded MQTT broker (mosquitto, pid %d) listening on %s:%d", proc.pid, host, port)
            # Owned by this context and awaited in its finally: mosquitto's later warnings go to our log.
            relay = asyncio.create_task(_relay(proc.stderr), name="mosquitto-log")
            try:
                yield host, port
            finally:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()


async def _until_running(out: asyncio.StreamReader) -> str | None:
    """Read mosquitto's log until it says it runs (None) or ends (the last thing it said)."""
    last = "it stopped at once"
    while line := (await out.readline()).decode(errors="replace").strip():
        if " running" in line:
            return None
        last = line.split(": ", 1)[-1]
    return last


async def _relay(out: asyncio.StreamReader) -> None:
    while line := (await out.readline()).decode(errors="replace").strip():
        said = line.split(": ", 1)[-1]
        log.log(logging.WARNING if said.startswith(("Error", "Warning")) else logging.INFO, "mosquitto: %s", said)


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
