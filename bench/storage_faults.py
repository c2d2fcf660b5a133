"""The demo home on a disk that fills up: what the hub holds, pages, and writes back.

Builds the demo home the way `huis run` does (huis/compose.py) with its SQLite file on a 64 MiB
tmpfs of its own (needs root for `mount`), a virtual clock and a recording ntfy channel. Fills
the disk, then feeds `--events` motion events and `--sos` SOS presses over virtual time; reads
what is held (history rows, changed rows in memory, RSS); frees the disk and times the write-back.

    sudo python -m bench.storage_faults [--events 20000] [--sos 20]

Prints the figures; docs/reliability.md ("Storage faults") quotes them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, machine
from controller.alerts.model import ChannelTarget, Notification
from controller.clock import VirtualClock
from controller.engine.store import MAX_QUEUED
from controller.held import MAX_HELD_BYTES
from controller.history import MAX_PENDING
from controller.testing import MemoryLink
from huis.compose import load_home, open_home


class Recorder:
    """An ntfy channel that only counts."""

    type = "ntfy"

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        self.sent.append(notification)
        return None


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fill(path: Path) -> None:
    with open(path, "ab", buffering=0) as f:
        with contextlib.suppress(OSError):
            while f.write(b"\0" * 65536):
                pass


async def measure(disk: Path, events: int, sos: int) -> dict[str, object]:
    cfg = load_home(ROOT / "config" / "home.yaml")
    clock = VirtualClock()
    channel = Recorder()
    home = await open_home(cfg, clock, link=MemoryLink(), db_path=disk / "huis.db", alert_channels=[channel])
    out: dict[str, object] = {}
    try:
        async with asyncio.TaskGroup() as tg:
            running = tg.create_task(home.run(), name="home")
            await clock.advance(seconds=5)
            fill(disk / "filler.bin")
            rss0 = rss_mb()
            for i in range(events):
                home.hub.inject("zigbee2mqtt/living_motion", {"occupancy": i % 2 == 0, "battery": 80})
                if i % (events // max(sos, 1)) == 0:
                    home.hub.inject("zigbee2mqtt/sos_button", {"action": "emergency", "battery": 90})
                if i % 100 == 99:
                    await clock.advance(seconds=10)
            await clock.advance(seconds=30)
            out["fault"] = home.db.fault
            out["history_held"] = home.history.pending
            out["memory_changes"] = await home.db.held_changes()
            out["rss_growth_mb"] = round(rss_mb() - rss0, 1)
            out["sos_alerts_paged"] = len({n.alert_id for n in channel.sent if "alarmknop" in n.message})
            out["sos_pages"] = sum(1 for n in channel.sent if "alarmknop" in n.message)
            out["storage_notices"] = sum(1 for n in channel.sent if "opslaan" in n.message)
            (disk / "filler.bin").unlink()
            t0 = time.perf_counter()
            out["rows_written_back"] = await home.db.write_back()
            out["write_back_s"] = round(time.perf_counter() - t0, 3)
            t0 = time.perf_counter()
            out["history_rows_written"] = await home.history.flush()
            out["history_write_s"] = round(time.perf_counter() - t0, 3)
            running.cancel()
    except* asyncio.CancelledError:
        pass
    finally:
        await home.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--sos", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        disk = Path(tmp) / "disk"
        disk.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
        try:
            figures = asyncio.run(measure(disk, args.events, args.sos))
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    figures.update(machine=machine(), bounds={"history_rows": MAX_PENDING, "engine_statements": MAX_QUEUED,
                                              "memory_bytes": MAX_HELD_BYTES}, events=args.events, sos=args.sos)
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
