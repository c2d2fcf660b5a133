"""Hostile payloads through the real hub: memory stays flat, log and history stay bounded.

Runs the demo home's hub (all nine adapters) with its History on a real SQLite file and the
hub's own log formatter writing to a file, then feeds it rounds of 10,000 hostile payloads on
the devices' topics: random bytes, 1 MB strings, JSON nested 1,000 deep, wrong types and
out-of-range values (with valid parts next to them), NaN and huge numbers, made-up tag
receivers. RSS is read from /proc before and after each round; at the end an SOS press must
still be handled. Virtual time runs 3 s per 100 payloads, so rate-limit windows come and go.

    python -m bench.fuzz_inputs [--rounds 3] [--payloads 10000]

Rewrites the "Fuzzed payloads" section of docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, machine, write_section
from controller import hub as hub_module
from controller.clock import VirtualClock
from controller.events import DEVICE_EVENT, PAYLOAD_ERROR, Event
from controller.history import History
from controller.hub import Hub
from controller.logs import KeyValueFormatter
from controller.store import Database
from controller.testing import MemoryLink
from huis.compose import build_hub, load_home

DOC = ROOT / "docs" / "reliability.md"


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hostile(rng: random.Random, topics: list[str]) -> tuple[str, bytes]:
    """One hostile message on one of the hub's topics."""
    topic = rng.choice(topics)
    if topic.endswith("/+"):
        topic = topic[:-1] + rng.choice(["hall", "kitchen", "x" * rng.randint(1, 100), f"r{rng.randint(0, 10**6)}"])
    kind = rng.randrange(10)
    if kind == 0:
        return topic, rng.randbytes(rng.randint(0, 2000))
    if kind == 1:
        return topic, json.dumps({"state": "x" * 1_048_576}).encode()
    if kind == 2:
        depth = rng.choice([40, 1000, 20_000])
        return topic, b"[" * depth + b"]" * depth
    if kind == 3:
        return topic, json.dumps({"action": "emergency", "battery": 100.5, "voltage": 0, "occupancy": "yes",
                                  "distance": rng.random() * 5, "rssi": "loud"}).encode()
    if kind == 4:
        return topic, b'{"battery": NaN, "brightness": Infinity, "position": 1e999, "doses_left": -1}'
    if kind == 5:
        return topic, json.dumps({"contact": rng.choice([True, 1, "open", None]),
                                  "linkquality": 10**30, "name": "y" * 60_000}).encode()
    if kind == 6:
        return topic, json.dumps({f"k{i}": i for i in range(3000)}).encode()
    if kind == 7:
        return topic, "{\"state\": \"\udcff\"}".encode("utf-8", "surrogatepass")
    if kind == 8:
        return topic, json.dumps([1, 2, {"a": [None] * 100}]).encode()
    return topic, json.dumps({"state": rng.choice(["ON", "OFF", "on", 7]), "event": "dose_taken",
                              "time": "gisteren", "dose": "z" * 500, "volume": 40}).encode()


async def fuzz_round(hub: Hub, history: History, clock: VirtualClock, rng: random.Random, n: int) -> None:
    topics = hub.subscriptions()
    for i in range(n):
        hub.handle_message(*hostile(rng, topics))
        if i % 100 == 99:
            await clock.advance(seconds=3)
            hub.check_health()
            await history.flush()


async def run(rounds: int, payloads: int) -> dict[str, object]:
    cfg = load_home(ROOT / "config" / "home.yaml")
    clock = VirtualClock(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    hub = build_hub(cfg, clock, MemoryLink())
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "hub.log"
        handler = logging.FileHandler(log_path)
        handler.setFormatter(KeyValueFormatter())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        db = await Database.connect(Path(tmp) / "huis.db")
        history = History(db, hub.bus, clock)
        await history.open()
        rng = random.Random(14)
        await fuzz_round(hub, history, clock, rng, 500)  # warm up: imports, caches, first pages
        rss = [rss_mb()]
        started = time.perf_counter()
        for _ in range(rounds):
            await fuzz_round(hub, history, clock, rng, payloads)
            rss.append(rss_mb())
        seconds = time.perf_counter() - started
        presses: list[Event[object]] = []
        hub.bus.subscribe(presses.append, DEVICE_EVENT)
        hub.inject("zigbee2mqtt/sos_button", b'{"action":"emergency","battery":100.5}')
        await history.flush()
        row = await db.fetchone("SELECT COUNT(*) AS n, MAX(LENGTH(value)) AS longest FROM history "
                                "WHERE type = ?", (PAYLOAD_ERROR,))
        await db.close()
        handler.close()
        lines = log_path.read_text(errors="replace").splitlines()
    return {
        "payloads": rounds * payloads, "rounds": rounds, "rss": rss, "seconds": seconds,
        "counted": hub.payload_errors, "recorded": row["n"] if row else 0,
        "longest_row": row["longest"] if row else 0,
        "log_lines": len(lines), "log_bytes": sum(len(x) + 1 for x in lines),
        "longest_line": max((len(x) for x in lines), default=0),
        "longest_error": max(len(s.last_error or "") for s in hub.state.all()),
        "press_handled": any(e.data.get("event") == "emergency" for e in presses),
        "virtual_minutes": rounds * payloads // 100 * 3 / 60, "devices": len(hub.devices),
        "per_minute": getattr(hub_module, "WARNINGS_PER_WINDOW", None),
    }


def report(r: dict[str, object]) -> str:
    rss = r["rss"]
    assert isinstance(rss, list)
    steps = " -> ".join(f"{x:.1f}" for x in rss)
    return "\n".join([
        f"Measured by `python -m bench.fuzz_inputs` on {machine()}, {time.strftime('%Y-%m-%d')}.",
        "",
        f"- **{r['payloads']:,} hostile payloads** ({r['rounds']} rounds of "
        f"{int(r['payloads']) // int(r['rounds']):,}) on the demo home's {r['devices']} devices, "
        f"{r['virtual_minutes']:.0f} minutes of virtual time, {r['seconds']:.1f} s of real time.",
        f"- **Memory (RSS, MB) after warm-up, then after each round: {steps}** "
        f"(growth over the whole run: {rss[-1] - rss[0]:+.1f} MB).",
        f"- Payload problems counted: {r['counted']:,}; recorded in history: {r['recorded']:,} rows "
        f"(rate limit: {r['per_minute']} per device per minute plus one \"... and N more\" line); longest "
        f"row value {r['longest_row']} characters.",
        f"- Log: {r['log_lines']:,} lines, {int(r['log_bytes']) / 1024:.0f} KiB; longest line "
        f"{r['longest_line']} characters; longest `last_error` {r['longest_error']} characters.",
        f"- An SOS press with `battery: 100.5` afterwards: "
        f"{'handled' if r['press_handled'] else 'NOT handled'}.",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--payloads", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args()
    result = asyncio.run(run(args.rounds, args.payloads))
    text = report(result)
    print(text)
    if not args.no_write:
        write_section(DOC, "Fuzzed payloads", text)
    return 0 if result["press_handled"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
