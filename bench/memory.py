"""Memory of `huis run` and of `huis demo` as a whole: each layer's share, after start, idle,
with a page open, and under fuzzed payloads from outside.

    .venv/bin/python -m bench.memory [--idle-minutes 2] [--fuzz 10000] [--before DIR] [--no-write]

1. **Layers**: a fresh interpreter per layer imports that layer and every one before it and
   reports its RSS (VmRSS): what each costs a process that keeps it for as long as it runs.
2. **`huis run`**: the demo home with every shipped scenario, against a loopback mosquitto, as its
   own process; RSS once its status is online (plus 2 s), after `--idle-minutes` idle, after
   `--fuzz` hostile payloads published on the devices' topics through the broker (twice: is it
   flat?), and with the dashboard's pages open (the web stack is loaded on the first visit).
3. **`huis demo` as a whole**: every process it runs (mosquitto, when installed, is its child),
   RSS and PSS summed (RSS counts shared libraries once per process; PSS shares them out):
   after start, after `--idle-minutes`, and with a page open.

`--before DIR`: the same for the checkout at DIR (a detached worktree of main, say), run back to
back with this one, so the table says before and after from one session. Rewrites the part of
docs/performance.md between the `memory` markers; the load average is written beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml

from bench.common import ROOT, free_port, machine, mosquitto, wait_port
from bench.fuzz_inputs import hostile

DOC = ROOT / "docs" / "performance.md"
PACKAGES = ("controller", "devices", "simulators", "dashboard", "huis")
BEGIN, END = "<!-- memory: begin -->", "<!-- memory: end -->"

# Each layer adds to the ones above it (what `huis run` imports, in the order it needs them).
LAYERS: tuple[tuple[str, str], ...] = (
    ("bare interpreter", ""),
    ("asyncio, ssl, sqlite3", "asyncio, ssl, sqlite3"),
    ("+ paho, aiomqtt, aiosqlite, PyYAML", "paho.mqtt.client, aiomqtt, aiosqlite, yaml"),
    ("+ pydantic", "pydantic"),
    ("+ configuration models (controller.config)", "controller.config"),
    ("+ device adapters, store, hub, MQTT link", "devices, controller.store, controller.hub, controller.mqtt"),
    ("+ rule engine and its models, history", "controller.engine, controller.history"),
    ("+ alerts and their channels", "controller.alerts.service, controller.alerts.channels.standard"),
    ("`import huis.cli`: all `huis run` imports", "huis.cli"),
    ("+ the dashboard (on the first page in `huis run`)", "dashboard.app, dashboard.server"),
)


def layer_rss(python: str, root: Path) -> list[tuple[str, float]]:
    """VmRSS (MiB) of a fresh interpreter after each cumulative layer, imported from `root`."""
    out: list[tuple[str, float]] = []
    imports: list[str] = []
    for label, modules in LAYERS:
        imports += [m.strip() for m in modules.split(",") if m.strip()]
        code = "".join(f"import {m}\n" for m in imports) + (
            "print([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])")
        done = subprocess.run([python, "-c", code], cwd=root, capture_output=True, text=True, check=True)
        out.append((label, int(done.stdout.split()[-1]) / 1024))
    return out


# -- processes and their memory --------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                for child in f.read().split():
                    out += tree(int(child))
    except FileNotFoundError:
        pass
    return out


def _kib(path: str, key: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (FileNotFoundError, PermissionError):
        pass
    return 0


@dataclass(frozen=True)
class Sample:
    rss: float  # MiB, summed over the process tree
    pss: float
    procs: int

    def cell(self, with_pss: bool = False) -> str:
        return f"{self.rss:.1f}" + (f" (PSS {self.pss:.1f})" if with_pss else "")


def sample(pid: int) -> Sample:
    pids = tree(pid)
    return Sample(rss=sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids) / 1024,
                  pss=sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) / 1024, procs=len(pids))


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def settle(pid: int, quiet: float = 2.0, within: float = 300.0) -> None:
    """Wait until the process has used no CPU for `quiet` seconds (it has taken in what it was sent)."""
    deadline = time.monotonic() + within
    last, since = cpu_ticks(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_ticks(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def open_pages(port: int) -> None:
    """What a visitor's browser asks first: the tour page, its snapshot and the device list."""
    for path in ("/", "/api/tour", "/api/devices"):
        for _ in range(120):  # the first request waits while the web stack loads
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                    r.read()
                break
            except OSError:
                time.sleep(0.5)


@contextmanager
def process(cmd: Sequence[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def home_config(root: Path, folder: Path, *, mqtt_port: int | None) -> tuple[Path, int]:
    """The demo home of checkout `root` with every shipped scenario: its own database and ports,
    pointed at the broker on `mqtt_port` (`huis run`) or at an embedded one (`huis demo`)."""
    doc = yaml.safe_load((root / "config" / "home.yaml").read_text(encoding="utf-8"))
    web = free_port()
    doc["dashboard"] = {**doc.get("dashboard", {}), "port": web}
    doc["storage"] = {"path": str(folder / "huis.db")}
    doc["scenarios"] = [str(root / "scenarios")]
    doc["alerts"] = str(root / "config" / "alerts.yaml")
    if mqtt_port is not None:
        doc.pop("embedded_broker", None)
        doc["mqtt"] = {"host": "127.0.0.1", "port": mqtt_port}
    else:
        doc["embedded_broker"] = {**doc.get("embedded_broker", {}), "port": free_port()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "home.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, web


# -- `huis run` -------------------------------------------------------------------------------------


class Outside:
    """A paho client on the broker: sees the hub's status, publishes the fuzzed payloads."""

    def __init__(self, port: int) -> None:
        self.online = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-memory-{port}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("huis/status", qos=1)
        self.client.loop_start()

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload.startswith(b"online"):
            self.online.set()

    def fuzz(self, n: int, topics: list[str], seed: int) -> None:
        rng = random.Random(seed)
        for i in range(n):
            topic, payload = hostile(rng, topics)
            self.client.publish(topic, payload, qos=0)
            if i % 200 == 199:
                time.sleep(0.05)  # let paho's thread and the broker drain: we measure the hub

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def device_topics(config: Path) -> list[str]:
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    return [dev.get("topic") or f"zigbee2mqtt/{name}" for name, dev in doc["devices"].items()]


def measure_run(python: str, root: Path, work: Path, idle_minutes: float, fuzz: int) -> dict[str, Sample]:
    out: dict[str, Sample] = {}
    with mosquitto() as port:
        config, web = home_config(root, work / "run", mqtt_port=port)
        outside = Outside(port)
        try:
            with process([python, "-m", "huis.cli", "run", "--config", str(config)], root,
                         work / "run.log") as proc:
                if not outside.online.wait(120):
                    raise RuntimeError(f"huis run did not come online: {(work / 'run.log').read_text()[-2000:]}")
                time.sleep(2)
                out["started"] = sample(proc.pid)
                time.sleep(idle_minutes * 60)
                out["idle"] = sample(proc.pid)
                for n in (1, 2):
                    outside.fuzz(fuzz, device_topics(config), seed=n)
                    settle(proc.pid)
                    out[f"fuzz{n}"] = sample(proc.pid)
                open_pages(web)
                settle(proc.pid)
                out["page"] = sample(proc.pid)
        finally:
            outside.close()
    return out


def measure_demo(python: str, root: Path, work: Path, idle_minutes: float) -> dict[str, Sample]:
    out: dict[str, Sample] = {}
    config, web = home_config(root, work / "demo", mqtt_port=None)
    with process([python, "-m", "huis.cli", "demo", "--config", str(config)], root, work / "demo.log") as proc:
        broker = yaml.safe_load(config.read_text(encoding="utf-8"))["embedded_broker"]["port"]
        wait_port(broker, within=120)
        time.sleep(10)  # the hub connects, the simulated devices announce themselves
        out["started"] = sample(proc.pid)
        time.sleep(idle_minutes * 60)
        out["idle"] = sample(proc.pid)
        open_pages(web)
        settle(proc.pid)
        out["page"] = sample(proc.pid)
    return out


# -- the report -------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    layers: list[tuple[str, float]] = field(default_factory=list)
    run: dict[str, Sample] = field(default_factory=dict)
    demo: dict[str, Sample] = field(default_factory=dict)


def measure(label: str, python: str, root: Path, idle_minutes: float, fuzz: int) -> Run:
    print(f"== {label}: {root}", file=sys.stderr, flush=True)
    # As installed: compiled (a shell with PYTHONDONTWRITEBYTECODE=1 would compile at each start).
    subprocess.run([python, "-m", "compileall", "-q", *PACKAGES], cwd=root, check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="huis-memory-") as tmp:
        r = Run(label, layers=layer_rss(python, root))
        r.run = measure_run(python, root, Path(tmp), idle_minutes, fuzz)
        r.demo = measure_demo(python, root, Path(tmp), idle_minutes)
    return r


def table(runs: list[Run], idle_minutes: float, fuzz: int) -> str:
    head = "| | " + " | ".join(r.label for r in runs) + " |\n|---|" + "---|" * len(runs)
    lines = ["RSS in MiB of a fresh interpreter after each layer (each adds to those above):", "", head]
    for i, (label, _) in enumerate(runs[0].layers):
        lines.append(f"| {label} | " + " | ".join(f"{r.layers[i][1]:.1f}" for r in runs) + " |")
    idle = f"{idle_minutes:g} min"
    rows = (("run", "started", "`huis run`: started (status online, +2 s)", False),
            ("run", "idle", f"`huis run`: idle {idle} later", False),
            ("run", "fuzz1", f"`huis run`: after {fuzz:,} fuzzed payloads over MQTT", False),
            ("run", "fuzz2", f"`huis run`: after {fuzz:,} more", False),
            ("run", "page", "`huis run`: with the dashboard's pages opened", False),
            ("demo", "started", "`huis demo`, every process: started (+10 s)", True),
            ("demo", "idle", f"`huis demo`, every process: idle {idle} later", True),
            ("demo", "page", "`huis demo`, every process: with the pages opened", True))
    lines += ["", "RSS in MiB of the processes (PSS beside the demo's: its processes share libraries):", "", head]
    for what, key, label, pss in rows:
        cells = []
        for r in runs:
            s = (r.run if what == "run" else r.demo).get(key)
            cells.append(s.cell(pss) + (f", {s.procs} processes" if pss and s.procs > 1 else "") if s else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(runs: list[Run], idle_minutes: float, fuzz: int, load: Sequence[float], after: Sequence[float]) -> str:
    return (f"{BEGIN}\nMeasured by `python -m bench.memory` on {machine()}, {time.strftime('%Y-%m-%d %H:%M')}; "
            f"load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} before and {after[0]:.1f}, "
            f"{after[1]:.1f}, {after[2]:.1f} after.\n\n{table(runs, idle_minutes, fuzz)}\n{END}")


def write_doc(doc: Path, text: str) -> None:
    body = doc.read_text(encoding="utf-8")
    if BEGIN not in body or END not in body:
        raise SystemExit(f"{doc}: no {BEGIN} ... {END} markers to write between")
    doc.write_text(body[:body.index(BEGIN)] + text + body[body.index(END) + len(END):], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-minutes", type=float, default=2.0)
    parser.add_argument("--fuzz", type=int, default=10_000, help="hostile payloads per round (two rounds)")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to measure first (main)")
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ alone")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    runs = []
    if args.before is not None:
        runs.append(measure("before", sys.executable, args.before.resolve(), args.idle_minutes, args.fuzz))
    runs.append(measure("this checkout" if args.before is None else "after", sys.executable, ROOT,
                        args.idle_minutes, args.fuzz))
    text = section(runs, args.idle_minutes, args.fuzz, load, os.getloadavg())
    print(text)
    print(json.dumps([{"label": r.label, "layers": r.layers,
                       "run": {k: vars(v) for k, v in r.run.items()},
                       "demo": {k: vars(v) for k, v in r.demo.items()}} for r in runs]), file=sys.stderr)
    if not args.no_write:
        write_doc(args.doc, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
