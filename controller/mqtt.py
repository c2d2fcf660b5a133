"""The hub's MQTT link: the only module that imports aiomqtt.

It keeps one connection up for as long as the hub runs: connects, announces the hub on
`huis/status` (retained `online`, last will `offline`), subscribes, hands every message to the
hub, and on any loss reconnects with capped exponential backoff and subscribes again. Outgoing
messages queue while the broker is away and are sent, in order, once it is back.

No event is lost between a device and the hub's store (docs/reliability.md, "MQTT sessions"):
with `persistent` settings the session outlives the connection (clean_session false, a stable
client id), so the broker queues QoS 1 messages while the hub is away; and with a `settle`
callback a message is acknowledged only once `settle()` says what it caused is recorded, so a
hub killed in between gets it again from the broker after its restart.

While connected with nothing queued, `send` hands the message to paho and writes it to the
socket at once, in the same loop iteration as the event that caused it (a rule's command
leaves before the history, traces and live feed of that event are looked at); a QoS 1
message is kept until the broker's PUBACK and queued again if the connection drops first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import aiomqtt

from controller.clock import Clock

log = logging.getLogger(__name__)

STATUS_TOPIC = "huis/status"

MessageHandler = Callable[[str, bytes], None]
Settle = Callable[[], Awaitable[None]]


class Link(Protocol):
    """Where the hub sends MQTT messages. `MqttLink` in production, `MemoryLink` in unit tests."""

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Queue a message for sending; never blocks and never loses it."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSettings:
    """How to reach the broker."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    client_id: str = "huis-hub"
    keepalive: int = 30
    tls: ssl.SSLContext | None = None
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    status_topic: str = STATUS_TOPIC
    # The broker keeps the session (subscriptions, queued QoS 1 messages) while we are away.
    persistent: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range")
        if self.backoff_initial <= 0 or self.backoff_max < self.backoff_initial:
            raise ValueError("backoff needs 0 < initial <= max")


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool


# Nagle plus delayed ACK add up to tens of milliseconds per hop on small MQTT packets.
_SOCKET_OPTIONS = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


class MqttLink:
    """A self-healing MQTT connection."""

    def __init__(
        self,
        settings: LinkSettings,
        clock: Clock,
        on_message: MessageHandler,
        *,
        on_connection: Callable[[bool], None] | None = None,
        outbox_limit: int = 100_000,
        settle: Settle | None = None,
    ) -> None:
        """`settle`, when given, is awaited before messages handed to `on_message` are
        acknowledged to the broker (QoS 1): it returns once what they caused is recorded."""
        self.settings = settings
        self._settle = settle
        self._clock = clock
        self._on_message = on_message
        self._on_connection = on_connection
        self._filters: set[str] = set()
        self._outbox: deque[_Message] = deque()
        self._inflight: dict[int, _Message] = {}  # sent directly, waiting for the PUBACK
        self._outbox_limit = outbox_limit
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.connects = 0  # how many times we (re)connected; useful to tests and health pages
        self.dropped = 0
        self.acked = 0  # messages acknowledged after settling

    def subscribe(self, *filters: str) -> None:
        """Add topic filters; they are (re)subscribed on every connect."""
        new = [f for f in filters if f not in self._filters]
        self._filters.update(new)
        if new and self._client is not None and self.connected.is_set():
            self._wakeup.set()  # the sender task subscribes them

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        msg = _Message(topic, payload, qos, retain)
        if not self._outbox and self._send_now(msg):
            return
        if len(self._outbox) >= self._outbox_limit:
            dropped = self._outbox.popleft()
            self.dropped += 1
            log.error("outbox full (%d messages): dropped the oldest, to %s", self._outbox_limit, dropped.topic)
        self._outbox.append(msg)
        self._wakeup.set()

    def _send_now(self, msg: _Message) -> bool:
        """Publish `msg` on the socket now if connected; False: queue it instead."""
        client = self._client
        if client is None or not self.connected.is_set():
            return False
        paho = client._client  # aiomqtt's publish would cost a task and a loop iteration
        # paho would ask aiomqtt to watch the socket for writing from the loop's next turn (a
        # thread-safe callback that can outlive the socket, and a writer left registered once
        # loop_write below has written everything): it is told it already does, for the publish.
        registered = paho._registered_write
        paho._registered_write = True
        try:
            info = paho.publish(msg.topic, msg.payload, msg.qos, msg.retain)
        finally:
            paho._registered_write = registered
        if info.rc != 0:
            return False  # the connection is going; the outbox sends it on the next one
        if msg.qos > 0 and not info.is_published():
            self._inflight[info.mid] = msg
        # Writes what the socket takes now; registers the writer only for what it did not take.
        paho.loop_write()
        return True

    def _published(self, mid: int) -> None:
        # paho's on_publish, before aiomqtt's: the broker has a message sent directly.
        if self._inflight.pop(mid, None) is not None and not self._inflight and not self._outbox:
            self._drained.set()

    def _requeue_inflight(self) -> None:
        # Sent directly but never acknowledged on a connection that is gone: they go first.
        if self._inflight:
            self._outbox.extendleft(reversed(self._inflight.values()))
            self._inflight.clear()

    @property
    def pending(self) -> int:
        """Messages waiting for the broker."""
        return len(self._outbox) + len(self._inflight)

    async def run(self) -> None:
        """Stay connected until cancelled."""
        s = self.settings
        delay = s.backoff_initial
        while True:
            try:
                async with self._client_for(s, manual_ack=self._settle is not None) as client:
                    subscribed = await self._go_online(client)
                    delay = s.backoff_initial
                    await self._serve(client, subscribed)
            except* aiomqtt.MqttError as group:
                self._went_offline("; ".join(str(e) for e in group.exceptions), delay)
            finally:
                self._requeue_inflight()
            await self._clock.sleep(delay)
            delay = min(delay * 2, s.backoff_max)

    def _client_for(self, s: LinkSettings, *, manual_ack: bool) -> aiomqtt.Client:
        # The last will tells subscribers we are gone when the connection drops uncleanly.
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=s.client_id,
            keepalive=s.keepalive,
            tls_context=s.tls,
            will=aiomqtt.Will(s.status_topic, b"offline", qos=1, retain=True),
            socket_options=_SOCKET_OPTIONS,
            timeout=10,
            clean_session=not s.persistent,
        )
        if manual_ack:
            # aiomqtt 2.5 has no manual acknowledgement yet (empicano/aiomqtt#345); paho 2.x has.
            # Set before connecting: a persistent session's queue arrives right after CONNACK.
            client._client.manual_ack_set(True)
        aiomqtt_published = client._client.on_publish

        def on_publish(paho: object, userdata: object, mid: int, code: object, props: object) -> None:
            self._published(mid)
            aiomqtt_published(paho, userdata, mid, code, props)  # type: ignore[arg-type,misc,call-arg]

        client._client.on_publish = on_publish  # type: ignore[assignment]
        return client

    async def _go_online(self, client: aiomqtt.Client) -> set[str]:
        """Announce ourselves and subscribe; returns the filters subscribed."""
        s = self.settings
        self._client = client
        await client.publish(s.status_topic, b"online", qos=1, retain=True)
        subscribed = await self._subscribe_all(client, set())
        self.connects += 1
        self.connected.set()
        log.info("connected to MQTT broker %s:%d", s.host, s.port)
        if self._on_connection:
            self._on_connection(True)
        return subscribed

    async def _serve(self, client: aiomqtt.Client, subscribed: set[str]) -> None:
        """Receive and send until the connection fails or we are cancelled."""
        acks = _Acks()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._receive(client, acks), name="mqtt-receive")
                tg.create_task(self._send_loop(client, subscribed), name="mqtt-send")
                if self._settle is not None:
                    tg.create_task(self._ack_loop(client, acks, self._settle), name="mqtt-ack")
        except asyncio.CancelledError:
            # A clean stop says so; the last will covers the unclean ones.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(self.settings.status_topic, b"offline", qos=1, retain=True,
                                     timeout=1)
            raise

    def _went_offline(self, reason: str, delay: float) -> None:
        s = self.settings
        was_connected = self.connected.is_set()
        self.connected.clear()
        self._client = None
        if was_connected:
            log.warning("lost MQTT broker %s:%d: %s", s.host, s.port, reason)
            if self._on_connection:
                self._on_connection(False)
        else:
            log.warning("cannot reach MQTT broker %s:%d (%s); retrying in %.1fs",
                        s.host, s.port, reason, delay)

    async def _subscribe_all(self, client: aiomqtt.Client, done: set[str]) -> set[str]:
        todo = sorted(self._filters - done)
        if todo:
            await client.subscribe([(f, 1) for f in todo])
        return done | set(todo)

    async def _receive(self, client: aiomqtt.Client, acks: _Acks) -> None:
        handler = self._on_message
        manual = self._settle is not None
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, bytes):
                payload = b"" if payload is None else str(payload).encode()
            try:
                handler(message.topic.value, payload)
            except Exception:
                # A bug in handling one message must not take the link down with it (and the
                # message is acknowledged all the same: redelivering it would fail again).
                log.exception("handling a message on %s failed", message.topic.value)
            if manual and message.qos > 0:
                acks.add(message.mid, message.qos)

    async def _ack_loop(self, client: aiomqtt.Client, acks: _Acks, settle: Settle) -> None:
        """Acknowledge, in the order received, what was handled before the last settle began.

        One settle covers every message that arrived while the previous one ran, so a burst
        costs a few commits, not one per message; the broker's in-flight window (mosquitto:
        20 messages) holds the rest back meanwhile.
        """
        while True:
            batch = await acks.take()
            try:
                await settle()
            except Exception:
                # Holding the acknowledgements would stop the broker's flow to the hub for good;
                # whoever failed to record has said so and keeps what it could not write.
                log.exception("settling %d message(s) before acknowledging them failed", len(batch))
            for mid, qos in batch:
                client._client.ack(mid, qos)
            self.acked += len(batch)

    async def _send_loop(self, client: aiomqtt.Client, subscribed: set[str]) -> None:
        outbox = self._outbox
        task = asyncio.current_task()
        while True:
            # Cleared before looking, so a subscribe() or send() during a publish below is
            # seen on the next round instead of being slept through.
            self._wakeup.clear()
            if self._filters - subscribed:
                subscribed = await self._subscribe_all(client, subscribed)
            while outbox:
                msg = outbox[0]
                # Left in the outbox until the broker has it: a failure here resends it later.
                await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
                outbox.popleft()
                # On Python 3.11, aiomqtt's wait_for can swallow a cancel that arrives together
                # with the PUBACK; honour it here or a stop would hang.
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError
            self._drained.set()
            await self._wakeup.wait()

    async def drain(self) -> None:
        """Wait until every queued message has reached the broker."""
        while self._outbox or self._inflight:
            self._drained.clear()
            await self._drained.wait()


class _Acks:
    """Messages handled on one connection and not yet acknowledged (their ids are only valid on
    that connection: after a reconnect the broker sends the unacknowledged ones again)."""

    def __init__(self) -> None:
        self._pending: list[tuple[int, int]] = []
        self._wake = asyncio.Event()

    def add(self, mid: int, qos: int) -> None:
        self._pending.append((mid, qos))
        self._wake.set()

    async def take(self) -> list[tuple[int, int]]:
        """Wait for handled messages; return them all, in order."""
        while not self._pending:
            self._wake.clear()
            await self._wake.wait()
        batch, self._pending = self._pending, []
        return batch


class MemoryLink:
    """A link that records what was sent, for unit tests and dry runs."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int, bool]] = []

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload, qos, retain))

    def topics(self) -> list[str]:
        """Topics sent to, in order."""
        return [t for t, *_ in self.sent]
