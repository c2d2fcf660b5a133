"""The tour's stories: played one at a time, each in a sandbox, at a pace a visitor can follow.

A button press only queues the story; `StoryRunner.run`, a long-lived task supervised with the
dashboard server, plays it, so an HTTP request never waits for a simulated night to pass.

What the tour screen shows is the *stage*: the live home while nothing plays, the story's own
simulated home (`dashboard.tour_sandbox.Sandbox`) while a story plays. A story sets its scene,
moves its sandbox clock from step to step in small ticks (the header clock runs with it), holds
still while a visitor's phone has an alert it has not answered yet, and ends by clearing its
alerts; then the stage shows the live home again. "Opnieuw beginnen" stops the story and the
loop and starts the screen afresh. Nothing here moves the live home's clock or reaches its
alerts: the live feed is only read.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from controller import i18n
from controller.alerts import texts
from controller.alerts.model import KIND_ALERT, Notification
from controller.alerts.policy import AlertsConfig
from controller.clock import Clock, RealClock
from controller.config import HomeConfig
from controller.events import ALERT_CHANGED, AlertChanged, Event
from dashboard.live import LiveFeed, Subscriber
from dashboard.tour_sandbox import VISITOR, Sandbox
from dashboard.visitor_phone import VisitorPhones
from simulators.story_scripts import STORIES, Story

log = logging.getLogger(__name__)

# Texts: ids story.* in the catalogues (controller/locale/); captions follow the alert's changes.
ALERT_CAPTIONS = ("raised", "escalated", "acknowledged", "resolved", "cancelled")
END_NOTE = "einde van de demonstratie"
# Attributes a visitor's screen does not draw: radio and battery details.
_NOISE = frozenset({"linkquality", "rssi", "battery", "voltage", "distance", "last_seen", "update"})


class Pace:
    """How fast a story plays, in real seconds (divided by `speedup`: tests play fast)."""

    def __init__(self, wall: Clock) -> None:
        self.wall = wall
        self.speedup = 1.0
        self.read = 5.0  # at least this long on each caption
        self.longest = 12.0  # a long quiet stretch (ten minutes out of bed) takes at most this
        self.tick = 0.5  # the sandbox clock moves (and the header clock with it) this often
        self.between = 8.0  # a kiosk loop's pause between stories
        self.hold = 45.0  # waiting for a visitor's tap (not sped up: a person taps)

    async def sleep(self, seconds: float) -> None:
        await self.wall.sleep(seconds / self.speedup)

    def plan(self, gap: timedelta, story: Story, reading: bool) -> tuple[float, int]:
        """Real seconds for a gap of story time, and in how many ticks."""
        real = min(max(gap.total_seconds() / story.speed, self.read if reading else self.tick), self.longest)
        return real, max(1, math.ceil(real / self.tick))


class StartLimit:
    """At most `limit` story starts (and resets) per address within `window`, on the wall clock."""

    def __init__(self, wall: Clock, limit: int = 12, window: timedelta = timedelta(minutes=10)) -> None:
        self.wall, self.limit, self.window = wall, limit, window
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, address: str) -> bool:
        now = self.wall.now()
        times = self._seen.setdefault(address, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._seen) > 10_000:  # a flood of addresses: forget the quiet ones
            self._seen = {a: t for a, t in self._seen.items() if t}
        return True


class _Relay(Subscriber):
    """A feed subscriber that hands each visitor-safe message to the stage."""

    def __init__(self, runner: StoryRunner, source: str) -> None:
        super().__init__(staff=False)
        self.runner = runner
        self.source = source

    def offer(self, message: dict[str, Any]) -> None:
        self.runner.from_feed(self.source, message)


class StoryRunner:
    """Plays one story at a time in a sandbox and tells the tour pages what they show."""

    def __init__(self, config: HomeConfig, live: LiveFeed, *, policies: AlertsConfig | None = None,
                 wall: Clock | None = None, phones: VisitorPhones | None = None) -> None:
        self.config = config
        self.live = live
        self.policies = policies
        self.wall = wall or RealClock()
        self.pace = Pace(self.wall)
        self.limit = StartLimit(self.wall)
        self.phones = phones or VisitorPhones()
        self.phones.on_change = self._phones_changed
        self.tz = ZoneInfo(config.home.location.timezone)
        self.playing: str | None = None
        self.caption: dict[str, str] | None = None  # what the story says is happening now
        self.looping = False
        self.sandbox: Sandbox | None = None
        self.subscribers: set[Subscriber] = set()  # open tour screens
        self._reached: dict[str, list[str]] = {}  # alert id -> demo caregivers it reached
        # What the last story did (tests and the log): alert id -> message, reached, final state.
        self.report: dict[str, dict[str, Any]] = {}
        self.today: Callable[[], date] = self._today  # which week stories play in (tests pin it)
        self._drawn: dict[tuple[str, str], object] = {}  # what each screen shows of each device
        self._since = 0  # live narrations up to this id were there before "opnieuw beginnen"
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._task: asyncio.Task[None] | None = None
        live.subscribers.add(_Relay(self, "live"))

    def _today(self) -> date:
        return self.wall.now().astimezone(self.tz).date()

    # -- what the tour asks -------------------------------------------------------------------

    def stories(self) -> list[dict[str, Any]]:
        out = []
        for name, story in STORIES.items():
            out.append({"name": name, "title": {"nl": story.title, "en": story.title_en},
                        "description": i18n.both(f"story.description.{name}"),
                        "when": i18n.both(f"story.when.{story.weekday}", time=story.starts_at)})
        return out

    def request(self, name: str, address: str) -> str:
        """Queue `name`; returns 'queued', 'busy', 'limited' or 'unknown'."""
        if name not in STORIES:
            return "unknown"
        if self.playing is not None or self._queue.full():
            return "busy"
        if not self.limit.allow(address):
            return "limited"
        self._queue.put_nowait(name)
        self.publish({"type": "story", "playing": name, "step": None, "loop": self.looping})
        return "queued"

    def set_loop(self, on: bool, address: str) -> str:
        """Chain every story in a loop (a kiosk screen), or stop after the current one."""
        if on and not self.looping and not self.limit.allow(address):
            return "limited"
        self.looping = on
        if on and self.playing is None and self._queue.empty():
            self._queue.put_nowait(next(iter(STORIES)))
        self.publish({"type": "story", "playing": self.playing, "step": self.caption, "loop": self.looping})
        return "ok"

    def reset(self, address: str) -> str:
        """"Opnieuw beginnen": stop the story and the loop, and start the screen afresh."""
        if not self.limit.allow(address):
            return "limited"
        self.looping = False
        while not self._queue.empty():
            self._queue.get_nowait()
        if self._task is not None and not self._task.done():
            self._task.cancel()  # its cleanup shows the live home again
        self._since = max((n.id for n in self.live.narrations), default=0)
        self.publish(self.snapshot())
        return "ok"

    # -- the stage ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What a tour screen draws now: the story's home while one plays, else the live one."""
        sandbox = self.sandbox
        snap: dict[str, Any]
        if sandbox is not None and sandbox.feed is not None:
            snap = sandbox.snapshot()
            snap["alerts"] = self._with_reach(snap.get("alerts"))
            snap["clock_speed"] = 0.0
        else:
            snap = dict(self.live.tour_snapshot())
            snap["narrations"] = [n for n in snap.get("narrations", []) if n.get("id", 0) > self._since]
            snap["clock_speed"] = float(getattr(self.live.hub.clock, "speed", 1.0))
        snap.update(self._story_fields())
        return snap

    def _story_fields(self) -> dict[str, Any]:
        visitor = None
        if self.playing is not None and self.phones.token is not None:
            visitor = {"token": self.phones.token, "phones": self.phones.connected}
        return {"story": self.playing, "story_step": self.caption, "stories_available": True,
                "loop": self.looping, "visitor": visitor, "sandbox": self.sandbox is not None}

    def publish(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == "snapshot":
            self._drawn.clear()  # a snapshot draws every device afresh
        for sub in self.subscribers:
            sub.offer(dict(message))

    def subscribe(self) -> Subscriber:
        sub = Subscriber(staff=False)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def from_feed(self, source: str, message: Mapping[str, Any]) -> None:
        """A message of the live feed or the sandbox's: shown when that home is on the stage."""
        on_stage = "sandbox" if self.sandbox is not None else "live"
        if source != on_stage or self._unchanged(source, message):
            return
        if message.get("type") == "alerts" and source == "sandbox":
            message = {**message, "alerts": self._with_reach(message.get("alerts"))}
        self.publish(message)

    def _unchanged(self, source: str, message: Mapping[str, Any]) -> bool:
        """Whether a device message would draw what the screen already shows (a tag heard again
        every few seconds, a link quality): the screen is spared a redraw per radio packet."""
        if message.get("type") != "device":
            return False
        view = message["device"]
        attrs = {k: v for k, v in (view.get("attributes") or {}).items() if k not in _NOISE}
        look = (view.get("where"), view.get("x"), view.get("y"), view.get("available"),
                None if view.get("kind") == "tag" else sorted(attrs.items(), key=lambda kv: kv[0]))
        key = (source, str(view.get("id")))
        if self._drawn.get(key) == look:
            return True
        self._drawn[key] = look
        return False

    def _with_reach(self, alerts: object) -> list[dict[str, Any]]:
        out = []
        for a in alerts if isinstance(alerts, list) else []:
            out.append({**a, "reached": list(self._reached.get(str(a.get("id")), []))})
        return out

    def _phones_changed(self) -> None:
        self.publish({"type": "story", "playing": self.playing, "step": self.caption, "loop": self.looping,
                      "visitor": self._story_fields()["visitor"]})

    # -- playing ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Play queued stories (and the loop) until cancelled."""
        names = list(STORIES)
        async with asyncio.TaskGroup() as tg:
            while True:
                name = await self._queue.get()
                self._task = tg.create_task(self.play(name), name=f"tour-story-{name}")
                try:
                    await asyncio.wait([self._task])
                finally:
                    self._task = None
                if self.looping and self._queue.empty():
                    await self.pace.sleep(self.pace.between)
                    if self.looping and self._queue.empty():
                        self._queue.put_nowait(names[(names.index(name) + 1) % len(names)])

    async def play(self, name: str) -> None:
        """Play one story to its end in a sandbox of its own."""
        story = STORIES[name]
        sandbox = Sandbox(self.config, story, today=self.today(), policies=self.policies, on_notify=self._notify)
        self.playing, self.caption = name, None
        self._reached, self.report = {}, {}
        try:
            async with sandbox.running():
                await self._stage(sandbox, story)
        except asyncio.CancelledError:
            log.info("story %s stopped", name)
        except Exception:
            log.exception("story %s failed", name)
        finally:
            self.sandbox = None
            self.playing, self.caption = None, None
            self.phones.close()
            self.publish(self.snapshot())

    async def _stage(self, sandbox: Sandbox, story: Story) -> None:
        feed = sandbox.feed
        assert feed is not None
        feed.subscribers.add(_Relay(self, "sandbox"))
        sandbox.home.hub.bus.subscribe(self._on_alert, ALERT_CHANGED)  # type: ignore[union-attr]
        self.phones.open({"nl": story.title, "en": story.title_en})
        self.phones.acknowledger = sandbox.acknowledge
        self.sandbox = sandbox
        scene = [s for s in sandbox.scene() if s.text]
        self.caption = {"nl": scene[0].text, "en": scene[0].text_en} if scene else None
        self.publish(self.snapshot())
        at, reading = timedelta(0), bool(scene)
        for step in sandbox.steps():
            await self._advance(sandbox, story, at, step.at, reading)
            await sandbox.do(step)
            if step.text:
                self._say(step.text, step.text_en)
            at, reading = step.at, reading if not step.text else True
        await self._advance(sandbox, story, at, at + timedelta(minutes=1), reading=True)
        await sandbox.clear_alerts(END_NOTE)
        await sandbox.clock.advance(seconds=1)
        self._say_id("ended")
        await self.pace.sleep(self.pace.read)

    async def _advance(self, sandbox: Sandbox, story: Story, a: timedelta, b: timedelta, reading: bool) -> None:
        """Move the sandbox clock from `a` to `b` (story time) at the story's pace."""
        real, ticks = self.pace.plan(b - a, story, reading)
        for k in range(1, ticks + 1):
            await self._hold(sandbox)
            await sandbox.clock.run_until(sandbox.start + a + (b - a) * k / ticks)
            self._tick(sandbox, (b - a).total_seconds() / real if real else 0.0)
            await self.pace.sleep(real / ticks)

    async def _hold(self, sandbox: Sandbox) -> None:
        """While a visitor's phone shows an alert not yet answered, wait for the tap (at 1x)."""
        waited = 0.0
        while waited < self.pace.hold and self._waiting_for_visitor():
            await self.wall.sleep(self.pace.tick)
            waited += self.pace.tick
            await sandbox.clock.advance(seconds=self.pace.tick)
            self._tick(sandbox, 1.0)

    def _waiting_for_visitor(self) -> bool:
        return self.phones.connected > 0 and any(
            a["state"] not in ("acknowledged", "resolved", "cancelled") for a in self.phones.alerts.values())

    def _tick(self, sandbox: Sandbox, speed: float) -> None:
        self.publish({"type": "clock", "time": sandbox.clock.now().isoformat(), "speed": speed})

    def _say(self, nl: str, en: str) -> None:
        self.caption = {"nl": nl, "en": en}
        self.publish({"type": "story", "playing": self.playing, "step": self.caption, "loop": self.looping})

    def _say_id(self, caption: str) -> None:
        self._say(**i18n.both(f"story.caption.{caption}"))

    def _on_alert(self, event: Event[AlertChanged]) -> None:
        change = event.data
        self.phones.update(change["id"], change["state"])
        entry = self.report.setdefault(change["id"], {"key": change["key"], "message": change["message"],
                                                      "severity": change["severity"],
                                                      "reached": self._reached.setdefault(change["id"], [])})
        entry["state"] = change["state"]
        entry["acknowledged"] = entry.get("acknowledged", False) or change["state"] == "acknowledged"
        action = str(change["action"])
        # Escalation is told when the care team is actually reached (see _notify).
        if action in ALERT_CAPTIONS and action != "escalated" and self.playing is not None and self.sandbox is not None:
            if action == "raised" and not self.phones.connected:
                self._say_id("raised_scan")
            else:
                self._say_id(action)

    def _messages(self, n: Notification) -> dict[str, str]:
        """The alert's message in both languages (the notification has the visitor's only)."""
        home = self.sandbox.home if self.sandbox is not None else None
        alert = next((a for a in home.alerts.active() if a.id == n.alert_id), None) if home is not None else None
        if alert is None:
            return dict.fromkeys(i18n.LANGS, n.message)
        return {lang: texts.alert_message(alert, lang) for lang in i18n.LANGS}

    def _notify(self, n: Notification) -> None:
        if n.kind == KIND_ALERT:
            reached = self._reached.setdefault(n.alert_id, [])
            if n.recipient.id not in reached:
                reached.append(n.recipient.id)
                if n.recipient.id != VISITOR and self.playing is not None:
                    self._say_id("escalated")
            if n.recipient.id == VISITOR:
                self.phones.deliver(n, self._messages(n))
        sandbox = self.sandbox
        if sandbox is not None and sandbox.feed is not None:
            self.publish({"type": "alerts", "alerts": self._with_reach(list(sandbox.feed.alerts.values()))})
