"""Delivery that tells the truth (issue 14, item 6), against real local HTTP servers.

A slow server is not retried into duplicates; every attempt of one delivery carries the same
idempotency key; "delivered" means a push service for a person's phone took it, the page alone
is "shown".
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from controller.alerts.channels.homeassistant import HomeAssistantChannel
from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.delivery import idempotency_key
from controller.alerts.policy import AlertsConfig, parse_alerts
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.yamlfile import load_text
from tests.alerts.conftest import TOPIC, Harness, harness
from tests.alerts.fakes import HomeAssistantServer, NtfyServer
from tests.alerts.test_channels import config_for, raise_sos
from tests.conftest import free_port


def attempts_of(timeline: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(t["channel"], t["attempt"], t["ok"]) for t in timeline if t["type"] == "attempt"]


async def test_a_slow_ntfy_server_gets_the_alert_once_not_three_times(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    # The server publishes at once and answers long after the hub's 0.3 s timeout: the phone
    # has the alert, the hub cannot know. Retrying would put a copy on the phone per try.
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: ntfy, topic: {TOPIC['anna']}, timeout: 300ms, retries: 2, backoff: 2s}}
      - {{type: page}}
""")
    async with NtfyServer(answer_after=30.0) as ntfy:
        async with harness_for(tmp_path, clock, cfg, demo_config, NtfyChannel(server=ntfy.url)) as h:
            alert_id = await raise_sos(h)
            await h.advance(seconds=30)  # long past every retry the old code made
            timeline = await h.svc.timeline(alert_id)
            alert = await h.svc.get(alert_id)
        published = ntfy.to(TOPIC["anna"])
    assert len(published) == 1, f"the phone got {len(published)} copies"
    assert attempts_of(timeline) == [("ntfy", 1, False), ("page", 1, True)]
    ntfy_try = next(t for t in timeline if t["type"] == "attempt" and t["channel"] == "ntfy")
    assert str(ntfy_try["error"]).startswith("outcome unknown: ")
    # Only the page is sure to have it: "shown", and the timeline says ntfy's outcome is unknown.
    assert alert is not None and alert.state == "shown"
    shown = [t for t in timeline if t["event"] == "shown"]
    assert [(s["user"], s["channel"]) for s in shown] == [("anna", "page")]
    assert "outcome unknown on ntfy" in str(shown[0]["detail"])


async def test_a_slow_home_assistant_is_called_once_not_three_times(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    cfg = config_for(demo_config, """
  anna:
    channels:
      - {type: homeassistant, service: mobile_app_annas_telefoon, timeout: 300ms, retries: 2}
      - {type: page}
""")
    async with HomeAssistantServer(token="ha-secret", answer_late=asyncio.Event()) as ha:
        channels = [HomeAssistantChannel(url=ha.api_url, token="ha-secret"), PageChannel()]
        async with harness(tmp_path / "huis.db", clock, cfg, demo_config, channels) as h:
            alert_id = await raise_sos(h)
            await h.advance(seconds=30)
            timeline = await h.svc.timeline(alert_id)
        calls = list(ha.calls)
    assert len(calls) == 1  # was 3: one critical notification per try
    assert attempts_of(timeline) == [("homeassistant", 1, False), ("page", 1, True)]
    assert str(timeline[[t["type"] for t in timeline].index("attempt")]["error"]).startswith("outcome unknown: ")


async def test_an_unknown_outcome_is_neither_delivered_nor_failed(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: ntfy, topic: {TOPIC['anna']}, timeout: 300ms, retries: 2}}
""")
    async with NtfyServer(answer_after=30.0) as ntfy:
        async with harness_for(tmp_path, clock, cfg, demo_config, NtfyChannel(server=ntfy.url), page=False) as h:
            alert_id = await raise_sos(h)
            await h.advance(seconds=30)
            deliveries = await h.svc.store.deliveries(alert_id)
            events = [t["event"] for t in await h.svc.timeline(alert_id) if t["type"] == "transition"]
            alert = await h.svc.get(alert_id)
            # Anna may have it, so she counts as paged: she hears who is going.
            await h.svc.acknowledge(alert_id, by="piet", channel="dashboard")
            await h.advance(seconds=1)
        assert len(ntfy.to(TOPIC["anna"])) == 2  # the alert once, then "Piet gaat erheen"
    assert [(d.kind, d.status) for d in deliveries] == [("alert", "unknown")]
    assert events[-1] == "delivery_unknown"
    assert alert is not None and alert.state == "delivering"  # not confirmed: escalation goes on


async def test_a_refused_connection_is_still_retried(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    # Nothing listens: nothing can have been published, so retrying is safe and right.
    dead = f"http://127.0.0.1:{free_port()}"
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: ntfy, topic: {TOPIC['anna']}, retries: 2, backoff: 2s}}
      - {{type: page}}
""")
    async with harness_for(tmp_path, clock, cfg, demo_config, NtfyChannel(server=dead)) as h:
        alert_id = await raise_sos(h)
        await h.advance(seconds=10)
        timeline = await h.svc.timeline(alert_id)
    assert attempts_of(timeline) == [("ntfy", 1, False), ("ntfy", 2, False), ("ntfy", 3, False),
                                     ("page", 1, True)]
    assert all("could not be reached" in str(t["error"]) for t in timeline
               if t["type"] == "attempt" and not t["ok"])


async def test_every_attempt_of_a_delivery_carries_the_same_idempotency_key(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: ntfy, topic: {TOPIC['anna']}, retries: 2, backoff: 2s}}
""")
    async with NtfyServer(fail_next=2) as ntfy:
        async with harness_for(tmp_path, clock, cfg, demo_config, NtfyChannel(server=ntfy.url), page=False) as h:
            alert_id = await raise_sos(h)
            await h.advance(seconds=10)
            await h.svc.acknowledge(alert_id, by="piet", channel="dashboard")
            await h.advance(seconds=1)
            deliveries = await h.svc.store.deliveries(alert_id)
        assert ntfy.http is not None
        keys = [json.loads(r.body)["sequence_id"] for r in ntfy.http.requests]
        phone = ntfy.phone(TOPIC["anna"])
    alarm, going = deliveries
    assert keys == [idempotency_key(alarm)] * 3 + [idempotency_key(going)]
    assert idempotency_key(alarm) == f"huis-{alert_id}-d{alarm.id}"
    assert [m["title"] for m in phone] == ["Dringend: Mevrouw Jansen", "Iemand gaat erheen: Mevrouw Jansen"]


async def test_the_page_alone_is_shown_and_a_phone_makes_it_delivered(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    # Anna lists the page first: it shows the alert, and her phone is still tried after it.
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: page}}
      - {{type: ntfy, topic: {TOPIC['anna']}}}
""")
    async with NtfyServer() as ntfy:
        async with harness_for(tmp_path, clock, cfg, demo_config, NtfyChannel(server=ntfy.url)) as h:
            alert_id = await raise_sos(h)
            await h.advance()
            timeline = await h.svc.timeline(alert_id)
            alert = await h.svc.get(alert_id)
            actions = h.actions()
        assert len(ntfy.to(TOPIC["anna"])) == 1
    assert attempts_of(timeline) == [("page", 1, True), ("ntfy", 1, True)]
    assert alert is not None and alert.state == "delivered"
    assert ("delivered", "anna") in actions and ("shown", "anna") not in actions
    delivered = [t for t in timeline if t["event"] == "delivered"]
    assert [(d["user"], d["channel"]) for d in delivered] == [("anna", "ntfy")]


async def test_a_phone_reached_later_turns_shown_into_delivered(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    text = f"""
severities:
  urgent:  {{policy: two, channels: [ntfy, page]}}
  warning: {{policy: two, channels: [page]}}
  info:    {{policy: two, channels: [page]}}
policies:
  two:
    steps: [{{after: 0m, notify: [piet]}}, {{after: 3m, notify: [anna]}}]
caregivers:
  piet: {{channels: [{{type: page}}]}}
  anna: {{channels: [{{type: ntfy, topic: {TOPIC['anna']}}}]}}
"""
    cfg = parse_alerts(load_text(text, "two.yaml"), demo_config.caregivers)
    async with NtfyServer() as ntfy:
        async with harness_for(tmp_path, clock, cfg, demo_config, NtfyChannel(server=ntfy.url)) as h:
            alert_id = await raise_sos(h)
            await h.advance()
            first = await h.svc.get(alert_id)
            await h.advance(minutes=3)
            then = await h.svc.get(alert_id)
    assert first is not None and first.state == "shown"  # Piet's page only: escalation goes on
    assert then is not None and then.state == "delivered"  # Anna's phone


# -- helpers ----------------------------------------------------------------------------------

def harness_for(tmp_path: Path, clock: VirtualClock, cfg: AlertsConfig, home: HomeConfig,
                channel: NtfyChannel, *, page: bool = True) -> AbstractAsyncContextManager[Harness]:
    """The alert service with `channel` (and the page unless `page` is false) on a SQLite file."""
    return harness(tmp_path / "huis.db", clock, cfg, home, [channel, *([PageChannel()] if page else [])])
