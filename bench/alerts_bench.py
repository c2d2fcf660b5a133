"""Alert benchmarks: sensor event -> first request at the (local) ntfy server, and throughput.

    .venv/bin/python -m bench.alerts_bench [--n 500] [--burst 2000]

Everything runs for real except the phone push service, which is a local HTTP server speaking
ntfy's publish API on loopback: the hub decodes the bed sensor's MQTT payload, a rule stands
in for the scenario engine (bed empty -> urgent alert), the alert is committed to SQLite (WAL,
synchronous FULL, on the disk of the temp folder) with its first step's deliveries, and the
ntfy channel POSTs. Prints Markdown tables for docs/performance.md. Not a test: no asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.common import free_port, write_section
from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import parse_alerts
from controller.alerts.service import AlertService
from controller.clock import RealClock, monotonic
from controller.events import STATE_CHANGED, Context, Event
from controller.hub import Hub
from controller.store import Database
from controller.yamlfile import load_text
from huis.compose import build_hub, load_home
from simulators.http_server import Request, Response
from simulators.ntfy_server import NtfyServer

ROOT = Path(__file__).resolve().parent.parent

ALERTS = """
severities:
  urgent:  {policy: one, channels: [ntfy, page]}
  warning: {policy: one, channels: [ntfy, page]}
  info:    {policy: one, channels: [ntfy, page]}
policies:
  one: {steps: [{after: 0m, notify: [piet]}]}
caregivers:
  piet: {channels: [{type: CHANNEL, topic: huis-bench-piet}]}
"""


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class TimedNtfy(NtfyServer):
    """The ntfy stand-in, noting when each publish arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.arrived = asyncio.Event()

    async def handle(self, req: Request) -> Response:
        self.arrivals.append(monotonic())
        self.arrived.set()
        return await super().handle(req)


async def build(tmp: Path, channel: str, ntfy: str | None) -> tuple[Hub, AlertService, Database]:
    home = load_home(ROOT / "config" / "home.yaml")
    hub = build_hub(home, RealClock())
    cfg = parse_alerts(load_text(ALERTS.replace("CHANNEL", channel), "bench-alerts.yaml"), home.caregivers)
    db = await Database.connect(tmp / "huis.db")
    channels = [PageChannel()] + ([NtfyChannel(server=ntfy)] if ntfy else [])
    svc = AlertService.from_hub(hub, db, cfg, base_url="http://127.0.0.1:8080", channels=channels)
    await svc.open()
    return hub, svc, db


async def latency(n: int) -> list[float]:
    """ms from the bed sensor's MQTT payload entering the hub to the ntfy server receiving the POST."""
    with tempfile.TemporaryDirectory() as tmp:
        async with TimedNtfy() as ntfy:
            hub, svc, db = await build(Path(tmp), "ntfy", ntfy.url)
            seq = 0
            pending: asyncio.Queue[Event] = asyncio.Queue()

            def bed_rule(event: Event) -> None:
                # Stand-in for the scenario engine: bed empty -> urgent alert, one key per night.
                if event.device == "bed_sensor" and "occupancy" in event.data["changes"]:
                    if event.data["changes"]["occupancy"][1] is False:
                        pending.put_nowait(event)

            async def rule_task() -> None:
                while True:
                    event = await pending.get()
                    await svc.raise_alert(key=f"night.{seq}", scenario="night_out_of_bed", severity="urgent",
                                          message="Mevrouw Jansen is uit bed.", context=event.context, data={})

            hub.bus.subscribe(bed_rule, STATE_CHANGED)
            samples: list[float] = []
            empty = json.dumps({"occupancy": False}).encode()
            full = json.dumps({"occupancy": True}).encode()
            async with asyncio.TaskGroup() as tg:
                runner = tg.create_task(svc.run())
                rule = tg.create_task(rule_task())
                for i in range(n + 20):
                    seq = i
                    hub.handle_message("zigbee2mqtt/bed_sensor", full)
                    ntfy.arrived.clear()
                    before = len(ntfy.arrivals)
                    t0 = monotonic()
                    hub.handle_message("zigbee2mqtt/bed_sensor", empty)
                    while len(ntfy.arrivals) == before:
                        await ntfy.arrived.wait()
                        ntfy.arrived.clear()
                    if i >= 20:  # warm-up
                        samples.append((ntfy.arrivals[before] - t0) * 1000)
                    await svc.settled()
                runner.cancel()
                rule.cancel()
            await svc.aclose()
            await db.close()
            return samples


@contextlib.contextmanager
def ntfy_process() -> Iterator[str]:
    """The ntfy stand-in in its own process, so it does not share the hub's event loop."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulators.ntfy_server", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        proc.stdout.close()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)


async def throughput(n: int, channel: str, sources: int = 32) -> tuple[float, float]:
    """(alerts/s committed by raise_alert, alerts/s raised *and* delivered).

    `sources` producers (think: rules reacting to many sensors) each raise alerts back to back,
    n in all: a sustained load rather than one giant burst.
    """
    with tempfile.TemporaryDirectory() as tmp, ntfy_process() as url:
        hub, svc, db = await build(Path(tmp), channel, url if channel == "ntfy" else None)
        ctx = Context(origin="bench", description="burst")
        async with asyncio.TaskGroup() as tg:
            runner = tg.create_task(svc.run())
            t0 = monotonic()

            async def source(k: int) -> None:
                for i in range(k, n, sources):
                    await svc.raise_alert(key=f"load.{i}", scenario="bench", severity="urgent",
                                          message="Bench.", context=ctx, data={})

            await asyncio.gather(*(source(k) for k in range(sources)))
            t_raised = monotonic()
            await svc.settled()
            t_done = monotonic()
            runner.cancel()
        # The page channel makes an alert "shown", a phone's push service "delivered": both count here.
        delivered = sum(1 for a in svc.active() if a.state in ("shown", "delivered"))
        if delivered != n:
            print(f"<!-- warning: {delivered} of {n} delivered -->")
        await svc.aclose()
        await db.close()
        return n / (t_raised - t0), n / (t_done - t0)


async def httpx_baseline(n: int, sources: int = 32) -> float:
    """Requests/s of bare httpx POSTs to the same stand-in: the ceiling for the ntfy channel."""
    with ntfy_process() as url:
        async with httpx.AsyncClient() as client:
            body = {"topic": "huis-bench-piet", "title": "Dringend: Mevrouw Jansen", "message": "Bench.",
                    "priority": 5}

            async def source(k: int) -> None:
                for _ in range(k, n, sources):
                    await client.post(url + "/", json=body, timeout=10)

            t0 = monotonic()
            await asyncio.gather(*(source(k) for k in range(sources)))
            return n / (monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="latency samples")
    parser.add_argument("--burst", type=int, default=2000, help="alerts in the throughput run")
    parser.add_argument("--quick", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args()
    samples = asyncio.run(latency(args.n))
    page_raise, page_done = asyncio.run(throughput(args.burst, "page"))
    ntfy_raise, ntfy_done = asyncio.run(throughput(args.burst, "ntfy"))
    bare = asyncio.run(httpx_baseline(args.burst))
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"SQLite WAL + synchronous=FULL in {tempfile.gettempdir()}; a local ntfy server in its own process.",
        "",
        "| measure | p50 | p99 | max | n |",
        "|---|---|---|---|---|",
        f"| bed sensor payload -> ntfy server receives the alert (ms) | {statistics.median(samples):.2f} "
        f"| {pct(samples, 99):.2f} | {max(samples):.2f} | {len(samples)} |",
        "",
        f"| sustained alerts/s ({args.burst} alerts from 32 sources) | committed | committed and delivered |",
        "|---|---|---|",
        f"| delivered to the caregiver page channel | {page_raise:.0f} | {page_done:.0f} |",
        f"| delivered to a local ntfy server (own process) | {ntfy_raise:.0f} | {ntfy_done:.0f} |",
        f"| *for scale: bare httpx POSTs to that server, no hub* | | {bare:.0f} requests/s |",
        "",
        "Aims: p99 < 50 ms on loopback; >= 500 alerts/s with persistence. How it is measured:",
        "`bench/alerts_bench.py`: a bed payload handed to the hub -> adapter -> a one-line stand-in",
        "rule (the engine's own cost is in the section above) -> alert stored with synchronous=FULL",
        "-> ntfy channel -> HTTP POST received by a local ntfy server. The ntfy rate is bounded by",
        "the HTTP round trips, as the bare-httpx row shows, not by persistence.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.quick:
        write_section(ROOT / "docs" / "performance.md", "Alerts", body)

if __name__ == "__main__":
    main()
