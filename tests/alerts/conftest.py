"""Fixtures for alert tests: a real ntfy-speaking server, a service on a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from controller.alerts.channels.base import Channel
from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import AlertsConfig, load_alerts
from controller.alerts.service import AlertService
from controller.alerts.topics import TOPICS_FILE_NAME
from controller.bus import EventBus
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context, Event
from controller.store import Database
from tests.alerts.fakes import NtfyServer
from tests.conftest import ROOT

TOPIC = {"piet": "huis-jansen-piet-q7k2m9", "anna": "huis-jansen-anna-x4t8w1",
         "buur": "huis-jansen-buur-r3n6p0", "team": "huis-jansen-zorgteam-h8v5c2"}
BASE_URL = "http://hub.test:8080"


@pytest.fixture
async def ntfy() -> AsyncIterator[NtfyServer]:
    async with NtfyServer() as server:
        yield server


@pytest.fixture
def alerts_config(demo_config: HomeConfig) -> AlertsConfig:
    """The demo home's shipped config/alerts.yaml."""
    return load_alerts(ROOT / "config" / "alerts.yaml", demo_config.caregivers)


@dataclass
class Harness:
    """One AlertService on a SQLite file, with the events it published."""

    svc: AlertService
    db: Database
    clock: VirtualClock
    bus: EventBus
    events: list[Event] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def advance(self, *, minutes: float = 0, seconds: float = 0) -> None:
        """Move the clock in one-second steps, letting the service finish each instant's work."""
        await self.svc.settled()
        total = int(minutes * 60 + seconds)
        for _ in range(total):
            await self.clock.advance(seconds=1)
            await self.svc.settled()

    def actions(self) -> list[tuple[str, str | None]]:
        return [(e.data["action"], e.data["by"]) for e in self.events]

    async def stop(self) -> None:
        """Stop the service and close its database (as a crash would leave things, or cleaner)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        await self.svc.aclose()
        await self.db.close()


def seed_topics(folder: Path, topics: Mapping[str, str] = TOPIC) -> Path:
    """The ntfy topics a first start generated, as if it had (the shipped config names none)."""
    path = folder / TOPICS_FILE_NAME
    if not path.exists():
        path.write_text(json.dumps(dict(topics)), encoding="utf-8")
        path.chmod(0o600)
    return path


@contextlib.asynccontextmanager
async def harness(db_path: Path, clock: VirtualClock, config: AlertsConfig, home: HomeConfig,
                  channels: Iterable[Channel], *, run: bool = True,
                  base_url: str = BASE_URL, topics: Mapping[str, str] | None = TOPIC) -> AsyncIterator[Harness]:
    if topics is not None:
        seed_topics(db_path.parent, topics)
    db = await Database.connect(db_path)
    bus = EventBus()
    svc = AlertService(db=db, clock=clock, bus=bus, resident=home.resident.pseudonym,
                       caregivers=config.recipients(home.caregivers), config=config,
                       channels=list(channels), base_url=base_url)
    h = Harness(svc=svc, db=db, clock=clock, bus=bus)
    bus.subscribe(h.events.append, "alert")
    if run:
        h.task = asyncio.create_task(svc.run())
    await svc.open()
    await svc.settled()
    try:
        yield h
    finally:
        await h.stop()


@pytest.fixture
async def alerts(tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig,
                 demo_config: HomeConfig, ntfy: NtfyServer) -> AsyncIterator[Harness]:
    """The demo home's alert service delivering to a local ntfy server, on a virtual clock."""
    channels = [NtfyChannel(server=ntfy.url), PageChannel()]
    async with harness(tmp_path / "huis.db", clock, alerts_config, demo_config, channels) as h:
        yield h


def ctx(description: str = "bed empty for 10 min") -> Context:
    """A cause chain like the rule engine's: a device message, then the rule."""
    device = Context(origin="device:bed_sensor", description="message on zigbee2mqtt/bed_sensor")
    return device.child("rule:night_out_of_bed", description)


def recipients_of(ntfy: NtfyServer) -> list[str]:
    """Who got an alert on ntfy, in order (by topic)."""
    by_topic = {t: who for who, t in TOPIC.items()}
    return [by_topic[m["topic"]] for m in ntfy.messages if m.get("actions")]


TIMEOUT_SHORT = timedelta(seconds=0.5)
