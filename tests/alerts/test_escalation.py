"""Escalation along the shipped policy, against a real local ntfy server, on a virtual clock."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import AlertsConfig
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context
from tests.alerts.conftest import TOPIC, Harness, ctx, harness, recipients_of
from tests.alerts.fakes import NtfyServer


async def raise_night_alert(h: Harness, key: str = "night_out_of_bed:bed_sensor") -> str:
    return await h.svc.raise_alert(key=key, scenario="night_out_of_bed", severity="urgent",
                                   message="Mevrouw Jansen is al 10 minuten uit bed.", context=ctx(),
                                   data={"device": "bed_sensor"})


async def test_alert_is_committed_before_anything_is_sent(
        tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        ntfy: NtfyServer) -> None:
    channels = [NtfyChannel(server=ntfy.url), PageChannel()]
    async with harness(tmp_path / "huis.db", clock, alerts_config, demo_config, channels, run=False) as h:
        alert_id = await raise_night_alert(h)
        # A second connection (another process) already sees the alert and who is to be paged.
        async with aiosqlite.connect(tmp_path / "huis.db") as other:
            async with other.execute("SELECT state, cause FROM alerts WHERE id = ?", (alert_id,)) as cur:
                state, cause = await cur.fetchone()  # type: ignore[misc]
            async with other.execute("SELECT recipient, status FROM alert_deliveries WHERE alert_id = ?",
                                     (alert_id,)) as cur:
                deliveries = await cur.fetchall()
        assert state == "delivering"
        assert "device:bed_sensor" in cause and "rule:night_out_of_bed" in cause
        assert [tuple(d) for d in deliveries] == [("piet", "pending")]
        assert ntfy.messages == []


async def test_urgent_alert_escalates_step_by_step_until_acknowledged(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await raise_night_alert(alerts)
    await alerts.advance()
    assert recipients_of(ntfy) == ["piet"]
    first = ntfy.messages[0]
    assert first["priority"] == 5
    assert first["title"] == "Dringend: Mevrouw Jansen"
    assert first["message"] == "Mevrouw Jansen is al 10 minuten uit bed."
    assert first["tags"] == ["rotating_light"]
    ack, view = first["actions"]
    assert (ack["action"], ack["label"], ack["method"]) == ("http", "Ik ga erheen", "POST")
    assert ack["url"].startswith("http://hub.test:8080/alerts/ack/")
    assert (view["action"], view["label"]) == ("view", "Bekijk")
    assert first["click"] == view["url"]

    await alerts.advance(minutes=2, seconds=59)
    assert recipients_of(ntfy) == ["piet"]
    await alerts.advance(seconds=1)
    assert sorted(recipients_of(ntfy)[1:]) == ["anna", "buur"]
    await alerts.advance(minutes=3)
    assert recipients_of(ntfy)[3:] == ["team"]
    await alerts.advance(minutes=5)
    assert recipients_of(ntfy)[4:] == ["team"]  # the last step repeats every 5 minutes

    outcome = await alerts.svc.acknowledge(alert_id, by="anna", channel="dashboard")
    assert outcome.ok
    await alerts.advance(minutes=30)
    assert len(recipients_of(ntfy)) == 5  # escalation stopped at once
    notices = [(m["topic"], m["message"]) for m in ntfy.messages if not m.get("actions")]
    assert sorted(notices) == sorted([(TOPIC["piet"], "Anna gaat erheen."),
                                      (TOPIC["buur"], "Anna gaat erheen."),
                                      (TOPIC["team"], "Anna gaat erheen.")])
    alert = await alerts.svc.get(alert_id)
    assert alert is not None
    assert (alert.state, alert.acknowledged_by, alert.acknowledged_via) == ("acknowledged", "anna", "dashboard")
    actions = [a for a, _ in alerts.actions()]
    assert actions[:3] == ["raised", "escalated", "delivered"]
    assert ("acknowledged", "anna") in alerts.actions()


async def test_raising_the_same_occurrence_again_returns_the_same_alert(alerts: Harness, ntfy: NtfyServer) -> None:
    # The same rule run's action raising again (as after a restart) is the same occurrence:
    # one alert, one page. (A new urgent occurrence pages again: tests/alerts/test_occurrences.py.)
    async def raise_from(origin: str) -> str:
        return await alerts.svc.raise_alert(key="night_out_of_bed:bed_sensor", scenario="night_out_of_bed",
                                            severity="urgent", message="Mevrouw Jansen is al 10 minuten uit bed.",
                                            context=ctx(), data={"origin": origin})

    first = await raise_from("run-1/actions[0]")
    again = await raise_from("run-1/actions[0]")
    await alerts.advance(minutes=1)
    assert again == first
    assert recipients_of(ntfy) == ["piet"]
    assert [a.id for a in alerts.svc.active()] == [first]
    other = await raise_night_alert(alerts, key="night_out_of_bed:other")
    assert other != first


async def test_scenario_resolves_its_alert_and_tells_everyone_paged(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await raise_night_alert(alerts)
    await alerts.advance(minutes=4)
    resolved = await alerts.svc.resolve_alert(key="night_out_of_bed:bed_sensor",
                                              reason="Mevrouw Jansen is weer in bed.",
                                              context=Context(origin="rule:night_out_of_bed"))
    assert resolved
    await alerts.advance(minutes=20)
    assert sorted(recipients_of(ntfy)) == ["anna", "buur", "piet"]  # the team was never reached
    told = sorted(m["topic"] for m in ntfy.messages if m.get("message") == "Mevrouw Jansen is weer in bed.")
    assert told == sorted([TOPIC["piet"], TOPIC["anna"], TOPIC["buur"]])
    alert = await alerts.svc.get(alert_id)
    assert alert is not None and (alert.state, alert.resolution) == ("resolved", "rule")
    assert alerts.svc.active() == []
    assert not await alerts.svc.resolve_alert(key="night_out_of_bed:bed_sensor", reason="x",
                                              context=Context(origin="rule:night_out_of_bed"))
    # The key is free again: a new night, a new alert.
    assert await raise_night_alert(alerts) != alert_id


async def test_caregiver_resolves_with_a_note(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await raise_night_alert(alerts)
    await alerts.advance(minutes=1)
    await alerts.svc.acknowledge(alert_id, by="piet", channel="ntfy")
    done = await alerts.svc.resolve(alert_id, by="piet", note="Ze was naar de wc; alles goed.")
    assert done is not None and (done.state, done.resolution, done.note) == (
        "resolved", "caregiver", "Ze was naar de wc; alles goed.")
    audit = await alerts.svc.audit(alert_id=alert_id)
    assert [r["event"] for r in reversed(audit)] == [
        "raised", "delivering", "escalated", "delivered", "acknowledged", "resolved"]
    last = audit[0]
    assert (last["user"], last["resident"], last["detail"]) == ("piet", "Mevrouw Jansen",
                                                               "Ze was naar de wc; alles goed.")


async def test_audit_log_is_append_only_and_chained(alerts: Harness) -> None:
    await raise_night_alert(alerts)
    await alerts.advance(minutes=1)
    assert await alerts.svc.store.verify_audit() is None
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await alerts.db.execute("UPDATE alert_audit SET user = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await alerts.db.execute("DELETE FROM alert_audit")
    # Even with the triggers dropped, a rewritten entry breaks the hash chain.
    await alerts.db.execute("DROP TRIGGER alert_audit_no_update")
    await alerts.db.execute("UPDATE alert_audit SET user = 'mallory' WHERE seq = 2")
    assert await alerts.svc.store.verify_audit() == 2


async def test_quiet_hours_hold_info_but_never_urgent(
        tmp_path: Path, alerts_config: AlertsConfig, demo_config: HomeConfig, ntfy: NtfyServer) -> None:
    # 23:30 in Amsterdam (UTC+1 in January).
    clock = VirtualClock(datetime(2026, 1, 5, 22, 30, tzinfo=UTC))
    channels = [NtfyChannel(server=ntfy.url), PageChannel()]
    async with harness(tmp_path / "huis.db", clock, alerts_config, demo_config, channels) as h:
        info = await h.svc.raise_alert(key="battery:wander_tag", scenario="battery", severity="info",
                                       message="De batterij van het dwaaldetectie-label is bijna leeg.",
                                       context=ctx(), data={})
        sos = await h.svc.raise_alert(key="sos", scenario="sos", severity="urgent",
                                message="Mevrouw Jansen heeft op de alarmknop gedrukt.", context=ctx(), data={})
        await h.advance(minutes=1)
        assert recipients_of(ntfy) == ["piet"]  # the urgent one, at once
        held = await h.svc.get(info)
        assert held is not None and held.next_at == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)  # 07:00 local
        await h.svc.acknowledge(sos, by="piet", channel="ntfy")
        await h.clock.run_until(datetime(2026, 1, 6, 5, 59, tzinfo=UTC))
        await h.svc.settled()
        assert [m["topic"] for m in ntfy.messages if m.get("priority") == 3 and m.get("actions")] == []
        await h.advance(minutes=2)
        assert [m["topic"] for m in ntfy.messages if m.get("priority") == 3 and m.get("actions")] == [TOPIC["anna"]]
