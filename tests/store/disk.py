"""A small filesystem of its own for storage-fault tests: a tmpfs that can be filled and made
read-only, and given its space back, while a hub keeps its SQLite file on it.

A real filesystem (not a patched SQLite): SQLite meets ENOSPC and EROFS from the kernel the way
it would on a full SD card or a card the kernel remounted read-only after an error. Mounting
needs root (CAP_SYS_ADMIN); where that is refused the tests are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    """A tmpfs of `size` bytes mounted at `path`."""

    path: Path
    size: int

    @property
    def filler(self) -> Path:
        return self.path / "filler.bin"

    def fill(self) -> int:
        """Take every free byte (a file that grows until ENOSPC); returns its size."""
        written = 0
        chunk = b"\0" * 4096
        with open(self.filler, "ab", buffering=0) as f:
            while True:
                try:
                    n = f.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
                if not n:
                    break
                written += n
        return written

    def free(self) -> None:
        """Give the space back."""
        self.filler.unlink(missing_ok=True)

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def read_only(self) -> None:
        _mount("-o", "remount,ro", str(self.path))

    def writable(self) -> None:
        _mount("-o", "remount,rw", str(self.path))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextlib.contextmanager
def small_disk(path: Path, size: int = 8 * 1024 * 1024) -> Iterator[SmallDisk]:
    """A tmpfs of `size` bytes at `path` for the length of the block (skips if mount is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"a small filesystem is needed and mount was refused: {done.stderr.strip()}")
    try:
        yield SmallDisk(path=path, size=size)
    finally:
        # Lazy: a hub that is still being stopped may hold the file open a moment longer.
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@dataclass
class Ext4Disk:
    """An ext4 filesystem in a file, mounted through a loop device with errors=remount-ro."""

    path: Path
    device: str

    def fail(self) -> None:
        """What the kernel does when the card under it fails: ext4 records an error and turns
        the filesystem read-only at once, open files or not (ext4's own test switch)."""
        name = Path(self.device).name
        Path(f"/sys/fs/ext4/{name}/trigger_fs_error").write_text("huis test\n")


@contextlib.contextmanager
def ext4_disk(path: Path, image: Path, size_mb: int = 16) -> Iterator[Ext4Disk]:
    """An ext4 loop mount at `path` for the length of the block (skips if that is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as f:
        f.truncate(size_mb * 1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"an ext4 filesystem is needed and mkfs.ext4 failed: {made.stderr.strip()}")
    done = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"a loop mount is needed and mount was refused: {done.stderr.strip()}")
    try:
        device = subprocess.run(["findmnt", "-no", "SOURCE", str(path)], capture_output=True, text=True,
                                check=True).stdout.strip()
        if not Path(f"/sys/fs/ext4/{Path(device).name}/trigger_fs_error").exists():
            pytest.skip("this kernel's ext4 has no trigger_fs_error switch")
        yield Ext4Disk(path=path, device=device)
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
