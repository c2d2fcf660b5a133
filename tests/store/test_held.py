"""The writer held in memory while the disk is full, in one process on a real small tmpfs:
reads see what was written meanwhile, and the write-back keeps every id, every deletion and the
audit hash chain. The engine's queue is bounded when even that is refused."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest

import controller.engine.store as engine_store
from controller.alerts.model import Alert
from controller.alerts.store import AuditEntry, NewDelivery
from controller.clock import VirtualClock
from tests.store.conftest import LockHolder, committed, components
from tests.store.disk import small_disk


def alert(clock: VirtualClock, n: int) -> Alert:
    now = clock.now()
    return Alert(id=f"al-{n}", key=f"k{n}", scenario="sos", severity="urgent", message=f"alert {n}",
                 resident="Mevrouw Jansen", policy="urgent", state="raised", cause="test",
                 cause_chain=(), data={}, raised_at=now, updated_at=now)


def raised(clock: VirtualClock, n: int) -> list[AuditEntry]:
    return [AuditEntry(time=clock.now(), alert_id=f"al-{n}", event="raised")]


def delivery(n: int, who: str) -> NewDelivery:
    return NewDelivery(alert_id=f"al-{n}", kind="alert", step=0, recipient=who)


async def test_while_the_disk_is_full_writes_go_to_memory_and_are_written_back_with_their_ids(
        tmp_path: Path, clock: VirtualClock) -> None:
    with small_disk(tmp_path / "disk", size=2 * 1024 * 1024) as disk:
        path = disk.path / "huis.db"
        async with components(path, clock) as c:
            await c.alerts.insert(alert(clock, 1), raised(clock, 1), [delivery(1, "piet")])
            c.engine.set_house("mode", "day")
            c.engine.save_run("r1", "sos", "d", [], "delay", None, {}, "{}")
            await c.engine.flush()
            disk.fill()

            # The first write that meets the full disk runs again in memory: no error.
            made = await c.alerts.insert(alert(clock, 2), raised(clock, 2),
                                         [delivery(2, "piet"), delivery(2, "anna")])
            assert c.db.fault is not None and c.db.fault[0] == "disk full"
            assert c.db.health.as_dict()["mode"] == "memory"
            c.engine.set_house("mode", "night")
            c.engine.delete_run("r1")
            await c.engine.flush()
            await c.alerts.record_audit([AuditEntry(time=clock.now(), alert_id="al-1", event="viewed")])

            # Reads see it; the file does not have it.
            assert [a.id for a in await c.alerts.active()] == ["al-1", "al-2"]
            assert [d.id for d in await c.alerts.deliveries("al-2")] == [d.id for d in made]
            assert await c.engine.house() == {"mode": "night"} and await c.engine.runs() == []
            assert committed(path, "SELECT count(*) FROM alerts") == 1
            assert await c.db.held_changes() > 0
            with pytest.raises(Exception, match="full"):
                await c.db.write_back()  # still full: nothing changes
            assert c.db.fault is not None

            disk.free()
            # alerts 1, deliveries 2, audit 2 ("raised" of al-2 and "viewed"), engine_house 1,
            # engine_runs 1 (deleted): 7 rows written back.
            assert await c.db.write_back() == 7
            assert c.db.fault is None and c.db.health.as_dict()["mode"] == "file"
            # The file has what memory had: the same ids, the deletion, the audit chain intact.
            assert committed(path, "SELECT count(*) FROM alerts") == 2
            assert committed(path, "SELECT count(*) FROM engine_runs") == 0
            assert committed(path, "SELECT count(*) FROM engine_house WHERE value = 'night'") == 1
            ids = {d.id for d in made}
            assert committed(path, "SELECT count(*) FROM alert_deliveries WHERE alert_id = 'al-2' AND id IN "
                             f"({', '.join(map(str, ids))})") == 2
            assert await c.alerts.verify_audit() is None
            # And the file takes writes again directly.
            await c.alerts.insert(alert(clock, 3), raised(clock, 3))
            assert committed(path, "SELECT count(*) FROM alerts") == 3
            assert await c.alerts.verify_audit() is None


async def test_the_history_keeps_its_own_rows_and_writes_them_when_the_disk_has_room(
        tmp_path: Path, clock: VirtualClock) -> None:
    with small_disk(tmp_path / "disk", size=2 * 1024 * 1024) as disk:
        path = disk.path / "huis.db"
        async with components(path, clock) as c:
            writer = asyncio.create_task(c.history.run(), name="history")
            try:
                disk.fill()
                for i in range(3):
                    c.hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": i % 2 == 0, "battery": 80})
                await clock.wait_idle()
                assert c.history.pending > 0 and c.db.fault is not None
                assert committed(path, "SELECT count(*) FROM history") == 0
                disk.free()
                await c.db.write_back()  # what the storage guard does: the history is woken
                await clock.wait_idle()
                assert c.history.pending == 0
                assert committed(path, "SELECT count(*) FROM history") > 0
            finally:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)


async def test_the_engine_queue_is_bounded_and_counts_what_it_dropped(
        tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(engine_store, "MAX_QUEUED", 10)
    async with components(tmp_path / "huis.db", clock, busy_timeout=0.05) as c:
        writer = asyncio.create_task(c.engine.run(), name="engine")
        try:
            # A lock another process holds is not a disk fault: nothing goes to memory, the
            # statements wait in the engine's queue.
            async with LockHolder(c.path):
                for i in range(25):
                    c.engine.set_house(f"h{i}", "x")
                await clock.wait_idle()
                health = c.db.health.of("engine")
                assert health.dropped == 15 and health.lost == 15
                assert "statements dropped so far to keep 10 in memory (oldest first)" in caplog.text
            await clock.advance(timedelta(seconds=60))
            await c.engine.flush()
            assert committed(c.path, "SELECT count(*) FROM engine_house") == 10
            assert committed(c.path, "SELECT count(*) FROM engine_house WHERE name < 'h15' AND length(name) = 3"
                             ) == 0  # the newest ten (h15..h24) were kept
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
