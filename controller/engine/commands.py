"""What the `huis` CLI subcommands about scenarios do, so `controller/cli.py` only parses arguments.

- `huis check PATH...`   -> `check(paths)`        (exit code 2 on problems)
- `huis schema [-o F]`   -> `schema(output)`
- `huis trace SCENARIO`  -> `trace(config, scenario, limit)`
- `huis reload`          -> `reload(pid_file)`    (SIGHUP to the running hub)
- in `huis run`/`huis demo`: `write_pid_file(pid_file_for(cfg))` and
  `install_reload_signal(engine)`; `huis reload` uses the same `pid_file_for(cfg)`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from controller.config import HomeConfig, resolve
from controller.engine.loader import check_paths
from controller.engine.schema import schema_text
from controller.engine.traces import load_traces, render_traces

if TYPE_CHECKING:
    from controller.engine.engine import Engine

EXIT_PROBLEMS = 2
DEFAULT_PID_FILE = "var/huis.pid"


def check(paths: Sequence[str | Path], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Validate configuration and scenarios together; print every problem; 0 or 2."""
    out, err = out or sys.stdout, err or sys.stderr
    from devices import KINDS  # passed in by the composition root once there is one

    problems = check_paths(list(paths), KINDS)
    for p in problems:
        print(p, file=err)
    if problems:
        print(f"{len(problems)} problem(s) found.", file=err)
        return EXIT_PROBLEMS
    print("OK: configuration and scenarios are valid.", file=out)
    return 0


def schema(output: str | Path | None = None, out: TextIO | None = None) -> int:
    """Write the scenario JSON Schema to `output` (or stdout)."""
    text = schema_text()
    if output is None:
        (out or sys.stdout).write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
    return 0


def trace(cfg: HomeConfig, scenario: str | None, limit: int = 20, out: TextIO | None = None) -> int:
    """Print the latest traces of a scenario (or all) from the hub's database, in local time."""
    from controller.store import Database

    async def main() -> str:
        db = await Database.connect(resolve(cfg, cfg.storage.path))
        try:
            if await db.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'engine_traces'") is None:
                return "No traces recorded yet (the engine has not run with this database).\n"
            return render_traces(await load_traces(db, scenario, limit),
                                 ZoneInfo(cfg.home.location.timezone))
        finally:
            await db.close()

    (out or sys.stdout).write(asyncio.run(main()))
    return 0


def pid_file_for(cfg: HomeConfig) -> Path:
    """Where a running hub records its pid: next to its database (var/huis.pid in the demo)."""
    return resolve(cfg, cfg.storage.path).parent / "huis.pid"


def write_pid_file(path: str | Path = DEFAULT_PID_FILE) -> Path:
    """Record this process's id so `huis reload` can find it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"{os.getpid()}\n", encoding="utf-8")
    return p


def reload(pid_file: str | Path = DEFAULT_PID_FILE, err: TextIO | None = None) -> int:
    """Ask the running hub to reload its scenarios (SIGHUP); 1 when no hub is running."""
    err = err or sys.stderr
    try:
        pid = int(Path(pid_file).read_text(encoding="utf-8").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        print(f"cannot reach the running hub through {pid_file}: {exc}", file=err)
        return 1
    print(f"asked hub {pid} to reload; `huis check` first shows problems, the hub log shows the "
          "result (an invalid set is refused and the running scenarios stay).", file=err)
    return 0


def install_reload_signal(engine: Engine) -> None:
    """SIGHUP -> `engine.request_reload()` (call inside the running event loop)."""
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, engine.request_reload)
