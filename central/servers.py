"""The centre's real servers on loopback, for development, tests and benchmarks.

A care organisation runs its NATS cluster and PostgreSQL as ordinary services (docs/central.md).
On a developer's machine, in `make test` and in `bench/central.py` the same programs are started
here, each in a folder of its own: a 3-node NATS JetStream cluster that also speaks MQTT 3.1.1
(Debian `nats-server`), and a PostgreSQL cluster made with `initdb` (Debian `postgresql-15`).
Nothing here is a stand-in: the test kills a real node and restarts a real database.

Accounts: one NATS account `CARE` holds the homes (MQTT users, each allowed to publish under
`homes.<id>.up` and to receive under `homes.<id>.down` only) and the centre (all of `homes.>`
and the JetStream API). The system account is separate. Passwords are random, written into the
cluster's own 0600 config files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors

NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"
CLUSTER_NAME = "huis-centre"
CENTRE_USER = "centre"


class ServerError(RuntimeError):
    """A server did not start, with what it printed."""


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def home_permissions(home_id: str) -> dict[str, object]:
    """What one home's MQTT user may do: publish its own upward topics, receive its own downward
    ones. (An MQTT filter `homes/<id>/down/#` is the NATS subjects `homes.<id>.down` and
    `homes.<id>.down.>`, so both are allowed.) A QoS 1 subscription is delivered by a JetStream
    consumer to a random `$MQTT.sub.<nuid>` subject the client must be allowed to subscribe to;
    without it NATS refuses the subscription ("subscribe permission violation") and the home
    never gets a command. The nuid is unguessable and the consumer's filter is the home's own.
    (nats-server 2.12 allows it implicitly, nats-server#7637.) Homes log in over MQTT only
    (`_users`): NATS's own protocol could subscribe `$MQTT.sub.>` directly."""
    return {"publish": [f"homes.{home_id}.up.>"],
            "subscribe": [f"homes.{home_id}.down", f"homes.{home_id}.down.>", "$MQTT.sub.>"]}


@dataclass
class NatsNode:
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    http_port: int
    conf: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class NatsCluster:
    """`size` nats-server processes with JetStream and MQTT, clustered on loopback."""

    folder: Path
    homes: dict[str, str] = field(default_factory=dict)  # home id -> MQTT password
    size: int = 3
    centre_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nodes: list[NatsNode] = field(default_factory=list)

    def add_home(self, home_id: str) -> str:
        """A home account (call before `start`, or `reload` after); returns its password."""
        if not home_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"home id {home_id!r}: letters, digits, '-' and '_' only (it is a NATS subject token)")
        self.homes.setdefault(home_id, secrets.token_urlsafe(24))
        return self.homes[home_id]

    # -- addresses ------------------------------------------------------------------------------

    @property
    def nats_urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{n.client_port}" for n in self.nodes]

    @property
    def mqtt_addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.mqtt_port) for n in self.nodes]

    # -- configuration --------------------------------------------------------------------------

    def _users(self) -> list[dict[str, object]]:
        users: list[dict[str, object]] = [{"user": CENTRE_USER, "password": self.centre_password}]
        for home_id, password in sorted(self.homes.items()):
            users.append({"user": f"home-{home_id}", "password": password,
                          "permissions": home_permissions(home_id), "allowed_connection_types": ["MQTT"]})
        return users

    def _config(self, node: NatsNode) -> str:
        routes = [f"nats-route://127.0.0.1:{n.cluster_port}" for n in self.nodes]
        doc = {
            "server_name": node.name,
            "listen": f"127.0.0.1:{node.client_port}",
            "http": f"127.0.0.1:{node.http_port}",
            "jetstream": {"store_dir": str(self.folder / node.name / "jetstream")},
            "cluster": {"name": CLUSTER_NAME, "listen": f"127.0.0.1:{node.cluster_port}", "routes": routes},
            "mqtt": {"listen": f"127.0.0.1:{node.mqtt_port}", "stream_replicas": min(3, self.size)},
            "accounts": {
                "CARE": {"jetstream": "enabled", "users": self._users()},
                "SYS": {"users": [{"user": "sys", "password": secrets.token_urlsafe(24)}]},
            },
            "system_account": "SYS",
        }
        # nats-server's config format accepts JSON.
        return json.dumps(doc, indent=2)

    def _write(self, node: NatsNode) -> None:
        node.conf.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(node.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self._config(node))

    # -- life -----------------------------------------------------------------------------------

    def start(self) -> None:
        if not Path(NATS_SERVER).exists():
            raise ServerError("nats-server is not installed (Debian: apt-get install nats-server; .ci/run does it)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.nodes = [NatsNode(name=f"n{i + 1}", client_port=free_port(), cluster_port=free_port(),
                               mqtt_port=free_port(), http_port=free_port(),
                               conf=self.folder / f"n{i + 1}" / "nats.conf",
                               log=self.folder / f"n{i + 1}" / "nats.log")
                      for i in range(self.size)]
        for node in self.nodes:
            self._write(node)
            self._launch(node)

    def _launch(self, node: NatsNode) -> None:
        with node.log.open("ab") as out:
            node.proc = subprocess.Popen([NATS_SERVER, "-c", str(node.conf)], stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def healthy(self, node: NatsNode) -> bool:
        """The node's own health check, JetStream included (its monitoring port)."""
        if not node.running:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except urllib.error.HTTPError as exc:
            # nats-server 2.9: after a node was killed and restarted, the MQTT layer's own
            # retained-message consumer of a server (`$MQTT_rmsgs_<server>`) may stay "not
            # current" for good, and /healthz with it; the streams and our consumers are fine.
            try:
                error = str(json.loads(exc.read()).get("error", ""))  # Go writes '>' as \u003e
            except ValueError:
                return False
            return error.endswith("is not current") and "> $MQTT_rmsgs >" in error
        except OSError:
            return False

    async def wait_ready(self, within: float = 60) -> None:
        """Every running node healthy (JetStream meta leader elected, streams current)."""
        deadline = time.monotonic() + within
        while True:
            running = [n for n in self.nodes if n.proc is not None]
            states = await asyncio.gather(*(asyncio.to_thread(self.healthy, n) for n in running))
            if all(states):
                return
            for n in running:
                if not n.running:
                    raise ServerError(f"nats-server {n.name} exited:\n{_tail(n.log)}")
            if time.monotonic() > deadline:
                bad = [n for n, ok in zip(running, states, strict=True) if not ok]
                raise ServerError(f"NATS cluster not healthy within {within:.0f} s:\n"
                                  + "\n".join(f"--- {n.name}\n{_tail(n.log)}" for n in bad))
            await asyncio.sleep(0.25)

    async def leader_of(self, stream: str, within: float = 30) -> int:
        """The node leading `stream` (its index), from the JetStream API
        (`$JS.API.STREAM.INFO.<stream>`, its `cluster.leader`); waits while one is elected."""
        names = [n.name for n in self.nodes]
        deadline = time.monotonic() + within
        nc = await nats.connect(self.nats_urls, user=CENTRE_USER, password=self.centre_password, connect_timeout=5)
        try:
            while True:
                with contextlib.suppress(nats.errors.Error, TimeoutError):
                    info = await nc.jetstream(timeout=5).stream_info(stream)
                    if info.cluster is not None and info.cluster.leader in names:
                        return names.index(info.cluster.leader)
                if time.monotonic() > deadline:
                    raise ServerError(f"no leader of {stream} within {within:.0f} s")
                await asyncio.sleep(0.25)
        finally:
            await nc.close()

    async def wait_mqtt_ready(self, within: float = 120) -> None:
        """Every running node takes an MQTT login, and NATS's MQTT streams have leaders.

        The first MQTT connection to an account makes its streams (`$MQTT_sess`, `$MQTT_msgs`,
        ...) through the JetStream API, within a few seconds NATS does not let us change; on a
        loaded machine just after start-up that can time out and the CONNACK says "server
        unavailable". Tried here until it works, so a test's own clients find them made."""
        deadline = time.monotonic() + within
        for node in self.nodes:
            while node.running:
                if await _mqtt_login(node.mqtt_port, CENTRE_USER, self.centre_password) == 0:
                    break
                if time.monotonic() > deadline:
                    raise ServerError(f"{node.name}'s MQTT refused logins for {within:.0f} s:\n{_tail(node.log)}")
                await asyncio.sleep(0.25)
        for stream in ("$MQTT_sess", "$MQTT_msgs"):
            await self.leader_of(stream, within=max(1.0, deadline - time.monotonic()))

    def kill(self, index: int) -> None:
        """SIGKILL one node, as a power cut would."""
        node = self.nodes[index]
        if node.proc is not None and node.proc.poll() is None:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(10)

    def restart(self, index: int) -> None:
        """Start a killed or stopped node again with its own folder (its JetStream data)."""
        node = self.nodes[index]
        if node.running:
            raise ServerError(f"{node.name} is still running")
        self._launch(node)

    def reload(self) -> None:
        """Write the configs again (new homes) and have every running node re-read them."""
        for node in self.nodes:
            self._write(node)
            if node.proc is not None and node.running:
                node.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                os.killpg(node.proc.pid, signal.SIGTERM)
                try:
                    node.proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(node.proc.pid, signal.SIGKILL)
                    node.proc.wait(10)


async def _mqtt_login(port: int, user: str, password: str) -> int | None:
    """One MQTT 3.1.1 CONNECT (clean session) on loopback: the CONNACK's return code (0:
    accepted), or None when no CONNACK came within 10 s."""

    def field(b: bytes) -> bytes:
        return len(b).to_bytes(2, "big") + b

    body = (field(b"MQTT") + bytes([4, 0b11000010]) + (10).to_bytes(2, "big")  # user, password, clean
            + field(f"huis-ready-{secrets.token_hex(4)}".encode()) + field(user.encode()) + field(password.encode()))
    length, n = b"", len(body)
    while True:
        n, digit = divmod(n, 128)
        length += bytes([digit | (128 if n else 0)])
        if not n:
            break
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"\x10" + length + body)
                await writer.drain()
                connack = await reader.readexactly(4)
                writer.write(b"\xe0\x00")  # DISCONNECT
                await writer.drain()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    return connack[3] if connack[0] == 0x20 else None


# -- PostgreSQL -----------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    exe = shutil.which(name)
    if exe is None:
        raise ServerError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql-15; "
                          ".ci/run does it)")
    return exe


@dataclass
class Postgres:
    """A PostgreSQL cluster of its own: initdb into a fresh folder, one server on a loopback port.

    PostgreSQL refuses to run as root, so when the process is root the cluster belongs to the
    `postgres` user (Debian's package creates it) in a folder under the system's temp folder
    (a pytest tmp_path is private to root). `stop()` removes that folder.
    """

    database: str = "huis_central"
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="huis-pg-")))
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user: str = "huis_central"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    @property
    def dsn(self) -> str:
        return (f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"
                "?connect_timeout=5")

    @property
    def _superuser(self) -> str:
        """The cluster's superuser: the OS user it runs as, so the unix socket's peer check admits it."""
        return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def _owner(self) -> dict[str, Any]:
        """Popen arguments that run a program as the cluster's owner (no wrapper process, so a
        signal to the process reaches postgres itself)."""
        if os.geteuid() != 0:
            return {}
        user = pwd.getpwnam("postgres")
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
                "env": {**os.environ, "HOME": user.pw_dir}, "cwd": str(self.folder)}

    def _give_to_owner(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, *argv: str, stdin: str | None = None) -> None:
        done = subprocess.run(list(argv), **self._owner(), input=stdin, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerError(f"{' '.join(argv[:2])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """initdb (once), then the server; the database and its user with a password."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._give_to_owner(self.folder)
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            pwfile = self.folder / "superuser.pw"
            pwfile.write_text(secrets.token_urlsafe(24) + "\n")
            os.chmod(pwfile, 0o600)
            self._give_to_owner(pwfile)
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", self._superuser,
                      "--auth-local=peer", "--auth-host=scram-sha-256",
                      "--pwfile", str(pwfile), "-E", "UTF8", "--locale=C.UTF-8")
            pwfile.unlink()
        self._launch()
        self.wait_ready()
        if fresh:
            self._sql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
            self._sql(f"CREATE DATABASE {self.database} OWNER {self.user}")

    def _launch(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [_pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **self._owner())

    def _sql(self, sql: str) -> None:
        # Local peer connection over the folder's unix socket, as the cluster's owner.
        self._run(_pg_bin("psql"), "-h", str(self.folder), "-p", str(self.port), "-U", self._superuser,
                  "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql)

    def wait_ready(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(f"postgres exited:\n{_tail(self.log)}")
            done = subprocess.run([_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                                  capture_output=True, check=False)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ServerError(f"postgres not ready within {within:.0f} s:\n{_tail(self.log)}")
            time.sleep(0.1)

    def restart(self, *, kill: bool = False) -> None:
        """Stop (SIGKILL when `kill`, else a fast shutdown) and start again on the same port."""
        self._halt(signal.SIGKILL if kill else signal.SIGINT)
        self.resume()

    def kill(self) -> None:
        """SIGKILL the server, as a power cut would; `resume` starts it again."""
        self._halt(signal.SIGKILL)

    def resume(self) -> None:
        """Start a killed server again on the same port and data (crash recovery)."""
        self._launch()
        self.wait_ready()

    def _halt(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def stop(self) -> None:
        self._halt(signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)


# -- started for a test or a benchmark ------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_cluster(folder: Path, homes: Iterable[str] = ()) -> AsyncIterator[NatsCluster]:
    """A 3-node cluster in `folder` with these homes' accounts, started, healthy and taking MQTT
    logins; stopped after."""
    homes = list(homes)
    for attempt in range(3):
        cluster = NatsCluster(folder / f"try{attempt}" if attempt else folder)
        for home_id in homes:
            cluster.add_home(home_id)
        cluster.start()
        try:
            await cluster.wait_ready()
            break
        except ServerError as exc:
            cluster.stop()
            # A free port taken by another process before the node bound it: new ports.
            if "address already in use" not in str(exc) or attempt == 2:
                raise
        except BaseException:
            cluster.stop()
            raise
    try:
        await cluster.wait_mqtt_ready()
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL, started; stopped and removed after."""
    pg = Postgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


def write_centre_config(folder: Path, cluster: NatsCluster, postgres: Postgres, *, teams: Mapping[str, str],
                        homes: Mapping[str, str], dashboard: Mapping[str, object] | None = None) -> Path:
    """config/central.yaml for this cluster and database (team id -> name, home id -> team), the
    secrets in 0600 files beside it, the homes' keys in `homes/` (`huis central add-home`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, secret in (("nats.pw", cluster.centre_password), ("pg.dsn", postgres.dsn)):
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret + "\n")
    doc: dict[str, object] = {
        "nats": {"servers": cluster.nats_urls, "mqtt": [f"{h}:{p}" for h, p in cluster.mqtt_addresses],
                 "password_file": "nats.pw"},
        "postgres": {"dsn_file": "pg.dsn"}, "keys_dir": "homes",
        "teams": {t: {"name": name} for t, name in teams.items()},
        "homes": {h: {"team": team} for h, team in homes.items()}}
    if dashboard is not None:
        doc["dashboard"] = dict(dashboard)
    cfg = folder / "central.yaml"
    cfg.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")  # JSON is YAML
    return cfg
