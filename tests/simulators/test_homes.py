"""Simulated homes (simulators/homes.py) into a real 3-node NATS cluster: every message a home
sends is in the JetStream stream exactly once, msg_ids are unique, and each is wire format v1 as
the centre parses it. One home goes through its own mosquitto's bridge and a LinkCut relay."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from central import wire
from central.servers import CENTRE_USER, NatsCluster, free_port, running_cluster
from simulators.homes import HomeBroker, Homes, HomeSpec, LinkCut, Rates, bridge_config

DIRECT = ("sim-0001", "sim-0002", "sim-0003")
BRIDGED = "sim-0004"
HOME_MINUTES = 30
WAIT = 60.0  # real seconds for real servers to pass messages on; never an assertion about speed


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    async with running_cluster(tmp_path / "nats", (*DIRECT, BRIDGED)) as c:
        yield c


async def test_every_message_once_in_the_stream(cluster: NatsCluster, tmp_path: Path) -> None:
    nc = await nats.connect(cluster.nats_urls, user=CENTRE_USER, password=cluster.centre_password)
    js = nc.jetstream(timeout=10)
    await js.add_stream(StreamConfig(name="TEST_UP", subjects=["homes.*.up.>"], num_replicas=3))
    relays = [LinkCut(a) for a in cluster.mqtt_addresses]
    for r in relays:
        await r.start()
    local_port = free_port()
    broker = HomeBroker(tmp_path / "home-broker", bridge_config(
        home_id=BRIDGED, username=f"home-{BRIDGED}", password=cluster.homes[BRIDGED],
        remote=[("127.0.0.1", r.port) for r in relays], local_port=local_port, folder=tmp_path / "home-broker"))
    broker.start()
    specs = [HomeSpec(home_id=h, addresses=(cluster.mqtt_addresses[i % 3],), username=f"home-{h}",
                      password=cluster.homes[h]) for i, h in enumerate(DIRECT)]
    specs.append(HomeSpec(home_id=BRIDGED, addresses=(("127.0.0.1", local_port),), bridged=True))
    # 600 home seconds a real second; alerts 200 times as often as in real homes, so 30 home
    # minutes hold some of each kind.
    homes = Homes(specs, Rates(alert_scale=200), speed=600, seed=13)
    try:
        stop = asyncio.Event()

        async def half_an_hour() -> None:
            await homes.clock.sleep(HOME_MINUTES * 60)
            stop.set()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(half_an_hour())
            left = await homes.run(stop, drain_within=WAIT)
        assert left == 0, f"{left} messages without a PUBACK"
        sent = homes.ledger.entries
        assert len(sent) == len(set(sent))
        kinds = Counter((e.home, e.kind) for e in sent.values())
        for h in (*DIRECT, BRIDGED):
            assert kinds[(h, "snapshot")] == 1
            assert kinds[(h, "heartbeat")] >= HOME_MINUTES // 2, kinds  # one a minute, however busy the machine
            assert kinds[(h, "house")] >= 1
            assert kinds[(h, "alert")] >= 1, f"{h} sent no alert: {kinds}"

        # Read the stream until it holds every QoS 1 message sent (the bridge may still be
        # forwarding the bridged home's), then each msg_id must be there exactly once. Heartbeats
        # go at QoS 0, as a hub sends them: one sent before its home's connection was up is gone.
        acked = {m for m, e in sent.items() if e.qos == 1}
        beats = {m for m, e in sent.items() if e.qos == 0}
        assert beats and all(sent[m].kind == "heartbeat" for m in beats)
        sub = await js.pull_subscribe("homes.*.up.>", durable="test", stream="TEST_UP")
        seen: Counter[str] = Counter()
        async with asyncio.timeout(WAIT):
            while not acked <= set(seen):
                try:
                    msgs = await sub.fetch(500, timeout=1)
                except nats.errors.TimeoutError:
                    continue
                for m in msgs:
                    msg = wire.parse(m.subject, m.data)
                    seen[str(msg.msg_id)] += 1
                    await m.ack()
        assert set(seen) <= set(sent) and set(seen) - acked <= beats
        assert [k for k, n in seen.items() if n > 1] == []
        assert len(set(seen) & beats) >= len(beats) // 2, f"{len(set(seen) & beats)} of {len(beats)} heartbeats"
    finally:
        broker.stop()
        for r in relays:
            await r.close()
        await nc.close()
