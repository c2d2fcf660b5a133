"""One hub per database: an exclusive lock next to the file, taken before anything is opened.

Two hubs on one database would both restore and supervise the same alerts (paging caregivers
twice) and the second would remove the first one's pid file when it stopped. The lock is
`fcntl.flock` on `<database>.lock`: the kernel drops it when the process ends, however it ends,
so a crashed hub never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from controller.errors import HuisError


class AlreadyRunning(HuisError):
    """Another hub holds the database."""


def lock_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.lock")


@contextlib.contextmanager
def single_instance(db_path: str | Path) -> Iterator[Path]:
    """Hold the database's instance lock for the block; AlreadyRunning (saying which process
    holds it) when another hub does. Touches nothing of the other hub's."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise AlreadyRunning(
                f"Another hub (pid {holder}) is already running on the database {db_path}. Stop it "
                "first, or give this one its own database (storage.path in the configuration)."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock (if we held it)
