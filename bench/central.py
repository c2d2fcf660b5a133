"""The central care view under load and faults: simulated homes into the real 3-node NATS
cluster and PostgreSQL on loopback, through the centre's own ingest.

For each size (20, 100, 200 homes) a fresh cluster and PostgreSQL are started
(central/servers.py) and the centre as a care organisation runs it: `huis central init`, a
coordinator made with `huis central user add`, and `huis central run` in a process of its own
(ingest, commands, dashboard). The homes of simulators/homes.py publish for a steady window,
and the benchmark measures what PostgreSQL stored per second, the latency from a home handing
an alert to MQTT (wall clock) to the commit of its row in PostgreSQL
(`track_commit_timestamp`), and CPU and memory (PSS) of each service from /proc. In the
largest run it then kills the NATS node that leads NATS's MQTT stream `$MQTT_msgs` (asked of
the JetStream API) and starts it again, kills PostgreSQL and starts it again, and cuts the
bridged home's link (a real mosquitto bridge behind a relay) for `--cut-minutes`, then
restores it. At the end the homes stop, every PUBACK is awaited, and what each home sent (its
ledger) is counted against what PostgreSQL holds: every alert step stored, none twice.
Heartbeats go at QoS 0 (as a hub sends them) and are counted apart: one lost to a fault is not
a failure.

    python -m bench.central --quick     # 1-minute cut, shorter windows (bench/run.py runs this)
    python -m bench.central             # the full run: 10-minute cut (about 25 minutes)

Writes its section of docs/central.md between marker comments; the raw figures, the ledgers and
the per-home counts stay in var/central-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from bench.common import ROOT, machine
from central.ingest import STREAM
from central.servers import NatsCluster, Postgres, ServerError, free_port, write_centre_config
from controller.clock import RealClock
from dashboard.auth import CSRF_COOKIE
from simulators.homes import (
    PAGES_PER_DAY,
    HomeBroker,
    HomeSpec,
    Ledger,
    LinkCut,
    Rates,
    Sent,
    bridge_config,
    write_plan,
)

OUT = ROOT / "var" / "central-bench"
DOC = ROOT / "docs" / "central.md"
BEGIN, END = "<!-- central-bench: begin -->", "<!-- central-bench: end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WALL = RealClock()
BRIDGED_HOME = "zwolle-0001"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    sizes: tuple[int, ...] = (20, 100, 200)
    speed: float = 60.0  # home seconds per real second
    alert_scale: float = 50.0
    warmup: float = 20.0
    steady: float = 120.0
    cut_minutes: float = 10.0
    faults: bool = True
    quick: bool = False


# -- processes: CPU and memory from /proc -----------------------------------------------------------


def _tree(root: int) -> list[int]:
    """A process and all its descendants (PostgreSQL's postmaster and its backends, which each
    call setsid, so a process group would miss them)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += [c for c, p in parent.items() if p == pid]
    return found


def _ticks(pid: int) -> int:
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    return 0


def _pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


@dataclass
class Usage:
    cpu_s: float
    pss_mib: float


class Services:
    """The processes to watch, by service name; pids are looked up each time (restarts)."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups

    def sample(self) -> dict[str, Usage]:
        out = {}
        for name, pids_of in self.groups.items():
            pids = [p for root in pids_of() for p in _tree(root)]
            out[name] = Usage(cpu_s=sum(_ticks(p) for p in pids) / CLK_TCK,
                              pss_mib=sum(_pss_kib(p) for p in pids) / 1024)
        return out


def load() -> str:
    """The load average over 1, 5 and 15 minutes (`uptime`)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- one run ------------------------------------------------------------------------------------------


@dataclass
class Run:
    homes: int
    offered: float = 0.0  # messages/s the homes sent in the steady window
    stored: float = 0.0  # messages/s PostgreSQL stored in it
    latency_ms: list[float] = field(default_factory=list)  # alert steps sent in the steady window
    usage: dict[str, dict[str, float]] = field(default_factory=dict)  # service -> cpu %, pss MiB
    load_before: str = ""
    load_after: str = ""
    peak_stored: float = 0.0  # messages/s, best 5 s of the whole run (catching up after a fault)
    faults: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # home -> counts
    ingest: dict[str, Any] = field(default_factory=dict)
    window: float = 0.0
    fault_latency_max_ms: float = 0.0
    bridged_latency_max_ms: float = 0.0
    view_latency_ms: list[float] = field(default_factory=list)  # raised -> shown by /api/overview
    view_unseen: int = 0  # raised and closed again between two looks (or never shown)
    overview_ms: list[float] = field(default_factory=list)
    lost: list[dict[str, Any]] = field(default_factory=list)  # the ledger's entries PostgreSQL does not hold
    steady_from: datetime | None = None
    steady_to: datetime | None = None

    def pct(self, p: float, samples: list[float] | None = None) -> float:
        s = sorted(self.latency_ms if samples is None else samples)
        return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


class Rig:
    """The cluster, PostgreSQL, the centre, the bridged home and the homes of one run."""

    def __init__(self, n: int, settings: Settings, folder: Path) -> None:
        self.n, self.settings, self.folder = n, settings, folder
        self.ids = [f"zwolle-{i:04d}" for i in range(1, n + 1)]
        self.cluster = NatsCluster(folder / "nats")
        for h in self.ids:
            self.cluster.add_home(h)
        self.pg = Postgres()
        self.relays: list[LinkCut] = []
        self.broker: HomeBroker | None = None
        self.centre: asyncio.subprocess.Process | None = None
        self.homes: asyncio.subprocess.Process | None = None
        self.ledger_path = folder / "sent.jsonl"
        self.samples: list[tuple[datetime, int]] = []
        self.view_port = free_port()
        self.view_password = secrets.token_urlsafe(24)
        self.seen: dict[str, datetime] = {}  # alert id -> when the dashboard's API first showed it
        self.overview_ms: list[float] = []

    async def start(self) -> None:
        self.cluster.start()
        await self.cluster.wait_ready()
        self.pg.start()
        # Commit times of rows, for the latency to "committed in PostgreSQL".
        with (self.pg.data / "postgresql.auto.conf").open("a") as f:
            f.write("track_commit_timestamp = on\n")
        self.pg.restart()
        await self._start_centre()
        await self._start_bridge()
        await self._start_homes()

    async def _huis(self, *argv: str, stdin: bytes | None = None) -> None:
        """One `huis` command (`python -m huis.cli`), as a care organisation's IT would run it."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "huis.cli", *argv, cwd=ROOT, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate(stdin)
        if proc.returncode != 0:
            raise RuntimeError(f"huis {' '.join(argv)} failed ({proc.returncode}): {out.decode()[-2000:]}")

    async def _start_centre(self) -> None:
        """`huis central init`, a coordinator, then `huis central run` until its dashboard answers."""
        cfg = self._centre_config()
        await self._huis("central", "init", "--config", str(cfg))
        await self._huis("central", "user", "add", "bench", "--role", "coordinator", "--password-stdin",
                         "--config", str(cfg), stdin=f"{self.view_password}\n".encode())
        with (self.folder / "centre.log").open("w") as log:
            self.centre = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "huis.cli", "central", "run", "--config", str(cfg), cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.view_port}", timeout=5) as client:
            for _ in range(600):
                if self.centre.returncode is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/login")).status_code == 200:
                        return
                await WALL.sleep(0.2)
        raise RuntimeError(f"the centre did not start: {(self.folder / 'centre.log').read_text()[-2000:]}")

    def _centre_config(self) -> Path:
        """config/central.yaml for this cluster and database: every home in one team."""
        return write_centre_config(self.folder, self.cluster, self.pg, teams={"wijk": "Wijkteam"},
                                   homes=dict.fromkeys(self.ids, "wijk"),
                                   dashboard={"host": "127.0.0.1", "port": self.view_port,
                                              "audit_key_file": "central-audit.key"})

    async def _start_bridge(self) -> None:
        self.relays = [LinkCut(a) for a in self.cluster.mqtt_addresses]
        for r in self.relays:
            await r.start()
        self.bridge_port = free_port()
        folder = self.folder / "home-broker"
        self.broker = HomeBroker(folder, bridge_config(
            home_id=BRIDGED_HOME, username=f"home-{BRIDGED_HOME}", password=self.cluster.homes[BRIDGED_HOME],
            remote=[("127.0.0.1", r.port) for r in self.relays], local_port=self.bridge_port, folder=folder))
        self.broker.start()

    async def _start_homes(self) -> None:
        mqtt = self.cluster.mqtt_addresses
        specs = [HomeSpec(home_id=BRIDGED_HOME, addresses=(("127.0.0.1", self.bridge_port),), bridged=True)]
        for i, h in enumerate(self.ids[1:]):
            # Spread over the nodes as a load balancer would; the others are where to go next.
            k = i % len(mqtt)
            specs.append(HomeSpec(home_id=h, addresses=tuple(mqtt[k:] + mqtt[:k]), username=f"home-{h}",
                                  password=self.cluster.homes[h]))
        plan = self.folder / "plan.json"
        write_plan(plan, specs)
        s = self.settings
        with (self.folder / "homes.log").open("w") as log:
            self.homes = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "simulators.homes", "--plan", str(plan), "--ledger", str(self.ledger_path),
                "--speed", str(s.speed), "--alert-scale", str(s.alert_scale), cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    def services(self) -> Services:
        def nats(i: int) -> Callable[[], list[int]]:
            return lambda: [p.pid] if (p := self.cluster.nodes[i].proc) is not None and p.poll() is None else []

        def one(get: Callable[[], subprocess.Popen[Any] | None]) -> Callable[[], list[int]]:
            return lambda: [p.pid] if (p := get()) is not None and p.poll() is None else []

        def child(get: Callable[[], asyncio.subprocess.Process | None]) -> Callable[[], list[int]]:
            return lambda: [p.pid] if (p := get()) is not None and p.returncode is None else []

        groups: dict[str, Callable[[], list[int]]] = {
            f"nats {n.name}": nats(i) for i, n in enumerate(self.cluster.nodes)}
        groups["postgres"] = one(lambda: self.pg.proc)
        groups["huis central"] = child(lambda: self.centre)
        groups["simulated homes"] = child(lambda: self.homes)
        return Services(groups)

    async def query(self, sql: str) -> list[dict[str, Any]]:
        """One query on a connection of its own (the benchmark's look must survive PostgreSQL's restart)."""
        async with await psycopg.AsyncConnection.connect(self.pg.dsn, row_factory=dict_row) as conn:
            cur = await conn.execute(sql)  # type: ignore[arg-type]  # the benchmark's own constants
            return await cur.fetchall()

    async def stored(self, *, heartbeats: bool = True) -> int | None:
        try:
            rows = await self.query("SELECT count(*) AS n FROM events"
                                    + ("" if heartbeats else " WHERE kind <> 'heartbeat'"))
            return int(rows[0]["n"])
        except psycopg.Error:  # PostgreSQL is away (a fault): no sample
            return None

    async def sampler(self) -> None:
        while True:
            n = await self.stored()
            if n is not None:
                self.samples.append((WALL.now(), n))
            await WALL.sleep(1.0)

    async def watch_view(self, period: float = 1.0) -> None:
        """Log in to the central dashboard and ask for its overview every `period` s, as the page
        does (every 5 s): when each alert first shows, and how long an overview takes."""
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.view_port}", timeout=10) as client:
            await client.get("/login")
            r = await client.post("/api/login", json={"username": "bench", "password": self.view_password},
                                  headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})
            r.raise_for_status()
            while True:
                t0 = WALL.now()
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    r = await client.get("/api/overview")
                    if r.status_code == 200:
                        t1 = WALL.now()
                        self.overview_ms.append((t1 - t0).total_seconds() * 1000)
                        for a in r.json()["alerts"]:
                            self.seen.setdefault(a["id"], t1)
                await WALL.sleep(period)

    async def stop_homes(self) -> None:
        assert self.homes is not None
        self.homes.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.homes.wait(), 300)

    async def stop(self) -> None:
        for p in (self.homes, self.centre):
            if p is not None and p.returncode is None:
                p.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(p.wait(), 30)
                if p.returncode is None:
                    p.kill()
                    await p.wait()
        if self.broker is not None:
            self.broker.stop()
        for r in self.relays:
            await r.close()
        self.cluster.stop()
        self.pg.stop()


async def steady(rig: Rig, run: Run) -> None:
    """Warm up, then measure one window: stored/s and CPU and memory per service."""
    s = rig.settings
    await WALL.sleep(s.warmup)
    services = rig.services()
    t0, before, n0 = WALL.now(), services.sample(), await rig.stored()
    await WALL.sleep(s.steady)
    t1, after, n1 = WALL.now(), services.sample(), await rig.stored()
    run.window = (t1 - t0).total_seconds()
    run.stored = ((n1 or 0) - (n0 or 0)) / run.window
    run.usage = {name: {"cpu_pct": 100 * (after[name].cpu_s - before[name].cpu_s) / run.window,
                        "pss_mib": after[name].pss_mib} for name in after}
    run.steady_from, run.steady_to = t0, t1


async def faults(rig: Rig, run: Run) -> None:
    """Kill the NATS node leading `$MQTT_msgs` and start it again; kill PostgreSQL and start it
    again; cut the bridge."""
    settle = 10.0 if rig.settings.quick else 20.0
    i = await rig.cluster.leader_of(STREAM)
    node = rig.cluster.nodes[i].name
    rig.cluster.kill(i)
    run.faults.append(f"{WALL.now():%H:%M:%S} NATS node {node}, the leader of {STREAM}, killed (SIGKILL)")
    await WALL.sleep(settle)
    with contextlib.suppress(ServerError):
        new = rig.cluster.nodes[await rig.cluster.leader_of(STREAM)].name
        run.faults.append(f"{WALL.now():%H:%M:%S} {new} leads {STREAM} now")
    rig.cluster.restart(i)
    try:
        await rig.cluster.wait_ready(120)
        run.faults.append(f"{WALL.now():%H:%M:%S} {node} restarted and healthy")
    except ServerError as exc:
        # Seen on a loaded machine: the node runs but its /healthz says a JetStream consumer
        # (NATS's own retained-message one) is not current yet. Measured on regardless.
        why = next((line for line in str(exc).splitlines() if "Healthcheck failed" in line), str(exc)[:200])
        run.faults.append(f"{WALL.now():%H:%M:%S} {node} restarted, not healthy within 120 s "
                          f"({why.split('] ', 1)[-1]})")
    await WALL.sleep(settle)
    await asyncio.to_thread(rig.pg.restart, kill=True)
    run.faults.append(f"{WALL.now():%H:%M:%S} PostgreSQL killed (SIGKILL) and restarted (crash recovery)")
    await WALL.sleep(settle)
    for r in rig.relays:
        r.cut()
    run.faults.append(f"{WALL.now():%H:%M:%S} {BRIDGED_HOME}'s bridge link cut")
    await WALL.sleep(rig.settings.cut_minutes * 60)
    for r in rig.relays:
        r.restore()
    run.faults.append(f"{WALL.now():%H:%M:%S} link restored after {rig.settings.cut_minutes:g} min")
    await WALL.sleep(settle)


async def catch_up(rig: Rig, expected: int, within: float) -> None:
    """Wait until PostgreSQL holds as many events other than heartbeats (QoS 0, which a fault may
    lose) as the homes sent, or nothing moves for `within` s."""
    last, since = -1, WALL.now()
    while True:
        n = await rig.stored(heartbeats=False)
        if n is not None and n >= expected:
            return
        if n is not None and n > last:
            last, since = n, WALL.now()
        elif (WALL.now() - since).total_seconds() > within:
            return
        await WALL.sleep(1.0)


async def count(rig: Rig, sent: list[Sent], run: Run) -> None:
    """Per home: what it sent against what PostgreSQL holds."""
    rows = await rig.query("SELECT home, msg_id::text AS msg_id, kind, action, alert_id, "
                           "pg_xact_commit_timestamp(xmin) AS committed FROM events")
    per_home = await rig.query("SELECT home, count(*) AS n FROM alerts GROUP BY home")
    alert_rows = {r["home"]: int(r["n"]) for r in per_home}
    rejected = (await rig.query("SELECT count(*) AS n FROM rejected"))[0]
    stored = {r["msg_id"]: r for r in rows}
    steps = Counter((r["home"], r["alert_id"], r["action"]) for r in rows if r["kind"] == "alert")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in sent:
        c = counts[e.home]
        key = e.kind if e.kind in ("alert", "heartbeat") else "other"
        c[f"{key}_sent"] += 1
        c[f"{key}_stored"] += e.msg_id in stored
        c[f"{key}_lost"] += e.msg_id not in stored
    sent_ids = {e.msg_id for e in sent}
    for r in rows:
        if r["msg_id"] not in sent_ids:
            counts[r["home"]]["unknown"] += 1
    for (home, _alert, _action), n in steps.items():
        counts[home]["alert_duplicated"] += n - 1
    for home, c in counts.items():
        c["alerts_distinct_sent"] = len({e.alert_id for e in sent if e.home == home and e.alert_id})
        c["alerts_rows"] = alert_rows.get(home, 0)
    run.counts = {h: dict(c) for h, c in sorted(counts.items())}
    run.lost = [asdict(e) for e in sent if e.msg_id not in stored and e.qos > 0]
    run.counts["*"] = {"rejected": int(rejected["n"]) if rejected else 0}
    _latencies(sent, stored, run)


def _latencies(sent: list[Sent], stored: dict[str, Any], run: Run) -> None:
    t0, t1 = run.steady_from, run.steady_to
    for e in sent:
        row = stored.get(e.msg_id)
        if e.kind != "alert" or row is None or row["committed"] is None:
            continue
        at = datetime.fromisoformat(e.sent)
        ms = (row["committed"] - at).total_seconds() * 1000
        if e.home == BRIDGED_HOME:
            run.bridged_latency_max_ms = max(run.bridged_latency_max_ms, ms)
        elif t0 is not None and t1 is not None and t0 <= at <= t1:
            run.latency_ms.append(ms)
        else:
            run.fault_latency_max_ms = max(run.fault_latency_max_ms, ms)


def _view_latencies(sent: list[Sent], rig: Rig, run: Run) -> None:
    """From a home raising an alert (in the steady window) to the dashboard's API showing it."""
    assert run.steady_from is not None and run.steady_to is not None
    raised = [e for e in sent if e.action == "raised" and e.alert_id and e.home != BRIDGED_HOME
              and run.steady_from <= datetime.fromisoformat(e.sent) <= run.steady_to]
    for e in raised:
        shown = rig.seen.get(e.alert_id or "")
        if shown is None:
            run.view_unseen += 1
        else:
            run.view_latency_ms.append((shown - datetime.fromisoformat(e.sent)).total_seconds() * 1000)
    run.overview_ms = sorted(rig.overview_ms)


def _peak(samples: Sequence[tuple[datetime, int]], span: float = 5.0) -> float:
    best = 0.0
    j = 0
    for i, (t, n) in enumerate(samples):
        while j < i and (t - samples[j][0]).total_seconds() > span:
            j += 1
        dt = (t - samples[j][0]).total_seconds()
        if dt >= span * 0.8:
            best = max(best, (n - samples[j][1]) / dt)
    return best


async def one_run(n: int, settings: Settings, with_faults: bool) -> Run:
    run = Run(homes=n, load_before=load())
    folder = OUT / f"{n}-homes"
    folder.mkdir(parents=True, exist_ok=True)
    rig = Rig(n, settings, Path(tempfile.mkdtemp(prefix=f"central-bench-{n}-", dir=folder)))
    print(f"== {n} homes (load {run.load_before})", flush=True)
    try:
        await rig.start()
        async with asyncio.TaskGroup() as tg:
            sampler = tg.create_task(rig.sampler(), name="sampler")
            watcher = tg.create_task(rig.watch_view(), name="view")
            await steady(rig, run)
            if with_faults:
                await faults(rig, run)
            await rig.stop_homes()
            sent = Ledger.read(rig.ledger_path)
            assert run.steady_from is not None and run.steady_to is not None
            in_window = [e for e in sent if run.steady_from <= datetime.fromisoformat(e.sent) <= run.steady_to]
            run.offered = len(in_window) / run.window
            await catch_up(rig, sum(e.kind != "heartbeat" for e in sent), 120 if settings.quick else 300)
            sampler.cancel()
            watcher.cancel()
            await count(rig, sent, run)
            _view_latencies(sent, rig, run)
        run.load_after = load()
    finally:
        await rig.stop()
    run.peak_stored = _peak(rig.samples)
    run.ingest = ingest_stats(rig.folder / "centre.log")
    report(run)
    return run


def ingest_stats(log: Path) -> dict[str, Any]:
    """The last "ingest stats: {...}" line `huis central run` logged as it stopped."""
    found: dict[str, Any] = {}
    for line in log.read_text(errors="replace").splitlines():
        if "ingest stats: " in line:
            with contextlib.suppress(ValueError):
                found = json.loads(line.split("ingest stats: ", 1)[1])
    return found


# -- output ---------------------------------------------------------------------------------------------


def totals(run: Run) -> dict[str, int]:
    t: Counter[str] = Counter()
    for home, c in run.counts.items():
        if home != "*":
            t.update(c)
    return dict(t)


def report(run: Run) -> None:
    t = totals(run)
    print(f"  offered {run.offered:.0f} msg/s, stored {run.stored:.0f} msg/s over {run.window:.0f} s; "
          f"peak {run.peak_stored:.0f} msg/s; alert latency p50 {run.pct(50):.0f} ms, p95 {run.pct(95):.0f} ms, "
          f"max {max(run.latency_ms, default=float('nan')):.0f} ms ({len(run.latency_ms)} alert steps)")
    print(f"  raised alert to the dashboard's API (polled each second): p50 {run.pct(50, run.view_latency_ms):.0f} ms, "
          f"p95 {run.pct(95, run.view_latency_ms):.0f} ms, max {max(run.view_latency_ms, default=float('nan')):.0f} ms "
          f"({len(run.view_latency_ms)} alerts, {run.view_unseen} not seen); one overview "
          f"p50 {run.pct(50, run.overview_ms):.0f} ms, p95 {run.pct(95, run.overview_ms):.0f} ms")
    for name, u in run.usage.items():
        print(f"  {name:24s} CPU {u['cpu_pct']:5.1f} %   PSS {u['pss_mib']:6.1f} MiB")
    for f in run.faults:
        print(f"  fault: {f}")
    print(f"  all homes: alert steps sent {t.get('alert_sent', 0)}, stored {t.get('alert_stored', 0)}, "
          f"lost {t.get('alert_lost', 0)}, duplicated {t.get('alert_duplicated', 0)}; other messages sent "
          f"{t.get('other_sent', 0)}, stored {t.get('other_stored', 0)}, lost {t.get('other_lost', 0)}; "
          f"heartbeats (QoS 0) sent {t.get('heartbeat_sent', 0)}, stored {t.get('heartbeat_stored', 0)}; "
          f"unknown {t.get('unknown', 0)}, rejected {run.counts.get('*', {}).get('rejected', 0)}; "
          f"redelivered and stored once: {run.ingest.get('duplicates', '?')}; heartbeats superseded at the "
          f"centre (a newer one of the home came before the older was stored): "
          f"{run.ingest.get('heartbeats_superseded', '?')}")
    if run.faults:
        print("  per home (alert steps sent/stored/lost/duplicated, alerts sent/rows, other sent/stored):")
        for home, c in run.counts.items():
            if home == "*":
                continue
            mark = " (bridged, link cut)" if home == BRIDGED_HOME else ""
            print(f"    {home}{mark}: {c.get('alert_sent', 0)}/{c.get('alert_stored', 0)}/{c.get('alert_lost', 0)}/"
                  f"{c.get('alert_duplicated', 0)}, {c.get('alerts_distinct_sent', 0)}/{c.get('alerts_rows', 0)}, "
                  f"{c.get('other_sent', 0)}/{c.get('other_stored', 0)}")
    if run.lost:
        first, last = min(e["sent"] for e in run.lost), max(e["sent"] for e in run.lost)
        by = Counter(f"{e['home']} {e['kind']}" for e in run.lost)
        print(f"  LOST {len(run.lost)}, sent between {first[11:23]} and {last[11:23]}: "
              + ", ".join(f"{k} x{n}" for k, n in sorted(by.items())))
    print(f"  load average before {run.load_before}, after {run.load_after}", flush=True)


def verdict(runs: Sequence[Run]) -> tuple[bool, str]:
    lost = sum(totals(r).get("alert_lost", 0) for r in runs)
    dup = sum(totals(r).get("alert_duplicated", 0) for r in runs)
    other = sum(totals(r).get("other_lost", 0) for r in runs)
    sent = sum(totals(r).get("alert_sent", 0) for r in runs)
    ok = lost == 0 and dup == 0
    return ok, (f"{'No' if lost == 0 else lost} alert step{'s' if lost != 1 else ''} lost, "
                f"{'none' if dup == 0 else dup} duplicated, of {sent} sent in all runs "
                f"(other messages lost: {other})")


def section(runs: Sequence[Run], s: Settings, when: str) -> str:
    rates = Rates(alert_scale=s.alert_scale)
    svc = [n for n in runs[0].usage if n != "simulated homes"]
    head = ("| homes | stored msg/s (offered) | alert step to PostgreSQL commit p50 / p95 / max | raised alert to "
            "the dashboard's API p50 / p95 | one overview p50 | CPU ms per message stored (all services) | "
            "load average (1 min) at start / end |")
    lines = [BEGIN, "## Measured", "",
             f"Run {when} UTC by `python -m bench.central{' --quick' if s.quick else ''}` on {machine()}, shared "
             f"with other work: load average {runs[0].load_before} at the start, {runs[-1].load_after} at the end, "
             "so the figures are upper bounds of the cost; the lead reruns it on a quiet machine. "
             "`python -m bench.central` is the full run (the bridged home's link cut for 10 minutes, about half an "
             "hour); `make bench` runs it with `--quick` (1 minute), `HUIS_BENCH_CENTRAL_FULL=1 make bench` in full. "
             "`--redoc var/central-bench/results.json` writes this section again from the last run.", "",
             f"- **Homes** (simulators/homes.py): {s.speed:g} home seconds per real second, so each sends a "
             f"heartbeat (QoS 0, as a hub) every {60 / s.speed:g} s of real time; {rates.describe()}. A real home "
             f"sends about {_per_day(rates):.0f} messages a day (0.017 a second); here each sends "
             f"{_per_day(rates, s.alert_scale) * s.speed / 86400:.2f} a second. One home "
             f"(`{BRIDGED_HOME}`) publishes to its own mosquitto, whose bridge (the lines above) goes through a "
             "relay the benchmark can cut; the others connect to a node's MQTT port each (spread over the three), "
             "with the next nodes to try when theirs goes away.",
             "- **Centre**: the 3-node NATS cluster and PostgreSQL of central/servers.py, set up with `huis central "
             "init` and `huis central user add` (a coordinator), and `huis central run` itself in a process of its "
             "own (ingest, commands, the central dashboard).",
             "- **Alert step to commit**: from the home handing an alert message to MQTT (wall clock) to the "
             "commit of its row (PostgreSQL's `track_commit_timestamp`), for every alert step sent in the "
             "steady window. **To the dashboard's API**: the coordinator, logged in, asks `/api/overview` each "
             "second (the page asks every 5 s); from a home raising the alert to the first answer listing it, so "
             "up to a second is the polling.",
             f"- Steady window {s.steady:g} s after {s.warmup:g} s of warm-up; CPU of the NATS, PostgreSQL and "
             "huis central process trees over the window (the simulated homes left out), memory as PSS at its end.",
             "", head, "|---|---|---|---|---|---|---|"]
    for r in runs:
        v = r.view_latency_ms
        per_msg = sum(u["cpu_pct"] for n, u in r.usage.items() if n in svc) / 100 / r.stored * 1000 if r.stored else 0
        lines.append(f"| {r.homes} | {r.stored:.0f} ({r.offered:.0f}) | {r.pct(50):.0f} / {r.pct(95):.0f} / "
                     f"{max(r.latency_ms, default=float('nan')):.0f} ms | {r.pct(50, v):.0f} / {r.pct(95, v):.0f} ms | "
                     f"{r.pct(50, r.overview_ms):.0f} ms | {per_msg:.2f} | {r.load_before.split()[0]} / "
                     f"{r.load_after.split()[0]} |")
    lines += ["", "Each service: CPU in % of one core over the window / PSS in MiB.", "",
              "| homes | " + " | ".join(svc) + " |", "|---|" + "---|" * len(svc)]
    for r in runs:
        lines.append(f"| {r.homes} | " + " | ".join(f"{r.usage[n]['cpu_pct']:.1f} % / {r.usage[n]['pss_mib']:.0f}"
                                                    for n in svc) + " |")
    lines += ["", *growth(runs), "", *fault_lines(runs, s),
              "The raw figures, each home's ledger and the per-home counts: var/central-bench/ "
              "(`results.json`, `<n>-homes/*/sent.jsonl`).", END]
    return "\n".join(lines)


def _per_day(rates: Rates, scale: float = 1.0) -> float:
    alert_msgs = rates.pages_per_day * scale * 4.15 + rates.info_per_day * scale * 2
    return 1440 + 1 + 4 + rates.outings_per_day * 2 + rates.device_trouble_per_day * 1.5 + alert_msgs


def growth(runs: Sequence[Run]) -> list[str]:
    out = ["How the cost grows: CPU seconds per 1,000 messages stored (all three NATS nodes together), and "
           "what that makes of one core at the rate of real homes (0.017 messages a second each):", "",
           "| homes | NATS | PostgreSQL | huis central | total | homes per core, all services | "
           "msg/s one core of huis central takes |", "|---|---|---|---|---|---|---|"]
    real = _per_day(Rates()) / 86400
    rows: list[tuple[Run, float]] = []
    for r in runs:
        if r.stored <= 0:
            continue
        per = {k: v["cpu_pct"] / 100 / r.stored * 1000 for k, v in r.usage.items()}
        nats = sum(v for k, v in per.items() if k.startswith("nats"))
        total = nats + per["postgres"] + per["huis central"]
        out.append(f"| {r.homes} | {nats:.2f} | {per['postgres']:.2f} | {per['huis central']:.2f} | {total:.2f} | "
                   f"{1000 / total / real:,.0f} | {1000 / per['huis central']:,.0f} |")
        rows.append((r, total))
    if len(rows) >= 2:
        (small, c0), (big, c1) = rows[0], rows[-1]
        central = big.usage["huis central"]["cpu_pct"] / 100 / big.stored * 1000
        out += ["", f"The cost per message falls from {c0:.1f} to {c1:.1f} CPU ms as the homes grow from {small.homes} "
                f"to {big.homes}: part of each service's CPU is fixed (the cluster's own traffic and health checks, "
                "the ingest's fetch loop, the dashboard's polling), so the largest run is the closest to the cost of "
                f"one more home. At that cost one core carries about {1000 / c1 / real:,.0f} homes at real rates "
                "(extrapolated from CPU, not a run with that many homes; the overview a user asks for grows with "
                f"the homes they see: {big.pct(50, big.overview_ms):.0f} ms for {big.homes}), "
                f"and a single huis central process about {1000 / central / real:,.0f}"
                f" (it is the largest of the three). On this shared machine, with {big.homes} homes "
                f"({big.stored:.0f} msg/s) the alert step to commit took p95 {big.pct(95):.0f} ms, "
                f"max {max(big.latency_ms, default=float('nan')):.0f} ms, and the most the ingest stored while "
                f"catching up after the faults was {big.peak_stored:.0f} msg/s (best 5 s)."]
    return out


def fault_lines(runs: Sequence[Run], s: Settings) -> list[str]:
    ok, text = verdict(runs)
    out = ["### Faults", ""]
    for r in runs:
        if not r.faults:
            continue
        t = totals(r)
        out.append(f"In the {r.homes}-home run, after the steady window:")
        out += [f"- {f}" for f in r.faults]
        out += ["", f"Then the homes stopped and every PUBACK was awaited. Counted per home from each home's ledger "
                f"against PostgreSQL: alert steps sent {t.get('alert_sent', 0)}, stored {t.get('alert_stored', 0)}, "
                f"**lost {t.get('alert_lost', 0)}, duplicated {t.get('alert_duplicated', 0)}**; alerts "
                f"{t.get('alerts_distinct_sent', 0)} sent, {t.get('alerts_rows', 0)} rows; other messages sent "
                f"{t.get('other_sent', 0)}, stored {t.get('other_stored', 0)}, lost {t.get('other_lost', 0)}; "
                f"heartbeats (QoS 0, may be lost to a fault) sent {t.get('heartbeat_sent', 0)}, stored "
                f"{t.get('heartbeat_stored', 0)}; stored but never sent {t.get('unknown', 0)}; "
                f"rejected {r.counts.get('*', {}).get('rejected', 0)}. "
                f"Delivered again and stored once (the ingest's duplicates): {r.ingest.get('duplicates', '?')}; "
                f"store retries while PostgreSQL was away: {r.ingest.get('store_retries', '?')}; heartbeats "
                f"superseded at the centre by a newer one of the same home: "
                f"{r.ingest.get('heartbeats_superseded', '?')}.",
                f"The slowest alert step sent during the faults took {r.fault_latency_max_ms / 1000:.1f} s to its "
                f"commit; the bridged home's slowest {r.bridged_latency_max_ms / 1000:.0f} s (queued in its own "
                f"mosquitto for the cut). Best 5 s while catching up: {r.peak_stored:.0f} msg/s stored.", ""]
    out.append(f"**{text}.**" if ok else f"**FAILED: {text}.**")
    return out


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    DOC.write_text(doc)


async def main_async(s: Settings, write: bool) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    runs = []
    for n in s.sizes:
        runs.append(await one_run(n, s, with_faults=s.faults and n == max(s.sizes)))
    when = f"{WALL.now():%Y-%m-%d %H:%M}"
    # Only a run that writes the section keeps results.json (--redoc reads it); others write apart.
    results = {"when": when, "settings": asdict(s), "runs": [asdict(r) for r in runs]}
    (OUT / ("results.json" if write else "results-other.json")).write_text(json.dumps(results, default=str, indent=1))
    ok, text = verdict(runs)
    print(text, flush=True)
    if write:
        write_doc(section(runs, s, when))
    return 0 if ok else 1


def redoc(path: Path) -> int:
    """`--redoc`: write docs/central.md's section again from a results.json."""
    doc = json.loads(path.read_text())
    if isinstance(doc, list):  # written before the settings were kept: a full run's defaults
        when = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        doc = {"when": f"{when:%Y-%m-%d %H:%M}", "settings": asdict(Settings()), "runs": doc}
    runs = [Run(**r) for r in doc["runs"]]
    s = Settings(**{**doc["settings"], "sizes": tuple(doc["settings"]["sizes"])})
    write_doc(section(runs, s, doc["when"]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m bench.central", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1-minute cut and shorter windows")
    p.add_argument("--homes", default="20,100,200", help="sizes, comma-separated")
    p.add_argument("--speed", type=float, default=60.0, help="home seconds per real second")
    p.add_argument("--alert-scale", type=float, default=50.0,
                   help=f"alerts this many times as often as real homes ({PAGES_PER_DAY} pages a day)")
    p.add_argument("--cut-minutes", type=float, default=None, help="how long the bridged home's link is cut")
    p.add_argument("--steady", type=float, default=None, help="seconds of the measured window")
    p.add_argument("--no-faults", action="store_true")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/central.md")
    p.add_argument("--redoc", type=Path, default=None, help="only rewrite docs/central.md from a results.json")
    a = p.parse_args(argv)
    if a.redoc is not None:
        return redoc(a.redoc)
    sizes = tuple(int(x) for x in a.homes.split(","))
    s = Settings(sizes=sizes, speed=a.speed, alert_scale=a.alert_scale, quick=a.quick, faults=not a.no_faults,
                 warmup=10.0 if a.quick else 20.0,
                 steady=a.steady if a.steady is not None else (60.0 if a.quick else 120.0),
                 cut_minutes=a.cut_minutes if a.cut_minutes is not None else (1.0 if a.quick else 10.0))
    logging.basicConfig(level=logging.WARNING)
    # The benchmark's own sampling connection complains while PostgreSQL is down on purpose.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return asyncio.run(main_async(s, write=not a.no_doc and sizes == (20, 100, 200)))


if __name__ == "__main__":
    raise SystemExit(main())
