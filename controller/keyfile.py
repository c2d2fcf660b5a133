"""A secret key in a file of its own: made (mode 0600) at first start, read on every start.

The hub keeps several: the acknowledgement-link key, the audit chain's key, the Home Assistant
button key. Each is 32 random bytes written as hex, created with O_EXCL so two processes starting
at once cannot each write a different one, and narrowed back to 0600 when someone loosened it.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from controller.errors import HuisError

log = logging.getLogger(__name__)

KEY_BYTES = 32


def load_key(path: str | Path, *, what: str, create: bool = True, missing: str = "") -> bytes:
    """The key in `path` (`what` names it in messages), created on first start when `create`.

    Raises HuisError when it is missing (and not to be created; `missing` says what that means),
    unreadable, not hex or too short.
    """
    p = Path(path)
    if create:
        _create(p, what)
    try:
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            # Anyone who can read the key can forge what it signs: narrow it rather than refuse.
            log.warning("%s was readable by others (mode %o); setting it to 0600", p, mode)
            p.chmod(0o600)
        key = bytes.fromhex(p.read_text(encoding="ascii").strip())
    except FileNotFoundError as exc:
        raise HuisError(f"There is no {what} at {p}{': ' + missing if missing else '.'}") from exc
    except ValueError as exc:
        raise HuisError(f"{p} does not hold a hex key; delete it to generate a new one.") from exc
    if len(key) < 16:
        raise HuisError(f"{p} holds a key that is too short; delete it to generate a new one.")
    return key


def _create(p: Path, what: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(KEY_BYTES) + "\n")
        f.flush()
        os.fsync(f.fileno())
    log.info("created the %s %s (keep a copy off the box)", what, p)
