"""Demo situations as data: what the resident does, step by step, on the clock.

A story is a list of steps at offsets from its start. A step either sets attributes on a device
(found by id, by `kind@room` or by kind), or moves the resident (`walk_to` a room or 'outside':
motion sensors there start detecting and the worn tag follows), or lets her lie still (`rest`:
motion stops, the tag stays), or only says something. `text` is what a visitor reads (Dutch),
`text_en` the English.

Each story says when it happens: a weekday and a time of day. The tour plays it in a simulated
home of its own whose clock starts there (dashboard/tour_sandbox.py), so the morning routine is
a weekday morning whatever day the tour is given, and a night story never crosses the evening
medication. The steps at 0s are the scene: in place before the story's hour, so the hub has seen
her asleep for a while when the story begins.
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
    # When it happens (local time of day, "HH:MM", and weekday, 0 = Monday): where the tour's
    # sandbox clock starts. `huis simulate --story` plays it whenever it is asked to.
    starts_at: str = "12:00"
    weekday: int = 1
    # Simulated seconds per real second on the tour (long quiet stretches are shortened further).
    speed: float = 20.0

    def __post_init__(self) -> None:
        if [s.at for s in self.steps] != sorted(s.at for s in self.steps):
            raise ValueError(f"story '{self.name}': steps must be in time order")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"story '{self.name}': weekday is 0 (Monday) to 6 (Sunday)")
        hh, _, mm = self.starts_at.partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"story '{self.name}': starts_at {self.starts_at!r} is not HH:MM")

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
            weekday=1,
            steps=(
                *_ASLEEP,
                *_TO_THE_BATHROOM,
                _step("5m", "Ze blijft lang weg. Na 10 minuten uit bed krijgt een mantelzorger een waarschuwing.",
                      "She stays away a long time. After 10 minutes out of bed a caregiver is warned.",
                      rest=True),
                *_back_to_bed("12m"),
            ),
        ),
        Story(
            name="night_toilet",
            title="'s Nachts naar het toilet",
            title_en="A night-time toilet visit",
            starts_at="02:10",
            weekday=2,
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
            weekday=3,
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
            starts_at="10:40",
            weekday=4,
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
            # The dispenser's 13:00 dose, a minute in (offered by hand, so also at other hours).
            starts_at="12:59",
            weekday=3,
            speed=60.0,
            steps=(
                _step("0s", "Mevrouw Jansen zit in de woonkamer.", "Mrs Jansen sits in the living room.",
                      walk_to="living"),
                _step("0s", "", "", rest=True),
                _step("1m", "De dispenser biedt de medicatie aan.",
                      "The dispenser offers the dose.", device="dispenser", set={"event": "dose_due"}),
                _step("5m", "Ze blijft zitten. Na een half uur herinnert het huis haar nog eens.",
                      "She stays seated. After half an hour the home reminds her again."),
                _step("35m", "Nog steeds niet ingenomen. Na nog een half uur hoort een mantelzorger het.",
                      "Still not taken. Half an hour later a caregiver is told."),
                _step("1h2m", "De medicatie is niet ingenomen.", "The dose was not taken."),
            ),
        ),
        Story(
            name="morning_routine",
            title="Ochtendritueel",
            title_en="Morning routine",
            # A Tuesday: the weekday wake-up light (07:00) and greeting (07:15), whatever day
            # the tour is given.
            starts_at="06:58",
            weekday=1,
            speed=30.0,
            steps=(
                _step("0s", "Het is vroeg in de ochtend. Mevrouw Jansen slaapt.",
                      "It is early morning. Mrs Jansen is asleep.", device="bed", set={"occupancy": True}),
                _step("0s", "", "", rest_in="bedroom"),
                _step("1m", "07:00: het wekkerlicht gaat langzaam aan.",
                      "07:00: the wake-up light slowly comes on.", rest=True),
                _step("8m", "Mevrouw Jansen staat op.", "Mrs Jansen gets up.",
                      device="bed", set={"occupancy": False}),
                _step("8m10s", "Ze loopt door de slaapkamer.", "She walks through the bedroom.",
                      walk_to="bedroom"),
                _step("9m", "Ze gaat naar de badkamer.", "She goes to the bathroom.",
                      walk_to="bathroom"),
                _step("16m", "07:14: zo meteen gaan de gordijnen open en zegt het huis goedemorgen.",
                      "07:14: the curtains are about to open and the home says good morning.",
                      walk_to="hall"),
                _step("18m", "Ze gaat naar de woonkamer.", "She goes to the living room.",
                      walk_to="living"),
                _step("22m", "", "", rest=True),
                _step("24m", "Een rustige ochtend.", "A quiet morning.", rest=True),
            ),
        ),
    )
}
