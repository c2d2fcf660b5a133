"""The centre's MQTT side, on the NATS cluster's MQTT ports: the only central module that imports aiomqtt.

Commands to homes go out here as MQTT QoS 1 publishes (through NATS's MQTT, so a home whose
link is down gets them from its persistent session when it comes back). The publisher keeps a
persistent session of its own and moves to the next node when its node goes away.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

import aiomqtt

from controller.clock import Clock
from controller.errors import DeliveryError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    """The cluster's MQTT listeners and the centre's account on them."""

    addresses: tuple[tuple[str, int], ...]
    user: str
    password: str
    tls: ssl.SSLContext | None = None
    client_id: str = "huis-central"
    timeout: float = 10.0  # for one PUBACK
    backoff_initial: float = 0.2
    backoff_max: float = 5.0

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("at least one MQTT address of the cluster is needed")


def _client(s: MqttSettings, address: tuple[str, int], client_id: str, *, persistent: bool) -> aiomqtt.Client:
    return aiomqtt.Client(address[0], address[1], username=s.user, password=s.password, identifier=client_id,
                          tls_context=s.tls, timeout=s.timeout, keepalive=30, clean_session=not persistent)


async def wake_mqtt_streams(s: MqttSettings) -> None:
    """Connect once, so NATS creates its MQTT streams before the ingest's consumer on `$MQTT_msgs` is made."""
    errors = []
    for address in s.addresses:
        try:
            async with _client(s, address, f"{s.client_id}-init", persistent=False):
                return
        except aiomqtt.MqttError as exc:
            errors.append(f"{address[0]}:{address[1]}: {exc}")
    raise DeliveryError("no MQTT listener of the cluster answered: " + "; ".join(errors))


class Publisher:
    """QoS 1 publishes to the cluster, each awaited until its PUBACK; `run()` keeps the connection."""

    def __init__(self, settings: MqttSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self.connects = 0

    async def run(self) -> None:
        s = self.settings
        i, delay = 0, s.backoff_initial
        while True:
            address = s.addresses[i % len(s.addresses)]
            try:
                async with _client(s, address, s.client_id, persistent=True) as client:
                    self._client, delay = client, s.backoff_initial
                    self._lost.clear()
                    self._connected.set()
                    self.connects += 1
                    log.info("commands: connected to MQTT %s:%d", *address)
                    await self._lost.wait()
            except aiomqtt.MqttError as exc:
                log.warning("commands: MQTT %s:%d: %s; next node in %.1f s", address[0], address[1], exc, delay)
            finally:
                self._client = None
                self._connected.clear()
            i += 1
            await self.clock.sleep(delay)
            delay = min(delay * 2, s.backoff_max)

    async def publish(self, topic: str, payload: bytes, *, within: float = 30.0) -> None:
        """Publish with QoS 1 and return once the broker has it; DeliveryError after `within` seconds."""
        try:
            async with asyncio.timeout(within):
                while True:
                    await self._connected.wait()
                    client = self._client
                    if client is None:
                        continue
                    try:
                        await client.publish(topic, payload, qos=1)
                        return
                    except aiomqtt.MqttError as exc:
                        # Its node went away: the next connection sends it again (the home
                        # refuses a msg_id it has carried out, so a second copy is harmless).
                        log.warning("commands: publishing to %s failed (%s); trying another node", topic, exc)
                        self._connected.clear()
                        self._lost.set()
        except TimeoutError as exc:
            raise DeliveryError(f"no node of the cluster took the message to {topic} within {within:.0f} s") from exc
