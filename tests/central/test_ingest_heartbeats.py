"""Heartbeats at QoS 0 (as a hub sends them, docs/central.md): NATS keeps only QoS 1 messages in
`$MQTT_msgs`, so the ingest takes them as plain NATS messages. Real 3-node cluster, real
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import aiomqtt
import pytest

from central.ingest import Ingest
from central.servers import NatsCluster, Postgres
from central.store import Store
from controller.clock import RealClock
from tests.central.conftest import HOMES, T0, alert_doc, home, mqtt_settings, nats_settings, up
from tests.central.test_ingest import msg_ids, running
from tests.support import eventually

pytestmark = pytest.mark.timeout(120)


async def beat(c: aiomqtt.Client, home_id: str, seq: int) -> str:
    """A hub's heartbeat at QoS 0 with this `seq`, a minute later than the one before; its msg_id."""
    doc = up(home_id, "heartbeat", at=T0 + timedelta(minutes=seq), seq=seq, active_alerts=0)
    await c.publish(f"homes/{home_id}/up/heartbeat", json.dumps(doc).encode(), qos=0)
    return str(doc["msg_id"])


async def heard(c: aiomqtt.Client, store: Store, home_id: str) -> int:
    """A QoS 0 message reaches only who listens at that moment: beat until one is stored (the
    ingest's interest has reached the home's node). The last seq sent."""
    seq = 0
    async with asyncio.timeout(60):
        while not await msg_ids(store, home_id):
            seq += 1
            await beat(c, home_id, seq)
            await asyncio.sleep(0.2)
    return seq


async def test_heartbeats_at_qos_0_are_stored_beside_the_stream(cluster: NatsCluster, store: Store) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    h = home(cluster, HOMES[0], node=2)  # the ingest's connection is on another node
    sent: list[str] = []
    async with running(ingest), h.client() as c:
        seq = await heard(c, store, h.id)
        taken = ingest.stats.heartbeats + ingest.stats.heartbeats_superseded
        for _ in range(10):
            seq += 1
            sent.append(await beat(c, h.id, seq))
        await c.publish(f"homes/{h.id}/up/heartbeat", b"{not json", qos=0)
        raised = up(h.id, "alert", action="raised", alert=alert_doc("a-1"))
        await h.publish(c, raised)  # QoS 1: through the stream, as before
        async with asyncio.timeout(60):
            while ((await store.homes([h.id]))[0].heartbeat_seq != seq  # noqa: ASYNC110 - a real database
                   or await store.count("rejected") < 1 or ingest.stats.stored < 1):
                await asyncio.sleep(0.05)
    stored = await msg_ids(store, h.id)
    assert sent[-1] in stored and raised["msg_id"] in stored and len(stored) == len(set(stored))
    # Each of the ten was stored, or replaced by a newer one before its turn (a burst).
    assert ingest.stats.heartbeats + ingest.stats.heartbeats_superseded == taken + 10
    assert ingest.stats.rejected == 1
    assert ingest.stats.stored == 1  # the alert, from the stream; the heartbeats never were in it


async def test_heartbeats_while_postgres_is_away_wait_newest_per_home_and_are_stored_after(
        cluster: NatsCluster, store: Store, postgres: Postgres) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    h = home(cluster, HOMES[0], node=1)
    async with running(ingest), h.client() as c:
        await heard(c, store, h.id)
        await asyncio.to_thread(postgres.kill)
        try:
            for seq in range(100, 110):
                await beat(c, h.id, seq)
            # Each of the ten but the newest was replaced by the next: only one waits.
            await eventually(lambda: ingest.stats.heartbeats_superseded == 9, within=30)
        finally:
            await asyncio.to_thread(postgres.resume)
        async with asyncio.timeout(60):
            while (await store.homes([h.id]))[0].heartbeat_seq != 109:  # noqa: ASYNC110 - a real database
                await asyncio.sleep(0.1)
    assert ingest.stats.heartbeats_superseded == 9
