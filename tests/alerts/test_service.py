"""Routing, audiences, automatic resolution and languages."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import AlertsConfig, parse_alerts
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context
from controller.yamlfile import load_text
from tests.alerts.conftest import TOPIC, Harness, ctx, harness, recipients_of
from tests.alerts.fakes import NtfyServer


async def test_scenario_recipients_replace_the_first_step_only(alerts: Harness, ntfy: NtfyServer) -> None:
    await alerts.svc.raise_alert(key="medication.morning", scenario="medication", severity="urgent",
                                 message="Ochtenddosis niet ingenomen.", context=ctx(),
                                 data={"recipients": ["anna"], "audience": "caregivers"})
    await alerts.advance(minutes=1)
    assert recipients_of(ntfy) == ["anna"]
    await alerts.advance(minutes=2)
    assert sorted(recipients_of(ntfy)[1:]) == ["anna", "buur"]  # the policy's later steps still apply


async def test_technician_alerts_page_nobody(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await alerts.svc.raise_alert(key="battery.wander_tag", scenario="battery", severity="warning",
                                            message="Batterij dwaaldetectie-label bijna leeg.", context=ctx(),
                                            data={"audience": "technician", "recipients": []})
    await alerts.clock.advance(hours=1)
    await alerts.svc.settled()
    assert ntfy.messages == []
    assert [a.id for a in alerts.svc.active()] == [alert_id]
    assert alerts.svc.active()[0].state == "raised"


async def test_info_alerts_close_themselves(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await alerts.svc.raise_alert(key="info.window", scenario="window", severity="info",
                                            message="Het slaapkamerraam staat al een uur open.", context=ctx(), data={})
    await alerts.advance(minutes=1)
    assert recipients_of(ntfy) == ["anna"]
    await alerts.clock.advance(hours=12)
    await alerts.svc.settled()
    alert = await alerts.svc.get(alert_id)
    assert alert is not None and (alert.state, alert.resolution, alert.resolved_by) == ("resolved", "auto", "hub")
    assert ("resolved", "hub") in alerts.actions()


async def test_resolved_before_anyone_was_reached_is_cancelled(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig, ntfy: NtfyServer) -> None:
    text = """
severities:
  urgent: {policy: later, channels: [ntfy]}
  warning: {policy: later, channels: [ntfy]}
  info: {policy: later, channels: [ntfy]}
policies:
  later: {steps: [{after: 2m, notify: [piet]}]}
caregivers:
  piet: {channels: [{type: ntfy, topic: huis-jansen-piet-q7k2m9}]}
"""
    cfg = parse_alerts(load_text(text, "t.yaml"), demo_config.caregivers)
    async with harness(tmp_path / "huis.db", clock, cfg, demo_config, [NtfyChannel(server=ntfy.url)]) as h:
        alert_id = await h.svc.raise_alert(key="door", scenario="door_open", severity="warning",
                                           message="De voordeur staat open.", context=ctx(), data={})
        await h.advance(minutes=1)
        assert await h.svc.resolve_alert(key="door", reason="De voordeur is weer dicht.",
                                         context=Context(origin="rule:door_open"))
        await h.advance(minutes=5)
        alert = await h.svc.get(alert_id)
        assert alert is not None and (alert.state, alert.resolution) == ("cancelled", "cancelled")
        assert ntfy.messages == []
        assert [a for a, _ in h.actions()] == ["raised", "cancelled"]


async def test_english_speaking_caregiver_reads_english(
        tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        ntfy: NtfyServer) -> None:
    caregivers = dict(demo_config.caregivers)
    caregivers["piet"] = caregivers["piet"].model_copy(update={"language": "en"})
    home = demo_config.model_copy(update={"caregivers": caregivers})
    async with harness(tmp_path / "huis.db", clock, alerts_config, home,
                       [NtfyChannel(server=ntfy.url), PageChannel()]) as h:
        alert_id = await h.svc.raise_alert(
            key="sos", scenario="sos", severity="urgent", message="Mevrouw Jansen heeft op de alarmknop gedrukt.",
            context=ctx(), data={"message_en": "Mevrouw Jansen pressed the alarm button."})
        await h.advance(minutes=3)
        await h.svc.acknowledge(alert_id, by="anna", channel="ntfy")
        await h.advance()
    first = ntfy.to(TOPIC["piet"])[0]
    assert (first["title"], first["message"]) == ("Urgent: Mevrouw Jansen", "Mevrouw Jansen pressed the alarm button.")
    assert [a["label"] for a in first["actions"]] == ["I'm on my way", "View"]
    assert first["actions"][1]["url"].endswith("?lang=en")
    assert ntfy.to(TOPIC["piet"])[-1]["message"] == "Anna is on the way to Mevrouw Jansen."
    assert ntfy.to(TOPIC["buur"])[-1]["message"] == "Anna gaat erheen."


async def test_concurrent_raises_and_acknowledgements(alerts: Harness, ntfy: NtfyServer) -> None:
    async def raise_(key: str, severity: str = "urgent", origin: str | None = None) -> str:
        return await alerts.svc.raise_alert(key=key, scenario="sos", severity=severity,
                                            message="Alarmknop.", context=ctx(),
                                            data={"origin": origin} if origin else {})

    # One warning key twenty times at once, one urgent occurrence (same origin) twenty times,
    # among twenty others: writes share transactions, and the duplicate origins fail alone
    # (each write has its own savepoint) without taking others down.
    ids = await asyncio.gather(*(raise_("same", "warning") for _ in range(20)),
                               *(raise_("once", origin="run-1/actions[0]") for _ in range(20)),
                               *(raise_(f"k{i}") for i in range(20)))
    assert len(set(ids[:20])) == 1
    assert len(set(ids[20:40])) == 1
    assert len(set(ids[40:])) == 20
    rows = await alerts.db.fetchall("SELECT key, COUNT(*) AS n, SUM(repeats) AS r FROM alerts GROUP BY key")
    assert {r["key"]: (r["n"], r["r"]) for r in rows} == {
        "same": (1, 19), "once": (1, 0), **{f"k{i}": (1, 0) for i in range(20)}}
    assert await alerts.svc.store.verify_audit() is None
    await alerts.advance()

    outcomes = await asyncio.gather(alerts.svc.acknowledge(ids[20], by="piet", channel="ntfy"),
                                    alerts.svc.acknowledge(ids[20], by="anna", channel="dashboard"))
    assert sorted(o.reason for o in outcomes) == ["acknowledged", "already"]
    winner = next(o.by for o in outcomes if o.ok)
    assert all(o.by == winner for o in outcomes)


async def test_alert_data_is_kept_as_json(alerts: Harness) -> None:
    when = datetime(2026, 1, 5, 23, 10, tzinfo=UTC)
    alert_id = await alerts.svc.raise_alert(key="k", scenario="night", severity="warning", message="m",
                                            context=ctx(), data={"trigger": {"time": when, "for": 600}})
    live = alerts.svc.active()[0]
    assert live.data == {"trigger": {"time": "2026-01-05 23:10:00+00:00", "for": 600}}
    json.dumps(live.as_dict())  # what the dashboard's feed sends
    stored = await alerts.svc.store.get(alert_id)
    assert stored is not None and stored.data == live.data


async def test_public_url_is_what_phones_get(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig, ntfy: NtfyServer) -> None:
    text = """
public_url: https://huis.example.nl/zorg
severities:
  urgent: {policy: p, channels: [ntfy]}
  warning: {policy: p, channels: [ntfy]}
  info: {policy: p, channels: [ntfy]}
policies:
  p: {steps: [{after: 0m, notify: [piet]}]}
caregivers:
  piet: {channels: [{type: ntfy, topic: huis-jansen-piet-q7k2m9}]}
"""
    cfg = parse_alerts(load_text(text, "t.yaml"), demo_config.caregivers)
    async with harness(tmp_path / "huis.db", clock, cfg, demo_config, [NtfyChannel(server=ntfy.url)],
                       base_url="http://127.0.0.1:8080") as h:
        await h.svc.raise_alert(key="sos", scenario="sos", severity="urgent", message="m", context=ctx(), data={})
        await h.advance()
    assert ntfy.messages[0]["click"].startswith("https://huis.example.nl/zorg/alerts/ack/")
