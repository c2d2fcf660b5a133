"""The state triggers of one device attribute, and which of them a change of value concerns.

A state trigger with a target (`to`, `above`, `below`) only acts when its test tells the old value
from the new one: it begins its episode (fires, or starts its `for:`) when the value starts to
match, and ends it (unlatches, cancels the `for:`) when the value stops matching. A change that
leaves its test as it was leaves it alone. So a change of `illuminance` from 300 to 320 concerns
the `above:` thresholds between the two, found by bisection, and a button's `action` going from
`single` to `double` concerns the triggers waiting for either value, found by a dictionary; the
thousand other triggers on the same attribute cost that event nothing.

Triggers whose test is not a target alone (no target, `from:`, `match: all`, a target with both
a value and a threshold) are looked at on every change, as is everything when the old value is
unknown (a restored latch or `for:` may then need ending) or cannot be a key (a list).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from operator import itemgetter

from controller.engine.compiled import StateTriggerRT, norm

SMALL = 8  # fewer triggers than this on an attribute: look at each, sorting them out costs more

_Entry = tuple[int, StateTriggerRT]  # (position in attach order, trigger)
_first = itemgetter(0)


class AttributeTriggers:
    """The state triggers of one (device, attribute) in attach order, sorted out lazily."""

    __slots__ = ("_above", "_above_at", "_always", "_below", "_below_at", "_by_value", "_sorted", "all")

    def __init__(self) -> None:
        self.all: list[StateTriggerRT] = []
        self._sorted = False
        self._always: list[_Entry] = []
        self._by_value: dict[object, list[_Entry]] = {}
        self._above: list[_Entry] = []  # by threshold, with the thresholds in `_above_at`
        self._above_at: list[float] = []
        self._below: list[_Entry] = []
        self._below_at: list[float] = []

    def __len__(self) -> int:
        return len(self.all)

    def add(self, tr: StateTriggerRT) -> None:
        self.all.append(tr)
        self._sorted = False

    def discard(self, tr: StateTriggerRT) -> None:
        if tr in self.all:
            self.all.remove(tr)
            self._sorted = False

    def concerned(self, old: object, new: object) -> list[StateTriggerRT]:
        """The triggers a change from `old` to `new` may concern, in attach order; each of the
        others would find its test unchanged and do nothing."""
        if len(self.all) < SMALL:
            return list(self.all)
        if not self._sorted:
            self._sort()
        picked = self._picked(old, new)
        if picked is None:
            return list(self.all)
        picked.sort(key=_first)
        out: list[StateTriggerRT] = []
        last = -1
        for pos, tr in picked:
            if pos != last:  # a trigger waiting for both values, or a band crossed at both ends
                out.append(tr)
                last = pos
        return out

    def _picked(self, old: object, new: object) -> list[_Entry] | None:
        """None: every trigger (the old value unknown, or values that cannot be sorted out)."""
        if old is None:
            return None
        picked = list(self._always)
        if self._by_value:
            try:
                picked += self._by_value.get(norm(old), ())
                picked += self._by_value.get(norm(new), ())
            except TypeError:  # a list or a mapping as a value: no key
                return None
        if self._above_at or self._below_at:
            picked += self._crossed(old, new)
        return picked

    def _crossed(self, old: object, new: object) -> list[_Entry]:
        """The thresholds whose test differs between `old` and `new` (a value that is not a
        number matches no threshold)."""
        if isinstance(old, int | float) and isinstance(new, int | float) and _number(old) and _number(new):
            lo, hi = (old, new) if old <= new else (new, old)
            # `value > a` changes when a is in [lo, hi); `value < b` when b is in (lo, hi].
            return self._above[bisect_left(self._above_at, lo):bisect_left(self._above_at, hi)] + \
                self._below[bisect_right(self._below_at, lo):bisect_right(self._below_at, hi)]
        value = old if _number(old) else new if _number(new) else None
        if not isinstance(value, int | float):
            return []  # neither is a number: every threshold's test stays false
        # One number: the thresholds it matches (the other value matches none).
        return self._above[:bisect_left(self._above_at, value)] + \
            self._below[bisect_right(self._below_at, value):]

    def _sort(self) -> None:
        self._always, self._by_value = [], {}
        above: list[tuple[float, int, StateTriggerRT]] = []
        below: list[tuple[float, int, StateTriggerRT]] = []
        for pos, tr in enumerate(self.all):
            t = tr.test
            numeric = t.above is not None or t.below is not None
            if tr.match_all or tr.from_test is not None or not t.has_target or t.not_set is not None \
                    or (t.is_set is not None and numeric):
                self._always.append((pos, tr))
            elif t.is_set is not None:
                for value in t.is_set:
                    self._by_value.setdefault(value, []).append((pos, tr))
            else:
                if t.above is not None:
                    above.append((t.above, pos, tr))
                if t.below is not None:
                    below.append((t.below, pos, tr))
        above.sort(key=lambda e: (e[0], e[1]))
        below.sort(key=lambda e: (e[0], e[1]))
        self._above, self._above_at = [(p, tr) for _, p, tr in above], [a for a, _, _ in above]
        self._below, self._below_at = [(p, tr) for _, p, tr in below], [b for b, _, _ in below]
        self._sorted = True


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
