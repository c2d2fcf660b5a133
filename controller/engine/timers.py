"""The timer wheel: `for:` timers of state triggers, their latches, and the one task that waits.

A state trigger with `for:` starts a timer when its value starts to match and cancels it when the
value stops matching; at the deadline the trigger fires. One task sleeps until the earliest
deadline of all of them: a sensor that flips all day costs a heap push per edge, not a task each.
Timers and latches (a trigger that fired for the current episode) are durable through the engine
store, so a restart resumes them at their original deadlines. Delays and waits of runs sleep in
their run's own task (see actions.py); their deadlines are stored with the run (runs.py).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.clock import Clock
from controller.durations import format_duration
from controller.engine.compiled import StateTriggerRT, TriggerRT, Vars, describe_value
from controller.engine.names import DeviceNames
from controller.engine.store import EngineStore
from controller.engine.sun import spoken_duration
from controller.engine.traces import NOT_FIRED, RunTrace
from controller.events import Context, new_id

log = logging.getLogger(__name__)

LATE = timedelta(seconds=1)  # a timer this much past its deadline says so in its trace


@dataclass(slots=True, eq=False, kw_only=True)
class ForTimer:
    """A pending `for:` of one trigger and slot (a device, or '*' for `match: all`)."""

    key: str
    trigger: StateTriggerRT
    slot: str
    since: datetime
    deadline: datetime
    tvars: Vars
    ctx: Context
    cancelled: bool = False


class TimerWheel:
    """A heap of deadlines and one task (`run`) that calls `due` for each as it comes."""

    def __init__(self, clock: Clock, due: Callable[[ForTimer], None]) -> None:
        self._clock = clock
        self._due = due
        self._heap: list[tuple[datetime, int, ForTimer]] = []
        self._seq = itertools.count()
        self._sleep: tuple[datetime, asyncio.Future[None]] | None = None
        self._idle = asyncio.Event()
        self._cancelled = 0

    def schedule(self, timer: ForTimer) -> None:
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        sleeping = self._sleep
        if sleeping is None:
            self._idle.set()
        elif timer.deadline < sleeping[0]:
            sleeping[1].cancel()  # re-plan for the earlier deadline
        if self._cancelled > 1000 and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def cancelled(self) -> None:
        """Count one cancelled entry (compacted once they are the majority)."""
        self._cancelled += 1

    async def run(self) -> None:
        """Fire due timers until cancelled."""
        while True:
            self._fire_due()
            if not self._heap:
                self._idle.clear()
                await self._idle.wait()
                continue
            target = self._heap[0][0]
            sleeper = asyncio.ensure_future(self._clock.sleep_until(target))
            self._sleep = (target, sleeper)
            try:
                await asyncio.wait({sleeper})
            finally:
                sleeper.cancel()
                self._sleep = None

    def _fire_due(self) -> None:
        now = self._clock.now()
        while self._heap and self._heap[0][0] <= now:
            timer = heapq.heappop(self._heap)[2]
            if timer.cancelled:
                self._cancelled = max(0, self._cancelled - 1)
                continue
            try:
                self._due(timer)
            except Exception:  # one broken run must not stop every other timer
                log.exception("timer %s failed", timer.key)


class ForTimers:
    """State-trigger episodes: when a trigger begins to match, stops, and fires (now or later)."""

    def __init__(self, *, clock: Clock, store: EngineStore, names: DeviceNames, language: str,
                 value: Callable[[str, str], object], installed: Callable[[str], bool],
                 save_trace: Callable[[RunTrace], None]) -> None:
        self._clock = clock
        self._store = store
        self._names = names
        self._language = language
        self._value = value
        self._installed = installed
        self._save_trace = save_trace
        self._timers: dict[str, ForTimer] = {}
        self.latches: set[str] = set()
        self.wheel = TimerWheel(clock, self._timer_due)

    def __contains__(self, key: str) -> bool:
        return key in self._timers

    def pending(self) -> Iterator[ForTimer]:
        """Every pending timer."""
        return iter(tuple(self._timers.values()))

    # -- edges ----------------------------------------------------------------------------------

    def state_changed(self, tr: StateTriggerRT, dev: str, old: object, new: object, ctx: Context,
                      now: datetime) -> None:
        """`dev`'s attribute went from `old` to `new`: begin or end `tr`'s episode."""
        if tr.match_all:
            holds = all(tr.test(new if d == dev else self._value(d, tr.attribute))
                        for d in tr.devices)
            if holds and not tr.holding:
                tr.holding = True
                self.begin(tr, "*", dev, old, new, ctx, now)
            elif not holds and tr.holding:
                tr.holding = False
                self._end(tr, "*", dev, new, now)
            return
        if tr.test.has_target:
            if tr.test(new):
                if not tr.test(old) and tr.from_ok(old):
                    self.begin(tr, dev, dev, old, new, ctx, now)
            else:
                self._end(tr, dev, dev, new, now)
        elif tr.from_ok(old):
            self.begin(tr, dev, dev, old, new, ctx, now)

    def begin(self, tr: StateTriggerRT, slot: str, dev: str, old: object, new: object,
              ctx: Context, now: datetime) -> None:
        """The trigger matches from now on: fire it, or start counting its `for:`."""
        tvars = self._names.vars(dev)
        tvars.update({"attribute": tr.attribute, "from": old, "to": new, "value": new})
        key = f"{tr.key}|{slot}"
        if tr.for_ is None:
            self._latch(tr, key)
            assert tr.fire is not None
            tr.fire(tr, tvars, ctx)
            return
        tvars["for"] = spoken_duration(tr.for_, self._language)
        existing = self._timers.get(key)
        if existing is not None:
            if tr.test.has_target:
                return  # still matching: the original deadline stands
            self.cancel(existing)
        self.start(tr, slot, now, now + tr.for_, tvars, ctx, persist=True)

    def _end(self, tr: StateTriggerRT, slot: str, dev: str, new: object, now: datetime) -> None:
        key = f"{tr.key}|{slot}"
        if key in self.latches:
            self.unlatch(tr, key)
        timer = self._timers.get(key)
        if timer is None:
            return
        self.cancel(timer)
        if tr.durable and self._installed(tr.owner):
            trace = RunTrace.start(new_id("run"), tr.owner, now,
                                   {"id": tr.id, "type": "state", "description": tr.description,
                                    **timer.tvars}, timer.ctx)
            assert tr.for_ is not None
            trace.finish(NOT_FIRED, now, f"cancelled: {dev}.{tr.attribute} became "
                         f"{describe_value(new)} after {format_duration(now - timer.since)} "
                         f"(needed {format_duration(tr.for_)})")
            self._save_trace(trace)

    def evaluate_at_start(self, tr: StateTriggerRT, now: datetime) -> None:
        """Begin the episodes that already hold (at start-up, or when a wait resumes)."""
        for slot in ("*",) if tr.match_all else tr.devices:
            key = f"{tr.key}|{slot}"
            dev, value, holds = self._holds(tr, slot)
            if not holds:
                if key in self.latches and value is not None:
                    self.unlatch(tr, key)
                continue
            if slot == "*":
                tr.holding = True
            if key in self._timers or key in self.latches:
                continue  # already counting (persisted) or already fired for this episode
            ctx = Context(origin="engine", description=f"at start-up {dev}.{tr.attribute} was "
                          f"already {describe_value(value)}")
            self.begin(tr, slot, dev, None, value, ctx, now)

    def _holds(self, tr: StateTriggerRT, slot: str) -> tuple[str, object, bool]:
        if slot != "*":
            value = self._value(slot, tr.attribute)
            return slot, value, tr.test(value)
        values = [self._value(d, tr.attribute) for d in tr.devices]
        first = (tr.devices[0] if tr.devices else ""), (values[0] if values else None)
        return first[0], first[1], all(tr.test(v) for v in values)

    # -- latches --------------------------------------------------------------------------------

    def _latch(self, tr: TriggerRT, key: str) -> None:
        if isinstance(tr, StateTriggerRT) and tr.test.has_target and key not in self.latches:
            self.latches.add(key)
            if tr.durable:
                self._store.set_latch(key, tr.owner)

    def unlatch(self, tr: TriggerRT, key: str) -> None:
        self.latches.discard(key)
        if tr.durable:
            self._store.clear_latch(key)

    def forget_latches(self, scenario: str) -> None:
        """Drop a scenario's latches from memory (its rows are the store's business)."""
        for key in [k for k in self.latches if k.startswith(f"{scenario}|")]:
            self.latches.discard(key)

    # -- timers ---------------------------------------------------------------------------------

    def start(self, tr: StateTriggerRT, slot: str, since: datetime, deadline: datetime,
              tvars: Vars, ctx: Context, *, persist: bool) -> None:
        key = f"{tr.key}|{slot}"
        timer = ForTimer(key=key, trigger=tr, slot=slot, since=since, deadline=deadline,
                         tvars=tvars, ctx=ctx)
        self._timers[key] = timer
        self.wheel.schedule(timer)
        if persist and tr.durable:
            self._store.save_timer(key, tr.owner, since, deadline, tvars, ctx)

    def cancel(self, timer: ForTimer) -> None:
        if self._timers.get(timer.key) is timer:
            del self._timers[timer.key]
        timer.cancelled = True
        self.wheel.cancelled()
        if timer.trigger.durable:
            self._store.delete_timer(timer.key)

    def drop(self, tr: StateTriggerRT, *, keep_rows: bool) -> None:
        """Forget `tr`'s timers (a detached trigger); their rows stay when `keep_rows`."""
        for key in [k for k, t in self._timers.items() if t.trigger is tr]:
            timer = self._timers.pop(key)
            timer.cancelled = True
            if not keep_rows and tr.durable:
                self._store.delete_timer(key)

    def _timer_due(self, timer: ForTimer) -> None:
        if self._timers.get(timer.key) is not timer:
            return
        del self._timers[timer.key]
        tr = timer.trigger
        if tr.durable:
            self._store.delete_timer(timer.key)
        tvars = dict(timer.tvars)
        late = self._clock.now() - timer.deadline
        if late >= LATE:
            tvars["late"] = format_duration(late)
        assert tr.for_ is not None
        ctx = timer.ctx.child(origin="timer", description=f"for {format_duration(tr.for_)} "
                              f"(deadline {timer.deadline.isoformat()})")
        self._latch(tr, timer.key)
        assert tr.fire is not None
        tr.fire(tr, tvars, ctx)
