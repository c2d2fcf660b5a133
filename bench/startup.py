"""What `huis run` does up to its first possible reaction, step by step: ms since exec, CPU ms
and RSS after each step; the process ends there (so `valgrind --tool=callgrind` on it counts
the instructions to the first reaction and nothing after).

    cd CHECKOUT && python -m bench.startup CONFIG     # CONFIG's broker must be up

Works on checkouts before issue 15's start-up work too (then the files are checked as
`huis check` does and loaded again, as `huis run` did), for a before/after from one session.
Imports nothing of huis before its first step: the steps measure those imports.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time


def _since_exec() -> float:
    """Seconds since this process was started (Linux: /proc/self/stat's start time)."""
    with open("/proc/self/stat", encoding="ascii") as f:
        started = int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime", encoding="ascii") as f:
        return float(f.read().split()[0]) - started


def _rss() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


START = time.perf_counter() - _since_exec()
STEPS: list[tuple[str, float, float, float]] = []


def step(name: str) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    STEPS.append((name, (time.perf_counter() - START) * 1000, (usage.ru_utime + usage.ru_stime) * 1000, _rss()))


async def _open_and_connect(cfg: object, loaded: object) -> None:
    from controller.clock import RealClock
    from huis.compose import hub_settings, open_home

    mqtt = cfg.mqtt  # type: ignore[attr-defined]
    extra = {} if loaded is None else {"parts": loaded[1], "policies": loaded[2]}  # type: ignore[index]
    home = await open_home(cfg, RealClock(), settings=hub_settings(cfg, mqtt.host, mqtt.port),  # type: ignore[arg-type]
                           **extra)
    step("home opened (database, alerts, engine)")
    task = asyncio.create_task(home.run())
    await home.engine.ready.wait()
    await home.hub.link.connected.wait()  # type: ignore[attr-defined]
    step("engine ready and connected: first reaction possible")
    task.cancel()


def main(config: str) -> None:
    step("interpreter started")
    from huis import cli

    step("import huis.cli")
    args = cli.build_parser("run").parse_args(["run", "--config", config])
    if hasattr(cli, "_load_to_start"):
        loaded = cli._load_to_start(args)
        assert loaded is not None, "the configuration has problems"
        cfg = loaded[0]
    else:  # before issue 15's start-up work
        loaded = None
        cfg = cli._overrides(cli.load_home(config), args)
        assert not cli._refuse_to_start(args)
    step("configuration, alerts and scenarios loaded and checked")
    asyncio.run(_open_and_connect(cfg, loaded))
    for name, ms, cpu, rss in STEPS:
        print(f"| {name} | {ms:.0f} | {cpu:.0f} | {rss:.1f} |", flush=True)
    os._exit(0)  # nothing after the first reaction is counted (callgrind included)


if __name__ == "__main__":
    main(sys.argv[1])
