"""Unguessable ntfy topics, generated per caregiver at first start and kept in a 0600 file.

An ntfy topic is a password: whoever knows it reads every alert sent to it, and on a public
server anyone can subscribe to any topic. So config/alerts.yaml names none: a caregiver's ntfy
channel without a `topic` (or with `topic: generate`) gets a random one the first time the hub
starts, stored next to the database in `ntfy-topics.json` (mode 0600) and kept from then on.
The hub prints new topics once on its console, so the technician can subscribe the caregiver's
phone; later, whoever may read the hub's data folder can look them up in the file.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from controller.alerts.model import ChannelTarget, Recipient
from controller.alerts.policy import AlertsConfig
from controller.errors import HuisError

log = logging.getLogger(__name__)

TOPICS_FILE_NAME = "ntfy-topics.json"
GENERATE = "generate"  # `topic: generate` in alerts.yaml: the same as leaving the topic out


def new_topic() -> str:
    """A topic nobody can guess: 192 random bits, in the characters ntfy allows."""
    return f"huis-{secrets.token_urlsafe(24)}"


def wants_topic(target: ChannelTarget) -> bool:
    """Whether `target` is an ntfy channel whose topic the hub generates."""
    return target.type == "ntfy" and target.options.get("topic") in (None, "", GENERATE)


def load_topics(path: Path) -> dict[str, str]:
    """The generated topics in `path` (caregiver id -> topic); {} when there is no file yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HuisError(f"{path} cannot be read as the hub's ntfy topics ({exc}); restore it, or"
                        " delete it to generate new topics (every phone must then subscribe again).") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
        raise HuisError(f"{path} should map caregiver ids to topics; restore it or delete it.")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Anyone who can read a topic reads the alerts sent to it: narrow it instead of refusing.
        log.warning("%s was readable by others (mode %o); setting it to 0600", path, mode)
        path.chmod(0o600)
    return {str(k): v for k, v in data.items()}


def _save(path: Path, topics: Mapping[str, str]) -> None:
    # Written whole to a 0600 temporary file and renamed over the old one: a crash leaves the
    # old topics or the new, never half a file, and the file is never readable by others.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(dict(topics), f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def ensure_topics(path: Path, caregivers: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Every topic `caregivers` need, generating the missing ones: (all topics, the new ones)."""
    topics = load_topics(path)
    new = {cid: new_topic() for cid in caregivers if cid not in topics}
    if new:
        topics.update(new)
        _save(path, topics)
        log.warning("generated ntfy topics for %s in %s (mode 0600): subscribe their phones",
                    ", ".join(sorted(new)), path)
    return topics, new


def with_topics(recipients: Mapping[str, Recipient], path: Path) -> tuple[dict[str, Recipient], dict[str, str]]:
    """`recipients` with generated topics filled in, and the topics generated just now."""
    needing = [cid for cid, r in recipients.items() if any(wants_topic(t) for t in r.channels)]
    if not needing:
        return dict(recipients), {}
    topics, new = ensure_topics(path, needing)
    out = {}
    for cid, r in recipients.items():
        channels = tuple(replace(t, options={**t.options, "topic": topics[cid]}) if wants_topic(t) else t
                         for t in r.channels)
        out[cid] = replace(r, channels=channels)
    return out, new


def announce(new: Mapping[str, str], server: str | None) -> None:
    """Show newly generated topics once, on the console (not in the log: they are secrets)."""
    if not new:
        return
    where = (server or "your ntfy server").rstrip("/")
    lines = ["", "huis: new ntfy topics. Subscribe each caregiver's phone (ntfy app, 'Subscribe to topic'),",
             "      on server " + where + ". They are shown only now; they stay in the hub's data folder.",
             *(f"      {cid}: {topic}" for cid, topic in sorted(new.items())), ""]
    print("\n".join(lines), file=sys.stderr, flush=True)


def fill_in(recipients: dict[str, Recipient], folder: Path, config: AlertsConfig) -> None:
    """Give `recipients` (updated in place) their generated topics from `folder`; show new ones."""
    resolved, new = with_topics(recipients, folder / TOPICS_FILE_NAME)
    recipients.update(resolved)
    server = config.channel_settings.get("ntfy", {}).get("server")
    announce(new, str(server) if server else None)
