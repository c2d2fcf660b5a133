"""Heartbeats at QoS 0 (as a hub sends them, docs/central.md): NATS keeps only QoS 1 messages in
`$MQTT_msgs`, so the ingest takes them as plain NATS messages. Real 3-node cluster, real
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from central.ingest import Ingest
from central.servers import NatsCluster
from central.store import Store
from controller.clock import RealClock
from tests.central.conftest import HOMES, T0, alert_doc, home, mqtt_settings, nats_settings, up
from tests.central.test_ingest import msg_ids, running, wait_stored

pytestmark = pytest.mark.timeout(120)


async def test_heartbeats_at_qos_0_are_stored_beside_the_stream(cluster: NatsCluster, store: Store) -> None:
    ingest = Ingest(store, nats_settings(cluster), RealClock(), mqtt_settings(cluster))
    h = home(cluster, HOMES[0], node=2)  # the ingest's connection is on another node
    sent: list[str] = []
    async with running(ingest), h.client() as c:

        async def beat(seq: int) -> None:
            doc = up(h.id, "heartbeat", at=T0 + timedelta(minutes=seq), seq=seq, active_alerts=0)
            await c.publish(f"homes/{h.id}/up/heartbeat", json.dumps(doc).encode(), qos=0)
            sent.append(doc["msg_id"])

        # A QoS 0 message reaches only who listens at that moment: beat until the first is
        # stored (the ingest's interest has reached this node), then count from there.
        seq = 0
        async with asyncio.timeout(60):
            while not await msg_ids(store, h.id):
                seq += 1
                await beat(seq)
                await asyncio.sleep(0.2)
        first = len(await msg_ids(store, h.id))
        for _ in range(10):
            seq += 1
            await beat(seq)
        await c.publish(f"homes/{h.id}/up/heartbeat", b"{not json", qos=0)
        raised = up(h.id, "alert", action="raised", alert=alert_doc("a-1"))
        await h.publish(c, raised)  # QoS 1: through the stream, as before
        await wait_stored(store, ingest, first + 11)
        async with asyncio.timeout(30):
            while await store.count("rejected") < 1:  # noqa: ASYNC110 - polling a real database
                await asyncio.sleep(0.05)
    stored = await msg_ids(store, h.id)
    assert set(sent[-10:]) <= set(stored) and raised["msg_id"] in stored
    assert len(stored) == len(set(stored)) == first + 11
    assert (await store.homes([h.id]))[0].heartbeat_seq == seq
    assert ingest.stats.heartbeats == first + 10 and ingest.stats.rejected == 1
    assert ingest.stats.stored == 1  # the alert, from the stream; the heartbeats never were in it
