"""The central benchmark's own parts: the per-home counting verdict, the catch-up peak, watching
a real process tree's CPU and memory, and the bridged home's mosquitto lines (docs/central.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.central import Run, Services, _peak, _tree, verdict
from simulators.homes import bridge_config

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def test_a_lost_or_duplicated_alert_step_fails_the_verdict() -> None:
    good = Run(homes=2, counts={"a": {"alert_sent": 5, "alert_stored": 5}, "b": {"alert_sent": 3, "alert_stored": 3},
                                "*": {"rejected": 0}})
    ok, text = verdict([good])
    assert ok and text.startswith("No alert steps lost, none duplicated, of 8 sent")
    lost = Run(homes=1, counts={"a": {"alert_sent": 5, "alert_stored": 4, "alert_lost": 1}})
    twice = Run(homes=1, counts={"a": {"alert_sent": 5, "alert_stored": 5, "alert_duplicated": 1}})
    assert verdict([good, lost]) == (False, "1 alert step lost, none duplicated, of 13 sent in all runs "
                                            "(other messages lost: 0)")
    assert verdict([twice])[0] is False


def test_peak_is_the_best_rate_over_five_seconds() -> None:
    samples = [(T0 + timedelta(seconds=s), n) for s, n in
               [(0, 0), (1, 10), (2, 20), (3, 30), (4, 40), (5, 50), (6, 400), (7, 410), (8, 420), (9, 430)]]
    # The jump at second 6 in a 5 s span: 10 -> 400 over seconds 1..6, or 40 -> 430 over 4..9.
    assert _peak(samples) == 78.0
    assert _peak(samples[:2]) == 0.0  # never 80% of the span: no rate


def test_services_sum_a_real_process_tree(tmp_path: Path) -> None:
    # A parent that starts a child which burns a little CPU: both count for the service.
    script = ("import subprocess, sys\n"
              "c = subprocess.Popen([sys.executable, '-c', 'sum(range(3_000_000)); import time; time.sleep(30)'])\n"
              "print(c.pid, flush=True)\nc.wait()\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert set(_tree(parent.pid)) == {parent.pid, child}
        usage = Services({"svc": lambda: [parent.pid], "gone": lambda: []}).sample()
        assert usage["svc"].pss_mib > 1
        assert usage["gone"].cpu_s == 0 and usage["gone"].pss_mib == 0
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_the_bridged_home_has_the_bridge_lines_of_docs_central(tmp_path: Path) -> None:
    conf = bridge_config(home_id="zwolle-0042", username="home-zwolle-0042", password="pw",
                         remote=[("127.0.0.1", 4001), ("127.0.0.1", 4002)], local_port=1883, folder=tmp_path)
    lines = conf.splitlines()
    for line in ("cleansession false", "remote_clientid huis-zwolle-0042", "try_private false", "persistence true",
                 "address 127.0.0.1:4001 127.0.0.1:4002", "topic # out 1 huis/uplink/ homes/zwolle-0042/up/",
                 "topic # in 1 huis/downlink/ homes/zwolle-0042/down/"):
        assert line in lines, line
