"""Speaker for spoken announcements (the rule engine's "announce"), in huis's own convention.

A small player (e.g. a Raspberry Pi running a text-to-speech engine) on base topic
`huis/speaker/<id>`:
- command {"say": "De voordeur staat open", "language": "nl"} -> `<base>/say` with the same
  JSON (plus "volume" 0..100 for this announcement only);
- command {"volume": 40} -> `<base>/set` {"volume": 40};
- `<base>/state`: {"volume": 40, "speaking": false};
- `<base>/availability`: {"state": "online"|"offline"}, retained, the player's MQTT last will.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from controller.errors import PayloadError
from devices.base import (
    Command,
    DeviceSpec,
    Fields,
    Outgoing,
    Reading,
    check_keys,
    decode_availability,
    field_names,
    json_message,
    json_object,
    merged,
    param_number,
)

TEXT_MAX = 500  # a minute of speech; longer is a message for a screen, not a speaker
LANGUAGE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")  # 'nl', 'en', 'nl-BE'


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeakerReading(Reading):
    volume: int | None = None  # 0..100
    speaking: bool | None = None


class Speaker:
    kind: ClassVar[str] = "speaker"
    models: ClassVar[tuple[str, ...]] = ("mqtt-tts",)
    power: ClassVar[str] = "mains"
    heartbeat: ClassVar[bool] = True  # state at least every 5 minutes (docs/devices.md)
    refreshes: ClassVar[bool] = False
    attributes: ClassVar[tuple[str, ...]] = field_names(SpeakerReading)
    events: ClassVar[tuple[str, ...]] = ()

    def subscriptions(self, spec: DeviceSpec) -> list[str]:
        return [f"{spec.topic}/state", f"{spec.topic}/availability"]

    def refresh(
        self, spec: DeviceSpec, attributes: Mapping[str, object], readings: list[Reading], now: datetime
    ) -> dict[str, object]:
        return merged(readings)

    def decode(self, spec: DeviceSpec, topic: str, payload: bytes) -> list[Reading]:
        if topic == f"{spec.topic}/availability":
            return [decode_availability(payload)]
        if topic != f"{spec.topic}/state":
            raise PayloadError(f"not a speaker topic: {topic!r}")
        f = Fields(json_object(payload))
        return f.readings(SpeakerReading(volume=f.whole("volume", 0, 100), speaking=f.flag("speaking")))

    def encode(self, spec: DeviceSpec, command: Command) -> list[Outgoing]:
        values = command.values
        check_keys(self.kind, values, ("say", "language", "volume"))
        volume = param_number(values, "volume", 0, 100)
        if volume is not None and volume != int(volume):
            raise ValueError(f"'volume' should be a whole percentage, got {volume}")
        text = values.get("say")
        if text is None:
            if "language" in values:
                raise ValueError("'language' only goes with 'say'")
            if volume is None:
                raise ValueError("a speaker command needs 'say' or 'volume'")
            return [json_message(f"{spec.topic}/set", {"volume": int(volume)})]
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"'say' should be the text to speak, got {text!r}")
        if len(text) > TEXT_MAX:
            raise ValueError(f"'say' is {len(text)} characters; at most {TEXT_MAX} can be spoken")
        language = values.get("language", spec.options.get("language", "nl"))
        if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
            raise ValueError(f"'language' should be a language code such as 'nl', got {language!r}")
        body: dict[str, object] = {"say": text.strip(), "language": language}
        if volume is not None:
            body["volume"] = int(volume)
        # Not retained: a speaker that reconnects must not repeat yesterday's announcement.
        return [json_message(f"{spec.topic}/say", body)]
