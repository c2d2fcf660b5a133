"""Issue 13's must-show: two real hubs, a 3-node NATS JetStream cluster, PostgreSQL and
`huis central`, all on loopback; nothing lost, nothing duplicated.

Each hub runs as `huis run` does (open_home, logged in to its own closed mosquitto), and each
mosquitto carries the bridge `huis uplink bridge-config` prints into the cluster. `huis central
init` and `huis central run` are the real commands (run in a process of their own). The test
raises alerts in both homes, acknowledges one from the centre through its command path
(central/commands.py, as the central dashboard does), kills a NATS node while both homes are
sending, starts it again, stops the hubs, and then compares what each hub sent with what
PostgreSQL holds: every message stored once, every alert at the state the hub has.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from central.commands import Commands
from central.config import CentralConfig, load_central
from central.ingest import STREAM
from central.mqtt import Publisher
from central.servers import NatsCluster, Postgres, running_cluster, running_postgres, write_centre_config
from central.store import Store
from controller.clock import RealClock
from controller.events import Context
from huis.cli import main
from huis.compose import Home
from tests.conftest import ROOT
from tests.ha.tasks import supervised
from tests.support import eventually
from tests.uplink.rig import home_broker, open_hub, started

pytestmark = [pytest.mark.broker, pytest.mark.timeout(600)]

HOMES = ("zwolle-0042", "deventer-0007")
RESIDENT = "Mevrouw Jansen"


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    with running_postgres() as pg:
        yield pg


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    async with running_cluster(tmp_path / "nats", HOMES) as c:
        yield c


def centre_config(folder: Path, cluster: NatsCluster, postgres: Postgres) -> Path:
    """config/central.yaml for this cluster and database, the two homes added with `huis central
    add-home` (their command keys, 0600, in keys_dir)."""
    teams = dict(zip(HOMES, ("noord", "oost"), strict=True))
    cfg = write_centre_config(folder, cluster, postgres, teams={"noord": "Team Noord", "oost": "Team Oost"},
                              homes=teams)
    for home_id, team in teams.items():
        assert main(["central", "add-home", home_id, "--team", team, "--config", str(cfg)]) == 0
    return cfg


@contextlib.contextmanager
def huis_central(cfg: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`huis central run` in a process of its own (the dashboard is another branch's)."""
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "huis.cli", "central", "run", "--config", str(cfg),
                                 "--no-dashboard"], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # as systemd stops it
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def node_serves(cluster: NatsCluster, index: int) -> bool:
    """The node runs and its JetStream is enabled (its monitoring port says so)."""
    node = cluster.nodes[index]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/healthz?js-enabled-only=true",
                                    timeout=1) as r:
            return node.running and r.status == 200
    except OSError:
        return False


async def kinds_stored(store: Store, home: str) -> Counter[str]:
    async with store.pool.connection() as conn:
        cur = await conn.execute("SELECT kind, count(*) AS n, count(DISTINCT msg_id) AS d FROM events "
                                 "WHERE home = %s GROUP BY kind", (home,))
        rows = await cur.fetchall()
    assert all(r["n"] == r["d"] for r in rows), f"{home}: a msg_id stored twice: {rows}"
    return Counter({str(r["kind"]): int(r["n"]) for r in rows})


async def heartbeat_arrives(store: Store, home_id: str, home: Home) -> None:
    """A heartbeat goes at QoS 0 and reaches the centre only while it listens: beat until one
    is stored (each a new `seq`)."""
    assert home.uplink is not None
    async with asyncio.timeout(120):
        while True:
            home.uplink.beat()
            seq = home.uplink.seq
            for _ in range(30):
                (row,) = await store.homes([home_id])
                if row.heartbeat_seq is not None and row.heartbeat_seq >= seq:
                    return
                await asyncio.sleep(0.1)


def without_heartbeats(kinds: Counter[str]) -> Counter[str]:
    return Counter({k: n for k, n in kinds.items() if k != "heartbeat"})


async def not_stored(store: Store, home_id: str, home: Home) -> list[tuple[str, str]]:
    """What the hub sent that PostgreSQL does not have (kind, msg_id), to say where it was lost."""
    assert home.uplink is not None
    async with store.pool.connection() as conn:
        cur = await conn.execute("SELECT msg_id::text AS id FROM events WHERE home = %s", (home_id,))
        have = {str(r["id"]) for r in await cur.fetchall()}
    return [(kind, msg_id) for kind, msg_id in home.uplink.recent if msg_id not in have]


async def raise_in(home: Home, key: str, scenario: str) -> str:
    return await home.alerts.raise_alert(key=key, scenario=scenario, severity="urgent",
                                         message=f"{RESIDENT}: {key}", context=Context(origin="test"), data={})


async def wait_stored(store: Store, home: str, alert_id: str, *, state: str | None = None,
                      within: float = 120) -> None:
    async def there() -> bool:
        row = await store.alert(home, alert_id)
        return row is not None and (state is None or row.state == state)

    async with asyncio.timeout(within):
        while not await there():  # noqa: ASYNC110 - polling a real database fed by real servers
            await asyncio.sleep(0.1)


async def test_two_hubs_a_cluster_and_the_centre_lose_and_duplicate_nothing(
        tmp_path: Path, cluster: NatsCluster, postgres: Postgres) -> None:
    cfg_file = centre_config(tmp_path / "centre", cluster, postgres)
    centre: CentralConfig = load_central(cfg_file)
    assert await asyncio.to_thread(main, ["central", "init", "--config", str(cfg_file)]) == 0
    # The node killed is the one both bridges use and the leader of `$MQTT_msgs`, where NATS
    # keeps the homes' QoS 1 messages until the centre's ingest has acknowledged them.
    victim = await cluster.leader_of(STREAM)
    with contextlib.ExitStack() as stack:
        for h in HOMES:
            (tmp_path / h).mkdir()
        brokers = [stack.enter_context(home_broker(tmp_path / h, cluster, h, first=victim,
                                                   key_file=str(centre.key_file(h)))) for h in HOMES]
        stack.enter_context(huis_central(cfg_file, tmp_path / "huis-central.log"))
        homes = [await open_hub(b, tmp_path / h) for b, h in zip(brokers, HOMES, strict=True)]
        try:
            async with Store.open(centre.dsn()) as store:
                sent = await exercise(homes, cluster, centre, store, victim)
                await check_stored(homes, store, sent)
        finally:
            for home in homes:
                await home.close()
    # Stopped with SIGTERM, `huis central run` ended its tasks and said what the ingest did.
    assert "ingest stats: {" in (tmp_path / "huis-central.log").read_text(encoding="utf-8")


async def exercise(homes: list[Home], cluster: NatsCluster, centre: CentralConfig, store: Store,
                   victim: int) -> dict[str, Counter[str]]:
    """Raise, acknowledge from the centre, kill a node mid-stream; the hubs' sent counts."""
    clock = RealClock()
    publisher = Publisher(centre.mqtt_settings(), clock)
    commands = Commands(store, publisher, centre.home_key, clock)
    sent: dict[str, Counter[str]] = {}
    async with supervised(*(home.run() for home in homes), publisher.run()):
        for home in homes:
            await started(home)
        first = [await raise_in(home, "sos", "sos_pressed") for home in homes]
        for home_id, alert_id in zip(HOMES, first, strict=True):
            await wait_stored(store, home_id, alert_id)
        # The centre's caregiver acknowledges the first home's alert (the dashboard's path).
        await commands.acknowledge(HOMES[0], first[0], user="marieke")
        await eventually(lambda: homes[0].alerts.active()[0].acknowledged_by == "centre:marieke", within=60)
        await wait_stored(store, HOMES[0], first[0], state="acknowledged")
        # Both homes keep sending while the node their bridges use first is killed, then restarted.
        for i in range(12):
            for home in homes:
                alert_id = await raise_in(home, f"wander.round_{i}", "wander_left_home")
                if i % 2:
                    await home.alerts.resolve(alert_id, by="anna", note="Was in de tuin")
            if i == 3:
                cluster.kill(victim)
            if i == 8:
                cluster.restart(victim)
            await asyncio.sleep(0.2)
        # Back and serving. (Not `wait_ready`: its health check also waits for the internal
        # `$MQTT_rmsgs` consumer of the killed node, which nats-server 2.9 leaves "not current".)
        await eventually(lambda: node_serves(cluster, victim), within=60)
        # Each bridge lost its node and connected to another: its hub heard it and sent the
        # centre a snapshot of its active alerts.
        await eventually(lambda: all(h.uplink is not None and h.uplink.sent["snapshot"] >= 2 for h in homes),
                         within=120)  # mosquitto's restart_timeout is 2-30 s
        for home_id, home in zip(HOMES, homes, strict=True):
            await heartbeat_arrives(store, home_id, home)
        # What each hub sent, taken when both have handed everything to their brokers (no await
        # between the check and the count, so nothing is sent in between).
        while any(home.hub.link.pending for home in homes):  # type: ignore[attr-defined]
            for home in homes:
                await home.hub.link.drain()  # type: ignore[attr-defined]
        for home_id, home in zip(HOMES, homes, strict=True):
            assert home.uplink is not None
            sent[home_id] = Counter(home.uplink.sent)
    return sent


async def check_stored(homes: list[Home], store: Store, sent: dict[str, Counter[str]]) -> None:
    """Once the hubs stopped: every message each sent is in PostgreSQL once, every alert at the
    hub's state, and no resident's words at the centre."""
    for home_id in HOMES:
        # Heartbeats go at QoS 0: one sent while the killed node's bridge reconnected is gone.
        beats = sent[home_id].pop("heartbeat", 0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(180):
                while without_heartbeats(await kinds_stored(store, home_id)) != sent[home_id]:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
        stored = await kinds_stored(store, home_id)
        if without_heartbeats(stored) != sent[home_id]:
            missing = await not_stored(store, home_id, homes[HOMES.index(home_id)])
            raise AssertionError(f"{home_id}: stored {dict(stored)}, sent {dict(sent[home_id])}; "
                                 f"sent and not stored: {missing}")
        assert 1 <= stored["heartbeat"] <= beats
    for home, home_id in zip(homes, HOMES, strict=True):
        mine = await home.alerts.recent(200)
        care = [a for a in mine if a.data.get("audience") != "technician"]
        assert len(care) == 13
        stored = {a.id: a for a in await store.alerts_of(home_id, limit=200)}
        assert set(stored) == {a.id for a in care}, f"{home_id}: alerts lost or invented"
        for a in care:
            assert stored[a.id].state == a.state, (home_id, a.id, a.state, stored[a.id].state)
            assert stored[a.id].message is None and RESIDENT not in stored[a.id].title
    first = await store.alerts_of(HOMES[0], limit=200)
    acked = [a for a in first if a.acknowledged_by == "centre:marieke"]
    assert len(acked) == 1 and acked[0].acknowledged_via == "central"
    assert (await store.commands_of(HOMES[0]))[0].outcome == "sent"
    print({h: dict(c) for h, c in sent.items()})
