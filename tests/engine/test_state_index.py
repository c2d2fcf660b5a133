"""The state index (issue 15): a change of value concerns only the triggers whose test it alters."""

from __future__ import annotations

import gc
import math
import random

from controller.clock import VirtualClock
from controller.engine import load_scenario_text
from controller.engine.compiled import StateTriggerRT, ValueTest
from controller.engine.restore import FREEZE_FROM
from controller.engine.state_index import SMALL, AttributeTriggers
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink, MemoryLink

from .conftest import engine_for, running

VALUES: list[object] = [None, True, False, "single", "double", "Single", 0, 5, 10.5, 15, 20, 100,
                        math.nan, "x", [1], {"a": 1}]


def _trigger(rng: random.Random, n: int) -> StateTriggerRT:
    shape = rng.randrange(7)
    to = rng.choice([True, False, "single", "double", 15, [5, "single"]]) if shape in (0, 4, 5) else None
    above = rng.choice([0, 5, 10, 15, 20]) if shape in (1, 3, 5) else None
    below = rng.choice([5, 10, 15, 50]) if shape in (2, 3) else None
    return StateTriggerRT(
        owner=f"s{n}", index=0, id="0", model=None, description="", key=f"s{n}|k", devices=("d",),
        attribute="a", test=ValueTest(to, None, above, below),
        from_test=ValueTest(rng.choice([True, 5]), None, None, None) if shape == 4 else None,
        for_=None, match_all=shape == 6 and rng.random() < 0.5)


def test_a_skipped_trigger_is_one_whose_test_the_change_leaves_alone() -> None:
    rng = random.Random(15)
    for round_ in range(300):
        bucket = AttributeTriggers()
        triggers = [_trigger(rng, n) for n in range(rng.randrange(1, 40))]
        for tr in triggers:
            bucket.add(tr)
        if round_ % 3 == 0 and triggers:  # detaching re-sorts what is left
            bucket.discard(triggers.pop(rng.randrange(len(triggers))))
        for _ in range(20):
            old, new = rng.choice(VALUES), rng.choice(VALUES)
            concerned = bucket.concerned(old, new)
            positions = [triggers.index(tr) for tr in concerned]
            assert positions == sorted(set(positions))  # each once, in attach order
            for tr in triggers:
                if tr in concerned:
                    continue
                assert len(triggers) >= SMALL
                assert tr.test.has_target and tr.from_test is None and not tr.match_all
                assert old is not None and tr.test(old) == tr.test(new), (old, new, tr.owner)


def test_thresholds_and_values_cut_what_a_change_meets() -> None:
    bucket = AttributeTriggers()
    above = [_fixed(f"a{t}", ValueTest(None, None, t, None)) for t in range(0, 1000, 10)]
    actions = [_fixed(f"v{v}", ValueTest(v, None, None, None)) for v in ("single", "double", "hold") * 5]
    for tr in above + actions:
        bucket.add(tr)
    met = bucket.concerned(300, 320)
    assert [tr.owner for tr in met] == ["a300", "a310"]  # `> 300` and `> 310` change; 98 do not
    met = bucket.concerned("single", "double")
    assert {tr.owner for tr in met} == {"vsingle", "vdouble"} and len(met) == 10
    assert len(bucket.concerned(None, 320)) == len(bucket)  # the old value unknown: every one


def _fixed(owner: str, test: ValueTest) -> StateTriggerRT:
    return StateTriggerRT(owner=owner, index=0, id="0", model=None, description="", key=f"{owner}|k",
                          devices=("d",), attribute="a", test=test, from_test=None, for_=None,
                          match_all=False)


async def test_many_thresholds_on_one_attribute_fire_as_each_is_crossed(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    limits = list(range(10, 70, 5))  # twelve rules on the bed's battery: more than SMALL
    text = "scenarios:\n" + "".join(
        f"  - id: low{n}\n    triggers: [{{type: state, device: bed_sensor, attribute: battery, below: {n}}}]\n"
        f"    actions: [{{type: mqtt, topic: test/low/{n}, payload: low}}]\n" for n in limits)
    levels = [70, 42, 30, 60, 5, 5, 64]
    async with running(engine_for(hub, db, sink, text)) as engine:
        assert len(engine.scenario_set.scenarios) == len(limits)
        for level in levels:
            hub.inject("zigbee2mqtt/bed_sensor", {"battery": level})
        await clock.advance(seconds=1)
    link = hub.link
    assert isinstance(link, MemoryLink)
    fired = [t.rsplit("/", 1)[1] for t, *_ in link.sent if t.startswith("test/low/")]
    # What every rule would do looking at every change: fire when the level drops below it.
    expected = [str(n) for old, new in zip(levels, levels[1:], strict=False) for n in limits
                if old >= n > new]
    assert fired == expected == ["45", "50", "55", "60", "65", "35", "40",
                                 "10", "15", "20", "25", "30", "35", "40", "45", "50", "55", "60"]
    # 30 -> 60 fired nothing: the levels went up; 5 -> 5 is no change; 5 -> 64 rose again.


async def test_a_thousand_rules_are_kept_out_of_collections_until_a_reload_or_the_stop(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    def rules(topic: str) -> str:
        return "scenarios:\n" + "".join(
            f"  - id: r{n}\n    triggers: [{{type: state, device: bed_sensor, attribute: battery, "
            f"below: {n % 90 + 5}}}]\n    actions: [{{type: mqtt, topic: {topic}/{n}, payload: low}}]\n"
            for n in range(FREEZE_FROM))

    before = gc.get_freeze_count()
    engine = engine_for(hub, db, sink, rules("old"))
    async with running(engine):
        assert gc.get_freeze_count() > before  # the installed set is out of the collector's reach
        await engine.reload(load_scenario_text(rules("new"), hub.config, hub.kinds, "new.yaml"))
        assert gc.get_freeze_count() > before  # frozen again after the old set was collected
        hub.inject("zigbee2mqtt/bed_sensor", {"battery": 50})
        hub.inject("zigbee2mqtt/bed_sensor", {"battery": 4})
        await clock.advance(seconds=1)
    assert gc.get_freeze_count() == before  # the engine stopped: nothing stays frozen
    link = hub.link
    assert isinstance(link, MemoryLink)
    topics = {t.split("/")[0] for t, *_ in link.sent if "/" in t and t.split("/")[0] in ("old", "new")}
    assert topics == {"new"}  # the reloaded rules run (every threshold from 5 to 50 crossed)
