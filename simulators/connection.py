"""The connection seam of the simulators: what they publish through, and an in-memory broker.

Simulators never import aiomqtt. On a real broker they talk through a `BrokerConnection`, a
thin router around `controller.mqtt.MqttLink`; in unit tests and dry runs they use a
`MemoryBus`, which delivers to subscribers synchronously and keeps retained messages like a
broker does. Both are a `Connection`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from controller.broker_auth import SIMULATORS, credentials_folder, read_secret
from controller.clock import Clock
from controller.config import HomeConfig
from controller.mqtt import LinkSettings, MqttLink

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]


class Publisher(Protocol):
    """Where simulators send MQTT messages (MqttLink and MemoryBus both fit)."""

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Queue a message; never blocks."""
        ...


class Connection(Publisher, Protocol):
    """A publisher that can also subscribe, and tell when what it sent has reached the broker."""

    def subscribe(self, flt: str, handler: Handler) -> None:
        """Deliver messages matching `flt` to `handler(topic, payload)`."""
        ...

    async def flush(self) -> None:
        """Return once everything sent so far is at the broker (wrap in asyncio.timeout)."""
        ...


def simulator_account(cfg: HomeConfig, settings: LinkSettings) -> LinkSettings:
    """`settings` logged in as the simulated devices' own account when the home has one
    (`huis-simulators`: device state yes, commands and the hub's topics no; docs/broker.md),
    never as the hub."""
    secret = read_secret(credentials_folder(cfg), SIMULATORS)
    if secret is None:
        return settings
    return dataclasses.replace(settings, username=SIMULATORS, password=secret)


def encode(payload: Mapping[str, Any]) -> bytes:
    """JSON the way Zigbee2MQTT and ESPresense write it: compact, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def topic_matches(flt: str, topic: str) -> bool:
    """MQTT topic filter matching with '+' and '#'."""
    f_parts, t_parts = flt.split("/"), topic.split("/")
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(f_parts) == len(t_parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """One message that went over a MemoryBus."""

    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> Any:
        """The payload decoded as JSON."""
        return json.loads(self.payload)


class MemoryBus:
    """An in-process broker: records every message, keeps retained ones, fans out to subscribers."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.retained: dict[str, bytes] = {}
        self._subs: list[tuple[str, Handler]] = []

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.sent.append(Sent(topic=topic, payload=payload, qos=qos, retain=retain))
        if retain:
            # As on a broker, an empty retained payload clears the retained message.
            if payload:
                self.retained[topic] = payload
            else:
                self.retained.pop(topic, None)
        for flt, handler in list(self._subs):
            if topic_matches(flt, topic):
                handler(topic, payload)

    def subscribe(self, flt: str, handler: Handler) -> None:
        """Deliver matching messages to `handler`, starting with retained ones."""
        self._subs.append((flt, handler))
        for topic, payload in list(self.retained.items()):
            if topic_matches(flt, topic):
                handler(topic, payload)

    async def flush(self) -> None:
        """Delivery is synchronous: everything is there already."""

    def on(self, topic: str) -> list[Sent]:
        """Messages sent to exactly `topic`, in order."""
        return [m for m in self.sent if m.topic == topic]

    def last(self, topic: str) -> Any:
        """The JSON payload last sent to `topic`; KeyError when none was."""
        found = self.on(topic)
        if not found:
            raise KeyError(f"nothing was sent to {topic}")
        return found[-1].json()


_nonces = itertools.count(1)


class BrokerConnection:
    """A real broker, through the hub's self-healing `MqttLink`, with per-filter routing.

    `flush()` publishes a marker to a topic only this connection subscribes to and waits for it
    to come back: the link sends in order and waits for each acknowledgement, so once the marker
    returns, everything sent before it is at the broker. That lets `huis simulate` exit (and a
    stopping home say `offline`) without losing the last messages.
    """

    def __init__(self, settings: LinkSettings, clock: Clock) -> None:
        self.settings = settings
        self._routes: list[tuple[str, Handler]] = []
        self._markers: dict[bytes, asyncio.Event] = {}
        self.flush_topic = f"huis/simulators/flush/{settings.client_id}"
        self.link = MqttLink(settings, clock, self._dispatch)
        self.link.subscribe(self.flush_topic)

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.link.send(topic, payload, qos=qos, retain=retain)

    def subscribe(self, flt: str, handler: Handler) -> None:
        self._routes.append((flt, handler))
        self.link.subscribe(flt)

    async def run(self) -> None:
        """Keep the connection up until cancelled."""
        await self.link.run()

    async def connected(self) -> None:
        """Wait until the broker accepted us (wrap in asyncio.timeout: it retries forever)."""
        await self.link.connected.wait()

    async def flush(self) -> None:
        marker = f"{next(_nonces)}".encode()
        done = self._markers[marker] = asyncio.Event()
        self.link.send(self.flush_topic, marker, qos=1)
        try:
            await done.wait()
        finally:
            self._markers.pop(marker, None)
        # The echo can overtake the broker's acknowledgement of the marker itself: wait for that
        # too, so a stop right after a flush never cancels a publish in flight.
        await self.link.drain()

    def _dispatch(self, topic: str, payload: bytes) -> None:
        if topic == self.flush_topic:
            event = self._markers.get(payload)
            if event is not None:
                event.set()
            return
        for flt, handler in self._routes:
            if topic_matches(flt, topic):
                try:
                    handler(topic, payload)
                except Exception:
                    log.exception("simulator handler for %s failed on %s", flt, topic)
