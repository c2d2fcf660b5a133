"""Acknowledgement links: genuine ones work once; forged, expired and reused ones are refused."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.alerts.tokens import AckSigner, TokenError, load_or_create_key
from tests.alerts.conftest import TOPIC, Harness, ctx
from tests.alerts.fakes import NtfyServer

NOW = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)


def ack_token(ntfy: NtfyServer, who: str) -> str:
    """The token in the 'Ik ga erheen' button of the latest alert sent to `who`."""
    msg = [m for m in ntfy.to(TOPIC[who]) if m.get("actions")][-1]
    url = msg["actions"][0]["url"]
    return str(url.rsplit("/", 1)[1])


async def paged(alerts: Harness, minutes: float = 0) -> str:
    alert_id = await alerts.svc.raise_alert(key="sos", scenario="sos", severity="urgent",
                                            message="Mevrouw Jansen heeft op de alarmknop gedrukt.",
                                            context=ctx(), data={})
    await alerts.advance(minutes=minutes)
    return alert_id


async def test_a_genuine_link_acknowledges_once(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await paged(alerts, minutes=3)
    anna = ack_token(ntfy, "anna")
    outcome = await alerts.svc.acknowledge_link(anna)
    assert (outcome.ok, outcome.reason, outcome.by) == (True, "acknowledged", "anna")
    assert outcome.alert is not None and outcome.alert.acknowledged_via == "ntfy"

    again = await alerts.svc.acknowledge_link(anna)
    assert (again.ok, again.reason) == (False, "reused")

    # Piet's own link still works as a link, but Anna is already going.
    piet = ack_token(ntfy, "piet")
    late = await alerts.svc.acknowledge_link(piet)
    assert (late.ok, late.reason, late.by) == (False, "already", "anna")
    assert (await alerts.svc.acknowledge_link(piet)).reason == "reused"

    await alerts.advance(minutes=10)
    going = sorted(m["topic"] for m in ntfy.messages if m["message"] == "Anna gaat erheen.")
    assert going == sorted([TOPIC["piet"], TOPIC["buur"]])
    alert = await alerts.svc.get(alert_id)
    assert alert is not None and alert.state == "acknowledged"
    refused = [r for r in await alerts.svc.audit() if r["event"] == "ack_link_refused"]
    assert [r["detail"] for r in refused] == ["reused", "reused"]


def tampered(token: str, **changes: str) -> str:
    body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    new = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{new}.{sig}"


async def test_forged_links_are_refused(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await paged(alerts)
    good = ack_token(ntfy, "piet")
    body, sig = good.split(".")
    other_key = AckSigner(os.urandom(32)).issue(alert_id=alert_id, recipient="piet", channel="ntfy",
                                                now=alerts.clock.now(), ttl=timedelta(hours=1))
    forgeries = [
        f"{body}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}",  # signature altered
        tampered(good, r="mallory"),  # claims altered, signature kept
        tampered(good, e="4102444800"),  # expiry pushed to 2100
        other_key,  # signed with someone else's key
        "", "nonsense", "a.b", f"{body}.", f".{sig}", "é.é",
    ]
    for forged in forgeries:
        outcome = await alerts.svc.acknowledge_link(forged)
        assert (outcome.ok, outcome.reason) == (False, "forged"), forged
    alert = await alerts.svc.get(alert_id)
    assert alert is not None and alert.state == "delivered"
    refused = [r for r in await alerts.svc.audit() if r["event"] == "ack_link_refused"]
    # Ten refusals from one sender: the 1st and the 10th are written, the 10th with its count.
    assert len(refused) == 2
    assert all(r["detail"].startswith("forged") for r in refused)
    assert "10 refused within 10 minutes" in refused[0]["detail"]
    # The genuine link was not burnt by the forgeries.
    assert (await alerts.svc.acknowledge_link(good)).ok


async def test_expired_links_are_refused(alerts: Harness, ntfy: NtfyServer) -> None:
    alert_id = await paged(alerts)
    token = ack_token(ntfy, "piet")
    await alerts.clock.advance(hours=12)  # ack_link_ttl in config/alerts.yaml
    outcome = await alerts.svc.acknowledge_link(token)
    assert (outcome.ok, outcome.reason) == (False, "expired")
    alert = await alerts.svc.get(alert_id)
    assert alert is not None and alert.state != "acknowledged"


def test_signer_checks_expiry_to_the_second() -> None:
    signer = AckSigner(b"k" * 32)
    token = signer.issue(alert_id="al-1", recipient="anna", channel="ntfy", now=NOW, ttl=timedelta(minutes=5))
    claims = signer.verify(token, now=NOW + timedelta(minutes=4, seconds=59))
    assert (claims.alert_id, claims.recipient, claims.channel) == ("al-1", "anna", "ntfy")
    with pytest.raises(TokenError) as err:
        signer.verify(token, now=NOW + timedelta(minutes=5))
    assert err.value.reason == "expired"
    # Two links for the same alert and person differ (each has its own nonce).
    assert token != signer.issue(alert_id="al-1", recipient="anna", channel="ntfy", now=NOW,
                                 ttl=timedelta(minutes=5))


def test_key_file_is_created_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "alerts.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key  # the same key after a restart: old links stay valid
    path.chmod(0o644)
    assert load_or_create_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
