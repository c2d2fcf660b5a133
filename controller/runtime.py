"""Assemble a running hub from a configuration: link settings, TLS, the hub and its link."""

from __future__ import annotations

import ssl

from controller.clock import Clock
from controller.config import HomeConfig, Mqtt, resolve
from controller.hub import Hub
from controller.mqtt import LinkSettings, MqttLink


def link_settings(cfg: HomeConfig, mqtt: Mqtt) -> LinkSettings:
    """LinkSettings for a configured broker, with TLS files resolved against the config."""
    tls = None
    if mqtt.tls is not None:
        t = mqtt.tls
        tls = ssl.create_default_context(cafile=str(resolve(cfg, t.ca_file)) if t.ca_file else None)
        if t.cert_file:
            tls.load_cert_chain(str(resolve(cfg, t.cert_file)),
                                str(resolve(cfg, t.key_file)) if t.key_file else None)
        if t.insecure:
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    return LinkSettings(host=mqtt.host, port=mqtt.port, username=mqtt.username,
                        password=mqtt.password(), client_id=mqtt.client_id,
                        keepalive=mqtt.keepalive, tls=tls)


def build_hub(cfg: HomeConfig, clock: Clock, settings: LinkSettings) -> Hub:
    """A hub wired to a real MQTT link (not yet running: call `hub.run()`)."""
    hub = Hub(cfg, clock)
    link = MqttLink(settings, clock, hub.handle_message, on_connection=hub.link_status)
    link.subscribe(*hub.subscriptions())
    hub.link = link
    return hub
