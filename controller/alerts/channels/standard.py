"""The channels a hub ships with, configured from `channels:` in config/alerts.yaml.

Kept apart from the service so the service depends only on the `Channel` protocol, and a test
or another front end can hand it any channels it likes.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.alerts.channels.apprise_channel import AppriseChannel
from controller.alerts.channels.base import Channel
from controller.alerts.channels.homeassistant import HomeAssistantChannel
from controller.alerts.channels.mqtt import MqttChannel
from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import AlertsConfig
from controller.mqtt import Link


def _option(section: Mapping[str, object], key: str) -> str | None:
    value = section.get(key)
    return str(value) if value is not None else None


def default_channels(config: AlertsConfig, link: Link) -> list[Channel]:
    """ntfy, Apprise, MQTT over `link` and the dashboard page; Home Assistant when it has a url."""
    s = config.channel_settings
    ntfy = s.get("ntfy", {})
    ha = s.get("homeassistant", {})
    out: list[Channel] = [
        # No server named, no ntfy: a hub never publishes to a public server by default.
        NtfyChannel(server=_option(ntfy, "server"), token_env=_option(ntfy, "token_env")),
        AppriseChannel(),
        MqttChannel(link, topic=_option(s.get("mqtt", {}), "topic") or "huis/alerts"),
        PageChannel(),
    ]
    if ha.get("url"):
        out.append(HomeAssistantChannel(url=str(ha["url"]), token_env=_option(ha, "token_env")))
    return out
