"""`huis check`: the home's configuration, alerts and scenarios, each file with its own checker.

Paths may be files or folders, in any mix: the config folder (home.yaml, the alerts file it
names, and through it the scenario folders), a scenarios folder, single files. Each file is
read by the checker for what it is (`file_kind`): the home configuration, an alerts file
(policies and channels, checked against the home's caregivers) or scenarios. Every problem is
reported at once, as file:line; the OK line says what was checked as what.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from controller.alerts.policy import load_alerts
from controller.config import HomeConfig, resolve
from controller.engine.scenario_files import config_scenario_paths, file_kind, scenario_files
from controller.errors import ConfigError, Problem
from controller.yamlfile import load_file
from huis.compose import alerts_config, check_files, load_home
from huis.uplink import embedded_broker_warning

EXIT_CONFIG = 2
DEFAULT_CONFIG = "config/home.yaml"

__all__ = ["check", "checked_files", "home_problems"]


def check(paths: Sequence[str | Path], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Validate configuration, alerts and scenarios together; print every problem; 0 or 2."""
    out, err = out or sys.stdout, err or sys.stderr
    chosen = list(paths) or [DEFAULT_CONFIG]
    problems = home_problems(chosen)
    for p in problems:
        print(p, file=err)
    if problems:
        print(f"{len(problems)} {'problem' if len(problems) == 1 else 'problems'} found.", file=err)
        return EXIT_CONFIG
    kinds = checked_files(chosen)
    print(f"OK: {describe(kinds)} valid.", file=out)
    for path in kinds["config"]:
        for warning in filter(None, map(embedded_broker_warning, _configs([path]))):
            print(f"{_show(path)}: warning: {warning}", file=err)
    return 0


def home_problems(paths: Sequence[str | Path]) -> list[Problem]:
    """Everything `huis check` reports for `paths`: what `huis run` would refuse to start with."""
    return check_files(paths) + _alerts_problems(paths)


def checked_files(paths: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Which file was checked as what: 'config', 'alerts', 'scenarios' -> files."""
    kinds: dict[str, list[Path]] = {"config": [], "alerts": [], "scenarios": []}
    for path, kind in _sorted(paths):
        kinds[kind].append(path)
    for cfg in _configs(kinds["config"]):
        if cfg.alerts is not None and resolve(cfg, cfg.alerts).exists():
            _add(kinds["alerts"], resolve(cfg, cfg.alerts))
        if not kinds["scenarios"]:
            for f in scenario_files(p for p in config_scenario_paths(cfg) if p.exists()):
                _add(kinds["scenarios"], f)
    return kinds


def describe(kinds: dict[str, list[Path]]) -> str:
    """'config/home.yaml (home configuration), config/alerts.yaml (alerts), 7 scenario files'."""
    parts = [f"{_show(p)} (home configuration)" for p in kinds["config"]]
    parts += [f"{_show(p)} (alerts)" for p in kinds["alerts"]]
    n = len(kinds["scenarios"])
    if n:
        folders = sorted({_show(p.parent) for p in kinds["scenarios"]})
        parts.append(f"{n} scenario {'file' if n == 1 else 'files'} in {', '.join(folders)}")
    return ", ".join(parts) or "nothing to check:"


def _show(path: Path) -> str:
    """A path as short as it reads: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _add(into: list[Path], path: Path) -> None:
    if all(p.resolve() != path.resolve() for p in into):
        into.append(path)


def _sorted(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    for path in scenario_files(paths):
        try:
            out.append((path, file_kind(path, load_file(path))))
        except ConfigError:
            out.append((path, "scenarios"))  # unreadable: reported by check_files
    return out


def _configs(paths: Sequence[Path]) -> list[HomeConfig]:
    out: list[HomeConfig] = []
    for path in paths:
        try:
            out.append(load_home(path))
        except ConfigError:
            continue  # reported by check_files
    return out


def _alerts_problems(paths: Sequence[str | Path]) -> list[Problem]:
    """Problems in the alerts files: those the configurations name, and those named directly
    (checked against the caregivers of the configuration given, else the default one)."""
    problems: list[Problem] = []
    files = _sorted(paths)
    configs = _configs([p for p, kind in files if kind == "config"])
    named: set[Path] = set()
    for cfg in configs:
        if cfg.alerts is None:
            continue
        named.add(resolve(cfg, cfg.alerts).resolve())
        try:
            alerts_config(cfg)
        except ConfigError as exc:
            problems.extend(exc.problems)
    loose = [p for p, kind in files if kind == "alerts" and p.resolve() not in named]
    if loose:
        home = configs or _configs([Path(DEFAULT_CONFIG)] if Path(DEFAULT_CONFIG).exists() else [])
        caregivers = list(home[0].caregivers) if home else None
        for path in loose:
            try:
                load_alerts(path, caregivers)
            except ConfigError as exc:
                problems.extend(exc.problems)
    return problems
