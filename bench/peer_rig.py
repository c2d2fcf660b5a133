"""Speed from outside: the peer rig's modes against `huis run` and the bare relay, one session.

    .venv/bin/python -m bench.peer_rig [--rig ../shared/peer-rig] [--rounds 2] [--quick]

The rig (`../shared/peer-rig/`, given to the project, not part of it) plays a bed sensor and a
hall light over a loopback mosquitto and measures any process that turns "occupancy false" into
`{"state": "ON", "brightness": 25}` on `zigbee2mqtt/hall_light/set`, talking to it only through
the broker. This script starts the rig's own broker (`start_broker.sh`, `set_tcp_nodelay true`),
then per peer: start-up to first reaction, idle RSS, latency at 50 events/s, a burst of 5,000,
the drain of 5,000 queued while the peer is paused, and the sweep for the highest sustained rate.
Peers: the rig's 32-line paho relay (the floor), huis with only the rig's rule, and huis with the
rule plus every shipped scenario. Every round runs all peers; the table gives each figure's
median over the rounds, and ratios to the floor of the same session (never compare absolute
times from different days: the machine's load is written beside the table).

The rig is read where it lies; without it this says where it should be and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from bench.common import free_port

ROOT = Path(__file__).resolve().parent.parent
# Beside the checkout (../shared/peer-rig), or beside the folder of a worktree's checkout.
RIG = next((p / "shared" / "peer-rig" for p in ROOT.parents if (p / "shared" / "peer-rig").is_dir()),
           ROOT.parent / "shared" / "peer-rig")
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- peer-rig: begin -->", "<!-- peer-rig: end -->"


@dataclass(frozen=True)
class Peer:
    label: str
    command: str  # shell command; {port} is the broker's port


def peers(rig: Path, work: Path, port: int, huis: Path = ROOT / ".venv" / "bin" / "huis") -> list[Peer]:
    """The floor and two huis variants, each with its own storage and dashboard port."""
    out = [Peer("bare relay (floor)", f"exec {shlex.quote(sys.executable)} {rig / 'floor_controller.py'} {port}")]
    for name, scenarios in (("huis, rule only", [str(rig / "night_rule.yaml")]),
                            ("huis, all scenarios", [str(rig / "night_rule.yaml"), str(ROOT / "scenarios")])):
        config = _huis_config(work / name.replace(", ", "-").replace(" ", "-"), port, scenarios)
        out.append(Peer(name, f"exec {huis} run --config {config}"))
    return out


def _huis_config(folder: Path, port: int, scenarios: Sequence[str]) -> Path:
    """The demo home's config/home.yaml, pointed at the rig's broker and these scenarios."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load((ROOT / "config" / "home.yaml").read_text(encoding="utf-8"))
    doc.pop("embedded_broker", None)
    doc.update(mqtt={"host": "127.0.0.1", "port": port}, scenarios=list(scenarios),
               alerts=str(ROOT / "config" / "alerts.yaml"), storage={"path": str(folder / "huis.db")})
    doc["dashboard"] = {**doc.get("dashboard", {}), "port": free_port()}
    config = folder / "home.yaml"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config


class Rig:
    """The rig's broker and its nightbench.py, run as the rig's README says."""

    def __init__(self, rig: Path, work: Path) -> None:
        self.rig, self.work = rig, work
        self.port = free_port()

    @contextmanager
    def broker(self) -> Iterator[None]:
        pid = int(subprocess.run(["bash", str(self.rig / "start_broker.sh"), str(self.port), "nodelay",
                                  str(self.work / "broker")], check=True, capture_output=True,
                                 text=True).stdout.split()[-1])
        try:
            yield
        finally:
            os.kill(pid, signal.SIGTERM)

    def bench(self, mode: str, *args: str, timeout: float = 600) -> dict[str, object]:
        done = subprocess.run([sys.executable, str(self.rig / "nightbench.py"), mode, "--port", str(self.port),
                               *args], capture_output=True, text=True, timeout=timeout, check=False)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"nightbench {mode} failed ({done.returncode}): {done.stderr[-800:]}")
        result: dict[str, object] = json.loads(lines[-1])
        return result


def measure(rig: Rig, peer: Peer, quick: bool) -> dict[str, float]:
    """One round of every mode against one peer; the peer is started by the start-up mode."""
    pidfile = rig.work / "peer.pid"
    started = rig.bench("startup", "--cmd", peer.command, "--pidfile", str(pidfile),
                        "--peer-log", str(rig.work / "peer.log"))
    pid = int(pidfile.read_text().split()[0])
    try:
        time.sleep(2)  # idle: what it holds once started, before the load
        rss = rig.bench("rss", "--pid", str(pid))
        latency = rig.bench("latency", "--events", "200" if quick else "500")
        burst = rig.bench("burst", "--burst", "2000" if quick else "5000")
        cpu = _cpu_seconds(pid)
        drain = rig.bench("drain", "--pid", str(pid), "--burst", "2000" if quick else "5000")
        # The peer's own CPU time for the drain's events (and its warm-up): unlike the rates, it
        # hardly moves with what else the machine runs.
        cpu = (_cpu_seconds(pid) - cpu) * 1000 / (_num(drain, "published") + 2 * 50 + 1)
        rates = ["250", "500", "1000", "2000", "4000", "8000"] if quick else []
        sweep = rig.bench("sweep", *(["--rates", *rates, "--seconds", "2"] if quick else []))
    finally:
        _stop(pid)
    return {"startup_ms": _num(started, "ready_ms"), "rss_mib": _num(rss, "rss_mib"),
            "p50_ms": _num(latency, "p50_ms"), "p99_ms": _num(latency, "p99_ms"),
            "burst_cps": _num(burst, "commands_per_s"), "drain_cps": _num(drain, "commands_per_s"),
            "cpu_ms_per_event": cpu,
            "sustained_eps": _num(sweep, "max_sustained_events_per_s")}


def startup(rig: Rig, peer: Peer) -> dict[str, float]:
    """Only start-up to first reaction and idle RSS (`--startup-only`: a short look while working)."""
    pidfile = rig.work / "peer.pid"
    started = rig.bench("startup", "--cmd", peer.command, "--pidfile", str(pidfile),
                        "--peer-log", str(rig.work / "peer.log"))
    pid = int(pidfile.read_text().split()[0])
    try:
        time.sleep(2)
        rss = rig.bench("rss", "--pid", str(pid))
    finally:
        _stop(pid)
    return {"startup_ms": _num(started, "ready_ms"), "rss_mib": _num(rss, "rss_mib")}


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _num(result: dict[str, object], key: str) -> float:
    value = result.get(key)
    if not isinstance(value, int | float):
        raise RuntimeError(f"the rig's result has no {key}: {result}")
    return float(value)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


ROWS = (("start-up to first reaction (ms)", "startup_ms", "{:.0f}", "lower"),
        ("idle RSS (MiB)", "rss_mib", "{:.1f}", "lower"),
        ("latency p50 at 50 ev/s (ms)", "p50_ms", "{:.2f}", "lower"),
        ("latency p99 at 50 ev/s (ms)", "p99_ms", "{:.2f}", "lower"),
        ("burst: commands/s", "burst_cps", "{:,.0f}", "higher"),
        ("drain (peer paused): commands/s", "drain_cps", "{:,.0f}", "higher"),
        ("max sustained events/s", "sustained_eps", "{:,.0f}", "higher"),
        ("CPU time per event, drain (ms)", "cpu_ms_per_event", "{:.3f}", "lower"))


def table(results: dict[str, list[dict[str, float]]]) -> str:
    """Medians per peer, and each huis figure as a ratio to the floor's (x1.00 = as good)."""
    labels = list(results)
    med = {lab: {key: statistics.median(r[key] for r in runs) for _, key, _, _ in ROWS}
           for lab, runs in results.items()}
    floor = med[labels[0]]
    head = "| metric | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels)
    lines = [head]
    for name, key, fmt, better in ROWS:
        cells = [fmt.format(med[labels[0]][key])]
        for lab in labels[1:]:
            value = med[lab][key]
            ratio = value / floor[key] if floor[key] else float("nan")
            cells.append(f"{fmt.format(value)} ({ratio:.2f}x)")
        lines.append(f"| {name} ({better} is better) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(results: dict[str, list[dict[str, float]]], rounds: int, quick: bool, load: Sequence[float],
            after: Sequence[float]) -> str:
    return (f"{BEGIN}\nRun {date.today():%Y-%m-%d}; {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} before the "
            f"run and {after[0]:.1f}, {after[1]:.1f}, {after[2]:.1f} after it (other work raises the tails); "
            f"median of {rounds} round(s){', quick (fewer events, short sweep)' if quick else ''}. "
            "In brackets: the ratio to the bare relay of the same session.\n\n"
            f"{table(results)}\n{END}")


def write_doc(doc: Path, text: str) -> None:
    body = doc.read_text(encoding="utf-8")
    if BEGIN in body and END in body:
        body = body[:body.index(BEGIN)] + text + body[body.index(END) + len(END):]
    else:
        raise SystemExit(f"{doc}: no {BEGIN} ... {END} markers to write between")
    doc.write_text(body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rig", type=Path, default=RIG)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer events and a short sweep")
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--startup-only", action="store_true",
                        help="only start-up and idle RSS, printed as JSON lines; the doc is not written")
    parser.add_argument("--huis", type=Path, default=ROOT / ".venv" / "bin" / "huis",
                        help="the huis to measure (another checkout's, for a before/after)")
    args = parser.parse_args(argv)
    if not (args.rig / "nightbench.py").exists():
        print(f"peer rig not found at {args.rig} (give --rig): nothing measured", file=sys.stderr)
        return 2
    load = os.getloadavg()
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="huis-rig-") as tmp:
        rig = Rig(args.rig, Path(tmp))
        with rig.broker():
            for n in range(args.rounds):
                for peer in peers(args.rig, Path(tmp) / f"round-{n}", rig.port, args.huis):
                    print(f"round {n + 1}/{args.rounds}: {peer.label}", file=sys.stderr, flush=True)
                    if args.startup_only:
                        print(json.dumps({"peer": peer.label, **startup(rig, peer)}), flush=True)
                        continue
                    results.setdefault(peer.label, []).append(measure(rig, peer, args.quick))
    if args.startup_only:
        return 0
    text = section(results, args.rounds, args.quick, load, os.getloadavg())
    print(text)
    write_doc(args.doc, text)
    print(f"wrote {args.doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
