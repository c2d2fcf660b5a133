"""Exceptions raised by huis.

HuisError
 +-- ConfigError      a user's configuration or scenario file is wrong (carries every problem)
 +-- PayloadError     a device sent something we cannot decode
 +-- DeliveryError    a notification channel failed to deliver
      +-- DeliveryUnknown  the request reached the server but no answer came: it may have arrived
"""

from __future__ import annotations

from dataclasses import dataclass


class HuisError(Exception):
    """Root of every error huis raises on purpose."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong in a configuration file, located as precisely as we can."""

    file: str
    line: int | None
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        key = f" {self.path}:" if self.path else ""
        text = f"{where}:{key} {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(HuisError):
    """Configuration is invalid; `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PayloadError(HuisError):
    """A device payload could not be decoded; the message says why."""


class DeliveryError(HuisError):
    """A notification could not be delivered through a channel."""


class DeliveryUnknown(DeliveryError):
    """The server may have the notification: the request went out, the answer did not come back.

    Sending it again could put a second copy on the caregiver's phone, so the same server is
    not retried (docs/alerts.md, "Delivery that tells the truth").
    """
