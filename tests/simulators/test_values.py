"""Attribute values from a command line, and story data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simulators.base import Attr
from simulators.story_scripts import STORIES, Step, Story


@pytest.mark.parametrize("text, value", [
    ("false", False), ("FALSE", False), ("off", False), ("open", False), ("0", False),
    ("true", True), ("on", True), ("closed", True), ("1", True), (True, True),
])
def test_bool_attributes_read_like_people_write(text: object, value: bool) -> None:
    assert Attr(name="contact", type="bool", help="").coerce(text) is value


def test_numbers_are_checked_against_their_range() -> None:
    brightness = Attr(name="brightness", type="int", lo=0, hi=254, help="")
    assert brightness.coerce("120") == 120 and brightness.coerce(99.6) == 100
    with pytest.raises(ValueError, match="between 0 and 254"):
        brightness.coerce("300")
    with pytest.raises(ValueError, match="takes a number, not 'bright'"):
        brightness.coerce("bright")
    with pytest.raises(ValueError, match="takes a number"):
        brightness.coerce(True)


def test_choices_are_case_insensitive_and_suggest() -> None:
    state = Attr(name="state", type="choice", choices=("OPEN", "CLOSE", "STOP"), help="")
    assert state.coerce("open") == "OPEN"
    with pytest.raises(ValueError, match="did you mean 'close'"):
        state.coerce("clos")


def test_a_step_does_one_thing() -> None:
    with pytest.raises(ValueError, match="does one thing"):
        Step(at=timedelta(), text="", text_en="", walk_to="hall", rest=True)
    with pytest.raises(ValueError, match="nothing to set"):
        Step(at=timedelta(), text="", text_en="", device="bed")


def test_steps_must_be_in_time_order() -> None:
    late = Step(at=timedelta(minutes=2), text="", text_en="", rest=True)
    early = Step(at=timedelta(minutes=1), text="", text_en="", rest=True)
    with pytest.raises(ValueError, match="time order"):
        Story(name="x", title="x", title_en="x", steps=(late, early))


@pytest.mark.parametrize("story", list(STORIES.values()), ids=list(STORIES))
def test_stories_speak_both_languages(story: Story) -> None:
    assert story.title and story.title_en
    for step in story.steps:
        assert bool(step.text) == bool(step.text_en), step
    assert story.steps[-1].text  # a story ends by saying how it ended
