"""`huis check` on folders: the config folder and a scenarios folder, each file with its checker."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import ROOT
from tests.controller.test_cli_user import huis


def test_the_config_folder_checks_clean_and_says_what_was_checked_as_what() -> None:
    done = huis("check", "config")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == ("OK: config/home.yaml (home configuration), config/alerts.yaml (alerts), "
                           "7 scenario files in scenarios valid.\n")


def test_the_scenarios_folder_and_both_folders_check_clean() -> None:
    for args in (["scenarios"], ["config", "scenarios"], ["config/alerts.yaml"]):
        done = huis("check", *args)
        assert done.returncode == 0, (args, done.stderr)
        assert "problem" not in done.stderr


def home_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    return tmp_path


def test_the_config_folder_still_finds_real_problems_in_each_kind_of_file(tmp_path: Path) -> None:
    home = home_copy(tmp_path)
    alerts = home / "config" / "alerts.yaml"
    alerts.write_text(alerts.read_text().replace("notify: [piet]}", "notify: [pieter]}", 1))
    night = home / "scenarios" / "night_exit.yaml"
    night.write_text(night.read_text().replace("device: bed_sensor, attribute: occupancy, to: false, for:",
                                               "device: bed_sensr, attribute: occupancy, to: false, for:", 1))
    done = huis("check", str(home / "config"))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[-1] == "2 problems found."
    assert any(line.startswith(f"{alerts}:") and "pieter" in line for line in lines), lines
    assert any(line.startswith(f"{night}:") and "bed_sensr" in line for line in lines), lines
    # Nothing in the alerts file was read as a scenario.
    assert not any("is not a valid option" in line for line in lines), lines
