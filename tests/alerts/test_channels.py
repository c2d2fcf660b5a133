"""Each channel against a server speaking its real protocol; retries and fall-through."""

from __future__ import annotations

import asyncio
import email
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from controller.alerts.channels.apprise_channel import AppriseChannel
from controller.alerts.channels.homeassistant import HomeAssistantChannel
from controller.alerts.channels.mqtt import MqttChannel
from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import AlertsConfig, parse_alerts
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.mqtt import MemoryLink
from controller.yamlfile import load_text
from tests.alerts.conftest import TOPIC, ctx, harness
from tests.alerts.fakes import HomeAssistantServer, NtfyServer


@dataclass
class MailBox:
    """What a real SMTP server (aiosmtpd) received."""

    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), email.message_from_bytes(content)))
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[MailBox, int]]:
    box = MailBox()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(box, hostname="mail.huis.test"), "127.0.0.1", 0)
    try:
        yield box, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def config_for(home: HomeConfig, caregivers_yaml: str) -> AlertsConfig:
    text = f"""
severities:
  urgent:  {{policy: one, channels: [ntfy, homeassistant, apprise, mqtt, page]}}
  warning: {{policy: one, channels: [ntfy, apprise, page]}}
  info:    {{policy: one, channels: [page]}}
policies:
  one:
    steps: [{{after: 0m, notify: [anna]}}]
caregivers:
{caregivers_yaml}
"""
    return parse_alerts(load_text(text, "test-alerts.yaml"), home.caregivers)


async def raise_sos(h: object) -> str:
    svc = h.svc  # type: ignore[attr-defined]
    return str(await svc.raise_alert(key="sos", scenario="sos", severity="urgent",
                                     message="Mevrouw Jansen heeft op de alarmknop gedrukt.",
                                     context=ctx(), data={}))


def body_text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text/plain part")


async def test_failing_ntfy_falls_through_to_mail_after_retries_with_backoff(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig, ntfy: NtfyServer,
        smtp: tuple[MailBox, int]) -> None:
    box, port = smtp
    mail_url = f"mailto://127.0.0.1:{port}/?from=hub@huis.test&to=anna@example.org&mode=insecure"
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: ntfy, topic: {TOPIC['anna']}, retries: 2, backoff: 10s}}
      - {{type: apprise, url: "{mail_url}"}}
      - {{type: page}}
""")
    ntfy.fail_next = 3  # the ntfy server is broken for all three tries
    async with harness(tmp_path / "huis.db", clock, cfg, demo_config,
                       [NtfyChannel(server=ntfy.url), AppriseChannel(), PageChannel()]) as h:
        alert_id = await raise_sos(h)
        await h.advance(seconds=9)
        assert len(ntfy.http.requests) == 1 and box.messages == []  # type: ignore[union-attr]
        await h.advance(seconds=1)  # first retry after 10 s
        assert len(ntfy.http.requests) == 2  # type: ignore[union-attr]
        await h.advance(seconds=19)
        assert box.messages == []
        await h.advance(seconds=1)  # second retry 20 s later, then on to e-mail
        assert len(ntfy.http.requests) == 3  # type: ignore[union-attr]
        assert len(box.messages) == 1
        sender, rcpt, msg = box.messages[0]
        assert (sender, rcpt, msg["Subject"]) == ("hub@huis.test", ["anna@example.org"], "Dringend: Mevrouw Jansen")
        text = body_text(msg)
        assert "Mevrouw Jansen heeft op de alarmknop gedrukt." in text
        assert "Bevestig hier: http://hub.test:8080/alerts/ack/" in text

        timeline = await h.svc.timeline(alert_id)
        attempts = [(t["channel"], t["attempt"], t["ok"]) for t in timeline if t["type"] == "attempt"]
        assert attempts == [("ntfy", 1, False), ("ntfy", 2, False), ("ntfy", 3, False), ("apprise", 1, True)]
        assert all("500" in (t["error"] or "") for t in timeline if t["type"] == "attempt" and not t["ok"])
        delivered = [t for t in timeline if t["event"] == "delivered"]
        assert [(d["user"], d["channel"]) for d in delivered] == [("anna", "apprise")]
        alert = await h.svc.get(alert_id)
        assert alert is not None and alert.state == "delivered"


async def test_hung_channel_times_out_and_falls_through(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig, ntfy: NtfyServer) -> None:
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: ntfy, topic: {TOPIC['anna']}, retries: 0, timeout: 300ms}}
      - {{type: page}}
""")
    ntfy.hold = asyncio.Event()  # receives, never answers
    page = PageChannel()
    async with harness(tmp_path / "huis.db", clock, cfg, demo_config, [NtfyChannel(server=ntfy.url), page]) as h:
        alert_id = await raise_sos(h)
        await h.advance()
        assert [n.alert_id for n in page.for_caregiver("anna")] == [alert_id]
        attempts = [t for t in await h.svc.timeline(alert_id) if t["type"] == "attempt"]
        assert [(a["channel"], a["ok"]) for a in attempts] == [("ntfy", False), ("page", True)]
        assert "no answer within 0.3s" in attempts[0]["error"]
        assert attempts[0]["error"].startswith("outcome unknown: ")
        # The page alone is "shown", not "delivered": no phone is known to have it.
        assert ("shown", "anna") in h.actions() and ("delivered", "anna") not in h.actions()
        assert [e.data["channel"] for e in h.events if e.data["action"] == "shown"] == ["page"]
        alert = await h.svc.get(alert_id)
        assert alert is not None and alert.state == "shown"


async def test_every_channel_failing_is_recorded_and_escalation_goes_on(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig, ntfy: NtfyServer) -> None:
    cfg = config_for(demo_config, f"""
  anna:
    channels:
      - {{type: ntfy, topic: {TOPIC['anna']}, retries: 0}}
""")
    ntfy.fail_next = 1
    async with harness(tmp_path / "huis.db", clock, cfg, demo_config, [NtfyChannel(server=ntfy.url)]) as h:
        alert_id = await raise_sos(h)
        await h.advance()
        alert = await h.svc.get(alert_id)
        assert alert is not None and alert.state == "delivering"  # nobody reached (yet)
        events = [t["event"] for t in await h.svc.timeline(alert_id) if t["type"] == "transition"]
        assert events[-1] == "delivery_failed"


async def test_home_assistant_companion_app_gets_a_critical_notification(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    cfg = config_for(demo_config, """
  anna:
    channels:
      - {type: homeassistant, service: mobile_app_annas_telefoon}
""")
    async with HomeAssistantServer(token="ha-secret") as ha:
        channel = HomeAssistantChannel(url=ha.api_url, token="ha-secret")
        async with harness(tmp_path / "huis.db", clock, cfg, demo_config, [channel]) as h:
            alert_id = await raise_sos(h)
            await h.advance()
            await h.svc.acknowledge(alert_id, by="piet", channel="dashboard")
            await h.advance()
    assert [svc for svc, _ in ha.calls] == ["mobile_app_annas_telefoon", "mobile_app_annas_telefoon"]
    alarm, going = (data for _, data in ha.calls)
    assert alarm["title"] == "Dringend: Mevrouw Jansen"
    assert alarm["message"] == "Mevrouw Jansen heeft op de alarmknop gedrukt."
    data = alarm["data"]
    assert data["push"]["sound"]["critical"] == 1
    assert (data["priority"], data["ttl"], data["channel"]) == ("high", 0, "alarm_stream")
    assert [a["title"] for a in data["actions"]] == ["Ik ga erheen", "Bekijk"]
    assert data["actions"][0]["uri"].startswith("http://hub.test:8080/alerts/ack/")
    # The follow-up replaces the alarm on the phone: same tag.
    assert going["message"] == "Piet gaat erheen."
    assert going["data"]["tag"] == data["tag"] == f"huis-{alert_id}"
    assert "actions" not in going["data"]


async def test_home_assistant_refusing_is_a_failed_attempt(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    cfg = config_for(demo_config, """
  anna:
    channels:
      - {type: homeassistant, service: mobile_app_annas_telefoon, retries: 0}
      - {type: page}
""")
    async with HomeAssistantServer(token="ha-secret") as ha:
        channel = HomeAssistantChannel(url=ha.api_url, token="wrong-token")
        async with harness(tmp_path / "huis.db", clock, cfg, demo_config, [channel, PageChannel()]) as h:
            alert_id = await raise_sos(h)
            await h.advance()
            attempts = [t for t in await h.svc.timeline(alert_id) if t["type"] == "attempt"]
    assert [(a["channel"], a["ok"]) for a in attempts] == [("homeassistant", False), ("page", True)]
    assert ha.calls == []


async def test_mqtt_channel_publishes_json_through_the_hub_link(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig) -> None:
    cfg = config_for(demo_config, """
  anna:
    channels:
      - {type: mqtt}
""")
    link = MemoryLink()
    async with harness(tmp_path / "huis.db", clock, cfg, demo_config, [MqttChannel(link, topic="huis/alerts")]) as h:
        alert_id = await raise_sos(h)
        await h.advance()
    assert len(link.sent) == 1
    topic, payload, qos, retain = link.sent[0]
    assert (topic, qos, retain) == ("huis/alerts/anna", 1, False)
    msg = json.loads(payload)
    assert (msg["alert_id"], msg["severity"], msg["recipient"]) == (alert_id, "urgent", "anna")
    # Others may read the topic: no acknowledgement link, no link at all (issue 9).
    assert set(msg) == {"alert_id", "kind", "severity", "title", "message", "recipient", "key"}
    assert "/alerts/ack/" not in payload.decode()
