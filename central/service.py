"""`huis central run`: the centre's tasks under one TaskGroup, around one store.

- ingest: the homes' messages from NATS's MQTT stream into PostgreSQL (central/ingest.py);
- commands: the MQTT publisher that carries acknowledgements and resolutions to homes;
- silence: every 30 s, homes not heard for 3 minutes are marked silent (and next month's
  partition made);
- the dashboard, when `central.app` is installed (branch `central-view`).

The seam for the dashboard: a module `central.app` with `async def serve(centre: Centre) -> None`
that serves on `centre.config.dashboard` until cancelled, reading through `centre.store` and
acting through `centre.commands`. Without it the centre consumes and stores only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from central.commands import Commands
from central.config import CentralConfig
from central.ingest import Ingest, NatsSettings, connect, ensure_consumer
from central.mqtt import Publisher
from central.store import Store
from controller.clock import Clock

log = logging.getLogger(__name__)

SILENCE_CHECK = 30.0  # seconds between looks for silent homes


@dataclass(frozen=True, slots=True, kw_only=True)
class Centre:
    """What the centre's parts share: handed to the dashboard."""

    config: CentralConfig
    clock: Clock
    store: Store
    ingest: Ingest
    commands: Commands


def dashboard() -> Callable[[Centre], Coroutine[Any, Any, None]] | None:
    """`central.app.serve` when the dashboard is installed, else None."""
    if importlib.util.find_spec("central.app") is None:
        return None
    serve: Callable[[Centre], Coroutine[Any, Any, None]] = importlib.import_module("central.app").serve
    return serve


async def prepare(cfg: CentralConfig, store: Store, clock: Clock) -> None:
    """Schema, this and next month's partitions, the configured homes and their teams."""
    await store.init(clock.now())
    await store.sync_homes(cfg.teams_of_homes())


async def ensure_nats(settings: NatsSettings, cfg: CentralConfig) -> None:
    """The ingest's durable consumer on `$MQTT_msgs`, made before any home publishes: NATS keeps
    a home's message only when a consumer has interest in it."""
    async with connect(settings, name="huis-central-init") as nc:
        await ensure_consumer(nc.jetstream(timeout=10), settings, cfg.mqtt_settings())


async def watch_silence(store: Store, clock: Clock) -> None:
    """Every half minute: mark homes not heard for 3 minutes silent, make next month's partition."""
    while True:
        await store.ensure_ahead(clock.now())
        silent = await store.mark_silent(clock.now())
        if silent:
            log.warning("no heartbeat for 3 minutes from: %s", ", ".join(silent))
        await clock.sleep(SILENCE_CHECK)


async def run_centre(cfg: CentralConfig, clock: Clock, *, web: bool = True) -> None:
    """Consume, store, send commands and (when installed and `web`) serve, until cancelled."""
    async with Store.open(cfg.dsn()) as store:
        await prepare(cfg, store, clock)
        ingest = Ingest(store, cfg.nats_settings(), clock, cfg.mqtt_settings())
        publisher = Publisher(cfg.mqtt_settings(), clock)
        commands = Commands(store, publisher, cfg.home_key, clock)
        centre = Centre(config=cfg, clock=clock, store=store, ingest=ingest, commands=commands)
        serve = dashboard() if web else None
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(ingest.run(), name="central-ingest")
                tg.create_task(publisher.run(), name="central-commands")
                tg.create_task(watch_silence(store, clock), name="central-silence")
                if serve is not None:
                    tg.create_task(serve(centre), name="central-dashboard")
                else:
                    log.info("central.app is not installed: consuming and storing only")
        finally:
            # What it did, for the log (and bench/central.py, which reads this line).
            log.info("ingest stats: %s", json.dumps(dataclasses.asdict(ingest.stats)))
