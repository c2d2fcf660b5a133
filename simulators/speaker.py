"""A speaker in the home that reads messages aloud, on huis's own protocol under `huis/speaker/<id>`.

- listens on `<base>/say`: `{"say": "Goedemorgen!", "language": "nl"}`;
- listens on `<base>/set`: `{"volume": 60}`;
- publishes `<base>/state`: `{"speaking": true, "volume": 50}` when it starts and stops speaking;
- `<base>/availability`: `{"state": "online"}` / `{"state": "offline"}`, retained.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from controller.clock import Clock
from simulators.base import Attr, SimSpec, Simulator

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Utterance:
    """Something the speaker said."""

    time: datetime
    text: str
    language: str
    volume: int  # this announcement's own volume, or the speaker's


class SpeakerSimulator(Simulator):
    """Records what it was asked to say; 'speaks' for a time that grows with the text."""

    kind: ClassVar[str] = "speaker"
    power: ClassVar[str] = "mains"
    report_interval: ClassVar[float] = 300.0
    seconds_per_word: ClassVar[float] = 0.4
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="volume", type="int", lo=0, hi=100, help="turn the volume knob (0-100)"),
    )

    def __init__(self, spec: SimSpec, clock: Clock) -> None:
        super().__init__(spec, clock)
        self.speaking = False
        self.volume = int(spec.options.get("volume", 50))
        self.said: list[Utterance] = []

    @property
    def base(self) -> str:
        return self.spec.topic

    def subscriptions(self) -> list[str]:
        return [f"{self.base}/say", f"{self.base}/set"]

    def publish_availability(self, online: bool) -> None:
        self.send(f"{self.base}/availability", {"state": "online" if online else "offline"},
                  retain=True)

    def state(self) -> dict[str, object]:
        return {"speaking": self.speaking, "volume": self.volume}

    def publish_state(self) -> None:
        if self.online and self.out is not None:
            self.send(f"{self.base}/state", self.state())

    def handle(self, topic: str, payload: bytes) -> None:
        if not self.online:
            return
        try:
            data = json.loads(payload)
        except ValueError:
            log.warning("%s: ignoring a message that is not JSON on %s", self.id, topic)
            return
        if not isinstance(data, dict):
            log.warning("%s: ignoring a message that is not a JSON object on %s", self.id, topic)
            return
        if topic == f"{self.base}/say":
            text = data.get("say")
            if not isinstance(text, str) or not text.strip():
                log.warning("%s: 'say' should be a text, got %r", self.id, text)
                return
            volume = data.get("volume")
            if not (isinstance(volume, int) and not isinstance(volume, bool) and 0 <= volume <= 100):
                volume = None
            self.say(text, str(data.get("language", "nl")), volume=volume)
        elif topic == f"{self.base}/set":
            volume = data.get("volume")
            if isinstance(volume, int) and not isinstance(volume, bool) and 0 <= volume <= 100:
                self.volume = volume
                self.publish_state()
            else:
                log.warning("%s: 'volume' should be 0..100, got %r", self.id, volume)

    def say(self, text: str, language: str = "nl", *, volume: int | None = None) -> None:
        """Speak `text` (at `volume` for this one); a new message interrupts the one being spoken."""
        self.said.append(Utterance(time=self.clock.now(), text=text, language=language,
                                   volume=self.volume if volume is None else volume))
        self.speaking = True
        self.publish_state()
        seconds = 1.0 + self.seconds_per_word * len(text.split())
        self.later("speaking", seconds, self._done)

    def _done(self) -> None:
        self.speaking = False
        self.publish_state()

    async def apply_one(self, name: str, value: Any) -> None:
        if name == "volume":
            self.volume = value
            self.publish_state()
        else:
            await super().apply_one(name, value)
