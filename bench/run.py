"""`make bench`: every benchmark in turn; each rewrites its own section of docs/performance.md
(speed), docs/care-quality.md (pages and incidents) or docs/reliability.md (hostile input)."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ("bench.peer_rig", "bench.engine_bench", "bench.alerts_bench", "bench.care_quality", "bench.fuzz_inputs")


def main() -> int:
    failed = 0
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        failed += subprocess.run([sys.executable, "-m", module, *sys.argv[1:]]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
