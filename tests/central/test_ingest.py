"""The ingest against a real 3-node NATS JetStream cluster and a real PostgreSQL: every message
stored once, through a node killed, PostgreSQL restarted, and messages it cannot parse."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import pytest

from central.ingest import DURABLE, STREAM, Ingest
from central.servers import CENTRE_USER, NatsCluster, Postgres
from central.store import Store
from controller.clock import RealClock
from tests.central.conftest import HOMES, T0, Bridge, alert_doc, home, mqtt_settings, nats_settings, stream_of, up
from tests.support import eventually

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def running(ingest: Ingest) -> AsyncIterator[Ingest]:
    task = asyncio.create_task(ingest.run(), name="ingest")
    try:
        await asyncio.wait_for(ingest.ready.wait(), 30)
        yield ingest
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def msg_ids(store: Store, home_id: str) -> list[str]:
    async with store.pool.connection() as conn:
        cur = await conn.execute("SELECT msg_id::text AS m FROM events WHERE home = %s", (home_id,))
        return [r["m"] for r in await cur.fetchall()]


async def wait_stored(store: Store, ingest: Ingest, n: int, within: float = 60) -> None:
    try:
        async with asyncio.timeout(within):
            while await store.count("events") < n:  # noqa: ASYNC110 - polling a real database
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{await store.count('events')} of {n} stored within {within:.0f} s; "
                             f"{ingest.stats}") from None


async def test_messages_of_two_homes_are_stored_once_each(cluster: NatsCluster, store: Store) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    async with running(ingest):
        a, b = home(cluster, HOMES[0], node=0), home(cluster, HOMES[1], node=2)
        async with a.client() as ca, b.client() as cb:
            for doc in stream_of(a.id, 20):
                await a.publish(ca, doc)
            for doc in stream_of(b.id, 12):
                await b.publish(cb, doc)
        await wait_stored(store, ingest, 32)
    assert sorted(await msg_ids(store, a.id)) == sorted(d["msg_id"] for d in a.sent)
    assert sorted(await msg_ids(store, b.id)) == sorted(d["msg_id"] for d in b.sent)
    # The newest copy of each alert is kept: a-0..a-4 went raised, acknowledged, resolved.
    assert {r.id: r.state for r in await store.alerts_of(a.id)} == {f"a-{i}": "resolved" for i in range(5)}
    assert (await store.homes([a.id]))[0].heartbeat_seq == 19
    # Stored on the 3 nodes: the stream the ingest made has 3 replicas.
    assert ingest.stats.stored == 32 and ingest.stats.rejected == 0


async def test_the_same_message_twice_is_stored_once(cluster: NatsCluster, store: Store) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    h = home(cluster)
    raised = up(h.id, "alert", action="raised", alert=alert_doc("a-1"), pseudonym="Mevr. Tulp")
    async with running(ingest), h.client() as c:
        await h.publish(c, raised)
        await h.publish(c, raised)  # the bridge sends it again after a cut
        marker = up(h.id, "heartbeat", seq=1)
        await h.publish(c, marker)
        await eventually(lambda: ingest.stats.stored + ingest.stats.duplicates == 3, within=30)
    assert ingest.stats.stored == 2 and ingest.stats.duplicates == 1
    assert sorted(await msg_ids(store, h.id)) == sorted([raised["msg_id"], marker["msg_id"]])
    [alert] = await store.open_alerts([h.id])
    assert (alert.id, alert.pseudonym) == ("a-1", "Mevr. Tulp")


async def test_an_unparseable_message_is_rejected_and_does_not_block(cluster: NatsCluster, store: Store) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    h = home(cluster)
    bad_severity = up(h.id, "alert", action="raised", alert=alert_doc("a-9", severity="catastrophic"))
    other_home = up(HOMES[1], "heartbeat", seq=1)  # a body naming another home than its topic
    good = up(h.id, "alert", action="raised", alert=alert_doc("a-1"))
    async with running(ingest), h.client() as c:
        await h.publish(c, b"{not json", kind="alert")
        await h.publish(c, json.dumps(bad_severity).encode(), kind="alert")
        await h.publish(c, json.dumps(other_home).encode(), kind="heartbeat")
        await h.publish(c, good)
        await eventually(lambda: ingest.stats.stored == 1 and ingest.stats.rejected == 3, within=30)
    async with store.pool.connection() as conn:
        cur = await conn.execute("SELECT subject, reason FROM rejected ORDER BY stream_seq")
        rows = await cur.fetchall()
    reasons = [r["reason"] for r in rows]
    assert reasons[0].startswith("not JSON")
    assert "alert.severity" in reasons[1]
    assert reasons[2] == f"the message says home '{HOMES[1]}', its subject '{h.id}'"
    assert [a.id for a in await store.open_alerts()] == ["a-1"]


@pytest.mark.parametrize("leader_of", ["stream", "consumer"])
async def test_a_node_killed_mid_stream_loses_and_duplicates_nothing(cluster: NatsCluster, store: Store,
                                                                     leader_of: str) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    async with running(ingest):
        # `$MQTT_msgs` (where NATS's MQTT keeps a home's QoS 1 messages) and the ingest's consumer
        # on it each have a leader; on different nodes, killing one leaves the other standing.
        stream, consumer = await separate_leaders(cluster)
        leader = stream if leader_of == "stream" else consumer
        h = home(cluster, node=next(i for i in range(3) if i not in (stream, consumer)))
        bridge = Bridge(h, [n.mqtt_port for n in cluster.nodes])
        try:
            for i, doc in enumerate(stream_of(h.id, 300)):
                if i == 100:
                    cluster.kill(leader)
                await bridge.send(doc)
            cluster.restart(leader)
            await cluster.wait_ready()
            await wait_stored(store, ingest, 300)
            # One more after the restart: it arrives, and nothing is stored twice.
            await bridge.send(up(h.id, "heartbeat", at=T0.replace(hour=5), seq=999))
            await wait_stored(store, ingest, 301)
        finally:
            await bridge.close()
    ids = await msg_ids(store, h.id)
    assert len(ids) == len(set(ids)) == 301
    assert set(ids) == {d["msg_id"] for d in h.sent}


async def test_postgres_restarted_mid_stream_loses_nothing(cluster: NatsCluster, store: Store,
                                                           postgres: Postgres) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    async with running(ingest):
        h = home(cluster, node=1)
        before = postgres.proc.pid if postgres.proc else None
        async with h.client() as c:
            for i, doc in enumerate(stream_of(h.id, 200)):
                if i == 60:
                    await asyncio.to_thread(postgres.restart, kill=True)
                await h.publish(c, doc)
        assert postgres.proc is not None and postgres.proc.pid != before  # a new server process
        await wait_stored(store, ingest, 200)
    # How many batches had to wait depends on timing (the pool replaces a broken connection
    # before handing it out); that none was lost or doubled does not.
    ids = await msg_ids(store, h.id)
    assert len(ids) == 200 and sorted(ids) == sorted(d["msg_id"] for d in h.sent)


async def separate_leaders(cluster: NatsCluster) -> tuple[int, int]:
    """The nodes leading `$MQTT_msgs` and the ingest's consumer, the consumer's leader moved
    (asked to step down) until it is not the stream's."""
    names = [n.name for n in cluster.nodes]
    nc = await nats.connect(cluster.nats_urls, user=CENTRE_USER, password=cluster.centre_password)
    try:
        js = nc.jetstream()
        async with asyncio.timeout(60):
            while True:
                stream = await js.stream_info(STREAM)
                consumer = await js.consumer_info(STREAM, DURABLE)
                if stream.cluster is None or consumer.cluster is None:
                    raise AssertionError("not clustered")
                if stream.cluster.leader and consumer.cluster.leader:
                    if stream.cluster.leader != consumer.cluster.leader:
                        return names.index(stream.cluster.leader), names.index(consumer.cluster.leader)
                    await nc.request(f"$JS.API.CONSUMER.LEADER.STEPDOWN.{STREAM}.{DURABLE}", b"", timeout=5)
                await asyncio.sleep(0.2)
    finally:
        await nc.close()
