"""How long device attributes held their values lately: the memory `held` conditions read.

"Did she sleep tonight?" is a question about the past, not the present: was the bed occupied for
at least half an hour at a stretch since the night began? The trigger index only knows each
attribute's last change; this keeps every change of the last `keep` (36 h by default, bounded
per attribute) so a condition can find the longest stretch of a value within a window.

After a restart the memory starts from what the hub's history recorded (when there is one). A
value the hub meets without knowing what came before (known at the start, or a device's first
report since) is taken to have held since the memory's horizon: a hub restarted at 02:00 while
she lies in bed must still know she slept. For the night exit that errs towards paging.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from controller.engine import model as m
from controller.events import Event, StateChanged

Key = tuple[str, str]


def held_attributes(scenarios: Iterable[m.Scenario]) -> set[str]:
    """The attributes `held` conditions of these scenarios look back on (in `if` actions too)."""
    out: set[str] = set()

    def conditions(items: Iterable[object]) -> None:
        for c in items:
            if isinstance(c, m.HeldCondition):
                out.add(c.attribute)
            elif isinstance(c, m.AndCondition | m.OrCondition | m.NotCondition):
                conditions(c.conditions)

    def actions(items: Iterable[object]) -> None:
        for a in items:
            if isinstance(a, m.IfAction):
                conditions(a.conditions)
                actions(a.then)
                actions(a.else_)

    for sc in scenarios:
        conditions(sc.conditions)
        actions(sc.actions)
    return out


class Stretches:
    """Recent changes of device attributes, and the longest stretch a test held within a window."""

    def __init__(self, *, keep: timedelta = timedelta(hours=36), per_key: int = 2000) -> None:
        self.keep = keep
        self._per_key = per_key
        self._log: dict[Key, deque[tuple[datetime, object]]] = {}
        # Only what some `held` condition reads is kept (the engine adds to it on every load);
        # None: everything.
        self.attributes: set[str] | None = None

    def watches(self, attribute: str) -> bool:
        return self.attributes is None or attribute in self.attributes

    def record(self, device: str, attribute: str, value: object, at: datetime) -> None:
        """`device.attribute` became `value` at `at` (changes arrive in time order)."""
        if not self.watches(attribute):
            return
        log = self._log.setdefault((device, attribute), deque(maxlen=self._per_key))
        self._append(log, value, at)

    def first_seen(self, device: str, attribute: str, value: object, at: datetime) -> None:
        """`value` seen at `at` with nothing known before it: it counts from the horizon."""
        if (device, attribute) not in self._log and self.watches(attribute):
            self.record(device, attribute, value, at - self.keep)

    def _append(self, log: deque[tuple[datetime, object]], value: object, at: datetime) -> None:
        if log and log[-1][0] > at:
            return  # older than what we know (a history row behind a live change)
        log.append((at, value))
        while len(log) > 1 and log[1][0] < at - self.keep:
            log.popleft()

    def seed(self, rows: Iterable[tuple[str, str, object, datetime]]) -> None:
        """Take (device, attribute, value, time) rows, oldest first, as recorded changes."""
        for device, attribute, value, at in rows:
            self.record(device, attribute, value, at)

    def on_state(self, event: Event[StateChanged]) -> None:
        """Bus listener: record every changed attribute."""
        if event.device is None:
            return
        for attr, (old, new) in event.data["changes"].items():
            if old is None:
                self.first_seen(event.device, attr, new, event.time)
            self.record(event.device, attr, new, event.time)

    def longest(self, device: str, attribute: str, test: Callable[[object], bool],
                since: datetime, now: datetime) -> timedelta:
        """The longest time `test` held at a stretch that was still going at or after `since`.

        A stretch that began before `since` counts in full (in bed from 21:00 and up at 22:10
        slept 70 minutes, not 10); one still going counts up to now.
        """
        return max((min(end, now) - start for start, end in self._runs(device, attribute, test, now)
                    if end >= since), default=timedelta(0))

    def total(self, device: str, attribute: str, test: Callable[[object], bool],
              since: datetime, now: datetime) -> timedelta:
        """All the time `test` held between `since` and now, added up (a stretch that began
        before `since` counts from `since`; one still going counts up to now)."""
        return sum((max(min(end, now) - max(start, since), timedelta(0))
                    for start, end in self._runs(device, attribute, test, now)), timedelta(0))

    def _runs(self, device: str, attribute: str, test: Callable[[object], bool],
              now: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Each stretch in which `test` held, as (start, end); one still going ends now."""
        start: datetime | None = None
        for at, value in self._log.get((device, attribute), ()):
            if test(value):
                if start is None:
                    start = at
            elif start is not None:
                yield start, at
                start = None
        if start is not None:
            yield start, now
