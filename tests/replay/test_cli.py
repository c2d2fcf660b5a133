"""`huis replay` on the command line: options in any order, the summary and the JSON file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .logs import CONFIG, NIGHTS, ROOT, watch, write


def huis(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the real `huis` command (its own process: it sets up logging for the process)."""
    return subprocess.run([sys.executable, "-m", "huis.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def door_log(tmp_path: Path) -> Path:
    return write(tmp_path, "door.csv", "2026-01-06T03:04:00+01:00,front_door,contact,false")


def test_scenarios_before_the_log(tmp_path: Path) -> None:
    # `--scenarios` takes several paths, and used to swallow the log after it: "log is required".
    done = huis("replay", "--scenarios", watch(tmp_path), door_log(tmp_path), "--config", CONFIG)
    assert (done.returncode, done.stderr) == (0, "")
    assert "ALERT     urgent door.open" in done.stdout


def test_the_log_before_the_scenarios_and_every_order_give_the_same(tmp_path: Path) -> None:
    scenarios, log = watch(tmp_path), door_log(tmp_path)
    outputs = {huis(*order).stdout for order in (
        ("replay", log, "--scenarios", scenarios, "--config", CONFIG),
        ("replay", "--config", CONFIG, "--scenarios", scenarios, log),
        ("replay", "--scenarios", scenarios, "--config", CONFIG, log),
    )}
    [text] = outputs
    assert "ALERT     urgent door.open" in text


def test_scenarios_without_a_log_are_exit_2(tmp_path: Path) -> None:
    done = huis("replay", "--scenarios", watch(tmp_path), "--config", CONFIG)
    assert done.returncode == 2
    assert "not an event log" in done.stderr
    done = huis("replay", "--config", CONFIG)
    assert (done.returncode, done.stderr.strip()) == (2, "huis replay: which event log? (huis replay LOG "
                                                         "[--scenarios DIR ...])")


def test_a_bad_log_on_the_command_line_is_exit_2_with_its_lines(tmp_path: Path) -> None:
    log = write(tmp_path, "bad.csv", "2026-01-06T03:04:00+01:00,front_door,opne,true")
    done = huis("replay", log, "--config", CONFIG)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"{log}:2: front_door.opne: unknown attribute 'opne'")


def test_summary_and_json_of_the_sample_week(tmp_path: Path) -> None:
    target = tmp_path / "week.json"
    done = huis("replay", NIGHTS, "--summary", "--json", target, "--config", CONFIG)
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    # Only the table and the closing line: no line per alert or command.
    assert lines[0] == "per day (07:00-22:00) and night (22:00-07:00), local time:"
    assert lines[-1].startswith("summary: 357 events;")
    periods = [line for line in lines if line[:4] == "2026"]
    assert [p[:16] for p in periods] == [f"2026-01-{d:02} {part}" for d in range(5, 12)
                                         for part in ("day  ", "night")] + ["2026-01-12 day  "]
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["format"] == "huis-replay-summary/1"
    assert doc["night"] == {"start": "22:00", "end": "07:00"}
    assert len(doc["periods"]) == len(periods)
    # The same in both: the text line of every period is made of its JSON entry.
    for line, entry in zip(periods, doc["periods"], strict=True):
        pages = ", ".join(f"{p['count']} {p['severity']} {p['key']}" for p in entry["pages"]) or "none"
        assert line.startswith(f"{entry['date']} {entry['part']:<5}  pages: {pages};")
        assert f"; reminders: {len(entry['reminders'])}" in line
    json_stdout = huis("replay", NIGHTS, "--json", "-", "--config", CONFIG)
    assert json.loads(json_stdout.stdout) == doc
