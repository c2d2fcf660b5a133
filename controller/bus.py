"""In-process publish/subscribe for events.

Listeners are plain callables run synchronously in publish order: the hot path (sensor in,
command out) then costs a few function calls instead of task switches. A listener that needs
to do I/O hands the work to its own queue and task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar, overload

from controller.events import Event, EventType

log = logging.getLogger(__name__)

P = TypeVar("P")
Listener = Callable[[Event[object]], None]


class EventBus:
    """Fan events out to listeners; a failing listener is logged and never stops the others."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[Listener]] = {}
        self._all: list[Listener] = []

    @overload
    def subscribe(self, listener: Callable[[Event[P]], None], event_type: EventType[P]) -> Callable[[], None]: ...

    @overload
    def subscribe(self, listener: Listener, event_type: None = None) -> Callable[[], None]: ...

    def subscribe(self, listener: Callable[[Event[P]], None] | Listener,
                  event_type: EventType[P] | None = None) -> Callable[[], None]:
        """Call `listener` for every event (or only those of `event_type`); returns unsubscribe."""
        bucket = self._all if event_type is None else self._by_type.setdefault(event_type, [])
        # A listener of one type only ever gets events of that type (publish looks them up by it).
        bucket.append(listener)  # type: ignore[arg-type]

        def unsubscribe() -> None:
            if listener in bucket:
                bucket.remove(listener)

        return unsubscribe

    def publish(self, event: Event[P]) -> None:
        """Deliver `event` to its listeners now."""
        for listener in (*self._by_type.get(event.type, ()), *self._all):
            try:
                listener(event)
            except Exception:
                log.exception("listener %r failed on %s event", listener, event.type)
