"""The peer-rig benchmark's own parts (not the rig, which lies outside the project): the huis
configs it runs are valid homes pointed at the rig's broker, and the table is medians and ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.peer_rig import _huis_config, main, table
from huis.compose import load_home

ROOT = Path(__file__).resolve().parents[2]


def test_the_huis_config_is_the_demo_home_on_the_rigs_broker(tmp_path: Path) -> None:
    rule = tmp_path / "night_rule.yaml"
    rule.write_text("name: bench_night_rule\nscenarios:\n  - id: bench_night_rule\n    triggers:\n"
                    "      - {type: state, device: bed_sensor, attribute: occupancy, to: false}\n"
                    "    actions:\n      - {type: light, device: hall_light, state: on, brightness: 25}\n")
    config = _huis_config(tmp_path / "rule-only", 18950, [str(rule)])
    cfg = load_home(config)
    assert cfg.mqtt is not None and (cfg.mqtt.host, cfg.mqtt.port) == ("127.0.0.1", 18950)
    assert cfg.scenarios == [str(rule)]
    assert Path(cfg.storage.path).parent == tmp_path / "rule-only"
    done = subprocess.run([sys.executable, "-m", "huis.cli", "check", str(config)], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_table_gives_medians_and_ratios_to_the_floor() -> None:
    def run(p50: float, eps: float) -> dict[str, float]:
        return {"startup_ms": 100, "rss_mib": 20, "p50_ms": p50, "p99_ms": 2 * p50, "burst_cps": eps,
                "drain_cps": eps, "sustained_eps": eps, "cpu_ms_per_event": 1000 / eps}

    text = table({"floor": [run(1.0, 1000), run(3.0, 3000)], "huis": [run(2.4, 1000), run(2.4, 1000)]})
    assert "| latency p50 at 50 ev/s (ms) (lower is better) | 2.00 | 2.40 (1.20x) |" in text
    assert "| max sustained events/s (higher is better) | 2,000 | 1,000 (0.50x) |" in text
    assert "| CPU time per event, drain (ms) (lower is better) | 0.667 | 1.000 (1.50x) |" in text


def test_without_the_rig_it_says_where_and_measures_nothing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--rig", str(tmp_path / "nowhere"), "--doc", str(tmp_path / "doc.md")]) == 2
    assert "peer rig not found at" in capsys.readouterr().err
    assert not (tmp_path / "doc.md").exists()
