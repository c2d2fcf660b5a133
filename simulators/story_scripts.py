"""Demo situations as data: what the resident does, step by step, on the clock.

A story is a list of steps at offsets from its start. A step either sets attributes on a device
(found by id, by `kind@room` or by kind), or moves the resident (`walk_to` a room or 'outside':
motion sensors there start detecting and the worn tag follows), or lets her lie still (`rest`:
motion stops, the tag stays). `text` is what a visitor reads (Dutch), `text_en` the English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from controller.durations import parse_duration


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One thing that happens in a story."""

    at: timedelta
    text: str
    text_en: str
    device: str | None = None  # an id, 'kind@room' or a kind
    set: Mapping[str, Any] = field(default_factory=dict)
    walk_to: str | None = None  # a room id or 'outside'
    rest: bool = False
    rest_in: str | None = None  # she is (already) in this room, lying or sitting still

    def __post_init__(self) -> None:
        actions = sum((self.device is not None, self.walk_to is not None, self.rest,
                       self.rest_in is not None))
        if actions > 1:
            raise ValueError("a story step does one thing: set a device, walk, rest or rest_in")
        if self.device is not None and not self.set:
            raise ValueError(f"step at {self.at}: device '{self.device}' but nothing to set")


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """A named demo situation."""

    name: str
    title: str
    title_en: str
    steps: tuple[Step, ...]
    # When it happens (local time of day, "HH:MM"): a tour guide's demo clock jumps to it, so a
    # night can be shown in the afternoon. None: whenever it is played.
    starts_at: str | None = None
    # Simulated seconds per real second while it plays on the demo clock.
    speed: float = 20.0

    def __post_init__(self) -> None:
        if [s.at for s in self.steps] != sorted(s.at for s in self.steps):
            raise ValueError(f"story '{self.name}': steps must be in time order")

    @property
    def duration(self) -> timedelta:
        """When the last step happens."""
        return self.steps[-1].at if self.steps else timedelta()


def _step(at: str, text: str, text_en: str, **kw: Any) -> Step:
    return Step(at=parse_duration(at), text=text, text_en=text_en, **kw)


_ASLEEP = (
    _step("0s", "Het is nacht. Mevrouw Jansen slaapt.", "It is night. Mrs Jansen is asleep.",
          device="bed", set={"occupancy": True}),
    _step("0s", "", "", rest_in="bedroom"),
)


def _back_to_bed(at: str) -> tuple[Step, ...]:
    """She walks back from the bathroom, starting `at`, and is asleep two minutes later."""
    t = parse_duration(at)

    def step(later: int, text: str, text_en: str, **kw: Any) -> Step:
        return Step(at=t + timedelta(seconds=later), text=text, text_en=text_en, **kw)

    return (
        step(0, "Terug door de hal.", "Back through the hall.", walk_to="hall"),
        step(30, "Terug in de slaapkamer.", "Back in the bedroom.", walk_to="bedroom"),
        step(60, "Ze gaat weer in bed liggen.", "She lies down in bed again.",
             device="bed", set={"occupancy": True}),
        step(60, "", "", rest=True),
        step(180, "Ze slaapt weer.", "She is asleep again.", rest=True),
    )


_TO_THE_BATHROOM = (
    _step("10s", "Ze stapt uit bed.", "She gets out of bed.", device="bed", set={"occupancy": False}),
    _step("15s", "Ze loopt door de slaapkamer.", "She walks through the bedroom.", walk_to="bedroom"),
    _step("45s", "Ze loopt de hal in.", "She walks into the hall.", walk_to="hall"),
    _step("1m15s", "Ze gaat naar de badkamer.", "She goes to the bathroom.", walk_to="bathroom"),
)

STORIES: dict[str, Story] = {
    s.name: s
    for s in (
        Story(
            name="night_exit",
            title="'s Nachts uit bed",
            title_en="Out of bed at night",
            starts_at="02:10",
            steps=(
                *_ASLEEP,
                *_TO_THE_BATHROOM,
                _step("5m", "Ze blijft lang weg: de mantelzorger wordt zo gewaarschuwd.",
                      "She stays away a long time: a caregiver will be warned soon.", rest=True),
                *_back_to_bed("12m"),
            ),
        ),
        Story(
            name="night_toilet",
            title="'s Nachts naar het toilet",
            title_en="A night-time toilet visit",
            starts_at="02:10",
            steps=(
                *_ASLEEP,
                *_TO_THE_BATHROOM,
                *_back_to_bed("5m"),
            ),
        ),
        Story(
            name="night_exit_door",
            title="'s Nachts naar de voordeur",
            title_en="To the front door at night",
            starts_at="03:20",
            steps=(
                *_ASLEEP,
                _step("10s", "Ze stapt uit bed.", "She gets out of bed.",
                      device="bed", set={"occupancy": False}),
                _step("15s", "Ze loopt door de slaapkamer.", "She walks through the bedroom.",
                      walk_to="bedroom"),
                _step("45s", "Ze loopt de hal in.", "She walks into the hall.", walk_to="hall"),
                _step("1m15s", "Ze opent de voordeur.", "She opens the front door.",
                      device="front_door", set={"contact": False}),
                _step("1m20s", "Ze stapt naar buiten.", "She steps outside.", walk_to="outside"),
                _step("3m", "Ze komt weer binnen.", "She comes back in.", walk_to="hall"),
                _step("3m5s", "Ze sluit de voordeur.", "She closes the front door.",
                      device="front_door", set={"contact": True}),
                _step("3m40s", "Terug in de slaapkamer.", "Back in the bedroom.", walk_to="bedroom"),
                _step("4m10s", "Ze gaat weer in bed liggen.", "She lies down in bed again.",
                      device="bed", set={"occupancy": True}),
                _step("4m10s", "", "", rest=True),
                _step("6m", "Ze slaapt weer.", "She is asleep again.", rest=True),
            ),
        ),
        Story(
            name="wandering",
            title="Dwalen: het label gaat de deur uit",
            title_en="Wandering: the tag leaves through the front door",
            steps=(
                _step("0s", "Mevrouw Jansen is in de woonkamer.", "Mrs Jansen is in the living room.",
                      walk_to="living"),
                _step("1m", "Ze loopt naar de hal.", "She walks to the hall.", walk_to="hall"),
                _step("1m20s", "Ze opent de voordeur.", "She opens the front door.",
                      device="front_door", set={"contact": False}),
                _step("1m25s", "Ze loopt naar buiten, met het label.", "She walks out, wearing the tag.",
                      walk_to="outside"),
                _step("1m40s", "De deur valt dicht.", "The door swings shut.",
                      device="front_door", set={"contact": True}),
                _step("10m", "Het label is al minuten niet meer gezien.",
                      "The tag has not been seen for minutes.", rest=True),
            ),
        ),
        Story(
            name="missed_medication",
            title="Medicatie niet ingenomen",
            title_en="Medication not taken",
            speed=60.0,
            steps=(
                _step("0s", "Mevrouw Jansen zit in de woonkamer.", "Mrs Jansen sits in the living room.",
                      walk_to="living"),
                _step("5s", "", "", rest=True),
                _step("10s", "De dispenser biedt de medicatie aan.", "The dispenser offers the dose.",
                      device="dispenser", set={"event": "dose_due"}),
                _step("1h1m", "De medicatie is niet ingenomen.", "The dose was not taken.", rest=True),
            ),
        ),
        Story(
            name="morning_routine",
            title="Ochtendritueel",
            title_en="Morning routine",
            starts_at="07:05",
            steps=(
                *_ASLEEP,
                _step("30s", "Mevrouw Jansen staat op.", "Mrs Jansen gets up.",
                      device="bed", set={"occupancy": False}),
                _step("35s", "Ze loopt door de slaapkamer.", "She walks through the bedroom.",
                      walk_to="bedroom"),
                _step("1m", "Ze gaat naar de badkamer.", "She goes to the bathroom.",
                      walk_to="bathroom"),
                _step("11m", "Door de hal...", "Through the hall...", walk_to="hall"),
                _step("11m30s", "...naar de keuken.", "...to the kitchen.", walk_to="kitchen"),
                _step("12m", "De dispenser biedt de ochtendmedicatie aan.",
                      "The dispenser offers the morning dose.",
                      device="dispenser", set={"event": "dose_due"}),
                _step("13m", "Ze neemt haar medicatie.", "She takes her medication.",
                      device="dispenser", set={"taken": True}),
                _step("20m", "Ze gaat in de woonkamer zitten.", "She sits down in the living room.",
                      walk_to="living"),
                _step("25m", "", "", rest=True),
                _step("27m", "Een rustige ochtend.", "A quiet morning.", rest=True),
            ),
        ),
    )
}
