"""A home with a `central:` section: the demo home, linked to a centre as home `zwolle-0042`."""

from __future__ import annotations

from pathlib import Path

from controller.config import Central, HomeConfig

HOME_ID = "zwolle-0042"
PSEUDONYM = "cliënt-0042"


def with_central(cfg: HomeConfig, folder: Path, *, addresses: list[str] | None = None,
                 password: str = "not-used", **options: object) -> HomeConfig:
    """`cfg` with a central section; its password in a 0600 file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    pw = folder / "central.password"
    pw.write_text(password + "\n", encoding="utf-8")
    pw.chmod(0o600)
    central = Central(**{"home_id": HOME_ID, "pseudonym": PSEUDONYM, "addresses": addresses or ["127.0.0.1:1"],
                         "password_file": str(pw), **options})  # type: ignore[arg-type]
    return cfg.model_copy(update={"central": central})
