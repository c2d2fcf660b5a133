"""The tour's sandbox: every story plays in a simulated home of its own.

A `Sandbox` is one story's home, built from the live home's configuration and nothing else of it:

- its own `VirtualClock`, starting at the story's weekday and hour in the current week, so a
  night story is a night, the morning routine a weekday morning, and no schedule of the live
  home (the evening medication, the night mode) is crossed by a clock jump;
- its own hub, engine, history and alert service on a SQLite file in a temporary folder, which
  is deleted when the story ends; the simulated devices talk to that hub over an in-memory bus;
- demo caregivers only: the visitor's phone (`bezoeker`) and a demo care team shown on the tour
  screen. Every notification goes to a `DemoChannel`, which only hands it to the tour; the live
  home's caregivers, channels, clock, sessions and alert store are never reached.

The scene (the story's steps at 0s) is set a while before the story's hour, so the hub has seen
her asleep for long enough ("did she sleep tonight?") when the story begins; what happened
before the hour is not shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from controller.alerts.model import ChannelTarget, Notification
from controller.alerts.policy import AlertsConfig, EscalationPolicy, PolicyStep, SeverityRule
from controller.clock import VirtualClock
from controller.config import Caregiver, HomeConfig
from controller.events import Event
from dashboard.live import LiveFeed
from dashboard.narrate import Narrator
from huis.compose import Home, open_home
from simulators.connection import MemoryBus
from simulators.home import SimulatedHome
from simulators.story_scripts import Step, Story

log = logging.getLogger(__name__)

VISITOR = "bezoeker"  # the visitor's phone: the first step of every escalation
TEAM = "zorgteam"  # the demo care team, shown on the tour screen: every later step
DEMO_CAREGIVERS = {
    VISITOR: Caregiver(name="Bezoeker", relation="bezoeker"),
    TEAM: Caregiver(name="Zorgteam (demo)", relation="zorgteam"),
}
# How long before the story's hour the scene is set (asleep for at least half an hour).
PRELUDE = timedelta(minutes=40)

_DEMO_TARGET = (ChannelTarget(type="page", timeout=timedelta(seconds=5), retries=0),)


def sandbox_config(cfg: HomeConfig) -> HomeConfig:
    """The live home's configuration with demo caregivers and no broker of its own."""
    return cfg.model_copy(update={"caregivers": dict(DEMO_CAREGIVERS), "mqtt": None})


def sandbox_policies(live: AlertsConfig | None) -> AlertsConfig:
    """The live escalation policies (same steps, same timing) paging demo caregivers only:
    the first step the visitor's phone, every later step the demo care team."""
    if live is None:
        urgent = EscalationPolicy(name="urgent", steps=(
            PolicyStep(after=timedelta(0), notify=(VISITOR,)),
            PolicyStep(after=timedelta(minutes=3), notify=(TEAM,))), repeat_every=timedelta(minutes=5))
        live = AlertsConfig(policies={"urgent": urgent}, severities={
            sev: SeverityRule(policy="urgent", channels=("page",)) for sev in ("urgent", "warning", "info")})
    policies = {
        name: replace(p, steps=tuple(PolicyStep(after=s.after, notify=(VISITOR,) if i == 0 else (TEAM,))
                                     for i, s in enumerate(p.steps)))
        for name, p in live.policies.items()
    }
    severities = {sev: replace(rule, channels=("page",)) for sev, rule in live.severities.items()}
    return AlertsConfig(policies=policies, severities=severities, scenarios=dict(live.scenarios),
                        quiet_hours=live.quiet_hours, ack_link_ttl=live.ack_link_ttl,
                        caregiver_channels={VISITOR: _DEMO_TARGET, TEAM: _DEMO_TARGET},
                        source="<tour sandbox>")


def story_start(story: Story, tz: ZoneInfo, today: date) -> datetime:
    """When `story` begins: its weekday of the week of `today`, at its hour, in UTC."""
    monday = today - timedelta(days=today.weekday())
    hh, mm = (int(x) for x in story.starts_at.split(":"))
    local = datetime.combine(monday + timedelta(days=story.weekday), time(hh, mm), tzinfo=tz)
    return local.astimezone(UTC)


class DemoChannel:
    """The only channel of a sandbox: a notification is handed to the tour, nothing is sent."""

    type = "page"

    def __init__(self, on_notify: Callable[[Notification], None]) -> None:
        self._on_notify = on_notify

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        self._on_notify(notification)
        return "demo"


class _BusLink:
    """The sandbox hub's link: onto the simulators' in-memory bus, one turn of the loop later.

    As on a broker, a device's answer to a command arrives after the command has left: the hub
    then knows the new state was caused by its command (the cause chain a visitor reads).
    """

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        asyncio.get_running_loop().call_soon(lambda: self.bus.send(topic, payload, qos=qos, retain=retain))


class _Done(Exception):
    """The story is over: ends the sandbox's task group."""


def causal_relay(bus_subscribe: Callable[[Callable[[Event[object]], None]], Callable[[], None]],
                 deliver: Callable[[Event[object]], None]) -> Callable[[], None]:
    """Deliver the bus's events to `deliver` causes first.

    The bus calls listeners of one event type before those of every event, so the engine acts on
    "she gets out of bed" (and the light commands it sends reach the listeners) before a listener
    of every event hears of the bed. The events of one turn of the loop are collected and handed
    on in causal order: a cause's context chain is shorter than that of each of its effects.
    """
    batch: list[Event[object]] = []

    def flush() -> None:
        events = sorted(batch, key=lambda e: len(e.context.chain()))
        batch.clear()
        for event in events:
            deliver(event)

    def collect(event: Event[object]) -> None:
        if not batch:
            asyncio.get_running_loop().call_soon(flush)
        batch.append(event)

    return bus_subscribe(collect)


class Sandbox:
    """One story's simulated home, open while the story plays (`async with sandbox.running()`)."""

    def __init__(self, live: HomeConfig, story: Story, *, today: date,
                 policies: AlertsConfig | None, on_notify: Callable[[Notification], None]) -> None:
        self.story = story
        self.config = sandbox_config(live)
        self.tz = ZoneInfo(live.home.location.timezone)
        self.start = story_start(story, self.tz, today)
        self.clock = VirtualClock(self.start - PRELUDE)
        self.policies = sandbox_policies(policies)
        self.channel = DemoChannel(on_notify)
        self.bus = MemoryBus()
        self.sims = SimulatedHome(self.config, self.clock)
        self.home: Home | None = None
        self.feed: LiveFeed | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Sandbox]:
        """Build the home in a temporary folder, run it, set the scene; all gone afterwards."""
        with tempfile.TemporaryDirectory(prefix="huis-tour-") as folder:
            home = await open_home(self.config, self.clock, link=_BusLink(self.bus),
                                   db_path=Path(folder) / "tour.db", alert_channels={"page": self.channel},
                                   policies=self.policies)
            self.home = home
            try:
                feed = LiveFeed(home.hub, Narrator(self.config))
                feed.close()  # heard through the causal relay instead
                unsubscribe = causal_relay(home.hub.bus.subscribe, feed.on_event)
                alerts = home.alerts
                feed.alert_source = lambda: [a.as_dict() for a in alerts.active()]
                feed.presence_source = lambda: home.engine.presence
                self.feed = feed
                self.bus.subscribe("#", home.hub.handle_message)
                with contextlib.suppress(_Done):
                    try:
                        async with asyncio.TaskGroup() as tg:
                            await self._start(home, tg)
                            yield self
                            raise _Done
                    except* _Done:
                        pass
                unsubscribe()
            finally:
                self.sims.stop()
                await home.close()

    async def _start(self, home: Home, tg: asyncio.TaskGroup) -> None:
        running = tg.create_task(home.run(), name="tour-sandbox-home")
        self.sims.start(self.bus, tg)
        ready = tg.create_task(home.engine.ready.wait(), name="tour-sandbox-ready")
        await asyncio.wait([running, ready], return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # the home failed to start: say why
        for step in self.scene():
            await self.sims.do_step(self.story, step)
        await self.clock.run_until(self.start)
        # What happened before the story's hour (the scene settling) is not part of the story.
        if self.feed is not None:
            self.feed.narrations.clear()

    def scene(self) -> list[Step]:
        """The steps at 0s, done before the story's hour."""
        return [s for s in self.story.steps if s.at == timedelta(0)]

    def steps(self) -> list[Step]:
        """The steps after the scene, in order."""
        return [s for s in self.story.steps if s.at > timedelta(0)]

    def snapshot(self) -> dict[str, Any]:
        """The tour's picture of this home."""
        if self.feed is None:
            raise RuntimeError("the sandbox is not running")
        return self.feed.tour_snapshot()

    async def do(self, step: Step) -> None:
        """One step of the story, now."""
        await self.sims.do_step(self.story, step)

    async def acknowledge(self, alert_id: str) -> bool:
        """The visitor taps "Ik ga erheen" on an alert of this home."""
        if self.home is None:
            return False
        outcome = await self.home.alerts.acknowledge(alert_id, by=VISITOR, channel="tour")
        return outcome.ok

    async def clear_alerts(self, reason: str) -> int:
        """Resolve every alert still active (the story's end); returns how many."""
        if self.home is None:
            return 0
        active = list(self.home.alerts.active())
        for alert in active:
            await self.home.alerts.resolve(alert.id, by="hub", note=reason, channel="tour")
        return len(active)

    def active_alerts(self) -> list[Mapping[str, object]]:
        """The alerts of this home still active."""
        return [] if self.home is None else [a.as_dict() for a in self.home.alerts.active()]
