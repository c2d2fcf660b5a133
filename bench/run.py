"""`make bench`: every benchmark in turn; each rewrites its own section of docs/performance.md
(speed and memory), docs/care-quality.md (pages and incidents), docs/reliability.md (hostile input) or
docs/central.md (the centre under load and faults).

bench.central runs `--quick` here (the bridged home's link cut for 1 minute, about 10 minutes in
all); the full run with a 10-minute cut is opt-in: `HUIS_BENCH_CENTRAL_FULL=1 make bench`, or
`python -m bench.central` on its own."""

from __future__ import annotations

import os
import subprocess
import sys

BENCHMARKS = ("bench.peer_rig", "bench.engine_bench", "bench.memory", "bench.alerts_bench", "bench.care_quality",
              "bench.fuzz_inputs", "bench.central")


def _args(module: str) -> list[str]:
    if module == "bench.central" and os.environ.get("HUIS_BENCH_CENTRAL_FULL") != "1":
        return ["--quick"]
    return []


def main() -> int:
    failed = 0
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        failed += subprocess.run([sys.executable, "-m", module, *_args(module), *sys.argv[1:]]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
