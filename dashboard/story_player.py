"""Tour-guide buttons: demo situations played through the simulators, one at a time.

A button press only queues the story; `StoryRunner.run`, a long-lived task supervised with the
dashboard server, plays it, so an HTTP request never waits for a simulated night to pass.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# Titles for the buttons, in the order a tour guide would show them.
TITLES: dict[str, tuple[str, str]] = {
    "night_exit": ("Nacht: uit bed", "Night: out of bed"),
    "night_toilet": ("Nacht: naar het toilet", "Night: to the toilet"),
    "night_exit_door": ("Nacht: naar de voordeur", "Night: to the front door"),
    "missed_medication": ("Medicijnen vergeten", "Missed medication"),
    "wandering": ("Dwalen", "Wandering"),
    "morning_routine": ("Ochtendritme", "Morning routine"),
}
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "night_exit": ("Mevrouw stapt 's nachts uit bed en blijft lang weg: na 10 minuten krijgt de "
                   "mantelzorger een waarschuwing, die vanzelf vervalt als ze weer in bed ligt.",
                   "The resident gets out of bed at night and stays away: after 10 minutes a "
                   "caregiver is warned, and the warning clears when she is back in bed."),
    "night_toilet": ("Een kort toiletbezoek: alleen de nachtverlichting gaat aan, niemand wordt gestoord.",
                     "A short toilet visit: only the night lights come on, nobody is disturbed."),
    "night_exit_door": ("Mevrouw gaat 's nachts naar de voordeur: er gaat meteen een dringende melding uit.",
                        "The resident goes to the front door at night: an urgent alert goes out at once."),
    "missed_medication": ("De dispenser piept, maar de medicijnen worden niet genomen.",
                          "The dispenser beeps, but the medication is not taken."),
    "wandering": ("De voordeur gaat open en het label verlaat het huis.",
                  "The front door opens and the tag leaves the house."),
    "morning_routine": ("Licht, gordijnen en een begroeting: de dag begint.",
                        "Light, curtains and a greeting: the day begins."),
}


def _titles(home: Any) -> dict[str, tuple[str, str]]:
    """Titles a simulated home gives its stories (`Story.title`, `Story.title_en`)."""
    value = getattr(home, "stories", None)
    if callable(value):
        value = value()
    out: dict[str, tuple[str, str]] = {}
    if isinstance(value, dict):
        for name, story in value.items():
            title = getattr(story, "title", None)
            if isinstance(title, str) and title:
                out[str(name)] = (title, str(getattr(story, "title_en", None) or title))
    return out


def _names(home: Any) -> list[str]:
    """The stories a simulated home can play."""
    for attr in ("stories", "story_names", "STORIES"):
        value = getattr(home, attr, None)
        if callable(value):
            value = value()
        if isinstance(value, dict):
            return [str(k) for k in value]
        if isinstance(value, list | tuple | set | frozenset):
            return [str(v) if isinstance(v, str) else str(getattr(v, "name", v)) for v in value]
    return list(TITLES)


class StoryRunner:
    """Plays one story at a time on a simulated home and tells the pages what is playing."""

    def __init__(self, home: Any, publish: Callable[[dict[str, Any]], None]) -> None:
        self.home = home
        self.publish = publish
        self.playing: str | None = None
        self.step: dict[str, str] | None = None  # what the story says is happening now
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        listeners = getattr(home, "step_listeners", None)
        if isinstance(listeners, list):
            listeners.append(self._on_step)

    def _on_step(self, story: Any, step: Any) -> None:
        text = getattr(step, "text", "")
        if text:
            self.step = {"nl": str(text), "en": str(getattr(step, "text_en", "") or text)}
            self.publish({"type": "story", "playing": self.playing, "step": self.step})

    def stories(self) -> list[dict[str, Any]]:
        out = []
        titles = {**TITLES, **_titles(self.home)}
        for name in _names(self.home):
            nl, en = titles.get(name, (name.replace("_", " ").capitalize(),) * 2)
            dnl, den = DESCRIPTIONS.get(name, ("", ""))
            out.append({"name": name, "title": {"nl": nl, "en": en},
                        "description": {"nl": dnl, "en": den}})
        return out

    def request(self, name: str) -> str:
        """Queue `name`; returns 'queued', 'busy' or 'unknown'."""
        if name not in _names(self.home):
            return "unknown"
        if self.playing is not None or self._queue.full():
            return "busy"
        self._queue.put_nowait(name)
        self.publish({"type": "story", "playing": name})
        return "queued"

    async def play(self, name: str) -> None:
        """Play one story to its end."""
        self.playing = name
        self.step = None
        self.publish({"type": "story", "playing": name})
        try:
            play = getattr(self.home, "play", None) or self.home.play_story
            # Staged: at the story's hour and speed when the demo clock allows it.
            result = play(name, staged=True)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("story %s failed", name)
        finally:
            self.playing = None
            self.step = None
            self.publish({"type": "story", "playing": None})

    async def run(self) -> None:
        """Play queued stories until cancelled."""
        while True:
            await self.play(await self._queue.get())
