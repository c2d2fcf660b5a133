"""From the NATS cluster into PostgreSQL: NATS's own MQTT stream `$MQTT_msgs`, read by a durable
pull consumer filtered on the homes' upward subjects, stored a batch per transaction,
acknowledged only after the commit (`ensure_consumer` says why that stream).

What it survives (tests/central/test_ingest.py does each for real):
- a NATS node killed (the leader of `$MQTT_msgs`, or of the consumer): the client reconnects to
  another node; a fetch that fails is retried; messages fetched but not acknowledged come again
  after `ack_wait`.
- PostgreSQL restarted: the same batch is stored again and again (capped backoff on the clock)
  until it commits; nothing is acknowledged meanwhile (`in_progress` keeps JetStream from
  handing it out again while we wait).
- its own kill -9: what was fetched and not acknowledged is delivered again; the store keeps
  each `(home, msg_id, at)` once, so a redelivered message is counted as a duplicate, not stored.

Heartbeats come at QoS 0 (a heartbeat is worth only its freshness), and NATS's MQTT layer keeps
only QoS 1 messages in `$MQTT_msgs`: a QoS 0 publish is a plain NATS message on
`homes.<id>.up.heartbeat`. A plain subscription takes those; of each home only the newest waits
to be stored (an older one it replaces is counted as superseded: the newer says the same,
fresher), so while PostgreSQL is away at most one heartbeat per home waits and is stored once it
is back. A heartbeat sent at QoS 1 (an older hub) comes through the stream instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from psycopg_pool import PoolTimeout

from central import wire
from central.mqtt import MqttSettings, wake_mqtt_streams
from central.store import TRANSIENT, BatchResult, Incoming, Store
from controller.clock import Clock
from controller.errors import DeliveryError, PayloadError

log = logging.getLogger(__name__)

# Where NATS's MQTT layer keeps QoS 1 messages (its own stream: subjects `$MQTT.msgs.>`, interest
# retention, file storage, `mqtt { stream_replicas }` replicas), and what of it is ours.
STREAM = "$MQTT_msgs"
FILTER = wire.MQTT_PREFIX + "homes.*.up.>"
DURABLE = "huis-central"
HEARTBEATS = "homes.*.up.heartbeat"  # QoS 0: plain NATS messages, never in the stream
MQTT_QOS_HEADER = "Nmqtt-Pub"  # NATS's MQTT layer says with which QoS a home published


@dataclass(frozen=True, slots=True, kw_only=True)
class NatsSettings:
    """How the centre reaches its NATS cluster."""

    servers: tuple[str, ...]
    user: str
    password: str
    tls: ssl.SSLContext | None = None
    replicas: int = 3  # what `$MQTT_msgs` should have (the nodes' `mqtt { stream_replicas }`); fewer is logged
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
    heartbeats: int = 0  # QoS 0 heartbeats stored (plain NATS messages, not the stream)
    heartbeats_superseded: int = 0  # QoS 0 heartbeats not stored: a newer one of the home came first

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


async def ensure_consumer(js: JetStreamContext, settings: NatsSettings, mqtt: MqttSettings | None) -> None:
    """Create the durable consumer on `$MQTT_msgs` when it is missing; an existing one is left as is.

    NATS 2.9's MQTT answers a home's QoS 1 PUBLISH with its PUBACK once `$MQTT_msgs` holds
    `$MQTT.msgs.<subject>`, and it stores there only what someone has interest in: the stream
    has interest retention, so a message no consumer's filter matches is dropped at once, and
    one that matches is kept until every such consumer has acknowledged it. This consumer is
    that interest for `homes.*.up.>`: what a home was acknowledged for stays in the R3 stream
    until the centre has committed it to PostgreSQL. The alternatives lost messages the homes
    had PUBACKs for (docs/central.md): a stream of our own on `homes.*.up.>` (218 of 300 after
    its leader was killed) and a stream sourcing from `$MQTT_msgs` (its source stalled after its
    leader was killed: 100 of 300 after a minute).

    So it must exist before homes publish. NATS makes `$MQTT_msgs` at the first MQTT
    connection, so the centre connects once itself first when it is missing (`mqtt`).
    """
    try:
        info = await js.stream_info(STREAM)
    except nats.js.errors.NotFoundError:
        if mqtt is None:
            raise
        await wake_mqtt_streams(mqtt)
        info = await js.stream_info(STREAM)
    if info.config.num_replicas is not None and info.config.num_replicas < settings.replicas:
        log.warning("%s has %d replicas, %d expected: set mqtt { stream_replicas: %d } on the NATS nodes",
                    STREAM, info.config.num_replicas, settings.replicas, settings.replicas)
    try:
        await js.consumer_info(STREAM, settings.durable)
        return
    except nats.js.errors.NotFoundError:
        pass
    await js.add_consumer(STREAM, ConsumerConfig(
        durable_name=settings.durable, filter_subject=FILTER, ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL, ack_wait=settings.ack_wait, max_deliver=-1,
        max_ack_pending=max(1000, 4 * settings.batch)))
    log.info("created the durable consumer %s on %s, filter %s", settings.durable, STREAM, FILTER)


class Ingest:
    """The long-running consumer: `run()` until cancelled."""

    def __init__(self, store: Store, settings: NatsSettings, clock: Clock, mqtt: MqttSettings | None = None) -> None:
        self.store = store
        self.mqtt = mqtt
        self.settings = settings
        self.clock = clock
        self.stats = IngestStats()
        self.ready = asyncio.Event()  # the consumer exists and the first fetch was made
        # One batch in PostgreSQL at a time: a stream batch and a heartbeat batch both update
        # `homes` rows, in their own orders, and together they deadlocked (seen in the benchmark).
        self._writing = asyncio.Lock()

    async def run(self) -> None:
        s = self.settings
        delay = s.backoff_initial
        while True:
            try:
                async with connect(s, name="huis-central-ingest") as nc:
                    js = nc.jetstream(timeout=5)
                    await ensure_consumer(js, s, self.mqtt)
                    sub = await js.pull_subscribe_bind(s.durable, STREAM)
                    self.stats.connects += 1
                    delay = s.backoff_initial
                    async with asyncio.TaskGroup() as tg:
                        beats = tg.create_task(self._heartbeats(nc), name="central-heartbeats")
                        await self._consume(nc, sub)
                        beats.cancel()
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

    async def _heartbeats(self, nc: NatsClient) -> None:
        """QoS 0 heartbeats (plain NATS messages) into PostgreSQL: the newest of each home
        waits (an older one it replaces is counted as superseded), stored a batch at a time;
        while PostgreSQL is away, tried again with backoff, so at most one per home waits."""
        newest: dict[str, Incoming] = {}  # home (or for a refused one its subject) -> not stored yet
        arrived = asyncio.Event()
        refused = itertools.count()

        async def on_message(m: Msg) -> None:
            if (m.headers or {}).get(MQTT_QOS_HEADER, "0") != "0":
                return  # a QoS 1 heartbeat (an older hub): NATS delivers it here too, and in the stream
            item = _incoming_plain(m)
            if item.message is None:  # refused: stored with why, never in place of a heartbeat
                newest[f"refused {next(refused)}"] = item
            else:
                home, waiting = item.message.home, newest.get(item.message.home)
                if waiting is not None and waiting.message is not None and waiting.message.at > item.message.at:
                    self.stats.heartbeats_superseded += 1  # an older one, late: the waiting one is newer
                    return
                if newest.pop(home, None) is not None:
                    self.stats.heartbeats_superseded += 1
                newest[home] = item
            arrived.set()

        try:
            sub = await nc.subscribe(HEARTBEATS, cb=on_message)
        except nats.errors.Error as exc:
            self._failed(f"heartbeats: {exc!r}", 0)  # the connection is going: run() starts again
            return
        delay = self.settings.backoff_initial
        try:
            while True:
                await arrived.wait()
                arrived.clear()
                while newest:
                    batch = {key: newest.pop(key) for key in list(newest)[:self.settings.batch]}
                    if await self._store_heartbeats(list(batch.values())):
                        delay = self.settings.backoff_initial
                        continue
                    for key, item in batch.items():
                        if key in newest:  # a newer one came meanwhile
                            self.stats.heartbeats_superseded += 1
                        else:
                            newest[key] = item
                    await self.clock.sleep(delay)
                    delay = min(delay * 2, self.settings.backoff_max)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _store_heartbeats(self, items: list[Incoming]) -> bool:
        """Store one batch of heartbeats; False when PostgreSQL is away (try again later)."""
        try:
            async with self._writing:
                result = await self.store.store_batch(items, self.clock.now())
        except (*TRANSIENT, PoolTimeout) as exc:
            self.stats.store_retries += 1
            self._failed(f"PostgreSQL (heartbeats): {exc}", 0)
            return False
        self.stats.heartbeats += result.stored
        self.stats.rejected += result.rejected
        return True

    async def _store_until_done(self, msgs: list[Msg]) -> None:
        """Store the batch; while PostgreSQL is away, keep trying (nothing is acknowledged)."""
        items = [self._incoming(m) for m in msgs]
        s = self.settings
        delay = s.backoff_initial
        while True:
            try:
                async with self._writing:
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
            return Incoming(subject=m.subject, stream=STREAM, stream_seq=seq, payload=m.data,
                            reason=str(exc))
        return Incoming(subject=m.subject, stream=STREAM, stream_seq=seq, payload=m.data,
                        message=message)


def _incoming_plain(m: Msg) -> Incoming:
    """A message that came as a plain NATS message (QoS 0): no stream, no sequence (0)."""
    try:
        message = wire.parse(m.subject, m.data)
    except PayloadError as exc:
        log.warning("rejected %s: %s", m.subject, exc)
        return Incoming(subject=m.subject, stream="", stream_seq=0, payload=m.data, reason=str(exc))
    return Incoming(subject=m.subject, stream="", stream_seq=0, payload=m.data, message=message)
