"""Commands from the centre reach the home's own subscription, signed with the home's key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from central.commands import CommandRefused, Commands, verify
from central.ingest import Ingest
from central.mqtt import Publisher
from central.servers import NatsCluster
from central.store import Store
from controller.clock import RealClock
from controller.keyfile import load_key
from controller.uplink_wire import check_command
from tests.central.conftest import alert_doc, home, mqtt_settings, nats_settings, up
from tests.support import eventually

pytestmark = pytest.mark.timeout(120)


async def test_an_acknowledgement_reaches_the_home_signed_and_is_audited(cluster: NatsCluster, store: Store,
                                                                         tmp_path: Path) -> None:
    h = home(cluster, node=2)
    key_file = tmp_path / f"{h.id}.key"
    key = load_key(key_file, what="command key")  # made here as `huis central add-home` does
    clock = RealClock()
    ingest = Ingest(store, nats_settings(cluster), clock, mqtt_settings(cluster))
    publisher = Publisher(mqtt_settings(cluster), clock)
    commands = Commands(store, publisher, lambda home_id: load_key(key_file, what="command key", create=False),
                        clock)
    received: list[dict[str, object]] = []

    async def listen() -> None:
        async with h.client(clean_session=False) as c:
            await c.subscribe(f"homes/{h.id}/down/command", qos=1)
            subscribed.set()
            async for m in c.messages:
                assert isinstance(m.payload, bytes)
                received.append(json.loads(m.payload))

    subscribed = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        # As in production: the centre's stream first (`huis central init`), then the homes.
        tasks = [tg.create_task(ingest.run(), name="ingest"), tg.create_task(publisher.run(), name="publisher")]
        try:
            await asyncio.wait_for(ingest.ready.wait(), 60)
            tasks.append(tg.create_task(listen(), name="home"))
            await asyncio.wait_for(subscribed.wait(), 30)
            async with h.client() as c:
                await h.publish(c, up(h.id, "alert", action="raised", alert=alert_doc("a-7")))
            await eventually(lambda: ingest.stats.stored == 1, within=30)

            with pytest.raises(CommandRefused, match="needs a note"):
                await commands.resolve(h.id, "a-7", user="marieke", note="  ")
            with pytest.raises(CommandRefused, match="no alert a-8"):
                await commands.acknowledge(h.id, "a-8", user="marieke")
            sent = await commands.acknowledge(h.id, "a-7", user="marieke")
            await eventually(lambda: len(received) == 1, within=30)
        finally:
            for t in tasks:
                t.cancel()
    [doc] = received
    assert doc == sent.doc and verify(doc, key)
    # What the hub does with it: genuine and fresh.
    cmd = check_command(key, json.dumps(doc).encode(), now=RealClock().now())
    assert (cmd.action, cmd.alert, cmd.by) == ("acknowledge", "a-7", "centre:marieke")
    assert (doc["action"], doc["alert"], doc["by"], doc["note"]) == ("acknowledge", "a-7", "centre:marieke", None)
    assert not verify({**doc, "alert": "a-8"}, key)
    audit = await store.commands_of(h.id)
    assert [(r.action, r.alert_id, r.outcome) for r in reversed(audit)] == [
        ("resolve", "a-7", "refused"), ("acknowledge", "a-8", "refused"), ("acknowledge", "a-7", "sent")]
    assert audit[0].detail is None and "note" in (audit[-1].detail or "")


