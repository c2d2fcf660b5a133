"""Watching the hub's storage: a disk that fills up or turns read-only is told, retried, and
recovered from without stopping the hub.

When a write to the SQLite file fails because of the disk (controller/store.py, `disk_fault`),
the writer holds the hub's data in memory (controller/held.py) and this guard:

1. says so loudly in the log and raises a notice for the technician through the alert
   service, which delivers it on every channel that still works (its own store is in memory
   now, so raising and delivering do not need the disk);
2. tries the file again with capped backoff on the hub's clock;
3. once the file takes writes, writes back what was held and logs how many rows after how
   long; once it has kept taking writes for `SETTLE` seconds, resolves the notice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from controller.clock import Clock, monotonic
from controller.store import Backoff, Database, first_of

log = logging.getLogger(__name__)

# Seconds the file must keep taking writes after a write-back before the notice is resolved.
SETTLE = 30.0

# What residents' caregivers and the technician read (Dutch first, complete English).
NOTICE_NL = ("De hub kan niet meer opslaan ({what}). Alarmen gaan gewoon door, maar wat er nu "
             "gebeurt gaat verloren als de hub herstart voordat dit verholpen is. Waarschuw de technicus.")
NOTICE_EN = ("The hub can no longer save its data ({what}). Alerts still go out, but what happens now "
             "is lost if the hub restarts before this is fixed. Tell the technician.")
RECOVERED_NL = "De opslag werkt weer; {rows} bewaarde wijzigingen zijn weggeschreven."
RECOVERED_EN = "Storage works again; {rows} held changes were written back."
WHAT_NL = {"disk full": "schijf vol", "read-only": "alleen-lezen", "disk I/O error": "schrijffout",
           "cannot open the file": "bestand niet te openen"}


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageNotice:
    """A storage fault began (`recovered` None) or ended, for the technician."""

    what: str  # 'disk full', 'read-only', 'disk I/O error', ...
    error: str
    since: datetime
    message_nl: str
    message_en: str
    recovered: datetime | None = None
    rows_written_back: int = 0


Notify = Callable[[StorageNotice], Awaitable[None]]


class StorageGuard:
    """Tells, retries and writes back when the disk refuses the hub's writes (run under the hub)."""

    def __init__(self, db: Database, clock: Clock, notify: Notify | None = None,
                 retry: Backoff | None = None, settle: float = SETTLE) -> None:
        self.db = db
        self.settle = settle
        self.clock = clock
        self.notify = notify
        # Each try costs one small transaction; 10 s at most keeps the wait after a repair short.
        self.retry = retry or Backoff(first=1.0, cap=10.0)
        self.faults = 0
        self.last_write_back_seconds: float | None = None

    async def run(self) -> None:
        """Until cancelled: wait for a fault, tell, retry until written back, tell again."""
        while True:
            what, error = await self.db.until_faulted()
            self.faults += 1
            since = self.clock.now()
            log.error("storage: THE DISK REFUSES WRITES (%s: %s). The hub runs on with its data in "
                      "memory and pages as before; it is written back when the disk takes writes again. "
                      "Free space on %s or repair the disk.", what, error, self.db.path)
            await self._tell(StorageNotice(what=what, error=error, since=since,
                                           message_nl=NOTICE_NL.format(what=WHAT_NL.get(what, what)),
                                           message_en=NOTICE_EN.format(what=what)))
            rows = await self._until_written_back()
            log.warning("storage: %s takes writes again after %s; %d held rows written back",
                        self.db.path, self.clock.now() - since, rows)
            # A disk with a few bytes free takes the write-back and refuses the next batch: the
            # notice is resolved only once the file has kept taking writes for `settle`, so a
            # flapping disk is one notice, not a page every few seconds.
            while await self._faulted_within(self.settle):
                log.warning("storage: %s refuses writes again (%s); still holding in memory",
                            self.db.path, self.db.fault[1] if self.db.fault else "")
                rows += await self._until_written_back()
            await self._tell(StorageNotice(what=what, error=error, since=since, recovered=self.clock.now(),
                                           rows_written_back=rows,
                                           message_nl=RECOVERED_NL.format(rows=rows),
                                           message_en=RECOVERED_EN.format(rows=rows)))

    async def _faulted_within(self, seconds: float) -> bool:
        await first_of(self.clock.sleep(seconds), self.db.until_faulted())
        return self.db.fault is not None

    async def _until_written_back(self) -> int:
        self.retry.reset()
        while True:
            await self.clock.sleep(self.retry.next())
            held = await self.db.held_changes()
            started = monotonic()
            try:
                rows = await self.db.write_back()
            except sqlite3.Error as exc:
                if self.retry.failures in (1, 10) or self.retry.failures % 60 == 0:
                    log.warning("storage: %s still refuses writes (%s); %d changed rows held in memory",
                                self.db.path, exc, held)
                continue
            self.last_write_back_seconds = monotonic() - started
            return rows

    async def _tell(self, notice: StorageNotice) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(notice)
        except Exception:  # the guard must outlive a notice that cannot be raised
            log.exception("storage: the technician notice could not be raised")
