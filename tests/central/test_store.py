"""The store on a real PostgreSQL: what the dashboard's queries give, and the rules that keep
the newest copy of an alert and each message once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from central import wire
from central.store import Incoming, Store
from tests.central.conftest import T0, alert_doc, up

H1, H2 = "zwolle-0001", "zwolle-0002"
_seq = iter(range(1, 1_000_000))


def incoming(doc: dict[str, Any]) -> Incoming:
    subject = f"$MQTT.msgs.homes.{doc['home']}.up.{doc['kind']}"
    payload = json.dumps(doc).encode()
    return Incoming(subject=subject, stream="$MQTT_msgs", stream_seq=next(_seq), payload=payload,
                    message=wire.parse(subject, payload))


def alert(home: str, alert_id: str, *, minutes: int = 0, **kw: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return up(home, "alert", at=at, action=kw.get("state", "raised"), alert=alert_doc(alert_id, at=at, **kw))


async def test_open_alerts_most_urgent_first_then_oldest(store: Store) -> None:
    await store.sync_homes({H1: "noord", H2: "zuid"})
    await store.store_batch([incoming(d) for d in (
        alert(H1, "w-old", severity="warning", minutes=0),
        alert(H2, "u-new", severity="urgent", minutes=20),
        alert(H1, "u-old", severity="urgent", minutes=5),
        alert(H2, "i", severity="info", minutes=1),
        alert(H1, "done", severity="urgent", minutes=2, state="resolved"),
    )], T0)
    assert [a.id for a in await store.open_alerts()] == ["u-old", "u-new", "w-old", "i"]
    assert [(a.id, a.team) for a in await store.open_alerts([H2])] == [("u-new", "zuid"), ("i", "zuid")]


async def test_the_newest_copy_wins_and_a_late_old_copy_only_adds_to_the_timeline(store: Store) -> None:
    acked = alert(H1, "a-1", minutes=3, state="acknowledged", acknowledged_by="anna", acknowledged_via="page",
                  acknowledged_at=(T0 + timedelta(minutes=3)).isoformat(), raised_at=T0)
    raised = alert(H1, "a-1", minutes=0)
    assert (await store.store_batch([incoming(acked)], T0)).stored == 1
    assert (await store.store_batch([incoming(raised)], T0)).stored == 1  # arrives late
    a = await store.alert(H1, "a-1")
    assert a is not None and (a.state, a.acknowledged_by, a.acknowledged_via) == ("acknowledged", "anna", "page")
    assert [e.action for e in await store.timeline(H1)] == ["acknowledged", "raised"]


async def test_an_alert_missing_from_a_later_snapshot_is_unknown_at_home_not_closed(store: Store) -> None:
    await store.store_batch([incoming(alert(H1, "a-1")), incoming(alert(H1, "a-2"))], T0)
    snap = up(H1, "snapshot", at=T0 + timedelta(minutes=10), alerts=[alert_doc("a-2")])
    await store.store_batch([incoming(snap)], T0)
    got = {a.id: (a.state, a.unknown_at_home) for a in await store.open_alerts([H1])}
    assert got == {"a-1": ("raised", True), "a-2": ("raised", False)}
    # It comes back in the next snapshot: known again.
    again = up(H1, "snapshot", at=T0 + timedelta(minutes=20), alerts=[alert_doc("a-1"), alert_doc("a-2")])
    await store.store_batch([incoming(again)], T0)
    assert not any(a.unknown_at_home for a in await store.open_alerts([H1]))


async def test_silent_homes_are_those_not_heard_for_three_minutes(store: Store) -> None:
    await store.sync_homes({H1: "noord", H2: "noord"})
    await store.store_batch([incoming(up(H1, "heartbeat", seq=1))], T0)
    await store.store_batch([incoming(up(H2, "heartbeat", seq=1))], T0 + timedelta(minutes=2))
    now = T0 + timedelta(minutes=4)
    assert [h.id for h in await store.silent_homes(now)] == [H1]
    assert await store.mark_silent(now) == [H1]
    assert {h.id: h.link for h in await store.homes()} == {H1: "silent", H2: "up"}
    # Heard again: up.
    await store.store_batch([incoming(up(H1, "heartbeat", at=T0 + timedelta(minutes=5), seq=2))], now)
    assert {h.id: h.link for h in await store.homes()} == {H1: "up", H2: "up"}


async def test_a_message_of_another_month_gets_its_partition(store: Store) -> None:
    old = up(H1, "heartbeat", at=T0.replace(year=2025, month=2), seq=1)
    assert (await store.store_batch([incoming(old)], T0)).stored == 1
    assert "events_y2025m02" in await store.partitions()
    assert (await store.store_batch([incoming(old)], T0)).duplicates == 1
    await store.ensure_ahead(T0.replace(month=12, day=31))
    assert {"events_y2026m12", "events_y2027m01"} <= set(await store.partitions())
    await store.ensure_ahead(T0.replace(year=2027, month=1, day=20))
    assert "events_y2027m02" in await store.partitions()


async def test_a_message_postgres_refuses_is_rejected_and_the_rest_of_the_batch_stored(store: Store) -> None:
    good = incoming(alert(H1, "a-1"))
    # A pseudonym with a NUL character: valid JSON and for the wire models, not for PostgreSQL text.
    doc = up(H1, "heartbeat", seq=1)
    subject = f"$MQTT.msgs.homes.{H1}.up.heartbeat"
    bad = Incoming(subject=subject, stream="$MQTT_msgs", stream_seq=next(_seq), payload=b"{}",
                   message=wire.parse(subject, json.dumps(doc).encode()).model_copy(update={"pseudonym": "a\x00b"}))
    result = await store.store_batch([bad, good], T0)
    assert (result.stored, result.rejected) == (1, 1)
    assert await store.count("rejected") == 1 and [a.id for a in await store.open_alerts()] == ["a-1"]
