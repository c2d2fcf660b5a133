"""The hints after a scenario problem: 'did you mean ...' and what is declared instead."""

from __future__ import annotations

from collections.abc import Iterable

from controller.yamlfile import suggest as _close_match


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """'did you mean ...': a close match, else a choice sharing the first letters."""
    options = list(dict.fromkeys(choices))
    hint = _close_match(word, options)
    if hint is None and len(word) >= 3:
        same_start = [c for c in options if c.startswith(word)
                      or (len(word) >= 4 and (c[:5] == word[:5] or c[:4] == word[:4]))]
        if len(same_start) == 1:
            hint = f"did you mean '{same_start[0]}'?"
    return hint


def declared(params: Iterable[str]) -> str:
    """The hint for an unknown parameter: the ones declared, or how to declare one."""
    names = list(params)
    return f"declared: {', '.join(names)}" if names else "declare it under 'parameters:'"
