"""The shipped files pass `huis check` against the demo home and are what the hub loads."""

from __future__ import annotations

from controller.config import HomeConfig
from controller.engine import check_paths, load_scenarios
from controller.engine.loader import config_scenario_paths
from devices import KINDS

from .conftest import ROOT, SCENARIOS

SHIPPED = {
    "night_exit_warning", "night_exit_door", "night_exit_door_awake", "night_exit_homecoming",
    "night_exit_lights", "wander_left_home",
    "day_wake_light", "day_good_morning", "day_meals", "day_drinks", "day_activity",
    "day_wind_down", "day_night_mode", "medication_reminder", "medication_taken",
    "medication_refill_low", "medication_refilled", "inactivity_no_motion", "inactivity_not_up",
    "health_offline", "health_online", "health_bridge_offline", "health_bridge_online", "health_battery",
    "sos_pressed", "sos_acknowledged",
}


def test_huis_check_finds_no_problem() -> None:
    assert check_paths([ROOT / "config" / "home.yaml", SCENARIOS], KINDS) == []


def test_the_hub_loads_exactly_the_shipped_scenarios(demo_config: HomeConfig) -> None:
    # The configuration names ../scenarios; files starting with '_' (examples) are skipped.
    loaded = load_scenarios(config_scenario_paths(demo_config), demo_config, KINDS)
    assert set(loaded.ids()) == SHIPPED


def test_every_shipped_file_explains_itself() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        text = path.read_text()
        assert "Why" in text and "deliberately does NOT" in text, path.name
