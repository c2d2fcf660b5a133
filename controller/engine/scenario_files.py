"""Which files hold scenarios: folders expanded, a home configuration and an alerts file told apart."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from controller.config import HomeConfig, resolve
from controller.yamlfile import Located

# The care centre's own config sits beside home.yaml (docs/central.md); `huis central` checks it.
NOT_SCENARIOS = ("central.yaml", "central.yml")


def scenario_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, and the `*.yaml` in folders (skipping names starting with '_' and
    the centre's config, NOT_SCENARIOS).

    A folder named like a scenario file is listed too, not skipped: reading it fails with a
    message, so a scenario that turned into a folder can never go missing in silence.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(f for f in sorted(p.iterdir())
                       if f.suffix in (".yaml", ".yml") and not f.name.startswith("_")
                       and f.name not in NOT_SCENARIOS)
        else:
            out.append(p)
    return out


def config_scenario_paths(cfg: HomeConfig) -> list[Path]:
    """The scenario folders a home configuration names, resolved against its file."""
    return [resolve(cfg, p) for p in cfg.scenarios]


def is_config(path: Path, doc: Located) -> bool:
    """Whether a parsed file is the home configuration rather than a scenario file.

    A file with `devices:` or `resident:` at the top is, one with a `scenarios:` list is not;
    otherwise the file name decides.
    """
    data = doc.data
    if isinstance(data, dict) and ("devices" in data or "resident" in data):
        return True
    if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
        return False
    return path.name in ("home.yaml", "home.yml")


# Top-level keys only an alerts file has (controller/alerts/policy.py); its `scenarios:` is a
# mapping of scenario id to policy, never a list.
_ALERTS_KEYS = ("policies", "severities", "channels", "quiet_hours")


def is_alerts(doc: Located) -> bool:
    """Whether a parsed file is an alerts file (policies, channels) rather than scenarios."""
    data = doc.data
    return isinstance(data, dict) and not isinstance(data.get("scenarios"), list) \
        and any(k in data for k in _ALERTS_KEYS)


def file_kind(path: Path, doc: Located) -> str:
    """'config', 'alerts' or 'scenarios': which checker reads this file."""
    if is_config(path, doc):
        return "config"
    return "alerts" if is_alerts(doc) else "scenarios"
