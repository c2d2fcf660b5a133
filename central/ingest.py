"""From the NATS cluster into PostgreSQL: the JetStream stream HOMES_UP, read by a durable pull
consumer, stored a batch per transaction, acknowledged only after the commit.

What it survives (tests/central/test_ingest.py does each for real):
- a NATS node killed (the leader of `$MQTT_msgs`; HOMES_UP's own leader is a known gap, see
  `ensure_stream`): the client reconnects to another node; a fetch that fails is retried;
  messages fetched but not acknowledged come again after `ack_wait`.
- PostgreSQL restarted: the same batch is stored again and again (capped backoff on the clock)
  until it commits; nothing is acknowledged meanwhile (`in_progress` keeps JetStream from
  handing it out again while we wait).
- its own kill -9: what was fetched and not acknowledged is delivered again; the store keeps
  each `(home, msg_id, at)` once, so a redelivered message is counted as a duplicate, not stored.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig, StreamSource
from nats.js.client import JetStreamContext
from psycopg_pool import PoolTimeout

from central import wire
from central.mqtt import MqttSettings, wake_mqtt_streams
from central.store import TRANSIENT, BatchResult, Incoming, Store
from controller.clock import Clock
from controller.errors import DeliveryError, PayloadError

log = logging.getLogger(__name__)

STREAM = "HOMES_UP"
SUBJECTS = "homes.*.up.>"
# Where NATS's MQTT layer keeps QoS 1 messages (an R3 interest stream of its own), and what of it
# is ours: see `ensure_stream` for why HOMES_UP sources from it.
MQTT_STREAM = "$MQTT_msgs"
MQTT_PREFIX = "$MQTT.msgs."
DURABLE = "huis-central"


@dataclass(frozen=True, slots=True, kw_only=True)
class NatsSettings:
    """How the centre reaches its NATS cluster."""

    servers: tuple[str, ...]
    user: str
    password: str
    tls: ssl.SSLContext | None = None
    stream: str = STREAM
    replicas: int = 3
    durable: str = DURABLE
    batch: int = 256  # messages per fetch, and so per PostgreSQL transaction
    fetch_wait: float = 1.0  # seconds a fetch waits for the first message
    ack_wait: float = 30.0  # seconds JetStream waits for an ack before delivering again
    backoff_initial: float = 0.2
    backoff_max: float = 5.0

    def __post_init__(self) -> None:
        if not self.servers:
            raise ValueError("at least one NATS server is needed")
        if not 1 <= self.replicas <= 5:
            raise ValueError("a stream has 1 to 5 replicas")
        if self.batch < 1:
            raise ValueError("batch must be at least 1")


@dataclass(slots=True)
class IngestStats:
    """What the ingest has done since it started (tests, benchmarks, the health page)."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    store_retries: int = 0
    fetch_errors: int = 0
    connects: int = 0
    last_error: str | None = None
    fetched: int = 0

    def add(self, r: BatchResult) -> None:
        self.stored += r.stored
        self.duplicates += r.duplicates
        self.rejected += r.rejected
        self.batches += 1


@asynccontextmanager
async def connect(settings: NatsSettings, *, name: str) -> AsyncIterator[NatsClient]:
    """A NATS connection that reconnects to any node of the cluster for as long as it lives."""

    async def on_error(exc: Exception) -> None:
        log.warning("NATS (%s): %s", name, exc)

    async def on_disconnect() -> None:
        log.warning("NATS (%s): disconnected", name)

    async def on_reconnect() -> None:
        log.info("NATS (%s): connected to %s", name, nc.connected_url.netloc if nc.connected_url else "?")

    nc = await nats.connect(
        list(settings.servers), user=settings.user, password=settings.password, tls=settings.tls, name=name,
        allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=settings.backoff_initial,
        connect_timeout=2, error_cb=on_error, disconnected_cb=on_disconnect, reconnected_cb=on_reconnect)
    try:
        yield nc
    finally:
        await nc.close()


async def ensure_stream(js: JetStreamContext, settings: NatsSettings, mqtt: MqttSettings | None) -> None:
    """Create HOMES_UP when it is missing (3 replicas, file storage); an existing one is left as is.

    NATS 2.9's MQTT answers a QoS 1 PUBLISH with its PUBACK once the message is a plain NATS
    publish; a stream capturing `homes.*.up.>` gets it only if its leader is there at that
    moment, so the messages of the seconds a new leader is being elected are lost with the home
    believing them delivered (measured: 218 of 300 after killing the leader). What the MQTT layer
    does store before its PUBACK, when someone has interest, is `$MQTT.msgs.<subject>` in its
    own R3 stream `$MQTT_msgs`. So HOMES_UP *sources* `$MQTT.msgs.homes.*.up.>` from there:
    the source is that interest (messages are kept until HOMES_UP has them). Messages in
    HOMES_UP keep the `$MQTT.msgs.` prefix. Known gap: when HOMES_UP's own leader dies, the new
    leader's source stalls for a minute or more and may miss a few (docs/central.md).

    NATS makes `$MQTT_msgs` at the first MQTT connection, and a source made before it exists
    never attaches (2.9.10): so the centre connects once itself first (`mqtt`).
    """
    try:
        await js.stream_info(settings.stream)
        return
    except nats.js.errors.NotFoundError:
        pass
    try:
        await js.stream_info(MQTT_STREAM)
    except nats.js.errors.NotFoundError:
        if mqtt is None:
            raise
        await wake_mqtt_streams(mqtt)
        await js.stream_info(MQTT_STREAM)
    source = StreamSource(name=MQTT_STREAM, filter_subject=MQTT_PREFIX + SUBJECTS)
    await js.add_stream(StreamConfig(name=settings.stream, sources=[source], num_replicas=settings.replicas,
                                     storage=StorageType.FILE))
    log.info("created JetStream stream %s from %s %s with %d replicas", settings.stream, MQTT_STREAM,
             source.filter_subject, settings.replicas)


class Ingest:
    """The long-running consumer: `run()` until cancelled."""

    def __init__(self, store: Store, settings: NatsSettings, clock: Clock, mqtt: MqttSettings | None = None) -> None:
        self.store = store
        self.mqtt = mqtt
        self.settings = settings
        self.clock = clock
        self.stats = IngestStats()
        self.ready = asyncio.Event()  # the consumer exists and the first fetch was made

    async def run(self) -> None:
        s = self.settings
        delay = s.backoff_initial
        while True:
            try:
                async with connect(s, name="huis-central-ingest") as nc:
                    js = nc.jetstream(timeout=5)
                    await ensure_stream(js, s, self.mqtt)
                    # No filter: a sourced stream holds only what its source's filter let in.
                    await js.add_consumer(s.stream, ConsumerConfig(
                        durable_name=s.durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                        ack_wait=s.ack_wait, max_deliver=-1, max_ack_pending=max(1000, 4 * s.batch)))
                    sub = await js.pull_subscribe_bind(s.durable, s.stream)
                    self.stats.connects += 1
                    delay = s.backoff_initial
                    await self._consume(nc, sub)
            except (nats.errors.Error, OSError, DeliveryError) as exc:
                # Cannot connect, or JetStream is not ready (no meta leader yet): try again.
                self._failed(f"NATS: {exc!r}", delay)
            await self.clock.sleep(delay)
            delay = min(delay * 2, s.backoff_max)

    def _failed(self, what: str, delay: float) -> None:
        self.stats.last_error = what
        log.warning("ingest: %s; again in %.1f s", what, delay)

    async def _consume(self, nc: NatsClient, sub: JetStreamContext.PullSubscription) -> None:
        s = self.settings
        delay = s.backoff_initial
        while not nc.is_closed:
            try:
                msgs = await sub.fetch(s.batch, timeout=s.fetch_wait)
            except TimeoutError:
                # nats.errors.TimeoutError (nothing waiting) or asyncio's (no answer in time).
                self.ready.set()
                continue
            except nats.errors.Error as exc:
                # A node went away mid-fetch, or JetStream is electing a new leader.
                self.stats.fetch_errors += 1
                self._failed(f"fetch: {exc!r}", delay)
                await self.clock.sleep(delay)
                delay = min(delay * 2, s.backoff_max)
                continue
            delay = s.backoff_initial
            self.ready.set()
            self.stats.fetched += len(msgs)
            await self._store_until_done(msgs)
            for m in msgs:
                await m.ack()

    async def _store_until_done(self, msgs: list[Msg]) -> None:
        """Store the batch; while PostgreSQL is away, keep trying (nothing is acknowledged)."""
        items = [self._incoming(m) for m in msgs]
        s = self.settings
        delay = s.backoff_initial
        while True:
            try:
                self.stats.add(await self.store.store_batch(items, self.clock.now()))
                return
            except (*TRANSIENT, PoolTimeout) as exc:
                self.stats.store_retries += 1
                self._failed(f"PostgreSQL: {exc}", delay)
            for m in msgs:
                # Still working on it: JetStream should not hand it out again meanwhile.
                try:
                    await m.in_progress()
                except nats.errors.Error:
                    pass  # redelivered later, then: the store keeps it once
            await self.clock.sleep(delay)
            delay = min(delay * 2, s.backoff_max)

    def _incoming(self, m: Msg) -> Incoming:
        seq = m.metadata.sequence.stream
        try:
            message = wire.parse(m.subject, m.data)
        except PayloadError as exc:
            log.warning("rejected %s #%d: %s", m.subject, seq, exc)
            return Incoming(subject=m.subject, stream=self.settings.stream, stream_seq=seq, payload=m.data,
                            reason=str(exc))
        return Incoming(subject=m.subject, stream=self.settings.stream, stream_seq=seq, payload=m.data,
                        message=message)
