"""In-process publish/subscribe for events.

Listeners are plain callables run synchronously in publish order: the hot path (sensor in,
command out) then costs a few function calls instead of task switches. A listener that needs
to do I/O hands the work to its own queue and task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from controller.events import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class EventBus:
    """Fan events out to listeners; a failing listener is logged and never stops the others."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[Listener]] = {}
        self._all: list[Listener] = []

    def subscribe(self, listener: Listener, event_type: str | None = None) -> Callable[[], None]:
        """Call `listener` for every event (or only those of `event_type`); returns unsubscribe."""
        bucket = self._all if event_type is None else self._by_type.setdefault(event_type, [])
        bucket.append(listener)

        def unsubscribe() -> None:
            if listener in bucket:
                bucket.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver `event` to its listeners now."""
        for listener in (*self._by_type.get(event.type, ()), *self._all):
            try:
                listener(event)
            except Exception:
                log.exception("listener %r failed on %s event", listener, event.type)
