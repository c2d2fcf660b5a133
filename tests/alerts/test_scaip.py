"""SCAIP to an alarm centre, against SIPp as the centre (tests/data/sipp/*.xml)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from controller.alerts.channels.page import PageChannel
from controller.alerts.channels.scaip import ScaipChannel, device_type, mrq, parse_mrs
from controller.alerts.model import ChannelTarget, Notification, Recipient
from controller.alerts.policy import load_alerts
from controller.alerts.service import AlertService
from controller.alerts.sip import SipError, SipPeer, SipUri, parse_datagram, response_to
from controller.bus import EventBus
from controller.clock import VirtualClock
from controller.errors import DeliveryError
from controller.events import Context
from controller.store import Database
from tests.alerts.sipp import sipp
from tests.support import eventually

CENTRE = Recipient(id="alarmcentrale", name="Alarmcentrale")


def note(kind: str = "alert") -> Notification:
    return Notification(alert_id="a1", kind=kind, severity="urgent", title="Urgent: Jansen",
                        message="Niet terug in bed", recipient=CENTRE, view_url="http://hub/x")


def target(uri: str, transport: str, **options: object) -> ChannelTarget:
    return ChannelTarget(type="scaip", options={"uri": uri, "cid": "huis-0001", "transport": transport,
                                                **options}, timeout=timedelta(seconds=2))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_accept_is_a_delivery(tmp_path: Path, transport: str) -> None:
    async with sipp("accept", transport, tmp_path) as centre:
        receipt = await ScaipChannel().send(note(), target(centre.uri(), transport))
    assert receipt is not None and receipt.startswith("snu 0 ref ")
    sent = centre.trace()
    assert "application/scaip+xml" in sent and "<cid>huis-0001</cid>" in sent and "<pri>1</pri>" in sent


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_answer_in_the_200_ok(tmp_path: Path, transport: str) -> None:
    async with sipp("accept_200ok", transport, tmp_path) as centre:
        receipt = await ScaipChannel().send(note(), target(centre.uri(), transport, response="200ok"))
    assert receipt is not None and receipt.startswith("snu 0")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_busy_is_a_failed_attempt(tmp_path: Path, transport: str) -> None:
    async with sipp("busy", transport, tmp_path) as centre:
        with pytest.raises(DeliveryError, match=r"snu 6 \(busy\)"):
            await ScaipChannel().send(note(), target(centre.uri(), transport))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_malformed_reply_is_a_failed_attempt(tmp_path: Path, transport: str) -> None:
    async with sipp("malformed", transport, tmp_path) as centre:
        with pytest.raises(DeliveryError, match="not XML"):
            await ScaipChannel().send(note(), target(centre.uri(), transport))


async def test_nobody_listening_is_a_clear_error() -> None:
    with pytest.raises(SipError, match="could not reach"):
        await ScaipChannel().send(note(), target("sip:centrale@127.0.0.1:9", "tcp"))


def test_device_types_and_documents() -> None:
    assert [device_type(s) for s in ("medication", "night_exit", "front_door", "wander", "sos")] == \
        ["0011", "0012", "0014", "0015", "0000"]
    assert device_type("sos", {"sos": "0001"}) == "0001"
    assert parse_mrs(b"<mrs><ref>r1</ref><snu>6</snu></mrs>").snu == 6
    for bad in (b"<mrq><ref>r</ref><snu>0</snu></mrq>", b"<mrs><ref>r</ref><snu>9</snu></mrs>",
                b'<!DOCTYPE x [<!ENTITY a "b">]><mrs/>'):
        with pytest.raises(DeliveryError):
            parse_mrs(bad)
    with pytest.raises(SipError, match="not SIP"):
        parse_datagram(b"HELLO\r\n\r\n")


ALERTS_YAML = """
severities:
  urgent: {policy: urgent, channels: [scaip, page]}
  warning: {policy: urgent, channels: [page]}
  info: {policy: urgent, channels: [page]}
policies:
  urgent:
    steps:
      - {after: 0m, notify: [alarmcentrale]}
      - {after: 3m, notify: [piet]}
caregivers:
  alarmcentrale:
    channels:
      - {type: scaip, uri: "URI", transport: TRANSPORT, cid: huis-0001, timeout: 2s, retries: 1, backoff: 1s}
  piet:
    channels: [{type: page}]
"""


@contextlib.asynccontextmanager
async def service(tmp_path: Path, uri: str, transport: str) -> AsyncIterator[tuple[AlertService, VirtualClock]]:
    path = tmp_path / "alerts.yaml"
    path.write_text(ALERTS_YAML.replace("URI", uri).replace("TRANSPORT", transport))
    config = load_alerts(path, ["alarmcentrale", "piet"])
    clock = VirtualClock()
    db = await Database.connect(tmp_path / "huis.db")
    who = {"alarmcentrale": Recipient(id="alarmcentrale", name="Alarmcentrale",
                                      channels=config.caregiver_channels["alarmcentrale"]),
           "piet": Recipient(id="piet", name="Piet", channels=config.caregiver_channels["piet"])}
    svc = AlertService(db=db, clock=clock, bus=EventBus(), resident="R1", config=config, caregivers=who,
                       channels=[ScaipChannel(), PageChannel()], base_url="http://hub.test")
    task = asyncio.create_task(svc.run())
    try:
        yield svc, clock
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await svc.aclose()
        await db.close()


async def raise_night_alert(svc: AlertService) -> str:
    return await svc.raise_alert(key="night_exit", scenario="night_exit", severity="urgent",
                                 message="Niet terug in bed", data={},
                                 context=Context(origin="rule:night_exit", description="test"))


async def advance(svc: AlertService, clock: VirtualClock, minutes: int) -> None:
    await svc.settled()
    for _ in range(minutes * 60):
        await clock.advance(seconds=1)
        await svc.settled()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_centre_acknowledges_and_escalation_stops(tmp_path: Path, transport: str) -> None:
    async with sipp("accept", transport, tmp_path) as centre, \
            service(tmp_path, centre.uri(), transport) as (svc, clock):
        alert_id = await raise_night_alert(svc)
        await advance(svc, clock, 5)
        alert = await svc.get(alert_id)
        assert alert is not None and alert.state == "acknowledged"
        assert alert.acknowledged_by == "alarmcentrale" and alert.acknowledged_via == "scaip"
        audit = await svc.audit(alert_id=alert_id)
        assert any(a["event"] == "acknowledged" and a["user"] == "alarmcentrale" for a in audit)
        assert not any(a["user"] == "piet" and a["event"] == "delivered" for a in audit)
        assert "<dty>0012</dty>" in centre.trace()


@pytest.mark.parametrize(("scenario", "transport"), [("silence", "udp"), ("silence", "tcp"), ("busy", "tcp")])
async def test_silent_or_busy_centre_falls_through_to_the_next_step(tmp_path: Path, scenario: str,
                                                                    transport: str) -> None:
    async with sipp(scenario, transport, tmp_path) as centre, \
            service(tmp_path, centre.uri(), transport) as (svc, clock):
        alert_id = await raise_night_alert(svc)
        await advance(svc, clock, 4)
        audit = await svc.audit(alert_id=alert_id)
        # Busy is a refusal: retried, then failed. Silence after the 200 OK is "unknown" (the
        # centre has the mrq but never said what it did), never sent there again.
        expected = "delivery_unknown" if scenario == "silence" else "delivery_failed"
        assert any(a["event"] == expected and a["user"] == "alarmcentrale" for a in audit), audit
        # The policy's next step still pages Piet (his page channel: "shown").
        assert any(a["event"] in ("delivered", "shown") and a["user"] == "piet" for a in audit), audit
        alert = await svc.get(alert_id)
        assert alert is not None and alert.state not in ("acknowledged", "resolved")
        assert centre.trace().count("<ref>") >= (1 if scenario == "silence" else 2)


async def test_heartbeats_follow_the_virtual_clock(tmp_path: Path) -> None:
    async with sipp("heartbeat", "tcp", tmp_path) as centre:
        clock = VirtualClock()
        t = target(centre.uri(), "tcp", heartbeat=timedelta(minutes=15))
        channel = ScaipChannel(centres={"alarmcentrale": t})
        channel.clock = clock
        task = asyncio.create_task(channel.run())
        await clock.wait_idle()
        assert list(channel.heartbeats) == []  # nothing before the first interval
        await clock.advance(minutes=14)
        assert list(channel.heartbeats) == []
        await clock.advance(minutes=1)
        await eventually(lambda: len(channel.heartbeats) == 1)  # real I/O to SIPp
        await clock.advance(minutes=15)
        await eventually(lambda: len(channel.heartbeats) == 2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    beats = list(channel.heartbeats)
    assert all(b.ok for b in beats), beats
    assert [b.at - beats[0].at for b in beats] == [timedelta(0), timedelta(minutes=15)]
    assert centre.trace().count("<mty>PI</mty>") == 2


async def test_tls_against_a_local_tls_peer(tmp_path: Path) -> None:
    # SIPp in Debian is built without TLS: a small asyncio TLS server plays the centre.
    openssl = await asyncio.create_subprocess_exec(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost", "-keyout", str(tmp_path / "key.pem"),
        "-out", str(tmp_path / "cert.pem"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert await openssl.wait() == 0
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    got: list[bytes] = []

    async def centre(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        msg = parse_datagram(head)
        body = await reader.readexactly(int(msg.header("content-length") or 0))
        got.append(body)
        ok = response_to(msg, 200, "OK")
        reply = b"<mrs><ref>" + body.split(b"<ref>")[1].split(b"</ref>")[0] + b"</ref><snu>0</snu></mrs>"
        writer.write(type(ok)(start=ok.start, headers=ok.headers, body=reply).render())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(centre, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    async with server:
        t = target(f"sip:centrale@localhost:{port}", "tls", response="200ok", ca_file=str(tmp_path / "cert.pem"))
        receipt = await ScaipChannel().send(note(), t)
    assert receipt is not None and receipt.startswith("snu 0") and b"<cid>huis-0001</cid>" in got[0]


async def test_tls_refuses_an_unknown_certificate(tmp_path: Path) -> None:
    uri = SipUri.parse("sip:centrale@localhost:9")
    with pytest.raises(SipError):
        async with SipPeer(uri, transport="tls", clock=VirtualClock(), local_uri="sip:huis@localhost"):
            pass
    assert mrq  # the document builder is exercised by every SIPp test above


def test_config_problems_name_file_and_line(tmp_path: Path) -> None:
    from controller.errors import ConfigError

    path = tmp_path / "alerts.yaml"
    path.write_text(ALERTS_YAML.replace("URI", "sip:a@b").replace("TRANSPORT", "sctp"))
    with pytest.raises(ConfigError, match=r"alerts.yaml:\d+: .*scaip: transport 'sctp' is not one of udp, tcp, tls"):
        load_alerts(path, ["alarmcentrale", "piet"])
    path.write_text(ALERTS_YAML.replace("URI", "sip:a@b").replace("TRANSPORT", "tcp")
                    .replace("backoff: 1s}", "backoff: 1s, heartbeat: 15m}"))
    hb = load_alerts(path, ["alarmcentrale", "piet"]).caregiver_channels["alarmcentrale"][0].options["heartbeat"]
    assert hb == timedelta(minutes=15)
