"""Real servers for the centre's tests: a 3-node NATS JetStream cluster and PostgreSQL
(central/servers.py), and a home that publishes as a hub's bridge would: MQTT QoS 1 to a node's
MQTT port with the home's own user."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from central.ingest import NatsSettings
from central.mqtt import MqttSettings
from central.servers import CENTRE_USER, NatsCluster, Postgres, running_cluster, running_postgres
from central.store import Store

HOMES = ("zwolle-0001", "zwolle-0002")
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL per test module (1.5 s to start); each test empties the tables."""
    with running_postgres() as pg:
        yield pg


@pytest.fixture
async def store(postgres: Postgres) -> AsyncIterator[Store]:
    async with Store.open(postgres.dsn) as s:
        await s.init(T0)
        async with s.pool.connection() as conn:
            await conn.execute("TRUNCATE events, alerts, homes, devices, rejected, commands")
        yield s


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    async with running_cluster(tmp_path / "nats", HOMES) as c:
        yield c


def nats_settings(cluster: NatsCluster, **kw: Any) -> NatsSettings:
    return NatsSettings(servers=tuple(cluster.nats_urls), user=CENTRE_USER, password=cluster.centre_password,
                        fetch_wait=0.2, backoff_max=1.0, **kw)


def mqtt_settings(cluster: NatsCluster, **kw: Any) -> MqttSettings:
    return MqttSettings(addresses=tuple(cluster.mqtt_addresses), user=CENTRE_USER, password=cluster.centre_password,
                        backoff_max=1.0, **kw)


def alert_doc(alert_id: str, *, state: str = "raised", severity: str = "urgent", at: datetime = T0,
              raised_at: datetime | None = None, **kw: Any) -> dict[str, Any]:
    return {"id": alert_id, "key": "night_exit", "scenario": "night_exit", "severity": severity, "state": state,
            "title": "Nachtelijk verlaten van de woning", "raised_at": (raised_at or at).isoformat(),
            "updated_at": at.isoformat(), "occurrence": 1, "previous_id": None, "repeats": 0,
            "acknowledged_by": None, "acknowledged_via": None, "acknowledged_at": None, "resolved_at": None,
            "resolution": None, **kw}


def up(home: str, kind: str, *, at: datetime = T0, **body: Any) -> dict[str, Any]:
    """An upward message as docs/central.md describes it."""
    return {"v": 1, "msg_id": str(uuid.uuid4()), "home": home, "kind": kind, "at": at.isoformat(), **body}


def stream_of(home: str, n: int) -> list[dict[str, Any]]:
    """`n` messages of one home: alerts raised, acknowledged, resolved, heartbeats between."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        at = T0 + timedelta(seconds=i)
        if i % 4 == 3:
            out.append(up(home, "heartbeat", at=at, seq=i, active_alerts=1))
        else:
            step = ("raised", "acknowledged", "resolved")[i % 4]
            out.append(up(home, "alert", at=at, action=step,
                          alert=alert_doc(f"a-{i // 4}", state=step, at=at)))
    return out


@dataclass
class Home:
    """A home's side of the link: MQTT to one node of the cluster as `home-<id>`."""

    id: str
    password: str
    port: int
    sent: list[dict[str, Any]] = field(default_factory=list)

    def client(self, port: int | None = None, **kw: Any) -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1", port or self.port, username=f"home-{self.id}", password=self.password,
                              identifier=f"huis-{self.id}-{uuid.uuid4().hex[:6]}", timeout=10, **kw)

    async def publish(self, client: aiomqtt.Client, doc: dict[str, Any] | bytes, kind: str | None = None) -> None:
        payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        topic_kind = kind or (doc["kind"] if isinstance(doc, dict) else "alert")
        await client.publish(f"homes/{self.id}/up/{topic_kind}", payload, qos=1)
        if isinstance(doc, dict):
            self.sent.append(doc)


class Bridge:
    """A home publishing as its mosquitto bridge does: QoS 1, and what did not get its PUBACK is
    sent again (same msg_id) on a new connection, to the next node when one is down."""

    def __init__(self, home: Home, ports: list[int]) -> None:
        self.home = home
        self.ports = ports
        self.resent = 0
        self._client: aiomqtt.Client | None = None
        self._i = ports.index(home.port)

    async def send(self, doc: dict[str, Any]) -> None:
        for attempt in range(60):
            try:
                if self._client is None:
                    client = self.home.client(self.ports[self._i % len(self.ports)])
                    await client.__aenter__()
                    self._client = client
                await self.home.publish(self._client, doc)
                return
            except aiomqtt.MqttError:
                self.resent += 1
                await self.close()
                self._i += 1
                await asyncio.sleep(0.2 * min(attempt, 5))
        raise AssertionError(f"could not publish {doc['msg_id']} to any node")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)


def home(cluster: NatsCluster, home_id: str = HOMES[0], node: int = 0) -> Home:
    return Home(id=home_id, password=cluster.homes[home_id], port=cluster.nodes[node].mqtt_port)
