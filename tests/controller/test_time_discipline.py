"""Time is injected: only controller/clock.py may read the wall clock or sleep for real."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("controller", "devices", "simulators", "dashboard")
FORBIDDEN = [
    (re.compile(r"\bdatetime\.(now|utcnow|today)\("), "reads the wall clock"),
    (re.compile(r"\bdate\.today\("), "reads the wall clock"),
    (re.compile(r"\btime\.(time|monotonic|perf_counter|sleep)\("), "reads or sleeps on the real clock"),
    (re.compile(r"asyncio\.sleep\((?!0\))"), "sleeps for real"),
]
ALLOWED = {Path("controller/clock.py")}


def test_only_the_clock_module_touches_real_time() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel in ALLOWED:
                continue
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                for pattern, why in FORBIDDEN:
                    if pattern.search(code):
                        offenders.append(f"{rel}:{lineno}: {why}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)


def test_only_the_mqtt_link_imports_aiomqtt() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"^\s*(import aiomqtt|from aiomqtt)", path.read_text(encoding="utf-8"), re.M)
    ]
    assert importers == ["controller/mqtt.py"]


def test_controller_never_imports_dashboard_or_simulators_at_module_level() -> None:
    # The CLI is the composition root and imports them inside its command functions only.
    offenders = []
    for path in (ROOT / "controller").rglob("*.py"):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(r"(from|import) (dashboard|simulators)\b", line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line}")
    assert offenders == []
