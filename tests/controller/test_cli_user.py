"""`huis user add`: accounts without default passwords, created from the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from argon2 import PasswordHasher

from controller.store import Database
from tests.conftest import ROOT


def config_in(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "home.yaml").read_text()
    text = text.replace("path: ../var/huis.db", f"path: {tmp_path / 'huis.db'}")
    text += f"\nscenarios: [{ROOT / 'scenarios'}]\nalerts: {ROOT / 'config' / 'alerts.yaml'}\n"
    path = tmp_path / "home.yaml"
    path.write_text(text)
    return path


def huis(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huis.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_user_add_stores_an_argon2_hash_of_the_given_password(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    result = huis("user", "add", "anna", "--role", "caregiver", "--caregiver", "anna",
                  "--password-stdin", "--config", str(config), stdin="een-lang-wachtwoord\n")
    assert result.returncode == 0, result.stderr
    assert "Added caregiver 'anna'" in result.stdout

    async def stored() -> tuple[str, str, str]:
        async with await Database.connect(tmp_path / "huis.db") as db:
            row = await db.fetchone("SELECT password_hash, role, residents FROM dashboard_users WHERE username = ?",
                                    ("anna",))
            assert row is not None
            return row["password_hash"], row["role"], row["residents"]

    password_hash, role, residents = asyncio.run(stored())
    assert password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(password_hash, "een-lang-wachtwoord")
    assert (role, residents) == ("caregiver", '["Mevrouw Jansen"]')


def test_user_add_refuses_short_passwords_and_unknown_caregivers(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    short = huis("user", "add", "tech", "--role", "technician", "--password-stdin", "--config", str(config),
                 stdin="kort\n")
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr
    unknown = huis("user", "add", "x", "--role", "caregiver", "--caregiver", "nobody", "--password-stdin",
                   "--config", str(config), stdin="een-lang-wachtwoord\n")
    assert unknown.returncode == 2
    assert "anna" in unknown.stderr
