"""No secret on a topic others can read, no public notification topic in the repository (issue 9).

The shipped config names no ntfy topic and no public server; a first start generates an
unguessable topic per caregiver into a 0600 file that later starts reuse; the MQTT alert channel
publishes no link and no token (checked on a real mosquitto).
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from controller.alerts.channels.mqtt import MqttChannel
from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.channels.standard import default_channels
from controller.alerts.policy import AlertsConfig
from controller.alerts.topics import TOPICS_FILE_NAME
from controller.clock import RealClock, VirtualClock
from controller.config import HomeConfig
from controller.mqtt import LinkSettings, MqttLink
from controller.testing import MemoryLink
from tests.alerts.conftest import harness
from tests.alerts.fakes import NtfyServer
from tests.alerts.test_channels import config_for, raise_sos
from tests.conftest import ROOT, Mosquitto
from tests.support import eventually

SHIPPED = ROOT / "config" / "alerts.yaml"


def test_the_shipped_config_names_no_ntfy_topic_and_no_public_server(alerts_config: AlertsConfig) -> None:
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    ntfy_channels = [ch for cg in raw["caregivers"].values() for ch in cg["channels"] if ch["type"] == "ntfy"]
    assert len(ntfy_channels) == 4  # the rule was read: every caregiver has an ntfy channel ...
    assert [ch.get("topic", "generate") for ch in ntfy_channels] == ["generate"] * 4  # ... none with a topic
    # The demo's ntfy is the local stand-in, and nothing falls back to a public server.
    assert alerts_config.channel_settings["ntfy"]["server"] == "http://127.0.0.1:8093"
    no_server = AlertsConfig(policies=alerts_config.policies, severities=alerts_config.severities)
    ntfy = next(c for c in default_channels(no_server, MemoryLink()) if isinstance(c, NtfyChannel))
    assert ntfy.server is None


async def test_a_first_start_generates_unguessable_topics_kept_0600_and_stable_across_restarts(
        tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / TOPICS_FILE_NAME
    assert not path.exists()
    async with NtfyServer() as ntfy:
        channels = [NtfyChannel(server=ntfy.url), PageChannel()]
        async with harness(tmp_path / "huis.db", clock, alerts_config, demo_config, channels, topics=None) as h:
            await raise_sos(h)
            await h.advance()
        first = json.loads(path.read_text(encoding="utf-8"))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert sorted(first) == ["anna", "buur", "piet", "team"]
        assert len(set(first.values())) == 4 and all(len(t) >= 32 for t in first.values())
        assert [m["topic"] for m in ntfy.messages] == [first["piet"]]  # step 1 pages Piet, on his topic
        printed = capsys.readouterr().err
        assert all(t in printed for t in first.values())  # shown once, for the technician

        path.chmod(0o644)  # someone loosened it: the next start narrows it again
        channels = [NtfyChannel(server=ntfy.url), PageChannel()]
        async with harness(tmp_path / "huis.db", clock, alerts_config, demo_config, channels, topics=None) as h:
            await h.advance()
    assert json.loads(path.read_text(encoding="utf-8")) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not any(t in capsys.readouterr().err for t in first.values())  # not shown again


class Listener:
    """Someone else on the broker who may read the alert topics."""

    def __init__(self, broker: Mosquitto) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.link = MqttLink(LinkSettings(host=broker.host, port=broker.port, client_id="listener",
                                          status_topic="listener/status"),
                             RealClock(), lambda t, p: self.messages.append((t, p)))
        self.link.subscribe("huis/alerts/#")


@pytest.fixture
async def on_broker(mosquitto: Mosquitto) -> AsyncIterator[tuple[MqttLink, Listener]]:
    hub_link = MqttLink(LinkSettings(host=mosquitto.host, port=mosquitto.port, client_id="hub-test"),
                        RealClock(), lambda t, p: None)
    listener = Listener(mosquitto)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(hub_link.run()), tg.create_task(listener.link.run())]
        await eventually(lambda: hub_link.connected.is_set() and listener.link.connected.is_set())
        yield hub_link, listener
        for t in tasks:
            t.cancel()


@pytest.mark.broker
async def test_nothing_published_on_the_alert_topics_carries_a_link_or_token(
        tmp_path: Path, clock: VirtualClock, demo_config: HomeConfig,
        on_broker: tuple[MqttLink, Listener]) -> None:
    hub_link, listener = on_broker
    cfg = config_for(demo_config, """
  anna:
    channels:
      - {type: mqtt}
      - {type: ntfy}
""")
    async with NtfyServer() as ntfy:
        channels = [MqttChannel(hub_link, topic="huis/alerts"), NtfyChannel(server=ntfy.url)]
        async with harness(tmp_path / "huis.db", clock, cfg, demo_config, channels) as h:
            alert_id = await raise_sos(h)
            await h.advance()
            await eventually(lambda: len(listener.messages) == 1)
            await h.svc.acknowledge(alert_id, by="piet", channel="dashboard")
            await h.advance()
            await eventually(lambda: len(listener.messages) == 2)
        # Anna's phone got her signed link on her private ntfy topic ...
        link = str(ntfy.messages[0]["actions"][0]["url"])
    token = link.rsplit("/", 1)[1]
    assert "/alerts/ack/" in link and len(token) > 20
    key = (tmp_path / "alerts.key").read_text(encoding="ascii").strip()
    # ... and the MQTT topic, which others may read, got neither link nor token nor key.
    assert [t for t, _ in listener.messages] == ["huis/alerts/anna", "huis/alerts/anna"]
    for _, payload in listener.messages:
        text = payload.decode("utf-8")
        assert "/alerts/ack/" not in text and "http" not in text
        assert token not in text and token[:16] not in text and key not in text
        msg = json.loads(text)
        assert msg["alert_id"] == alert_id and set(msg) == {
            "alert_id", "kind", "severity", "title", "message", "recipient", "key"}
