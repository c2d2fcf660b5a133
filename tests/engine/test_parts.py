"""The engine's parts on their own: the trigger index's attach/detach, the interpreter's table."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import get_args
from zoneinfo import ZoneInfo

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import model as m
from controller.engine.actions import Action, Interpreter
from controller.engine.compiled import TriggerRT, Vars, compile_trigger
from controller.engine.names import DeviceNames
from controller.engine.store import EngineStore
from controller.engine.timers import ForTimers
from controller.engine.triggers import Place, TriggerIndex
from controller.events import DEVICE_EVENT, Context
from controller.store import Database


def test_every_action_model_is_an_action_the_interpreter_knows() -> None:
    assert set(get_args(Action)) == set(m.ACTION_TYPES.values())
    waiting = {t for t in get_args(Action) if Interpreter.waits(t.model_construct())}
    assert waiting == {m.RaiseAlertAction, m.ResolveAlertAction, m.DelayAction, m.WaitAction}


async def test_attach_returns_the_callable_that_detaches(home: HomeConfig, clock: VirtualClock,
                                                         db: Database) -> None:
    names = DeviceNames(home, "nl")
    timers = ForTimers(clock=clock, store=EngineStore(db), names=names, language="nl",
                       value=lambda d, a: None, installed=lambda owner: True,
                       save_trace=lambda trace: None)

    def no_tasks(coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        coro.close()
        raise AssertionError("an event trigger needs no task")

    index = TriggerIndex(clock=clock, place=Place(tz=ZoneInfo("Europe/Amsterdam"), latitude=52.5,
                                                  longitude=6.1),
                         names=names, timers=timers, spawn=no_tasks)
    fired: list[Vars] = []

    def fire(tr: TriggerRT, tvars: Vars, ctx: Context) -> None:
        fired.append(tvars)

    model = m.EventTrigger.model_validate({"type": "event", "device": "sos_button"})
    tr = compile_trigger("s", 0, model, home)
    tr.fire = fire
    press = DEVICE_EVENT.event(time=clock.now(), context=Context(origin="t"),
                  device="sos_button", data={"event": "sos"})
    detach = index.attach([tr])
    index.on_device_event(press)
    assert [v["event"] for v in fired] == ["sos"]
    detach()
    index.on_device_event(press)
    assert len(fired) == 1
